"""``posekit predict``: keypoints for images, folders, globs, videos and webcams, written to a run folder.

The flags map to :class:`posekit.settings.PredictConfig` (``--min-cutoff``/``--beta`` to its One-Euro
settings, ``--window``/``--polyorder``/``--max-gap`` to its Savitzky-Golay ones); a flag not given keeps
the ``--config`` YAML file's value, else that model's default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from posekit.cli.options import help_for
from posekit.distributed import current_shard
from posekit.settings import OneEuroParams, PredictConfig, SavgolParams, build_settings

_EURO, _SAVGOL = OneEuroParams(), SavgolParams()


def _help(field: str) -> str:
    return help_for(PredictConfig, field)


def predict_command(
    model: Annotated[
        str, typer.Option(help="Model: a directory, hub id, preset (vitpose-b) or exported .onnx.")
    ],
    source: Annotated[
        str,
        typer.Option(
            help="Image, folder, glob ('dir/*.jpg'), video (mp4/avi/mov), webcam index, stream URL "
            "(rtsp://), or 'sample' (the built-in sample's val images, with their ground-truth boxes "
            "unless --boxes is given)."
        ),
    ],
    pretrained: Annotated[
        str, typer.Option(help="Weights of a preset: auto (hub), none (random), a path or hub id.")
    ] = "auto",
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda, cuda:1 (default: cuda when available).")
    ] = None,
    boxes: Annotated[str | None, typer.Option(help=_help("boxes"))] = None,
    detector: Annotated[str | None, typer.Option(help=_help("detector"))] = None,
    det_conf: Annotated[float | None, typer.Option(help=_help("det_conf"))] = None,
    det_every: Annotated[int | None, typer.Option(help=_help("det_every"))] = None,
    conf: Annotated[str | None, typer.Option(help=_help("conf"))] = None,
    batch: Annotated[int | None, typer.Option(help=_help("batch"))] = None,
    flip: Annotated[bool | None, typer.Option("--flip/--no-flip", help=_help("flip"))] = None,
    runtime: Annotated[str | None, typer.Option(help=_help("runtime"))] = None,
    precision: Annotated[str | None, typer.Option(help=_help("precision"))] = None,
    calibration: Annotated[str | None, typer.Option(help=_help("calibration"))] = None,
    live: Annotated[bool | None, typer.Option("--live/--no-live", help=_help("live"))] = None,
    save: Annotated[
        bool | None,
        typer.Option("--save/--no-save", help="Write drawn images / videos (mp4, source fps and size)."),
    ] = None,
    save_json: Annotated[
        bool | None,
        typer.Option(
            "--save-json/--no-save-json", help="Write predictions.json and .jsonl (with each person's file)."
        ),
    ] = None,
    track: Annotated[bool, typer.Option("--track", help="Track ids across video frames.")] = False,
    tracker: Annotated[
        str,
        typer.Option(help="auto: ByteTrack on detector boxes (posekit[track]), else OKS; bytetrack; oks."),
    ] = "auto",
    smooth: Annotated[str | None, typer.Option(help=_help("smooth") + ": online | offline")] = None,
    min_cutoff: Annotated[
        float | None,
        typer.Option(help=f"One-Euro min cutoff (Hz): lower = smoother (default {_EURO.min_cutoff:g})."),
    ] = None,
    beta: Annotated[
        float | None,
        typer.Option(help=f"One-Euro beta: higher = less lag on fast moves (default {_EURO.beta:g})."),
    ] = None,
    window: Annotated[
        int | None, typer.Option(help=f"Savitzky-Golay window (odd, frames; default {_SAVGOL.window}).")
    ] = None,
    polyorder: Annotated[
        int | None, typer.Option(help=f"Savitzky-Golay polynomial order (default {_SAVGOL.polyorder}).")
    ] = None,
    max_gap: Annotated[
        int | None, typer.Option(help=f"Offline: fill gaps of up to N frames (default {_SAVGOL.max_gap}).")
    ] = None,
    project: Annotated[str | None, typer.Option(help=_help("project"))] = None,
    name: Annotated[str | None, typer.Option(help=_help("name"))] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="YAML file of these settings (one_euro/savgol as mappings); flags win."),
    ] = None,
) -> None:
    """Find people and their keypoints in images and videos; write drawings and JSON to a run folder."""
    from posekit.inference.predictor import load

    if source == "sample":
        source, boxes = _sample_source(boxes)

    def given(**values: Any) -> dict[str, Any]:
        return {k: v for k, v in values.items() if v is not None}

    options = given(
        boxes=boxes, detector=detector, det_conf=det_conf, det_every=det_every, conf=conf, batch=batch,
        flip=flip, runtime=runtime, precision=precision, calibration=calibration, live=live, project=project,
        name=name, smooth=smooth, save=save, save_json=save_json,
    )  # fmt: skip
    if euro := given(min_cutoff=min_cutoff, beta=beta):
        options["one_euro"] = OneEuroParams(**euro)
    if savgol := given(window=window, polyorder=polyorder, max_gap=max_gap):
        options["savgol"] = SavgolParams(**savgol)
    if track or smooth:
        options["track"] = True if tracker == "auto" else tracker
    if config is not None:  # the file's settings, the flags given over them, checked as one
        settings = build_settings(PredictConfig, config, **options)
        options = {field: getattr(settings, field) for field in settings.model_fields_set}
    options = {"save": True, "save_json": True, **options}  # the command writes its run unless told not to
    console = Console(soft_wrap=True, highlight=False)
    shard = current_shard()  # under torchrun each process predicts a block of the frames
    predictor = load(model, device=device, pretrained=pretrained)
    results = predictor.predict(source, stream=True, **options)
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
    save_dir = predictor.save_dir
    where = f" Results in [bold]{save_dir}[/]" if save_dir is not None else ""
    console.print(f"{stopped}{frames} image(s)/frame(s), {people} person(s).{where}")
    console.print(escape(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in predictor.settings.items())))
    if predictor.live_stats is not None:
        live_stats = predictor.live_stats.summary()
        console.print(
            f"Live: {live_stats['delivered']} of {live_stats['read']} frames handled "
            f"({live_stats['dropped']} dropped to keep up), latency {live_stats['latency_ms_mean']} ms mean, "
            f"{live_stats['latency_ms_p95']} ms p95"
        )
    if save_dir is not None and (save_dir / "jitter.json").is_file():
        _print_jitter(console, save_dir / "jitter.json")


def _sample_source(boxes: str | None) -> tuple[str, str]:
    """The built-in sample's val image folder and, unless ``boxes`` are given, its annotations (people's
    ground-truth boxes: the sample has no detector-like people)."""
    from posekit.datasets.data_config import resolve_data
    from posekit.samples import locate

    split = resolve_data(locate("sample")).val
    assert split is not None and split.images is not None  # the sample names both
    return str(split.images), boxes or str(split.json_path)


def _print_jitter(console: Console, path: Path) -> None:
    from posekit.datasets.json_file import load_json

    report = load_json(path)
    table = Table(title="Jitter: mean frame-to-frame displacement (px), tracked joints", title_justify="left")
    table.add_column("keypoint")
    for mode in ("raw", "online", "offline"):
        table.add_column(mode, justify="right")
    for joint in report["raw"]["per_keypoint"]:
        cells = [report[m]["per_keypoint"][joint] for m in ("raw", "online", "offline")]
        table.add_row(joint, *("-" if v is None else f"{v:.2f}" for v in cells))
    table.add_row(
        "[bold]mean[/]",
        *(
            "-" if report[m]["mean"] is None else f"{report[m]['mean']:.2f}"
            for m in ("raw", "online", "offline")
        ),
    )
    console.print(table)
