"""Run folders, Ultralytics style: ``runs/<task>/<name>``, ``<name>2``, ... never overwriting a run."""

from __future__ import annotations

from pathlib import Path


def new_run_dir(project: str | Path, task: str, name: str, exist_ok: bool = False) -> Path:
    """Create and return ``project/task/name`` (or the first free ``name2``, ``name3``, ...)."""
    base = Path(project) / task
    path = base / name
    if not exist_ok:
        n = 2
        while path.exists():
            path = base / f"{name}{n}"
            n += 1
    path.mkdir(parents=True, exist_ok=True)
    return path
