"""``posekit.load(...).predict``: real images and video, generated images and video, boxes, thresholds,
tracking, smoothing and the files of a run, with a tiny random ViTPose."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

import posekit
from posekit.device import resolve_backend
from posekit.errors import ConfigError, PosekitError
from posekit.inference.predictor import parse_conf
from posekit.inference.video import VideoReader, VideoWriter

POSETRACK_VIDEO = "posetrack18/videos/000001_mpiinew_test/000001_mpiinew_test.mp4"
COCO_DETS = "coco/test_coco_det_AP_H_56.json"


@pytest.fixture(scope="module")
def predictor(tiny_model_dir):
    return posekit.load(tiny_model_dir, device="cpu")


def figure_frames(num_frames=12, size=(480, 640), seed=0):
    """Frames with three stick figures walking smoothly, and their true boxes (xywh) per frame."""
    rng = np.random.default_rng(seed)
    starts = np.array([[60.0, 120.0], [280.0, 160.0], [500.0, 100.0]])
    velocity = np.array([[4.0, 1.0], [-2.0, 2.0], [-3.0, -0.5]])
    for t in range(num_frames):
        image = np.full((*size, 3), 40, np.uint8)
        boxes = []
        for person, (x, y) in enumerate(starts + velocity * t):
            colour = [(230, 80, 80), (80, 230, 80), (80, 80, 230)][person]
            cv2.circle(image, (int(x + 30), int(y + 20)), 15, colour, -1)
            cv2.rectangle(image, (int(x + 15), int(y + 40)), (int(x + 45), int(y + 110)), colour, -1)
            cv2.line(image, (int(x + 20), int(y + 110)), (int(x + 5), int(y + 170)), colour, 6)
            cv2.line(image, (int(x + 40), int(y + 110)), (int(x + 55), int(y + 170)), colour, 6)
            boxes.append([x, y, 60.0, 175.0])
        yield image + rng.integers(0, 10, image.shape, dtype=np.uint8), np.array(boxes)


@pytest.fixture(scope="module")
def figure_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "walk.mp4"
    frames = list(figure_frames())
    with VideoWriter(path, 25.0, (480, 640)) as writer:
        for image, _ in frames:
            writer.write(image)
    return path, [boxes for _, boxes in frames]


class FakeDetector:
    """Returns the true boxes of the next frame, jittered and in shuffled order (like a detector)."""

    def __init__(self, boxes_per_frame):
        self.boxes, self.frame, self.rng = boxes_per_frame, 0, np.random.default_rng(1)
        self.order: list[np.ndarray] = []

    def detect(self, images):
        out = []
        for _ in images:
            order = self.rng.permutation(3)
            self.order.append(order)
            boxes = self.boxes[self.frame][order] + self.rng.normal(0, 1.0, (3, 4))
            out.append((boxes, np.full(3, 0.9)))
            self.frame += 1
        return out


# ---------------------------------------------------------------------- real data
def test_real_coco_images_with_a_detections_file(predictor, tiny_model_dir, shared_data, tmp_path):
    dets = json.loads((shared_data / COCO_DETS).read_text())
    results = predictor.predict(
        shared_data / "coco", boxes=shared_data / COCO_DETS, det_conf=0.3, save=True, project=tmp_path
    )
    assert isinstance(results, list) and len(results) == 4
    for r in results:
        expected = [d for d in dets if d["image_id"] == r.image_id and d["score"] >= 0.3]
        n, k = len(expected), 17
        assert r.image_id == int(r.name) and n > 0
        assert r.boxes.shape == (n, 4) and r.box_scores.shape == (n,) and r.scores.shape == (n,)
        assert (
            r.keypoints.shape == (n, k, 2) and r.keypoint_scores.shape == (n, k) and r.visible.shape == (n, k)
        )
        np.testing.assert_allclose(np.sort(r.box_scores), np.sort([d["score"] for d in expected]))
        np.testing.assert_array_equal(r.visible, r.keypoint_scores >= 0.3)
        assert (r.track_ids == -1).all()
        assert np.isfinite(r.keypoints).all()
    # with posekit's decoder (steps of at most one heatmap pixel; the reference's Newton step is unbounded
    # and this model is random), keypoints lie in the padded crop of their box (1.25 x, 3:4 aspect)
    bounded = posekit.load(tiny_model_dir, device="cpu")
    bounded.processor = bounded.processor.updated(decode="posekit")
    for r in bounded.predict(shared_data / "coco", boxes=shared_data / COCO_DETS, det_conf=0.3):
        centre, scale = bounded.processor.box_center_scale(r.boxes)
        scale = bounded.processor.input_scale(scale)
        margin = (
            scale[:, None] * (0.5 + 1 / 11) + 1e-6
        )  # DARK may step one heatmap pixel (1/11) past the edge
        assert (np.abs(r.keypoints - centre[:, None]) <= margin).all()
    run = tmp_path / "predict" / "exp"
    assert run.parent == tmp_path / "predict"
    coco = json.loads((run / "predictions.json").read_text())
    assert len(coco) == sum(len(r) for r in results) and len(coco[0]["keypoints"]) == 51
    assert {"image_id", "category_id", "keypoints", "score", "bbox"} <= set(coco[0])
    assert sorted(p.name for p in run.glob("*.jpg")) == sorted(f"{r.name}.jpg" for r in results)
    assert cv2.imread(str(run / f"{results[0].name}.jpg")).shape == results[0].image.shape


@pytest.mark.slow
def test_val_and_predict_give_identical_keypoints_on_the_same_ground_truth_boxes(
    tiny_model_dir, shared_data, tmp_path, run_cli
):
    """``posekit val --model M`` and ``posekit predict --model M --boxes <the GT file>`` share one
    processor: the same crops (GT boxes clipped to the image), flip test, decoding and rescoring. One
    crop per forward pass in both, so that the matrix kernels (whose rounding depends on the batch)
    see the same inputs: the written keypoints are then equal to the last digit."""
    from helpers import metrics_path

    data = shared_data / "coco" / "test_coco.json"
    code, output = run_cli(
        "val", "--model", tiny_model_dir, "--data", data, "--nms", "none",
        "--batch-size", "1", "--project", tmp_path / "runs", "--worst", "0",
    )  # fmt: skip
    assert code == 0, output
    val_rows = json.loads((metrics_path(output).parent / "predictions.json").read_text())
    code, output = run_cli(
        "predict", "--model", tiny_model_dir, "--source", data.parent,
        "--boxes", data, "--batch-size", "1", "--no-save", "--project", tmp_path / "runs",
    )  # fmt: skip
    assert code == 0, output
    predict_rows = json.loads((tmp_path / "runs" / "predict" / "exp" / "predictions.json").read_text())
    gt = json.loads(data.read_text())
    people = [a for a in gt["annotations"] if not a["iscrowd"] and a["num_keypoints"] > 0]
    assert len(val_rows) == len(people) == 12
    for row in val_rows:  # every person of val is a person of predict, with the same keypoints and score
        same = [
            p for p in predict_rows if p["image_id"] == row["image_id"] and p["keypoints"] == row["keypoints"]
        ]
        assert len(same) == 1, row["image_id"]
        assert same[0]["score"] == pytest.approx(row["score"], rel=1e-9)


def test_real_video_tracked_smoothed_and_saved(predictor, shared_data, tmp_path):
    video = shared_data / POSETRACK_VIDEO
    results = predictor.predict(
        video, boxes="full", smooth="offline", save=True, project=tmp_path, stream=True
    )
    assert not isinstance(results, list)  # stream=True: a generator
    results = list(results)
    assert len(results) == 5 and [r.index for r in results] == list(range(5))
    assert all(r.image.shape == (720, 1280, 3) and len(r) == 1 for r in results)
    assert [int(r.track_ids[0]) for r in results] == [1] * 5
    assert all(r.raw_keypoints is not None and r.raw_keypoints.shape == r.keypoints.shape for r in results)
    run = tmp_path / "predict" / "exp"
    reader = VideoReader(run / f"{video.stem}.mp4")
    assert reader.size == (720, 1280) and reader.fps == pytest.approx(VideoReader(video).fps)
    assert len(list(reader)) == 5
    lines = (run / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 5 and json.loads(lines[2])["frame"] == 2
    assert len(json.loads(lines[0])["people"][0]["keypoints"]) == 17
    assert len(json.loads((run / "predictions.json").read_text())) == 5
    assert set(json.loads((run / "jitter.json").read_text())) >= {"raw", "online", "offline", "fps"}


# ---------------------------------------------------------------------- generated data
def test_grey_rgba_and_colour_images_with_full_boxes(predictor, tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (90, 70, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a_grey.png"), rgb[..., 0])
    cv2.imwrite(str(tmp_path / "b_rgba.png"), np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)]))
    cv2.imwrite(str(tmp_path / "c_colour.jpg"), rgb)
    (tmp_path / "notes.txt").write_text("not an image")
    results = predictor.predict(tmp_path, boxes="full", conf="0.3,left_wrist=0.9")
    assert [r.name for r in results] == ["a_grey", "b_rgba", "c_colour"]
    for r in results:
        assert r.image.shape == (90, 70, 3) and r.image.dtype == np.uint8
        np.testing.assert_allclose(r.boxes, [[0, 0, 70, 90]])
        thresholds = np.full(17, 0.3)
        thresholds[9] = 0.9
        np.testing.assert_array_equal(r.visible, r.keypoint_scores >= thresholds)
    drawn = results[0].plot()
    assert drawn.shape == (90, 70, 3) and not np.shares_memory(drawn, results[0].image)


def test_crops_are_batched_across_frames_without_changing_results(predictor):
    images = [image for image, _ in figure_frames(2)]
    boxes = [b for _, b in figure_frames(2)]
    one = predictor.predict(images, boxes=boxes, batch_size=1)
    many = predictor.predict(images, boxes=boxes, batch_size=8)
    for a, b in zip(one, many, strict=True):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
        np.testing.assert_allclose(a.keypoint_scores, b.keypoint_scores, atol=1e-5)
    assert predictor.processor.flip_test  # the model's policy is the default
    plain = predictor.predict(images[:1], boxes=boxes[:1], flip=False)[0]
    assert plain.keypoints.shape == one[0].keypoints.shape
    assert not np.allclose(plain.keypoint_scores, one[0].keypoint_scores)


def test_flip_gap_is_half_the_distance_between_the_two_looks(predictor):
    """Heatmaps whose mirrored look sits (2, 3) heatmap pixels off the crop's own (a shift the codec keeps
    exactly), at 2 image pixels per input pixel: every keypoint's gap is half that in image pixels;
    predict records it with the flip test only."""
    from posekit.topdown.heatmap_codec import flip_heatmaps
    from posekit.topdown.processor import TopDownMeta

    processor = predictor.processor.updated(input_size=(256, 192), heatmap_size=(64, 48))  # room inside
    k = predictor.schema.num_keypoints
    (h, w), (hh, hw) = processor.input_size, processor.heatmap_size
    shift = np.array([2 * (w - 1) / (hw - 1), 3 * (h - 1) / (hh - 1)])  # input pixels
    rng = np.random.default_rng(0)
    own = np.stack([rng.uniform(40, w - 40 - shift[0], k), rng.uniform(40, h - 40 - shift[1], k)], axis=1)
    visible = np.ones(k)
    heatmaps = processor.encode(own, visible)[0][None]
    flipped = flip_heatmaps(processor.encode(own + shift, visible)[0][None], processor.flip_index)
    scales = np.array([[2.0 * (w - 1), 2.0 * (h - 1)]])  # 2 image pixels per input pixel
    meta = TopDownMeta(np.array([[100.0, 200.0]]), scales, np.zeros(1, int))
    gap = processor.flip_gap(heatmaps, flipped, meta)
    np.testing.assert_allclose(gap, np.hypot(*shift), rtol=1e-3)

    image, boxes = next(figure_frames(1))
    with_flip = predictor.predict(image, boxes=boxes, flip=True)[0]
    assert with_flip.flip_gap.shape == (3, k) and (with_flip.flip_gap >= 0).all()
    record = with_flip.to_dict()["people"][1]["keypoints"]["nose"]
    assert record[4] == pytest.approx(with_flip.flip_gap[1, 0], abs=1e-3)
    without = predictor.predict(image, boxes=boxes, flip=False)[0]
    assert without.flip_gap is None and len(without.to_dict()["people"][0]["keypoints"]["nose"]) == 4


def test_bytetrack_ids_are_stable_on_a_generated_video_with_a_detector(predictor, figure_video, tmp_path):
    path, true_boxes = figure_video
    detector = FakeDetector(true_boxes)
    results = list(
        predictor.predict(
            path, detector=detector, det_every=1, track=True, batch_size=4, save=True, project=tmp_path
        )
    )
    assert len(results) == 12 and predictor.predictor.settings["tracker"] == "bytetrack"
    assert (results[0].track_ids == -1).all()  # ByteTrack confirms a track on its second frame
    identity = {}
    for r, order in zip(results[1:], detector.order[1:], strict=True):
        for person, track in zip(order.tolist(), r.track_ids.tolist(), strict=True):
            assert identity.setdefault(person, track) == track
    assert sorted(identity.values()) == [1, 2, 3]
    reader = VideoReader((tmp_path / "predict" / "exp") / "walk.mp4")
    assert reader.fps == pytest.approx(25.0) and reader.size == (480, 640) and len(list(reader)) == 12
    assert len(((tmp_path / "predict" / "exp") / "predictions.jsonl").read_text().splitlines()) == 12
    coco = json.loads(((tmp_path / "predict" / "exp") / "predictions.json").read_text())
    assert len(coco) == 36 and {e.get("track_id") for e in coco} == {None, 1, 2, 3}


def test_oks_tracking_with_given_boxes_and_online_smoothing(predictor, figure_video):
    path, true_boxes = figure_video
    rng = np.random.default_rng(2)
    orders = [rng.permutation(3) for _ in true_boxes]
    boxes = [b[o] for b, o in zip(true_boxes, orders, strict=True)]
    results = list(predictor.predict(path, boxes=boxes, conf=0.0, smooth="online"))
    identity = {}
    for r, order in zip(results, orders, strict=True):
        assert (r.track_ids >= 1).all()
        for person, track in zip(order.tolist(), r.track_ids.tolist(), strict=True):
            assert identity.setdefault(person, track) == track
    assert sorted(identity.values()) == [1, 2, 3]
    np.testing.assert_array_equal(results[0].keypoints, results[0].raw_keypoints)  # filter starts at the data
    assert not np.allclose(results[-1].keypoints, results[-1].raw_keypoints)


def test_a_stream_stopped_early_keeps_what_was_written(predictor, figure_video, tmp_path):
    path, _ = figure_video
    stream = predictor.predict(path, boxes="full", save=True, project=tmp_path, stream=True)
    for _, _ in zip(range(3), stream, strict=False):
        pass
    stream.close()  # the consumer stops (as Ctrl-C on a webcam does)
    assert len(list(VideoReader((tmp_path / "predict" / "exp") / "walk.mp4"))) == 3
    assert len(((tmp_path / "predict" / "exp") / "predictions.jsonl").read_text().splitlines()) == 3
    assert len(json.loads(((tmp_path / "predict" / "exp") / "predictions.json").read_text())) == 3


# ---------------------------------------------------------------------- boxes, thresholds, results
def test_given_boxes_in_every_form(predictor):
    image = np.zeros((100, 80, 3), np.uint8)
    box = np.array([[10.0, 10.0, 40.0, 60.0, 0.7]])
    assert predictor.predict(image, boxes=box)[0].box_scores.tolist() == [0.7]
    by_name = predictor.predict([image, image], boxes={0: box[:, :4], 1: np.zeros((0, 4))})
    assert [len(r) for r in by_name] == [1, 0]
    assert by_name[1].keypoints.shape == (0, 17, 2) and by_name[1].to_coco() == []
    with pytest.raises(ConfigError, match="one array per image"):
        predictor.predict([image, image], boxes=[box])
    with pytest.raises(ConfigError, match="shape"):
        predictor.predict(image, boxes=np.zeros((2, 3)))
    with pytest.raises(PosekitError, match="none of the 2"):
        predictor.predict([image, image], boxes={"other": box})


def test_results_export_plain_json(predictor):
    image = np.zeros((100, 80, 3), np.uint8)
    r = predictor.predict(image, boxes=np.array([[10.0, 10.0, 40.0, 60.0]]), conf=0.0)[0]
    record = json.loads(r.to_json())
    assert record["width"] == 80 and record["height"] == 100 and len(record["people"]) == 1
    nose = record["people"][0]["keypoints"]["nose"]
    assert nose[:2] == pytest.approx(r.keypoints[0, 0], abs=0.01) and nose[3] is True
    coco = r.to_coco()[0]
    assert coco["bbox"] == [10.0, 10.0, 40.0, 60.0] and "track_id" not in coco
    assert coco["keypoints"][2] == pytest.approx(r.keypoint_scores[0, 0], abs=1e-3)


def test_parse_conf():
    schema = posekit.KeypointSchema.model_validate(
        {"names": ["nose", "left_wrist", "right_wrist"], "flip_pairs": [(1, 2)]}
    )
    np.testing.assert_allclose(parse_conf(0.4, schema), [0.4, 0.4, 0.4])
    np.testing.assert_allclose(parse_conf("0.3,left_wrist=0.5, right_wrist=0.6", schema), [0.3, 0.5, 0.6])
    np.testing.assert_allclose(parse_conf("left_wrist=0.5", schema), [0.3, 0.5, 0.3])
    np.testing.assert_allclose(parse_conf({"default": 0.2, "nose": 0.9}, schema), [0.9, 0.2, 0.2])
    with pytest.raises(ConfigError, match="unknown keypoint"):
        parse_conf("0.3,left_elbow=0.5", schema)
    with pytest.raises(ConfigError, match="not a number"):
        parse_conf("0.3,nose=high", schema)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        parse_conf(1.5, schema)


def test_bad_sources_and_options_are_clear_errors(predictor, tmp_path):
    with pytest.raises(PosekitError, match="does not exist"):
        predictor.predict(tmp_path / "missing.jpg", boxes="full")
    (tmp_path / "clip.mp4").write_bytes(b"")
    with pytest.raises(PosekitError, match="holds no image.*clip.mp4"):
        predictor.predict(tmp_path, boxes="full")
    with pytest.raises(PosekitError, match="cannot open video"):
        predictor.predict(tmp_path / "clip.mp4", boxes="full")
    with pytest.raises(PosekitError, match="no camera at that index"):
        predictor.predict("7", boxes="full")
    with pytest.raises(PosekitError, match="matches no image"):
        predictor.predict(str(tmp_path / "*.png"), boxes="full")
    with pytest.raises(ConfigError, match="smooth"):
        predictor.predict(np.zeros((8, 8, 3), np.uint8), boxes="full", smooth="kalman")
    with pytest.raises(PosekitError, match="image array"):
        predictor.predict(np.zeros((8, 8, 3), np.float32), boxes="full")


def test_video_writer_discards_a_failed_video(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), VideoWriter(path, 10.0, (32, 48)) as writer:
        writer.write(np.zeros((32, 48, 3), np.uint8))
        raise RuntimeError("boom")
    assert not path.exists() and not list(tmp_path.iterdir())
    with VideoWriter(path, 10.0, (32, 48)) as writer:
        for i in range(3):
            writer.write(np.full((64, 96, 3), 50 * i, np.uint8))  # resized to the declared size
    reader = VideoReader(path)
    assert reader.size == (32, 48) and reader.fps == pytest.approx(10.0) and len(list(reader)) == 3


# ---------------------------------------------------------------------- CLI
def test_cli_predict_writes_a_run_and_reports_errors(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from posekit.cli.app import app

    images = tmp_path / "images"
    images.mkdir()
    for i, (image, _) in enumerate(figure_frames(2)):
        cv2.imwrite(str(images / f"{i:03d}.jpg"), image)
    args = ["predict", "--model", str(tiny_model_dir), "--source", str(images), "--boxes", "full"]
    result = CliRunner().invoke(app, [*args, "--project", str(tmp_path / "runs"), "--name", "demo"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "predict" / "demo"
    assert "2 image(s)/frame(s), 2 person(s)" in result.output and str(run) in result.output
    backend = resolve_backend("auto", "auto", torch.device("cpu"))  # PyTorch here (tests: no OpenVINO)
    banner = f"runtime: torch ({backend.reason}), precision: {backend.precision}, flip test: True"
    assert banner in result.output
    written = ["000.jpg", "001.jpg", "predictions.json", "predictions.jsonl"]
    assert sorted(p.name for p in run.iterdir()) == written
    assert {e["image_id"] for e in json.loads((run / "predictions.json").read_text())} == {0, 1}
    bad = CliRunner().invoke(app, [*args, "--conf", "0.3,elbow=0.5", "--project", str(tmp_path / "runs")])
    assert isinstance(bad.exception, ConfigError) and "elbow" in str(bad.exception)


def test_cli_predict_takes_a_config_file_and_flags_win(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from posekit.cli.app import app

    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "000.jpg"), next(iter(figure_frames(1)))[0])
    config = tmp_path / "predict.yaml"
    config.write_text("boxes: full\nname: fromyaml\nsave: false\nflip: false\none_euro: {min_cutoff: 1.0}\n")
    args = ["predict", "--model", str(tiny_model_dir), "--source", str(images), "--config", str(config)]
    result = CliRunner().invoke(app, [*args, "--flip", "--project", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "flip test: True, boxes: full" in result.output  # --flip over the file's flip: false
    run = tmp_path / "runs" / "predict" / "fromyaml"
    assert sorted(p.name for p in run.iterdir()) == ["predictions.json", "predictions.jsonl"]  # save: false
    config.write_text("boxes: full\nconf: .nan\ndet_every: 0\n")
    bad = CliRunner().invoke(app, args)
    assert isinstance(bad.exception, ConfigError)
    message = str(bad.exception)
    assert str(config) in message and "--conf" in message and "--det-every: invalid value 0" in message
