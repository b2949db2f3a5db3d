"""posekit.engine.model_audit: a model's look at every labelled person, whether it saw the images, and K-fold
cross-fitting where each image is predicted by the model that did not train on it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import TINY_TRAIN

from posekit.datasets.data_config import resolve_data
from posekit.engine.dataset_prediction import predict_dataset
from posekit.engine.model_audit import FoldPredictor, audit_with_model, predict_people
from posekit.errors import ConfigError
from posekit.label_audit.people import People
from posekit.models.vitpose import load_model


def _people(dataset) -> People:
    written = json.loads(dataset.json_path.read_bytes())
    return People.from_coco(written, dataset.schema.num_keypoints, (a.id for a in dataset.annotations))


def test_rows_follow_the_people_and_unseen_people_stay_empty(tiny_sample, tiny_model_dir) -> None:
    dataset = resolve_data(tiny_sample).load_split("train")
    people = _people(dataset)
    order = np.arange(len(people))[::-1]  # rows in another order than the file's, and one stranger
    people.annotation_ids = np.append(people.annotation_ids[order], 10**6)
    for name in ("image_ids", "keypoints", "boxes", "areas"):
        values = getattr(people, name)
        setattr(people, name, np.concatenate([values[order], values[:1]]))
    model = load_model(tiny_model_dir)
    output = predict_people(model, dataset, people, device="cpu")
    reference = predict_dataset(model, dataset, device="cpu", split_views=True)
    for i, annotation_id in enumerate(people.annotation_ids[:-1].tolist()):
        (j,) = np.flatnonzero(reference.annotation_ids == annotation_id)
        np.testing.assert_array_equal(output.keypoints[i], reference.keypoints[j])
        np.testing.assert_array_equal(output.mirrored_scores[i], reference.mirrored_keypoint_scores[j])
    assert np.isnan(output.keypoints[-1]).all() and np.isnan(output.scores[-1]).all()


def test_the_mode_says_whether_the_model_trained_on_the_images(tiny_sample, tiny_model_dir, tmp_path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "weights" / "best")
    (run / "args.yaml").write_text(f"data: {tiny_sample}\nmodel: vitpose-t\n")
    report = audit_with_model(tiny_sample, model=run / "weights" / "best", device="cpu")
    assert {label: s.mode for label, s in report.splits.items()} == {"train": "memorised", "val": "held_out"}
    assert report.splits["train"].describe()["model"].endswith("4 of 4 images in its training data")
    assert "swap" in report.kinds and "missed" in report.kinds
    # a copy of the training file elsewhere still shows the same images: still memorised
    copy = tmp_path / "copy.json"
    shutil.copy(tiny_sample.parent / "train.json", copy)
    images = tiny_sample.parent / "images" / "train"
    report = audit_with_model(copy, images=images, model=run / "weights" / "best", device="cpu")
    assert report.splits["train+val"].mode == "memorised"
    # a model folder outside a run: its training data is unknown
    report = audit_with_model(tiny_sample, split="val", model=tiny_model_dir, device="cpu")
    assert report.splits["val"].mode == "unknown"


@pytest.mark.slow  # trains the fold models
def test_each_image_is_predicted_by_the_fold_model_that_did_not_see_it(tiny_sample, tmp_path) -> None:
    dataset = resolve_data(tiny_sample).load_split("train")
    people = _people(dataset)
    predictor = FoldPredictor(2, tmp_path, settings=TINY_TRAIN)
    output = predictor(dataset, people)
    assert output.mode == "folds" and "2 folds of 4 images" in output.detail
    fold_of = predictor.assignment[dataset.json_path]
    assert sorted(fold_of) == sorted(dataset.images) and sorted(fold_of.values()) == [0, 0, 1, 1]
    folder = tmp_path / "folds" / "train"
    assert json.loads((folder / "assignment.json").read_text()) == {str(i): f + 1 for i, f in fold_of.items()}
    models = predictor.models[dataset.json_path]
    row = {a: i for i, a in enumerate(people.annotation_ids.tolist())}
    for fold, model_dir in enumerate(models):
        assert model_dir == folder / f"fold{fold + 1}" / "train" / "model" / "weights" / "last"
        trained_on = {
            im["id"] for im in json.loads((folder / f"fold{fold + 1}" / "train.json").read_text())["images"]
        }
        assert trained_on == {i for i, f in fold_of.items() if f != fold}
        everyone = predict_dataset(load_model(model_dir), dataset, device="cpu", split_views=True)
        mine = [j for j, image in enumerate(everyone.image_ids.tolist()) if fold_of[image] == fold]
        others = [j for j, image in enumerate(everyone.image_ids.tolist()) if fold_of[image] != fold]
        rows = [row[a] for a in everyone.annotation_ids[mine].tolist()]
        np.testing.assert_allclose(output.keypoints[rows], everyone.keypoints[mine], atol=1e-6)
        np.testing.assert_allclose(
            output.mirrored_scores[rows], everyone.mirrored_keypoint_scores[mine], atol=1e-6
        )
        other_rows = [row[a] for a in everyone.annotation_ids[others].tolist()]
        assert not np.allclose(output.scores[other_rows], everyone.keypoint_scores[others])


def test_wrong_model_and_fold_settings_are_refused(tiny_sample, tmp_path) -> None:
    with pytest.raises(ConfigError, match="--model and --folds are alternatives"):
        audit_with_model(tiny_sample, model="vitpose-t", folds=2, folder=tmp_path)
    with pytest.raises(ConfigError, match="at least 2 folds"):
        audit_with_model(tiny_sample, folds=1, folder=tmp_path)
    with pytest.raises(ConfigError, match="has 2 images; use at most 2 folds"):
        audit_with_model(tiny_sample, split="val", folds=3, folder=tmp_path)
    with pytest.raises(ConfigError, match="--fold-config: nothing.yaml does not exist"):
        audit_with_model(tiny_sample, folds=2, folder=tmp_path, fold_config="nothing.yaml")
