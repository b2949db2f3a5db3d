"""``posekit val``: evaluate a model or a COCO keypoint results file on a data split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posekit.errors import ConfigError


def val_command(
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model directory, hub id or preset (vitpose-s/b/l/h, vitpose-t)."),
    ] = None,
    data: Annotated[
        str, typer.Option("--data", "-d", help="'sample', a COCO keypoint .json or a data .yaml.")
    ] = "sample",
    predictions: Annotated[
        Path | None,
        typer.Option("--predictions", help="Evaluate this COCO keypoint results .json instead of a model."),
    ] = None,
    boxes: Annotated[
        Path | None,
        typer.Option(
            "--boxes", help="COCO detection-results .json: person boxes instead of the ground truth."
        ),
    ] = None,
    box_conf: Annotated[
        float,
        typer.Option("--box-conf", help="Keep detection boxes scoring at least this (0 = all, for AP)."),
    ] = 0.0,
    split: Annotated[str, typer.Option("--split", help="Data split: val or train.")] = "val",
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, help="People per forward pass.")
    ] = 32,
    no_flip: Annotated[bool, typer.Option("--no-flip", help="Disable the flip test.")] = False,
    conf: Annotated[
        float,
        typer.Option(
            "--conf", min=0.0, max=1.0, help="Keypoint confidence for drawing/reporting (not COCO AP)."
        ),
    ] = 0.3,
    sigmas: Annotated[
        str | None,
        typer.Option("--sigmas", help="OKS sigmas: a JSON file or a comma list (default: the schema's)."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Data loading processes (default: 0 on CPU, up to 8 on GPU)."),
    ] = None,
    project: Annotated[str, typer.Option("--project", help="Runs folder.")] = "runs",
    name: Annotated[str, typer.Option("--name", help="Run name (runs/val/<name>, incremented).")] = "exp",
    pretrained: Annotated[
        str,
        typer.Option(
            "--pretrained", help="Weights of a preset: auto (hub), none (random), a path or hub id."
        ),
    ] = "auto",
) -> None:
    """Evaluate keypoints: COCO OKS AP/AR, PCK, PCKh, per-keypoint accuracy; writes runs/val/<name>/."""
    from posekit.engine.evaluate import val

    if split not in ("train", "val"):
        raise ConfigError(f"--split {split!r} is not a split; choose 'val' or 'train'")
    val(
        model=model,
        data=data,
        predictions=predictions,
        boxes=boxes,
        split=split,
        batch_size=batch_size,
        flip_test=not no_flip,
        conf=conf,
        sigmas=sigmas,
        device=device,
        project=project,
        name=name,
        pretrained=pretrained,
        box_conf=box_conf,
        workers=workers,
    )
