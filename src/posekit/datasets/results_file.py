"""COCO result files, validated entry by entry: person boxes in (detection results
``[{image_id, bbox, score, category_id?}]``) and keypoints out
(``[{image_id, category_id, keypoints [x, y, score]*K, score}]``)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.json_file import is_int64, load_json
from posekit.errors import PosekitError

_MAX_LISTED = 10


@dataclass
class Detections:
    """Boxes kept from a detections file, and how many entries were dropped and why."""

    path: Path
    boxes: list[dict[str, Any]]  # {"image_id", "bbox" [x, y, w, h], "score", "category_id"}
    num_entries: int
    num_other_category: int = 0
    num_below_threshold: int = 0
    num_degenerate: int = 0
    num_unknown_image: int = 0
    score_threshold: float = 0.0
    category_id: int | None = None
    unknown_image_ids: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What ``metrics.json`` records as the box source."""
        return {
            "source": "detections",
            "file": str(self.path),
            "entries": self.num_entries,
            "boxes_used": len(self.boxes),
            "score_threshold": self.score_threshold,
            "category_id": self.category_id,
            "dropped_other_category": self.num_other_category,
            "dropped_below_threshold": self.num_below_threshold,
            "dropped_degenerate": self.num_degenerate,
            "dropped_unknown_image": self.num_unknown_image,
        }


def load_detections(
    path: str | Path,
    image_ids: Collection[int] | None = None,
    category_id: int | None = 1,
    score_threshold: float = 0.0,
) -> Detections:
    """Read and validate a COCO detection-results JSON.

    Entries of another ``category_id`` (when the entry has one) are dropped, as are boxes scoring
    below ``score_threshold`` (0 keeps all, as the COCO AP protocol wants), boxes with a zero or
    negative size, and boxes of images not in ``image_ids`` (counted and warned about). Malformed
    entries raise :class:`PosekitError` naming the file, the entry index and the field.
    """
    path = Path(path)
    entries = _read_list(path, "detections", "[{image_id, bbox, score}, ...]")
    known = None if image_ids is None else set(image_ids)
    result = Detections(path, [], len(entries), score_threshold=score_threshold, category_id=category_id)
    problems: list[str] = []
    unknown: set[int] = set()
    for index, entry in enumerate(entries):
        box, problem = _parse_detection(entry)
        if problem:
            problems.append(f"entry {index}: {problem}")
            continue
        if category_id is not None and box["category_id"] not in (None, category_id):
            result.num_other_category += 1
        elif box["score"] < score_threshold:
            result.num_below_threshold += 1
        elif box["bbox"][2] <= 0 or box["bbox"][3] <= 0:
            result.num_degenerate += 1
        elif known is not None and box["image_id"] not in known:
            result.num_unknown_image += 1
            unknown.add(box["image_id"])
        else:
            box["category_id"] = category_id if category_id is not None else (box["category_id"] or 1)
            result.boxes.append(box)
    _raise_problems(
        path,
        problems,
        "detection(s)",
        'Each entry must be {"image_id": int, "bbox": [x, y, width, height], "score": float, '
        '"category_id": int (optional)} (COCO detection-results format).',
    )
    result.unknown_image_ids = sorted(unknown)
    if result.num_unknown_image:
        shown = ", ".join(map(str, result.unknown_image_ids[:_MAX_LISTED]))
        warnings.warn(
            f"{path}: {result.num_unknown_image} detection(s) on {len(unknown)} image id(s) not in the data "
            f"set were ignored (e.g. {shown}); check that the detections belong to this split.",
            stacklevel=2,
        )
    if not result.boxes and entries:
        raise PosekitError(
            f"{path}: none of the {len(entries)} detections is usable (other category: "
            f"{result.num_other_category}, score below {score_threshold}: {result.num_below_threshold}, "
            f"empty box: {result.num_degenerate}, unknown image: {result.num_unknown_image}). Check the "
            f"category id ({category_id}), the score threshold and that the file belongs to this data set."
        )
    return result


def annotation_boxes(
    path: str | Path, data: dict[str, Any], category_id: int = 1
) -> dict[str, list[list[float]]]:
    """The people's boxes ``[x, y, w, h, 1.0]`` of a COCO annotations file (``data``, read from ``path``) by
    image ``file_name``: crowd regions, other categories and empty boxes are skipped. Malformed records
    raise one :class:`PosekitError` naming the file, the record and the field."""
    path = Path(path)
    images, annotations = data.get("images"), data.get("annotations")
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise PosekitError(f"{path}: 'images' and 'annotations' must be lists (COCO annotations format)")
    names: dict[int, str] = {}
    problems: list[str] = []
    for index, image in enumerate(images):
        if (
            not isinstance(image, dict)
            or not _is_int(image.get("id"))
            or not isinstance(image.get("file_name"), str)
        ):
            problems.append(f"images[{index}]: expected an object with an integer 'id' and a 'file_name'")
        else:
            names[int(image["id"])] = image["file_name"]
    table: dict[str, list[list[float]]] = {}
    for index, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            problems.append(f"annotations[{index}]: expected an object, got {type(ann).__name__}")
            continue
        if ann.get("iscrowd") or ann.get("category_id", category_id) != category_id:
            continue
        image_id, bbox = ann.get("image_id"), ann.get("bbox")
        if not _is_int(image_id) or int(image_id) not in names:
            problems.append(f"annotations[{index}]: 'image_id' {image_id!r} is not an image of 'images'")
        elif not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_finite(v) for v in bbox)):
            problems.append(
                f"annotations[{index}]: 'bbox' must be 4 finite numbers [x, y, w, h], got {bbox!r}"
            )
        elif bbox[2] > 0 and bbox[3] > 0:
            table.setdefault(names[int(image_id)], []).append([*map(float, bbox), 1.0])
    _raise_problems(
        path,
        problems,
        "record(s)",
        'Images must be {"id": int, "file_name": str}, annotations {"image_id": int, "bbox": [x, y, w, h]} '
        "(COCO annotations format).",
    )
    return table


def to_coco_results(
    image_ids: np.ndarray,
    keypoints: np.ndarray,
    keypoint_scores: np.ndarray,
    scores: np.ndarray,
    category_id: int = 1,
) -> list[dict[str, Any]]:
    """COCO results from ids ``(N,)``, points ``(N, K, 2)``, keypoint scores ``(N, K)``, scores ``(N,)``."""
    flat = np.concatenate(
        [np.asarray(keypoints, np.float64), np.asarray(keypoint_scores, np.float64)[..., None]], -1
    )
    return [
        {
            "image_id": int(image_id),
            "category_id": int(category_id),
            "keypoints": [round(float(v), 3) for v in points.reshape(-1)],
            "score": float(score),
        }
        for image_id, points, score in zip(image_ids, flat, scores, strict=True)
    ]


def load_results(
    path: str | Path, num_keypoints: int, image_ids: Collection[int], category_id: int = 1
) -> list[dict[str, Any]]:
    """Read a COCO keypoint results file and check every entry against the data set.

    Raises :class:`PosekitError` naming the file, the entry index and the field of each bad entry
    (first ten), including results for images that are not in the data set (pycocotools refuses them).
    """
    path = Path(path)
    entries = _read_list(path, "keypoint results", "[{image_id, category_id, keypoints, score}, ...]")
    known = set(image_ids)
    results, problems = [], []
    for index, entry in enumerate(entries):
        result, problem = _parse_result(entry, num_keypoints, known, category_id)
        if problem:
            problems.append(f"entry {index}: {problem}")
        else:
            results.append(result)
    _raise_problems(
        path,
        problems,
        "result(s)",
        f'Each entry must be {{"image_id": int (an image of the data set), "category_id": {category_id}, '
        f'"keypoints": [x, y, score] * {num_keypoints}, "score": float}} (COCO keypoint results format).',
    )
    return results


def _parse_result(
    entry: Any, num_keypoints: int, known: set[int], category_id: int
) -> tuple[dict[str, Any], str | None]:
    if not isinstance(entry, dict):
        return {}, f"expected an object, got {type(entry).__name__}"
    image_id = entry.get("image_id")
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        return {}, f"field 'image_id' must be an integer, got {image_id!r}"
    if image_id not in known:
        return {}, f"field 'image_id' {image_id} is not an image of the data set"
    keypoints = entry.get("keypoints")
    if not isinstance(keypoints, list) or len(keypoints) != 3 * num_keypoints:
        size = len(keypoints) if isinstance(keypoints, list) else type(keypoints).__name__
        return {}, (
            f"(image_id {image_id}) field 'keypoints' must be a list of {3 * num_keypoints} numbers "
            f"([x, y, score] for {num_keypoints} keypoints), got {size}"
        )
    if not all(_is_finite(v) for v in keypoints):
        return {}, f"(image_id {image_id}) field 'keypoints' holds a value that is not a finite number"
    score = entry.get("score")
    if not _is_finite(score):
        return {}, f"(image_id {image_id}) field 'score' must be a finite number, got {score!r}"
    category = entry.get("category_id", category_id)
    if category != category_id or isinstance(category, bool):
        return {}, f"(image_id {image_id}) 'category_id' is {category!r}, the data set's is {category_id}"
    return {
        "image_id": image_id,
        "category_id": category_id,
        "keypoints": [float(v) for v in keypoints],
        "score": float(score),
        **({"track_id": entry["track_id"]} if "track_id" in entry else {}),  # video metrics check it
    }, None


def _read_list(path: Path, what: str, shape: str) -> list[Any]:
    data = load_json(path, f"{what} file", PosekitError)
    if not isinstance(data, list):
        raise PosekitError(f"{path}: expected a JSON list of {what} {shape}, got a {type(data).__name__}")
    return data


def _raise_problems(path: Path, problems: list[str], what: str, expected: str) -> None:
    if problems:
        listed = "\n  ".join(problems[:_MAX_LISTED])
        more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise PosekitError(f"{path}: {len(problems)} invalid {what}:\n  {listed}{more}\n{expected}")


def _parse_detection(entry: Any) -> tuple[dict[str, Any], str | None]:
    """The normalised box, or a message saying which field is wrong."""
    if not isinstance(entry, dict):
        return {}, f"expected an object, got {type(entry).__name__}"
    image_id = entry.get("image_id")
    if not _is_int(image_id):
        return {}, f"field 'image_id' must be an integer, got {image_id!r}"
    bbox = entry.get("bbox")
    if not (isinstance(bbox, list | tuple) and len(bbox) == 4 and all(_is_finite(v) for v in bbox)):
        return {}, f"(image_id {image_id}) field 'bbox' must be 4 finite numbers [x, y, w, h], got {bbox!r}"
    score = entry.get("score")
    if not _is_finite(score):
        return {}, f"(image_id {image_id}) field 'score' must be a finite number, got {score!r}"
    category = entry.get("category_id")
    if category is not None and not _is_int(category):
        return {}, f"(image_id {image_id}) field 'category_id' must be an integer, got {category!r}"
    return {
        "image_id": int(image_id),
        "bbox": [float(v) for v in bbox],
        "score": float(score),
        "category_id": None if category is None else int(category),
    }, None


_is_int = is_int64  # ids: integral and within 64 bits (1e19 is not an id)


def _is_finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
