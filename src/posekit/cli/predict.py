"""``posekit predict``: keypoints for images, folders, globs, videos and webcams, written to a run folder."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from posekit.models.detector import DEFAULT_DETECTOR


class Smooth(str, Enum):
    online = "online"
    offline = "offline"


class Tracker(str, Enum):
    auto = "auto"
    bytetrack = "bytetrack"
    oks = "oks"


def predict_command(
    model: Annotated[
        str, typer.Option(help="Model: a directory, hub id, preset (vitpose-b) or exported .onnx.")
    ],
    source: Annotated[
        str, typer.Option(help="Image, folder, glob ('dir/*.jpg'), video (mp4/avi/mov) or webcam index.")
    ],
    boxes: Annotated[
        str,
        typer.Option(
            help="Person boxes: 'detector', 'full' (whole image = one person) or a COCO detections JSON."
        ),
    ] = "detector",
    detector: Annotated[
        str, typer.Option(help="Person detector: transformers hub id or directory.")
    ] = DEFAULT_DETECTOR,
    det_conf: Annotated[float, typer.Option(min=0.0, max=1.0, help="Minimum person box score.")] = 0.5,
    conf: Annotated[
        str,
        typer.Option(
            help="Keypoint threshold '0.3', or per joint on top: '0.3,left_wrist=0.5,right_wrist=0.5'. "
            "Joints below are reported with their score, flagged invisible and not drawn."
        ),
    ] = "0.3",
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda, cuda:1 (default: cuda when available).")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Crops per model call (and frames read ahead).")] = 8,
    flip: Annotated[
        bool, typer.Option("--flip", help="Flip test: average with the mirrored crop (2x time).")
    ] = False,
    save: Annotated[
        bool, typer.Option(help="Write drawn images / videos (mp4, source fps and size).")
    ] = True,
    save_json: Annotated[
        bool, typer.Option(help="Write predictions.json (+ predictions.jsonl for videos).")
    ] = True,
    track: Annotated[bool, typer.Option("--track", help="Track ids across video frames.")] = False,
    tracker: Annotated[
        Tracker, typer.Option(help="auto: ByteTrack on detector boxes (posekit[track]), else OKS matching.")
    ] = Tracker.auto,
    smooth: Annotated[
        Smooth | None,
        typer.Option(
            help="Smoothing (implies --track): online (One-Euro) or offline (gap fill + Savitzky-Golay)."
        ),
    ] = None,
    min_cutoff: Annotated[
        float, typer.Option(min=0.0, help="One-Euro min cutoff (Hz): lower = smoother.")
    ] = 0.05,
    beta: Annotated[
        float, typer.Option(min=0.0, help="One-Euro beta: higher = less lag on fast moves.")
    ] = 80.0,
    window: Annotated[int, typer.Option(help="Savitzky-Golay window (odd, frames).")] = 9,
    polyorder: Annotated[int, typer.Option(min=0, help="Savitzky-Golay polynomial order.")] = 2,
    max_gap: Annotated[int, typer.Option(min=0, help="Offline: fill gaps of up to N frames.")] = 10,
    project: Annotated[str, typer.Option(help="Folder of run folders.")] = "runs",
    name: Annotated[str, typer.Option(help="Run name: PROJECT/predict/NAME (numbered if taken).")] = "exp",
) -> None:
    """Find people and their keypoints in images and videos; write drawings and JSON to a run folder."""
    from posekit.inference.predictor import load
    from posekit.inference.smoothing import OneEuroParams, SavgolParams

    console = Console(soft_wrap=True, highlight=False)
    predictor = load(model, device=device)
    results = predictor.predict(
        source,
        boxes=boxes,
        conf=conf,
        detector=detector,
        det_conf=det_conf,
        batch=batch,
        track=(True if tracker == Tracker.auto else tracker.value) if track or smooth else False,
        smooth=smooth.value if smooth else None,
        stream=True,
        flip=flip,
        save=save,
        save_json=save_json,
        project=project,
        name=name,
        one_euro=OneEuroParams(min_cutoff=min_cutoff, beta=beta),
        savgol=SavgolParams(window=window, polyorder=polyorder, max_gap=max_gap),
    )
    people = frames = 0
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    stopped = ""
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("predict", total=None)
        try:
            for result in results:
                frames += 1
                people += len(result)
                progress.update(task, advance=1)
        except KeyboardInterrupt:
            stopped = "Stopped. "  # a webcam runs until Ctrl-C; what was seen is written
    save_dir = predictor.save_dir
    where = f" Results in [bold]{save_dir}[/]" if save or save_json else ""
    console.print(f"{stopped}{frames} image(s)/frame(s), {people} person(s).{where}")
    if save_dir is not None and (save_dir / "jitter.json").is_file():
        _print_jitter(console, save_dir / "jitter.json")


def _print_jitter(console: Console, path) -> None:
    import json

    report = json.loads(path.read_text())
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
