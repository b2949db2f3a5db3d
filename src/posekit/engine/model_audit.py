"""The model half of ``posekit audit``: a model's look at every labelled person, fed to
:func:`posekit.label_audit.api.audit` through its ``predict`` hook (``posekit.label_audit`` itself stays
free of models).

- :class:`ModelPredictor`: one given model. Whether it was trained on the audited images decides how far
  its findings can be trusted (a model reproduces the labels it memorised, errors included), so it is
  looked up in the run folder the model was saved in (``<run>/weights/best`` beside ``<run>/args.yaml``).
- :class:`FoldPredictor`: K models trained by posekit's own trainer on K-1 folds of the images (split by
  image), each predicting the fold it did not see; the training runs stay inside the audit's run folder.

Every person is predicted with its ground-truth box through the model's processor, on the crop and, when
the model's processor uses the flip test, on its mirror image, decoded separately: two looks that a swap
must convince both of (see :mod:`posekit.label_audit.model_checks`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from posekit.datasets.data_config import resolve_data
from posekit.datasets.records import KeypointAnnotations
from posekit.device import resolve_device
from posekit.engine.dataset_prediction import predict_dataset
from posekit.engine.model_evaluation import check_model_schema
from posekit.errors import ConfigError, PosekitError
from posekit.fileio import atomic_write_json, atomic_write_text
from posekit.label_audit.api import AuditReport, audit
from posekit.label_audit.model_checks import ModelOutput
from posekit.label_audit.people import People
from posekit.samples import locate
from posekit.settings import MIN_SCORE, build_config

#: Fold models train to their last epoch and are validated once, after it: their held-out fold is their
#: validation split and must choose nothing (the last weights predict it, never the "best" on it).
FOLD_RECIPE = {"patience": 0, "val_every": 10**9}


def audit_with_model(
    data: str | Path = "sample",
    split: str = "all",
    images: str | Path | None = None,
    min_score: float = MIN_SCORE,
    model: Any = None,
    folds: int | None = None,
    folder: str | Path | None = None,
    fold_config: str | Path | None = None,
    fold_settings: dict[str, Any] | None = None,
    batch_size: int = 32,
    device: str | None = None,
    progress: bool = False,
) -> AuditReport:
    """Audit ``data`` as :func:`posekit.label_audit.api.audit` does, adding the model-based checks when given
    ``model`` (a model directory, hub id, preset or loaded ``PoseModel`` of the data's keypoints) or
    ``folds`` (K >= 2 models trained under ``folder/folds`` on the other folds' images; their recipe is
    posekit train's for this data (:mod:`posekit.engine.recipe`), then ``fold_config`` (a train
    settings YAML) and ``fold_settings``). With neither, data only. Each split's
    :attr:`~posekit.label_audit.api.AuditedSplit.mode` says how its people were predicted."""
    check_model_options(model, folds, fold_config)
    predictor: ModelPredictor | FoldPredictor | None = None
    if model is not None:
        predictor = ModelPredictor(model, batch_size, device or "auto", progress)
    elif folds is not None:
        if folder is None:
            raise ConfigError("--folds trains models: give the run folder to keep them in (folder=...)")
        settings = {**(fold_settings or {}), **({"device": device} if device is not None else {})}
        predictor = FoldPredictor(
            folds, folder, FOLD_RECIPE, fold_config, settings, batch_size=batch_size, progress=progress
        )
    return audit(data, split, images, min_score, predict=predictor)


def check_model_options(model: Any, folds: int | None, fold_config: str | Path | None) -> None:
    """One :class:`ConfigError` for a combination of ``--model``, ``--folds`` and ``--fold-config`` that
    cannot work (checked before anything is loaded or written)."""
    if model is not None and folds is not None:
        raise ConfigError(
            "--model and --folds are alternatives: --folds trains its own models (set their recipe with "
            "--fold-config)"
        )
    if fold_config is not None and folds is None:
        raise ConfigError("--fold-config sets the recipe of the --folds models; add --folds K")
    if folds is not None and folds < 2:
        raise ConfigError(f"--folds {folds}: cross-fitting needs at least 2 folds (e.g. --folds 5)")
    if fold_config is not None and not Path(fold_config).is_file():
        raise ConfigError(f"--fold-config: {fold_config} does not exist; give a YAML file of train settings")


def predict_people(
    model: Any,
    dataset: KeypointAnnotations,
    people: People,
    batch_size: int = 32,
    device: str | torch.device | None = "auto",
    progress: bool = False,
) -> ModelOutput:
    """``model``'s keypoints for ``people`` (rows in their order), each with its ground-truth box of
    ``dataset``; the mirrored view too when the model's processor uses the flip test. People the model
    does not see (no labelled point, an empty box, or not in ``dataset``) keep NaN rows."""
    check_model_schema(model.schema, dataset)
    processor = model.processor
    mirrored = processor.flip_test and processor.flip_index is not None
    found = predict_dataset(
        model, dataset, batch_size=batch_size, device=device, progress=progress, split_views=mirrored
    )
    row = {int(a): i for i, a in enumerate(people.annotation_ids.tolist())}
    at = np.array([row.get(int(a), -1) for a in found.annotation_ids], dtype=np.int64)
    keep = at >= 0
    n, k = len(people), model.schema.num_keypoints

    def rows(values: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
        if values is None:
            return None
        out = np.full((n, *shape), np.nan)
        out[at[keep]] = values[keep]
        return out

    return ModelOutput(
        rows(found.keypoints, (k, 2)),
        rows(found.keypoint_scores, (k,)),
        rows(found.mirrored_keypoints, (k, 2)),
        rows(found.mirrored_keypoint_scores, (k,)),
    )


# ---------------------------------------------------------------------------------------------- one model
class ModelPredictor:
    """The ``predict`` hook of one model; each output's mode says whether the model saw those images."""

    def __init__(
        self, model: Any, batch_size: int = 32, device: str = "auto", progress: bool = False
    ) -> None:
        from posekit.models.vitpose import load_model

        self.device = resolve_device(device)  # a wrong device fails before anything slow
        if isinstance(model, torch.nn.Module):
            self.model, self.name, self.trained_on = model, type(model).__name__, None
        else:
            self.model, self.name = load_model(model), str(model)
            self.trained_on = training_images(model)
        self.batch_size, self.progress = batch_size, progress

    def __call__(self, dataset: KeypointAnnotations, people: People) -> ModelOutput:
        output = predict_people(self.model, dataset, people, self.batch_size, self.device, self.progress)
        if self.trained_on is None:
            return dataclasses.replace(output, mode="unknown", detail=f"{self.name}; training data unknown")
        seen = sum(info.path.resolve() in self.trained_on for info in dataset.images.values())
        return dataclasses.replace(
            output,
            mode="memorised" if seen else "held_out",
            detail=f"{self.name}; {seen} of {len(dataset.images)} images in its training data",
        )


def training_images(model: str | Path) -> set[Path] | None:
    """The image files the model directory ``model`` was trained on, from the ``args.yaml`` of the run
    folder it was saved in (``<run>/weights/best``); None when that is unknown (a hub id, a preset, a
    copied folder, training data no longer found)."""
    args = Path(model).expanduser().parent.parent / "args.yaml"
    if not (Path(model).expanduser().is_dir() and args.is_file()):
        return None
    try:
        recorded = yaml.safe_load(args.read_text(encoding="utf-8")) or {}
        train = resolve_data(locate(recorded.get("data") or "sample")).load_split("train")
    except (PosekitError, OSError, yaml.YAMLError, AttributeError):
        return None
    return {info.path.resolve() for info in train.images.values()}


# ---------------------------------------------------------------------------------------------- folds
class FoldPredictor:
    """The ``predict`` hook of K-fold cross-fitting: per annotation file, its images dealt into ``folds``
    folds (seeded), one model trained on each K-1 folds, each predicting its held-out fold.

    Kept for inspection, per annotation file: :attr:`assignment` (image id -> fold, 0-based) and
    :attr:`models` (fold -> the model directory that predicted it). Under ``folder/folds/<file stem>``:
    ``assignment.json`` and ``fold<N>/`` with the fold's ``train.json`` (the other folds), ``val.json``
    (this fold), ``data.yaml`` and the training run ``train/model/``.
    """

    def __init__(
        self,
        folds: int,
        folder: str | Path,
        recipe: dict[str, Any] | None = None,
        config: str | Path | None = None,
        settings: dict[str, Any] | None = None,
        seed: int = 0,
        batch_size: int = 32,
        progress: bool = False,
    ) -> None:
        check_model_options(None, folds, config)
        self.folds, self.folder, self.seed = folds, Path(folder), seed
        self.recipe, self.config, self.settings = recipe, config, dict(settings or {})
        self.batch_size, self.progress = batch_size, progress
        self.assignment: dict[Path, dict[int, int]] = {}
        self.models: dict[Path, list[Path]] = {}

    def assign(self, image_ids: list[int]) -> dict[int, int]:
        """Image id -> fold: the images in a seeded random order, dealt round the folds."""
        order = np.random.default_rng(self.seed).permutation(len(image_ids))
        return {int(image_ids[j]): rank % self.folds for rank, j in enumerate(order)}

    def __call__(self, dataset: KeypointAnnotations, people: People) -> ModelOutput:
        from posekit.engine.train import Trainer
        from posekit.models.vitpose import load_model

        ids = sorted(dataset.images)
        if len(ids) < self.folds:
            raise ConfigError(
                f"--folds {self.folds}: {dataset.json_path} has {len(ids)} images; use at most {len(ids)} "
                "folds"
            )
        fold_of = self.assign(ids)
        root = self.folder / "folds" / dataset.json_path.stem  # inside the audit's run folder
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(root / "assignment.json", {str(i): f + 1 for i, f in fold_of.items()})
        written = json.loads(dataset.json_path.read_bytes())
        output = ModelOutput(*(np.full((len(people), *s), np.nan) for s in _shapes(people)), mode="folds")
        models = []
        for fold in range(self.folds):
            held_out = {i for i, f in fold_of.items() if f == fold}
            data_yaml = _write_fold(root / f"fold{fold + 1}", written, held_out, dataset)
            cfg = build_config(
                self.config, self.recipe, data=str(data_yaml), project=str(data_yaml.parent), name="model",
                **self.settings,
            )  # fmt: skip
            trainer = Trainer(cfg, run_folder=_model_folder)
            last = Path(trainer.fit()["last"])
            models.append(last)
            subset = dataclasses.replace(
                dataset,
                images={i: info for i, info in dataset.images.items() if i in held_out},
                annotations=[a for a in dataset.annotations if a.image_id in held_out],
            )
            found = predict_people(
                load_model(last), subset, people, self.batch_size, trainer.cfg.device, self.progress
            )
            _fill(output, found)
        self.assignment[dataset.json_path] = fold_of
        self.models[dataset.json_path] = models
        output.detail = (
            f"{self.folds} folds of {len(ids)} images, one model each ({trainer.cfg.model}, "
            f"{trainer.cfg.epochs} epochs) "
            f"under {root}"
        )
        return output


def _model_folder(cfg: Any) -> Path:
    """A fold model's run folder, ``train/model`` beside the fold's data YAML (its ``project``), inside
    the audit's run folder."""
    folder = Path(cfg.project) / "train" / cfg.name
    folder.mkdir(parents=True)
    return folder


def _shapes(people: People) -> list[tuple[int, ...]]:
    k = people.keypoints.shape[1]
    return [(k, 2), (k,), (k, 2), (k,)]


def _fill(output: ModelOutput, found: ModelOutput) -> None:
    """Copy the rows ``found`` predicted into ``output`` (in place)."""
    rows = ~np.isnan(found.scores).all(axis=1)
    output.keypoints[rows], output.scores[rows] = found.keypoints[rows], found.scores[rows]
    if found.mirrored_keypoints is None:
        output.mirrored_keypoints = output.mirrored_scores = None
    elif output.mirrored_keypoints is not None:
        output.mirrored_keypoints[rows] = found.mirrored_keypoints[rows]
        output.mirrored_scores[rows] = found.mirrored_scores[rows]


def _write_fold(
    folder: Path, written: dict[str, Any], held_out: set[int], dataset: KeypointAnnotations
) -> Path:
    """``train.json`` (the images not in ``held_out``), ``val.json`` (those in it), both as written, and
    the ``data.yaml`` naming them with the data set's images and keypoint schema."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, inside in (("train", False), ("val", True)):
        part = {
            **written,
            "images": [im for im in written["images"] if (im["id"] in held_out) == inside],
            "annotations": [a for a in written["annotations"] if (a["image_id"] in held_out) == inside],
        }
        atomic_write_json(folder / f"{name}.json", part, indent=None)
    images = str(dataset.image_root.resolve())
    spec = {
        "train": {"json": "train.json", "images": images},
        "val": {"json": "val.json", "images": images},
        "schema": dataset.schema.to_dict(),
    }
    atomic_write_text(folder / "data.yaml", yaml.safe_dump(spec, sort_keys=False))
    return folder / "data.yaml"
