"""Top-down dataset: image reading, items, targets, reproducibility, detection boxes, real data."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from posekit.datasets.coco_keypoints import load_coco
from posekit.datasets.data_config import resolve_data
from posekit.datasets.image_reader import read_image
from posekit.errors import DataError
from posekit.topdown.augment import AugmentConfig
from posekit.topdown.heatmap_codec import input_to_image
from posekit.topdown.processor import TopDownProcessor
from posekit.topdown.training_dataset import TopDownDataset, collate

NAMES = ["head", "left_hand", "right_hand", "left_foot", "right_foot"]  # a custom 5-keypoint set
COLOURS = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)], np.uint8)
NO_COLOUR = AugmentConfig(colour_prob=0.0)


def sized(h: int, w: int) -> TopDownProcessor:
    """A processor for an h x w input with heatmaps a quarter of its size."""
    return TopDownProcessor(input_size=(h, w), heatmap_size=(h // 4, w // 4))


def _person(rng: np.random.Generator, cx: float, cy: float) -> np.ndarray:
    offsets = np.array([(0, -50), (-30, -10), (30, -10), (-15, 50), (15, 50)], float)
    kps = np.zeros((5, 3))
    kps[:, :2] = [cx, cy] + offsets + rng.uniform(-5, 5, (5, 2))
    kps[:, 2] = 2
    return kps


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two PNG images with people drawn as one coloured disk per keypoint; plus a crowd region and
    a person without labelled keypoints. Returns the JSON path."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    images, annotations = [], []
    people = {1: [(60, 80), (150, 90)], 2: [(100, 100)]}
    for image_id, centres in people.items():
        canvas = np.full((200, 240, 3), 40, np.uint8)
        for cx, cy in centres:
            kps = _person(rng, cx, cy)
            if len(annotations) == 1:
                kps[4, 2] = 0  # one unlabelled keypoint
            for (x, y, v), colour in zip(kps, COLOURS, strict=True):
                if v > 0:
                    cv2.circle(canvas, (round(x), round(y)), 7, tuple(int(c) for c in colour), -1)
            x0, y0 = kps[:, :2].min(axis=0) - 8
            x1, y1 = kps[:, :2].max(axis=0) + 8
            annotations.append(
                {
                    "id": 10 + len(annotations),
                    "image_id": image_id,
                    "category_id": 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                    "keypoints": kps.ravel().tolist(),
                    "num_keypoints": int((kps[:, 2] > 0).sum()),
                }
            )
        cv2.imwrite(str(root / f"{image_id}.png"), canvas[..., ::-1])
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": 240, "height": 200})
    annotations.append(
        {
            "id": 90,
            "image_id": 2,
            "category_id": 1,
            "bbox": [0, 0, 50, 50],
            "area": 2500,
            "iscrowd": 1,
            "keypoints": [0] * 15,
            "num_keypoints": 0,
        }
    )
    annotations.append(
        {
            "id": 91,
            "image_id": 2,
            "category_id": 1,
            "bbox": [180, 10, 40, 60],
            "area": 2400,
            "iscrowd": 0,
            "keypoints": [0] * 15,
            "num_keypoints": 0,
        }
    )
    categories = [
        {"id": 1, "name": "person", "keypoints": NAMES, "skeleton": [[1, 2], [1, 3], [1, 4], [1, 5]]}
    ]
    path = root / "tiny.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


# ---------------------------------------------------------------------- images
def test_read_image_converts_grey_rgba_and_16_bit(tmp_path):
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 200, 30
    cv2.imwrite(str(tmp_path / "rgb.png"), rgb[..., ::-1])
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.png"), rgb)
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((10, 12), 77, np.uint8))
    grey = read_image(tmp_path / "grey.png")
    assert grey.shape == (10, 12, 3) and grey.dtype == np.uint8 and np.all(grey == 77)
    rgba = np.dstack([rgb[..., ::-1], np.full((10, 12), 128, np.uint8)])
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), rgb)
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((10, 12, 3), 200 * 257, np.uint16))
    deep = read_image(tmp_path / "deep.png")
    assert deep.dtype == np.uint8 and np.all(deep == 200)


def test_read_image_names_the_missing_or_corrupt_file(tmp_path):
    with pytest.raises(DataError, match=r"not found: .*nope\.jpg"):
        read_image(tmp_path / "nope.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataError, match=r"cannot decode image .*bad\.jpg"):
        read_image(tmp_path / "bad.jpg")


def test_processor_normalises_with_imagenet_statistics_and_draws_back():
    processor = TopDownProcessor()
    image = np.zeros((4, 6, 3), np.uint8)
    image[..., 1] = 255
    image[0, 0] = (12, 34, 56)
    pixels = processor.normalize(image)
    assert pixels.shape == (3, 4, 6) and pixels.dtype == np.float32
    mean, std = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])  # ImageNet, 0-255
    np.testing.assert_allclose(pixels[:, 0, 1], (np.array([0, 255, 0]) - mean) / std, rtol=1e-5)
    np.testing.assert_allclose(pixels[:, 0, 0], (np.array([12, 34, 56]) - mean) / std, rtol=1e-5)
    batch = processor.normalize(np.stack([image, image[::-1]]))
    assert batch.shape == (2, 3, 4, 6)
    np.testing.assert_array_equal(batch[0], pixels)
    np.testing.assert_array_equal(processor.to_images(batch)[1], image[::-1])


# ---------------------------------------------------------------------- training items
def test_training_items_skip_crowd_and_unlabelled_people_and_carry_targets(tiny_data):
    data = load_coco(tiny_data)
    dataset = TopDownDataset(data, sized(128, 96), augment=NO_COLOUR)
    assert len(dataset) == 3
    assert dataset.skipped == {"crowd": 1, "no_keypoints": 1}
    item = dataset[0]
    assert item["pixel_values"].shape == (3, 128, 96)
    assert item["heatmaps"].shape == (5, 32, 24) and item["target_weights"].shape == (5,)
    assert item["keypoints"].shape == (5, 3)
    assert item["box_score"] == 1.0 and item["annotation_id"] in (10, 11, 12)
    second = dataset[1]  # the person with an unlabelled right foot gets weight 0 there
    unlabelled = NAMES.index("left_foot" if dataset.crop(1)["flip"] else "right_foot")
    assert second["annotation_id"] == 11 and second["target_weights"][unlabelled] == 0


def test_same_seed_epoch_index_gives_identical_items_and_epochs_differ(tiny_data):
    data = load_coco(tiny_data)
    first, second = TopDownDataset(data, seed=7), TopDownDataset(data, seed=7)
    for index in range(len(first)):
        a, b = first[index], second[index]
        for key in ("pixel_values", "heatmaps", "target_weights", "keypoints", "center", "scale"):
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]))
    changed = []
    for epoch in (1, 2):
        second.set_epoch(epoch)
        changed.append(not torch.equal(first[0]["pixel_values"], second[0]["pixel_values"]))
    assert all(changed)
    second.set_epoch(0)
    assert torch.equal(first[2]["pixel_values"], second[2]["pixel_values"])  # order does not matter


def test_warped_keypoints_land_on_their_image_content_and_heatmap_peaks(tiny_data):
    """Each keypoint's coloured disk is under the warped keypoint (flip relabels left/right), and the
    heatmap target peaks there."""
    data = load_coco(tiny_data)
    dataset = TopDownDataset(data, sized(128, 96), augment=NO_COLOUR, seed=3)
    codec = dataset.processor.updated(decode="posekit").codec  # exact up to the borders
    flips = set()
    for epoch in range(6):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            crop = dataset.crop(index)
            item = dataset[index]
            flips.add(crop["flip"])
            original = dataset.people[index].keypoints
            source = original[data.schema.flip_index] if crop["flip"] else original
            kps = crop["keypoints"]
            decoded, _ = codec.decode(item["heatmaps"][None].numpy())
            for k in range(5):
                x, y, v = kps[k]
                inside = 2 <= x <= 93 and 2 <= y <= 125
                if v > 0 and inside:
                    pixel = crop["image"][round(y), round(x)]
                    expected = COLOURS[NAMES.index(data.schema.names[k])] if not crop["flip"] else None
                    colour_index = int(np.argmin(np.abs(COLOURS.astype(int) - pixel).sum(axis=1)))
                    assert np.abs(COLOURS[colour_index].astype(int) - pixel).max() < 60, (epoch, index, k)
                    # the disk under keypoint k is the one drawn for the source keypoint
                    assert colour_index == int(np.flatnonzero((original[:, :2] == source[k, :2]).all(1))[0])
                    if expected is not None:
                        np.testing.assert_array_equal(COLOURS[colour_index], expected)
                    assert item["target_weights"][k] == 1
                    np.testing.assert_allclose(decoded[0, k], kps[k, :2], atol=0.05)
    assert flips == {True, False}


def test_loader_batches_with_collate(tiny_data):
    dataset = TopDownDataset(load_coco(tiny_data), sized(64, 48))
    batch = next(iter(DataLoader(dataset, batch_size=3, collate_fn=collate)))
    assert batch["pixel_values"].shape == (3, 3, 64, 48) and batch["heatmaps"].shape == (3, 5, 16, 12)
    assert batch["image_id"].dtype == torch.int64 and batch["annotation_id"].tolist() == [10, 11, 12]
    assert batch["center"].shape == (3, 2) and batch["scale"].dtype == torch.float64
    assert batch["bbox"].shape == (3, 4) and batch["box_score"].tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------------- evaluation items
def test_eval_items_map_back_to_the_image(tiny_data):
    data = load_coco(tiny_data)
    dataset = TopDownDataset(data, train=False, augment=AugmentConfig())  # augment ignored for eval
    for index in range(len(dataset)):
        item = dataset[index]
        back = input_to_image(
            item["keypoints"][None, :, :2].numpy(),
            item["center"][None],
            item["scale"][None],
            dataset.processor.input_size,
        )
        np.testing.assert_allclose(back[0], dataset.people[index].keypoints[:, :2], atol=1e-3)
        assert item["scale"][0] / item["scale"][1] == pytest.approx(192 / 256)
    again = dataset[0]["pixel_values"]
    dataset.set_epoch(5)
    assert torch.equal(dataset[0]["pixel_values"], again)


def test_detection_boxes_give_one_item_per_box(tiny_data):
    data = load_coco(tiny_data)
    boxes = [
        {"image_id": 1, "bbox": [10, 10, 100, 150], "score": 0.9, "category_id": 1},
        {"image_id": 2, "bbox": [50, 40, 90, 120], "score": 0.4},
        {"image_id": 99, "bbox": [0, 0, 10, 10], "score": 0.5},
        {"image_id": 1, "bbox": [5, 5, 0, 10], "score": 0.5},
    ]
    dataset = TopDownDataset(data, boxes=boxes, train=False)
    assert len(dataset) == 2 and dataset.skipped == {"unknown_image": 1, "empty_box": 1}
    item = dataset[1]
    assert "heatmaps" not in item and item["annotation_id"] == -1 and item["box_score"] == pytest.approx(0.4)
    np.testing.assert_allclose(item["center"], [95, 100])
    batch = collate([dataset[0], dataset[1]])
    assert batch["pixel_values"].shape == (2, 3, 256, 192) and batch["annotation_id"].tolist() == [-1, -1]
    with pytest.raises(ValueError, match="train=False"):
        TopDownDataset(data, boxes=boxes)
    with pytest.raises(DataError, match="none of the 1 detection boxes"):
        TopDownDataset(data, boxes=[boxes[2]], train=False)
    with pytest.raises(DataError, match=r"detection box #0 .* malformed"):
        TopDownDataset(data, boxes=[{"image_id": 1, "bbox": [1, 2, 3]}], train=False)


def test_unreadable_image_raises_a_data_error_naming_it(tiny_data, tmp_path):
    raw = json.loads(tiny_data.read_text())
    (tmp_path / "1.png").write_bytes(b"garbage")
    (tmp_path / "2.png").write_bytes((tiny_data.parent / "2.png").read_bytes())
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(raw))
    dataset = TopDownDataset(load_coco(path))
    with pytest.raises(DataError, match=r"1\.png"):
        dataset[0]


# ---------------------------------------------------------------------- real data
def test_coco_sample_and_detections(shared_data):
    data = load_coco(shared_data / "coco" / "test_coco.json")
    train = TopDownDataset(data, seed=0)
    assert len(train) + sum(train.skipped.values()) == len(data.annotations)
    assert train.skipped.get("no_keypoints", 0) >= 1
    codec = train.processor.updated(decode="posekit").codec  # exact up to the borders
    for index in range(len(train)):
        item = train[index]
        assert torch.isfinite(item["pixel_values"]).all()
        kps = item["keypoints"].numpy()
        inside = np.all((kps[:, :2] >= 0) & (kps[:, :2] <= [191, 255]), axis=1)
        assert np.all(item["target_weights"].numpy()[(kps[:, 2] > 0) & inside] == 1)
        chosen = inside & (kps[:, 2] > 0)
        decoded, _ = codec.decode(item["heatmaps"][None].numpy())
        np.testing.assert_allclose(decoded[0][chosen], kps[chosen, :2], atol=0.05)
    detections = json.loads((shared_data / "coco" / "test_coco_det_AP_H_56.json").read_text())
    evaluation = TopDownDataset(data, boxes=detections, train=False)
    assert len(evaluation) + sum(evaluation.skipped.values()) == len(detections)
    assert evaluation[0]["pixel_values"].shape == (3, 256, 192)


def test_hand_sample(shared_data):
    data = load_coco(shared_data / "onehand10k" / "test_onehand10k.json")
    dataset = TopDownDataset(data, sized(256, 256))
    item = dataset[0]
    assert item["heatmaps"].shape == (21, 64, 64) and item["pixel_values"].shape == (3, 256, 256)


def test_an_input_aspect_that_contradicts_the_boxes_is_warned(tiny_sample: Path, caplog) -> None:
    """192x256 (height x width: landscape) for upright people: swapping gives them 1.33x the pixels."""
    upright = np.array([[0, 0, 40, 100], [10, 10, 38, 96], [5, 5, 44, 104]], np.float64)
    advice = sized(192, 256).aspect_advice(upright)
    assert advice is not None and "input 192x256 (height x width) is landscape" in advice
    assert "the people 1.3x smaller than with --input-size 256x192" in advice
    assert sized(256, 192).aspect_advice(upright) is None  # ViTPose's portrait input fits them
    assert sized(256, 256).aspect_advice(upright) is None  # a square input fits every box
    assert sized(256, 192).aspect_advice(upright[:, [0, 1, 3, 2]]) is not None  # lying animals
    data = resolve_data(tiny_sample).load_split("train")
    TopDownDataset(data, sized(48, 64))
    assert "input 48x64 (height x width) is landscape but the median box" in caplog.text
