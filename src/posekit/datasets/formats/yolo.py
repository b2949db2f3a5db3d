"""Ultralytics YOLO pose data: read it into COCO (also on the fly, for ``--data their.yaml``) and write it.

The layout, as Ultralytics reads it (``ultralytics/data/utils.py``, ``docs/en/datasets/pose/index.md``):

- a data YAML with ``path`` (the root; relative to the working directory, else the YAML's folder here,
  where Ultralytics would look under its ``datasets_dir`` setting; absent: the YAML's folder), ``train`` /
  ``val`` (a folder searched recursively for images, a .txt listing image paths (``./x`` relative to the
  .txt), or a list of those), ``kpt_shape: [K, 2|3]``, ``flip_idx`` (``flipped[i] = original[flip_idx[i]]``
  after a horizontal flip), ``names`` (class index -> name) and, in newer versions, ``kpt_names``;
- per image, the label file whose path replaces the last ``/images/`` of the image path by ``/labels/``
  and the extension by ``.txt`` (missing or empty: no people); one row per object: ``cls cx cy w h``
  then ``x y`` or ``x y v`` per keypoint, all normalised by the image width/height.

Visibility: with 3 values per keypoint, v is COCO's (0 unlabelled, written ``0 0 0``; 1 labelled occluded;
2 visible); Ultralytics trains on every v > 0. With 2 values there is none: Ultralytics counts a point as
labelled unless x or y is negative. posekit reads ``0 0`` as unlabelled too (converters write it for
missing points; no real point lies exactly on the image corner) and every other point as v=2, so v=1
becomes v=2 through a 2-value file. Labelled points outside the image become unlabelled (Ultralytics
hides them when it clips labels to the image). Values outside [-0.01, 1.01] are an error (pixels?), as
Ultralytics rejects the label file. Duplicate rows are dropped, as Ultralytics does.

Keypoint names: ``kpt_names`` when given; COCO-17 when K is 17 and ``flip_idx`` is COCO's; else
``kp0 ... kp{K-1}`` with the flip pairs of ``flip_idx`` (written to the data YAML's ``schema:``). A
``schema:`` mapping in the YOLO YAML (ignored by Ultralytics) is passed to posekit as in its own YAMLs; its
``skeleton`` (0-based pairs) becomes the COCO category's. posekit writes there what YOLO has no field for:
the skeleton and the OKS sigmas, where the keypoint names alone would not give them back.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from posekit.datasets.formats.coco_writer import write_coco
from posekit.datasets.formats.common import (
    CocoConversion,
    CocoSplit,
    ConversionReport,
    SourceIssues,
    Tally,
    coco_category,
    coco_person,
    image_sizes,
    place_image,
)
from posekit.datasets.json_file import read_json
from posekit.datasets.records import KeypointAnnotations, outside
from posekit.datasets.schema import KeypointSchema, get_preset, infer_flip_pairs
from posekit.errors import ConfigError, DataError
from posekit.fileio import atomic_write_text, build_once, posekit_home

logger = logging.getLogger(__name__)

#: Image suffixes Ultralytics reads (``IMG_FORMATS`` in ``ultralytics/data/utils.py``).
IMAGE_SUFFIXES = frozenset({"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"})
#: Bump when the conversion changes, so that copies cached for ``--data their.yaml`` are made again.
_VERSION = "yolo-coco-2"
_TOLERANCE = 0.01  # Ultralytics accepts normalised values in [-0.01, 1.01]
_SPLITS = ("train", "val")
_CROWD = "crowd region(s): YOLO has no crowd flag (Ultralytics' converter drops them too)"
_ROW_FIX = "write one object per line: class cx cy w h, then x y (v) per keypoint, normalised to 0..1"


@dataclass
class YoloSpec:
    """A YOLO pose data YAML, read: its image files per split and what it says about the keypoints."""

    yaml_path: Path
    root: Path
    splits: dict[str, list[Path]]
    split_roots: dict[str, Path]  # what file names are relative to: the split's folder, else the common one
    num_keypoints: int
    dims: int
    flip_idx: list[int] | None
    class_names: dict[int, str]
    keypoint_names: list[str] | None
    schema: dict[str, Any] | None


def is_yolo_pose(raw: Any) -> bool:
    """Whether a parsed YAML is an Ultralytics pose data YAML (it has ``kpt_shape``)."""
    return isinstance(raw, dict) and "kpt_shape" in raw


def label_path(image: Path) -> Path:
    """The label file of an image, as Ultralytics finds it: the last ``/images/`` becomes ``/labels/``."""
    text = str(image)
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return Path(os.path.splitext(sb.join(text.rsplit(sa, 1)))[0] + ".txt")


# ---------------------------------------------------------------------------------------------- the YAML
def read_spec(yaml_path: Path, raw: dict[str, Any]) -> YoloSpec:
    """Check the YAML's fields and list each split's images; :class:`ConfigError` names a bad field."""
    where = str(yaml_path)
    k, dims = _kpt_shape(raw.get("kpt_shape"), where)
    flip_idx = _flip_idx(raw.get("flip_idx"), k, where)
    class_names = _class_names(raw, where)
    root = _root(yaml_path, raw.get("path"))
    splits = {s: _images(root, raw[s], s, where) for s in _SPLITS if raw.get(s)}
    split_roots = {s: _split_root(root, raw[s], images) for s, images in splits.items()}
    if not splits:
        raise ConfigError(f"{where}: names no split; add `train:` and/or `val:` (image folders)")
    schema = raw.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise ConfigError(f"{where}: `schema:` must be a mapping (as in a posekit data YAML)")
    return YoloSpec(
        yaml_path=yaml_path,
        root=root,
        splits=splits,
        split_roots=split_roots,
        num_keypoints=k,
        dims=dims,
        flip_idx=flip_idx,
        class_names=class_names,
        keypoint_names=_kpt_names(raw.get("kpt_names"), k, where),
        schema=schema,
    )


def _kpt_shape(value: Any, where: str) -> tuple[int, int]:
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value)
    if not ok or int(value[0]) < 1 or int(value[1]) not in (2, 3):
        raise ConfigError(
            f"{where}: kpt_shape is {value!r}; write [K, 3] (K keypoints with x, y, visibility) or [K, 2]"
        )
    return int(value[0]), int(value[1])


def _flip_idx(value: Any, k: int, where: str) -> list[int] | None:
    if value is None:
        return None
    ok = isinstance(value, (list, tuple)) and len(value) == k and all(_is_int(v) for v in value)
    index = [int(v) for v in value] if ok else []
    if not ok or sorted(index) != list(range(k)) or any(index[index[i]] != i for i in range(k)):
        raise ConfigError(
            f"{where}: flip_idx must list, for each of the {k} keypoints, the index of its mirror twin "
            f"(itself when it has none; twins point at each other), e.g. [0, 2, 1, ...]; got {value!r}"
        )
    return index


def _class_names(raw: dict[str, Any], where: str) -> dict[int, str]:
    names = raw.get("names")
    if isinstance(names, dict) and all(_is_int(c) or str(c).isdigit() for c in names):
        return {int(c): str(n) for c, n in names.items()}
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}
    if names is None and _is_int(raw.get("nc")):
        return {i: f"class_{i}" for i in range(int(raw["nc"]))}
    raise ConfigError(f"{where}: `names:` must map class indices to names, e.g. names: {{0: person}}")


def _kpt_names(value: Any, k: int, where: str) -> list[str] | None:
    if value is None:
        return None
    lists = list(value.values()) if isinstance(value, dict) else value
    if isinstance(lists, list) and lists and all(isinstance(n, str) for n in lists):
        lists = [lists]  # one list for all classes
    ok = isinstance(lists, list) and lists and all(isinstance(names, list) for names in lists)
    if not ok or any(len(names) != k or len(set(map(str, names))) != k for names in lists):
        raise ConfigError(
            f"{where}: kpt_names must give {k} distinct names per class, e.g. {{0: [nose, ...]}}"
        )
    if any(list(map(str, names)) != list(map(str, lists[0])) for names in lists):
        raise ConfigError(f"{where}: kpt_names differ between classes; posekit trains one keypoint set")
    return [str(n) for n in lists[0]]


def _root(yaml_path: Path, path: Any) -> Path:
    if path in (None, ""):
        return yaml_path.parent.resolve()
    given = Path(str(path)).expanduser()
    if given.is_absolute():
        return given.resolve()
    for base in (Path.cwd(), yaml_path.parent):
        if (base / given).is_dir():
            return (base / given).resolve()
    raise ConfigError(
        f"{yaml_path}: `path: {path}` is not a folder under {Path.cwd()} (the working directory) nor under "
        f"{yaml_path.parent}; write the dataset root as an absolute path"
    )


def _images(root: Path, entries: Any, split: str, where: str) -> list[Path]:
    files: list[Path] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        path = (root / str(entry)).resolve()
        if not path.exists() and str(entry).startswith("../"):  # as Ultralytics does
            path = (root / str(entry)[3:]).resolve()
        if path.is_dir():
            found = glob.glob(os.path.join(glob.escape(str(path)), "**", "*.*"), recursive=True)
            files += [Path(f) for f in found if f.rpartition(".")[2].lower() in IMAGE_SUFFIXES]
        elif path.is_file():
            files += _listed(path)
        else:
            raise ConfigError(
                f"{where}: {split}: {entry} is not a folder nor a .txt list of images (looked for {path})"
            )
    if not files:
        raise ConfigError(f"{where}: {split}: no images found in {entries} (suffixes: .jpg, .png, ...)")
    return sorted(set(files))


def _split_root(root: Path, entries: Any, images: list[Path]) -> Path:
    folder = (root / str(entries)).resolve() if not isinstance(entries, list) else None
    if folder is not None and folder.is_dir():
        return folder
    return Path(os.path.commonpath([p.parent for p in images]))


def _listed(txt: Path) -> list[Path]:
    try:
        text = txt.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{txt}: the list of images cannot be read ({error})") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    paths = [txt.parent / line[2:] if line.startswith("./") else Path(line) for line in lines]
    missing = [(n, p) for n, p in enumerate(paths, 1) if not p.is_file()]
    if missing:
        n, p = missing[0]
        raise ConfigError(
            f"{txt}:{n}: image {p} not found ({len(missing)} listed image(s) missing); write paths "
            "that exist (./x is relative to the .txt, other relative paths to the working directory)"
        )
    return [p.resolve() for p in paths if p.suffix[1:].lower() in IMAGE_SUFFIXES]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------- YOLO -> COCO
def keypoint_layout(spec: YoloSpec) -> tuple[list[str], list[tuple[int, int]], dict[str, Any] | None, str]:
    """Keypoint names, skeleton, the data YAML's ``schema:`` (None when the names say it all) and a note
    on where the names came from."""
    k = spec.num_keypoints
    coco = get_preset("coco17")
    pairs = sorted({(min(i, j), max(i, j)) for i, j in enumerate(spec.flip_idx or []) if i != j})
    if spec.keypoint_names is not None:
        names, note = spec.keypoint_names, "keypoint names from kpt_names"
    elif k == coco.num_keypoints and spec.flip_idx == coco.flip_index.tolist():
        names, note = list(coco.names), "keypoint names: COCO-17 (17 keypoints with COCO's flip_idx)"
    else:
        names = [f"kp{i}" for i in range(k)]
        note = (
            f"keypoint names invented: kp0..kp{k - 1}"
            + (", flip pairs from flip_idx" if pairs else "")
            + " (name them with `kpt_names: {0: [...]}` in the YAML)"
        )
    given = dict(spec.schema or {})  # its skeleton stays there too: a preset's names bring the preset's
    skeleton = list(coco.skeleton) if names == list(coco.names) else []
    if "skeleton" in given:
        skeleton = _skeleton(given["skeleton"], k, str(spec.yaml_path))
    schema: dict[str, Any] = {}
    if spec.flip_idx is not None and set(map(tuple, infer_flip_pairs(names))) != set(pairs):
        schema["flip_pairs"] = [list(p) for p in pairs]
    schema.update(given)
    return names, skeleton, schema or None, note


def _skeleton(value: Any, k: int, where: str) -> list[tuple[int, int]]:
    """``schema: skeleton:`` of a YOLO YAML: pairs of 0-based keypoint indices."""
    pairs = value if isinstance(value, list) else [None]
    if not all(
        isinstance(p, list) and len(p) == 2 and all(_is_int(i) and 0 <= i < k for i in p) for p in pairs
    ):
        raise ConfigError(f"{where}: `schema: skeleton:` must list pairs of keypoint indices 0..{k - 1}")
    return [(int(a), int(b)) for a, b in pairs]


def to_coco(spec: YoloSpec) -> CocoConversion:
    """The data set as COCO; :class:`DataError` lists every defect of the label files (file:line, fix)."""
    names, skeleton, schema, note = keypoint_layout(spec)
    categories = [coco_category(c + 1, n, names, skeleton) for c, n in sorted(spec.class_names.items())]
    issues, tally = SourceIssues(spec.yaml_path, "YOLO pose"), Tally()
    by_images: dict[tuple[Path, ...], CocoSplit] = {}
    splits = {}
    for split, images in spec.splits.items():
        key = tuple(images)
        if key not in by_images:
            by_images[key] = _split(spec, images, spec.split_roots[split], categories, issues, tally)
        splits[split] = by_images[key]
    issues.raise_if_any()
    lost = ["visibility: 2 values per keypoint, so every labelled point is v=2"] if spec.dims == 2 else []
    return CocoConversion(splits, schema, lost, [note, *tally.lines()])


def _split(
    spec: YoloSpec, images: list[Path], root: Path, categories: list[dict], issues: SourceIssues, tally: Tally
) -> CocoSplit:
    split = CocoSplit({"images": [], "annotations": [], "categories": categories}, root, str(spec.yaml_path))
    for image_id, (path, size) in enumerate(zip(images, image_sizes(images), strict=True), 1):
        if isinstance(size, str):
            issues.add(
                path, f"the image cannot be read ({size})", "replace the file or remove it from the split"
            )
            continue
        width, height = size
        split.coco["images"].append(
            {"id": image_id, "file_name": path.relative_to(root).as_posix(), "width": width, "height": height}
        )
        split.image_origins[image_id] = str(path)
        scale = np.array([width, height], dtype=np.float64)
        for line, cls, box, kps in _rows(label_path(path), spec, issues, tally):
            kps[:, :2] *= scale
            beyond = (kps[:, 2] > 0) & outside(kps, (0.0, 0.0, width, height))
            tally["labelled keypoint(s) outside the image made unlabelled"] += int(beyond.sum())
            kps[beyond] = 0.0
            cx, cy, w, h = box * np.tile(scale, 2)
            ann_id = len(split.coco["annotations"]) + 1
            person = coco_person(ann_id, image_id, cls + 1, [cx - w / 2, cy - h / 2, w, h], kps)
            split.coco["annotations"].append(person)
            split.annotation_origins[ann_id] = f"{label_path(path)}:{line}"
    return split


def _rows(
    label: Path, spec: YoloSpec, issues: SourceIssues, tally: Tally
) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """(line, class, normalised box, normalised (K, 3) keypoints) of each valid row of a label file."""
    if not label.is_file():
        tally["image(s) without a label file (no people)"] += 1
        return []
    try:
        text = label.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        issues.add(label, f"cannot be read ({error})", "save the label file as UTF-8 text")
        return []
    k, dims = spec.num_keypoints, spec.dims
    rows, seen = [], set()
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        row = _row(fields, k, dims, spec, f"{label}:{n}", issues)
        if row is None:
            continue
        if tuple(row) in seen:
            tally["duplicate row(s) dropped (as Ultralytics does)"] += 1
            continue
        seen.add(tuple(row))
        kps = row[5:].reshape(k, dims)
        if dims == 2:
            unlabelled = ((kps[:, 0] == 0) & (kps[:, 1] == 0)) | (kps < 0).any(axis=1)
            kps = np.column_stack([kps, np.where(unlabelled, 0.0, 2.0)])
        rows.append((n, int(row[0]), row[1:5].copy(), kps.copy()))
    return rows


def _row(fields: list[str], k: int, dims: int, spec: YoloSpec, where: str, issues: SourceIssues) -> Any:
    expected = 5 + k * dims
    if len(fields) != expected:
        other = 2 if dims == 3 else 3
        hint = f"; it fits kpt_shape [{k}, {other}]" if len(fields) == 5 + k * other else ""
        per = "x y v" if dims == 3 else "x y"
        message = (
            f"{len(fields)} values; kpt_shape [{k}, {dims}] needs {expected} (class, box, {per} x {k}){hint}"
        )
        issues.add(where, message, f"{_ROW_FIX}, or fix kpt_shape in {spec.yaml_path}")
        return None
    try:
        row = np.array([float(f) for f in fields])
    except ValueError:
        bad = next(f for f in fields if not _is_number(f))
        issues.add(where, f"{bad!r} is not a number", _ROW_FIX)
        return None
    cls = row[0]
    if not np.isfinite(row).all():
        issues.add(where, "a value is NaN or infinite", _ROW_FIX)
    elif cls != int(cls) or cls < 0 or int(cls) not in spec.class_names:
        known = sorted(spec.class_names)
        issues.add(
            where, f"class {cls:g} is not one of the classes {known} of `names:`", "fix the class or `names:`"
        )
    elif (value := _out_of_range(row, k, dims)) is not None:
        issues.add(
            where,
            f"value {value:g} is not normalised to 0..1 (pixels?)",
            "divide x and widths by the image width, y and heights by its height",
        )
    elif row[3] <= 0 or row[4] <= 0:
        issues.add(where, f"box width/height {row[3]:g}/{row[4]:g} must be > 0", _ROW_FIX)
    elif dims == 3 and not np.isin(row[7::3], (0, 1, 2)).all():
        v = row[7::3][~np.isin(row[7::3], (0, 1, 2))][0]
        issues.add(
            where,
            f"visibility {v:g}; must be 0 (unlabelled), 1 (labelled, occluded) or 2 (visible)",
            "set v to 0, 1 or 2",
        )
    else:
        return row
    return None


def _out_of_range(row: np.ndarray, k: int, dims: int) -> float | None:
    kps = row[5:].reshape(k, dims)
    values = np.concatenate([row[1:5], kps[:, :2].ravel()])
    bad = values[(values < -_TOLERANCE) | (values > 1 + _TOLERANCE)]
    return float(bad[0]) if len(bad) else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------- --data YAML
def converted_data_yaml(yaml_path: Path, raw: dict[str, Any]) -> Path:
    """The posekit data YAML of a COCO copy of a YOLO pose data set, converted once into
    ``$POSEKIT_HOME/converted/`` and reused while no file of the source changes (the copy is keyed by the
    YAML's path and the modification times and sizes of the YAML, every image and every label file)."""
    spec = read_spec(yaml_path.resolve(), raw)
    folder = posekit_home() / "converted" / f"yolo-{_cache_key(spec)}"

    def build(out: Path) -> None:
        conversion = to_coco(spec)
        header = f"posekit data YAML converted from the Ultralytics YOLO pose data {spec.yaml_path}"
        counts = write_coco(conversion.splits, out, header, schema=conversion.schema)
        report = ConversionReport(
            str(spec.yaml_path),
            "yolo",
            str(folder / "data.yaml"),
            "coco",
            counts,
            conversion.lost,
            conversion.notes,
        )
        report.save(out)
        logger.warning("%s", report)

    return build_once(folder, build, "data.yaml", f"the COCO copy of {yaml_path}") / "data.yaml"


def _cache_key(spec: YoloSpec) -> str:
    digest = hashlib.sha256(f"{_VERSION}\n{spec.yaml_path}\n{_stamp(spec.yaml_path)}\n".encode())
    for split, images in spec.splits.items():
        for image in images:
            digest.update(f"{split}\t{image}\t{_stamp(image)}\t{_stamp(label_path(image))}\n".encode())
    return digest.hexdigest()[:20]


def _stamp(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return "-"
    return f"{st.st_mtime_ns}:{st.st_size}"


# ---------------------------------------------------------------------------------------------- COCO -> YOLO
def write_yolo(
    datasets: dict[str, KeypointAnnotations], out: Path, kpt_dims: int = 3
) -> tuple[dict[str, dict[str, int]], list[str], list[str]]:
    """Write ``datasets`` (``"train"``/``"val"``; both may be the same, written once) as YOLO pose data in
    ``out``: ``data.yaml``, ``images/<split>/`` (hard links when possible, else copies) and
    ``labels/<split>/``. Return the counts per split, what is lost and notes on what was changed."""
    if kpt_dims not in (2, 3):
        raise ConfigError(f"kpt_dims is {kpt_dims}; choose 3 (x, y, visibility) or 2 (x, y)")
    first = next(iter(datasets.values()))
    schema = first.schema
    classes = _classes(datasets)
    tally, counts, folders = Tally(), {}, {}
    written: dict[int, str] = {}
    for split, dataset in datasets.items():
        if id(dataset) in written:
            folders[split], counts[split] = folders[written[id(dataset)]], counts[written[id(dataset)]]
            continue
        written[id(dataset)] = split
        folders[split] = f"images/{split}"
        counts[split] = _write_split(dataset, out / "images" / split, classes, kpt_dims, tally)
    names = {index: name for _, (index, name) in sorted(classes.items(), key=lambda c: c[1][0])}
    config = {
        "train": folders.get("train", folders.get("val")),
        "val": folders.get("val", folders.get("train")),
        "kpt_shape": [schema.num_keypoints, kpt_dims],
        "flip_idx": schema.flip_index.tolist(),
        "names": names,
        "kpt_names": {index: list(schema.names) for index in names},
    }
    kept = _not_in_names(schema)
    if kept:
        config["schema"] = kept
    header = (
        "# Ultralytics YOLO pose data written by `posekit convert` (no `path:`: the root is this folder)\n"
    )
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=110)
    atomic_write_text(out / "data.yaml", header + text)
    lost = _lost(tally, kpt_dims)
    notes = ["keypoint names kept in `kpt_names` (newer Ultralytics versions read it, as posekit does)"]
    if kept:
        what = " and ".join(kept)
        notes.append(f"{what} kept in `schema:` (posekit reads it back; Ultralytics ignores it)")
    return counts, lost, notes + tally.lines()


def _not_in_names(schema: KeypointSchema) -> dict[str, Any]:
    """The skeleton and OKS sigmas of ``schema`` where its keypoint names alone would not give them back
    (a preset's come back with its names), for the YOLO YAML's ``schema:``."""
    again = KeypointSchema.from_coco_category({"keypoints": list(schema.names)})
    kept: dict[str, Any] = {}
    if set(again.skeleton) != set(schema.skeleton):
        kept["skeleton"] = [[int(a), int(b)] for a, b in schema.skeleton]
    if again.sigmas != schema.sigmas:
        kept["sigmas"] = [float(s) for s in schema.sigmas]
    return kept


def _classes(datasets: dict[str, KeypointAnnotations]) -> dict[int, tuple[int, str]]:
    """Category id -> (class index, name) for every category of the files with the people's keypoint set
    (AP-10K's species...), in id order: Ultralytics wants classes 0..n-1, and a YOLO round trip keeps them."""
    names: dict[int, str] = {}
    for dataset in datasets.values():
        raw, _ = read_json(dataset.json_path)  # the loader keeps only the main category's name
        categories = [c for c in raw["categories"] if isinstance(c, dict) and isinstance(c.get("id"), int)]
        main = next(c for c in categories if c["id"] == dataset.category_id)
        points = [str(n).lower() for n in main.get("keypoints") or []]
        for c in categories:
            if "keypoints" in c and [str(n).lower() for n in c["keypoints"] or []] == points:
                names[c["id"]] = str(c.get("name", c["id"]))
    return {c: (index, names[c]) for index, c in enumerate(sorted(names))}


def _write_split(
    dataset: KeypointAnnotations, folder: Path, classes: dict[int, tuple[int, str]], dims: int, tally: Tally
) -> dict[str, int]:
    people_by_image = dataset.by_image()
    labels: dict[Path, int] = {}
    people = crowd = 0
    for image_id, info in dataset.images.items():
        image = folder / info.file_name
        label = label_path(image)
        if label in labels:
            other = dataset.images[labels[label]].file_name
            raise DataError(
                f"{dataset.json_path}: images {other!r} and {info.file_name!r} would share the label file "
                f"{label.name}; rename one of them (YOLO labels are named after the image without its suffix)"
            )
        labels[label] = image_id
        place_image(info.path, image)
        rows = []
        for person in people_by_image[image_id]:
            if person.iscrowd:
                crowd += 1
                continue
            row = _yolo_row(person.bbox, person.keypoints, info.width, info.height, dims, tally)
            if row is not None:
                rows.append(f"{classes[person.category_id][0]} {row}")
        people += len(rows)
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
    tally[_CROWD] += crowd
    return {"images": len(dataset.images), "people": people, "crowd": 0}


def _yolo_row(
    bbox: np.ndarray, keypoints: np.ndarray, width: int, height: int, dims: int, tally: Tally
) -> str | None:
    """``cx cy w h`` then the keypoints, normalised; the box clipped to the image (None when nothing is
    left); labelled keypoints outside the image written unlabelled (Ultralytics rejects values > 1.01)."""
    x0, y0 = max(bbox[0], 0.0), max(bbox[1], 0.0)
    x1, y1 = min(bbox[0] + bbox[2], width), min(bbox[1] + bbox[3], height)
    if x1 <= x0 or y1 <= y0:
        tally["person(s) dropped: box outside the image"] += 1
        return None
    tally["box(es) clipped to the image"] += int(
        (x0, y0, x1, y1) != (bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3])
    )
    values = [(x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height]
    labelled = keypoints[:, 2] > 0
    # the YOLO format's own bounds (normalised 0..1; Ultralytics rejects negatives and values > 1.01), not
    # posekit's 1 px rule (records.OUTSIDE_TOLERANCE): a point beyond them cannot be written
    inside = (
        (keypoints[:, 0] >= 0)
        & (keypoints[:, 0] <= width)
        & (keypoints[:, 1] >= 0)
        & (keypoints[:, 1] <= height)
    )
    tally["labelled keypoint(s) outside the image written unlabelled"] += int((labelled & ~inside).sum())
    points = []
    for (x, y, v), keep in zip(keypoints.tolist(), labelled & inside, strict=True):
        xy = [x / width, y / height] if keep else [0.0, 0.0]
        if dims == 3:
            points.append(" ".join([*map(_number, xy), str(int(v) if keep else 0)]))
        else:
            tally[
                "unlabelled keypoint(s) written as 0 0 (Ultralytics reads 0 0 as a labelled corner point)"
            ] += int(not keep)
            points.append(" ".join(map(_number, xy)))
    return " ".join([*map(_number, values), *points])


def _number(value: float) -> str:
    """9 significant digits: 1e-9 of the image size; a value read with fewer digits is written the same."""
    return format(value, ".9g") if value != 0 else "0"


def _lost(tally: Tally, dims: int) -> list[str]:
    crowd = tally.pop(_CROWD, 0)
    lost = [f"{crowd} {_CROWD}"] if crowd else []
    lost += [
        "annotation and image ids, areas (a COCO area becomes the box area) and extra fields (track_id ...)",
        "category ids (classes are numbered 0..n-1 in category id order)",
    ]
    if dims == 2:
        lost.append("visibility: v=1 (occluded) and v=2 are both written as a point and read back as v=2")
    return lost
