"""Per-keypoint accuracy and the evaluation report (metrics.json, per_keypoint.csv, plots, console)."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import make_keypoint_set, perturbed_predictions, reference
from rich.console import Console

from posekit.datasets.schema import KeypointSchema, get_preset
from posekit.metrics.coco_eval import COCO17_SIGMAS, COCO_STAT_NAMES
from posekit.metrics.keypoint_metrics import evaluate_predictions
from posekit.metrics.per_keypoint import per_keypoint_ap
from posekit.report.console import print_report
from posekit.report.files import write_report


@pytest.fixture(scope="module")
def coco_gt(shared_data: Path) -> dict:
    return json.loads((shared_data / "coco" / "test_coco.json").read_text())


def exact_predictions(gt: dict) -> list[dict]:
    """The labelled keypoints exactly; unlabelled ones at the box centre (inside the person, as models do)."""
    results = []
    for ann in gt["annotations"]:
        if ann["num_keypoints"] == 0 or ann["iscrowd"]:
            continue
        kp = np.array(ann["keypoints"], dtype=float).reshape(-1, 3)
        x, y, w, h = ann["bbox"]
        kp[kp[:, 2] == 0, :2] = x + w / 2, y + h / 2
        results.append(
            {"image_id": ann["image_id"], "category_id": 1, "keypoints": kp.ravel().tolist(), "score": 0.9}
        )
    return results


def test_per_keypoint_ap_perfect_and_wrecked_joints(coco_gt: dict) -> None:
    results = exact_predictions(coco_gt)
    wrist = 9  # left_wrist: moved by 40 px in every prediction
    for r in results:
        r["keypoints"][3 * wrist] += 40.0
    ap = per_keypoint_ap(coco_gt, results, COCO17_SIGMAS)
    assert ap[0] == pytest.approx(1.0)  # nose untouched
    assert np.nanargmin(ap) == wrist and ap[wrist] < 0.2
    report = evaluate_predictions(coco_gt, results, get_preset("coco17"))
    assert report.keypoints[0].name == "left_wrist"  # weakest first
    assert report.keypoints[0].oks_term < 0.5 < report.keypoints[-1].oks_term == pytest.approx(1.0)
    assert report.metrics["coco"]["AP"] < 1.0


def test_per_keypoint_ap_equals_pycocotools_with_other_joints_zeroed() -> None:
    gt, results = make_keypoint_set(500, seed=5)
    ours = per_keypoint_ap(gt, results, COCO17_SIGMAS)
    for joint in (0, 9, 16):
        alone = copy.deepcopy(gt)
        for ann in alone["annotations"]:
            kp = np.array(ann["keypoints"]).reshape(17, 3)
            kp[np.arange(17) != joint] = 0
            ann["keypoints"], ann["num_keypoints"] = kp.ravel().tolist(), int(kp[joint, 2] > 0)
        assert ours[joint] == pytest.approx(reference(alone, results).stats[0], abs=1e-9)


def test_report_files_and_keys(coco_gt: dict, tmp_path: Path) -> None:
    results = perturbed_predictions(coco_gt)
    report = evaluate_predictions(coco_gt, results, get_preset("coco17"), box_source="detections.json")
    paths = write_report(report, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["metrics.json", "per_keypoint.csv", "per_keypoint.png", "pr_curve.png"]
    )
    metrics = json.loads(paths["metrics.json"].read_text())
    assert list(metrics["coco"]) == list(COCO_STAT_NAMES)
    assert list(metrics["coco"].values()) == pytest.approx(list(reference(coco_gt, results).stats), abs=1e-9)
    assert metrics["oks"]["sigmas"] == pytest.approx(get_preset("coco17").sigmas)
    assert metrics["oks"]["sigmas_source"] == "schema 'coco17'" and len(metrics["oks"]["thresholds"]) == 10
    assert metrics["box_source"] == "detections.json"
    assert metrics["pck"]["thresholds"] == [0.05, 0.1, 0.2] and 0 < metrics["pck"]["PCK@0.1"] <= 1
    assert metrics["pckh"]["normaliser"].startswith("diagonal of the box around nose")
    assert (
        "does not change COCO AP" in metrics["confidence"]["note"]
        and metrics["confidence"]["threshold"] == 0.3
    )
    assert metrics["counts"]["people"] == 12 and metrics["counts"]["without_keypoints"] == 2
    assert len(metrics["pr_curves"]["precision@OKS0.5"]) == 101
    rows = list(csv.DictReader(io.StringIO(paths["per_keypoint.csv"].read_text())))
    assert len(rows) == 17 and [r["name"] for r in rows] == [r["name"] for r in metrics["per_keypoint"]]
    aps = [float(r["ap"]) for r in rows]
    assert aps == sorted(aps)
    for png in ("per_keypoint.png", "pr_curve.png"):
        assert paths[png].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    console = Console(file=io.StringIO(), width=140)
    print_report(report, console)
    text = console.file.getvalue()
    assert "AP50" in text and "left_wrist" in text and "does not change COCO AP" in text


def test_report_with_sigma_override_and_head_boxes(shared_data: Path) -> None:
    gt = json.loads((shared_data / "posetrack18" / "annotations" / "test_posetrack18_val.json").read_text())
    results = perturbed_predictions(gt, false_positives=0)
    sigmas = [0.05] * 17
    report = evaluate_predictions(gt, results, get_preset("coco17"), sigmas=sigmas, keypoint_ap=False)
    assert (
        report.metrics["oks"]["sigmas_source"] == "given (override)"
        and report.metrics["oks"]["sigmas"] == sigmas
    )
    assert report.metrics["pckh"]["normaliser"] == "0.6 x diagonal of the annotation's bbox_head"
    assert any("have no 'area'" in note for note in report.metrics["coco_notes"])  # PoseTrack has none
    assert 0 < report.metrics["pckh"]["value"] <= 1
    assert all(np.isnan(row.ap) for row in report.keypoints)  # skipped: sorted by PCK instead


def test_face_report_uses_interocular_nme(shared_data: Path) -> None:
    gt = json.loads((shared_data / "300w" / "test_300w.json").read_text())
    schema = KeypointSchema.from_names([f"kp{i}" for i in range(68)])
    rng = np.random.default_rng(0)
    results = []
    for ann in gt["annotations"]:
        kp = np.array(ann["keypoints"], dtype=float).reshape(68, 3)
        kp[:, :2] += rng.normal(0, 2, (68, 2))
        results.append(
            {
                "image_id": ann["image_id"],
                "category_id": ann["category_id"],
                "keypoints": kp.ravel().tolist(),
                "score": 1.0,
            }
        )
    metrics = evaluate_predictions(gt, results, schema, keypoint_ap=False).metrics
    assert (
        metrics["nme"]["normaliser"].startswith("inter-ocular")
        and "36 and 45" in metrics["nme"]["normaliser"]
    )
    assert 0 < metrics["nme"]["value"] < 0.1
    assert metrics["pckh"]["value"] is None and "no bbox_head" in metrics["pckh"]["reason"]
    assert metrics["epe"]["value"] == pytest.approx(2 * np.sqrt(np.pi / 2), rel=0.3)


def test_confidence_threshold_does_not_change_coco_ap(coco_gt: dict) -> None:
    results = perturbed_predictions(coco_gt, seed=4)
    low, high = (
        evaluate_predictions(coco_gt, results, get_preset("coco17"), conf=c, keypoint_ap=False).metrics
        for c in (0.1, 0.9)
    )
    assert low["coco"] == high["coco"]
    assert low["confidence"]["kept_fraction"] > high["confidence"]["kept_fraction"]
