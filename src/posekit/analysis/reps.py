"""Repetitions of an exercise on one signal (an angle or a coordinate over time), per track.

A rep is a peak of the signal that rises at least a least rise above the rest level on both sides
(its prominence: scipy's ``find_peaks``), and two peaks are two reps only when the signal falls by that
rise between them (the hysteresis that keeps a shaky top from counting twice: scipy gives each of two
equal maxima on one plateau the full prominence). The least rise is ``min_range``, or half the track's
own spread (5th to 95th percentile) where that is smaller, as for a model that under-reads a joint's
range, but never under half of ``min_range``. A rep starts at the last frame before the peak and ends at
the first frame after it where the signal is back within ``rest_band`` of its range above that side's
rest level (the lowest value between the peak and its neighbour). Presets name each exercise's signal in
:mod:`posekit.analysis.angles`' conventions, where every rep is a rise (flexion or abduction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks, savgol_filter

from posekit.analysis.angles import AngleSeries
from posekit.errors import ConfigError


@dataclass(frozen=True)
class RepPreset:
    """An exercise: its signal (the larger of these angles at each frame) and the least range of a rep."""

    angles: tuple[str, ...]
    min_range: float  # degrees


#: The exercises with a default signal.
PRESETS: Mapping[str, RepPreset] = {
    "squat": RepPreset(("left_knee", "right_knee"), 40.0),
    "curl": RepPreset(("left_elbow", "right_elbow"), 50.0),
    "pushup": RepPreset(("left_elbow", "right_elbow"), 40.0),
    "jumping_jack": RepPreset(("left_shoulder", "right_shoulder"), 60.0),
}


@dataclass(frozen=True)
class Rep:
    """One repetition: frames (indices into the signal), its extremes and range of motion."""

    start: int
    peak: int
    end: int
    low: float
    high: float

    @property
    def range(self) -> float:
        """Range of motion (the signal's units)."""
        return self.high - self.low


def preset(name: str) -> RepPreset:
    """The preset ``name``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown exercise {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def _bridge(series: np.ndarray) -> np.ndarray:
    """``series`` with its NaN gaps filled linearly (ends held); all NaN when fewer than 2 values."""
    finite = np.isfinite(series)
    if finite.sum() < 2:
        return np.full(series.shape, np.nan)
    frames = np.arange(len(series))
    return np.interp(frames, frames[finite], series[finite])


def rep_signal(angles: AngleSeries, person: int, names: Sequence[str]) -> np.ndarray:
    """The larger of the angles ``names`` of track ``person`` at each frame, each bridged over the frames
    it is not seen (so a side's gap does not hand the signal to the other side for a moment)."""
    values = angles.values[person][:, [angles.names.index(n) for n in names]]
    return np.fmax.reduce(np.stack([_bridge(v) for v in values.T], axis=1), axis=1)


def count_reps(
    signal: np.ndarray,
    min_range: float,
    rest_band: float = 0.1,
    min_frames: int = 1,
    window: int = 0,
    falling: bool = False,
) -> list[Rep]:
    """The reps of ``signal`` (T,; NaN gaps bridged linearly, then Savitzky-Golay smoothed over ``window``
    frames, 0: not): peaks rising at least ``min_range`` (see the module docstring) at least
    ``min_frames`` apart (``falling``: valleys)."""
    if np.isfinite(signal).sum() < 3:
        return []
    s = _bridge(np.asarray(signal, dtype=float))
    window = min(window + 1 - window % 2, len(s) - 1 + len(s) % 2)
    if window >= 3:
        s = savgol_filter(s, window, 2)
    s = -s if falling else s
    p5, p95 = np.percentile(s, [5, 95])
    rise = max(min_range / 2, min(min_range, (p95 - p5) / 2))
    peaks = _separate(s, find_peaks(s, prominence=rise, distance=max(1, min_frames))[0], rise)
    reps = []
    bounds = np.concatenate([[0], peaks, [len(s) - 1]])
    for i, peak in enumerate(peaks):
        before, after = s[bounds[i] : peak + 1], s[peak : bounds[i + 2] + 1]
        rest_before, rest_after = before.min(), after.min()
        start = bounds[i] + np.flatnonzero(before <= rest_before + rest_band * (s[peak] - rest_before))[-1]
        end = peak + np.flatnonzero(after <= rest_after + rest_band * (s[peak] - rest_after))[0]
        low, high = min(rest_before, rest_after), float(s[peak])
        if falling:
            low, high = -high, -low
        reps.append(Rep(int(start), int(peak), int(end), float(low), float(high)))
    return reps


def _separate(s: np.ndarray, peaks: np.ndarray, rise: float) -> np.ndarray:
    """``peaks`` with each run of peaks the signal does not fall ``rise`` between merged into its highest."""
    kept: list[int] = []
    for peak in peaks:
        if kept and s[kept[-1] : peak + 1].min() > min(s[kept[-1]], s[peak]) - rise:
            kept[-1] = kept[-1] if s[kept[-1]] >= s[peak] else int(peak)
        else:
            kept.append(int(peak))
    return np.array(kept, dtype=int)
