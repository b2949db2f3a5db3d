"""Reading a JSON file the tools were given, as data or as one problem and its fix (never a traceback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: Path) -> tuple[Any, tuple[str, str] | None]:
    """``(data, None)``, or ``(None, (problem, fix))`` when ``path`` cannot be read as JSON."""
    if not path.is_file():
        return None, (
            "file not found" if not path.exists() else "is not a file",
            "check the path of the file",
        )
    try:
        with open(path, "rb") as f:
            return json.loads(f.read()), None
    except json.JSONDecodeError as e:
        return None, (
            f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}",
            "repair the file (an editor or `python -m json.tool FILE` shows the spot)",
        )
    except UnicodeDecodeError as e:
        return None, (f"not UTF-8 text ({e.reason} at byte {e.start})", "save the JSON as UTF-8")
    except OSError as e:
        return None, (f"cannot be read: {e.strerror or e}", "check the file's permissions")
