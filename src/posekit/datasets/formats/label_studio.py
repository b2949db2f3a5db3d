"""Label Studio JSON exports of keypoint tasks read into COCO.

What Label Studio writes (its docs ``guide/task_format``, ``tags/keypointlabels``, ``guide/export``; the
SDK converter ``label_studio_sdk/converter/keypoints.py`` and its test data ``data_keypoints.json``): a
list of tasks, each with ``data`` (the image URL under the key the ``<Image value="$image">`` tag names),
``annotations`` (one per annotator; ``was_cancelled`` for skipped ones, ``ground_truth`` for the
reference) and ``predictions`` (model output). An annotation's ``result`` holds regions:
``keypointlabels`` (``value.x``/``value.y`` in **percent** of the image size, ``original_width`` /
``original_height`` in pixels, the label in ``value.keypointlabels``), ``rectanglelabels`` (x, y, width,
height in percent, ``rotation`` in degrees around the top-left corner) and ``relation`` links. A keypoint
drawn inside a selected box carries ``parentID`` = the box's ``id``. The keypoint order is not in the
export: the labelling config gives it, by the ``model_index`` attribute of each ``<Label>`` of
``<KeyPointLabels>`` (as Label Studio's own COCO/YOLO export requires).

Here: per task, the ground-truth annotation, else the latest updated one (cancelled ones skipped; tasks
with only predictions are skipped: model output is not a label). People: each box with the keypoints
linked to it (``parentID``, else a relation, else the one box that contains the point); without any box
in an annotation, all its keypoints are one person in their tight box. Keypoint order: ``--label-config``;
else a preset's when every name is one of its keypoints (COCO-17 ...); else alphabetical (said so).
Label Studio has no visibility: every placed point is v=2. Image files: the URL's file name (``?d=``
paths of local storage are tried first; the 8-character prefix Label Studio gives uploads is dropped when
the file is not found with it), under ``--images`` (default: the export's folder or its ``images/``).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

from posekit.datasets.formats.common import (
    CocoConversion,
    CocoSplit,
    SourceIssues,
    Tally,
    box_around,
    coco_category,
    coco_person,
    image_size,
)
from posekit.datasets.image_root import find_image_root
from posekit.datasets.json_file import read_json
from posekit.datasets.schema import PRESETS, get_preset
from posekit.errors import ConfigError

_FMT = "Label Studio"
_EXPORT_FIX = "export the project as 'JSON' (not JSON-MIN or CSV) from Label Studio"
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")
_LOST = [
    "visibility (Label Studio has none: every placed keypoint is v=2)",
    "other annotators' annotations of the same task, and predictions",
]


def read(src: Path, images: Path | None, label_config: Path | None) -> CocoConversion:
    """Read a Label Studio JSON export (``label_config``: the project's labelling config XML)."""
    issues, tally = SourceIssues(src, _FMT), Tally()
    raw, problem = read_json(src)
    if problem is not None:
        issues.add(src, *problem)
        issues.raise_if_any()
    tasks = [raw] if isinstance(raw, dict) else raw
    if (
        not isinstance(tasks, list)
        or not tasks
        or not all(isinstance(t, dict) and "data" in t for t in tasks)
    ):
        issues.add(src, "is not a Label Studio JSON export (a list of tasks with 'data')", _EXPORT_FIX)
        issues.raise_if_any()
    order, image_key = _label_config(label_config) if label_config is not None else (None, None)
    chosen = [(task, _annotation(task, tally)) for task in tasks]
    labelled = [(task, ann) for task, ann in chosen if ann is not None]
    if not labelled:
        issues.add(
            src, f"none of the {len(tasks)} task(s) has an annotation", "annotate the tasks, then export"
        )
        issues.raise_if_any()
    names, note = _keypoint_names(order, labelled)
    if not names:
        issues.add(
            src, "no keypoint (keypointlabels) in the annotations", "label keypoints with <KeyPointLabels>"
        )
        issues.raise_if_any()
    files = [_image_names(_image_url(task, image_key, src, issues)) for task, _ in labelled]
    root = images or find_image_root([src.parent, src.parent / "images"], [f[-1] for f in files])
    split = CocoSplit({"images": [], "annotations": [], "categories": []}, root, str(src))
    categories: dict[str, int] = {}
    for (task, ann), candidates in zip(labelled, files, strict=True):
        _task(task, ann, candidates, names, split, categories, issues, tally)
    issues.raise_if_any()
    split.coco["categories"] = [
        coco_category(i, label, names, _skeleton(names)) for label, i in categories.items()
    ]
    if not split.coco["categories"]:
        split.coco["categories"] = [coco_category(1, "person", names, _skeleton(names))]
    return CocoConversion({"train": split, "val": split}, None, _LOST, [note, *tally.lines()])


def _annotation(task: dict[str, Any], tally: Tally) -> dict[str, Any] | None:
    """The ground-truth annotation, else the latest updated one; None when all are cancelled or none."""
    anns = task.get("annotations") or task.get("completions") or []
    valid = (
        [a for a in anns if isinstance(a, dict) and not a.get("was_cancelled")]
        if isinstance(anns, list)
        else []
    )
    if not valid:
        what = "only predictions (model output)" if task.get("predictions") else "no annotation"
        tally[f"task(s) with {what} skipped"] += 1
        return None
    if len(valid) > 1:
        tally["task(s) annotated several times: the ground-truth annotation used, else the latest"] += 1
    return max(
        enumerate(valid),
        key=lambda ia: (
            bool(ia[1].get("ground_truth")),
            str(ia[1].get("updated_at") or ia[1].get("created_at") or ""),
            ia[0],
        ),
    )[1]


def _label_config(path: Path) -> tuple[list[str], str | None]:
    """Keypoint names in ``model_index`` order (else document order) and the image's data key."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as error:
        raise ConfigError(f"--label-config {path} cannot be read as XML ({error})") from None
    tags = [e for e in root.iter() if e.tag.lower() == "keypointlabels"]
    labels = [
        (label.get("value"), label.get("model_index"))
        for tag in tags
        for label in tag
        if label.tag.lower() == "label"
    ]
    if not labels or any(value is None for value, _ in labels):
        raise ConfigError(f"--label-config {path} has no <KeyPointLabels> with <Label value=...> children")
    if all(index is not None for _, index in labels):
        labels = sorted(labels, key=lambda label: int(label[1]))
    elif any(index is not None for _, index in labels):
        raise ConfigError(f"--label-config {path}: give every keypoint <Label> a model_index, or none")
    image = next((e.get("value") for e in root.iter() if e.tag.lower() == "image" and e.get("value")), None)
    key = image[1:] if image and image.startswith("$") else None
    return [str(value) for value, _ in labels], key


def _keypoint_names(order: list[str] | None, labelled: list[tuple[dict, dict]]) -> tuple[list[str], str]:
    if order is not None:
        return order, "keypoint order from the label config"
    used = set()
    for _, ann in labelled:
        for result in _results(ann):
            if str(result.get("type", "")).lower() == "keypointlabels":
                used.update(map(str, (result.get("value") or {}).get("keypointlabels") or []))
    for preset in PRESETS:
        names = list(get_preset(preset).names)
        if used and used <= set(names):
            return names, f"keypoint order: the {preset} preset's (every keypoint name is one of its)"
    return sorted(used), "keypoint order alphabetical: pass --label-config (model_index gives the order)"


def _skeleton(names: list[str]) -> list[tuple[int, int]]:
    for preset in PRESETS:
        schema = get_preset(preset)
        if list(schema.names) == names:
            return list(schema.skeleton)
    return []


def _results(ann: dict[str, Any]) -> list[dict[str, Any]]:
    """The regions of an annotation (malformed ones, not objects or with a non-object value, skipped)."""
    results = ann.get("result")
    return (
        [r for r in results if isinstance(r, dict) and isinstance(r.get("value", {}), dict)]
        if isinstance(results, list)
        else []
    )


def _image_url(task: dict[str, Any], key: str | None, src: Path, issues: SourceIssues) -> str:
    """The image URL of a task: ``data[key]`` (the label config's ``$key``; default "image", else the
    first text value)."""
    data = task["data"] if isinstance(task["data"], dict) else {}
    if key is None:
        key = "image" if "image" in data else next((k for k, v in data.items() if isinstance(v, str)), None)
    url = data.get(key) if key else None
    if not isinstance(url, str) or not url:
        issues.add(
            f"{src}, task {task.get('id')}", f"data has no image URL under {key!r}", "pass --label-config"
        )
        return ""
    return url


def _image_names(url: str) -> list[str]:
    """File names to try for an image URL, most specific first."""
    parsed = urlparse(url)
    local = parse_qs(parsed.query).get("d")
    if local:
        path = unquote(local[0])
        return [path, Path(path).name]
    name = Path(unquote(parsed.path)).name
    stripped = _UPLOAD_PREFIX.sub("", name)
    return [name, stripped] if stripped != name else [name]


def _task(
    task: dict[str, Any],
    ann: dict[str, Any],
    candidates: list[str],
    names: list[str],
    split: CocoSplit,
    categories: dict[str, int],
    issues: SourceIssues,
    tally: Tally,
) -> None:
    where = f"{split.source}, task {task.get('id')}"
    results = _results(ann)
    file_name = next((n for n in candidates if (split.image_root / n).is_file()), candidates[-1])
    size = _size(results, split.image_root / file_name)
    if size is None:
        tally["task(s) skipped: image not found and no region giving its size"] += 1
        return
    width, height = size
    image_id = len(split.coco["images"]) + 1
    split.coco["images"].append({"id": image_id, "file_name": file_name, "width": width, "height": height})
    split.image_origins[image_id] = where
    rotated = [r for r in results if r.get("image_rotation")]
    tally["region(s) on rotated images skipped (image_rotation)"] += len(rotated)
    results = [r for r in results if not r.get("image_rotation")]
    boxes = {_ref(r, "id"): r for r in results if str(r.get("type", "")).lower() == "rectanglelabels"}
    points = [r for r in results if str(r.get("type", "")).lower() == "keypointlabels"]
    groups = _group(points, boxes, results, width, height, tally)
    for box_id, members in groups.items():
        kps = np.zeros((len(names), 3))
        for point in members:
            _place(point, names, kps, width, height, f"{where}, result {point.get('id')}", issues, tally)
        box = boxes.get(box_id)
        bbox = _box(box, width, height) if box is not None else box_around(kps)
        if bbox is None:
            continue
        label = str((((box or {}).get("value") or {}).get("rectanglelabels") or ["person"])[0])
        category = categories.setdefault(label, len(categories) + 1)
        ann_id = len(split.coco["annotations"]) + 1
        split.coco["annotations"].append(coco_person(ann_id, image_id, category, bbox, kps))
        split.annotation_origins[ann_id] = f"{where}, region {box_id}" if box_id else where


def _size(results: list[dict[str, Any]], image: Path) -> tuple[int, int] | None:
    for result in results:
        w, h = result.get("original_width"), result.get("original_height")
        if isinstance(w, (int, float)) and isinstance(h, (int, float)) and 0 < w < 2**31 and 0 < h < 2**31:
            return int(w), int(h)  # (the bounds also refuse NaN and infinity)
    try:
        return image_size(image)
    except OSError:
        return None


def _group(
    points: list[dict[str, Any]],
    boxes: dict[Any, dict[str, Any]],
    results: list[dict[str, Any]],
    width: int,
    height: int,
    tally: Tally,
) -> dict[Any, list[dict[str, Any]]]:
    """Box id -> its keypoints (every box, even one without); None -> the points of a box-less annotation."""
    related: dict[Any, Any] = {}
    for r in results:
        if str(r.get("type", "")).lower() == "relation":
            a, b = _ref(r, "from_id"), _ref(r, "to_id")
            if b in boxes and a not in boxes:
                related[a] = b
            elif a in boxes and b not in boxes:
                related[b] = a
    groups: dict[Any, list[dict[str, Any]]] = {box_id: [] for box_id in boxes}
    for point in points:
        parent = (
            _ref(point, "parentID") if _ref(point, "parentID") in boxes else related.get(_ref(point, "id"))
        )
        if parent is None and boxes:
            xy = _xy(point, width, height)
            inside = [
                i for i, box in boxes.items() if xy is not None and _contains(_box(box, width, height), xy)
            ]
            parent = inside[0] if len(inside) == 1 else None
            if parent is None:
                tally["keypoint(s) not linked to one box dropped (draw them inside their selected box)"] += 1
                continue
        groups.setdefault(parent, []).append(point)
    return groups


def _place(
    point: dict[str, Any],
    names: list[str],
    kps: np.ndarray,
    width: int,
    height: int,
    where: str,
    issues: SourceIssues,
    tally: Tally,
) -> None:
    xy = _xy(point, width, height)
    labels = (point.get("value") or {}).get("keypointlabels") or []
    if xy is None:
        issues.add(where, "a keypoint without numeric value.x / value.y", _EXPORT_FIX)
    elif not labels or str(labels[0]) not in names:
        tally["keypoint(s) whose label is not in the keypoint list dropped"] += 1
    elif kps[names.index(str(labels[0])), 2] > 0:
        tally["keypoint(s) placed twice on one person: the first kept"] += 1
    else:
        kps[names.index(str(labels[0]))] = [xy[0], xy[1], 2]


def _xy(point: dict[str, Any], width: int, height: int) -> tuple[float, float] | None:
    value = point.get("value") or {}
    x, y = value.get("x"), value.get("y")
    if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
        return None
    return x / 100 * width, y / 100 * height


def _box(box: dict[str, Any], width: int, height: int) -> list[float] | None:
    """A rectangle region in pixels; a rotated one (around its top-left corner) as its axis-aligned hull."""
    value = box.get("value") or {}
    x, y, w, h = (value.get(k) for k in ("x", "y", "width", "height"))
    if not all(isinstance(v, (int, float)) for v in (x, y, w, h)):
        return None
    x, y, w, h = x / 100 * width, y / 100 * height, w / 100 * width, h / 100 * height
    rotation = value.get("rotation") or 0
    if not isinstance(rotation, (int, float)):
        return None
    angle = math.radians(rotation)
    if angle:
        c, s = math.cos(angle), math.sin(angle)
        corners = [(x + dx * c - dy * s, y + dx * s + dy * c) for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        x, y, w, h = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    return [x, y, w, h]


def _ref(result: dict[str, Any], key: str) -> str | int | None:
    """A region id (``id``, ``parentID``, ``from_id``, ``to_id``); None when absent or not a string/number."""
    value = result.get(key)
    return value if isinstance(value, (str, int)) else None


def _contains(box: list[float] | None, xy: tuple[float, float]) -> bool:
    return box is not None and box[0] <= xy[0] <= box[0] + box[2] and box[1] <= xy[1] <= box[1] + box[3]
