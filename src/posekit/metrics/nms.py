"""OKS non-maximum suppression (hard and soft) of top-down predictions, per image.

Hand-written because no maintained library ships OKS-NMS outside mmpose (which is the install pain
posekit replaces); the semantics follow mmpose/HRNet: the OKS between two predictions uses all K
keypoints and the mean of their two areas, a prediction is suppressed when its OKS with a kept,
higher-scoring one is above the threshold.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from posekit.errors import ConfigError
from posekit.metrics import NMS_THRESHOLDS
from posekit.metrics.oks import oks

NmsMode = Literal["oks", "soft", "none"]


def pairwise_oks(keypoints: np.ndarray, areas: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """``(N, N)`` OKS between predictions ``(N, K, 2)``, with the mean of the two areas as scale."""
    areas = np.asarray(areas, np.float64)
    mean_area = (areas[:, None] + areas[None, :]) / 2
    return oks(keypoints[:, None], keypoints[None, :], mean_area, sigmas)


def oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    threshold: float = NMS_THRESHOLDS["oks"],
) -> np.ndarray:
    """Greedy OKS-NMS of one image's predictions; returns the kept indices, highest score first."""
    overlap = pairwise_oks(keypoints, areas, sigmas)
    suppressed = np.zeros(len(scores), dtype=bool)
    keep = []
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= overlap[i] > threshold
    return np.asarray(keep, dtype=np.intp)


def soft_oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    threshold: float = NMS_THRESHOLDS["soft"],
    max_dets: int = 20,
) -> np.ndarray:
    """Soft OKS-NMS (Gaussian decay ``score * exp(-oks^2 / threshold)``); returns at most ``max_dets``
    kept indices in the order they were picked."""
    overlap = pairwise_oks(keypoints, areas, sigmas)
    current = np.asarray(scores, np.float64).copy()
    remaining = np.ones(len(current), dtype=bool)
    keep = []
    while remaining.any() and len(keep) < max_dets:
        i = int(np.flatnonzero(remaining)[np.argmax(current[remaining])])
        keep.append(i)
        remaining[i] = False
        current[remaining] *= np.exp(-(overlap[i, remaining] ** 2) / threshold)
    return np.asarray(keep, dtype=np.intp)


def nms_per_image(
    image_ids: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    mode: NmsMode = "oks",
    threshold: float | None = None,
) -> np.ndarray:
    """Run (soft) OKS-NMS separately on each image; returns the kept indices into the inputs, sorted.

    ``threshold`` defaults to the mode's :data:`NMS_THRESHOLDS`.
    """
    check_nms_mode(mode)
    image_ids = np.asarray(image_ids)
    if mode == "none" or len(image_ids) == 0:
        return np.arange(len(image_ids), dtype=np.intp)
    threshold = NMS_THRESHOLDS[mode] if threshold is None else threshold
    order = np.argsort(image_ids, kind="stable")
    keep = []
    for idx in np.split(order, np.flatnonzero(np.diff(image_ids[order])) + 1):  # one group per image
        if mode == "oks":
            kept = oks_nms(keypoints[idx], scores[idx], areas[idx], sigmas, threshold)
        else:
            kept = soft_oks_nms(keypoints[idx], scores[idx], areas[idx], sigmas, threshold)
        keep.append(idx[kept])
    return np.sort(np.concatenate(keep))


def check_nms_mode(mode: str) -> None:
    """Raise :class:`ConfigError` unless ``mode`` is ``"oks"``, ``"soft"`` or ``"none"``."""
    if mode not in get_args(NmsMode):
        raise ConfigError(f"unknown NMS mode {mode!r}; choose 'oks', 'soft' or 'none'")
