"""posekit.label_audit.sigma_estimation: COCO's sigma definition from repeated annotations (roughly:
residuals)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from posekit.datasets.data_config import resolve_data
from posekit.datasets.schema import KeypointSchema, get_preset
from posekit.datasets.sigmas_file import parse_sigmas
from posekit.errors import PosekitError
from posekit.label_audit.sigma_estimation import (
    SigmaEstimate,
    match_repeats,
    repeat_sigmas,
    sigma_schema,
    sigmas_from_repeats,
    sigmas_from_residuals,
    simulate_repeats,
)

COCO17 = get_preset("coco17")


def test_the_estimator_by_hand() -> None:
    # one point labelled twice: sigma^2 = d^2 / area / 2 (two noisy annotators: twice one's variance)
    two = np.array([[[[10, 10, 2]], [[13, 14, 2]]]], dtype=float)  # (P=1, M=2, K=1, 3)
    assert sigmas_from_repeats(two, np.array([[100.0, 100.0]])).sigmas[0] == pytest.approx(
        math.sqrt(25 / 100 / 2)
    )
    # three times: sum of squares about the mean (6 in x, 18.667 in y) over m - 1 = 2
    three = np.array([[[[10, 10, 2]], [[13, 14, 2]], [[10, 16, 1]]]], dtype=float)
    estimate = sigmas_from_repeats(three, np.array([[100.0, 100.0, 100.0]]))
    assert estimate.sigmas[0] == pytest.approx(math.sqrt((6 + 56 / 3) / 100 / 2))
    assert estimate.dof.tolist() == [2] and estimate.people == 1


def _repeats(sigmas: np.ndarray, people: int, annotators: int, noise: str, seed: int = 0):
    """Annotators labelling random people with errors of E|e|^2 = sigma^2 area; 20 % of annotations
    missing and 10 % of points unlabelled."""
    rng = np.random.default_rng(seed)
    k = len(sigmas)
    area = rng.uniform(1e3, 1e5, people)
    truth = rng.uniform(100, 900, (people, 1, k, 2))
    std = sigmas[None, None, :, None] * np.sqrt(area)[:, None, None, None] / math.sqrt(2)  # per coordinate
    shape = (people, annotators, k, 2)
    if noise == "gaussian":
        error = rng.normal(size=shape) * std
    else:  # uniform in [-a, a]: variance a^2 / 3
        error = rng.uniform(-1, 1, shape) * std * math.sqrt(3)
    keypoints = np.concatenate([truth + error, np.full((people, annotators, k, 1), 2.0)], axis=-1)
    keypoints[rng.random((people, annotators, k)) < 0.1] = 0
    areas = np.repeat(area[:, None], annotators, axis=1)
    missing = rng.random((people, annotators)) < 0.2
    keypoints[missing], areas[missing] = np.nan, np.nan
    return keypoints, areas


@pytest.mark.parametrize("annotators", [2, 3])
@pytest.mark.parametrize("noise", ["gaussian", "uniform"])
def test_known_sigmas_are_recovered(annotators: int, noise: str) -> None:
    sigmas = np.array([0.02, 0.05, 0.08, 0.1, 0.15])
    keypoints, areas = _repeats(sigmas, 1500, annotators, noise)
    np.testing.assert_allclose(sigmas_from_repeats(keypoints, areas).sigmas, sigmas, rtol=0.1)
    if noise == "gaussian":  # the median form assumes Gaussian noise
        np.testing.assert_allclose(
            sigmas_from_repeats(keypoints, areas, robust=True).sigmas, sigmas, rtol=0.1
        )


def test_robust_estimate_shrugs_off_gross_mistakes() -> None:
    sigmas = np.array([0.05, 0.1])
    keypoints, areas = _repeats(sigmas, 1500, 2, "gaussian", seed=1)
    keypoints[:60, 1, :, :2] += 300  # 4 % of second labels land somewhere else entirely
    assert sigmas_from_repeats(keypoints, areas).sigmas[0] > 2 * sigmas[0]
    np.testing.assert_allclose(sigmas_from_repeats(keypoints, areas, robust=True).sigmas, sigmas, rtol=0.1)


def test_coco_sigmas_come_back_from_simulated_coco_annotators(sample_data) -> None:
    """The COCO-17 file path: people matched across files by image file_name and OKS."""
    coco = json.loads((sample_data.parent / "train.json").read_text())
    files = simulate_repeats(coco, COCO17.sigmas, copies=6, seed=3)
    for n, f in enumerate(files[1:]):  # other ids and order: matching goes by file_name and OKS
        f["annotations"].reverse()
        for image in f["images"]:
            image["id"] += 1000 * (n + 1)
        for ann in f["annotations"]:
            ann["image_id"] += 1000 * (n + 1)
    estimate = repeat_sigmas(files, COCO17)
    assert estimate.people == sum(1 for a in coco["annotations"] if a["num_keypoints"] > 0)
    np.testing.assert_allclose(estimate.sigmas, COCO17.sigmas, rtol=0.1)


def test_people_missing_from_a_file_are_left_out() -> None:
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
        "annotations": [
            {
                "id": i,
                "image_id": 1,
                "bbox": [x, 10, 20, 60],
                "area": 1200.0,
                "keypoints": [x + 10, 30, 2] * 17,
            }
            for i, x in ((1, 5), (2, 60))
        ],
    }
    other = json.loads(json.dumps(coco))
    other["annotations"] = other["annotations"][1:]  # only the second person
    keypoints, areas = match_repeats([coco, other], COCO17)
    assert keypoints.shape == (2, 2, 17, 3)
    assert np.isnan(areas[0, 1]) and areas[1, 1] == 1200.0
    with pytest.raises(PosekitError, match="copies of one another"):
        sigma_schema(COCO17, sigmas_from_repeats(keypoints, areas), 2)


def test_the_schema_file_is_read_by_sigmas_option_and_data_yaml(sample_data, tmp_path) -> None:
    found = SigmaEstimate(np.array([0.03] * 16 + [np.nan]), np.array([100] * 16 + [0]), 120, "repeats")
    schema = sigma_schema(COCO17, found, 2)
    assert schema.sigmas == [0.03] * 16 + [0.089]  # no data: the old sigma is kept
    assert schema.name == "coco17 (sigmas from 2 annotations of 120 people)"
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema.to_dict()))
    assert parse_sigmas(str(path), COCO17) == schema.sigmas
    root = sample_data.parent
    config = {"train": {"json": str(root / "train.json"), "images": str(root / "images/train")}}
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({**config, "schema": json.loads(path.read_text())}))
    loaded = resolve_data(tmp_path / "data.yaml").load_split("train").schema
    assert loaded.sigmas == schema.sigmas and loaded.name == schema.name


def test_residuals_give_an_approximation() -> None:
    rng = np.random.default_rng(0)
    sigmas = np.array([0.03, 0.09])
    area = rng.uniform(1e3, 1e4, 4000)
    gt = np.concatenate([rng.uniform(0, 500, (4000, 2, 2)), np.full((4000, 2, 1), 2.0)], axis=-1)
    pred = gt[..., :2] + rng.normal(size=(4000, 2, 2)) * sigmas[:, None] * np.sqrt(area / 2)[:, None, None]
    pred[:100] += 400  # model failures: the median ignores them
    estimate = sigmas_from_residuals(pred, gt, area)
    np.testing.assert_allclose(estimate.sigmas, sigmas, rtol=0.1)
    assert estimate.approximate
    assert sigma_schema(KeypointSchema.from_names(["a", "b"]), estimate, 1).name == (
        "custom (APPROXIMATE sigmas from model residuals on 4000 people)"
    )
