"""Evaluation: run a pose model over a data set (ground-truth or detector boxes), post-process, score.

``predict_dataset`` -> per-box keypoints in image pixels (flip test, UDP decoding, back-projection);
``DatasetPredictions.to_results`` -> COCO keypoint results (rescoring, OKS-NMS); ``evaluate_model``
-> metrics in memory (what training calls each epoch); ``val`` -> the full ``posekit val`` run with
its run folder (metrics.json, per_keypoint.csv, plots, predictions.json, worst_people.jpg).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from torch.utils.data import DataLoader

from posekit.data.codec import UDPHeatmapCodec, flip_heatmaps, input_to_image
from posekit.data.dataset import IMAGENET_MEAN, IMAGENET_STD, TopDownDataset, collate
from posekit.data.records import KeypointAnnotations
from posekit.data.results import Detections, load_detections, load_results, to_coco_results
from posekit.data.schema import KeypointSchema
from posekit.engine.worst_people import save_worst_people
from posekit.errors import ConfigError, PosekitError
from posekit.io import atomic_write_json
from posekit.metrics.nms import NmsMode, check_nms_mode, nms_per_image, rescore
from posekit.metrics.report import EvaluationReport, evaluate_predictions, print_report, write_report
from posekit.runs import new_run_dir


@dataclass
class DatasetPredictions:
    """One row per person box (ground-truth person or detection), keypoints in image pixels."""

    image_ids: np.ndarray  # (N,)
    annotation_ids: np.ndarray  # (N,) the ground-truth person of the box, -1 for detections
    boxes: np.ndarray  # (N, 4) xywh
    box_scores: np.ndarray  # (N,) 1 for ground-truth boxes
    areas: np.ndarray  # (N,) area of the padded box (the scale OKS-NMS uses, as mmpose)
    keypoints: np.ndarray  # (N, K, 2)
    keypoint_scores: np.ndarray  # (N, K)
    skipped: dict[str, int] = field(default_factory=dict)  # boxes left out, by reason

    def to_results(
        self,
        sigmas: np.ndarray,
        category_id: int = 1,
        keypoint_threshold: float = 0.2,
        nms: NmsMode = "oks",
        nms_threshold: float | None = None,
    ) -> list[dict[str, Any]]:
        """COCO keypoint results: score = box score x mean keypoint score above ``keypoint_threshold``,
        then (soft) OKS-NMS per image (threshold 0.9 for ``"oks"``)."""
        scores = rescore(self.keypoint_scores, self.box_scores, keypoint_threshold)
        keep = nms_per_image(self.image_ids, self.keypoints, scores, self.areas, sigmas, nms, nms_threshold)
        return to_coco_results(
            self.image_ids[keep], self.keypoints[keep], self.keypoint_scores[keep], scores[keep], category_id
        )


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/None -> CUDA when available, else CPU; anything else as torch reads it."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was asked for but no CUDA GPU is available; use --device cpu")
    return resolved


def predict_dataset(
    model: torch.nn.Module,
    dataset: KeypointAnnotations,
    boxes: list[dict[str, Any]] | None = None,
    flip_test: bool = True,
    batch_size: int = 32,
    device: str | torch.device | None = "auto",
    workers: int | None = None,
    progress: bool = False,
) -> DatasetPredictions:
    """Predict every ground-truth person of ``dataset`` (or every box of ``boxes``, COCO detections).

    ``model`` is a :class:`~posekit.models.vitpose.PoseModel` (``schema``, ``input_size``,
    ``heatmap_size``, ``padding``, ``mean``, ``std``; any keypoint count). With ``flip_test`` the
    heatmaps are averaged with those of the mirrored crop, left/right channels swapped. ``workers``
    (data loading processes) defaults to 0 on CPU (the model needs the cores) and up to 8 on a GPU.
    """
    device = resolve_device(device)
    if workers is None:
        workers = 0 if device.type == "cpu" else min(8, os.cpu_count() or 1)
    codec = UDPHeatmapCodec(model.input_size, model.heatmap_size)
    crops = TopDownDataset(
        dataset, model.input_size, boxes=boxes, padding=model.padding, codec=codec, train=False
    )
    loader = DataLoader(crops, batch_size=batch_size, num_workers=workers, collate_fn=collate)
    param = next(model.parameters())
    model.to(device)
    was_training = model.training
    model.eval()
    flip_index = model.schema.flip_index if flip_test else None
    columns: dict[str, list[np.ndarray]] = {
        k: [] for k in ("image_id", "annotation_id", "bbox", "box_score", "scale", "keypoints", "scores")
    }
    try:
        with torch.inference_mode():
            for batch in track(loader, "Predicting", total=len(loader), disable=not progress, transient=True):
                pixels = _renormalise(batch["pixel_values"], model.mean, model.std)
                heatmaps = _heatmaps(model, pixels.to(device, param.dtype), flip_index)
                points, scores = codec.decode(heatmaps)
                centers, scales = batch["center"].double().numpy(), batch["scale"].double().numpy()
                columns["keypoints"].append(input_to_image(points, centers, scales, model.input_size))
                columns["scores"].append(scores.astype(np.float64))
                columns["scale"].append(scales)
                for key in ("image_id", "annotation_id", "bbox", "box_score"):
                    columns[key].append(batch[key].numpy())
    finally:
        model.train(was_training)
    k = model.schema.num_keypoints
    empty = {"keypoints": (0, k, 2), "scores": (0, k), "bbox": (0, 4), "scale": (0, 2)}
    out = {key: np.concatenate(v) if v else np.zeros(empty.get(key, (0,))) for key, v in columns.items()}
    return DatasetPredictions(
        image_ids=out["image_id"].astype(np.int64),
        annotation_ids=out["annotation_id"].astype(np.int64),
        boxes=out["bbox"].astype(np.float64),
        box_scores=out["box_score"].astype(np.float64),
        areas=out["scale"].prod(axis=1),
        keypoints=out["keypoints"],
        keypoint_scores=out["scores"],
        skipped=dict(crops.skipped),
    )


def _heatmaps(model: torch.nn.Module, pixels: torch.Tensor, flip_index: np.ndarray | None) -> torch.Tensor:
    """Heatmaps (N, K, h, w) as float32; with ``flip_index``, averaged with the mirrored input's."""
    if flip_index is None:
        return model(pixels).float()
    both = model(torch.cat([pixels, pixels.flip(-1)])).float()
    plain, mirrored = both.chunk(2)
    return (plain + flip_heatmaps(mirrored, flip_index)) / 2


def _renormalise(pixels: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Crops come normalised by ImageNet statistics; re-normalise for a model saved with others."""
    if np.allclose(mean, IMAGENET_MEAN) and np.allclose(std, IMAGENET_STD):
        return pixels

    def column(values: tuple[float, ...]) -> torch.Tensor:
        return torch.tensor(values, dtype=pixels.dtype).view(1, 3, 1, 1)

    raw = pixels * column(IMAGENET_STD) + column(IMAGENET_MEAN)
    return (raw - column(mean)) / column(std)


# ---------------------------------------------------------------------- metrics
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
    boxes: list[dict[str, Any]] | None = None,
    flip_test: bool = True,
    batch_size: int = 32,
    device: str | torch.device | None = "auto",
    workers: int | None = None,
    sigmas: np.ndarray | list[float] | None = None,
    conf: float = 0.3,
    keypoint_threshold: float = 0.2,
    nms: NmsMode = "oks",
    nms_threshold: float | None = None,
    keypoint_ap: bool = False,
    box_source: str = "ground-truth boxes",
    progress: bool = False,
) -> Evaluation:
    """Evaluate an in-memory model on a data set without writing anything (training calls this).

    Returns ``(report, results)``: the :class:`EvaluationReport` (``.metrics`` as in metrics.json,
    ``.keypoints`` weakest first) and the COCO keypoint results; ``.summary`` holds the headline
    numbers. ``keypoint_ap`` adds one COCO run per joint to the per-keypoint table.
    """
    _check_schemas(model.schema, dataset)
    check_nms_mode(nms)
    oks_sigmas = dataset.schema.sigmas_array if sigmas is None else np.asarray(sigmas, np.float64)
    predictions = predict_dataset(model, dataset, boxes, flip_test, batch_size, device, workers, progress)
    results = predictions.to_results(oks_sigmas, dataset.category_id, keypoint_threshold, nms, nms_threshold)
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


def _check_schemas(schema: KeypointSchema, dataset: KeypointAnnotations) -> None:
    if schema.num_keypoints != dataset.schema.num_keypoints:
        raise ConfigError(
            f"the model predicts {schema.num_keypoints} keypoints ({schema.name}) but {dataset.json_path} "
            f"has {dataset.schema.num_keypoints} ({dataset.schema.name}); evaluate a model made for this data"
        )


def parse_sigmas(
    value: str | Path | list[float] | np.ndarray | None, schema: KeypointSchema
) -> list[float] | None:
    """``--sigmas``: a JSON file (a list or ``{"sigmas": [...]}``) or a comma list, one per keypoint."""
    if value is None:
        return None
    if isinstance(value, str | Path) and Path(value).suffix.lower() == ".json":
        path = Path(value)
        if not path.is_file():
            raise ConfigError(
                f"--sigmas file {path} does not exist; pass a JSON list or a comma list of numbers"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ConfigError(f"--sigmas file {path} is not valid JSON ({error})") from None
        values = data.get("sigmas") if isinstance(data, dict) else data
        where = f"--sigmas file {path}"
    elif isinstance(value, str):
        values, where = [v.strip() for v in value.split(",") if v.strip()], f"--sigmas {value!r}"
    else:
        values, where = list(np.asarray(value).ravel()), "sigmas"
    try:
        sigmas = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: every sigma must be a number, e.g. 0.025,0.025,...") from None
    k = schema.num_keypoints
    if len(sigmas) != k or not all(np.isfinite(s) and s > 0 for s in sigmas):
        raise ConfigError(
            f"{where}: expected {k} positive numbers (one per keypoint of {schema.name}), got {sigmas}"
        )
    return sigmas


# ---------------------------------------------------------------------- posekit val
def val(
    model: str | Path | torch.nn.Module | None = None,
    data: str | Path = "sample",
    predictions: str | Path | None = None,
    boxes: str | Path | None = None,
    split: str = "val",
    batch_size: int = 32,
    flip_test: bool = True,
    conf: float = 0.3,
    sigmas: str | Path | list[float] | None = None,
    device: str | torch.device | None = "auto",
    project: str | Path = "runs",
    name: str = "exp",
    pretrained: str = "auto",
    box_conf: float = 0.0,
    keypoint_threshold: float = 0.2,
    nms: NmsMode = "oks",
    nms_threshold: float | None = None,
    workers: int | None = None,
    worst: int = 16,
    verbose: bool = True,
) -> dict[str, Any]:
    """Evaluate a model (``model``: directory, hub id, preset or a loaded PoseModel) or a COCO keypoint
    results file (``predictions``) on a data split, print the report and write the run folder
    ``project/val/name`` (metrics.json, per_keypoint.csv, per_keypoint.png, pr_curve.png,
    predictions.json, worst_people.jpg). Returns the metrics (as in metrics.json) plus ``save_dir``.

    ``boxes``: a COCO detections file (person boxes instead of the ground-truth ones), kept from
    score ``box_conf``; ``sigmas`` overrides the schema's OKS sigmas (JSON file, comma list or list);
    ``conf`` only selects the keypoints drawn and counted as confident (COCO AP uses all of them).
    """
    if (model is None) == (predictions is None):
        raise ConfigError("pass either a model (--model) or a COCO keypoint results file (--predictions)")
    if predictions is not None and boxes is not None:
        raise ConfigError("--boxes needs --model: a predictions file already holds its people")
    from posekit.data.config import resolve_data

    resolve_device(device)  # a wrong device fails before anything slow
    dataset = resolve_data(data).load_split(split)
    override = parse_sigmas(sigmas, dataset.schema)
    detections = None
    if predictions is not None:
        results = load_results(predictions, dataset.schema.num_keypoints, dataset.images, dataset.category_id)
        box_source = f"predictions file {predictions}"
        report = evaluate_predictions(
            dataset.to_coco_dict(), results, dataset.schema, sigmas=override, conf=conf, box_source=box_source
        )
    else:
        pose_model = model if isinstance(model, torch.nn.Module) else _load_model(model, pretrained)
        if boxes is not None:
            detections = load_detections(boxes, dataset.images, dataset.category_id, box_conf)
            box_source = f"detections file {boxes} ({len(detections.boxes)} boxes, score >= {box_conf:g})"
        else:
            box_source = "ground-truth boxes"
        report, results = evaluate_model(
            pose_model,
            dataset,
            detections.boxes if detections else None,
            flip_test,
            batch_size,
            device,
            workers,
            override,
            conf,
            keypoint_threshold,
            nms,
            nms_threshold,
            keypoint_ap=True,
            box_source=box_source,
            progress=verbose,
        )

    run_dir = new_run_dir(project, "val", name)
    report.metrics["run"] = _run_info(
        model,
        data,
        split,
        dataset,
        predictions,
        detections,
        flip_test,
        keypoint_threshold,
        nms,
        nms_threshold,
    )
    write_report(report, run_dir)
    atomic_write_json(run_dir / "predictions.json", results, indent=None)
    console = Console()
    if worst > 0:
        try:
            save_worst_people(dataset, report, results, run_dir / "worst_people.jpg", conf, worst)
        except PosekitError as error:  # a missing image must not cost the user the metrics
            console.print(f"[yellow]warning:[/] worst_people.jpg not written: {error}")
    if verbose:
        print_report(report, console)
        console.print(f"Results saved to {run_dir / 'metrics.json'}", highlight=False, soft_wrap=True)
    return {**report.metrics, "save_dir": str(run_dir)}


def _load_model(model: str | Path, pretrained: str) -> torch.nn.Module:
    from posekit.models.vitpose import load_model

    return load_model(model, pretrained=pretrained)


def _run_info(
    model: Any,
    data: str | Path,
    split: str,
    dataset: KeypointAnnotations,
    predictions: str | Path | None,
    detections: Detections | None,
    flip_test: bool,
    keypoint_threshold: float,
    nms: str,
    nms_threshold: float | None,
) -> dict[str, Any]:
    """What metrics.json records about how the figures were made."""
    info: dict[str, Any] = {"data": str(data), "split": split, "annotations_file": str(dataset.json_path)}
    if predictions is not None:
        return {**info, "predictions_file": str(predictions)}
    model_name = model if isinstance(model, str | Path) else type(model).__name__
    return {
        **info,
        "model": str(model_name),
        "boxes": detections.summary() if detections else {"source": "ground-truth"},
        "flip_test": flip_test,
        "instance_score": f"box score x mean of keypoint scores above {keypoint_threshold:g}",
        "nms": {
            "mode": nms,
            "threshold": nms_threshold if nms_threshold is not None else _NMS_DEFAULT.get(nms),
        },
    }


_NMS_DEFAULT = {"oks": 0.9, "soft": 0.3}
