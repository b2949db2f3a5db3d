"""Atomic writes: a file or directory is either the old version or the complete new one, never half.

Also posekit's cache folder (:func:`posekit_home`) and folders built once in it (:func:`build_once`).
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posekit.errors import PosekitError

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)


@contextmanager
def atomic_path(path: str | Path, sync_all: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path`` (file or directory).

    The new content reaches the disk before the rename: each file is fsync'ed, or, with ``sync_all``
    (for folders of thousands of files, where one fsync each costs minutes), one ``os.sync()`` flushes all.
    """
    path = Path(path)
    with _no_space_message(path), _read_only_message(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / path.name
    try:
        with _no_space_message(path, tmp):
            yield target
            if sync_all:
                os.sync()
            elif target.is_dir():
                _fsync_tree(target)
            elif target.exists():
                _fsync(target)
        if path.is_dir() and not path.is_symlink():
            # a directory cannot be replaced in one step: move the old one into our own temporary folder
            # (never a name beside it, which could be the user's), then the new one into place
            old = tmp / f"{path.name}.old"
            os.replace(path, old)
            try:
                os.replace(target, path)
            except BaseException:
                os.replace(old, path)
                raise
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
    """``obj`` as strict JSON (:func:`json_text`) in ``path``, atomically."""
    atomic_write_text(path, json_text(obj, indent) + "\n")


def json_text(obj: Any, indent: int | None = None, separators: tuple[str, str] | None = None) -> str:
    """``obj`` as strict JSON, which every parser reads (a browser's ``JSON.parse`` included): NaN and
    infinities become ``null`` (Python's ``json`` writes them as bare ``NaN``/``Infinity`` tokens, which are
    not JSON); numpy values and paths become plain JSON types. ``indent`` and ``separators`` as
    ``json.dumps`` takes them."""
    options = {"indent": indent, "separators": separators, "default": _json_default, "allow_nan": False}
    try:  # most objects hold no NaN: written at once, without the copy (seconds on a large results file)
        return json.dumps(obj, **options)
    except ValueError:
        return json.dumps(_finite(obj), **options)


def _finite(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None (numpy arrays and scalars converted first)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(value) for value in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (int, str)):
        return _finite(obj.tolist())
    return obj


#: JPEG quality of every image posekit writes. 92: the built-in samples were generated with it (their pixels,
#: and so every figure measured on them, depend on it).
JPEG_QUALITY = 92


def encode_image(image_rgb: np.ndarray, suffix: str = ".jpg") -> bytes:
    """An RGB image encoded in the format of ``suffix`` (OpenCV's encoders; JPEG at :data:`JPEG_QUALITY`)."""
    import cv2  # here: importing posekit (and posekit --help) needs no OpenCV

    suffix = suffix.lower() or ".jpg"
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if suffix in (".jpg", ".jpeg") else []
    try:
        ok, data = cv2.imencode(suffix, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), params)
    except cv2.error:
        ok = False
    if not ok:
        raise PosekitError(
            f"cannot write a {suffix!r} image: OpenCV has no encoder for it; use .jpg or .png"
        )
    return data.tobytes()


def write_image(path: str | Path, image_rgb: np.ndarray) -> Path:
    """Write an RGB image atomically, in the format of the path's suffix (default JPEG); returns the path."""
    path = Path(path)
    atomic_write_bytes(path, encode_image(image_rgb, path.suffix))
    return path


def atomic_save(path: str | Path, save: Callable[[Path], None]) -> None:
    """Call ``save(tmp_path)`` (which writes a file or a directory) and move the result into place."""
    with atomic_path(path) as tmp:
        save(tmp)


def refuse_overwriting_inputs(output: str | Path, inputs: Iterable[str | Path | None], fix: str) -> None:
    """Raise one :class:`PosekitError` when writing ``output`` (a file, or a folder replaced whole) would
    overwrite or delete one of the ``inputs`` being read: it is one of them, or (a folder) holds one."""
    out = Path(output).resolve()
    for path in inputs:
        if path is None:
            continue
        read = Path(path).resolve()
        if read == out or out in read.parents:
            raise PosekitError(
                f"{output} {'is' if read == out else 'holds'} the input {read}; writing there would "
                f"overwrite what is being read: {fix}"
            )


def posekit_home() -> Path:
    """posekit's cache folder: ``$POSEKIT_HOME``, default ``~/.cache/posekit``."""
    return Path(os.environ.get("POSEKIT_HOME") or Path.home() / ".cache" / "posekit")


def fallback_home() -> Path:
    """Where posekit builds what a read-only :func:`posekit_home` cannot hold: a folder of this user's in
    the temporary directory."""
    return Path(tempfile.gettempdir()) / f"posekit-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def build_once(
    final: str | Path, build: Callable[[Path], Any], complete: str, what: str, announce: str = ""
) -> Path:
    """The folder ``final``, built by ``build(tmp)`` unless a complete one (holding the file ``complete``)
    exists; ``what`` names it in the error raised when it cannot be created. ``announce``, when given, is
    said (as a warning, the level shown without logging set up) just before a build, with where later runs
    find the result, so that a slow first run says why it waits.

    ``build`` fills a private temporary folder beside ``final``, which is then renamed into place. rename()
    of a folder onto an existing non-empty one fails: when several processes (DDP ranks) build at once the
    first complete copy wins and nobody ever sees a half-written folder (:func:`atomic_path` would replace
    a copy another process may be reading).
    """
    final = Path(final)
    if (final / complete).is_file():
        return final
    try:
        with _no_space_message(final), _read_only_message(final):
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    except ReadOnlyError:
        home, fallback = posekit_home(), fallback_home()
        if not final.is_relative_to(home) or final.is_relative_to(fallback):
            raise
        moved = fallback / final.relative_to(home)
        logger.warning(
            "posekit's cache folder %s is read-only: %s goes to %s instead (set POSEKIT_HOME to a writable "
            "folder to keep it)",
            home,
            what,
            moved,
        )
        return build_once(moved, build, complete, what, announce)
    if announce:
        logger.warning("%s; later runs reuse it from %s", announce, final)
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        with _no_space_message(final, tmp):
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


@contextmanager
def _no_space_message(path: Path, scratch: Path | None = None) -> Iterator[None]:
    """Turn a write of ``path`` (into the temporary folder ``scratch``) that ran out of disk space into one
    :class:`PosekitError` with the path, the space needed and the space free; other errors pass."""
    try:
        yield
    except PosekitError:
        raise  # already said (by a write nested in this one)
    except Exception as error:
        if not _disk_full(error, scratch or path.parent):
            raise
        # at least what was written before the disk filled, or the size of the copy being replaced
        needed = max(_size(scratch) if scratch else 0, _size(path))
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)  # the free space reported includes it
        free = _free_bytes(path.parent)
        need = f"{_mb(needed)} or more" if needed > free else "more than that"
        kept = f"; the existing {path.name} is unchanged" if path.exists() else ""
        raise PosekitError(
            f"cannot write {path}: no space left on the disk ({_mb(free)} free in {path.parent}; it needs "
            f"{need}){kept}. Free some space, or choose a folder on another disk"
        ) from None


class ReadOnlyError(PosekitError):
    """A file or folder cannot be created where it was asked for: the place is read-only."""


@contextmanager
def _read_only_message(path: Path) -> Iterator[None]:
    """Turn a refused creation of ``path``'s folder or of a file beside it (read-only file system, no
    permission) into one :class:`ReadOnlyError` naming the folder and the fix."""
    try:
        yield
    except OSError as error:
        if not isinstance(error, PermissionError) and error.errno != errno.EROFS:
            raise
        folder = Path(error.filename) if error.filename else path.parent
        raise ReadOnlyError(
            f"cannot write {path}: {folder} is read-only for this user ({error.strerror}); choose a "
            "writable folder (or ask for write access)"
        ) from None


#: A failed write with less than this free on the disk is taken for a full disk (torch.save reports a short
#: write only as "unexpected pos ...", without the OS error).
_NEARLY_FULL = 4 * 2**20
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NO_SPACE_TEXT = ("No space left on device", "os error 28", "Disk quota exceeded", "os error 122")


def _disk_full(error: BaseException, folder: Path) -> bool:
    """Whether ``error``, raised writing into ``folder``, means that the disk (or the quota) is full:
    an OSError ENOSPC/EDQUOT, a library's message quoting it (safetensors), or hardly any space left."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _NO_SPACE:
            return True
        if any(text in str(seen) for text in _NO_SPACE_TEXT):
            return True
        seen = seen.__cause__ or seen.__context__
    return _free_bytes(folder) < _NEARLY_FULL


def _free_bytes(folder: Path) -> int:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 2**62  # unknown: not taken for a full disk


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


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
