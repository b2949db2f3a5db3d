"""Run folders, Ultralytics style: ``runs/<task>/<name>``, ``<name>2``, ... never overwriting a run."""

from __future__ import annotations

from pathlib import Path

from posekit.errors import PosekitError


def new_run_dir(project: str | Path, task: str, name: str, exist_ok: bool = False) -> Path:
    """Create and return ``project/task/name`` (or the first free ``name2``, ``name3``, ...).

    Each candidate is claimed with one ``mkdir`` that fails when the folder exists, so runs started at
    the same moment (several processes, several machines on one disk) never share a folder.
    """
    base = Path(project) / task
    try:
        base.mkdir(parents=True, exist_ok=True)
        if exist_ok:
            (base / name).mkdir(exist_ok=True)
            return base / name
        n = 1
        while True:
            path = base / (name if n == 1 else f"{name}{n}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                n += 1
    except OSError as error:  # not writable, or a file where a folder should be
        where = error.filename or base
        raise PosekitError(
            f"cannot create the run folder {where}: {error.strerror or error}; choose another --project "
            "or --name"
        ) from None
