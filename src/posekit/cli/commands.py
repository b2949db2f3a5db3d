"""The commands of ``posekit``: each one's options generated from its settings model
(:func:`posekit.cli.options.settings_command`), each calling its task in :mod:`posekit.tasks` (imported when
the command runs, so that ``posekit --help`` imports only what it prints)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from posekit.cli.options import settings_command
from posekit.settings import (
    AuditConfig,
    CheckConfig,
    ConvertConfig,
    ExportConfig,
    PredictConfig,
    SigmasConfig,
    TrainConfig,
    ValConfig,
)


def _check(**settings: Any) -> None:
    from posekit.tasks.check import check

    if not check(verbose=True, **settings).ok:
        raise typer.Exit(1)


def _train(
    run_dir: Path | None = None,
    resume: bool | None = None,
    allow_data_change: bool | None = None,
    **settings: Any,
) -> None:
    from posekit.errors import ConfigError
    from posekit.tasks.train import train

    if run_dir is not None and not resume:
        raise ConfigError(
            f"unexpected argument {run_dir}: a run folder is only given with --resume (--resume RUN_DIR)"
        )
    resume_from = (run_dir or True) if resume else None
    train(resume=resume_from, allow_data_change=bool(allow_data_change), verbose=True, **settings)


def _val(**settings: Any) -> None:
    from posekit.tasks.val import val

    val(verbose=True, **settings)


def _predict(**settings: Any) -> None:
    from posekit.tasks.predict import run

    run(**settings)


def _export(**settings: Any) -> None:
    from posekit.tasks.export import export

    export(verbose=True, **settings)


def _convert(**settings: Any) -> None:
    from posekit.tasks.convert import convert

    convert(verbose=True, **settings)


def _audit(**settings: Any) -> None:
    from posekit.tasks.audit import audit

    audit(verbose=True, **settings)


def _sigmas(**settings: Any) -> None:
    from posekit.tasks.sigmas import sigmas

    sigmas(verbose=True, **settings)


_RESUME = [
    inspect.Parameter(
        "run_dir",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=None,
        annotation=Annotated[
            Path | None,
            typer.Argument(help="With --resume: the run folder to continue (default: the latest run)."),
        ],
    ),
    inspect.Parameter(
        "resume",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            bool | None, typer.Option("--resume", help="Continue an interrupted run [RUN_DIR].")
        ],
    ),
    inspect.Parameter(
        "allow_data_change",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            bool | None,
            typer.Option(
                "--allow-data-change", help="With --resume: continue on data changed since the start."
            ),
        ],
    ),
]

COMMANDS = {
    "check": settings_command(
        CheckConfig,
        _check,
        arguments=["data"],
        names={"json_output": ("--json",)},
        doc="Validate a keypoint data set: summary, every defect (file, id, field, fix) and advice.",
    ),
    "train": settings_command(
        TrainConfig,
        _train,
        extra=_RESUME,
        doc="Train (fine-tune) a ViTPose model. With no --data: a tiny model on the built-in sample, in "
        "minutes.",
    ),
    "val": settings_command(
        ValConfig,
        _val,
        names={"model": ("--model", "-m"), "data": ("--data", "-d"), "batch_size": ("--batch-size", "-b")},
        doc="Evaluate keypoints: COCO OKS AP/AR, PCK, PCKh, per-keypoint accuracy (and MOTA, ID switches, "
        "IDF1, jitter on video data with track ids); writes runs/val/<name>/.",
    ),
    "predict": settings_command(
        PredictConfig,
        _predict,
        doc="Find people and their keypoints in images and videos; write drawings and JSON to a run folder.",
    ),
    "export": settings_command(
        ExportConfig,
        _export,
        doc="Export a pose model to ONNX with its keypoint schema and preprocessing in the file's metadata.",
    ),
    "convert": settings_command(
        ConvertConfig,
        _convert,
        arguments=["src", "dst"],
        names={"from_format": ("--from", "--from-format"), "to_format": ("--to", "--to-format")},
        doc="Convert keypoint labels between COCO (posekit's format), Ultralytics YOLO pose, CVAT and Label "
        "Studio.\n\nBack again: posekit convert yolo_sample/data.yaml coco_again --from yolo. posekit "
        "train/val/check also take a YOLO pose data.yaml directly.",
    ),
    "audit": settings_command(
        AuditConfig,
        _audit,
        arguments=["data"],
        doc="Find likely annotation errors without a model: points marked unlabelled but placed (or "
        "labelled at 0,0), people labelled twice, left/right swaps that make limbs cross, bones far too "
        "long for the person, boxes that do not fit their skeleton, points outside their box. With a model "
        "(--model, or --folds K), also swaps, displaced joints, missed labels and visibility mistakes "
        "against its predictions. Each finding has a score (-log10 of the chance that a correct label looks "
        "this wrong), the evidence and a fix.",
    ),
    "sigmas": settings_command(
        SigmasConfig,
        _sigmas,
        arguments=["files"],
        doc="Estimate per-keypoint OKS sigmas as COCO defines them (the spread of annotators' labels of a "
        "point, relative to the person's scale) and write a schema file that `posekit val --sigmas FILE` "
        "and a data YAML's `schema:` read.",
    ),
}
