"""``posekit val``: a model or a COCO keypoint results file on a data split, printed and written to a run
folder (metrics.json, per_keypoint.csv/png, pr_curve.png, predictions.json, worst_people.jpg)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from posekit.data.records import KeypointAnnotations
from posekit.data.results import Detections, load_detections, load_results
from posekit.data.sigmas import parse_sigmas
from posekit.device import resolve_device
from posekit.distributed import current_shard
from posekit.engine.evaluator import evaluate_model
from posekit.errors import ConfigError, PosekitError
from posekit.io import atomic_write_json
from posekit.metrics.evaluate import evaluate_predictions
from posekit.report.console import print_report
from posekit.report.files import write_report
from posekit.report.worst_people import save_worst_people
from posekit.runs import new_run_dir
from posekit.settings import ValConfig, build_settings


def val(config: str | Path | None = None, **settings: Any) -> dict[str, Any]:
    """Evaluate a model (``model``: directory, hub id, preset or a loaded PoseModel) or a COCO keypoint
    results file (``predictions``) on a data split, print the report and write the run folder
    ``project/val/name``. The keyword names are the ``posekit val`` flags (see :class:`ValConfig`);
    ``config`` is a YAML file of them (keywords win). Returns the metrics (as in metrics.json) plus
    ``save_dir``.

    ``boxes``: a COCO detections file (person boxes instead of the ground-truth ones), kept from
    score ``box_conf``; ``sigmas`` overrides the schema's OKS sigmas (JSON file, comma list or list);
    ``conf`` only selects the keypoints drawn and counted as confident (COCO AP uses all of them).

    Under ``torchrun``/``accelerate launch`` each process predicts a block of the people; the main one
    evaluates, writes the run folder (the same files as one process) and prints; all return the metrics.
    """
    cfg = build_settings(ValConfig, config, **settings)
    if (cfg.model is None) == (cfg.predictions is None):
        raise ConfigError("pass either a model (--model) or a COCO keypoint results file (--predictions)")
    if cfg.predictions is not None and cfg.boxes is not None:
        raise ConfigError("--boxes needs --model: a predictions file already holds its people")
    from posekit.data.config import resolve_data

    resolve_device(cfg.device)  # a wrong device fails before anything slow
    dataset = resolve_data(cfg.data).load_split(cfg.split)
    override = parse_sigmas(cfg.sigmas, dataset.schema)
    shard = current_shard()  # several processes (torchrun): each predicts a block of the people
    detections = model = evaluation = None
    if cfg.predictions is None:
        model = _model(cfg)
        if cfg.boxes is not None:
            detections = load_detections(cfg.boxes, dataset.images, dataset.category_id, cfg.box_conf)
            box_source = (
                f"detections file {cfg.boxes} ({len(detections.boxes)} boxes, score >= {cfg.box_conf:g})"
            )
        else:
            box_source = "ground-truth boxes"
        evaluation = evaluate_model(
            model,
            dataset,
            detections.boxes if detections else None,
            cfg.flip,
            cfg.batch_size,
            cfg.device,
            cfg.workers,
            override,
            cfg.conf,
            cfg.nms,
            cfg.nms_threshold,
            keypoint_ap=True,
            box_source=box_source,
            progress=cfg.verbose and shard.is_main,
            shard=shard,
            parts=Path(cfg.project) / "val" / f"{cfg.name}.predictions",  # the run folder comes after
        )
    if not shard.is_main:
        return shard.share(dict)  # the main process's metrics
    if evaluation is None:
        results = load_results(
            cfg.predictions, dataset.schema.num_keypoints, dataset.images, dataset.category_id
        )
        report = evaluate_predictions(
            dataset.to_coco_dict(),
            results,
            dataset.schema,
            sigmas=override,
            conf=cfg.conf,
            box_source=f"predictions file {cfg.predictions}",
        )
    else:
        report, results = evaluation

    run_dir = new_run_dir(cfg.project, "val", cfg.name)  # after the evaluation: none for a failed one
    report.metrics["run"] = _run_info(cfg, dataset, model, detections)
    write_report(report, run_dir)
    atomic_write_json(run_dir / "predictions.json", results, indent=None)
    console = Console()
    if cfg.worst > 0:
        try:
            save_worst_people(dataset, report, results, run_dir / "worst_people.jpg", cfg.conf, cfg.worst)
        except PosekitError as error:  # a missing image must not cost the user the metrics
            console.print(f"[yellow]warning:[/] worst_people.jpg not written: {error}")
    if cfg.verbose:
        print_report(report, console)
        console.print(f"Results saved to {run_dir / 'metrics.json'}", highlight=False, soft_wrap=True)
    metrics = {**report.metrics, "save_dir": str(run_dir)}
    return shard.share(lambda: metrics)


def _model(cfg: ValConfig) -> torch.nn.Module:
    """The model to evaluate, with the decoder asked for (``--decode``) in its processor."""
    from posekit.models.vitpose import load_model

    model = cfg.model
    if not isinstance(model, torch.nn.Module):
        model = load_model(model, pretrained=cfg.pretrained)
    if cfg.decode is not None and cfg.decode != model.processor.decode:
        model = copy.copy(model)  # the caller's model keeps its processor
        model.processor = model.processor.updated(decode=cfg.decode)
    return model


def _run_info(
    cfg: ValConfig, dataset: KeypointAnnotations, model: Any, detections: Detections | None
) -> dict[str, Any]:
    """What metrics.json records about how the figures were made."""
    info: dict[str, Any] = {"data": cfg.data, "split": cfg.split, "annotations_file": str(dataset.json_path)}
    if model is None:
        return {**info, "predictions_file": str(cfg.predictions)}
    processor = model.processor
    return {
        **info,
        "model": str(cfg.model if isinstance(cfg.model, str | Path) else type(cfg.model).__name__),
        "boxes": detections.summary() if detections else {"source": "ground-truth"},
        "flip_test": processor.flip_test if cfg.flip is None else cfg.flip,
        "processor": processor.to_dict(),
        "instance_score": f"box score x mean of keypoint scores above {processor.keypoint_threshold:g}",
        "nms": {
            "mode": cfg.nms,
            "threshold": cfg.nms_threshold if cfg.nms_threshold is not None else _NMS_DEFAULT.get(cfg.nms),
        },
    }


_NMS_DEFAULT = {"oks": 0.9, "soft": 0.3}
