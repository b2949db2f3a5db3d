"""Rescoring and (soft) OKS-NMS against hand-computed cases and a loop-by-loop reference (mmpose's)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posekit.datasets.schema import get_preset
from posekit.errors import ConfigError
from posekit.metrics.nms import nms_per_image, oks_nms, pairwise_oks, soft_oks_nms
from posekit.topdown.processor import TopDownProcessor

SIGMA = np.array([0.1])


def _one_keypoint(*xs: float) -> np.ndarray:
    return np.array([[[x, 0.0]] for x in xs])


def test_rescore_uses_mean_of_scores_above_threshold() -> None:
    scores = np.array([[0.1, 0.5, 0.9], [0.1, 0.2, 0.15]])
    out = TopDownProcessor().rescore(scores, np.array([0.8, 1.0]))
    np.testing.assert_allclose(out, [0.8 * 0.7, 0.0])  # 0.2 is not above 0.2
    every = TopDownProcessor(keypoint_threshold=0.0)
    np.testing.assert_allclose(every.rescore(scores, np.array([1.0, 1.0])), [0.5, 0.15])


def test_pairwise_oks_hand_computed() -> None:
    # distance 2, mean area (100 + 100) / 2, k = 2 sigma = 0.2: exp(-4 / (2 * 100 * 0.04)) = exp(-0.5)
    overlap = pairwise_oks(_one_keypoint(0, 2), np.array([100.0, 100.0]), SIGMA)
    np.testing.assert_allclose(overlap, [[1, math.exp(-0.5)], [math.exp(-0.5), 1]], rtol=1e-12)
    # the scale is the mean of the two areas: (50 + 150) / 2 = 100 again
    overlap = pairwise_oks(_one_keypoint(0, 2), np.array([50.0, 150.0]), SIGMA)
    assert overlap[0, 1] == pytest.approx(math.exp(-0.5))


def test_oks_nms_threshold_is_strict_greater() -> None:
    kpts = _one_keypoint(0, 2, 100)
    areas = np.full(3, 100.0)
    scores = np.array([0.8, 0.9, 0.7])
    assert oks_nms(kpts, scores, areas, SIGMA, threshold=0.5).tolist() == [1, 2]  # 0.61 > 0.5: suppressed
    assert oks_nms(kpts, scores, areas, SIGMA, threshold=0.7).tolist() == [1, 0, 2]
    assert oks_nms(kpts, scores, areas, SIGMA, threshold=math.exp(-0.5)).tolist() == [1, 0, 2]


def test_suppressed_instance_does_not_suppress_others() -> None:
    # A (best) suppresses B; B would suppress C, but B is gone, and A-C overlap is low: C stays
    kpts = _one_keypoint(0, 2, 4)
    keep = oks_nms(kpts, np.array([0.9, 0.8, 0.7]), np.full(3, 100.0), SIGMA, threshold=0.5)
    assert keep.tolist() == [0, 2]


def test_soft_nms_decays_overlapping_scores() -> None:
    kpts = _one_keypoint(0, 2, 100)
    scores = np.array([0.9, 0.8, 0.5])
    # B: 0.8 * exp(-exp(-0.5)^2 / 0.3) = 0.235 < 0.5, so C is picked before B
    assert soft_oks_nms(kpts, scores, np.full(3, 100.0), SIGMA, threshold=0.3).tolist() == [0, 2, 1]
    assert soft_oks_nms(kpts, scores, np.full(3, 100.0), SIGMA, threshold=0.3, max_dets=2).tolist() == [0, 2]


def _reference_oks_nms(kpts: np.ndarray, scores: np.ndarray, areas: np.ndarray, sigmas, thr: float) -> list:
    """mmpose/HRNet's loop formulation (flattened [x, y, v] vectors, mean area, all keypoints)."""
    variances = (sigmas * 2) ** 2
    flat = np.concatenate([kpts, np.ones(kpts.shape[:2] + (1,))], -1).reshape(len(kpts), -1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):
        i = order[0]
        keep.append(int(i))
        ious = []
        for j in order[1:]:
            dx = flat[j, 0::3] - flat[i, 0::3]
            dy = flat[j, 1::3] - flat[i, 1::3]
            e = (dx**2 + dy**2) / variances / ((areas[i] + areas[j]) / 2 + np.spacing(1)) / 2
            ious.append(np.sum(np.exp(-e)) / len(e))
        order = order[1:][np.asarray(ious) <= thr] if ious else order[1:]
    return keep


def test_oks_nms_matches_reference_on_random_crowds() -> None:
    sigmas = get_preset("coco17").sigmas_array
    rng = np.random.default_rng(0)
    for _ in range(20):
        base = rng.uniform(0, 200, (1, 17, 2))
        kpts = base + rng.normal(0, rng.uniform(0.5, 6), (12, 17, 2))
        scores = rng.uniform(0, 1, 12)
        areas = rng.uniform(2000, 8000, 12)
        for thr in (0.5, 0.9):
            assert oks_nms(kpts, scores, areas, sigmas, thr).tolist() == _reference_oks_nms(
                kpts, scores, areas, sigmas, thr
            )


def test_nms_per_image_keeps_images_apart() -> None:
    kpts = _one_keypoint(0, 0.5, 0, 0.5)
    image_ids = np.array([1, 1, 2, 2])
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    areas = np.full(4, 100.0)
    assert nms_per_image(image_ids, kpts, scores, areas, SIGMA).tolist() == [0, 3]
    assert nms_per_image(image_ids, kpts, scores, areas, SIGMA, mode="none").tolist() == [0, 1, 2, 3]
    assert len(nms_per_image(image_ids, kpts, scores, areas, SIGMA, mode="soft")) == 4
    assert nms_per_image(np.array([]), kpts[:0], scores[:0], areas[:0], SIGMA).tolist() == []
    with pytest.raises(ConfigError, match="NMS mode"):
        nms_per_image(image_ids, kpts, scores, areas, SIGMA, mode="fast")
