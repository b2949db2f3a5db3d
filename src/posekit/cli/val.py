"""``posekit val``: evaluate a model or a COCO keypoint results file on a data split.

Every flag maps to a :class:`posekit.settings.ValConfig` field of the same name; flags default to ``None``
("not given") so that the settings model holds the one set of defaults (and a ``--config`` YAML file
can fill them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posekit.cli.options import help_for
from posekit.settings import ValConfig


def _help(field: str) -> str:
    return help_for(ValConfig, field)


def val_command(
    model: Annotated[str | None, typer.Option("--model", "-m", help=_help("model"))] = None,
    data: Annotated[str | None, typer.Option("--data", "-d", help=_help("data"))] = None,
    predictions: Annotated[str | None, typer.Option(help=_help("predictions"))] = None,
    boxes: Annotated[str | None, typer.Option(help=_help("boxes"))] = None,
    box_conf: Annotated[float | None, typer.Option(help=_help("box_conf"))] = None,
    split: Annotated[str | None, typer.Option(help=_help("split") + " (val | train)")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", "-b", help=_help("batch_size"))] = None,
    flip: Annotated[bool | None, typer.Option("--flip/--no-flip", help=_help("flip"))] = None,
    runtime: Annotated[str | None, typer.Option(help=_help("runtime"))] = None,
    precision: Annotated[str | None, typer.Option(help=_help("precision"))] = None,
    calibration: Annotated[str | None, typer.Option(help=_help("calibration"))] = None,
    decode: Annotated[str | None, typer.Option(help=_help("decode"))] = None,
    conf: Annotated[float | None, typer.Option(help=_help("conf"))] = None,
    sigmas: Annotated[str | None, typer.Option(help=_help("sigmas"))] = None,
    nms: Annotated[str | None, typer.Option(help=_help("nms") + " (oks | soft | none)")] = None,
    nms_threshold: Annotated[float | None, typer.Option(help=_help("nms_threshold"))] = None,
    device: Annotated[str | None, typer.Option(help=_help("device"))] = None,
    workers: Annotated[int | None, typer.Option(help=_help("workers"))] = None,
    pretrained: Annotated[str | None, typer.Option(help=_help("pretrained"))] = None,
    worst: Annotated[int | None, typer.Option(help=_help("worst"))] = None,
    project: Annotated[str | None, typer.Option(help=_help("project"))] = None,
    name: Annotated[str | None, typer.Option(help=_help("name"))] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of these settings; flags given win.")] = None,
) -> None:
    """Evaluate keypoints: COCO OKS AP/AR, PCK, PCKh, per-keypoint accuracy (and MOTA, ID switches, IDF1,
    jitter on video data with track ids); writes runs/val/<name>/."""
    settings = {k: v for k, v in locals().items() if k != "config"}
    from posekit.tasks.val import val

    val(config=config, **settings)
