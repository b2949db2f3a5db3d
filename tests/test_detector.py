"""Person detectors on tiny randomly initialised RT-DETR and D-FINE models (no hub access here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.errors import ModelError
from posekit.models.detector import DETECTORS, PersonDetector, detector_source, save_random_detector


@pytest.fixture(scope="module")
def detector_dir(tmp_path_factory):
    torch.manual_seed(0)
    return save_random_detector(tmp_path_factory.mktemp("detector"), "tiny")


def test_detector_returns_only_person_boxes_above_threshold(detector_dir):
    images = [
        np.random.default_rng(i).integers(0, 255, (120 + 40 * i, 160, 3), dtype=np.uint8) for i in range(3)
    ]
    probe = PersonDetector(detector_dir, threshold=0.0, batch_size=2)
    inputs = probe.processor(images=images, return_tensors="pt")
    with torch.no_grad():
        outputs = probe.model(**inputs)
    sizes = [im.shape[:2] for im in images]
    everything = probe.processor.post_process_object_detection(outputs, threshold=0.0, target_sizes=sizes)
    # A threshold between the random model's scores, so that some person boxes pass and some do not.
    threshold = float(np.median(np.concatenate([r["scores"][r["labels"] == 0].numpy() for r in everything])))
    detector = PersonDetector(detector_dir, threshold=threshold, batch_size=2)
    found = detector.detect(images)
    assert len(found) == 3
    # Reference: the model's own post-processing, filtered by hand.
    reference = probe.processor.post_process_object_detection(
        outputs, threshold=threshold, target_sizes=sizes
    )
    for image, (boxes, scores), ref in zip(images, found, reference, strict=True):
        person = (ref["labels"] == 0).numpy()
        assert boxes.shape == (person.sum(), 4) and scores.shape == (person.sum(),)
        assert (scores > threshold).all() and (np.diff(scores) <= 0).all()
        np.testing.assert_allclose(np.sort(scores), np.sort(ref["scores"].numpy()[person]), rtol=1e-6)
        h, w = image.shape[:2]
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] >= 0).all()
        assert (boxes[:, 0] + boxes[:, 2] <= w + 1e-6).all() and (boxes[:, 1] + boxes[:, 3] <= h + 1e-6).all()
    assert 0 < sum(len(b) for b, _ in found) < sum(len(r["labels"]) for r in everything)
    assert all(len(b) == 0 for b, _ in PersonDetector(detector_dir, threshold=0.99).detect(images))


def test_missing_detector_is_one_clear_error(tmp_path):
    with pytest.raises(ModelError, match="--boxes"):
        PersonDetector(tmp_path / "nowhere")


def test_fast_for_video_accurate_for_images_by_name_or_given():
    assert detector_source(None, sequence=True) == DETECTORS["fast"] == "ustc-community/dfine-nano-coco"
    assert detector_source(None, sequence=False) == DETECTORS["accurate"] == "PekingU/rtdetr_r50vd_coco_o365"
    assert detector_source("accurate", sequence=True) == DETECTORS["accurate"]
    assert detector_source("fast", sequence=False) == DETECTORS["fast"]
    assert detector_source("org/other", sequence=True) == "org/other"


def test_d_fine_loads_through_the_auto_classes_and_finds_people(tmp_path):
    """The fast default's architecture (D-FINE: HGNetV2 backbone, RT-DETR's image processor)."""
    torch.manual_seed(0)
    directory = save_random_detector(tmp_path / "dfine", "dfine-tiny")
    detector = PersonDetector(directory, threshold=0.0)
    assert type(detector.model).__name__ == "DFineForObjectDetection" and detector.person_label == 0
    image = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    ((boxes, scores),) = detector.detect([image])
    assert len(boxes) > 0 and (np.diff(scores) <= 0).all()
    assert (boxes[:, 0] + boxes[:, 2] <= 120 + 1e-6).all() and (boxes[:, 1] + boxes[:, 3] <= 90 + 1e-6).all()


def test_detector_without_person_class_is_refused(tmp_path, detector_dir):
    from transformers import RTDetrConfig, RTDetrForObjectDetection

    config = RTDetrConfig.from_pretrained(detector_dir)
    config.id2label, config.label2id = {0: "car", 1: "bus"}, {"car": 0, "bus": 1}
    RTDetrForObjectDetection(config).save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(
        (detector_dir / "preprocessor_config.json").read_text()
    )
    with pytest.raises(ModelError, match="no 'person' class"):
        PersonDetector(tmp_path)
