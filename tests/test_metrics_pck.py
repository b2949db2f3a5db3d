"""PCK / PCKh / AUC / EPE / NME on small cases computed by hand (mmpose's definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.metrics.pck import (
    auc,
    box_diagonal,
    box_size,
    epe,
    head_size_from_boxes,
    head_size_from_keypoints,
    interocular_distance,
    nme,
    pck,
)

# Two people, three keypoints. Distances (px): person 0: kp0 5, kp1 8, kp2 unlabelled;
# person 1: kp0 6, kp1 unlabelled, kp2 8. Boxes: 100x50 (norm 100) and 40x80 (norm 80).
GT = np.array([[[0, 0, 2], [10, 0, 2], [0, 10, 0]], [[0, 0, 1], [0, 0, 0], [20, 20, 2]]], dtype=float)
PRED = np.array([[[3, 4], [10, 8], [50, 50]], [[0, 6], [100, 100], [20, 28]]], dtype=float)
BOXES = np.array([[0, 0, 100, 50], [0, 0, 40, 80]], dtype=float)


def test_box_normalisers() -> None:
    np.testing.assert_array_equal(box_size(BOXES), [100, 80])
    np.testing.assert_allclose(box_diagonal(np.array([[5, 5, 3, 4]])), [5.0])
    np.testing.assert_allclose(head_size_from_boxes(np.array([[0, 0, 30, 40], [np.nan] * 4])), [30.0, np.nan])


def test_pck_by_box_size() -> None:
    # normalised distances: kp0 0.05 and 0.075, kp1 0.08, kp2 0.1; "correct" means strictly below
    norm = box_size(BOXES)
    at_005 = pck(PRED, GT, norm, 0.05)
    assert at_005.value == 0.0 and at_005.num_points == 4
    at_01 = pck(PRED, GT, norm, 0.1)
    np.testing.assert_array_equal(at_01.per_keypoint, [1.0, 1.0, 0.0])
    assert at_01.value == pytest.approx(2 / 3)  # mean over keypoints, as mmpose
    assert pck(PRED, GT, norm, 0.2).value == 1.0


def test_pck_skips_people_without_normaliser_and_unlabelled_keypoints() -> None:
    result = pck(PRED, GT, np.array([100.0, np.nan]), 0.1)
    assert result.num_points == 2
    np.testing.assert_array_equal(result.per_keypoint, [1.0, 1.0, np.nan])
    assert result.value == 1.0
    empty = pck(PRED, np.zeros_like(GT), 100.0, 0.1)
    assert np.isnan(empty.value) and empty.num_points == 0


def test_pckh_with_head_keypoints() -> None:
    head = head_size_from_keypoints(GT, head=[0, 1])  # person 0: (0,0)-(10,0) -> 10; person 1: one point
    np.testing.assert_allclose(head, [10.0, np.nan])
    result = pck(PRED, GT, head, 0.5)  # person 0 only: 5/10 = 0.5 (not below), 8/10
    np.testing.assert_array_equal(result.per_keypoint, [0.0, 0.0, np.nan])
    assert pck(PRED, GT, head, 0.81).value == 1.0


def test_epe_and_nme() -> None:
    assert epe(PRED, GT) == pytest.approx((5 + 8 + 6 + 8) / 4)
    assert nme(PRED, GT, box_size(BOXES)) == pytest.approx((0.05 + 0.08 + 0.075 + 0.1) / 4)
    eyes = interocular_distance(GT, (0, 2))  # person 0: keypoint 2 unlabelled
    np.testing.assert_allclose(eyes, [np.nan, np.hypot(20, 20)])
    assert nme(PRED, GT, eyes) == pytest.approx((6 + 8) / 2 / np.hypot(20, 20))


def test_auc_over_thresholds() -> None:
    # norm 10 px: distances 0.5, 0.6 (kp0), 0.8 (kp1), 0.8 (kp2); thresholds 0, 0.05, ..., 0.95
    # PCK: 1/6 at 0.55 and 0.6, 1/3 from 0.65 to 0.8, 1 from 0.85 -> (2/6 + 4/3 + 3) / 20
    assert auc(PRED, GT, 10.0) == pytest.approx((2 / 6 + 4 / 3 + 3) / 20)
    assert auc(PRED, GT, 1000.0) == pytest.approx(19 / 20)  # everything correct except at threshold 0
