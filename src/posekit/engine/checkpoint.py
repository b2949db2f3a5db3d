"""Run checkpoints: ``weights/last`` and ``weights/best`` are posekit model directories (loadable by plain
transformers); ``last`` also holds ``training_state.pt`` (optimizer, scheduler, scaler, EMA, epoch, step,
best metric, history), written together with the weights in one atomic rename."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import IO, Any

import torch

from posekit.datasets.records import KeypointAnnotations
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


# ------------------------------------------------------------------------------------------- the run's data
def data_fingerprint(splits: dict[str, KeypointAnnotations]) -> dict[str, dict[str, Any]]:
    """What a run trains and validates on, per split: the annotation file (absolute), its SHA-256, the image
    folder and the counts of images and people. Saved in the training state; a resume compares it."""
    return {
        name: {
            "json": str(split.json_path.resolve()),
            "sha256": hashlib.sha256(split.json_path.read_bytes()).hexdigest(),
            "images_folder": str(split.image_root.resolve()),
            "images": len(split.images),
            "people": sum(not a.iscrowd for a in split.annotations),
        }
        for name, split in splits.items()
    }


def data_changes(saved: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[str]:
    """How the data ``now`` differs from the run's ``saved`` fingerprint, one line per difference."""
    changes = []
    for split in sorted(set(saved) | set(now)):
        before, after = saved.get(split, {}), now.get(split, {})
        for key in ("json", "images_folder", "images", "people", "sha256"):
            if before.get(key) != after.get(key):
                what = "content (SHA-256)" if key == "sha256" else key.replace("_", " ")
                changes.append(f"{split} {what}: {before.get(key)} -> {after.get(key)}")
    return changes


def lock_run(run_dir: Path) -> IO[str] | None:
    """Hold the run folder for this process (released when it ends, even killed): a second training or
    resume of the same run is refused instead of both writing its checkpoints. None where file locks do
    not exist (Windows)."""
    try:
        import fcntl
    except ImportError:
        return None
    handle = open(run_dir / ".lock", "a+")  # noqa: SIM115 (held open for the life of the run)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise ConfigError(
            f"{run_dir} is being trained by {owner}; wait for it to end (or stop it) before resuming it"
        ) from None
    handle.truncate(0)
    handle.write(f"process {os.getpid()}")
    handle.flush()
    return handle
