"""``posekit val`` end to end through the real CLI entry point (posekit.cli.app.main)."""

from __future__ import annotations

import json

import pytest
from helpers import metrics_path

COCO_STATS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


@pytest.mark.slow
def test_val_predictions_file_without_model(tmp_path, shared_data, run_cli) -> None:
    data = shared_data / "coco" / "test_coco.json"
    gt = json.loads(data.read_text())
    perfect = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in gt["annotations"]
        if not a.get("iscrowd") and a["num_keypoints"] > 0
    ]
    (tmp_path / "results.json").write_text(json.dumps(perfect))
    args = ("val", "--data", data, "--predictions", tmp_path / "results.json", "--project", tmp_path / "runs")
    code, output = run_cli(*args)
    assert code == 0, output
    metrics = json.loads(metrics_path(output).read_text())
    assert metrics["coco"] == dict.fromkeys(COCO_STATS, 1.0)
    assert "AP50" in output and "Per keypoint" in output
    # a second run goes to a new folder
    code, output = run_cli(*args)
    assert code == 0 and metrics_path(output).parent.name == "exp2"


@pytest.mark.slow
def test_val_model_with_ground_truth_boxes(tmp_path, shared_data, tiny_model_dir, run_cli) -> None:
    data = shared_data / "coco" / "test_coco.json"
    code, output = run_cli(
        "val",
        "--model",
        tiny_model_dir,
        "--data",
        data,
        "--project",
        tmp_path,
        "--name",
        "gt",
        "--batch-size",
        "8",
    )
    assert code == 0, output
    path = metrics_path(output)
    metrics = json.loads(path.read_text())
    assert set(metrics["coco"]) == set(COCO_STATS)
    # the CLI reports exactly what the evaluator computes for this model, data and batch size
    from posekit.datasets.coco_keypoints import load_coco
    from posekit.engine.model_evaluation import evaluate_model
    from posekit.models.vitpose import load_model

    expected = evaluate_model(load_model(tiny_model_dir), load_coco(data), batch_size=8, device="cpu")
    assert metrics["coco"] == expected.report.metrics["coco"]
    assert metrics["run"]["boxes"] == {"source": "ground-truth"} and metrics["run"]["flip_test"] is True
    predictions = json.loads((path.parent / "predictions.json").read_text())
    assert len(predictions) == metrics["counts"]["predictions"] <= 12
    assert {p["image_id"] for p in predictions} == {785, 40083, 196141, 197388}
    assert {p["file"] for p in predictions if p["image_id"] == 785} == {"000000000785.jpg"}  # traceable
    assert all(len(p["keypoints"]) == 51 for p in predictions)
    assert (path.parent / "worst_people.jpg").is_file() and (path.parent / "per_keypoint.png").is_file()


@pytest.mark.slow
def test_val_model_with_detection_boxes(tmp_path, shared_data, tiny_model_dir, run_cli) -> None:
    coco = shared_data / "coco"
    code, output = run_cli(
        "val",
        "--model",
        tiny_model_dir,
        "--data",
        coco / "test_coco.json",
        "--boxes",
        coco / "test_coco_det_AP_H_56.json",
        "--no-flip",
        "--box-conf",
        "0.3",
        "--project",
        tmp_path,
    )
    assert code == 0, output
    metrics = json.loads(metrics_path(output).read_text())
    boxes = metrics["run"]["boxes"]
    assert boxes["source"] == "detections" and boxes["entries"] == 118 and boxes["score_threshold"] == 0.3
    assert boxes["boxes_used"] == 33 and boxes["dropped_below_threshold"] == 118 - 33
    assert metrics["run"]["flip_test"] is False
    assert 0 < metrics["counts"]["predictions"] <= 33
    assert "detections file" in metrics["box_source"]


def test_bad_predictions_file_is_one_clear_message(tmp_path, shared_data, run_cli) -> None:
    bad = [{"image_id": 785, "category_id": 1, "keypoints": [1, 2, 1] * 16, "score": 0.9}]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    code, output = run_cli(
        "val",
        "--data",
        shared_data / "coco" / "test_coco.json",
        "--predictions",
        tmp_path / "bad.json",
        "--project",
        tmp_path,
    )
    assert code == 1
    assert "bad.json" in output and "entry 0" in output and "'keypoints'" in output and "51 numbers" in output
    assert "Traceback" not in output
    assert not (tmp_path / "val").exists()  # nothing written for a failed evaluation


def test_bad_sigmas_and_missing_model_are_clear(tmp_path, shared_data, run_cli) -> None:
    data = shared_data / "coco" / "test_coco.json"
    code, output = run_cli("val", "--data", data, "--project", tmp_path)
    assert code == 1 and "--model" in output and "--predictions" in output and "Traceback" not in output
    (tmp_path / "r.json").write_text("[]")
    code, output = run_cli(
        "val",
        "--data",
        data,
        "--predictions",
        tmp_path / "r.json",
        "--sigmas",
        "0.1,0.2",
    )
    assert code == 1 and "--sigmas" in output and "expected 17" in output and "Traceback" not in output
