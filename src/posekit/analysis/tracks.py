"""Keypoint tracks: every person's keypoints over the frames of one prediction run, as arrays.

The one reader of prediction results (:func:`read_predictions` for a predict run's files,
:func:`tracks_from_frames` for the per-frame records ``PoseResult.to_dict()`` gives): a change of their
format lands here. People with a track id keep it; untracked people (still images, videos predicted
without ``--track``) get one track per position in the frame's list, ``track_id`` -1 - position.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.schema import standard_layout
from posekit.errors import DataError


@dataclass
class Tracks:
    """People (P) over frames (T) with K named keypoints; NaN where a person is absent."""

    names: list[str]  # keypoint names (K)
    files: list[str]  # source file (image or video) per frame (T)
    frames: np.ndarray  # (T,) frame index in its file (0 for still images)
    fps: float | None  # None for still images
    sizes: np.ndarray  # (T, 2) image (height, width)
    track_ids: np.ndarray  # (P,)
    xy: np.ndarray  # (P, T, K, 2) pixels
    scores: np.ndarray  # (P, T, K)
    visible: np.ndarray  # (P, T, K) bool
    boxes: np.ndarray  # (P, T, 4) xywh
    flip_gaps: np.ndarray  # (P, T, K) the flip test's looks' gap, pixels (NaN where it did not run)

    @property
    def times(self) -> np.ndarray:
        """Seconds of each frame (frame index / fps); for still images (no fps) their place in the run."""
        return self.frames / self.fps if self.fps else np.arange(len(self.frames), dtype=float)

    def index(self, name: str) -> int:
        """The position of keypoint ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise DataError(
                f"no keypoint named {name!r} in these predictions; they have {', '.join(self.names)}"
            ) from None


def tracks_from_frames(
    frames: Iterable[Mapping[str, Any]], fps: float | None = None, names: list[str] | None = None
) -> Tracks:
    """Tracks from per-frame records: ``{"file", "frame", "name", "height", "width", "people": [{"track_id",
    "box", "keypoints": {name: [x, y, score, visible(, flip gap)]}}]}`` (``PoseResult.to_dict()``, a
    predictions.jsonl line); ``file`` (the source image or video) falls back to ``name``. Given ``fps``,
    still images (each its own file, frame 0) are taken for a video's frames in their order."""
    records = list(frames)
    if not records:
        raise DataError("no frames in these predictions: predict wrote none (an empty source?)")
    names = names or next((list(p["keypoints"]) for r in records for p in r["people"]), None)
    if names is None:
        raise DataError("no person in any frame of these predictions: nothing to analyse")
    ids: list[int] = []
    slots: list[list[tuple[int, Mapping[str, Any]]]] = []
    for record in records:
        people = []
        for position, person in enumerate(record["people"]):
            track = int(person.get("track_id", -1))
            track = track if track >= 0 else -1 - position
            if track not in ids:
                ids.append(track)
            people.append((ids.index(track), person))
        slots.append(people)
    p, t, k = len(ids), len(records), len(names)
    xy, scores = np.full((p, t, k, 2), np.nan), np.full((p, t, k), np.nan)
    visible, boxes, gaps = np.zeros((p, t, k), bool), np.full((p, t, 4), np.nan), np.full((p, t, k), np.nan)
    for frame, people in enumerate(slots):
        for slot, person in people:
            values = np.array([person["keypoints"][n][:5] for n in names], dtype=float)
            xy[slot, frame], scores[slot, frame], visible[slot, frame] = (
                values[:, :2],
                values[:, 2],
                values[:, 3] > 0,
            )
            if values.shape[1] == 5:
                gaps[slot, frame] = values[:, 4]
            boxes[slot, frame] = person.get("box", np.nan)
    files = [str(r.get("file") or r.get("name") or i) for i, r in enumerate(records)]
    frame_ids = np.array([int(r.get("frame", i)) for i, r in enumerate(records)])
    if fps and len(set(files)) == len(files) > 1 and not frame_ids.any():
        frame_ids = np.arange(len(files))  # a video's frames as still images, one file each: in order
    return Tracks(
        names=names,
        files=files,
        frames=frame_ids,
        fps=fps,
        sizes=np.array([[int(r.get("height", 0)), int(r.get("width", 0))] for r in records]),
        track_ids=np.array(ids, dtype=int),
        xy=xy,
        scores=scores,
        visible=visible,
        boxes=boxes,
        flip_gaps=gaps,
    )


def read_predictions(path: str | Path, fps: float | None = None) -> Tracks:
    """Tracks from a predict run folder or one of its files: ``predictions.jsonl`` (one image or video
    frame a line, keypoints by name), ``predictions.json`` (COCO results: frames by image id, keypoint
    names from the standard layout of their count) or a COCO keypoint annotation file (labels analysed
    as predictions: score 1, visible where labelled). ``fps``: frames per second of a video (None:
    still images)."""
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in ("predictions.jsonl", "predictions.json") if (path / n).is_file()]
        if not found:
            raise DataError(f"{path} has no predictions.jsonl or predictions.json: run posekit predict first")
        path = found[0]
    if not path.is_file():
        raise DataError(f"{path} does not exist: give a predict run folder or its predictions file")
    try:
        if path.suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8").splitlines()
            return tracks_from_frames((json.loads(line) for line in lines if line.strip()), fps)
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and "annotations" in document:
            return _from_coco_annotations(document, fps)
        return _from_coco_results(document, fps)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise DataError(
            f"{path} is not a posekit predictions file ({error}); give predict's output"
        ) from None


def _from_coco_results(results: list[dict[str, Any]], fps: float | None) -> Tracks:
    """COCO keypoint results (``image_id``, ``keypoints`` [x, y, score] * K, ``bbox``, ``track_id``, and
    predict's ``file`` and ``frame``): one frame per image id, in id order."""
    if not isinstance(results, list):
        raise TypeError("a COCO results file is a list")
    count = len(results[0]["keypoints"]) // 3 if results else 0
    layout = standard_layout(count)
    names = layout.names if layout is not None else [f"keypoint_{i}" for i in range(count)]
    by_image: dict[int, list[dict[str, Any]]] = {}
    for row in results:
        by_image.setdefault(int(row["image_id"]), []).append(row)
    frames = []
    for image_id in sorted(by_image):
        people = []
        for row in by_image[image_id]:
            points = np.asarray(row["keypoints"], dtype=float).reshape(-1, 3)
            keypoints = {n: [x, y, s, True] for n, (x, y, s) in zip(names, points, strict=True)}
            people.append(
                {"track_id": row.get("track_id", -1), "box": row.get("bbox"), "keypoints": keypoints}
            )
        first = by_image[image_id][0]
        frames.append(
            {"frame": first.get("frame", 0), "file": first.get("file") or str(image_id), "people": people}
        )
    return tracks_from_frames(frames, fps, names)


def _from_coco_annotations(document: dict[str, Any], fps: float | None) -> Tracks:
    """A COCO keypoint file: one frame per image (in id order, named by file), people by ``track_id``."""
    names = list(document["categories"][0]["keypoints"])
    by_image: dict[int, list[dict[str, Any]]] = {int(image["id"]): [] for image in document["images"]}
    for ann in document["annotations"]:
        points = np.asarray(ann["keypoints"], dtype=float).reshape(-1, 3)
        keypoints = {n: [x, y, float(v > 0), bool(v > 0)] for n, (x, y, v) in zip(names, points, strict=True)}
        by_image[int(ann["image_id"])].append(
            {"track_id": ann.get("track_id", -1), "box": ann.get("bbox"), "keypoints": keypoints}
        )
    images = {int(image["id"]): image for image in document["images"]}
    frames = [
        {
            "frame": n,
            "name": images[i]["file_name"],
            "height": images[i]["height"],
            "width": images[i]["width"],
            "people": by_image[i],
        }
        for n, i in enumerate(sorted(by_image))
    ]
    return tracks_from_frames(frames, fps, names)
