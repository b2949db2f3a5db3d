"""Real-time video: detection every N frames with boxes from keypoints between, early re-detection, new
people at the next detection, live sources that drop frames, read-ahead threads, frame ranges, and the
choice of precision and flip test."""

from __future__ import annotations

import json
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import posekit
from posekit.device import resolve_precision
from posekit.errors import ConfigError, ModelError
from posekit.inference.keyframes import Keyframes
from posekit.inference.pipeline import LiveStats, latest_only, read_ahead
from posekit.inference.predictor import Predictor
from posekit.inference.sources import resolve_source
from posekit.inference.tracking import OKSTracker
from posekit.inference.video import VideoWriter

#: How far the keypoint scores (heatmap peaks, in predictions.json) of a bf16 and an int8 evaluation may be
#: from fp32's. The scores, not the positions: this random model's heatmaps are nearly flat, so a rounding
#: can move a peak anywhere while the heatmap values stay close.
#: As fractions of the largest fp32 score (a model broken by the conversion is off by about all of it).
BF16_SCORE, INT8_SCORE = 0.05, 0.1


def _scores(run: Path) -> np.ndarray:
    """The keypoint scores of a val run's predictions.json (the same people in the same order each run)."""
    rows = json.loads((run / "predictions.json").read_text())
    return np.array([row["keypoints"] for row in rows]).reshape(len(rows), -1, 3)[..., 2]


@pytest.fixture(scope="module")
def predictor(tiny_model_dir):
    return posekit.load(tiny_model_dir, device="cpu").predictor


class FixedPoseRunner:
    """A stand-in model that finds the person where the box is: one heatmap peak (height ``peak``) per
    joint at fixed places in the middle of every crop (rows 3-12 of 16, columns 2-9 of 12)."""

    def __init__(self, like, peak=1.0):
        self.processor, self.schema, self.name, self.device, self.precision = (
            like.processor,
            like.schema,
            "fixed",
            "cpu",
            "fp32",
        )
        h, w = self.processor.heatmap_size
        ys, xs = np.mgrid[0:h, 0:w]
        rows, cols = np.linspace(3, 12, 17), np.tile([2.0, 9.0], 9)[:17]
        self.heatmaps = np.stack(
            [peak * np.exp(-((ys - r) ** 2 + (xs - c) ** 2) / 2) for r, c in zip(rows, cols, strict=True)]
        ).astype(np.float32)

    def __call__(self, pixel_values):
        return np.repeat(self.heatmaps[None], len(pixel_values), axis=0)


@pytest.fixture(scope="module")
def fixed(predictor):
    return Predictor(FixedPoseRunner(predictor.runner))


# ---------------------------------------------------------------------- boxes from keypoints
def test_keyframes_schedule_moved_boxes_key_frames_duplicates_and_loss():
    frames = Keyframes(det_every=3, thresholds=0.3, sigmas=np.full(4, 0.1), first=10)
    assert frames.min_keypoints == 2  # half of the 4 keypoints, rounded up
    assert frames.due(10) and [frames.scheduled(i) for i in range(10, 17)] == [1, 0, 0, 1, 0, 0, 1]
    detected = np.array([[0.0, 0, 40, 80], [200, 0, 40, 80]])
    first = frames.boxes((detected, np.array([0.9, 0.8])))
    assert first.track_ids.tolist() == [-1, -1] and frames.detections == 1
    person = np.array([[10.0, 10.0], [30.0, 70.0], [20.0, 40.0], [20.0, 20.0]])
    ids, sure = np.array([1, 2]), np.full((2, 4), 0.9)
    frames.follow(ids, first.boxes, first.scores, np.stack([person, person + [200, 0]]), sure)
    assert not frames.due(11)  # everyone followed: no early detection
    unmoved = frames.boxes(None)  # no earlier keypoints yet: the boxes stay where they were
    assert unmoved.track_ids.tolist() == [1, 2] and unmoved.scores.tolist() == [0.9, 0.8]
    np.testing.assert_allclose(unmoved.boxes, detected)
    # person 1's confident joints move by (+4, -2) on average (the last joint, unsure now, is left out)
    step = np.array([[3.0, -1.0], [5.0, -3.0], [4.0, -2.0], [50.0, 50.0]])
    scores = np.array([[0.9, 0.9, 0.9, 0.1], [0.9, 0.9, 0.9, 0.9]])
    frames.follow(ids, unmoved.boxes, unmoved.scores, np.stack([person + step, person + [200, 0]]), scores)
    moved = frames.boxes(None)
    np.testing.assert_allclose(moved.boxes, [[4.0, -2.0, 40.0, 80.0], [200.0, 0.0, 40.0, 80.0]])
    # key frame: the detector says who is there: the detection over person 1 takes its id, a new person
    # appears, and person 2 (no detection) is gone
    merged = frames.boxes(
        (np.array([[6.0, 4.0, 38.0, 74.0], [120.0, 0.0, 30.0, 60.0]]), np.array([0.7, 0.6]))
    )
    assert merged.track_ids.tolist() == [1, -1] and merged.scores.tolist() == [0.7, 0.6]
    np.testing.assert_allclose(merged.boxes, [[6.0, 4.0, 38.0, 74.0], [120.0, 0.0, 30.0, 60.0]])
    # two people with the same pose: the followed one stays, the new one goes, and the next frame is detected
    keep = frames.distinct(np.array([-1, 1]), np.stack([person, person]), np.full((2, 4), 0.9), merged.boxes)
    assert keep.tolist() == [False, True] and frames.due(14)
    frames.boxes((np.zeros((0, 4)), np.zeros(0)))
    assert not frames.due(14)
    # one confident joint of 4 (fewer than half): person 2 is lost, the next frame is detected early
    frames.follow(
        ids, first.boxes, np.ones(2), np.stack([person, person]), np.array([[0.9] * 4, [0.9, 0.1, 0.1, 0.1]])
    )
    assert frames.due(14) and frames.boxes(None).track_ids.tolist() == [1]


def test_oks_tracker_keeps_prior_ids_and_matches_the_others_to_unclaimed_tracks():
    tracker = OKSTracker(np.full(2, 0.1), conf=0.0)
    a, b = np.array([[10.0, 10.0], [10.0, 30.0]]), np.array([[100.0, 10.0], [100.0, 30.0]])
    boxes = np.array([[0.0, 0, 20, 40], [90, 0, 20, 40]])
    assert tracker.update(boxes, np.ones(2), np.stack([a, b]), np.ones((2, 2))).tolist() == [1, 2]
    # the person at b's place carries id 1; the unknown person at a matches track 1's last pose best, but
    # track 1 is claimed, and track 2 (last seen at b) is too far: a new id
    ids = tracker.update(boxes[::-1], np.ones(2), np.stack([b, a]), np.ones((2, 2)), np.array([1, -1]))
    assert ids.tolist() == [1, 3]
    assert tracker.update(boxes[:1], np.ones(1), a[None], np.ones((1, 2)), np.array([7])).tolist() == [7]
    assert tracker.update(boxes[1:], np.ones(1), b[None] + 500, np.ones((1, 2))).tolist() == [8]


# ---------------------------------------------------------------------- the predictor on a video
def marked_frames(count, size=(240, 320)):
    """Frames whose first pixel holds their index (for :class:`IndexedDetector`)."""
    for t in range(count):
        image = np.full((*size, 3), 30, np.uint8)
        image[0, 0, 0] = t
        yield image


class IndexedDetector:
    """Boxes of the frame whose index its first pixel holds; records the frames it was run on."""

    def __init__(self, people_at):
        self.people_at, self.calls = people_at, []

    def detect(self, images):
        out = []
        for image in images:
            t = int(image[0, 0, 0])
            self.calls.append(t)
            n = self.people_at(t)
            boxes = np.array([[20.0 + 100 * i + t, 40.0, 60.0, 150.0] for i in range(n)]).reshape(-1, 4)
            out.append((boxes, np.full(n, 0.9)))
        return out


def test_detection_every_n_frames_with_boxes_moved_by_the_keypoints_between(fixed):
    detector = IndexedDetector(lambda t: 3 if t >= 5 else 2)
    results = list(fixed.predict(marked_frames(12), detector=detector, det_every=4))
    assert detector.calls == [0, 4, 8]  # nobody lost: on schedule
    assert fixed.settings["det_every"] == 4 and fixed.settings["key_frames"] == 3
    assert [len(r) for r in results] == [2] * 8 + [3] * 4  # the third person appears at the next detection
    assert all(sorted(r.track_ids.tolist()) == [1, 2, 3][: len(r)] for r in results)  # ids kept throughout
    before: dict[int, np.ndarray] = {}  # each track's keypoints on the frame before ``previous``
    for previous, current in zip(results, results[1:], strict=False):
        if current.index % 4:  # between detections: each box moved by its person's mean keypoint motion
            for box, track in zip(current.boxes, current.track_ids.tolist(), strict=True):
                i = previous.track_ids.tolist().index(track)
                motion = (previous.keypoints[i] - before[track]).mean(axis=0) if track in before else 0.0
                np.testing.assert_allclose(
                    box, previous.boxes[i] + np.r_[motion * np.ones(2), 0, 0], atol=1e-9
                )
        before = dict(zip(previous.track_ids.tolist(), previous.keypoints, strict=True))


def test_a_lost_person_is_detected_again_on_the_next_frame(fixed):
    unsure = Predictor(FixedPoseRunner(fixed.runner, peak=0.2))  # every joint below conf 0.3
    detector = IndexedDetector(lambda t: 2)
    results = list(unsure.predict(marked_frames(6), detector=detector, det_every=4))
    assert detector.calls == [0, 1, 2, 3, 4, 5]  # everyone is lost on every frame: detected again
    assert all(len(r) == 2 for r in results)


def test_video_defaults_detect_every_few_frames_without_flip(fixed):
    from posekit.settings import DET_EVERY

    detector = IndexedDetector(lambda t: 1)
    results = list(fixed.predict(marked_frames(7), detector=detector))
    assert fixed.settings["det_every"] == DET_EVERY and fixed.settings["flip_test"] is False
    assert detector.calls == [t for t in range(7) if t % DET_EVERY == 0] and len(results) == 7
    image = next(marked_frames(1))
    fixed.predict(image, boxes="full")
    assert fixed.settings["flip_test"] is fixed.processor.flip_test is True
    assert fixed.settings["det_every"] == 1
    with pytest.raises(ConfigError, match="applies to videos"):
        fixed.predict(image, boxes="full", det_every=3)
    with pytest.raises(ConfigError, match="ByteTrack needs boxes on every frame"):
        fixed.predict(marked_frames(2), detector=detector, det_every=3, track=True, tracker="bytetrack")


def test_a_live_source_faster_than_the_model_drops_frames_and_reports_latency(fixed, monkeypatch):
    """Driven in lock step, with a fake clock: nothing depends on the machine's speed. The camera hands
    over frame 0, then waits until the model is busy with it; while the model works (30 ms of fake time),
    the camera delivers frames 1-119. Only the newest, 119, is waiting when the model is free again."""
    clock = types.SimpleNamespace(now=0.0)
    fake_time = types.SimpleNamespace(monotonic=lambda: clock.now, perf_counter=time.perf_counter)
    monkeypatch.setattr("posekit.inference.pipeline.time", fake_time)
    monkeypatch.setattr("posekit.inference.predictor.time", fake_time)
    busy, delivered = threading.Event(), threading.Event()

    class SlowDetector(IndexedDetector):
        def detect(self, images):
            busy.set()
            assert delivered.wait(timeout=60), "the camera thread never finished"  # a guard, not a timing
            clock.now += 0.03
            return super().detect(images)

    def camera(count=120):
        for t, image in enumerate(marked_frames(count)):
            yield image
            if t == 0:
                busy.wait(timeout=60)
        delivered.set()  # asked for the frame after the last: frame 119 is stored

    results = list(fixed.predict(camera(), detector=SlowDetector(lambda t: 1), live=True, det_every=1))
    stats = fixed.live_stats
    assert [r.index for r in results] == [0, 119]  # the first frame, then the newest; none queued
    assert stats.read == 120 and stats.delivered == 2 and stats.dropped == 118
    # frame 119 arrived while the model worked on frame 0: it waited for that, then for its own turn
    assert [r.latency for r in results] == pytest.approx([0.03, 0.06]) and len(stats.latencies) == 2
    assert stats.summary()["latency_ms_mean"] == pytest.approx(45, abs=1)


def test_latest_only_and_read_ahead_hand_errors_to_the_consumer():
    def broken():
        yield 1
        raise RuntimeError("camera unplugged")

    with pytest.raises(RuntimeError, match="unplugged"):
        list(read_ahead(broken(), depth=2))
    with pytest.raises(RuntimeError, match="unplugged"):
        list(c.item for c in latest_only(broken(), LiveStats()))
    assert list(read_ahead(iter(range(50)), depth=3)) == list(range(50))
    stream = read_ahead(iter(range(10**9)), depth=2)
    assert next(stream) == 0
    stream.close()  # stops the producer thread


def test_a_video_split_by_frame_index_reads_the_same_frames(tmp_path):
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 10.0, (48, 64)) as writer:
        for t in range(9):
            writer.write(np.full((48, 64, 3), 25 * t, np.uint8))
    whole = list(resolve_source(path))
    part = list(resolve_source(path).select(3, 7))
    assert [f.index for f in part] == [3, 4, 5, 6] and [f.name for f in part] == [f.name for f in whole[3:7]]
    for a, b in zip(part, whole[3:7], strict=True):
        np.testing.assert_array_equal(a.image, b.image)
    assert [f.index for f in resolve_source(path).select(7)] == [7, 8]


# ---------------------------------------------------------------------- precision
def test_precision_auto_follows_the_hardware_and_impossible_choices_are_refused(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr("posekit.device.cpu_has_fast_bf16", lambda: True)
    assert resolve_precision("auto", cpu) == "bf16" and resolve_precision(None, cpu, "onnx") == "fp32"
    monkeypatch.setattr("posekit.device.cpu_has_fast_bf16", lambda: False)
    assert resolve_precision("auto", cpu) == "fp32" and resolve_precision("fp16", cpu) == "fp16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", cuda) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Old GPU")
    assert resolve_precision("auto", cuda) == "fp16"
    with pytest.raises(ConfigError, match="Old GPU.*no bf16"):
        resolve_precision("bf16", cuda)
    with pytest.raises(ConfigError, match="on a GPU use bf16 or fp16"):
        resolve_precision("int8", cuda)
    with pytest.raises(ConfigError, match="no bf16 kernels"):
        resolve_precision("bf16", cpu, "onnx")
    with pytest.raises(ConfigError, match="unknown"):
        resolve_precision("int4", cpu)
    real_find_spec = __import__("importlib.util").util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec",
        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a),
    )
    with pytest.raises(
        ModelError, match=r"ONNX Runtime, which is not installed: pip install 'posekit\[export\]'"
    ):
        resolve_precision("int8", cpu)


@pytest.mark.slow
def test_predict_in_each_precision(predictor, tiny_sample, tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))
    image = np.random.default_rng(0).integers(0, 255, (96, 72, 3), dtype=np.uint8)
    box = np.array([[4.0, 4.0, 60.0, 88.0]])
    fp32 = predictor.predict(image, boxes=box)[0]
    bf16 = predictor.predict(image, boxes=box, precision="bf16")[0]
    assert predictor.settings["precision"] == "bf16" and predictor.runner.precision == "fp32"
    assert predictor.runner_for(
        "bf16"
    ).model.net.backbone.embeddings.patch_embeddings.projection.weight.dtype == (torch.bfloat16)
    assert np.abs(bf16.keypoint_scores - fp32.keypoint_scores).max() < 0.05
    int8 = predictor.predict(image, boxes=box, precision="int8", calibration=tiny_sample)[0]
    assert predictor.settings["precision"] == "int8" and int8.keypoints.shape == fp32.keypoints.shape
    assert predictor.runner_for("int8", tiny_sample) is predictor.runner_for(
        "int8", tiny_sample
    )  # built once
    assert len(list((tmp_path / "home" / "exports").iterdir())) == 1
    exported = posekit.load(predictor.runner_for("int8", tiny_sample).path)
    with pytest.raises(ConfigError, match="exported int8 model"):
        exported.predict(image, boxes=box, precision="fp32")


@pytest.mark.slow
def test_val_in_bf16_and_int8_records_the_precision(tiny_model_dir, tiny_sample, tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))
    common = dict(model=tiny_model_dir, data=tiny_sample, project=tmp_path, worst=0, verbose=False)
    fp32 = posekit.val(**common, precision="fp32")
    bf16 = posekit.val(**common, precision="bf16")
    int8 = posekit.val(**common, precision="int8", calibration=tiny_sample)
    assert [m.to_dict()["run"]["precision"] for m in (fp32, bf16, int8)] == ["fp32", "bf16", "int8"]
    assert "video" not in fp32.to_dict()
    reference = _scores(fp32.save_dir)
    for lower, tolerance in ((bf16, BF16_SCORE), (int8, INT8_SCORE)):  # the same people, close scores
        error = np.abs(_scores(lower.save_dir) - reference).max() / reference.max()
        assert error < tolerance
