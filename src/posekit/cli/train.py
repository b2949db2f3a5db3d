"""``posekit train``: every flag maps to a :class:`posekit.settings.TrainConfig` field of the same name.

Flags default to ``None`` ("not given") so that a ``--config`` YAML file can fill them and flags given on
the command line win over it; the values are validated together by the config model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posekit.cli.options import help_for
from posekit.settings import TrainConfig


def _help(field: str) -> str:
    return help_for(TrainConfig, field)


def train_command(
    run_dir: Annotated[
        Path | None,
        typer.Argument(help="With --resume: the run folder to continue (default: the latest run)."),
    ] = None,
    data: Annotated[str | None, typer.Option(help=_help("data"))] = None,
    model: Annotated[str | None, typer.Option(help=_help("model"))] = None,
    pretrained: Annotated[str | None, typer.Option(help=_help("pretrained"))] = None,
    epochs: Annotated[int | None, typer.Option(help=_help("epochs"))] = None,
    time: Annotated[float | None, typer.Option(help=_help("time"))] = None,
    batch_size: Annotated[str | None, typer.Option(help=_help("batch_size"))] = None,
    lr: Annotated[float | None, typer.Option(help=_help("lr"))] = None,
    weight_decay: Annotated[float | None, typer.Option(help=_help("weight_decay"))] = None,
    layer_decay: Annotated[float | None, typer.Option(help=_help("layer_decay"))] = None,
    warmup: Annotated[int | None, typer.Option(help=_help("warmup"))] = None,
    schedule: Annotated[
        str | None, typer.Option(help=_help("schedule") + " (cosine | step | constant)")
    ] = None,
    optimizer: Annotated[str | None, typer.Option(help=_help("optimizer") + " (adamw | muon)")] = None,
    input_size: Annotated[str | None, typer.Option(help=_help("input_size") + ", e.g. 256x192")] = None,
    amp: Annotated[str | None, typer.Option(help=_help("amp") + " (bf16 | fp16 | no)")] = None,
    grad_clip: Annotated[float | None, typer.Option(help=_help("grad_clip"))] = None,
    workers: Annotated[int | None, typer.Option(help=_help("workers"))] = None,
    seed: Annotated[int | None, typer.Option(help=_help("seed"))] = None,
    device: Annotated[str | None, typer.Option(help=_help("device") + " (cpu | cuda | auto)")] = None,
    freeze_backbone_epochs: Annotated[int | None, typer.Option(help=_help("freeze_backbone_epochs"))] = None,
    drop_path: Annotated[float | None, typer.Option(help=_help("drop_path"))] = None,
    val_every: Annotated[int | None, typer.Option(help=_help("val_every"))] = None,
    patience: Annotated[int | None, typer.Option(help=_help("patience"))] = None,
    ema: Annotated[bool | None, typer.Option("--ema/--no-ema", help=_help("ema"))] = None,
    save_every: Annotated[int | None, typer.Option(help=_help("save_every"))] = None,
    project: Annotated[str | None, typer.Option(help=_help("project"))] = None,
    name: Annotated[str | None, typer.Option(help=_help("name"))] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run [RUN_DIR].")] = False,
    config: Annotated[Path | None, typer.Option(help="YAML file of these settings; flags given win.")] = None,
    allow_data_change: Annotated[
        bool,
        typer.Option("--allow-data-change", help="With --resume: continue on data changed since the start."),
    ] = False,
) -> None:
    """Train (fine-tune) a ViTPose model. With no --data: a tiny model on the built-in sample, in minutes."""
    settings = {
        k: v for k, v in locals().items() if k not in ("run_dir", "resume", "config", "allow_data_change")
    }
    from posekit.engine.train import train
    from posekit.errors import ConfigError

    if run_dir is not None and not resume:
        raise ConfigError(
            f"unexpected argument {run_dir}: a run folder is only given with --resume (--resume RUN_DIR)"
        )
    train(
        config=config,
        resume=(run_dir or True) if resume else None,
        allow_data_change=allow_data_change,
        **settings,
    )
