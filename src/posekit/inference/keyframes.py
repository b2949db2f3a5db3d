"""Detect every N frames: person boxes of a video from the box source (the detector) on key frames, and
from each followed person's keypoints on the frames between.

This is what mmpose's real-time pose tracker (mmdeploy's ``PoseTracker``) and rtmlib's ``PoseTracker``
do: between detections a person's next box is the extent of their confident keypoints grown by 1.25
(mmdeploy's ``pose_bbox_scale``; it needs at least half the keypoints above the confidence threshold,
its ``pose_min_keypoints`` default), clipped to the image. Hand-written: both live inside those
packages' own pipelines, not as a library.

The person keeps their track id along the way, so identity between key frames needs no matching. On a
key frame each detection takes over the box of the followed person it overlaps most (Hungarian on IoU
>= 0.4, mmdeploy's ``track_iou_thr``) and keeps that id; the other detections are new people (the
tracker matches them against recently lost tracks or gives them new ids); followed people the detector
missed keep their keypoint box. Two followed people whose poses become one (OKS >= 0.5, mmdeploy's
``pose_nms_thr``; an occluded person's box drifting onto the one in front) are one: the newer or less
confident is dropped. A person with too few confident keypoints is lost, and the next frame is
detected early, as it is when someone is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from posekit.inference.tracking import box_iou, xyxy
from posekit.metrics.nms import oks_nms

BOX_SCALE = 1.25
MATCH_IOU = 0.4
DUPLICATE_OKS = 0.5


def keypoint_boxes(
    keypoints: np.ndarray,
    scores: np.ndarray,
    thresholds: np.ndarray | float,
    image_hw: tuple[int, int],
    scale: float = BOX_SCALE,
    min_keypoints: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(N, 4)`` xywh around each person's keypoints ``(N, K, 2)`` scoring at least ``thresholds``,
    grown ``scale`` times about their centre and clipped to the image, and whether each person has the
    ``min_keypoints`` (default: half of K, rounded up) such keypoints to make one (``(N,)`` bool)."""
    keypoints = np.asarray(keypoints, np.float64).reshape(len(scores), -1, 2)
    confident = np.asarray(scores) >= thresholds
    k = keypoints.shape[1]
    ok = confident.sum(axis=1) >= ((k + 1) // 2 if min_keypoints is None else min_keypoints)
    low = np.where(confident[..., None], keypoints, np.inf).min(axis=1)
    high = np.where(confident[..., None], keypoints, -np.inf).max(axis=1)
    with np.errstate(invalid="ignore"):  # inf - inf for people without a confident keypoint: masked below
        center, size = (low + high) / 2, (high - low) * scale
        h, w = image_hw
        top_left = np.clip(center - size / 2, 0, [w, h])
        bottom_right = np.clip(center + size / 2, 0, [w, h])
        boxes = np.concatenate([top_left, bottom_right - top_left], axis=1)
        ok &= (boxes[:, 2:] > 0).all(axis=1)
    return np.where(ok[:, None], boxes, 0.0), ok


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
        self.first, self.min_keypoints = first, min_keypoints
        self._followed = FrameBoxes(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))
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
        """This frame's people: the followed ones (their keypoint boxes), merged with ``detected``
        ``(boxes xywh, scores)`` on a key frame."""
        followed = self._followed
        if detected is None:
            return followed
        self.detections += 1
        self._redetect = False
        det_boxes, det_scores = (np.asarray(a, np.float64) for a in detected)
        det_boxes = det_boxes.reshape(-1, 4)
        ids = np.full(len(det_boxes), -1, np.int64)
        taken = np.zeros(len(followed.boxes), bool)
        if len(det_boxes) and len(followed.boxes):
            iou = box_iou(xyxy(det_boxes), xyxy(followed.boxes))
            for d, f in zip(*linear_sum_assignment(iou, maximize=True), strict=True):
                if iou[d, f] >= MATCH_IOU:
                    ids[d], taken[f] = followed.track_ids[f], True
        missed = ~taken
        return FrameBoxes(
            np.concatenate([det_boxes, followed.boxes[missed]]),
            np.concatenate([det_scores.reshape(-1), followed.scores[missed]]),
            np.concatenate([ids, followed.track_ids[missed]]),
        )

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
        keypoints: np.ndarray,
        keypoint_scores: np.ndarray,
        box_scores: np.ndarray,
        image_hw: tuple[int, int],
    ) -> None:
        """Remember this frame's tracked people: their keypoints make the next frame's boxes; a person
        with too few confident keypoints is lost (the next frame is detected)."""
        boxes, ok = keypoint_boxes(
            keypoints, keypoint_scores, self.thresholds, image_hw, min_keypoints=self.min_keypoints
        )
        ok &= np.asarray(track_ids) >= 0
        self._redetect |= not ok.all()
        self._followed = FrameBoxes(boxes[ok], np.asarray(box_scores, np.float64)[ok], track_ids[ok])
