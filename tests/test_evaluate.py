"""Predicting a data set: flip test, back-projection, GT pairing, results accepted by pycocotools, val()."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.datasets.coco_keypoints import load_coco
from posekit.datasets.records import KeypointAnnotations
from posekit.datasets.schema import KeypointSchema
from posekit.datasets.sigmas_file import parse_sigmas
from posekit.engine.dataset_prediction import predict_dataset
from posekit.engine.model_evaluation import evaluate_model
from posekit.errors import ConfigError
from posekit.tasks.val import val
from posekit.topdown.heatmap_codec import UDPHeatmapCodec, input_to_image
from posekit.topdown.processor import TopDownProcessor

INPUT, HEATMAP = (64, 48), (16, 12)


class _MockPose(torch.nn.Module):
    """A PoseModel stand-in: heatmaps = 4x4 average pooling of (red channel x per-keypoint weight map)."""

    def __init__(self, schema: KeypointSchema, weights: torch.Tensor) -> None:
        super().__init__()
        self.schema, self.weights = schema, torch.nn.Parameter(weights)  # (K, H, W)
        # posekit's decoder: its step stays within a heatmap pixel, so these noisy maps decode stably
        # (the reference's unclamped step amplifies the last-digit differences between batch sizes)
        self.processor = TopDownProcessor(
            input_size=INPUT, heatmap_size=HEATMAP, flip_index=schema.flip_index, decode="posekit"
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d((pixels[:, :1] + 3) * self.weights[None], 4)


def _equivariant_weights(schema: KeypointSchema, seed: int = 0) -> torch.Tensor:
    """Weights with w[flip(k)] == mirror(w[k]): the model then commutes with the flip and its pair swap."""
    w = torch.rand(schema.num_keypoints, *INPUT, generator=torch.Generator().manual_seed(seed))
    return (w + w[torch.as_tensor(schema.flip_index)].flip(-1)) / 2


@pytest.fixture(scope="module")
def coco(shared_data: Path) -> KeypointAnnotations:
    return load_coco(shared_data / "coco" / "test_coco.json")


def test_flip_test_is_a_no_op_for_a_flip_equivariant_model(coco: KeypointAnnotations) -> None:
    model = _MockPose(coco.schema, _equivariant_weights(coco.schema))
    plain = predict_dataset(model, coco, flip_test=False, device="cpu")
    flipped = predict_dataset(model, coco, flip_test=True, device="cpu")
    np.testing.assert_allclose(flipped.keypoints, plain.keypoints, atol=1e-3)
    np.testing.assert_allclose(flipped.keypoint_scores, plain.keypoint_scores, rtol=1e-5)
    # without the left/right swap the same model is no longer consistent: the pairs must be swapped
    unswapped = _MockPose(coco.schema.override(flip_pairs=[]), model.weights.data)
    assert not np.allclose(
        predict_dataset(unswapped, coco, device="cpu").keypoints, plain.keypoints, atol=1e-3
    )


def test_flip_test_averages_mirrored_heatmaps_with_pairs_swapped(coco: KeypointAnnotations) -> None:
    schema = coco.schema
    weights = torch.rand(schema.num_keypoints, *INPUT, generator=torch.Generator().manual_seed(1))
    model = _MockPose(schema, weights)
    out = predict_dataset(model, coco, flip_test=True, batch_size=5, device="cpu")
    # reference for the first person: crop, run both ways by hand, average in numpy
    from posekit.topdown.training_dataset import TopDownDataset

    item = TopDownDataset(coco, model.processor, train=False)[0]
    x = item["pixel_values"][None]
    with torch.no_grad():
        plain = model(x)[0].numpy()
        mirrored = model(x.flip(-1))[0].numpy()[schema.flip_index, :, ::-1]
    codec = UDPHeatmapCodec(INPUT, HEATMAP, decode="posekit")
    points, scores = codec.decode(((plain + mirrored) / 2)[None])
    expected = input_to_image(points, item["center"][None], item["scale"][None], INPUT)
    np.testing.assert_allclose(out.keypoints[0], expected[0], atol=1e-3)
    np.testing.assert_allclose(out.keypoint_scores[0], scores[0], rtol=1e-5)


def test_split_views_decode_the_crop_and_its_mirror_image_apart(coco: KeypointAnnotations) -> None:
    schema = coco.schema
    weights = torch.rand(schema.num_keypoints, *INPUT, generator=torch.Generator().manual_seed(2))
    model = _MockPose(schema, weights)
    out = predict_dataset(model, coco, split_views=True, device="cpu")
    plain = predict_dataset(model, coco, flip_test=False, device="cpu")
    np.testing.assert_array_equal(out.keypoints, plain.keypoints)
    from posekit.topdown.training_dataset import TopDownDataset

    item = TopDownDataset(coco, model.processor, train=False)[0]
    with torch.no_grad():
        mirrored = model(item["pixel_values"][None].flip(-1))[0].numpy()[schema.flip_index, :, ::-1]
    points, scores = model.processor.codec.decode(mirrored[None].copy())
    expected = input_to_image(points, item["center"][None], item["scale"][None], INPUT)
    np.testing.assert_allclose(out.mirrored_keypoints[0], expected[0], atol=1e-3)
    np.testing.assert_allclose(out.mirrored_keypoint_scores[0], scores[0], rtol=1e-5)
    # a model that commutes with the flip sees the same person both ways
    equivariant = predict_dataset(
        _MockPose(schema, _equivariant_weights(schema)), coco, split_views=True, device="cpu"
    )
    np.testing.assert_allclose(equivariant.mirrored_keypoints, equivariant.keypoints, atol=1e-3)
    assert plain.mirrored_keypoints is None


class _PeakModel(torch.nn.Module):
    """Heatmaps with one Gaussian at heatmap pixel (2, 3) for every keypoint, whatever the input (decoded
    by posekit's decoder, exact next to the border, where the reference's blur pulls points inwards)."""

    def __init__(self, schema: KeypointSchema) -> None:
        super().__init__()
        self.schema = schema
        self.processor = TopDownProcessor(
            input_size=INPUT, heatmap_size=HEATMAP, flip_index=schema.flip_index, decode="posekit"
        )
        ys, xs = np.mgrid[: HEATMAP[0], : HEATMAP[1]]
        peak = np.exp(-((xs - 2) ** 2 + (ys - 3) ** 2) / (2 * 2.0**2)).astype(np.float32)
        self.peak = torch.nn.Parameter(torch.from_numpy(peak))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.peak.expand(pixels.shape[0], self.schema.num_keypoints, *HEATMAP)


def test_back_projection_to_image_pixels_and_gt_pairing(coco: KeypointAnnotations) -> None:
    out = predict_dataset(_PeakModel(coco.schema), coco, flip_test=False, device="cpu")
    people = [a for a in coco.annotations if not a.iscrowd and a.keypoints[:, 2].any()]
    assert sorted(out.annotation_ids.tolist()) == sorted(a.id for a in people)
    assert out.skipped == {"no_keypoints": 2}
    assert np.all(out.box_scores == 1.0)
    for i, ann_id in enumerate(out.annotation_ids):
        person = next(a for a in people if a.id == ann_id)
        info = coco.images[person.image_id]
        # the box clipped to the image as mmpose's loader does: x2 = min(x + w, width - 1)
        x, y = max(person.bbox[0], 0), max(person.bbox[1], 0)
        w = min(person.bbox[0] + person.bbox[2], info.width - 1) - x
        h = min(person.bbox[1] + person.bbox[3], info.height - 1) - y
        # padded box, widened to the 3:4 input aspect ratio; UDP: heatmap pixel j <-> box edge + j / (n - 1)
        sw, sh = max(w, h * 0.75) * 1.25, max(h, w / 0.75) * 1.25
        expected = [x + w / 2 - sw / 2 + sw * 2 / 11, y + h / 2 - sh / 2 + sh * 3 / 15]
        np.testing.assert_allclose(out.keypoints[i], np.tile(expected, (17, 1)), atol=1e-3 * sw)
        assert out.areas[i] == pytest.approx(sw * sh)


def test_results_are_accepted_by_pycocotools_with_the_same_ap(coco: KeypointAnnotations) -> None:
    model = _MockPose(coco.schema, _equivariant_weights(coco.schema, seed=3))
    evaluation = evaluate_model(model, coco, flip_test=False, device="cpu")
    report, results = evaluation  # what training unpacks
    assert len(results) == 12 and {"image_id", "category_id", "keypoints", "score"} <= set(results[0])
    assert all(len(r["keypoints"]) == 51 for r in results)
    gt = COCO()
    gt.dataset = coco.to_coco_dict()
    gt.createIndex()
    dt = gt.loadRes(json.loads(json.dumps(results)))
    reference = COCOeval(gt, dt, "keypoints")
    reference.evaluate()
    reference.accumulate()
    reference.summarize()
    assert evaluation.summary["AP"] == pytest.approx(reference.stats[0], abs=1e-9)
    assert evaluation.summary["AR"] == pytest.approx(reference.stats[5], abs=1e-9)
    assert {"AP50", "AP75", "PCK@0.1", "mean_OKS"} <= set(evaluation.summary)
    assert [row.name for row in report.keypoints] and report.metrics["counts"]["matched_people"] == 12


def test_detection_boxes_are_rescored_and_suppressed(coco: KeypointAnnotations, shared_data: Path) -> None:
    from posekit.datasets.results_file import load_detections

    dets = load_detections(shared_data / "coco" / "test_coco_det_AP_H_56.json", coco.images)
    model = _PeakModel(coco.schema)
    boxes = [b for i in coco.images for b in [d for d in dets.boxes if d["image_id"] == i][:5]]  # 5 per image
    out = predict_dataset(model, coco, boxes=boxes, flip_test=False, device="cpu")
    assert (out.annotation_ids == -1).all() and len(out.image_ids) == 20
    np.testing.assert_allclose(np.sort(out.box_scores), np.sort([d["score"] for d in boxes]), rtol=1e-6)
    # every keypoint scores the peak value 1 > 0.2, so the instance score is the box score
    everything = out.to_results(coco.schema.sigmas_array, nms="none")
    np.testing.assert_allclose([r["score"] for r in everything], out.box_scores, rtol=1e-6)
    kept = out.to_results(coco.schema.sigmas_array)
    assert len(kept) < 20  # near-identical boxes of one person collapse under OKS-NMS
    assert {r["image_id"] for r in kept} == set(out.image_ids.tolist())
    best = {}
    for r in everything:
        best[r["image_id"]] = max(best.get(r["image_id"], 0), r["score"])
    assert all(any(r["score"] == best[i] for r in kept if r["image_id"] == i) for i in best)


def test_parse_sigmas(tmp_path: Path, coco: KeypointAnnotations) -> None:
    schema = coco.schema
    assert parse_sigmas(None, schema) is None
    assert parse_sigmas(",".join(["0.05"] * 17), schema) == [0.05] * 17
    (tmp_path / "s.json").write_text(json.dumps({"sigmas": [0.1] * 17}))
    assert parse_sigmas(str(tmp_path / "s.json"), schema) == [0.1] * 17
    with pytest.raises(ConfigError, match="expected 17 positive numbers"):
        parse_sigmas("0.1,0.2", schema)
    with pytest.raises(ConfigError, match="must be a number"):
        parse_sigmas("0.1,abc", schema)
    with pytest.raises(ConfigError, match="does not exist"):
        parse_sigmas(str(tmp_path / "missing.json"), schema)


@pytest.mark.slow
def test_val_perfect_predictions_file_gives_ap_1(tmp_path: Path, shared_data: Path) -> None:
    data = shared_data / "coco" / "test_coco.json"
    gt = load_coco(data).to_coco_dict()
    perfect = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in gt["annotations"]
        if not a["iscrowd"] and a["num_keypoints"] > 0
    ]
    (tmp_path / "perfect.json").write_text(json.dumps(perfect))
    sigmas = ",".join(["0.05"] * 17)
    metrics = val(
        data=data, predictions=tmp_path / "perfect.json", project=tmp_path, sigmas=sigmas, verbose=False
    )
    run = metrics.save_dir
    assert run == tmp_path / "val" / "exp"
    assert metrics.to_dict()["coco"] == {
        k: 1.0 for k in ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
    }
    assert metrics.to_dict()["oks"]["sigmas"] == [0.05] * 17
    written = json.loads((run / "metrics.json").read_text())
    assert written["coco"]["AP"] == 1.0 and written["run"]["predictions_file"].endswith("perfect.json")
    written = json.loads((run / "predictions.json").read_text())
    assert [{k: v for k, v in row.items() if k != "file"} for row in written] == perfect
    assert {row["file"] for row in written} == {"000000000785.jpg", "000000040083.jpg", "000000196141.jpg",
                                                 "000000197388.jpg"}  # fmt: skip
    assert (run / "per_keypoint.csv").is_file() and (run / "pr_curve.png").is_file()
    grid = cv2.imread(str(run / "worst_people.jpg"))  # 12 people: GT | prediction tiles of 256x192, 8 a row
    assert grid.shape == (3 * 256 + 2 * 2, 8 * 192 + 7 * 2, 3)


def test_val_in_memory_model_with_21_hand_keypoints(tmp_path: Path, shared_data: Path) -> None:
    data = shared_data / "onehand10k" / "test_onehand10k.json"
    schema = load_coco(data).schema
    assert schema.num_keypoints == 21 and schema.flip_pairs == []
    model = _MockPose(schema, _equivariant_weights(schema))
    metrics = val(model=model, data=data, project=tmp_path, device="cpu", verbose=False)
    assert set(metrics.to_dict()["coco"]) >= {"AP", "AR"} and len(metrics.to_dict()["per_keypoint"]) == 21
    assert metrics.to_dict()["run"]["model"] == "_MockPose" and metrics.to_dict()["counts"]["people"] == 4
    predictions = json.loads((metrics.save_dir / "predictions.json").read_text())
    assert len(predictions) == 4 and all(len(p["keypoints"]) == 63 for p in predictions)


def test_val_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="either a model"):
        val(data="sample")
    with pytest.raises(ConfigError, match="either a model"):
        val(model="vitpose-t", predictions=tmp_path / "p.json")
    with pytest.raises(ConfigError, match="--boxes needs --model"):
        val(predictions=tmp_path / "p.json", boxes=tmp_path / "b.json")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            val(predictions=tmp_path / "p.json", device="cuda")


@pytest.mark.slow
def test_pckh_uses_the_head_boxes_of_posetrack(tmp_path: Path, shared_data: Path) -> None:
    data = shared_data / "posetrack18" / "annotations" / "test_posetrack18_val.json"
    gt = load_coco(data).to_coco_dict()
    assert any("bbox_head" in a for a in gt["annotations"])
    predictions = []
    for a in gt["annotations"]:
        keypoints = np.array(a["keypoints"], float).reshape(-1, 3)
        x, y, w, h = a["bbox"]
        keypoints[keypoints[:, 2] == 0, :2] = x + w / 2, y + h / 2  # a model places every keypoint
        keypoints[:, 2] = 1.0
        predictions.append(
            {
                "image_id": a["image_id"],
                "category_id": 1,
                "keypoints": keypoints.ravel().tolist(),
                "score": 1.0,
            }
        )
    (tmp_path / "perfect.json").write_text(json.dumps(predictions))
    metrics = val(data=data, predictions=tmp_path / "perfect.json", project=tmp_path, verbose=False)
    assert metrics.to_dict()["pckh"]["value"] == 1.0
    assert "bbox_head" in metrics.to_dict()["pckh"]["normaliser"]
