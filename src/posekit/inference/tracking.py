"""Track ids across video frames: ByteTrack (``trackers`` package) on detector boxes, OKS matching otherwise.

ByteTrack associates boxes by IoU with Kalman-predicted tracks and recovers low-score boxes; it is
the right tool when boxes come from a detector. When boxes are given or ``full`` (every frame the
same box), boxes carry no identity, so people are matched by the OKS of their keypoints with the
tracks' last keypoints (Hungarian assignment, scipy) — the PoseTrack "pose flow" baseline.

``trackers`` is the optional extra ``posekit[track]``: it requires the GUI build of OpenCV, whose
``cv2`` replaces the headless one and needs libGL, which headless servers and slim containers lack.
Without it, automatic tracking falls back to OKS matching (with one warning).
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Literal, Protocol

import numpy as np
from scipy.optimize import linear_sum_assignment

from posekit.errors import ConfigError
from posekit.metrics.oks import oks

logger = logging.getLogger(__name__)

TrackerKind = Literal["bytetrack", "oks"]
TRACK_EXTRA = 'pip install "posekit[track]"'


class PoseTracker(Protocol):
    def update(
        self, boxes: np.ndarray, box_scores: np.ndarray, keypoints: np.ndarray, keypoint_scores: np.ndarray
    ) -> np.ndarray:
        """Track ids ``(N,)`` (int, ``-1`` = not, or not yet, tracked) for one frame's people."""
        ...


class ByteTracker:
    """ByteTrack on xywh boxes; ids start at 1. A new track gets its id once matched in a second frame
    (``minimum_consecutive_frames``), the library's guard against one-frame false positives."""

    def __init__(
        self,
        fps: float = 30.0,
        lost_track_buffer: int = 30,
        track_activation_threshold: float = 0.5,
        high_conf_det_threshold: float = 0.5,
        minimum_iou_threshold: float = 0.1,
        minimum_consecutive_frames: int = 1,
    ) -> None:
        from trackers import ByteTrackTracker

        self._tracker = ByteTrackTracker(
            lost_track_buffer=lost_track_buffer,
            frame_rate=fps,
            track_activation_threshold=track_activation_threshold,
            minimum_consecutive_frames=minimum_consecutive_frames,
            minimum_iou_threshold=minimum_iou_threshold,
            high_conf_det_threshold=high_conf_det_threshold,
        )

    def update(
        self, boxes: np.ndarray, box_scores: np.ndarray, keypoints: np.ndarray, keypoint_scores: np.ndarray
    ) -> np.ndarray:
        import supervision as sv

        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        detections = sv.Detections(
            xyxy=xyxy(boxes).astype(np.float32),
            confidence=np.asarray(box_scores, np.float32).reshape(-1),
            data={"index": np.arange(len(boxes))},
        )
        tracked = self._tracker.update(detections)
        ids = np.full(len(boxes), -1, dtype=np.int64)
        if len(tracked):
            ids[np.asarray(tracked.data["index"], int)] = np.asarray(tracked.tracker_id, int) + 1
        ids[ids == 0] = -1  # the library's -1 (unconfirmed) shifted by one
        return ids


class OKSTracker:
    """Match people to tracks by keypoint OKS (Hungarian; box IoU when no joint is visible on both
    sides); a match needs a similarity of ``min_oks``; a track unseen for ``max_age`` frames ends."""

    def __init__(
        self, sigmas: np.ndarray, min_oks: float = 0.3, max_age: int = 30, conf: float | np.ndarray = 0.3
    ) -> None:
        self.sigmas = np.asarray(sigmas, np.float64)
        self.min_oks, self.max_age, self.conf = min_oks, max_age, conf
        self._next_id = 1
        self._ids: list[int] = []
        self._keypoints: list[np.ndarray] = []
        self._visible: list[np.ndarray] = []
        self._areas: list[float] = []
        self._boxes: list[np.ndarray] = []
        self._age: list[int] = []

    def update(
        self,
        boxes: np.ndarray,
        box_scores: np.ndarray,
        keypoints: np.ndarray,
        keypoint_scores: np.ndarray,
        prior_ids: np.ndarray | None = None,
    ) -> np.ndarray:
        """Track ids of one frame's people; ``prior_ids`` (``-1`` = unknown) are people whose identity is
        already known (followed from the last frame, see :mod:`posekit.inference.keyframes`): they keep
        it, and only the others are matched, against the tracks nobody claimed."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        n = len(boxes)
        ids = np.full(n, -1, dtype=np.int64) if prior_ids is None else np.array(prior_ids, np.int64)
        visible = np.asarray(keypoint_scores) >= self.conf
        matched_tracks: set[int] = set()
        for r in np.flatnonzero(ids >= 0):
            if int(ids[r]) not in self._ids:  # a track this tracker has not seen (or has expired)
                self._add(int(ids[r]), boxes[r], keypoints[r], visible[r])
                self._next_id = max(self._next_id, int(ids[r]) + 1)
            c = self._ids.index(int(ids[r]))
            self._set(c, boxes[r], keypoints[r], visible[r])
            matched_tracks.add(c)
        free = [t for t in range(len(self._ids)) if t not in matched_tracks]
        rows = np.flatnonzero(ids < 0)
        if len(rows) and free:
            similarity = self._similarity(boxes[rows], np.asarray(keypoints, np.float64)[rows], visible[rows])
            similarity = similarity[:, free]
            for r, c in zip(*linear_sum_assignment(similarity, maximize=True), strict=True):
                if similarity[r, c] >= self.min_oks:
                    ids[rows[r]] = self._ids[free[c]]
                    self._set(free[c], boxes[rows[r]], keypoints[rows[r]], visible[rows[r]])
                    matched_tracks.add(free[c])
        keep = [t for t in range(len(self._ids)) if t in matched_tracks or self._age[t] + 1 <= self.max_age]
        for t in range(len(self._ids)):
            if t not in matched_tracks:
                self._age[t] += 1
        for name in ("_ids", "_keypoints", "_visible", "_areas", "_boxes", "_age"):
            values = getattr(self, name)
            setattr(self, name, [values[t] for t in keep])
        for r in np.flatnonzero(ids < 0):
            ids[r] = self._next_id
            self._next_id += 1
            self._add(int(ids[r]), boxes[r], keypoints[r], visible[r])
        return ids

    def _add(self, track: int, box: np.ndarray, keypoints: np.ndarray, visible: np.ndarray) -> None:
        self._ids.append(track)
        self._keypoints.append(np.asarray(keypoints, np.float64))
        self._visible.append(visible)
        self._areas.append(0.0)
        self._boxes.append(box)
        self._age.append(0)
        self._set(len(self._ids) - 1, box, keypoints, visible)

    def _similarity(self, boxes: np.ndarray, keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """(people, tracks) OKS over the joints both sides see, with the track's last box area as scale;
        box IoU where they share no visible joint (e.g. a low-confidence frame)."""
        both = visible[:, None] & np.stack(self._visible)[None]
        areas = np.asarray(self._areas)[None, :]
        similarity = oks(keypoints[:, None], np.stack(self._keypoints)[None], areas, self.sigmas, both)
        track_boxes = np.stack(self._boxes)
        iou = box_iou(xyxy(boxes), xyxy(track_boxes))
        return np.where(both.any(axis=-1), similarity, iou)

    def _set(self, t: int, box: np.ndarray, keypoints: np.ndarray, visible: np.ndarray) -> None:
        # A joint not seen this frame keeps its last position, so a brief occlusion does not break the match.
        self._keypoints[t] = np.where(visible[:, None], keypoints, self._keypoints[t])
        self._visible[t] = self._visible[t] | visible
        self._areas[t] = float(box[2] * box[3])
        self._boxes[t] = np.asarray(box, np.float64)
        self._age[t] = 0


def xyxy(boxes_xywh: np.ndarray) -> np.ndarray:
    """Corners ``(N, 4)`` x1, y1, x2, y2 of xywh boxes."""
    boxes = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``(N, M)`` of xyxy boxes ``a (N, 4)`` and ``b (M, 4)``."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], axis=-1), np.prod(b[:, 2:] - b[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def bytetrack_available() -> bool:
    """Whether the ``posekit[track]`` extra (trackers and supervision) is installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("trackers", "supervision"))


def auto_tracker_kind(boxes_kind: str) -> TrackerKind:
    """ByteTrack for detector boxes when ``posekit[track]`` is installed, OKS matching otherwise."""
    if boxes_kind != "detector":
        return "oks"
    if bytetrack_available():
        return "bytetrack"
    logger.warning("ByteTrack is not installed (%s): tracking by keypoint OKS instead", TRACK_EXTRA)
    return "oks"


def make_tracker(
    kind: TrackerKind,
    fps: float,
    sigmas: np.ndarray,
    conf: float | np.ndarray = 0.3,
    det_conf: float = 0.5,
) -> PoseTracker:
    """``"bytetrack"`` for detector boxes (every box kept, i.e. scoring ``det_conf`` or more, may start a
    track), ``"oks"`` for given or full-image boxes (joints above ``conf`` are matched)."""
    if kind == "bytetrack":
        if not bytetrack_available():
            raise ConfigError(f"tracker 'bytetrack' needs the trackers package: {TRACK_EXTRA}, or use 'oks'")
        return ByteTracker(fps=fps, track_activation_threshold=det_conf, high_conf_det_threshold=det_conf)
    if kind == "oks":
        return OKSTracker(sigmas, conf=conf)
    raise ConfigError(f"unknown tracker {kind!r}; choose 'bytetrack' or 'oks'")
