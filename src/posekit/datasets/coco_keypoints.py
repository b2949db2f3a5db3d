"""Read and validate a COCO keypoint JSON into a :class:`KeypointAnnotations`.

Loading *is* validation: every record is checked while it is read and each defect becomes an
:class:`Issue` naming the file, image/annotation id, field and fix. :func:`load_coco` raises one
:class:`~posekit.errors.DataError` listing them; ``posekit check`` (:mod:`posekit.datasets.validation`)
prints the same issues plus a summary and image-file checks.

Image paths: ``file_name`` is relative to the image root. With ``images`` given, that is the root.
Otherwise, of these folders (``d`` = the JSON's folder, ``split`` = the part of the JSON's name after
its last ``_``, e.g. ``val2017``), the first holding the most of the first 50 images is used: ``d``,
``d/images``, ``d/..``, ``d/../images``, ``d/../split``, ``d/../images/split``, ``d/../..``. So
PoseTrack files (``posetrack18/annotations/val/x.json`` naming ``images/val/...``) and the COCO layout
(``coco/annotations/person_keypoints_val2017.json`` + ``coco/val2017/``) need no ``--images``.

Accepted quirks: ``iscrowd`` as bool, people with no labelled keypoint, crowd regions without
keypoints, any extra field (kept in ``extra``: ``track_id``, ``bbox_head``, ``center``, ``scale``,
``ignore_regions_*`` ...), categories without keypoint names (300-W), several categories sharing one
keypoint set (AP-10K species), and COCO-WholeBody's separate ``foot_kpts``/``face_kpts``/
``lefthand_kpts``/``righthand_kpts`` (body only by default; all 133 with ``wholebody=True``, where the
part visibilities, which COCO-WholeBody stores as scores in (0, 1], count as labelled, v=1).
"""

from __future__ import annotations

import errno
import json
import math
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.image_root import find_image_root, image_root_candidates
from posekit.datasets.json_file import is_int64, read_json
from posekit.datasets.records import (
    ImageInfo,
    Issue,
    KeypointAnnotations,
    PersonAnnotation,
    format_issues,
    outside,
)
from posekit.datasets.schema import KeypointSchema, get_preset
from posekit.errors import ConfigError, DataError

#: Annotation fields with a fixed meaning; anything else is kept in ``PersonAnnotation.extra``
#: (``segmentation`` is dropped: top-down pose never uses it and it dominates memory on COCO).
_STANDARD_FIELDS = {
    "id",
    "image_id",
    "category_id",
    "bbox",
    "keypoints",
    "num_keypoints",
    "iscrowd",
    "area",
    "segmentation",
}
_IMAGE_FIELDS = {"id", "file_name", "width", "height"}
#: Largest image side posekit accepts (OpenCV's own limit is 2^31 - 1 pixels in all).
_MAX_SIDE = 2**31 - 1
#: A person box may pass its image's edge (people cut by the frame), but not be this many times its size.
_MAX_BOX_FACTOR = 4
#: COCO-WholeBody parts in the order of the 133-keypoint layout (after the 17 body keypoints).
WHOLEBODY_PARTS = (("foot_kpts", 6), ("face_kpts", 68), ("lefthand_kpts", 21), ("righthand_kpts", 21))
_FIX_IMAGES = (
    "check file_name, or pass --images DIR (data YAML: `images:`), the folder that file_name is relative to"
)


def load_coco(
    json_path: str | Path,
    images: str | Path | None = None,
    schema: KeypointSchema | Mapping[str, Any] | None = None,
    wholebody: bool = False,
    require_images: bool = True,
    outside_images: bool = False,
) -> KeypointAnnotations:
    """Load a COCO keypoint file; raise :class:`DataError` listing every error found.

    ``images``: the folder ``file_name`` is relative to (default: found next to the JSON, see the module
    doc). ``schema``: a :class:`KeypointSchema` replacing the file's, or a dict of fields overriding it
    (``{"sigmas": [...]}``). ``wholebody``: read COCO-WholeBody's 133 keypoints instead of the body 17.
    Image files are checked to be files (not missing, a folder, a broken link or a link loop); ``posekit
    check`` also reads their headers. ``require_images=False`` skips the image files (scoring a results
    file needs only the annotations). A ``file_name`` that leaves the image folder (absolute, or through
    ``..``) is an error unless ``outside_images`` (a data YAML's ``outside_images: true``) allows it.
    """
    dataset, issues = parse_coco(
        json_path, images, schema, wholebody, require_images=require_images, outside_images=outside_images
    )
    if dataset is None or any(i.severity == "error" for i in issues):
        raise DataError(format_issues(issues), issues)
    return dataset


def training_issues(dataset: KeypointAnnotations) -> list[Issue]:
    """What makes a loaded file unusable as a training split: no person to learn from (a non-crowd
    person with at least one labelled keypoint, the people
    :class:`~posekit.topdown.training_dataset.TopDownDataset` trains on). ``posekit check`` reports it for
    a train split; ``DataConfig.load_split("train")`` refuses."""
    if any(not a.iscrowd and np.any(a.keypoints[:, 2] > 0) for a in dataset.annotations):
        return []
    crowd = sum(a.iscrowd for a in dataset.annotations)
    return [
        Issue(
            "error",
            str(dataset.json_path),
            None,
            None,
            "annotations",
            f"no person with labelled keypoints to train on ({len(dataset.annotations)} annotation(s), "
            f"{crowd} of them crowd regions; people need at least one keypoint with v=1 or v=2)",
            "label the people's keypoints, or point the train split at the right file",
        )
    ]


def labelled_crowd(json_path: Path, annotations: list[PersonAnnotation]) -> Issue | None:
    """A warning when people with labelled keypoints are marked ``iscrowd``: like COCO, posekit leaves crowd
    regions out of training and only ignores them in evaluation, so they are dropped (said by check, train
    and val)."""
    ids = [a.id for a in annotations if a.iscrowd and np.any(a.keypoints[:, 2] > 0)]
    if not ids:
        return None
    shown = ", ".join(map(str, ids[:5])) + (" ..." if len(ids) > 5 else "")
    return Issue(
        "warning",
        str(json_path),
        None,
        None,
        "iscrowd",
        f"{len(ids)} people with labelled keypoints are marked iscrowd=1 (annotation(s) {shown}): crowd "
        "regions are left out of training and are neither scored nor counted as misses in evaluation",
        "set iscrowd to 0 for the people to train and score on",
    )


# ---------------------------------------------------------------------------------------------- parsing
def parse_coco(
    json_path: str | Path,
    images: str | Path | None = None,
    schema: KeypointSchema | Mapping[str, Any] | None = None,
    wholebody: bool = False,
    require_images: bool = True,
    outside_images: bool = False,
) -> tuple[KeypointAnnotations | None, list[Issue]]:
    """Read and check a COCO keypoint file without raising for bad data (arguments as :func:`load_coco`).

    Returns the data set built from its valid records (``None`` when the file cannot be read at all)
    and every issue found. ``schema`` errors (a bad override) raise :class:`ConfigError`.
    """
    parser = _Parser(Path(json_path), images, wholebody, require_images, outside_images)
    dataset = parser.run(schema)
    return dataset, parser.issues


class _Parser:
    def __init__(
        self,
        json_path: Path,
        images: str | Path | None,
        wholebody: bool,
        require_images: bool,
        outside_images: bool,
    ) -> None:
        self.path = json_path
        self.file = str(json_path)
        self.images_arg = Path(images) if images is not None else None
        self.wholebody = wholebody
        self.require_images = require_images
        self.outside_images = outside_images
        self.issues: list[Issue] = []

    def error(
        self,
        message: str,
        fix: str,
        field: str | None = None,
        image_id: Any = None,
        annotation_id: Any = None,
        severity: str = "error",
    ) -> None:
        self.issues.append(
            Issue(severity, self.file, _id_or_none(image_id), _id_or_none(annotation_id), field, message, fix)
        )

    def warning(self, message: str, fix: str, field: str | None = None, **ids: Any) -> None:
        self.error(message, fix, field, **ids, severity="warning")

    # ----------------------------------------------------------------------------- top level
    def run(self, schema: KeypointSchema | Mapping[str, Any] | None) -> KeypointAnnotations | None:
        raw = self._read_json()
        if raw is None or not self._check_sections(raw):
            return None
        categories = self._keypoint_categories(raw["categories"])
        if categories is None:
            return None
        cat_id, category, used = self._pick_category(categories, raw["annotations"])
        if category is None:
            return None
        schema_ = self._schema(category, raw["annotations"], used, schema)
        if schema_ is None:
            return None
        image_root, images = self._images(raw["images"])
        annotations = self._annotations(raw["annotations"], images, schema_, used, categories)
        crowd = labelled_crowd(self.path, annotations)
        self.issues += [crowd] if crowd is not None else []
        return KeypointAnnotations(
            json_path=self.path,
            image_root=image_root,
            schema=schema_,
            images=images,
            annotations=annotations,
            category_id=cat_id,
            category_name=str(category.get("name") or "person"),
            issues=[i for i in self.issues if i.severity == "warning"],
        )

    def _read_json(self) -> Any:
        raw, problem = read_json(self.path)
        if problem is not None:
            self.error(*problem)
        return raw

    def _check_sections(self, raw: Any) -> bool:
        if isinstance(raw, list):
            self.error(
                f"the top level is a list of {len(raw)} records, not a COCO keypoint file (it looks "
                "like detection or prediction results)",
                "pass the annotation file with 'images', 'annotations' and 'categories'",
            )
            return False
        if not isinstance(raw, dict):
            self.error(
                f"the top level is a {type(raw).__name__}, not a JSON object",
                "pass a COCO keypoint file with 'images', 'annotations' and 'categories'",
            )
            return False
        ok = True
        for section in ("images", "annotations", "categories"):
            if section not in raw:
                self.error(
                    f"missing section '{section}'",
                    f"add a '{section}' list (COCO keypoint format)",
                    field=section,
                )
                ok = False
            elif not isinstance(raw[section], list):
                self.error(
                    f"'{section}' is a {type(raw[section]).__name__}, not a list",
                    f"make '{section}' a list of objects",
                    field=section,
                )
                ok = False
        return ok

    # ----------------------------------------------------------------------------- categories & schema
    def _keypoint_categories(self, cats: list[Any]) -> dict[int, dict[str, Any]] | None:
        result: dict[int, dict[str, Any]] = {}
        for i, cat in enumerate(cats):
            if not isinstance(cat, dict) or not _is_int(cat.get("id")):
                self.error(
                    f"categories[{i}] is not an object with an integer 'id'",
                    "give every category an integer id",
                    field=f"categories[{i}]",
                )
                continue
            if "keypoints" not in cat:
                continue
            names = cat["keypoints"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                self.error(
                    f"category {cat['id']}: 'keypoints' must be a list of keypoint names",
                    "list the keypoint names as strings",
                    field=f"categories[{i}].keypoints",
                )
                continue
            result[int(cat["id"])] = cat
        if not result:
            self.error(
                "no category has a 'keypoints' list: this is not a COCO keypoint file",
                "add 'keypoints' (names) and 'skeleton' to the person category",
                field="categories",
            )
            return None
        return result

    def _pick_category(
        self, cats: dict[int, dict[str, Any]], anns: list[Any]
    ) -> tuple[int, dict[str, Any] | None, set[int]]:
        counts = Counter(_id_or_none(a.get("category_id")) for a in anns if isinstance(a, dict))
        used = [c for c, _ in counts.most_common() if c in cats]
        if not used:
            first = next(iter(cats))
            return first, cats[first], {first}
        main = int(used[0])
        names = [n.lower() for n in cats[main]["keypoints"]]
        for other in used[1:]:
            if [n.lower() for n in cats[int(other)]["keypoints"]] != names:
                self.error(
                    f"annotations use categories {main} and {other}, which have different keypoint "
                    "sets; posekit trains one keypoint set at a time",
                    "split the file by category, or give both categories the same keypoint names",
                    field="categories",
                )
                return main, None, set()
        return main, cats[main], {int(c) for c in used}

    def _schema(
        self,
        category: dict[str, Any],
        anns: list[Any],
        used: set[int],
        schema: KeypointSchema | Mapping[str, Any] | None,
    ) -> KeypointSchema | None:
        names = category["keypoints"]
        lengths = Counter(
            len(a["keypoints"]) // 3
            for a in anns
            if isinstance(a, dict)
            and _id_or_none(a.get("category_id", next(iter(used)))) in used
            and isinstance(a.get("keypoints"), list)
            and a["keypoints"]
        )
        count = len(names) or (lengths.most_common(1)[0][0] if lengths else 0)
        where = f"categories[id={category['id']}]"
        if not count:
            self.error(
                "the category lists no keypoint names and no annotation has keypoints, so the "
                "keypoint count is unknown",
                "list the keypoint names in the category",
                field=where,
            )
            return None
        skeleton = self._skeleton(category.get("skeleton"), count, where)
        try:
            base = KeypointSchema.from_coco_category({**category, "skeleton": skeleton}, count)
        except ConfigError as e:
            self.error(str(e), "fix the category's keypoint names (they must be unique)", field=where)
            return None
        if not names:
            self.warning(
                f"the category lists no keypoint names: invented kp0..kp{count - 1}"
                + (
                    f" and assumed the standard {base.name} layout (flip pairs, sigmas)"
                    if base.name != "custom"
                    else ""
                ),
                "name the keypoints in the category, or set `schema:` in a data YAML",
                field=where,
            )
        if self.wholebody:
            if count != 17:
                self.error(
                    f"--wholebody needs the 17 COCO body keypoints in 'keypoints' but the category "
                    f"has {count}",
                    "drop --wholebody (this is not a COCO-WholeBody file)",
                    field=where,
                )
                return None
            base = get_preset("wholebody133")
        if schema is None:
            return base
        given = schema if isinstance(schema, KeypointSchema) else base.override(**dict(schema))
        if given.num_keypoints != count:
            raise ConfigError(
                f"the schema given ({given.name}) has {given.num_keypoints} keypoints but {self.file} has "
                f"{count} ({', '.join(map(str, names[:3]))}{', ...' if len(names) > 3 else ''}); choose a "
                f"schema of {count} keypoints, or leave it out to use the file's"
            )
        return given

    def _skeleton(self, skeleton: Any, count: int, where: str) -> list[list[int]]:
        if skeleton is None:
            return []
        if not isinstance(skeleton, list):
            self.error(
                "'skeleton' is not a list of [a, b] pairs",
                "write the skeleton as 1-based index pairs",
                field=f"{where}.skeleton",
            )
            return []
        good = []
        for pair in skeleton:
            if (
                isinstance(pair, list)
                and len(pair) == 2
                and all(_is_int(v) for v in pair)
                and all(1 <= int(v) <= count for v in pair)
            ):
                good.append([int(pair[0]), int(pair[1])])
            else:
                self.error(
                    f"skeleton pair {pair!r} is out of range for {count} keypoints (COCO skeletons are "
                    f"1-based: 1..{count})",
                    "fix or remove the pair",
                    field=f"{where}.skeleton",
                )
        return good

    def _record_id(self, section: str, i: int, record: Any, noun: str, wanted: str) -> int | None:
        """The integer ``id`` of ``section[i]``, or None after reporting why the record is unusable."""
        if not isinstance(record, dict):
            self.error(
                f"{section}[{i}] is not an object", f"make every {noun} an object", field=f"{section}[{i}]"
            )
            return None
        record_id = record.get("id")
        if not _is_int(record_id):
            self.error(
                f"{section}[{i}] has no integer 'id' (got {record_id!r})",
                f"give every {noun} {wanted}",
                field=f"{section}[{i}].id",
            )
            return None
        return int(record_id)

    # ----------------------------------------------------------------------------- images
    def _images(self, raw_images: list[Any]) -> tuple[Path, dict[int, ImageInfo]]:
        records: list[tuple[int, str, int, int, dict[str, Any]]] = []
        seen: set[int] = set()
        named: dict[str, int] = {}  # normalised file_name -> the first image naming it
        for i, im in enumerate(raw_images):
            image_id = self._record_id("images", i, im, "image", "an integer id")
            if image_id is None:
                continue
            if image_id in seen:
                self.error(
                    f"duplicate image id {image_id}",
                    "give every image a unique id",
                    field="id",
                    image_id=image_id,
                )
                continue
            seen.add(image_id)
            name = im.get("file_name")
            if not isinstance(name, str) or not name:
                self.error(
                    "missing or empty 'file_name'",
                    "set file_name to the image's path",
                    field="file_name",
                    image_id=image_id,
                )
                continue
            size = [im.get("width"), im.get("height")]
            if not all(_is_int(v) and 0 < int(v) <= _MAX_SIDE for v in size):
                self.error(
                    f"width/height must be positive integers up to {_MAX_SIDE} (got width={size[0]!r}, "
                    f"height={size[1]!r})",
                    "write the image's pixel width and height",
                    field="width/height",
                    image_id=image_id,
                )
                continue
            self._check_file_name(name, image_id, named)
            extra = {k: v for k, v in im.items() if k not in _IMAGE_FIELDS}
            records.append((image_id, name, int(size[0]), int(size[1]), extra))
        root = self._image_root([r[1] for r in records])
        result = {r[0]: ImageInfo(r[0], r[1], r[2], r[3], root / r[1], r[4]) for r in records}
        if self.require_images:
            self._check_files(result, root)
        return root, result

    def _check_file_name(self, name: str, image_id: int, named: dict[str, int]) -> None:
        """Two records naming one file, and (when image files are read) a name leaving the image folder."""
        norm = os.path.normpath(name)
        first = named.setdefault(norm, image_id)
        if first != image_id:
            self.error(
                f"file_name {name!r} names the same file as image {first}: its people would be split "
                "between two images (false positives and misses in evaluation)",
                "merge the two image records into one, or correct file_name",
                field="file_name",
                image_id=image_id,
            )
        escapes = os.path.isabs(norm) or norm == os.pardir or norm.startswith(os.pardir + os.sep)
        if escapes and self.require_images and not self.outside_images:
            self.error(
                f"file_name {name!r} points outside the image folder (an absolute path or '..')",
                "write file_name relative to the image folder, or allow such paths with "
                "`outside_images: true` in a data YAML",
                field="file_name",
                image_id=image_id,
            )

    def _root_candidates(self) -> list[Path]:
        return [self.images_arg] if self.images_arg is not None else image_root_candidates(self.path)

    def _image_root(self, names: list[str]) -> Path:
        return find_image_root(self._root_candidates(), names)

    def _check_files(self, images: dict[int, ImageInfo], root: Path) -> None:
        if self.images_arg is not None and not self.images_arg.is_dir():
            self.error(
                f"the image folder {self.images_arg} does not exist",
                "pass an existing folder (--images, or the split's `images:` in a data YAML)",
                field="images",
            )
            return
        listings: dict[Path, dict[str, os.DirEntry]] = {}  # one scandir per folder, not a stat per image
        missing = []
        for info in images.values():
            folder = info.path.parent
            if folder not in listings:
                listings[folder] = _list_folder(folder)
            entry = listings[folder].get(info.path.name)
            if entry is None:
                missing.append(info)
                continue
            problem = _not_a_file(entry)
            if problem:
                self.error(
                    f"image path {info.path} {problem}",
                    "point file_name at an image file (replace the link or folder by the image)",
                    field="file_name",
                    image_id=info.id,
                )
        if len(missing) > 1 and len(missing) == len(images):
            looked = ", ".join(str(c) for c in self._root_candidates())
            self.error(
                f"none of the {len(images)} image files were found (looked under: {looked})",
                _FIX_IMAGES,
                field="file_name",
            )
            return
        for info in missing:
            self.error(f"image file not found: {info.path}", _FIX_IMAGES, field="file_name", image_id=info.id)

    # ----------------------------------------------------------------------------- annotations
    def _annotations(
        self,
        raw: list[Any],
        images: dict[int, ImageInfo],
        schema: KeypointSchema,
        used: set[int],
        categories: dict[int, dict[str, Any]],
    ) -> list[PersonAnnotation]:
        result: list[PersonAnnotation] = []
        seen: set[int] = set()
        unknown_categories: dict[int, list[int]] = {}
        no_area = 0
        default_cat = next(iter(used))
        for i, ann in enumerate(raw):
            ann_id = self._record_id("annotations", i, ann, "annotation", "a unique integer id")
            if ann_id is None:
                continue
            image_id = ann.get("image_id")
            if ann_id in seen:
                self.error(
                    f"duplicate annotation id {ann_id}",
                    "give every annotation a unique id",
                    field="id",
                    annotation_id=ann_id,
                    image_id=image_id,
                )
                continue
            seen.add(ann_id)
            cat = ann.get("category_id", default_cat)
            if not _is_int(cat) or int(cat) not in used:
                if _is_int(cat) and int(cat) not in categories:
                    unknown_categories.setdefault(int(cat), []).append(ann_id)
                    continue
                self.error(
                    f"category_id {cat!r} is not one of the keypoint categories {sorted(used)}",
                    "point category_id at the keypoint category",
                    field="category_id",
                    annotation_id=ann_id,
                    image_id=image_id,
                )
                continue
            if not _is_int(image_id) or int(image_id) not in images:
                self.error(
                    f"image_id {image_id!r} is not in 'images'",
                    "add the image to 'images' or remove the annotation",
                    field="image_id",
                    annotation_id=ann_id,
                    image_id=image_id if _is_int(image_id) else None,
                )
                continue
            person = self._person(ann, ann_id, images[int(image_id)], schema, int(cat))
            if person is None:
                continue
            if person.area <= 0:
                no_area += 1
                person.area = float(person.bbox[2] * person.bbox[3])
            result.append(person)
        for cat, ids in unknown_categories.items():  # one error per category, not one per annotation
            self.error(
                f"category_id {cat} matches no entry of 'categories' ({len(ids)} annotation(s): "
                f"{', '.join(map(str, ids[:5]))}{' ...' if len(ids) > 5 else ''})",
                "correct category_id, add the category to 'categories', or remove the annotations",
                field="category_id",
                annotation_id=ids[0],
            )
        if no_area:
            self.warning(
                f"{no_area} annotation(s) have no 'area' (or 0): the box area w*h is used as the OKS scale",
                "nothing to do unless you have segmentation areas (COCO's OKS uses them)",
                field="area",
            )
        return result

    def _person(
        self, ann: dict[str, Any], ann_id: int, image: ImageInfo, schema: KeypointSchema, cat: int
    ) -> PersonAnnotation | None:
        ids = {"annotation_id": ann_id, "image_id": image.id}
        crowd = ann.get("iscrowd", 0)
        if crowd not in (0, 1, True, False):
            self.error(
                f"iscrowd is {crowd!r}; must be 0/1 or false/true",
                "set iscrowd to 0 or 1",
                field="iscrowd",
                **ids,
            )
            return None
        crowd = bool(crowd)
        bbox = self._bbox(ann.get("bbox"), image, ids)
        if bbox is None:
            return None
        keypoints = self._keypoints(ann, image, bbox, schema, crowd, ids)
        if keypoints is None:
            return None
        labelled = int(np.count_nonzero(keypoints[:, 2] > 0))
        stated = ann.get("num_keypoints")
        body = int(np.count_nonzero(keypoints[:17, 2] > 0)) if self.wholebody else labelled
        if stated is not None and (not _is_int(stated) or int(stated) != body):
            # a label inconsistency, not an unreadable person: posekit counts the labels itself (and
            # `posekit audit` reports it among its findings)
            self.warning(
                f"num_keypoints is {stated!r} but {body} keypoints are labelled (v > 0); {body} is used",
                f"set num_keypoints to {body} (COCO evaluation ignores people with num_keypoints 0)",
                field="num_keypoints",
                **ids,
            )
        area = ann.get("area")
        area = float(area) if _is_number(area) and math.isfinite(area) and area > 0 else 0.0
        extra = {k: v for k, v in ann.items() if k not in _STANDARD_FIELDS}
        if self.wholebody:
            extra = {k: v for k, v in extra.items() if k not in dict(WHOLEBODY_PARTS)}
        return PersonAnnotation(
            id=ann_id,
            image_id=image.id,
            bbox=bbox,
            keypoints=keypoints,
            num_keypoints=labelled,
            iscrowd=crowd,
            area=area,
            category_id=cat,
            extra=extra,
        )

    def _bbox(self, bbox: Any, image: ImageInfo, ids: dict[str, int]) -> np.ndarray | None:
        fix = "write bbox as [x, y, width, height] in pixels around the person"
        if bbox is None:
            self.error("missing bbox", fix, field="bbox", **ids)
            return None
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
            self.error(
                f"bbox must be 4 numbers [x, y, width, height], got {_short(bbox)}", fix, field="bbox", **ids
            )
            return None
        x, y, w, h = (float(v) for v in bbox)
        if not all(math.isfinite(v) for v in (x, y, w, h)):
            self.error(f"bbox has a non-finite value {bbox}", fix, field="bbox", **ids)
            return None
        if w <= 0 or h <= 0:
            self.error(
                f"bbox has zero or negative size (width {w:g}, height {h:g})", fix, field="bbox", **ids
            )
            return None
        if w > _MAX_BOX_FACTOR * image.width or h > _MAX_BOX_FACTOR * image.height:
            self.error(
                f"bbox {_short(bbox)} is {w:.4g} x {h:.4g} pixels, more than {_MAX_BOX_FACTOR} times its "
                f"image (width {image.width}, height {image.height})",
                fix + " (a box may pass the image's edge, not dwarf it)",
                field="bbox",
                **ids,
            )
            return None
        if x >= image.width or y >= image.height or x + w <= 0 or y + h <= 0:
            self.error(
                f"bbox {bbox} lies outside the image (width {image.width}, height {image.height})",
                fix + " (inside the image)",
                field="bbox",
                **ids,
            )
            return None
        return np.array([x, y, w, h], dtype=np.float64)

    def _raw_keypoints(
        self, ann: dict[str, Any], k: int, crowd: bool, ids: dict[str, int]
    ) -> tuple[list[Any], list[tuple[str, int]]] | None:
        """The flat keypoint list (body, then the COCO-WholeBody parts when requested) and its parts."""
        parts = [("keypoints", 17 if self.wholebody else k)]
        if self.wholebody:
            parts += list(WHOLEBODY_PARTS)
        values: list[Any] = []
        for name, count in parts:
            part = ann.get(name)
            if part is None and crowd:
                part = [0] * (3 * count)  # crowd regions often carry no keypoints
            if part is None:
                fix = (
                    "drop --wholebody (this is not COCO-WholeBody)"
                    if name != "keypoints"
                    else f"add keypoints: {count} x (x, y, v), v=0 for unlabelled ones"
                )
                self.error(f"missing '{name}'", fix, field=name, **ids)
                return None
            if not isinstance(part, list) or not set(map(type, part)) <= _NUMBER_TYPES:
                self.error(
                    f"'{name}' must be a flat list of numbers x1, y1, v1, x2, ... (got {_short(part)})",
                    "write numbers only (no null or strings)",
                    field=name,
                    **ids,
                )
                return None
            if len(part) != 3 * count:
                self.error(
                    f"'{name}' has {len(part)} values; expected 3 x {count} = {3 * count} (x, y, v per "
                    "keypoint)",
                    f"write x, y, v for each of the {count} keypoints (v=0, x=y=0 when "
                    "unlabelled), or fix the category's keypoint names",
                    field=name,
                    **ids,
                )
                return None
            values.extend(part)
        return values, parts

    def _keypoints(
        self,
        ann: dict[str, Any],
        image: ImageInfo,
        bbox: np.ndarray,
        schema: KeypointSchema,
        crowd: bool,
        ids: dict[str, int],
    ) -> np.ndarray | None:
        k = schema.num_keypoints
        raw = self._raw_keypoints(ann, k, crowd, ids)
        if raw is None:
            return None
        values, parts = raw
        kps = np.asarray(values, dtype=np.float64).reshape(k, 3)
        part_of = [name for name, count in parts for _ in range(count)]
        names = schema.names
        bad = ~np.isfinite(kps).all(axis=1)
        if bad.any():  # (each check is vectorised over the K keypoints: COCO train has 150k people)
            j = int(np.flatnonzero(bad)[0])
            self.error(
                f"keypoint '{names[j]}' has a non-finite value {kps[j].tolist()} ({int(bad.sum())} "
                "keypoint(s) affected)",
                "replace NaN/Infinity by real coordinates, or 0, 0, 0 when unlabelled",
                field=part_of[j],
                **ids,
            )
            return None
        v = kps[:, 2]
        if self.wholebody:  # COCO-WholeBody part visibilities are scores in (0, 1]: labelled
            score = np.array([p != "keypoints" for p in part_of]) & (v > 0) & (v < 1)
            v[score] = 1.0
        bad = (v != 0) & (v != 1) & (v != 2)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            self.error(
                f"visibility of keypoint '{names[j]}' is {v[j]:g}; must be 0 (not labelled), 1 (labelled, "
                f"occluded) or 2 (labelled, visible) ({int(bad.sum())} keypoint(s) affected)",
                "set v to 0, 1 or 2",
                field=part_of[j],
                **ids,
            )
            return None
        labelled = v > 0
        beyond = labelled & outside(kps, (0.0, 0.0, image.width, image.height))
        if beyond.any():
            beyond &= outside(kps, bbox)
        if beyond.any():
            j = int(np.flatnonzero(beyond)[0])
            self.error(
                f"labelled keypoint '{names[j]}' at ({kps[j, 0]:g}, {kps[j, 1]:g}) is outside the image "
                f"(width {image.width}, height {image.height}) and the person's bbox; "
                f"{int(beyond.sum())} keypoint(s) affected",
                "fix the coordinates, or mark the keypoint unlabelled (0, 0, 0)",
                field=part_of[j],
                **ids,
            )
            return None
        kps[~labelled] = 0.0
        return kps


def _list_folder(folder: Path) -> dict[str, os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return {entry.name: entry for entry in entries}
    except OSError:  # missing, not a folder, unreadable: its images are reported missing
        return {}


def _not_a_file(entry: os.DirEntry) -> str | None:
    """Why a folder entry named by ``file_name`` is not an image file (None when it is a regular file)."""
    try:
        if entry.is_file():  # follows links; free for plain files (the folder listing says their type)
            return None
        if entry.is_symlink() and not os.path.exists(entry.path):
            return f"is a broken link (to {os.readlink(entry.path)})"
        return "is a folder, not an image file" if entry.is_dir() else "is not a regular file"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a link loop (symbolic links pointing at each other)"
        return f"cannot be opened ({error.strerror or error})"


_is_int = is_int64  # ids, sizes and counts: integral and within 64 bits (1e300 is not an id)


_NUMBER_TYPES = {int, float}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _id_or_none(value: Any) -> int | None:
    return int(value) if _is_int(value) else None


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
