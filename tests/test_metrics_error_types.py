"""Ronchi & Perona's keypoint error types (jitter, inversion, swap, miss), the AP each costs, and the AP by
person size and by number of labelled joints, on hand-made people with known answers."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from helpers import make_keypoint_set

from posekit.datasets.schema import get_preset
from posekit.metrics.coco_eval import COCO17_SIGMAS, coco_matches, evaluate_coco_keypoints
from posekit.metrics.error_types import (
    GOOD_KS,
    LABELS,
    NEAR_KS,
    classify_keypoint_errors,
    error_breakdown,
    fix_errors,
    visible_groups,
)
from posekit.metrics.oks import oks_terms

SCHEMA = get_preset("coco17")
FLIP = SCHEMA.flip_index
AREA = 100.0 * 200.0
NOSE, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST = 0, 5, 6, 9, 10


def person(x0: float, y0: float = 0.0) -> np.ndarray:
    """(17, 3) points of a person 100 x 200 px at (x0, y0), every joint labelled: left joints (odd) right
    of the middle, their partners mirrored 30-90 px away, one joint every 11 px down."""
    side = [0 if j == 0 else (1 if j % 2 else -1) for j in range(17)]
    xy = np.array([[x0 + 50 + s * (15 + 2 * j), y0 + 10 + 11 * j] for j, s in enumerate(side)], float)
    return np.concatenate([xy, np.full((17, 1), 2.0)], axis=1)


def ground_truth(people: list[np.ndarray], areas: list[float] | None = None) -> dict:
    anns = []
    for i, kp in enumerate(people):
        x0, y0 = kp[:, 0].min() - 20, kp[:, 1].min() - 10
        anns.append(
            {
                "id": 100 + i,
                "image_id": 1,
                "category_id": 1,
                "bbox": [x0, y0, 100.0, 200.0],
                "area": AREA if areas is None else areas[i],
                "iscrowd": 0,
                "num_keypoints": int((kp[:, 2] > 0).sum()),
                "keypoints": kp.ravel().tolist(),
            }
        )
    return {
        "images": [{"id": 1, "width": 1000, "height": 400, "file_name": "a.jpg"}],
        "categories": [{"id": 1, "name": "person", "keypoints": SCHEMA.names}],
        "annotations": anns,
    }


def prediction(xy: np.ndarray, score: float = 0.9) -> dict:
    kp = np.concatenate([xy[:, :2], np.ones((len(xy), 1))], axis=1)
    return {"image_id": 1, "category_id": 1, "keypoints": kp.ravel().tolist(), "score": score}


def at_ks(point: np.ndarray, ks: float, area: float, sigma: float) -> np.ndarray:
    """A point at the distance (along x) from ``point`` where its keypoint similarity is ``ks``."""
    return point + [math.sqrt(-math.log(ks) * 2 * area * (2 * sigma) ** 2), 0.0]


def test_every_type_on_hand_placed_joints() -> None:
    a, b = person(0.0), person(300.0)
    pred = a[:, :2].copy()
    pred[NOSE] = at_ks(a[NOSE, :2], 0.7, AREA, COCO17_SIGMAS[NOSE])  # jitter
    pred[[L_SHOULDER, R_SHOULDER]] = a[[R_SHOULDER, L_SHOULDER], :2]  # left/right exchanged: inversion
    pred[R_WRIST] = b[R_WRIST, :2]  # on the other person's right wrist: swap
    pred[L_WRIST] = a[L_WRIST, :2] + [0.0, 150.0]  # near nothing: miss
    gt = ground_truth([a, b])
    errors = classify_keypoint_errors(gt, [prediction(pred), prediction(b)], COCO17_SIGMAS, FLIP)
    assert errors.result_index.tolist() == [0, 1] and errors.annotation_index.tolist() == [0, 1]
    labels = [LABELS[i] for i in errors.labels[0]]
    assert labels[NOSE] == "jitter" and errors.ks[0, NOSE] == pytest.approx(0.7)
    assert labels[L_SHOULDER] == labels[R_SHOULDER] == "inversion"
    assert labels[R_WRIST] == "swap" and labels[L_WRIST] == "miss"
    assert {labels[j] for j in range(17) if j not in (NOSE, 5, 6, 9, 10)} == {"good"}
    assert set(errors.labels[1].tolist()) == {LABELS.index("good")}
    assert errors.counts().sum(axis=0).tolist() == [12 + 17, 1, 2, 1, 1]


def test_fixing_moves_each_joint_to_the_level_its_type_stands_for() -> None:
    a, b = person(0.0), person(300.0)
    pred = a[:, :2].copy()
    pred[NOSE] = at_ks(a[NOSE, :2], 0.6, AREA, COCO17_SIGMAS[NOSE])
    pred[L_WRIST] = a[L_WRIST, :2] + [0.0, 150.0]
    pred[R_WRIST] = b[R_WRIST, :2]  # ks 1 with b's wrist: fixed to ks 1 on its own
    results = [prediction(pred), prediction(b)]
    errors = classify_keypoint_errors(ground_truth([a, b]), results, COCO17_SIGMAS, FLIP)
    fixed = np.array(fix_errors(results, errors, ("jitter", "miss", "swap"))[0]["keypoints"]).reshape(17, 3)
    ks = oks_terms(fixed[:, :2], a[:, :2], AREA, COCO17_SIGMAS)
    assert ks[NOSE] == pytest.approx(GOOD_KS) and ks[L_WRIST] == pytest.approx(NEAR_KS)
    assert ks[R_WRIST] == pytest.approx(1.0)
    untouched = fix_errors(results, errors, ("inversion",))
    assert untouched[0] is results[0] and untouched[1] is results[1]


def test_fixing_all_misses_raises_ap_to_the_known_value() -> None:
    # one person, two joints missed and the rest exact: OKS 15/17 = 0.882 -> TP at OKS 0.50 ... 0.85
    # (AP 0.8); fixed to ks 0.5 they give OKS 16/17 = 0.941 -> TP up to 0.90 (AP 0.9)
    a = person(0.0)
    pred = a[:, :2].copy()
    pred[[L_WRIST, R_WRIST]] += [0.0, 300.0]
    breakdown = error_breakdown(ground_truth([a]), [prediction(pred)], SCHEMA)
    assert breakdown.ap == pytest.approx(0.8)
    assert breakdown.ap_fixed["miss"] == breakdown.ap_fixed["all"] == pytest.approx(0.9)
    assert breakdown.ap_fixed["jitter"] == breakdown.ap_fixed["swap"] == pytest.approx(0.8)
    section = breakdown.to_dict()
    assert section["counts"] == {"good": 15, "jitter": 0, "inversion": 0, "swap": 0, "miss": 2}
    assert section["AP_gain"]["miss"] == pytest.approx(0.1) and section["predictions_analysed"] == 1
    assert section["per_keypoint"][L_WRIST] == {"name": "left_wrist", **dict.fromkeys(LABELS, 0), "miss": 1}


def test_fixing_inverted_arms_gives_back_the_ap() -> None:
    # shoulders, elbows and wrists exchanged left/right (50-66 px from their own points: ks 0.059, 0.011,
    # 0.000 a side), the 11 other joints exact: OKS (11 + 0.14) / 17 = 0.655 -> TP at OKS 0.50 ... 0.65
    # (AP 0.4); fixed, every joint is on its own point (AP 1)
    a = person(0.0)
    arms = np.arange(5, 11)
    pred = a[:, :2].copy()
    pred[arms] = a[FLIP[arms], :2]
    breakdown = error_breakdown(ground_truth([a]), [prediction(pred)], SCHEMA)
    assert breakdown.to_dict()["counts"] == {"good": 11, "jitter": 0, "inversion": 6, "swap": 0, "miss": 0}
    assert oks_terms(pred, a[:, :2], AREA, COCO17_SIGMAS).mean() == pytest.approx(0.655, abs=1e-3)
    assert breakdown.ap == pytest.approx(0.4) and breakdown.ap_fixed["inversion"] == pytest.approx(1.0)
    assert breakdown.ap_fixed["swap"] == pytest.approx(0.4)


def test_a_wholly_mirrored_person_is_not_analysed() -> None:
    # every left joint where its right partner is: OKS with its person < 0.1, so COCO matches nothing
    # at coco-analyze's localisation threshold and there is nothing to classify
    a = person(0.0)
    errors = classify_keypoint_errors(ground_truth([a]), [prediction(a[FLIP])], COCO17_SIGMAS, FLIP)
    assert errors.result_index.size == 0


def test_unlabelled_joints_and_unmatched_predictions_are_not_classified() -> None:
    a = person(0.0)
    a[[L_WRIST, R_WRIST], 2] = 0
    far = person(600.0)[:, :2]  # OKS ~0 with everyone: COCO does not match it at 0.1
    errors = classify_keypoint_errors(
        ground_truth([a]), [prediction(a), prediction(far, 0.95)], COCO17_SIGMAS, FLIP
    )
    assert errors.result_index.tolist() == [0]
    assert errors.labels[0, [L_WRIST, R_WRIST]].tolist() == [-1, -1] and np.isnan(errors.ks[0, L_WRIST])
    assert errors.counts().sum() == 15


def test_coco_matches_follow_score_order() -> None:
    # both predictions fit person 0 best; COCO gives it to the higher score, the other takes person 1
    a, b = person(0.0), person(40.0)
    gt = ground_truth([a, b])
    near_a = a[:, :2] + [15.0, 0.0]
    results = [prediction(near_a, 0.5), prediction(a, 0.9)]
    assert coco_matches(gt, results, COCO17_SIGMAS, 0.1).tolist() == [1, 0]


def test_ap_by_size_and_by_labelled_joints() -> None:
    medium, large = person(0.0), person(300.0)
    large[:12, 2] = 0  # 5 labelled joints
    gt = ground_truth([medium, large], areas=[50.0**2, 120.0**2])
    # the medium person predicted exactly, the large one far off its joints
    results = [prediction(medium), prediction(large[:, :2] + [0.0, 60.0])]
    breakdown = error_breakdown(gt, results, SCHEMA)
    size = {g.name: g for g in breakdown.by_size}
    assert size["small"].people == 0 and math.isnan(size["small"].ap)
    assert (size["medium"].people, size["medium"].ap) == (1, pytest.approx(1.0))
    assert (size["large"].people, size["large"].ap) == (1, 0.0)
    assert size["medium"].counts.tolist() == [17, 0, 0, 0, 0]
    visible = {g.name: g for g in breakdown.by_visible}
    assert list(visible) == ["1-5 joints", "6-10 joints", "11-15 joints", "16-17 joints"]
    assert visible["1-5 joints"].people == 1 and visible["1-5 joints"].ap == 0.0
    assert visible["16-17 joints"].ap == pytest.approx(1.0) and math.isnan(visible["6-10 joints"].ap)
    assert breakdown.ap == pytest.approx(0.5, abs=0.01)


def test_visible_groups() -> None:
    assert visible_groups(17) == [(1, 5), (6, 10), (11, 15), (16, 17)]  # coco-analyze's groups
    assert visible_groups(21) == [(1, 6), (7, 12), (13, 18), (19, 21)]
    assert visible_groups(2) == [(1, 1), (2, 2)]


def test_no_predictions() -> None:
    breakdown = error_breakdown(ground_truth([person(0.0)]), [], SCHEMA)
    section = breakdown.to_dict()
    assert section["predictions_analysed"] == 0 and section["joints"] == 0 and breakdown.ap == 0.0
    assert all(g["AP"] is None for g in section["by_size"])


def test_group_aps_equal_fresh_coco_runs() -> None:
    # the size and joint-count runs share one OKS cache; each must equal its own fresh COCO evaluation
    gt, results = make_keypoint_set(150, seed=2)
    breakdown = error_breakdown(gt, results, SCHEMA)
    stats = evaluate_coco_keypoints(gt, results, COCO17_SIGMAS).stats
    size = {g.name: g.ap for g in breakdown.by_size}
    assert breakdown.ap == stats["AP"] and (size["medium"], size["large"]) == (stats["APm"], stats["APl"])
    visible = np.array([np.count_nonzero(np.asarray(a["keypoints"])[2::3] > 0) for a in gt["annotations"]])
    for group in breakdown.by_visible:
        lo, hi = group.bounds
        inside = (visible >= lo) & (visible <= hi)
        only = copy.deepcopy(gt)
        for ann, keep in zip(only["annotations"], inside, strict=True):
            ann["num_keypoints"] = ann["num_keypoints"] if keep else 0
        expected = evaluate_coco_keypoints(only, results, COCO17_SIGMAS).stats["AP"] if inside.any() else -1
        assert group.ap == expected or (math.isnan(group.ap) and expected == -1), group.name
