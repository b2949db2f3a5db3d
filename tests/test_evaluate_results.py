"""Detections and keypoint-results files: reading, filtering with counts, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets.results_file import load_detections, load_results, to_coco_results
from posekit.errors import PosekitError


def _write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


def test_shared_detections_file_loads(shared_data: Path) -> None:
    path = shared_data / "coco" / "test_coco_det_AP_H_56.json"
    raw = json.loads(path.read_text())
    dets = load_detections(path, image_ids={785, 40083, 196141, 197388})
    assert len(dets.boxes) == len(raw) == dets.num_entries
    assert dets.boxes[0] == {**raw[0], "bbox": raw[0]["bbox"]}
    strict = load_detections(path, score_threshold=0.5)
    assert len(strict.boxes) == sum(d["score"] >= 0.5 for d in raw)
    assert strict.num_below_threshold == sum(d["score"] < 0.5 for d in raw)
    assert strict.summary()["boxes_used"] == len(strict.boxes)


def test_detections_filtering_is_counted(tmp_path: Path) -> None:
    entries = [
        {"image_id": 1, "bbox": [0, 0, 10, 20], "score": 0.9, "category_id": 1},
        {"image_id": 1, "bbox": [0, 0, 10, 20], "score": 0.9, "category_id": 3},  # a car
        {"image_id": 1, "bbox": [5, 5, 10, 20], "score": 0.4},  # no category: kept
        {"image_id": 1, "bbox": [5, 5, 0, 20], "score": 0.8},  # empty box
        {"image_id": 7, "bbox": [5, 5, 10, 20], "score": 0.8},  # not in the data set
        {"image_id": 8, "bbox": [5, 5, 10, 20], "score": 0.8},
    ]
    with pytest.warns(UserWarning, match=r"2 detection\(s\) on 2 image id\(s\) not in the data set"):
        dets = load_detections(_write(tmp_path / "d.json", entries), image_ids=[1, 2])
    assert [b["score"] for b in dets.boxes] == [0.9, 0.4]
    assert all(b["category_id"] == 1 for b in dets.boxes)
    assert (dets.num_other_category, dets.num_degenerate, dets.num_unknown_image) == (1, 1, 2)
    assert dets.unknown_image_ids == [7, 8]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"bbox": [0, 0, 1, 1], "score": 1}, "entry 1: field 'image_id' must be an integer, got None"),
        ({"image_id": 1, "bbox": [0, 0, 1], "score": 1}, "entry 1: (image_id 1) field 'bbox' must be 4"),
        ({"image_id": 1, "bbox": [0, 0, 1, "a"], "score": 1}, "field 'bbox'"),
        (
            {"image_id": 1, "bbox": [0, 0, 1, 1]},
            "entry 1: (image_id 1) field 'score' must be a finite number",
        ),
        ({"image_id": 1, "bbox": [0, 0, 1, 1], "score": 1, "category_id": "person"}, "field 'category_id'"),
        ("box", "entry 1: expected an object, got str"),
    ],
)
def test_bad_detection_entries_name_index_and_field(tmp_path: Path, entry, message: str) -> None:
    good = {"image_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}
    path = _write(tmp_path / "dets.json", [good, entry])
    with pytest.raises(PosekitError) as info:
        load_detections(path)
    assert str(path) in str(info.value) and message in str(info.value)
    assert "COCO detection-results format" in str(info.value)


def test_unreadable_detection_files(tmp_path: Path) -> None:
    with pytest.raises(PosekitError, match="does not exist"):
        load_detections(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[{")
    with pytest.raises(PosekitError, match="malformed JSON at line 1"):
        load_detections(tmp_path / "bad.json")
    with pytest.raises(PosekitError, match="expected a JSON list of detections"):
        load_detections(_write(tmp_path / "dict.json", {"annotations": []}))
    with pytest.raises(PosekitError, match="none of the 1 detections is usable"):
        load_detections(
            _write(tmp_path / "low.json", [{"image_id": 1, "bbox": [0, 0, 1, 1], "score": 0.1}]), [1], 1, 0.5
        )


def test_results_round_trip(tmp_path: Path) -> None:
    kpts = np.arange(12, dtype=float).reshape(2, 3, 2)
    results = to_coco_results(np.array([5, 6]), kpts, np.full((2, 3), 0.5), np.array([0.9, 0.8]))
    assert results[0] == {
        "image_id": 5,
        "category_id": 1,
        "keypoints": [0, 1, 0.5, 2, 3, 0.5, 4, 5, 0.5],
        "score": 0.9,
    }
    loaded = load_results(_write(tmp_path / "r.json", results), num_keypoints=3, image_ids=[5, 6])
    assert loaded == results


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"keypoints": [1, 2, 3]}, "entry 0: (image_id 5) field 'keypoints' must be a list of 9 numbers"),
        ({"keypoints": [1, 2, 3] * 2 + [None] * 3}, "not a finite number"),
        ({"image_id": 99}, "entry 0: field 'image_id' 99 is not an image of the data set"),
        ({"score": "high"}, "field 'score'"),
        ({"category_id": 2}, "'category_id' is 2, the data set's is 1"),
    ],
)
def test_bad_results_name_index_and_field(tmp_path: Path, change: dict, message: str) -> None:
    entry = {"image_id": 5, "category_id": 1, "keypoints": [1.0, 2.0, 0.5] * 3, "score": 0.9, **change}
    path = _write(tmp_path / "r.json", [entry])
    with pytest.raises(PosekitError) as info:
        load_results(path, num_keypoints=3, image_ids=[5])
    assert str(path) in str(info.value) and message in str(info.value)
