"""COCO keypoint metrics: equal to pycocotools (17 and custom keypoint counts), numpy OKS, input errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from posekit.errors import PosekitError
from posekit.metrics.coco_eval import (
    COCO17_SIGMAS,
    COCO_STAT_NAMES,
    coco_keypoint_stats,
    evaluate_coco_keypoints,
)
from posekit.metrics.matching import match_people, rank_people
from posekit.metrics.oks import coco_oks

pycocotools = pytest.importorskip("pycocotools.cocoeval")
from helpers import make_keypoint_set, perturbed_predictions, reference  # noqa: E402


def assert_equal_to_reference(gt: dict, results: list, sigmas=None) -> dict:
    ours = evaluate_coco_keypoints(gt, results, sigmas)
    ref = reference(gt, results, sigmas)
    got = np.array([ours.stats[name] for name in COCO_STAT_NAMES])
    np.testing.assert_allclose(got, ref.stats[:10], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.precision, ref.eval["precision"][:, :, 0, 0, -1], rtol=0, atol=1e-9)
    return ours.stats


@pytest.fixture(scope="module")
def coco_gt(shared_data: Path) -> dict:
    return json.loads((shared_data / "coco" / "test_coco.json").read_text())


def test_equal_to_pycocotools_on_shared_coco(coco_gt: dict) -> None:
    for seed in range(3):
        results = perturbed_predictions(coco_gt, seed)
        if seed == 2:  # a result's own bbox sets its area (APm/APl of false positives) in pycocotools
            for r in results:
                kp = np.array(r["keypoints"]).reshape(-1, 3)
                r["bbox"] = [*kp[:, :2].min(0).tolist(), *(np.ptp(kp[:, :2], axis=0) * 1.5).tolist()]
        stats = assert_equal_to_reference(coco_gt, results)
        assert 0 < stats["AP"] < 1
    exact = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in coco_gt["annotations"]
        if a["num_keypoints"] > 0
    ]
    assert assert_equal_to_reference(coco_gt, exact)["AP"] == pytest.approx(1.0)


@pytest.mark.slow
def test_equal_to_pycocotools_on_thousands_of_people() -> None:
    gt, results = make_keypoint_set(3000, seed=1)
    anns = gt["annotations"]
    assert sum(a["iscrowd"] for a in anns) > 20 and sum(a["num_keypoints"] == 0 for a in anns) > 30
    stats = assert_equal_to_reference(gt, results, COCO17_SIGMAS)
    assert all(0 < stats[name] < 1 for name in COCO_STAT_NAMES)


@pytest.mark.parametrize("num_keypoints", [5, 21])
def test_custom_keypoint_count_uses_given_sigmas(num_keypoints: int) -> None:
    gt, results = make_keypoint_set(600, num_keypoints=num_keypoints, seed=num_keypoints)
    sigmas = np.random.default_rng(0).uniform(0.02, 0.1, num_keypoints)
    stats = assert_equal_to_reference(gt, results, sigmas)
    assert stats != coco_keypoint_stats(gt, results, sigmas * 2)  # the sigmas are really used


def test_numpy_oks_matches_pycocotools_compute_oks() -> None:
    gt, results = make_keypoint_set(400, seed=3)
    ref = reference(gt, results, COCO17_SIGMAS)
    checked = 0
    for (image_id, cat_id), ious in ref.ious.items():
        if len(ious) == 0:
            continue
        gts = ref._gts[image_id, cat_id]
        dts = sorted(ref._dts[image_id, cat_id], key=lambda d: -d["score"])[:20]
        ours = coco_oks(
            np.array([g["keypoints"] for g in gts]).reshape(len(gts), 17, 3),
            np.array([g["area"] for g in gts]),
            np.array([d["keypoints"] for d in dts]).reshape(len(dts), 17, 3),
            COCO17_SIGMAS,
            np.array([g["bbox"] for g in gts]),
        )
        np.testing.assert_allclose(ours, ious, rtol=0, atol=1e-12)
        checked += 1
    assert checked > 50
    one = coco_oks(
        np.array(gt["annotations"][0]["keypoints"]).reshape(17, 3),
        1000.0,
        np.zeros((17, 2)),
        COCO17_SIGMAS,
        np.array(gt["annotations"][0]["bbox"]),
    )
    assert np.ndim(one) == 0


def test_empty_results_give_zero_with_note(coco_gt: dict) -> None:
    out = evaluate_coco_keypoints(coco_gt, [])
    assert all(out.stats[name] == 0 for name in COCO_STAT_NAMES)
    assert "no predictions" in out.notes[0]


def test_unknown_image_ids_are_named(coco_gt: dict) -> None:
    results = perturbed_predictions(coco_gt, false_positives=0)
    results[3]["image_id"] = 999999
    with pytest.raises(PosekitError, match=r"999999 \(result 3\)"):
        coco_keypoint_stats(coco_gt, results)


def test_keypoint_length_mismatch_names_result_index(coco_gt: dict) -> None:
    results = perturbed_predictions(coco_gt, false_positives=0)
    results[5]["keypoints"] = results[5]["keypoints"][:-3]
    with pytest.raises(PosekitError, match="keypoint result 5 .* 48 keypoint values, expected 51"):
        coco_keypoint_stats(coco_gt, results)
    with pytest.raises(PosekitError, match="ground-truth annotation id 442619 .* expected 63"):
        coco_keypoint_stats(coco_gt, results[:1], sigmas=[0.05] * 21)
    with pytest.raises(PosekitError, match="keypoint result 1 is not a dict with"):
        coco_keypoint_stats(coco_gt, [results[0], {"image_id": 785, "score": 1.0}])
    with pytest.raises(PosekitError, match="keypoint result 0 has keypoints that are not numbers"):
        coco_keypoint_stats(coco_gt, [{**results[0], "keypoints": ["x"] * 51}])
    with pytest.raises(PosekitError, match="no OKS sigmas given for 5 keypoints"):
        evaluate_coco_keypoints(
            {"images": [], "annotations": [], "categories": [{"id": 1, "keypoints": list("abcde")}]}, []
        )


def test_inputs_are_not_modified(coco_gt: dict) -> None:
    results = perturbed_predictions(coco_gt)
    gt_before, results_before = copy.deepcopy(coco_gt), copy.deepcopy(results)
    coco_keypoint_stats(coco_gt, results)
    assert coco_gt == gt_before and results == results_before


def test_matching_ranks_worst_people_first(coco_gt: dict) -> None:
    results = perturbed_predictions(coco_gt, false_positives=0)
    wrecked = 2
    results[wrecked]["keypoints"] = (np.array(results[wrecked]["keypoints"]) + 200).tolist()
    matching = match_people(coco_gt, results)
    evaluated = [a for a in coco_gt["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    assert len(matching.oks) == len(evaluated)
    own = {a["id"]: i for i, a in enumerate(coco_gt["annotations"])}  # one prediction per annotation
    for ann_id, index in zip(matching.annotation_ids, matching.result_index, strict=True):
        if own[int(ann_id)] != wrecked:
            assert index == own[int(ann_id)]
    worst = rank_people(matching, limit=3)
    assert worst[0].annotation_id == coco_gt["annotations"][wrecked]["id"]
    assert worst[0].oks < 0.05 and worst[0].oks <= worst[1].oks <= worst[2].oks


def test_matching_is_one_to_one_and_counts_missed_people() -> None:
    kp_a = np.column_stack([np.linspace(10, 40, 17), np.full(17, 20.0), np.full(17, 2.0)])
    people = {1: (kp_a, [0, 0, 60, 60]), 2: (kp_a + [300, 300, 0], [300, 300, 60, 60]),
              3: (kp_a + [0, 300, 0], [0, 300, 60, 60])}  # fmt: skip
    gt = {
        "images": [{"id": 1, "width": 500, "height": 500}],
        "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)]}],
        "annotations": [
            {"id": i, "image_id": 1, "category_id": 1, "bbox": box, "area": 3000.0, "iscrowd": 0,
             "num_keypoints": 17, "keypoints": kp.ravel().tolist()}
            for i, (kp, box) in people.items()
        ],
    }  # fmt: skip

    def result(kp: np.ndarray, score: float) -> dict:
        return {"image_id": 1, "category_id": 1, "keypoints": kp.ravel().tolist(), "score": score}

    near_a, duplicate = result(kp_a + [1, 1, 0], 0.9), result(kp_a + [2, 0, 0], 0.8)
    poor_c = result(people[3][0][::-1] + [20, 30, 0], 0.1)  # C's own prediction, far off but on C
    matching = match_people(gt, [near_a, duplicate, poor_c])
    assert matching.result_index.tolist() == [0, -1, 2]  # the duplicate of A cannot take B
    assert matching.oks[0] > 0.9 and matching.oks[1] == 0 and 0 <= matching.oks[2] < 0.01
    assert [p.annotation_id for p in rank_people(matching)] == [2, 3, 1]
