"""The evaluator: a model in memory on a data split -> every metric, nothing written (training calls it
each epoch; ``posekit val`` adds the run folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from posekit.datasets.records import KeypointAnnotations
from posekit.datasets.schema import KeypointSchema
from posekit.distributed import Shard
from posekit.engine.dataset_prediction import DatasetPredictions, predict_dataset
from posekit.errors import ConfigError
from posekit.metrics.keypoint_metrics import EvaluationReport, evaluate_predictions
from posekit.metrics.nms import NmsMode, check_nms_mode


class Evaluation(NamedTuple):
    """What :func:`evaluate_model` returns (unpacks as ``report, results``)."""

    report: EvaluationReport
    results: list[dict[str, Any]]

    @property
    def summary(self) -> dict[str, float]:
        """The ten COCO stats, PCK@0.1 and the mean OKS of the people (NaN where undefined)."""
        metrics = self.report.metrics
        return {
            **metrics["coco"],
            "PCK@0.1": _nan_if_none(metrics["pck"].get("PCK@0.1")),
            "mean_OKS": _nan_if_none(metrics["mean_oks"]),
        }


def evaluate_model(
    model: torch.nn.Module,
    dataset: KeypointAnnotations,
    *,
    sigmas: np.ndarray | list[float] | None = None,
    conf: float = 0.3,
    nms: NmsMode = "oks",
    nms_threshold: float | None = None,
    keypoint_ap: bool = False,
    box_source: str = "ground-truth boxes",
    shard: Shard | None = None,
    parts: str | Path | None = None,
    **prediction: Any,
) -> Evaluation | None:
    """Evaluate an in-memory model on a data set without writing anything (training calls this).

    Returns ``(report, results)``: the :class:`EvaluationReport` (``.metrics`` as in metrics.json,
    ``.keypoints`` weakest first) and the COCO keypoint results; ``.summary`` holds the headline
    numbers. ``prediction``: :func:`~posekit.engine.dataset_prediction.predict_dataset`'s keywords
    (``boxes``, ``flip_test``, ``batch_size``, ``device``, ``workers``, ``progress``), passed on as they
    are; ``keypoint_ap`` adds one COCO run per joint to the per-keypoint table.

    Under several processes (``shard`` of ``torchrun``), each predicts its block of the people and the
    main process, which gathers the blocks through part files named after ``parts`` (in a folder all
    processes see), evaluates them: the others return None.
    """
    check_model_schema(model.schema, dataset)
    check_nms_mode(nms)
    oks_sigmas = dataset.schema.sigmas_array if sigmas is None else np.asarray(sigmas, np.float64)
    predictions = predict_dataset(model, dataset, shard=shard, **prediction)
    if shard is not None and shard.world > 1:
        if parts is None:
            raise ValueError("evaluate_model: several processes need `parts`, a path they all see")
        gathered = shard.gather(predictions, parts)
        if gathered is None:
            return None
        predictions = DatasetPredictions.concatenate(gathered)
    results = predictions.to_results(oks_sigmas, dataset.category_id, nms, nms_threshold)
    report = evaluate_predictions(
        dataset.to_coco_dict(),
        results,
        dataset.schema,
        sigmas=None if sigmas is None else oks_sigmas.tolist(),
        conf=conf,
        box_source=box_source,
        keypoint_ap=keypoint_ap,
    )
    return Evaluation(report, results)


def _nan_if_none(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def check_model_schema(schema: KeypointSchema, dataset: KeypointAnnotations) -> None:
    """One :class:`ConfigError` when a model of ``schema`` cannot predict the keypoints of ``dataset``."""
    if schema.num_keypoints != dataset.schema.num_keypoints:
        raise ConfigError(
            f"the model predicts {schema.num_keypoints} keypoints ({schema.name}) but {dataset.json_path} "
            f"has {dataset.schema.num_keypoints} ({dataset.schema.name}); use a model made for this data"
        )
