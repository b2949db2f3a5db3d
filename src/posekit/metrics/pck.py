"""Distance-based keypoint metrics: PCK, PCKh, AUC, EPE, NME (mmpose's definitions).

Inputs are matched pairs (see ``metrics/matching.py``): ``pred`` (N, K, 2), ``gt`` (N, K, 3) with
visibility v (only v > 0 counts) and a per-person normaliser ``norm`` (N,) (or one number for all).
A person whose normaliser is not a positive number is left out. As in mmpose's
``keypoint_pck_accuracy``, a keypoint is correct when its normalised distance is strictly below the
threshold, and the PCK of a set is the mean of the per-keypoint accuracies over the keypoints that
have at least one labelled point.

Normalisers (``*_size`` helpers below):
- PCK: the person box's longer side, max(w, h) (mmpose ``norm_item='bbox'``).
- PCKh: the head size, 0.6 x the diagonal of ``bbox_head`` (MPII / PoseTrack convention); without
  head boxes, the diagonal of the box around the labelled head keypoints (needs two).
- NME: inter-ocular distance (outer eye corners, 300-W indices 36 and 45, WFLW 60 and 72) when
  known, otherwise the diagonal of the person box.
- AUC: PCK averaged over 20 thresholds 0, 1/20, ..., 19/20 of ``norm`` (mmpose ``keypoint_auc``;
  for hands the convention is a fixed 30 px).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Outer eye-corner indices (0-based) by keypoint count: 300-W 68-point faces, WFLW 98-point faces.
INTEROCULAR_INDICES = {68: (36, 45), 98: (60, 72)}
#: MPII's head-size factor: head size = 0.6 x the head box diagonal.
HEAD_BOX_FACTOR = 0.6


@dataclass
class PckResult:
    """PCK at one threshold."""

    value: float  # mean of the per-keypoint accuracies over keypoints with labelled points (NaN if none)
    per_keypoint: np.ndarray  # (K,) accuracy per keypoint, NaN where no point is labelled
    num_points: int  # labelled points that took part


def normalised_distances(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray | float = 1.0) -> np.ndarray:
    """(N, K) distance / norm; NaN where the keypoint is unlabelled or the normaliser is not positive."""
    pred = np.asarray(pred, np.float64)[..., :2]
    gt = np.asarray(gt, np.float64)
    norm = np.broadcast_to(np.asarray(norm, np.float64), (gt.shape[0],))
    valid_norm = np.isfinite(norm) & (norm > 0)
    dist = np.linalg.norm(pred - gt[..., :2], axis=-1) / np.where(valid_norm, norm, 1.0)[:, None]
    return np.where((gt[..., 2] > 0) & valid_norm[:, None], dist, np.nan)


def pck(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray | float, threshold: float) -> PckResult:
    """Percentage of correct keypoints: normalised distance < ``threshold``."""
    return _pck_from_distances(normalised_distances(pred, gt, norm), threshold)


def auc(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray | float = 30.0, num_thresholds: int = 20) -> float:
    """Area under the PCK curve over thresholds ``i / num_thresholds`` of ``norm``, i = 0 .. n-1 (mmpose)."""
    dist = normalised_distances(pred, gt, norm)
    return float(
        np.mean([_pck_from_distances(dist, i / num_thresholds).value for i in range(num_thresholds)])
    )


def epe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean end-point error: mean pixel distance over the labelled keypoints (NaN if none)."""
    return _mean(normalised_distances(pred, gt, 1.0))


def nme(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray | float) -> float:
    """Normalised mean error: mean of distance / ``norm`` over the labelled keypoints (NaN if none)."""
    return _mean(normalised_distances(pred, gt, norm))


def box_size(boxes: np.ndarray) -> np.ndarray:
    """PCK normaliser: the longer side max(w, h) of xywh boxes (N, 4)."""
    return np.max(np.asarray(boxes, np.float64)[:, 2:4], axis=1)


def box_diagonal(boxes: np.ndarray) -> np.ndarray:
    """The diagonal sqrt(w^2 + h^2) of xywh boxes (N, 4)."""
    return np.hypot(*np.asarray(boxes, np.float64)[:, 2:4].T)


def head_size_from_boxes(head_boxes: np.ndarray) -> np.ndarray:
    """PCKh normaliser from ``bbox_head`` xywh boxes: 0.6 x diagonal (NaN where a box is missing)."""
    return HEAD_BOX_FACTOR * box_diagonal(head_boxes)


def head_size_from_keypoints(gt: np.ndarray, head: Sequence[int]) -> np.ndarray:
    """PCKh normaliser from head keypoints: diagonal of the box around the labelled ones (NaN if < 2)."""
    points = np.asarray(gt, np.float64)[:, list(head)]  # (N, H, 3)
    labelled = points[..., 2] > 0
    xy = points[..., :2]
    extent = np.where(labelled[..., None], xy, -np.inf).max(axis=1) - np.where(
        labelled[..., None], xy, np.inf
    ).min(axis=1)
    return np.where(labelled.sum(axis=1) >= 2, np.hypot(extent[:, 0], extent[:, 1]), np.nan)


def interocular_distance(gt: np.ndarray, eyes: tuple[int, int]) -> np.ndarray:
    """NME normaliser: distance between the two outer eye corners (NaN where either is unlabelled)."""
    gt = np.asarray(gt, np.float64)
    a, b = gt[:, eyes[0]], gt[:, eyes[1]]
    dist = np.linalg.norm(a[:, :2] - b[:, :2], axis=1)
    return np.where((a[:, 2] > 0) & (b[:, 2] > 0), dist, np.nan)


def _pck_from_distances(dist: np.ndarray, threshold: float) -> PckResult:
    labelled = ~np.isnan(dist)
    counts = labelled.sum(axis=0)
    with np.errstate(invalid="ignore"):
        correct = (np.where(labelled, dist, np.inf) < threshold).sum(axis=0)
        per_keypoint = np.where(counts > 0, correct / np.maximum(counts, 1), np.nan)
    value = float(np.nanmean(per_keypoint)) if (counts > 0).any() else float("nan")
    return PckResult(value, per_keypoint, int(counts.sum()))


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")
