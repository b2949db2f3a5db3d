"""The built-in synthetic sample: deterministic, passes posekit check, has occluded and out-of-image
keypoints, large figures that overlap little, left limbs in cool and right limbs in warm colours; cached
once per version."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.datasets.data_config import resolve_data
from posekit.samples import locate
from posekit.samples.sample_images import SAMPLE_VERSION, generate_sample, sample_data_path
from posekit.tasks.check import check


def test_same_seed_same_files(tmp_path: Path) -> None:
    a = generate_sample(tmp_path / "a", num_train=6, num_val=2, seed=3)
    b = generate_sample(tmp_path / "b", num_train=6, num_val=2, seed=3)
    c = generate_sample(tmp_path / "c", num_train=6, num_val=2, seed=4)
    for split in ("train.json", "val.json"):
        assert (a.parent / split).read_text() == (b.parent / split).read_text()
    assert (a.parent / "train.json").read_text() != (c.parent / "train.json").read_text()
    assert (a.parent / "images/train/000001.jpg").read_bytes() == (
        b.parent / "images/train/000001.jpg"
    ).read_bytes()
    assert len(json.loads((a.parent / "val.json").read_text())["images"]) == 2


def test_sample_passes_check(sample_data: Path) -> None:
    report = check(sample_data)
    assert report.ok, [str(i) for i in report.errors]
    train, val = report.summary["files"]
    assert (train["images"], val["images"]) == (24, 8) and train["schema"] == "coco17"
    assert set(train["people_per_image"]) <= {"1", "2", "3", "4"}
    assert train["box_size_px"]["p50"] >= 60


def test_people_overlap_little(sample_data: Path) -> None:
    """No person's box is mostly someone else's: a crop shows one main figure (touching is allowed)."""
    ds = resolve_data(sample_data).load_split("train")
    by_image: dict[int, list[np.ndarray]] = {}
    for a in ds.annotations:
        x, y, w, h = a.bbox
        by_image.setdefault(a.image_id, []).append(np.array([x, y, x + w, y + h]))
    shares = []
    for boxes in by_image.values():
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                iw, ih = np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2])
                smaller = min(np.prod(a[2:] - a[:2]), np.prod(b[2:] - b[:2]))
                shares.append(max(iw, 0) * max(ih, 0) / smaller)
    assert len(shares) > 10 and max(shares) <= 0.3


def test_sample_content(sample_data: Path) -> None:
    ds = resolve_data(sample_data).load_split("train")
    kps = np.stack([a.keypoints for a in ds.annotations])
    v = kps[..., 2]
    assert (v == 1).any() and (v == 0).any() and (v == 2).mean() > 0.7
    heights = np.array([a.bbox[3] for a in ds.annotations])
    assert np.mean(heights >= 60) > 0.85
    for a in ds.annotations:
        x, y, w, h = a.bbox
        labelled = a.keypoints[a.keypoints[:, 2] > 0]
        assert np.all((labelled[:, 0] >= x - 1) & (labelled[:, 0] <= x + w + 1))
        assert np.all((labelled[:, 1] >= y - 1) & (labelled[:, 1] <= y + h + 1))
    names = ds.schema.names
    hues = {"left": [], "right": []}
    for a in ds.annotations:
        image = cv2.cvtColor(cv2.imread(str(ds.images[a.image_id].path)), cv2.COLOR_BGR2HSV)
        for side in hues:
            elbow, shoulder = names.index(f"{side}_elbow"), names.index(f"{side}_shoulder")
            if a.keypoints[elbow, 2] == 2 and a.keypoints[shoulder, 2] == 2:
                mx, my = ((a.keypoints[elbow, :2] + a.keypoints[shoulder, :2]) / 2).round().astype(int)
                hues[side].append(int(image[my, mx, 0]))
    left, right = np.array(hues["left"]), np.array(hues["right"])
    assert len(left) > 10 and len(right) > 10
    assert np.mean((left >= 80) & (left <= 130)) > 0.7  # cyan..blue upper arms
    assert np.mean((right <= 28) | (right >= 170)) > 0.7  # red..yellow upper arms


def test_sample_data_path_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path))
    calls = []

    def small(out: Path) -> Path:
        calls.append(out)
        return generate_sample(out, num_train=2, num_val=1)

    monkeypatch.setattr("posekit.samples.sample_images.generate_sample", small)
    path = sample_data_path()
    assert path == tmp_path / SAMPLE_VERSION / "data.yaml" and path.is_file()
    assert sample_data_path() == path and len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [SAMPLE_VERSION]  # no temporary folder left
    assert resolve_data(locate("sample")).train.json_path == tmp_path / SAMPLE_VERSION / "train.json"


def test_sample_data_path_race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process finishing first wins; ours is discarded, nothing half-written is ever visible."""
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path))
    final = tmp_path / SAMPLE_VERSION

    def racing(out: Path) -> Path:
        generate_sample(final, num_train=1, num_val=1, seed=7)  # the other process
        return generate_sample(out, num_train=2, num_val=1)

    monkeypatch.setattr("posekit.samples.sample_images.generate_sample", racing)
    assert sample_data_path() == final / "data.yaml"
    assert "seed 7" in (final / "data.yaml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [SAMPLE_VERSION]
