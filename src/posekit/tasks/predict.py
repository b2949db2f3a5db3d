"""``posekit predict``: keypoints for images, folders, globs, videos and webcams, written to a run folder
(``runs/predict/<name>``: drawn images or videos, ``predictions.json``, ``jitter.json`` when smoothing).

:func:`predict` is the Python API's (results returned, nothing printed unless ``verbose``); :func:`run` is
the command's (results consumed with a progress bar, then a summary printed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from posekit.distributed import Shard, current_shard
from posekit.errors import ConfigError
from posekit.inference.pose_result import PoseResult
from posekit.inference.predictor import Predictor, load
from posekit.runs import new_run_dir
from posekit.settings import PredictConfig, PredictOptions, build_settings

#: What ``posekit predict`` does unless told otherwise: write its run (the Python API writes nothing).
COMMAND_DEFAULTS = {"save": True, "save_json": True}


def predict(
    config: str | Path | None = None, *, verbose: bool = False, **settings: Any
) -> list[PoseResult] | Iterator[PoseResult]:
    """Predict ``source`` with ``model`` (a directory, hub id, preset, ``.onnx`` file or a
    :class:`Predictor`); the keyword names are the ``posekit predict`` flags (:class:`PredictConfig`),
    ``config`` a YAML file of them (keywords win). Returns a list of :class:`PoseResult`, or a generator
    with ``stream=True`` (the default for videos and webcams). ``save``/``save_json`` write the run folder
    ``project/predict/name``; ``verbose`` prints where."""
    predictor, results, save_dir, _ = _start(build_settings(PredictConfig, config, **settings))
    if verbose and save_dir is not None:
        Console(soft_wrap=True, highlight=False).print(f"Results in {save_dir}")
    return results


def run(config: str | Path | None = None, **settings: Any) -> None:
    """``posekit predict``: predict and write the run (unless ``save``/``save_json`` say not to), with a
    progress bar; print what was found, the choices made and, for videos, the live and jitter figures."""
    cfg = build_settings(PredictConfig, config, defaults=COMMAND_DEFAULTS, **settings)
    predictor, results, save_dir, shard = _start(cfg.model_copy(update={"stream": True}))
    people = frames = 0
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    stopped = ""
    with Progress(
        *columns, console=Console(stderr=True), transient=True, disable=not shard.is_main
    ) as progress:
        task = progress.add_task("predict", total=None)
        try:
            for result in results:
                frames += 1
                people += len(result)
                progress.update(task, advance=1)
        except KeyboardInterrupt:
            stopped = "Stopped. "  # a webcam runs until Ctrl-C; what was seen is written
    frames, people = shard.total(frames), shard.total(people)
    if not shard.is_main:
        return
    console = Console(soft_wrap=True, highlight=False)
    where = f" Results in [bold]{escape(str(save_dir))}[/]" if save_dir is not None else ""
    console.print(f"{stopped}{frames} image(s)/frame(s), {people} person(s).{where}")
    console.print(escape(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in predictor.settings.items())))
    if predictor.live_stats is not None:
        live = predictor.live_stats.summary()
        console.print(
            f"Live: {live['delivered']} of {live['read']} frames handled "
            f"({live['dropped']} dropped to keep up), latency {live['latency_ms_mean']} ms mean, "
            f"{live['latency_ms_p95']} ms p95"
        )
    if save_dir is not None and (save_dir / "jitter.json").is_file():
        _print_jitter(console, save_dir / "jitter.json")


def _start(
    cfg: PredictConfig,
) -> tuple[Predictor, list[PoseResult] | Iterator[PoseResult], Path | None, Shard]:
    """The predictor, its results, the run folder (made here when the run writes) and this process's
    shard."""
    if cfg.model is None or cfg.source is None:
        raise ConfigError("predict needs --model (a directory, hub id, preset or .onnx) and --source")
    options = {field: getattr(cfg, field) for field in PredictOptions.model_fields}
    source = cfg.source
    if isinstance(source, str) and source == "sample":
        source, options["boxes"] = _sample_source(cfg.boxes)
    predictor = (
        cfg.model
        if isinstance(cfg.model, Predictor)
        else load(cfg.model, device=cfg.device, pretrained=cfg.pretrained)
    )
    shard = current_shard()  # under torchrun each process predicts a block of the frames: one run folder
    writes = cfg.save or cfg.save_json
    save_dir = shard.share(lambda: new_run_dir(cfg.project, "predict", cfg.name)) if writes else None
    return predictor, predictor.predict(source, save_dir=save_dir, **options), save_dir, shard


def _sample_source(boxes: Any) -> tuple[str, Any]:
    """The built-in sample's val image folder and, unless ``boxes`` are given, its annotations (people's
    ground-truth boxes: the sample has no detector-like people)."""
    from posekit.datasets.data_config import resolve_data
    from posekit.samples import locate

    split = resolve_data(locate("sample")).val
    assert split is not None and split.images is not None  # the sample names both
    return str(split.images), boxes if boxes is not None else str(split.json_path)


def _print_jitter(console: Console, path: Path) -> None:
    from posekit.datasets.json_file import load_json

    report = load_json(path)
    modes = ("raw", "online", "offline")
    table = Table(title="Jitter: mean frame-to-frame displacement (px), tracked joints", title_justify="left")
    table.add_column("keypoint")
    for mode in modes:
        table.add_column(mode, justify="right")
    for joint in report["raw"]["per_keypoint"]:
        cells = [report[m]["per_keypoint"][joint] for m in modes]
        table.add_row(joint, *("-" if v is None else f"{v:.2f}" for v in cells))
    means = [report[m]["mean"] for m in modes]
    table.add_row("[bold]mean[/]", *("-" if v is None else f"{v:.2f}" for v in means))
    console.print(table)
