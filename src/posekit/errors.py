"""User-facing errors: one clear message (what, where, how to fix), never a traceback in the CLI."""

from __future__ import annotations


class PosekitError(Exception):
    """A mistake the user can fix. The CLI prints ``str(error)`` and exits with status 1."""


class DataError(PosekitError):
    """The data set is invalid. ``issues`` holds every defect found (see ``posekit.data.check``)."""

    def __init__(self, message: str, issues: list | None = None) -> None:
        super().__init__(message)
        self.issues = list(issues or [])


class ConfigError(PosekitError):
    """A configuration value is invalid (names the option and the allowed values)."""


class ModelError(PosekitError):
    """A model or its weights cannot be built or loaded."""
