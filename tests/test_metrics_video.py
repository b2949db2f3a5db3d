"""Video metrics on hand-computed cases: PoseTrack MOTA/MOTP/ID switches as poseval counts them, IDF1,
jitter; and on the synthetic video sample's ground truth used as predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posekit.errors import DataError, PosekitError
from posekit.metrics.video import evaluate_video
from posekit.samples.sample_video import generate_video

HEAD = [0.0, 0.0, 20.0, 20.0]  # head size 0.6 * sqrt(800) = 16.97 px: joints match within 8.49 px


def _video(people: dict[int, list[tuple[float, float] | None]], num_frames: int) -> dict:
    """A two-joint ground truth: ``people[track][t]`` is the position of joint "a" at frame t (None: not
    in the frame); joint "b" is 30 px below it. People are far apart, so only the right pairs match."""
    images = [
        {"id": t + 1, "file_name": f"{t}.jpg", "width": 640, "height": 480, "vid_id": "v", "frame_id": t}
        for t in range(num_frames)
    ]
    annotations = []
    for track, positions in people.items():
        for t, xy in enumerate(positions):
            if xy is None:
                continue
            x, y = xy
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": t + 1,
                    "category_id": 1,
                    "iscrowd": 0,
                    "track_id": track,
                    "bbox": [x - 10, y - 10, 20, 50],
                    "bbox_head": HEAD,
                    "area": 1000.0,
                    "num_keypoints": 2,
                    "keypoints": [x, y, 2, x, y + 30, 2],
                }
            )
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "keypoints": ["a", "b"]}]}


def _as_results(gt: dict) -> list[dict]:
    return [
        {
            "image_id": a["image_id"],
            "keypoints": list(a["keypoints"]),
            "score": 1.0,
            "track_id": a["track_id"],
        }
        for a in gt["annotations"]
    ]


def _walk(x0: float, frames: int) -> list[tuple[float, float] | None]:
    return [(x0 + 5.0 * t, 100.0) for t in range(frames)]


def test_ground_truth_as_predictions_is_perfect() -> None:
    gt = _video({1: _walk(50, 6), 2: _walk(300, 6)}, 6)
    m = evaluate_video(gt, _as_results(gt))
    assert (m["MOTA"], m["MOTP"], m["precision"], m["recall"], m["IDF1"]) == (1.0, 1.0, 1.0, 1.0, 1.0)
    assert m["id_switches"] == 0 and m["jitter"] == 0.0
    # poseval leaves out each video's last frame: 5 frames x 2 people per joint
    assert m["num_frames"] == 5 and m["per_joint"]["a"]["gt_joints"] == 10
    # jitter: 4 interior frames x 2 people x 2 joints
    assert m["jitter_count"] == 16


def test_swapped_ids_count_two_switches_per_joint() -> None:
    """Tracks 1 and 2 swap their ids from frame 3 on. Frames 0-4 count (poseval drops the last): at
    frame 3 each GT person is matched to the other prediction track than at frame 2, so motmetrics
    counts 2 switches per joint; frame 4 repeats frame 3's pairs (no switch). 2 joints: 4 switches.
    MOTA per joint = 1 - 2 / 10 = 0.8. IDF1: the best global pairing keeps 3 of each person's 6 frames
    (frames 0-2 or 3-5): IDTP = 6 of 12 GT and 12 predicted people, IDF1 = 2 * 6 / 24 = 0.5."""
    gt = _video({1: _walk(50, 6), 2: _walk(300, 6)}, 6)
    results = _as_results(gt)
    for row in results:
        if row["image_id"] >= 4:  # frames 3, 4, 5
            row["track_id"] = 3 - row["track_id"]
    m = evaluate_video(gt, results)
    assert m["id_switches"] == 4
    assert m["per_joint"]["a"]["id_switches"] == 2 and m["per_joint"]["b"]["id_switches"] == 2
    assert m["MOTA"] == pytest.approx(0.8)
    assert m["IDF1"] == pytest.approx(0.5) and m["IDP"] == pytest.approx(0.5)
    # jitter only over triples matched to one prediction track: frames (0,1,2) and (3,4,5)
    assert m["jitter_count"] == 2 * 2 * 2 and m["jitter"] == 0.0


def test_missed_person_and_false_positive_change_mota_by_their_share() -> None:
    """3 people, 6 frames, frames 0-4 evaluated: 15 GT joints per joint. A person missed in frame 2
    is 1 miss per joint (MOTA 1 - 1/15, recall 14/15; matched again at frame 3 to its old track: no
    switch); a false person in frame 1 is 1 false positive per joint (1 - 1/15, precision 15/16)."""
    gt = _video({1: _walk(50, 6), 2: _walk(250, 6), 3: _walk(450, 6)}, 6)
    exact = _as_results(gt)
    missed = [r for r in exact if not (r["image_id"] == 3 and r["track_id"] == 3)]
    ghost = {"image_id": 2, "keypoints": [600.0, 400.0, 0.9, 600.0, 430.0, 0.9], "score": 0.9, "track_id": 7}
    m = evaluate_video(gt, missed)
    assert m["MOTA"] == pytest.approx(1 - 1 / 15) and m["recall"] == pytest.approx(14 / 15)
    assert m["id_switches"] == 0 and m["per_joint"]["a"]["misses"] == 1
    m = evaluate_video(gt, [*exact, ghost])
    assert m["MOTA"] == pytest.approx(1 - 1 / 15) and m["precision"] == pytest.approx(15 / 16)
    m = evaluate_video(gt, [*missed, ghost])
    assert m["MOTA"] == pytest.approx(1 - 2 / 15)
    # the last frame is not evaluated (poseval's imgidxs[:-1]): a false person there changes nothing
    late = dict(ghost, image_id=6)
    assert evaluate_video(gt, [*exact, late])["MOTA"] == 1.0
    # ... but IDF1, over all labelled frames, counts it: IDTP 18, 18 GT, 19 predicted people
    assert evaluate_video(gt, [*exact, late])["IDF1"] == pytest.approx(36 / 37)


def test_frame_without_predictions_counts_as_poseval_writes_it() -> None:
    """poseval enters a frame with people but no prediction as one GT id 0 against one prediction id 0,
    unmatched, for every joint: 1 miss + 1 false positive out of 1 GT joint, whatever the people count.
    3 people, frame 2 empty: GT joints per joint = 4 x 3 + 1 = 13, errors 2: MOTA = 1 - 2/13."""
    gt = _video({1: _walk(50, 6), 2: _walk(250, 6), 3: _walk(450, 6)}, 6)
    m = evaluate_video(gt, [r for r in _as_results(gt) if r["image_id"] != 3])
    assert m["MOTA"] == pytest.approx(1 - 2 / 13)
    assert m["per_joint"]["b"]["gt_joints"] == 13 and m["per_joint"]["b"]["false_positives"] == 1


def test_jitter_of_known_noise() -> None:
    """Joint "a" predicted with +1/-1 px alternating in x: the acceleration error at every interior frame
    is |1 + 2 + 1| = 4 px/frame^2; joint "b" with a drift of t^2 / 2 px: acceleration error 1; a constant
    offset is no jitter. The GT walks at constant speed (its acceleration is 0)."""
    frames = 8
    gt = _video({1: _walk(50, frames)}, frames)
    results = _as_results(gt)
    for t, row in enumerate(results):
        row["keypoints"][0] += 1.0 if t % 2 == 0 else -1.0
        row["keypoints"][4] += 0.5 * t * t / 4  # quarter-strength drift: 0.25 px/frame^2, stays matched
        row["keypoints"][3] += 3.0  # constant offset of joint b in x
    m = evaluate_video(gt, results)
    assert m["per_joint"]["a"]["jitter"] == pytest.approx(4.0)
    assert m["per_joint"]["b"]["jitter"] == pytest.approx(0.25)
    assert m["jitter"] == pytest.approx((4.0 + 0.25) / 2) and m["jitter_count"] == 2 * (frames - 2)
    assert m["MOTA"] == 1.0


def test_keypoint_threshold_and_ignore_regions() -> None:
    gt = _video({1: _walk(50, 4), 2: _walk(300, 4)}, 4)
    results = _as_results(gt)
    results[0]["keypoints"][2] = 0.1  # joint a of person 1 in frame 0, low score
    assert evaluate_video(gt, results)["MOTA"] == 1.0
    m = evaluate_video(gt, results, keypoint_threshold=0.5)  # that joint is not predicted: 1 miss of 6
    assert m["per_joint"]["a"]["MOTA"] == pytest.approx(1 - 1 / 6) and m["per_joint"]["b"]["MOTA"] == 1.0
    # a false person inside an ignore region is dropped with its joints (shapely's `contains`)
    ghost = {"image_id": 1, "keypoints": [600.0, 400.0, 0.9, 600.0, 430.0, 0.9], "score": 0.9, "track_id": 7}
    assert evaluate_video(gt, [*_as_results(gt), ghost])["MOTA"] < 1.0
    gt["images"][0]["ignore_regions_x"] = [[550, 640, 640, 550]]
    gt["images"][0]["ignore_regions_y"] = [[350, 350, 480, 480]]
    assert evaluate_video(gt, [*_as_results(gt), ghost])["MOTA"] == 1.0


def test_bad_input_raises_one_clear_error() -> None:
    gt = _video({1: _walk(50, 3)}, 3)
    results = _as_results(gt)
    with pytest.raises(PosekitError, match="results row 0: 'track_id' must be an integer"):
        evaluate_video(gt, [{**results[0], "track_id": None}])
    with pytest.raises(PosekitError, match="results row 1: track_id 1 appears twice in its image"):
        evaluate_video(gt, [results[0], results[0]])
    with pytest.raises(PosekitError, match="results row 0: image_id 99 is not among the ground truth images"):
        evaluate_video(gt, [{**results[0], "image_id": 99}])
    for ann in gt["annotations"]:
        del ann["bbox_head"], ann["bbox"]
    with pytest.raises(DataError, match="ground truth annotation 1 has neither 'bbox_head' nor 'bbox'"):
        evaluate_video(gt, results)


def test_without_head_boxes_distances_are_measured_in_person_boxes() -> None:
    """Predictions 4 px to the right: within half a head size (16.97 px) with bbox_head; without it on one
    person, everyone's head size is 0.125 x the person box diagonal (0.125 x sqrt(20^2 + 50^2) = 6.73
    px), 4 px is 0.59 of it: no joint matches, MOTA = 1 - (10 misses + 10 false positives) / 10 = -1."""
    gt = _video({1: _walk(50, 6), 2: _walk(300, 6)}, 6)
    shifted = [
        {**row, "keypoints": [v + 4.0 if i % 3 == 0 else v for i, v in enumerate(row["keypoints"])]}
        for row in _as_results(gt)
    ]
    with_heads = evaluate_video(gt, shifted)
    assert with_heads["MOTA"] == 1.0
    assert with_heads["normaliser"] == "head size: 0.6 x the diagonal of bbox_head"
    del gt["annotations"][1]["bbox_head"]
    boxes = evaluate_video(gt, shifted)
    assert boxes["MOTA"] == -1.0 and boxes["per_joint"]["a"]["matches"] == 0
    assert boxes["normaliser"].startswith("0.125 x the diagonal of the person's bbox")
    assert "(1 of 12 labelled people have no bbox_head)" in boxes["normaliser"]
    assert evaluate_video(gt, _as_results(gt))["MOTA"] == 1.0  # the ground truth itself still matches


def test_synthetic_video_ground_truth_as_predictions(tmp_path: Path) -> None:
    """The sample video's people cross, leave and come back: its own ground truth scores perfectly
    (MOTP below 1: poseval's sum(D) adds the distances of every pair of crossing people's joints
    within half a head size)."""
    generate_video(tmp_path, num_frames=30, image_size=(120, 160), num_people=3, seed=1)
    gt = json.loads((tmp_path / "annotations.json").read_text())
    m = evaluate_video(gt, _as_results(gt))
    assert (m["MOTA"], m["IDF1"], m["id_switches"], m["jitter"]) == (1.0, 1.0, 0, 0.0)
    assert m["precision"] == 1.0 and m["recall"] == 1.0 and 0.9 < m["MOTP"] <= 1.0
    assert len(m["per_joint"]) == 17 and m["jitter_count"] > 100
    # noise on the predictions: jitter grows, MOTA stays near 1 (noise well within half a head size)
    rng = np.random.default_rng(0)
    noisy = _as_results(gt)
    for row in noisy:
        k = np.array(row["keypoints"]).reshape(-1, 3)
        k[k[:, 2] > 0, :2] += rng.normal(0, 0.5, (int((k[:, 2] > 0).sum()), 2))
        row["keypoints"] = k.ravel().tolist()
    m = evaluate_video(gt, noisy)
    # E|a_pred - a_gt| for i.i.d. N(0, 0.5^2) per axis: |n1 - 2 n2 + n3| has sigma 0.5 * sqrt(6) per
    # axis, so its 2D norm has mean 0.5 * sqrt(6) * sqrt(pi / 2) = 1.53
    assert m["jitter"] == pytest.approx(0.5 * np.sqrt(6) * np.sqrt(np.pi / 2), rel=0.1)
    assert m["MOTA"] > 0.95
