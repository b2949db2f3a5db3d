"""Track ids: ByteTrack (trackers package) on boxes and OKS matching on keypoints, people moving smoothly."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from posekit.datasets.schema import get_preset
from posekit.errors import ConfigError
from posekit.inference.tracking import ByteTracker, OKSTracker, auto_tracker_kind, box_iou, make_tracker

SIGMAS = get_preset("coco17").sigmas_array
TEMPLATE = np.random.default_rng(0).uniform([0, 0], [60, 150], size=(17, 2))  # a person's joints in its box


def moving_people(num_frames: int = 25, seed: int = 0):
    """Three people walking on crossing-free smooth paths; per frame: boxes, keypoints, true identities
    (the detection order is shuffled every frame, as detectors do)."""
    rng = np.random.default_rng(seed)
    starts = np.array([[40.0, 100.0], [260.0, 120.0], [480.0, 90.0]])
    velocity = np.array([[3.0, 0.5], [-1.0, 1.5], [-2.5, -0.5]])
    for t in range(num_frames):
        order = rng.permutation(3)
        corners = starts[order] + velocity[order] * t
        boxes = np.concatenate([corners, np.tile([60.0, 150.0], (3, 1))], axis=1)
        keypoints = corners[:, None] + TEMPLATE[None] + rng.normal(0, 1.0, (3, 17, 2))
        yield boxes, keypoints, order


@pytest.mark.parametrize("tracker_kind", ["bytetrack", "oks"])
def test_ids_follow_people_across_frames(tracker_kind):
    tracker = make_tracker(tracker_kind, fps=30.0, sigmas=SIGMAS)
    identity_to_id: dict[int, int] = {}
    for t, (boxes, keypoints, who) in enumerate(moving_people()):
        ids = tracker.update(boxes, np.full(3, 0.9), keypoints, np.full((3, 17), 0.9))
        assert ids.shape == (3,) and ids.dtype == np.int64
        if tracker_kind == "bytetrack" and t == 0:
            assert (ids == -1).all()  # a new ByteTrack track is confirmed on its second match
            continue
        assert (ids >= 1).all() and len(set(ids.tolist())) == 3
        for person, track in zip(who.tolist(), ids.tolist(), strict=True):
            assert identity_to_id.setdefault(person, track) == track, f"frame {t}: id switch"
    assert sorted(identity_to_id.values()) == [1, 2, 3]


def test_bytetrack_keeps_id_through_a_missed_frame_and_ignores_low_scores_for_new_tracks():
    tracker = ByteTracker(fps=30.0)
    frames = list(moving_people(10))
    seen = {}
    for t, (boxes, keypoints, who) in enumerate(frames):
        keep = np.arange(3) if t != 5 else np.flatnonzero(who != 0)  # person 0 missed in frame 5
        ids = tracker.update(boxes[keep], np.full(len(keep), 0.9), keypoints[keep], np.ones((len(keep), 17)))
        if t >= 1:
            for person, track in zip(who[keep].tolist(), ids.tolist(), strict=True):
                assert seen.setdefault(person, track) == track
    low = ByteTracker(fps=30.0)
    for boxes, keypoints, _ in moving_people(4):
        assert (low.update(boxes, np.full(3, 0.2), keypoints, np.ones((3, 17))) == -1).all()


def test_oks_tracker_new_person_gets_new_id_and_lost_tracks_expire():
    tracker = OKSTracker(SIGMAS, max_age=2)
    boxes, keypoints, _ = next(moving_people())
    first = tracker.update(boxes[:2], np.ones(2), keypoints[:2], np.ones((2, 17)))
    assert first.tolist() == [1, 2]
    both = tracker.update(boxes, np.ones(3), keypoints, np.ones((3, 17)))
    assert both.tolist() == [1, 2, 3]
    for _ in range(3):  # nobody for longer than max_age: tracks end
        assert tracker.update(
            np.zeros((0, 4)), np.zeros(0), np.zeros((0, 17, 2)), np.zeros((0, 17))
        ).shape == (0,)
    again = tracker.update(boxes[:1], np.ones(1), keypoints[:1], np.ones((1, 17)))
    assert again.tolist() == [4]


def test_oks_tracker_matches_on_visible_joints_only():
    tracker = OKSTracker(SIGMAS, conf=0.5)
    boxes, keypoints, _ = next(moving_people())
    tracker.update(boxes[:1], np.ones(1), keypoints[:1], np.ones((1, 17)))
    moved = keypoints[:1].copy()
    moved[0, 9:] += 400  # joints that are far off but invisible must not break the match
    scores = np.ones((1, 17))
    scores[0, 9:] = 0.1
    assert tracker.update(boxes[:1], np.ones(1), moved, scores).tolist() == [1]


def test_unknown_tracker_is_a_config_error():
    with pytest.raises(ConfigError, match="bytetrack"):
        make_tracker("sort", 30.0, SIGMAS)


def test_box_iou():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], float)
    b = np.array([[5, 5, 15, 15], [0, 0, 10, 10], [20, 20, 30, 30]], float)
    expected = [[25 / 175, 1.0, 0.0], [0.0, 0.0, 0.0]]
    np.testing.assert_allclose(box_iou(a, b), expected)


def test_without_the_track_extra_auto_tracking_falls_back_to_oks(monkeypatch, caplog):
    """``trackers`` is optional (it brings the GUI OpenCV): auto picks OKS with a warning, an explicit
    'bytetrack' is one clear error naming the extra."""
    assert auto_tracker_kind("detector") == "bytetrack" and auto_tracker_kind("given") == "oks"
    monkeypatch.setitem(sys.modules, "trackers", None)  # find_spec() then reports it missing
    with caplog.at_level("WARNING"):
        assert auto_tracker_kind("detector") == "oks"
    assert "posekit[track]" in caplog.text
    with pytest.raises(ConfigError, match=r"posekit\[track\]"):
        make_tracker("bytetrack", 30.0, SIGMAS)
    tracker = make_tracker("oks", 30.0, SIGMAS)
    boxes = np.array([[10, 10, 50, 100]], float)
    keypoints = np.random.default_rng(0).uniform(10, 50, (1, 17, 2))
    ids = [tracker.update(boxes + t, np.ones(1), keypoints + t, np.ones((1, 17)))[0] for t in range(3)]
    assert ids == [1, 1, 1]
