"""Reading the JSON the tools are given, as data or as one problem and its fix (never a traceback).

Every JSON posekit reads goes through :func:`parse_json`: annotation, result, detection and sigma files,
model folders' ``config.json``/``posekit.json``/``preprocessor_config.json`` and ONNX metadata. Beyond
malformed text it refuses what would break a reader later: an empty file, text that is not UTF-8 (or
UTF-16/32 with its byte-order mark, which JSON allows), nesting deep enough to exhaust Python's
recursion, integers beyond 64 bits (ids and counts; Python would parse them -- slowly past 4300 digits,
where it refuses -- and numpy would overflow) and numbers too large for a float (``1e999`` reads as
infinity). The literals ``NaN``/``Infinity`` stay readable: the records' own checks name the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from posekit.errors import DataError, PosekitError

#: (problem, fix): what is wrong with a JSON text and how to repair it.
Problem = tuple[str, str]

_INT64_MAX = 2**63 - 1
_FIX_NOT_JSON = "check that this is the file you meant; repair or regenerate it"


class _Refused(ValueError):
    """A number the reader refuses (raised from inside :func:`json.loads`' number hooks)."""

    def __init__(self, literal: str, problem: str) -> None:
        super().__init__(problem)
        self.literal, self.problem = literal, problem


def parse_json(text: bytes | str) -> tuple[Any, Problem | None]:
    """``(data, None)``, or ``(None, (problem, fix))`` when ``text`` is not JSON posekit can use."""
    if isinstance(text, bytes):
        try:
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        except UnicodeDecodeError as e:
            return None, (f"not UTF-8 text ({e.reason} at byte {e.start})", "save the JSON as UTF-8")
    if not text.strip():
        return None, ("is empty", "write the JSON content into the file, or pass the file you meant")
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float), None
    except json.JSONDecodeError as e:
        return None, (
            f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}",
            "repair the file (an editor or `python -m json.tool FILE` shows the spot)",
        )
    except _Refused as e:
        return None, (f"{e.problem}{_where(text, e.literal)}", "correct the number")
    except RecursionError:
        return None, (
            "is nested too deeply (lists or objects inside each other thousands of levels)",
            _FIX_NOT_JSON,
        )


def read_json(path: Path) -> tuple[Any, Problem | None]:
    """``(data, None)``, or ``(None, (problem, fix))`` when ``path`` cannot be read as JSON."""
    if not path.is_file():
        if path.is_dir():
            return None, ("is a folder, not a file", "pass the JSON file itself")
        return None, (
            "is a broken link" if path.is_symlink() else "does not exist",
            "check the path of the file",
        )
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return None, (f"cannot be read: {e.strerror or e}", "check the file's permissions")
    return parse_json(raw)


def load_json(path: str | Path, what: str = "file", error: type[PosekitError] = DataError) -> Any:
    """The data of the JSON file ``path``; otherwise one ``error`` naming ``what`` and ``path``, the problem
    and its fix."""
    data, problem = read_json(Path(path))
    if problem is not None:
        raise error(f"{what} {path}: {problem[0]}. Fix: {problem[1]}")
    return data


def is_int64(value: Any) -> bool:
    """Whether a parsed JSON value is an integer that fits in 64 bits: an int, or a float literal with an
    integral value (``1.0``, ``1e3``) in range -- ``1e19`` and ``1e300`` are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not value.is_integer():  # also NaN and infinity
        return False
    return -_INT64_MAX - 1 <= value <= _INT64_MAX


def _parse_int(literal: str) -> int:
    # length first: int() of a huge literal is slow (quadratic) before Python's own 4300-digit limit
    if len(literal) > 20 or abs(value := int(literal)) > _INT64_MAX:
        shown = literal if len(literal) <= 24 else f"{literal[:12]}...({len(literal.lstrip('-'))} digits)"
        raise _Refused(literal[:64], f"the integer {shown} does not fit in 64 bits")
    return value


def _parse_float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        shown = literal if len(literal) <= 24 else literal[:21] + "..."
        raise _Refused(literal[:64], f"the number {shown} is too large for a 64-bit float")
    return value


class _Marker(str):
    """A refused number, left in place by the second parse of :func:`_where` to find its record."""


def _where(text: str, literal: str) -> str:
    """`` at images[3].width (line L, column C)``: the record and field of the refused number ``literal``
    (found by parsing again with the number left in place) and its position in ``text``."""

    def mark_int(s: str) -> Any:
        return _Marker(s) if s[:64] == literal else int(s) if len(s) <= 20 else 0

    def mark_float(s: str) -> Any:
        return _Marker(s) if s[:64] == literal else float(s)

    path = ""
    stack: list[tuple[str, Any]] = [("", json.loads(text, parse_int=mark_int, parse_float=mark_float))]
    while stack:  # iterative: the document may be nested deep
        where, value = stack.pop()
        if isinstance(value, _Marker):
            path = where
            break
        if isinstance(value, dict):
            stack += [(f"{where}.{k}" if where else str(k), v) for k, v in reversed(list(value.items()))]
        elif isinstance(value, list):
            stack += [(f"{where}[{i}]", v) for i, v in reversed(list(enumerate(value)))]
    at = text.find(literal)
    if at < 0:
        return f" at {path}" if path else ""
    position = f"line {text.count(chr(10), 0, at) + 1}, column {at - text.rfind(chr(10), 0, at)}"
    return f" at {path} ({position})" if path else f" at {position}"
