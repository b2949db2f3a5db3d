"""Reading the YAML files the tools are given (data YAMLs, ``--config``): data, or one :class:`ConfigError`
naming the file, the line and column and the problem (never a traceback).

``yaml.safe_load`` builds only plain data (no object runs code), but its parser recurses: nesting a few
thousand levels deep exhausts Python's recursion, which is refused here like malformed YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from posekit.errors import ConfigError


def load_yaml(path: Path, what: str = "") -> Any:
    """The parsed YAML file ``path``; ``what`` prefixes the message (e.g. ``"--config: "``)."""
    if not path.is_file():
        raise ConfigError(f"{what}{path} does not exist or is not a file; give the path of a YAML file")
    try:
        return yaml.safe_load(path.read_bytes().decode("utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{what}{path}: invalid YAML{where}: {problem}; fix the file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{what}{path}: not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"
        ) from None
    except RecursionError:
        raise ConfigError(f"{what}{path}: is nested too deeply (thousands of levels); fix the file") from None
    except OSError as error:
        raise ConfigError(f"{what}{path}: cannot be read ({error.strerror or error})") from None
