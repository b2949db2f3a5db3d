"""Detect every N frames: person boxes of a video from the box source (the detector) on key frames, and
from each followed person's keypoints on the frames between.

mmpose's real-time pose tracker (mmdeploy's ``PoseTracker``) and rtmlib's ``PoseTracker`` take a
person's next box from the extent of their last keypoints grown by 1.25. Here the box keeps the size
the detector gave it and moves with the person: by the mean displacement, from the frame before, of
the keypoints confident in both frames (the extreme keypoints that make an extent are the noisiest
ones, and a crop that follows them feeds their noise back). Measured on the video sample
(``benchmarks/video.py``, det-every 5, sample-trained model, ground-truth boxes as the detector): the
extent's jitter was 7.6 px/frame^2 against 4.3 for moved boxes (3.9 detecting every frame), its MOTA
0.61 against 0.63. A person is lost when fewer than half their keypoints are confident (mmdeploy's
``pose_min_keypoints`` default); the next frame is then detected early. Hand-written: both references
live inside their packages' own pipelines, not as a library.

The person keeps their track id along the way, so identity between key frames needs no matching. On a
key frame the detector says who is there: each detection takes the id of the followed person whose box
it overlaps most (Hungarian on IoU >= 0.4, mmdeploy's ``track_iou_thr``); the other detections are new
people (the tracker matches them against recently lost tracks or gives them new ids); followed people
no detection matches are dropped (kept, they linger as ghosts where someone left the image: measured,
MOTA 0.15 instead of 0.63). Two followed people whose poses become one (OKS >= 0.5, mmdeploy's
``pose_nms_thr``: an occluded person's box drifting onto the one in front) are one: the newer or less
confident is dropped, and the next frame is detected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from posekit.inference.tracking import box_iou, xyxy
from posekit.metrics.nms import oks_nms

MATCH_IOU = 0.4
DUPLICATE_OKS = 0.5
#: Keypoints confident in both frames needed to move a box (fewer: it stays where it was).
MIN_SHARED = 3


@dataclass
class FrameBoxes:
    """The people to pose in one frame: boxes ``(N, 4)`` xywh, box scores ``(N,)`` and the track ids they
    carry (``-1``: a new detection)."""

    boxes: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray


class Keyframes:
    """Which frames to detect and the boxes of the others (see the module doc). Per frame: :meth:`due`,
    then :meth:`boxes` (with the detections when due), pose, :meth:`distinct`, tracking, :meth:`follow`."""

    def __init__(
        self,
        det_every: int,
        thresholds: np.ndarray | float,
        sigmas: np.ndarray,
        first: int = 0,
        min_keypoints: int | None = None,
    ) -> None:
        self.det_every, self.thresholds, self.sigmas = det_every, thresholds, np.asarray(sigmas)
        self.first = first
        self.min_keypoints = (len(self.sigmas) + 1) // 2 if min_keypoints is None else min_keypoints
        self._followed = FrameBoxes(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))
        self._last: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # track -> keypoints, confident
        self._redetect = True
        #: key frames detected (scheduled and early), for reports
        self.detections = 0

    def scheduled(self, index: int) -> bool:
        """Whether frame ``index`` is one of every ``det_every`` frames (known ahead: detection can run
        ahead of the pose model)."""
        return (index - self.first) % self.det_every == 0

    def due(self, index: int) -> bool:
        """Whether frame ``index`` needs the box source: scheduled, or someone was lost on the last one."""
        return self.scheduled(index) or self._redetect

    def boxes(self, detected: tuple[np.ndarray, np.ndarray] | None) -> FrameBoxes:
        """This frame's people: the followed ones (their moved boxes), or on a key frame the detections
        ``(boxes xywh, scores)``, each taking the id of the followed person it overlaps most."""
        followed = self._followed
        if detected is None:
            return followed
        self.detections += 1
        self._redetect = False
        det_boxes, det_scores = (np.asarray(a, np.float64) for a in detected)
        det_boxes = det_boxes.reshape(-1, 4)
        ids = np.full(len(det_boxes), -1, np.int64)
        if len(det_boxes) and len(followed.boxes):
            iou = box_iou(xyxy(det_boxes), xyxy(followed.boxes))
            for d, f in zip(*linear_sum_assignment(iou, maximize=True), strict=True):
                if iou[d, f] >= MATCH_IOU:
                    ids[d] = followed.track_ids[f]
        return FrameBoxes(det_boxes, det_scores.reshape(-1), ids)

    def distinct(
        self, track_ids: np.ndarray, keypoints: np.ndarray, keypoint_scores: np.ndarray, boxes: np.ndarray
    ) -> np.ndarray:
        """Which people to keep ``(N,)`` bool: of two whose poses coincide, the one followed longer
        (carrying an id) and then the more confident; dropping one makes the next frame a key frame."""
        if len(track_ids) < 2:
            return np.ones(len(track_ids), bool)
        rank = (np.asarray(track_ids) >= 0) + np.asarray(keypoint_scores).mean(axis=1)  # followed first
        areas = np.prod(np.asarray(boxes)[:, 2:], axis=1)
        keep = np.zeros(len(track_ids), bool)
        keep[oks_nms(keypoints, rank, areas, self.sigmas, threshold=DUPLICATE_OKS)] = True
        self._redetect |= not keep.all()
        return keep

    def follow(
        self,
        track_ids: np.ndarray,
        boxes: np.ndarray,
        box_scores: np.ndarray,
        keypoints: np.ndarray,
        keypoint_scores: np.ndarray,
    ) -> None:
        """Remember this frame's tracked people, posed in ``boxes``: each box moves by the mean displacement
        of the person's keypoints confident now and on their last frame; a person with fewer than
        ``min_keypoints`` confident keypoints is lost (and the next frame detected)."""
        track_ids = np.asarray(track_ids, np.int64)
        keypoints = np.asarray(keypoints, np.float64)
        confident = np.asarray(keypoint_scores) >= self.thresholds
        moved = np.array(boxes, np.float64, copy=True).reshape(-1, 4)
        last: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for i, track in enumerate(track_ids.tolist()):
            if track in self._last:
                before, was_confident = self._last[track]
                shared = was_confident & confident[i]
                if shared.sum() >= MIN_SHARED:
                    moved[i, :2] += (keypoints[i][shared] - before[shared]).mean(axis=0)
            last[track] = (keypoints[i], confident[i])
        ok = (confident.sum(axis=1) >= self.min_keypoints) & (track_ids >= 0)
        self._redetect |= not ok.all()
        self._last = {t: v for t, v in last.items() if t in set(track_ids[ok].tolist())}
        self._followed = FrameBoxes(moved[ok], np.asarray(box_scores, np.float64)[ok], track_ids[ok])
