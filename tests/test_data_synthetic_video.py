"""The built-in video sample: deterministic, loads with posekit's COCO loader and passes check, people
walk smoothly, cross (the one behind gets v=1), leave and come back with the same track_id; the
'sample-video' name resolves to a cached copy. And the still sample is unchanged by the shared figures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from posekit.cli.app import app
from posekit.datasets.coco_keypoints import load_coco
from posekit.datasets.data_config import resolve_data
from posekit.samples import locate
from posekit.samples import sample_video as synthetic_video
from posekit.samples.sample_images import generate_sample
from posekit.samples.sample_video import SAMPLE_VIDEO_VERSION, generate_video
from posekit.tasks.check import check

FRAMES, SIZE = 40, (120, 160)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clip")
    generate_video(out, num_frames=FRAMES, image_size=SIZE, num_people=3, seed=1)
    return out


def _tracks(folder: Path) -> dict[int, dict[int, dict]]:
    """track_id -> image_id -> annotation."""
    tracks: dict[int, dict[int, dict]] = {}
    for a in json.loads((folder / "annotations.json").read_text())["annotations"]:
        tracks.setdefault(a["track_id"], {})[a["image_id"]] = a
    return tracks


def _keypoints(annotation: dict) -> np.ndarray:
    return np.array(annotation["keypoints"], np.float64).reshape(-1, 3)


def test_still_sample_is_unchanged(tmp_path: Path) -> None:
    """The figures shared with the video left the still sample (sample-v2) as it was: same JSON bytes as
    before the refactor (so a cached sample-v2 stays valid)."""
    generate_sample(tmp_path, num_train=3, num_val=1, seed=0)
    digest = hashlib.sha256((tmp_path / "train.json").read_bytes()).hexdigest()
    assert digest == "cf2cdfe83d6c69bcb88ac6e0ceec04a302271b88e962570d26f0ed2ddf269c2c"


def test_files_load_and_pass_check(clip: Path) -> None:
    assert sorted(p.name for p in (clip / "frames").iterdir()) == [
        f"{i:06d}.jpg" for i in range(1, FRAMES + 1)
    ]
    video = cv2.VideoCapture(str(clip / "video.mp4"))
    count, shape = 0, None
    while True:
        ok, frame = video.read()
        if not ok:
            break
        count, shape = count + 1, frame.shape
    video.release()
    assert count == FRAMES and shape == (*SIZE, 3)
    dataset = load_coco(clip / "annotations.json")
    assert len(dataset.images) == FRAMES and dataset.schema.name == "coco17"
    image = dataset.images[1]
    assert image.file_name == "frames/000001.jpg" and image.path == clip / "frames" / "000001.jpg"
    assert image.extra == {"vid_id": "000001", "frame_id": 1, "nframes": FRAMES, "is_labeled": True}
    assert all({"track_id", "bbox_head"} <= set(a.extra) for a in dataset.annotations)
    config = resolve_data(clip)
    assert config.val.json_path == config.train.json_path == clip / "annotations.json"
    report = check(clip)
    assert report.ok, [str(i) for i in report.errors]


def test_same_seed_same_files(clip: Path, tmp_path: Path) -> None:
    generate_video(tmp_path / "a", num_frames=FRAMES, image_size=SIZE, num_people=3, seed=1)
    generate_video(tmp_path / "b", num_frames=FRAMES, image_size=SIZE, num_people=3, seed=2)
    for name in ("annotations.json", "frames/000007.jpg", "video.mp4"):
        assert (tmp_path / "a" / name).read_bytes() == (clip / name).read_bytes()
    assert (tmp_path / "b" / "annotations.json").read_text() != (clip / "annotations.json").read_text()


def test_person_leaves_and_comes_back_with_its_track_id(clip: Path) -> None:
    frames = sorted(_tracks(clip)[0])
    gaps = [(a, b) for a, b in zip(frames, frames[1:], strict=False) if b > a + 1]
    assert len(gaps) == 1 and frames[0] == 1 and frames[-1] == FRAMES  # gone for a while, then back
    last, back = gaps[0]
    for image_id in (last, back):  # at the edge: partly outside, those joints unlabelled at (0, 0)
        k = _keypoints(_tracks(clip)[0][image_id])
        assert (k[:, 2] == 0).any() and np.all(k[k[:, 2] == 0, :2] == 0)
    width, height = SIZE[1], SIZE[0]
    for track in _tracks(clip).values():
        for a in track.values():
            k = _keypoints(a)
            labelled = k[k[:, 2] > 0]
            assert len(labelled) == a["num_keypoints"] >= 1
            assert np.all((labelled[:, :2] >= 0) & (labelled[:, :2] <= [width - 1, height - 1]))


def test_crossing_people_hide_each_others_joints(clip: Path) -> None:
    """A joint labelled occluded (v=1) other than an ear (ears are hidden by turning the head) inside
    another person's box in the same frame: someone in front covers it."""
    by_image: dict[int, list[dict]] = {}
    for track in _tracks(clip).values():
        for image_id, a in track.items():
            by_image.setdefault(image_id, []).append(a)
    covered = 0
    for people in by_image.values():
        for a in people:
            k = _keypoints(a)
            for j in np.flatnonzero(k[:, 2] == 1):
                if j in (3, 4):
                    continue
                for b in people:
                    x, y, w, h = b["bbox"]
                    covered += b is not a and x <= k[j, 0] <= x + w and y <= k[j, 1] <= y + h
    assert covered >= 10


def test_walks_are_smooth_and_sizes_are_the_still_samples(clip: Path) -> None:
    """Joints move (mean speed) and accelerate little (in head-box sides per frame, per frame^2); a fully
    visible person is 0.4-0.8 of the image height, like the still sample's multi-person images."""
    speeds, accelerations = [], []
    for track in _tracks(clip).values():
        for t, a in track.items():
            if t - 1 in track and t + 1 in track:
                before, now, after = (_keypoints(track[s]) for s in (t - 1, t, t + 1))
                ok = (before[:, 2] > 0) & (now[:, 2] > 0) & (after[:, 2] > 0)
                scale = a["bbox_head"][2]
                speeds += list(np.linalg.norm((after - before)[ok, :2] / 2, axis=1) / scale)
                accelerations += list(np.linalg.norm((after - 2 * now + before)[ok, :2], axis=1) / scale)
    assert np.mean(speeds) > 0.05 and np.max(accelerations) < 0.25
    assert np.mean(accelerations) < 0.2 * np.mean(speeds)
    heights = [
        a["bbox"][3] / SIZE[0]
        for track in _tracks(clip).values()
        for a in track.values()
        if a["num_keypoints"] == 17
    ]
    assert len(heights) > 20 and 0.35 <= min(heights) and max(heights) <= 0.85


def test_sample_video_name_resolves_to_a_cached_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path))
    made = []

    def tiny(out: Path) -> Path:  # the real default (100 frames of 640x480) takes seconds
        made.append(out)
        return generate_video(out, num_frames=4, image_size=(60, 80), num_people=2)

    monkeypatch.setattr(synthetic_video, "generate_video", tiny)
    config = resolve_data(locate("sample-video"))
    assert config.val.json_path == tmp_path / SAMPLE_VIDEO_VERSION / "annotations.json"
    assert resolve_data(locate("sample-video")).val.json_path == config.val.json_path and len(made) == 1
    result = CliRunner().invoke(app, ["check", "sample-video"])
    assert result.exit_code == 0, result.output
    assert len(made) == 1
