"""``PoseResult``: the people found in one image or video frame, with drawing and JSON export."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.results_file import to_coco_results
from posekit.datasets.schema import KeypointSchema


@dataclass
class PoseResult:
    """People in one image/frame. Boxes are COCO ``xywh`` in image pixels; points are (x, y) pixels.

    ``keypoint_scores`` are the heatmap maxima; ``visible`` marks the joints at or above their
    confidence threshold (the others are still reported, flagged invisible and not drawn).
    ``scores`` is the instance score: box score x mean keypoint score above 0.2 (the COCO protocol).
    ``file`` and ``frame`` trace the result to its input: the image or video relative to the source given
    (None for arrays) and the frame in it (0 for a still image); ``index`` counts frames across the whole
    input. ``flip_gap``: with the flip test, half the distance (pixels) between its two looks' keypoints
    (:meth:`~posekit.topdown.processor.TopDownProcessor.flip_gap`), else None; :mod:`posekit.analysis`
    turns it into the keypoints' uncertainty. ``track_ids`` are ``-1`` when tracking is off (or the
    person is not yet tracked). With smoothing,
    ``keypoints`` are smoothed and ``raw_keypoints`` hold the model's output. ``latency``: seconds from a
    live source's capture of the frame to this result.
    """

    image: np.ndarray  # RGB uint8 (H, W, 3)
    name: str
    image_id: int
    index: int
    schema: KeypointSchema
    boxes: np.ndarray  # (N, 4) xywh
    box_scores: np.ndarray  # (N,)
    keypoints: np.ndarray  # (N, K, 2)
    keypoint_scores: np.ndarray  # (N, K)
    scores: np.ndarray  # (N,)
    visible: np.ndarray  # (N, K) bool
    track_ids: np.ndarray  # (N,) int
    path: Path | None = None
    raw_keypoints: np.ndarray | None = None
    latency: float | None = None
    file: str | None = None
    frame: int = 0
    flip_gap: np.ndarray | None = None  # (N, K)

    def __len__(self) -> int:
        return len(self.boxes)

    def subset(self, keep: np.ndarray) -> PoseResult:
        """The same frame with only the people ``keep`` selects (a mask or indices)."""
        names = ("boxes", "box_scores", "keypoints", "keypoint_scores", "scores", "visible", "track_ids")
        people = {name: getattr(self, name)[keep] for name in names}
        raw = None if self.raw_keypoints is None else self.raw_keypoints[keep]
        gap = None if self.flip_gap is None else self.flip_gap[keep]
        return replace(self, **people, raw_keypoints=raw, flip_gap=gap)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the image."""
        return self.image.shape[0], self.image.shape[1]

    def plot(self, boxes: bool = True, track_ids: bool = True, radius: int | None = None) -> np.ndarray:
        """A copy of the image with skeletons (visible joints only), boxes and track ids drawn (RGB)."""
        from posekit.viz.draw import draw_pose

        # Tracked people are labelled with their id, the others (untracked or not yet confirmed) are not.
        canvas = self.image
        for part, ids in ((self.track_ids < 0, None), (self.track_ids >= 0, self.track_ids)):
            if part.any() or (ids is None and len(self) == 0):
                canvas = draw_pose(
                    canvas,
                    self.keypoints[part],
                    self.visible[part].astype(np.float32),  # per-joint thresholds applied: draw the visible
                    self.schema,
                    conf=0.5,
                    boxes=self.boxes[part] if boxes else None,
                    track_ids=ids[part] if track_ids and ids is not None else None,
                    radius=radius,
                )
        return canvas.copy() if canvas is self.image else canvas

    def save(self, path: str | Path) -> Path:
        """Write :meth:`plot` to an image file (format from the suffix), atomically."""
        from posekit.fileio import write_image

        return write_image(path, self.plot())

    def to_coco(self, category_id: int = 1) -> list[dict[str, Any]]:
        """COCO keypoint results (``[x, y, score] * K``, ``score``), ``bbox``, ``track_id`` when tracked, and
        the ``file`` and ``frame`` they come from (extra fields, which COCO tools ignore)."""
        entries = to_coco_results(
            np.full(len(self), self.image_id), self.keypoints, self.keypoint_scores, self.scores, category_id
        )
        for entry, box, track in zip(entries, self.boxes, self.track_ids, strict=True):
            entry["bbox"] = [round(float(v), 2) for v in box]
            if track >= 0:
                entry["track_id"] = int(track)
            entry.update(file=self.file, frame=self.frame)
        return entries

    def to_dict(self) -> dict[str, Any]:
        """Everything about this frame as plain JSON types (keypoints by name: ``[x, y, score, visible]``,
        and the flip test's :attr:`flip_gap` fifth where it ran)."""
        names = self.schema.names
        people = []
        for i in range(len(self)):
            gap = [] if self.flip_gap is None else [round(float(g), 3) for g in self.flip_gap[i]]
            people.append(
                {
                    "track_id": int(self.track_ids[i]),
                    "box": [round(float(v), 2) for v in self.boxes[i]],
                    "box_score": round(float(self.box_scores[i]), 5),
                    "score": round(float(self.scores[i]), 5),
                    "keypoints": {
                        name: [
                            round(float(self.keypoints[i, k, 0]), 2),
                            round(float(self.keypoints[i, k, 1]), 2),
                            round(float(self.keypoint_scores[i, k]), 5),
                            bool(self.visible[i, k]),
                            *gap[k : k + 1],
                        ]
                        for k, name in enumerate(names)
                    },
                }
            )
        height, width = self.size
        return {
            "image_id": self.image_id,
            "file": self.file,
            "frame": self.frame,
            "name": self.name,
            "height": height,
            "width": width,
            "people": people,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as one line of JSON (``x, y, score, visible[, flip gap]`` per keypoint) — one JSONL
        record."""
        from posekit.fileio import json_text

        return json_text(self.to_dict(), separators=(",", ":"))
