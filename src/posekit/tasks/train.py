"""``posekit train``: train (fine-tune) a ViTPose model with :mod:`posekit.engine.train` into the run
folder ``runs/train/<name>`` made here (weights/best and last, args.yaml, results.csv/png, previews)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from posekit.engine.train import train as train_engine
from posekit.runs import new_run_dir
from posekit.settings import TrainConfig
from posekit.tasks.results import TrainResult


def train(
    config: str | Path | None = None,
    resume: bool | str | Path | None = None,
    *,
    allow_data_change: bool = False,
    verbose: bool = False,
    **settings: Any,
) -> TrainResult:
    """Train a ViTPose model; the keyword names are the ``posekit train`` flags (:class:`TrainConfig`:
    ``data``, ``model``, ``epochs``, ``batch_size``, ...), ``config`` a YAML file of them (keywords win).
    ``resume=True`` continues the latest run under ``project``, ``resume="runs/train/exp"`` that run
    (refused when its data changed since it started, unless ``allow_data_change``).
    ``verbose``: show progress and tables. Returns the :class:`TrainResult` (best and last weights, final
    metrics)."""
    summary = train_engine(
        config, resume, allow_data_change, run_folder=run_folder, verbose=verbose, **settings
    )
    return TrainResult.from_summary(summary)


def run_folder(cfg: TrainConfig) -> Path:
    """The new run's folder ``project/train/name`` (``name2``, ... when taken)."""
    return new_run_dir(cfg.project, "train", cfg.name)
