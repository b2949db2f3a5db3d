"""Run checkpoints: ``weights/last`` and ``weights/best`` are posekit model directories (loadable by plain
transformers); ``last`` also holds ``training_state.pt`` (optimizer, scheduler, scaler, EMA, epoch, step,
best metric, history), written together with the weights in one atomic rename."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from posekit.errors import ConfigError, ModelError
from posekit.fileio import atomic_save
from posekit.models.official_checkpoint import load_torch_file

STATE_FILE = "training_state.pt"
#: What every training state holds (the trainer's ``state_dict``; scaler, EMA and model weights optional).
STATE_KEYS = frozenset(
    {"epoch", "step", "best_ap", "best_epoch", "bad_validations", "stopped_early", "history", "loss_sum",
     "loss_count", "seconds", "micro_batch", "optimizer", "scheduler"}
)  # fmt: skip


def save_checkpoint(path: Path, model: Any, state: dict[str, Any] | None = None) -> None:
    """Write ``model`` (a ``PoseModel``) and optionally the training ``state`` to the directory ``path``."""

    from transformers.utils import logging as hf_logging

    def write(tmp: Path) -> None:
        model.save(tmp)
        if state is not None:
            torch.save(state, tmp / STATE_FILE)

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Writing model shards" bar in the middle of the epoch's bar
    try:
        atomic_save(path, write)
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def load_state(checkpoint: Path) -> dict[str, Any]:
    """The training state saved in a ``weights/last`` directory; one :class:`ModelError` when it is damaged,
    refused for safety or not a posekit training state (it lacks :data:`STATE_KEYS`)."""
    path = checkpoint / STATE_FILE
    state = load_torch_file(path, "training state")
    missing = sorted(STATE_KEYS - set(state)) if isinstance(state, dict) else sorted(STATE_KEYS)
    if missing:
        raise ModelError(
            f"{path}: not a posekit training state (missing {', '.join(missing)}); resume a run written by "
            "`posekit train`, or start a new one"
        )
    return state


def interrupted_message(run_dir: Path) -> str:
    """What an interrupted run kept and how to continue it (the last checkpoint, ``--resume``)."""
    state = run_dir / "weights" / "last" / STATE_FILE
    if not state.is_file():
        return f"No checkpoint was saved yet in {run_dir}: start the run again."
    return (
        f"The last checkpoint ({run_dir / 'weights' / 'last'}) is whole; continue from it with: "
        f"posekit train --resume {run_dir}"
    )


def find_resume_dir(project: str | Path, run_dir: str | Path | None) -> Path:
    """The run to resume: ``run_dir`` or, when ``None``, the most recently saved run under ``project/train``.

    Accepts a run folder, its ``weights`` folder or its ``weights/last`` folder.
    """
    if run_dir is not None:
        path = Path(run_dir)
        for candidate in (path, path.parent, path.parent.parent):
            _recover(candidate / "weights")
            if (candidate / "weights" / "last" / STATE_FILE).is_file():
                return candidate
        raise ConfigError(
            f"--resume: {path} holds no resumable checkpoint (expected {path}/weights/last/{STATE_FILE}); "
            "give a run folder such as runs/train/exp"
        )
    for weights in Path(project, "train").glob("*/weights"):
        _recover(weights)
    states = sorted(
        Path(project, "train").glob(f"*/weights/last/{STATE_FILE}"), key=lambda p: p.stat().st_mtime
    )
    if not states:
        raise ConfigError(
            f"--resume: no run to resume under {Path(project, 'train')}; start one with `posekit train`, "
            "or give the run folder: --resume RUN_DIR"
        )
    return states[-1].parents[2]


def _recover(weights: Path) -> None:
    """Undo what a kill in the middle of :func:`posekit.fileio.atomic_path` leaves: the old ``last`` moved
    into a temporary ``.last.*.tmp`` directory without a new ``last`` (killed between its two renames), and
    those temporary directories."""
    last = weights / "last"
    old = [p for p in weights.glob(".last.*.tmp/last.old") if (p / STATE_FILE).is_file()]
    if not last.exists() and old:
        os.replace(old[0], last)
    for tmp in weights.glob(".*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)
