"""``posekit val``: a model or a COCO keypoint results file on a data split, printed and written to a run
folder (metrics.json with the error breakdown, per_keypoint.csv/png, pr_curve.png, predictions.json,
worst_people.jpg, report.html).

Data with track ids (PoseTrack-style video ground truth, e.g. ``sample-video``) also get the video
metrics (:func:`posekit.metrics.video.evaluate_video`) under ``"video"`` in metrics.json: of the
results file's ``track_id``s, or, for a model, of its predictions tracked frame by frame with the
predictor's tracker for given boxes (OKS matching; the ground-truth ids are not used).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape

from posekit.datasets.records import KeypointAnnotations
from posekit.datasets.results_file import Detections, load_detections, load_results
from posekit.datasets.sigmas_file import parse_sigmas
from posekit.device import Backend, resolve_backend, resolve_device, torch_dtype
from posekit.distributed import current_shard
from posekit.engine.model_evaluation import evaluate_model
from posekit.errors import ConfigError, PosekitError
from posekit.fileio import atomic_write_json
from posekit.metrics import NMS_THRESHOLDS
from posekit.metrics.error_types import error_breakdown
from posekit.metrics.keypoint_metrics import evaluate_predictions
from posekit.metrics.units import SCORE_UNIT, format_fraction
from posekit.report.console import format_number, print_report
from posekit.report.files import write_report
from posekit.report.html import write_html_report
from posekit.report.worst_people import save_worst_people
from posekit.runs import new_run_dir
from posekit.settings import ValConfig, build_settings, flip_test
from posekit.tasks.results import Metrics

#: The video metrics printed as fractions (all of evaluate_video's are written to metrics.json).
VIDEO_KEYS = ("MOTA", "MOTP", "IDF1")


def val(config: str | Path | None = None, **settings: Any) -> Metrics:
    """Evaluate a model (``model``: directory, hub id, preset or a loaded PoseModel) or a COCO keypoint
    results file (``predictions``) on a data split, print the report and write the run folder
    ``project/val/name``. The keyword names are the ``posekit val`` flags (see :class:`ValConfig`);
    ``config`` is a YAML file of them (keywords win); ``verbose`` prints the report. Returns the
    :class:`Metrics` (``to_dict()``: as in metrics.json, plus ``save_dir``).

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
    from posekit.datasets.data_config import resolve_data
    from posekit.samples import locate

    device = resolve_device(cfg.device)  # a wrong device, runtime or precision fails early
    backend = resolve_backend(cfg.runtime, cfg.precision, device) if cfg.model is not None else None
    # scoring a results file needs only the annotations (pycocotools reads no image)
    dataset = resolve_data(locate(cfg.data), images=cfg.images).load_split(
        cfg.split, require_images=cfg.predictions is None
    )
    gt = dataset.to_coco_dict()
    video = any("track_id" in a.extra for a in dataset.annotations)
    override = parse_sigmas(cfg.sigmas, dataset.schema)
    shard = current_shard()  # several processes (torchrun): each predicts a block of the people
    detections = model = evaluation = None
    flip = None
    if cfg.predictions is None:
        model = _model(cfg, backend)
        flip = flip_test(cfg.flip, model.processor.flip_test, video)
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
            boxes=detections.boxes if detections else None,
            flip_test=flip,
            batch_size=cfg.batch_size,
            device=cfg.device,
            workers=cfg.workers,
            sigmas=override,
            conf=cfg.conf,
            nms=cfg.nms,
            nms_threshold=cfg.nms_threshold,
            keypoint_ap=True,
            box_source=box_source,
            progress=cfg.verbose and shard.is_main,
            shard=shard,
            parts=Path(cfg.project) / "val" / f"{cfg.name}.predictions",  # the run folder comes after
        )
    if not shard.is_main:
        return _metrics(shard.share(dict))  # the main process's metrics
    if evaluation is None:
        results = load_results(
            cfg.predictions, dataset.schema.num_keypoints, dataset.images, dataset.category_id
        )
        report = evaluate_predictions(
            gt,
            results,
            dataset.schema,
            sigmas=override,
            conf=cfg.conf,
            box_source=f"predictions file {cfg.predictions}",
        )
    else:
        report, results = evaluation

    if video:
        report.metrics["video"] = _video_metrics(dataset, results, cfg.predictions is None, cfg.conf)
    run_dir = new_run_dir(cfg.project, "val", cfg.name)  # after the evaluation: none for a failed one
    report.metrics["run"] = _run_info(cfg, dataset, model, detections, flip, backend)
    errors = error_breakdown(gt, results, dataset.schema, override)
    report.metrics["errors"] = errors.to_dict()
    write_report(report, run_dir)
    traced = [{**row, "file": dataset.images[row["image_id"]].file_name} for row in results]  # COCO + file
    atomic_write_json(run_dir / "predictions.json", traced, indent=None)
    console = Console()
    worst = None
    if cfg.worst > 0:
        try:
            worst = save_worst_people(
                dataset, report, results, run_dir / "worst_people.jpg", cfg.conf, cfg.worst
            )
        except PosekitError as error:  # a missing image must not cost the user the metrics
            console.print(f"worst_people.jpg skipped (it draws the images): {escape(str(error))}")
    page = write_html_report(
        run_dir, f"posekit val: {run_dir}", evaluation=report, errors=errors, worst_people=worst
    )
    if cfg.verbose:
        print_report(report, console)
        _print_video(report.metrics.get("video"), console)
        console.print(f"Results saved to {run_dir / 'metrics.json'}", highlight=False, soft_wrap=True)
        console.print(f"Report: {page}", highlight=False, soft_wrap=True)
    metrics = {**report.metrics, "save_dir": str(run_dir)}
    return _metrics(shard.share(lambda: metrics))


def _metrics(values: dict[str, Any]) -> Metrics:
    """The :class:`Metrics` of metrics.json's values and ``save_dir``."""
    save_dir = values.pop("save_dir")
    return Metrics(values, Path(save_dir))


def _model(cfg: ValConfig, backend: Backend | None) -> torch.nn.Module:
    """The model to evaluate on ``backend``, with the decoder asked for (``--decode``) in its processor."""
    from posekit.models.vitpose import load_model

    model = cfg.model
    if not isinstance(model, torch.nn.Module):
        model = load_model(model, pretrained=cfg.pretrained)
    if backend is not None and backend.runtime != "torch":
        from posekit.inference.export import exported_runner

        model = _RunnerModel(exported_runner(model, backend.runtime, backend.precision, cfg.calibration))
    elif backend is not None and backend.precision != "fp32":
        model = copy.deepcopy(model).to(torch_dtype(backend.precision))  # the caller's model stays as it is
    if cfg.decode is not None and cfg.decode != model.processor.decode:
        model = copy.copy(model)  # the caller's model keeps its processor
        model.processor = model.processor.updated(decode=cfg.decode)
    return model


class _RunnerModel(torch.nn.Module):
    """An exported model (OpenVINO, ONNX Runtime) where the evaluator wants a PoseModel: tensors in and out,
    schema, processor."""

    def __init__(self, runner: Any) -> None:
        super().__init__()
        self.runner, self.schema, self.processor = runner, runner.schema, runner.processor

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.runner(pixel_values.float().cpu().numpy()))


def _video_metrics(
    dataset: KeypointAnnotations, results: list[dict[str, Any]], track: bool, conf: float
) -> dict[str, Any]:
    """evaluate_video's metrics of ``results`` (tracked here first when they come from a model), or
    ``{"skipped": why}`` where the ground truth does not allow them (the rest of val goes on)."""
    from posekit.metrics.video import evaluate_video

    if track:
        results = _tracked(dataset, results, conf)
        source = "model predictions on ground-truth boxes, tracked by OKS matching (the predictor's tracker)"
    elif not any("track_id" in row for row in results):
        return {"skipped": "the predictions file has no track_id: video metrics need tracked predictions"}
    else:
        source = "track_id of the predictions file"
    # joints below the confidence threshold are not predictions (PoseTrack submissions leave them out)
    try:
        metrics = evaluate_video(_video_ground_truth(dataset), results, keypoint_threshold=conf)
    except PosekitError as error:
        return {"skipped": str(error)}
    if metrics["num_frames"] == 0:
        return {
            "skipped": f"none of the {metrics['num_videos']} video(s) has two or more frames with labelled "
            "people (PoseTrack's MOT evaluation leaves each video's last such frame out): there is nothing "
            "to track"
        }
    return {**metrics, "track_ids": source, "keypoint_threshold": conf}


def _video_ground_truth(dataset: KeypointAnnotations) -> dict[str, Any]:
    """The COCO dict of a video data set with what the video metrics read: images' ``vid_id``, ``frame_id``,
    ``is_labeled`` and ignore regions, people's ``track_id`` and ``bbox_head``."""
    gt = dataset.to_coco_dict()
    for image in gt["images"]:
        image.update(dataset.images[image["id"]].extra)
    extras = {a.id: a.extra for a in dataset.annotations}
    for ann in gt["annotations"]:
        ann.update(extras[ann["id"]])
    return gt


def _tracked(
    dataset: KeypointAnnotations, results: list[dict[str, Any]], conf: float
) -> list[dict[str, Any]]:
    """Copies of ``results`` with a ``track_id`` from an OKS tracker run over each video's frames in order."""
    from posekit.inference.tracking import OKSTracker

    k = dataset.schema.num_keypoints
    by_image: dict[int, list[dict[str, Any]]] = {}
    for row in results:
        by_image.setdefault(row["image_id"], []).append(dict(row))
    videos: dict[Any, list[Any]] = {}
    for image in dataset.images.values():
        videos.setdefault(image.extra.get("vid_id"), []).append(image)
    tracked = []
    for frames in videos.values():
        tracker = OKSTracker(dataset.schema.sigmas_array, conf=conf)
        for image in sorted(frames, key=lambda im: (im.extra.get("frame_id", im.id), im.id)):
            rows = by_image.get(image.id, [])
            xyv = np.array([row["keypoints"] for row in rows], np.float64).reshape(len(rows), k, 3)
            boxes = np.array([_box(points) for points in xyv]).reshape(-1, 4)
            ids = tracker.update(boxes, np.ones(len(rows)), xyv[..., :2], xyv[..., 2])
            for row, track in zip(rows, ids.tolist(), strict=True):
                row["track_id"] = int(track)
            tracked += rows
    return tracked


def _box(points: np.ndarray) -> list[float]:
    """The xywh extent of a person's keypoints (the tracker's scale and fallback)."""
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    return [*low.tolist(), *(high - low).tolist()]


def _print_video(video: dict[str, Any] | None, console: Console) -> None:
    if video is None:
        return
    if "skipped" in video:
        console.print(f"[yellow]note:[/] video metrics skipped: {video['skipped']}")
        return
    values = ", ".join(f"{key} {format_fraction(video[key])}" for key in VIDEO_KEYS)
    console.print(
        f"Video ({video['num_videos']} video(s), {video['num_frames']} frames; distances in "
        f"{video['normaliser']}): {values} ({SCORE_UNIT}), id_switches {video['id_switches']}, jitter "
        f"{format_number(video['jitter'], ' px/frame^2')}",
        highlight=False,
    )


def _run_info(
    cfg: ValConfig,
    dataset: KeypointAnnotations,
    model: Any,
    detections: Detections | None,
    flip: bool | None,
    backend: Backend | None,
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
        "flip_test": flip,
        "runtime": backend.runtime if backend else None,
        "precision": backend.precision if backend else None,
        "backend_choice": backend.reason if backend else None,
        "processor": processor.to_dict(),
        "instance_score": f"box score x mean of keypoint scores above {processor.keypoint_threshold:g}",
        "nms": {
            "mode": cfg.nms,
            "threshold": cfg.nms_threshold if cfg.nms_threshold is not None else NMS_THRESHOLDS.get(cfg.nms),
        },
    }
