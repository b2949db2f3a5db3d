"""``posekit val`` on video data (track ids): the video metrics in metrics.json, from a results file's track
ids or from a model's predictions tracked frame by frame; precision and flip test recorded."""

from __future__ import annotations

import json

import pytest
from helpers import metrics_path, strict_json

from posekit.metrics.video import evaluate_video
from posekit.samples.sample_video import generate_video

VIDEO_KEYS = {"MOTA", "MOTP", "id_switches", "IDF1", "jitter"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("clip")
    generate_video(out, num_frames=8, image_size=(120, 160), num_people=2, seed=3)
    return out / "annotations.json"


def _ground_truth_results(gt, swap_from=None):
    """The ground truth as results; from frame ``swap_from`` on, the two people's track ids exchanged."""
    rows = []
    for a in gt["annotations"]:
        track = a["track_id"]
        if swap_from is not None and a["image_id"] >= swap_from:
            track = 1 - track
        rows.append(
            {
                "image_id": a["image_id"],
                "category_id": 1,
                "keypoints": a["keypoints"],
                "score": 1.0,
                "track_id": track,
            }
        )
    return rows


@pytest.mark.slow
def test_val_writes_the_video_metrics_of_a_tracked_results_file(clip, tmp_path, run_cli):
    gt = json.loads(clip.read_text())
    for name, rows in (("perfect", _ground_truth_results(gt)), ("swapped", _ground_truth_results(gt, 5))):
        (tmp_path / f"{name}.json").write_text(json.dumps(rows))
        code, output = run_cli(
            "val", "--data", clip, "--predictions", tmp_path / f"{name}.json", "--project", tmp_path / "runs",
            "--name", name, "--worst", "0",
        )  # fmt: skip
        assert code == 0, output
        video = json.loads(metrics_path(output).read_text())["video"]
        assert VIDEO_KEYS <= set(video) and video["track_ids"] == "track_id of the predictions file"
        reference = evaluate_video(gt, rows)  # the metric function itself, on the same rows
        assert {k: video[k] for k in VIDEO_KEYS} == pytest.approx({k: reference[k] for k in VIDEO_KEYS})
        assert "Video (1 video(s)" in output and "id_switches" in output
        if name == "perfect":
            assert video["MOTA"] == 1.0 and video["id_switches"] == 0 and video["IDF1"] == 1.0
            assert video["jitter"] == pytest.approx(0.0, abs=1e-6)
        else:
            assert video["id_switches"] > 0 and video["IDF1"] < 1.0


def test_results_without_track_ids_get_coco_metrics_and_a_note(clip, tmp_path, run_cli):
    rows = [
        {k: v for k, v in row.items() if k != "track_id"}
        for row in _ground_truth_results(json.loads(clip.read_text()))
    ]
    (tmp_path / "plain.json").write_text(json.dumps(rows))
    code, output = run_cli(
        "val", "--data", clip, "--predictions", tmp_path / "plain.json", "--project", tmp_path, "--worst", "0"
    )
    assert code == 0, output
    metrics = json.loads(metrics_path(output).read_text())
    assert metrics["coco"]["AP"] == 1.0 and "no track_id" in metrics["video"]["skipped"]
    assert "video metrics skipped" in output


@pytest.mark.slow
def test_val_of_a_model_on_video_data_tracks_its_predictions(clip, tiny_model_dir, tmp_path, run_cli):
    code, output = run_cli(
        "val", "--model", tiny_model_dir, "--data", clip, "--project", tmp_path, "--worst", "0",
        "--precision", "fp32",
    )  # fmt: skip
    assert code == 0, output
    metrics = json.loads(metrics_path(output).read_text())
    assert VIDEO_KEYS <= set(metrics["video"]) and "OKS matching" in metrics["video"]["track_ids"]
    assert (
        metrics["run"]["flip_test"] is False and metrics["run"]["precision"] == "fp32"
    )  # as predict on video
    rows = json.loads((metrics_path(output).parent / "predictions.json").read_text())
    assert len(rows) == len(
        [a for a in json.loads(clip.read_text())["annotations"] if a["num_keypoints"] > 0]
    )


@pytest.mark.slow
def test_video_ground_truth_without_head_boxes_is_measured_in_person_boxes(clip, tmp_path, run_cli):
    gt = json.loads(clip.read_text())
    for ann in gt["annotations"]:
        ann.pop("bbox_head", None)
    headless = tmp_path / "headless.json"
    headless.write_text(json.dumps(gt))
    (tmp_path / "perfect.json").write_text(json.dumps(_ground_truth_results(gt)))
    code, output = run_cli(
        "val", "--data", headless, "--predictions", tmp_path / "perfect.json", "--project", tmp_path,
        "--worst", "0",
    )  # fmt: skip
    assert code == 0, output
    video = json.loads(metrics_path(output).read_text())["video"]
    assert video["MOTA"] == 1.0
    assert video["normaliser"].startswith("0.125 x the diagonal of the person's bbox")
    assert "person's bbox" in " ".join(output.split())


@pytest.mark.slow
def test_posetrack_sample_with_detections_says_why_there_are_no_video_metrics(
    shared_data, tiny_model_dir, tmp_path, run_cli
):
    """The PoseTrack sample holds one labelled frame of each of 3 videos: nothing to track, said in one line
    (it printed "0 frames, MOTA nan"); the COCO metrics are still computed."""
    root = shared_data / "posetrack18"
    data = tmp_path / "posetrack.yaml"
    data.write_text(f"path: {root}\nval: {{json: annotations/test_posetrack18_val.json, images: .}}\n")
    code, output = run_cli(
        "val", "--model", tiny_model_dir, "--data", data, "--project", tmp_path, "--worst", "0",
        "--boxes", root / "annotations" / "test_posetrack18_human_detections.json",
    )  # fmt: skip
    assert code == 0, output
    metrics = json.loads(metrics_path(output).read_text())
    assert "none of the 3 video(s) has two or more frames" in metrics["video"]["skipped"]
    assert "MOTA" not in metrics["video"] and metrics["coco"]["AP"] >= 0.0
    assert "video metrics skipped" in output and "0 frames" not in output
    for written in metrics_path(output).parent.glob("*.json"):  # strict JSON: a NaN is written as null
        strict_json(written.read_text())
