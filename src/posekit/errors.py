"""User-facing errors: one clear message (what, where, how to fix), never a traceback in the CLI."""

from __future__ import annotations

import math


class PosekitError(Exception):
    """A mistake the user can fix. The CLI prints ``str(error)`` and exits with status 1."""


class DataError(PosekitError):
    """The data set is invalid. ``issues`` holds every defect found (see ``posekit.datasets.validation``)."""

    def __init__(self, message: str, issues: list | None = None) -> None:
        super().__init__(message)
        self.issues = list(issues or [])


class ConfigError(PosekitError):
    """A configuration value is invalid (names the option and the allowed values)."""


class ModelError(PosekitError):
    """A model or its weights cannot be built or loaded."""


def check_number(name: str, value: float, low: float | None = None, high: float | None = None) -> float:
    """``value`` as a float when it is a finite number in ``[low, high]``; else one :class:`ConfigError`
    naming the option (NaN fails every comparison, so range checks alone would let it through)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if (
        not math.isfinite(number)
        or (low is not None and number < low)
        or (high is not None and number > high)
    ):
        limits = [f"{sign} {bound:g}" for sign, bound in ((">=", low), ("<=", high)) if bound is not None]
        expected = f"in [{low:g}, {high:g}]" if len(limits) == 2 else "".join(limits)
        raise ConfigError(f"{name}: {value!r} is not allowed; expected a finite number {expected}".rstrip())
    return number


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with a message saying what was kept and how to go on (e.g. ``posekit train --resume RUN``).
    A :class:`KeyboardInterrupt`, so Python code and notebooks see an interrupt as usual."""
