"""CVAT exports of skeletons read into COCO: "COCO Keypoints 1.0" (.json) and "CVAT for images 1.1" (.xml).

What CVAT writes (its docs ``dataset_management/formats/format-coco-keypoints.md`` and ``format-xml.md``,
its ``dataset_manager/bindings.py`` and the Datumaro COCO exporter it uses):

- COCO Keypoints 1.0: ``images/<subset>/`` and ``annotations/person_keypoints_<subset>.json``. A skeleton
  is an annotation of its label's category. A point marked *outside* gets v=0 but keeps its x, y; an
  *occluded* one v=1; others v=2. Category ids are 1 + the label's index among all labels, point labels
  included, so they have gaps, and labels that are not skeletons are categories with empty
  ``keypoints``. The box is a rectangle grouped with the skeleton, else the tight box of its points that
  are not outside: zero-sized for a single point, ``[0, 0, 0, 0]`` when all are outside. Keypoint names
  are the skeleton's point labels (``"1"``, ``"2"``... unless renamed) and ``skeleton`` pairs are the
  editor's node ids, which are not positions once a point was deleted. Attributes sit in
  ``attributes`` (``track_id`` for tracks). An export of a task without skeletons or images has empty
  lists.
- CVAT for images 1.1: ``<image id name width height>`` elements holding ``<skeleton label>`` with one
  ``<points label outside occluded points="x,y">`` per point; ``<meta>`` lists the labels: a skeleton's
  point labels have ``<parent>`` = the skeleton, and its ``<svg>`` gives the order of the points
  (``<circle data-node-id data-label-name>``) and the edges (``<line data-node-from data-node-to>``).
  The video layout (``<track>``) is not read: export "CVAT for images" (it splits tracks by frame).

Here: v as above (outside points zeroed); a zero-sized box becomes the 1-pixel box around the point, a
skeleton with no point and no box is dropped; skeleton pairs that are out of range are dropped;
attributes other than ``track_id`` (kept as ``track_id``) and segmentations are dropped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.formats.common import (
    CocoConversion,
    CocoSplit,
    SourceIssues,
    Tally,
    box_around,
    coco_category,
    coco_person,
)
from posekit.datasets.image_root import find_image_root, image_root_candidates
from posekit.datasets.json_file import read_json
from posekit.errors import ConfigError

_FMT = "CVAT"
_EXPORT_FIX = "export the task with a skeleton label as 'COCO Keypoints 1.0' or 'CVAT for images 1.1'"
_VAL_NAMES = ("val", "valid", "validation")

_LOST = [
    "CVAT attributes other than track_id, the 'source' (manual/auto) and z_order of shapes",
    "skeleton edges CVAT wrote as node ids that are not positions (after points were deleted)",
]


def read(src: Path, images: Path | None) -> CocoConversion:
    """Read a CVAT export: a .json, an .xml, or the unzipped export folder (``annotations/*.json`` per
    subset, or ``annotations.xml``). Subsets named train/val become those splits; one file serves both."""
    files = _files(src)
    issues, tally = SourceIssues(src, _FMT), Tally()
    read_split = {".json": _read_json, ".xml": _read_xml}
    parts = {subset: read_split[path.suffix.lower()](path, images, issues, tally) for subset, path in files}
    issues.raise_if_any()
    keypoint_sets = {tuple(split.coco["categories"][0]["keypoints"]) for split in parts.values()}
    if len(keypoint_sets) > 1:
        issues.add(
            src, "the subsets' skeletons have different points", "export one skeleton label throughout"
        )
        issues.raise_if_any()
    splits = _splits(parts, src)
    notes = [
        f"subset {subset!r} -> {', '.join(s for s, p in splits.items() if p is parts[subset])}"
        for subset in parts
    ]
    return CocoConversion(splits, None, _LOST, notes + tally.lines())


def _files(src: Path) -> list[tuple[str, Path]]:
    if src.is_file():
        if src.suffix.lower() not in (".json", ".xml"):
            raise ConfigError(f"{src} is neither a .json nor an .xml; pass the annotations of a CVAT export")
        return [(_subset(src), src)]
    found = sorted((src / "annotations").glob("*.json")) if (src / "annotations").is_dir() else []
    found = found or sorted(src.glob("*.xml"))
    if not found:
        raise ConfigError(
            f"{src} holds no annotations/*.json nor *.xml; pass the .json or .xml of a CVAT export"
        )
    return [(_subset(path), path) for path in found]


def _subset(path: Path) -> str:
    stem = path.stem
    return stem[len("person_keypoints_") :] if stem.startswith("person_keypoints_") else stem


def _splits(parts: dict[str, CocoSplit], src: Path) -> dict[str, CocoSplit]:
    if len(parts) == 1:
        (only,) = parts.values()
        return {"train": only, "val": only}
    named = {
        "train": [p for s, p in parts.items() if s.lower() == "train"],
        "val": [p for s, p in parts.items() if s.lower() in _VAL_NAMES],
    }
    if len(named["train"]) != 1 or len(named["val"]) > 1 or len(parts) > 2:
        issues = SourceIssues(src, _FMT)
        issues.add(
            src,
            f"holds the subsets {sorted(parts)}; posekit needs one 'train' and at most one 'val'",
            "name the subsets train and val in CVAT, or convert one annotation file at a time",
        )
        issues.raise_if_any()
    return {"train": named["train"][0], "val": (named["val"] or named["train"])[0]}


# ---------------------------------------------------------------------------------------------- COCO JSON
def _read_json(path: Path, images: Path | None, issues: SourceIssues, tally: Tally) -> CocoSplit | None:
    raw, problem = read_json(path)
    if problem is not None:
        issues.add(path, *problem)
        return None
    sections = ("images", "annotations", "categories")
    if not isinstance(raw, dict) or any(not isinstance(raw.get(s), list) for s in sections):
        issues.add(
            path, "is not a COCO Keypoints export (lists 'images', 'annotations', 'categories')", _EXPORT_FIX
        )
        return None
    # ids of another type (a list, an object) match nothing rather than breaking the lookups
    skeletons = {
        c["id"]: c
        for c in raw["categories"]
        if isinstance(c, dict)
        and isinstance(c.get("id"), int)
        and isinstance(c.get("keypoints"), list)
        and c["keypoints"]
    }
    people = [
        a
        for a in raw["annotations"]
        if isinstance(a, dict) and isinstance(a.get("category_id"), int) and a["category_id"] in skeletons
    ]
    tally["annotation(s) of labels that are not skeletons dropped"] += len(raw["annotations"]) - len(people)
    if not _has_content(path, len(raw["images"]), len(people), issues):
        return None
    used = sorted({a["category_id"] for a in people})
    names = _one_keypoint_set(
        path, {str(skeletons[c].get("name", c)): skeletons[c]["keypoints"] for c in used}, issues
    )
    if names is None:
        return None
    skeleton = _skeleton_pairs(skeletons[used[0]].get("skeleton"), len(names), tally)
    categories = [coco_category(c, str(skeletons[c].get("name", c)), names, skeleton) for c in used]
    split = CocoSplit({"images": [], "annotations": [], "categories": categories}, Path(), str(path))
    for image in raw["images"]:
        record = (
            {k: image.get(k) for k in ("id", "file_name", "width", "height")}
            if isinstance(image, dict)
            else {}
        )
        split.coco["images"].append(record)
        if isinstance(record.get("id"), int):
            split.image_origins[record["id"]] = f"{path}, image {record['id']}"
    for ann in people:
        kps = _keypoints(ann.get("keypoints"), len(names), f"{path}, annotation {ann.get('id')}", issues)
        if kps is None:
            continue
        bbox = ann.get("bbox")
        ok = isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)
        if not ok or bbox[2] <= 0 or bbox[3] <= 0:
            bbox = box_around(kps)
            if bbox is None:
                tally["skeleton(s) with every point outside and no box dropped"] += 1
                continue
            tally["zero-sized box(es) replaced by the box around the points"] += 1
        attributes = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
        extra = {"track_id": attributes["track_id"]} if "track_id" in attributes else {}
        person = coco_person(
            ann.get("id"), ann.get("image_id"), ann["category_id"], bbox, kps, bool(ann.get("iscrowd")), extra
        )
        split.coco["annotations"].append(person)
        if isinstance(person["id"], int):
            split.annotation_origins[person["id"]] = f"{path}, annotation {person['id']}"
    file_names = [str(i["file_name"]) for i in split.coco["images"] if i.get("file_name")]
    split.image_root = images or find_image_root(image_root_candidates(path), file_names)
    return split


def _keypoints(values: Any, k: int, where: str, issues: SourceIssues) -> np.ndarray | None:
    if (
        not isinstance(values, list)
        or len(values) != 3 * k
        or not all(isinstance(v, (int, float)) for v in values)
    ):
        issues.add(where, f"'keypoints' must be {3 * k} numbers (x, y, v per point)", _EXPORT_FIX)
        return None
    return np.asarray(values, dtype=np.float64).reshape(k, 3)


def _has_content(path: Path, images: int, skeletons: int, issues: SourceIssues) -> bool:
    if not images:
        issues.add(path, "the export holds no images", "export a task (or project) that has images")
    elif not skeletons:
        issues.add(
            path,
            f"the export holds no skeletons ({images} image(s))",
            "annotate with a skeleton label, save the job, and export again",
        )
    return bool(images and skeletons)


def _one_keypoint_set(path: Path, sets: dict[str, list[Any]], issues: SourceIssues) -> list[str] | None:
    distinct = {tuple(map(str, points)) for points in sets.values()}
    if len(distinct) > 1:
        listed = ", ".join(f"{label!r} ({len(points)} points)" for label, points in sets.items())
        issues.add(
            path,
            f"skeletons of labels {listed} have different points; posekit trains one keypoint set",
            "export the skeleton labels separately (filter the labels in CVAT)",
        )
        return None
    return list(distinct.pop())


def _skeleton_pairs(pairs: Any, k: int, tally: Tally) -> list[tuple[int, int]]:
    """0-based pairs from CVAT's (1-based node ids; 0-based in some exports); out-of-range ones dropped."""
    pairs = pairs if isinstance(pairs, list) else []
    valid = [p for p in pairs if isinstance(p, list) and len(p) == 2 and all(isinstance(v, int) for v in p)]
    base = 0 if any(0 in p for p in valid) else 1
    kept = [(a - base, b - base) for a, b in valid if 0 <= a - base < k and 0 <= b - base < k]
    tally["skeleton edge(s) naming points that do not exist dropped"] += len(pairs) - len(kept)
    return kept


# ---------------------------------------------------------------------------------------------- CVAT XML
def _read_xml(path: Path, images: Path | None, issues: SourceIssues, tally: Tally) -> CocoSplit | None:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        line, column = error.position
        issues.add(
            f"{path}:{line}", f"malformed XML at column {column}: {error}", "repair the file or export again"
        )
        return None
    if root.tag != "annotations" or root.find("track") is not None:
        problem = "holds tracks (CVAT for video)" if root.tag == "annotations" else "is not a CVAT XML export"
        issues.add(path, problem, "export as 'CVAT for images 1.1' (it splits tracks into frames)")
        return None
    layouts = _skeleton_labels(root, tally)
    image_elements = root.findall("image")
    skeletons = [s for image in image_elements for s in image.findall("skeleton")]
    known = [s for s in skeletons if s.get("label") in layouts]
    tally["skeleton(s) of labels missing from <meta> dropped"] += len(skeletons) - len(known)
    if not _has_content(path, len(image_elements), len(known), issues):
        return None
    used = sorted({s.get("label") for s in known}, key=list(layouts).index)
    names = _one_keypoint_set(path, {label: layouts[label][0] for label in used}, issues)
    if names is None:
        return None
    category = {label: i for i, label in enumerate(used, 1)}
    categories = [coco_category(category[label], label, names, layouts[used[0]][1]) for label in used]
    split = CocoSplit({"images": [], "annotations": [], "categories": categories}, Path(), str(path))
    for image_id, element in enumerate(image_elements, 1):
        width, height = (_number(element.get(side)) for side in ("width", "height"))
        name = element.get("name") or ""
        split.coco["images"].append({"id": image_id, "file_name": name, "width": width, "height": height})
        split.image_origins[image_id] = f"{path}, <image name={name!r}>"
        boxes = {b.get("group_id"): b for b in element.findall("box") if b.get("group_id")}
        for skeleton in element.findall("skeleton"):
            label = skeleton.get("label")
            if label not in category:
                continue
            where = f"{path}, <image name={name!r}> <skeleton label={label!r}>"
            kps = _xml_keypoints(skeleton, names, where, issues)
            if kps is None:
                continue
            box = boxes.get(skeleton.get("group_id")) if skeleton.get("group_id") else None
            bbox = _xml_box(box, where, issues) if box is not None else box_around(kps)
            if bbox is None:
                tally["skeleton(s) with every point outside and no box dropped"] += 1
                continue
            ann_id = len(split.coco["annotations"]) + 1
            split.coco["annotations"].append(coco_person(ann_id, image_id, category[label], bbox, kps))
            split.annotation_origins[ann_id] = where
    names_found = [i["file_name"] for i in split.coco["images"] if i["file_name"]]
    split.image_root = images or find_image_root([path.parent / "images", path.parent], names_found)
    return split


def _skeleton_labels(root: ET.Element, tally: Tally) -> dict[str, tuple[list[str], list[tuple[int, int]]]]:
    """Skeleton label -> (point labels in order, 0-based edges), from <meta> (a task's or a project's). A
    drawing (``<svg>``) that is not XML gives no edges, and the order of the labels (counted as lost)."""
    labels = root.findall("./meta//labels/label")
    layouts = {}
    for label in labels:
        if label.findtext("type") != "skeleton":
            continue
        name = label.findtext("name") or ""
        points = [child.findtext("name") or "" for child in labels if child.findtext("parent") == name]
        edges: list[tuple[int, int]] = []
        svg = label.findtext("svg")
        try:
            drawing = ET.fromstring(f"<svg>{svg}</svg>") if svg else None
        except ET.ParseError:
            tally[f"malformed <svg> drawing(s) of skeleton {name!r}: its edges dropped"] += 1
            drawing = None
        if drawing is not None:
            circles = [(c.get("data-node-id"), c.get("data-label-name")) for c in drawing.iter("circle")]
            if circles and all(n is not None for _, n in circles):
                points = [str(n) for _, n in circles]
            position = {node: i for i, (node, _) in enumerate(circles)}
            for line in drawing.iter("line"):
                a, b = position.get(line.get("data-node-from")), position.get(line.get("data-node-to"))
                if a is not None and b is not None:
                    edges.append((a, b))
        if points:
            layouts[name] = (points, edges)
    return layouts


def _xml_keypoints(
    skeleton: ET.Element, names: list[str], where: str, issues: SourceIssues
) -> np.ndarray | None:
    kps = np.zeros((len(names), 3))
    index = {n: i for i, n in enumerate(names)}
    for point in skeleton.findall("points"):
        i = index.get(point.get("label") or "")
        xy = (point.get("points") or "").split(",")
        if i is None or len(xy) != 2:
            issues.add(
                where,
                f"<points label={point.get('label')!r} points={point.get('points')!r}> is not a point "
                "of the skeleton",
                _EXPORT_FIX,
            )
            return None
        try:
            kps[i, :2] = [float(xy[0]), float(xy[1])]
        except ValueError:
            issues.add(where, f"points={point.get('points')!r} is not 'x,y'", _EXPORT_FIX)
            return None
        kps[i, 2] = 0 if point.get("outside") == "1" else 1 if point.get("occluded") == "1" else 2
    return kps


def _xml_box(box: ET.Element, where: str, issues: SourceIssues) -> list[float] | None:
    try:
        x0, y0, x1, y1 = (float(box.get(k) or "") for k in ("xtl", "ytl", "xbr", "ybr"))
    except ValueError:
        issues.add(where, "its grouped <box> has no numeric xtl, ytl, xbr, ybr", _EXPORT_FIX)
        return None
    return [x0, y0, x1 - x0, y1 - y0]


def _number(text: str | None) -> Any:
    """An attribute as a number (int when whole), or the text itself, which posekit's validator reports."""
    try:
        value = float(text or "")
    except ValueError:
        return text
    return int(value) if value.is_integer() else value
