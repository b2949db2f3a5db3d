"""What a run writes can be traced and read by any JSON parser: every prediction carries its source file
(relative to the source given) and frame, still images get ``predictions.jsonl`` with keypoint names as
videos do, colliding names keep their source path, and every JSON file is strict (NaN written as null)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import strict_json

import posekit
from posekit.fileio import atomic_write_json, json_text
from posekit.inference.video import VideoWriter


def test_json_writer_writes_nan_and_infinity_as_null(tmp_path: Path) -> None:
    value = {"AP": float("nan"), "list": [1.5, float("inf"), -float("inf")], "array": np.array([np.nan, 2.0])}
    atomic_write_json(tmp_path / "m.json", value)
    expected = {"AP": None, "list": [1.5, None, None], "array": [None, 2.0]}
    assert strict_json((tmp_path / "m.json").read_text()) == expected
    assert strict_json(json_text({"x": np.float32(0.5), "n": np.int64(3)})) == {"x": 0.5, "n": 3}
    with pytest.raises(ValueError, match="not JSON: NaN"):  # the parser used here does refuse NaN
        strict_json(json.dumps({"AP": math.nan}))


@pytest.fixture(scope="module")
def predictor(tiny_model_dir):
    return posekit.load(tiny_model_dir, device="cpu")


def _image(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((64, 48, 3), value, np.uint8))


def test_images_with_the_same_name_in_two_folders_keep_their_source_path(predictor, tmp_path) -> None:
    """PoseTrack-style frames: 000000.jpg in two folders, given as a glob."""
    for folder, value in (("seq_a", 60), ("seq_b", 200)):
        _image(tmp_path / "data" / folder / "000000.jpg", value)
    list(predictor.predict(str(tmp_path / "data" / "*" / "000000.jpg"), boxes="full", save=True,
                           project=tmp_path / "runs"))  # fmt: skip
    run = tmp_path / "runs" / "predict" / "exp"
    rows = strict_json((run / "predictions.json").read_text())
    assert [(r["file"], r["frame"]) for r in rows] == [("seq_a/000000.jpg", 0), ("seq_b/000000.jpg", 0)]
    assert all(len(r["keypoints"]) == 51 and "image_id" in r and "score" in r for r in rows)  # COCO results
    records = [strict_json(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert [(r["file"], r["frame"], r["drawn"]) for r in records] == [
        ("seq_a/000000.jpg", 0, "000000.jpg"),
        ("seq_b/000000.jpg", 0, "000000_1.jpg"),
    ]
    assert list(records[0]["people"][0]["keypoints"])[:3] == ["nose", "left_eye", "right_eye"]
    assert sorted(p.name for p in run.glob("*.jpg")) == ["000000.jpg", "000000_1.jpg"]


def test_a_folder_names_files_relative_to_it_and_val_reads_the_results(predictor, tmp_path, run_cli) -> None:
    """predictions.json stays a COCO results file: ``posekit val --predictions`` scores it."""
    folder = tmp_path / "images"
    for name, value in (("1.jpg", 90), ("2.png", 150)):
        _image(folder / name, value)
    list(predictor.predict(folder, boxes="full", save=True, project=tmp_path / "runs"))
    run = tmp_path / "runs" / "predict" / "exp"
    rows = strict_json((run / "predictions.json").read_text())
    assert [(r["image_id"], r["file"]) for r in rows] == [(1, "1.jpg"), (2, "2.png")]
    gt = {
        "images": [
            {"id": i, "file_name": f, "width": 48, "height": 64} for i, f in ((1, "1.jpg"), (2, "2.png"))
        ],
        "annotations": [
            {"id": i, "image_id": i, "category_id": 1, "bbox": [4, 4, 40, 56], "area": 2240, "iscrowd": 0,
             "num_keypoints": 2, "keypoints": [10, 10, 2, 20, 20, 2] + [0] * 45}
            for i in (1, 2)
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)]}],
    }  # fmt: skip
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    code, output = run_cli(
        "val", "--data", tmp_path / "gt.json", "--predictions", run / "predictions.json",
        "--project", tmp_path / "runs", "--worst", "0",
    )  # fmt: skip
    assert code == 0, output
    assert "2 predictions" in " ".join(output.split())


def test_video_frames_carry_the_video_file_and_their_frame(predictor, tmp_path, caplog) -> None:
    video = tmp_path / "clips" / "walk.mp4"
    video.parent.mkdir()
    with VideoWriter(video, 10.0, (64, 48)) as writer:
        for value in (40, 80, 120):
            writer.write(np.full((64, 48, 3), value, np.uint8))
    list(predictor.predict(video, boxes="full", smooth="offline", save=True, project=tmp_path / "runs"))
    assert "the clip has 3 frames, fewer than the Savitzky-Golay window of 9" in caplog.text
    run = tmp_path / "runs" / "predict" / "exp"
    rows = strict_json((run / "predictions.json").read_text())
    assert [(r["file"], r["frame"]) for r in rows] == [("walk.mp4", 0), ("walk.mp4", 1), ("walk.mp4", 2)]
    records = [strict_json(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == [0, 1, 2] and "drawn" not in records[0]


def test_a_folder_with_images_and_a_video_names_the_video(predictor, tmp_path, caplog) -> None:
    folder = tmp_path / "mixed"
    _image(folder / "a.jpg", 100)
    with VideoWriter(folder / "clip.mp4", 10.0, (64, 48)) as writer:
        writer.write(np.zeros((64, 48, 3), np.uint8))
    results = predictor.predict(folder, boxes="full", save=False)
    assert [r.file for r in results] == ["a.jpg"]
    assert "holds 1 image(s) and 1 video(s) (clip.mp4): the images are predicted, the videos are not" in (
        caplog.text
    )
