"""Atomic writes: a file or directory is either the old version or the complete new one, never half.

Also posekit's cache folder (:func:`posekit_home`) and folders built once in it (:func:`build_once`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from posekit.errors import PosekitError


@contextmanager
def atomic_path(path: str | Path, sync_all: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path`` (file or directory).

    The new content reaches the disk before the rename: each file is fsync'ed, or, with ``sync_all``
    (for folders of thousands of files, where one fsync each costs minutes), one ``os.sync()`` flushes all.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / path.name
    try:
        yield target
        if sync_all:
            os.sync()
        elif target.is_dir():
            _fsync_tree(target)
        elif target.exists():
            _fsync(target)
        if path.is_dir() and not path.is_symlink():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)  # a directory cannot be replaced in one step; keep the old one until done
            os.replace(target, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, default=_json_default) + "\n")


def atomic_save(path: str | Path, save: Callable[[Path], None]) -> None:
    """Call ``save(tmp_path)`` (which writes a file or a directory) and move the result into place."""
    with atomic_path(path) as tmp:
        save(tmp)


def posekit_home() -> Path:
    """posekit's cache folder: ``$POSEKIT_HOME``, default ``~/.cache/posekit``."""
    return Path(os.environ.get("POSEKIT_HOME") or Path.home() / ".cache" / "posekit")


def build_once(final: str | Path, build: Callable[[Path], Any], complete: str, what: str) -> Path:
    """The folder ``final``, built by ``build(tmp)`` unless a complete one (holding the file ``complete``)
    exists; ``what`` names it in the error raised when it cannot be created.

    ``build`` fills a private temporary folder beside ``final``, which is then renamed into place. rename()
    of a folder onto an existing non-empty one fails: when several processes (DDP ranks) build at once the
    first complete copy wins and nobody ever sees a half-written folder (:func:`atomic_path` would replace
    a copy another process may be reading).
    """
    final = Path(final)
    if (final / complete).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        build(tmp)
        try:
            os.rename(tmp, final)
        except OSError as error:
            if not (final / complete).is_file():
                raise PosekitError(
                    f"cannot create {what} in {final} ({error}); delete that folder or set POSEKIT_HOME "
                    "to a writable one"
                ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serialisable")


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            _fsync(p)
