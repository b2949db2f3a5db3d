"""Temporal smoothing of tracked keypoints: online (One-Euro) for live streams, offline (gap filling +
Savitzky-Golay) for recorded video, and the jitter measure that shows what each one buys.

The One-Euro filter (Casiez et al., CHI 2012) is hand-written: it is ~20 lines and no maintained
package provides a vectorised one (the ``OneEuroFilter`` PyPI package is scalar and unmaintained).
As in MediaPipe's landmark smoothing, the speed that opens the cutoff is measured in object sizes
per second (pixels / box size), so one setting suits people near and far. The defaults were tuned
on synthetic 30 fps tracks with 2 % noise: a still person's jitter drops ~6x, while a person moving
one box size per second keeps the raw error (no visible lag). The offline pass uses scipy's
``savgol_filter``.

Every function works on one video as lists over frames of ``track_ids (N,)``, ``keypoints (N, K, 2)``,
``keypoint_scores (N, K)`` and ``boxes (N, 4)`` xywh; people with track id ``-1`` are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import savgol_filter

from posekit.settings import OneEuroParams, SavgolParams


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    tau = 1.0 / (2 * np.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over an array of points ``(..., 2)``, one adaptive cutoff per point."""

    def __init__(self, params: OneEuroParams = OneEuroParams()) -> None:
        self.params = params
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filter the points ``x`` observed at time ``t`` (s); ``scale`` = object size in pixels."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        p, dt = self.params, t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(p.d_cutoff, dt) * (dx - self._dx)
        speed = np.linalg.norm(self._dx, axis=-1, keepdims=True) / max(scale, 1e-6)
        self._x = self._x + _alpha(p.min_cutoff + p.beta * speed, dt) * (x - self._x)
        self._t = t
        return self._x.copy()


class OnlineSmoother:
    """One One-Euro filter per track (all its joints); a track unseen for ``max_age`` frames starts afresh."""

    def __init__(self, fps: float, params: OneEuroParams = OneEuroParams(), max_age: int = 30) -> None:
        self.fps, self.params, self.max_age = fps, params, max_age
        self._filters: dict[int, OneEuroFilter] = {}
        self._last_seen: dict[int, int] = {}

    def update(
        self, frame_index: int, track_ids: np.ndarray, keypoints: np.ndarray, boxes: np.ndarray
    ) -> np.ndarray:
        """Smoothed copy of one frame's ``keypoints (N, K, 2)``."""
        out = np.array(keypoints, np.float64, copy=True)
        for i, track in enumerate(np.asarray(track_ids).tolist()):
            if track < 0:
                continue
            if frame_index - self._last_seen.get(track, frame_index) > self.max_age:
                self._filters.pop(track, None)
            scale = float(np.sqrt(max(boxes[i][2] * boxes[i][3], 1.0)))
            out[i] = self._filters.setdefault(track, OneEuroFilter(self.params))(
                out[i], frame_index / self.fps, scale
            )
            self._last_seen[track] = frame_index
        return out


def savgol_smooth(points: np.ndarray, valid: np.ndarray, params: SavgolParams = SavgolParams()) -> np.ndarray:
    """Offline smoothing of one track's ``points (T, K, 2)``; ``valid (T, K)`` marks reliable observations.

    Pass 1 fills gaps of at most ``max_gap`` frames inside each joint's valid span by linear
    interpolation; pass 2 runs Savitzky-Golay on every run of consecutive known values (runs shorter
    than the window use the longest odd window that fits, runs too short for ``polyorder`` are kept).
    Invalid observations outside the filled gaps keep their raw values.
    """
    points = np.asarray(points, np.float64)
    out = points.copy()
    frames = np.arange(len(points))
    for k in range(points.shape[1]):
        seen = np.flatnonzero(valid[:, k])
        if len(seen) == 0:
            continue
        known = np.zeros(len(points), bool)
        known[seen] = True
        for start, stop in zip(seen[:-1], seen[1:], strict=True):
            if 1 < stop - start <= params.max_gap + 1:
                known[start + 1 : stop] = True
        series = np.stack([np.interp(frames, seen, points[seen, k, c]) for c in range(2)], axis=-1)
        for start, stop in _runs(known):
            window = fitted_window(params, stop - start)
            if window:
                out[start:stop, k] = savgol_filter(series[start:stop], window, params.polyorder, axis=0)
            else:
                out[start:stop, k] = series[start:stop]
    return out


def fitted_window(params: SavgolParams, frames: int) -> int:
    """The Savitzky-Golay window used on a run of ``frames``: ``params.window``, or the longest odd window
    that fits; 0 when the run is too short for the filter (fewer than 3 frames or ``polyorder + 1``)."""
    window = min(params.window, frames if frames % 2 else frames - 1)
    return window if window > params.polyorder and window >= 3 else 0


def window_note(params: SavgolParams, frames: int) -> str | None:
    """What offline smoothing does to a clip of ``frames`` shorter than the window (None when it fits)."""
    if not 0 < frames < params.window:
        return None
    window = fitted_window(params, frames)
    used = f"a {window}-frame window is used" if window else "too short to smooth: keypoints kept"
    return (
        f"offline smoothing: the clip has {frames} frames, fewer than the Savitzky-Golay window of "
        f"{params.window}; {used} (polyorder {params.polyorder}). Pass --window {max(window, 3)} or smaller "
        "to choose it, or --smooth online"
    )


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of True values."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def _tracks(track_ids: Sequence[np.ndarray]) -> dict[int, list[tuple[int, int]]]:
    """track id -> [(frame, person index)] in frame order."""
    tracks: dict[int, list[tuple[int, int]]] = {}
    for f, ids in enumerate(track_ids):
        for i, track in enumerate(np.asarray(ids).tolist()):
            if track >= 0:
                tracks.setdefault(track, []).append((f, i))
    return tracks


def _dense(members: list[tuple[int, int]], keypoints: Sequence[np.ndarray], valid: Sequence[np.ndarray]):
    """A track as dense arrays over its frame span: points (T, K, 2) and valid (T, K) (False where absent)."""
    first, last = members[0][0], members[-1][0]
    k = keypoints[members[0][0]].shape[1]
    points = np.zeros((last - first + 1, k, 2))
    mask = np.zeros((last - first + 1, k), bool)
    for f, i in members:
        points[f - first], mask[f - first] = keypoints[f][i], valid[f][i]
    return first, points, mask


def smooth_offline(
    track_ids: Sequence[np.ndarray],
    keypoints: Sequence[np.ndarray],
    keypoint_scores: Sequence[np.ndarray],
    conf: float | np.ndarray = 0.3,
    params: SavgolParams = SavgolParams(),
) -> list[np.ndarray]:
    """Smoothed copies of every frame's keypoints; joints scoring below ``conf`` count as gaps (a clip
    shorter than the window gets the window that fits it, :func:`fitted_window`; :func:`window_note`)."""
    out = [np.array(kp, np.float64, copy=True) for kp in keypoints]
    valid = [np.asarray(s) >= conf for s in keypoint_scores]
    for members in _tracks(track_ids).values():
        first, points, mask = _dense(members, keypoints, valid)
        smoothed = savgol_smooth(points, mask, params)
        for f, i in members:
            out[f][i] = smoothed[f - first]
    return out


def smooth_online(
    track_ids: Sequence[np.ndarray],
    keypoints: Sequence[np.ndarray],
    boxes: Sequence[np.ndarray],
    fps: float,
    params: OneEuroParams = OneEuroParams(),
) -> list[np.ndarray]:
    """One-Euro smoothing of a whole recorded sequence, frame by frame (what a live stream would get)."""
    smoother = OnlineSmoother(fps, params)
    return [
        smoother.update(f, ids, kp, bx)
        for f, (ids, kp, bx) in enumerate(zip(track_ids, keypoints, boxes, strict=True))
    ]


def jitter(
    track_ids: Sequence[np.ndarray], keypoints: Sequence[np.ndarray], valid: Sequence[np.ndarray]
) -> np.ndarray:
    """Mean frame-to-frame displacement (pixels) of each joint ``(K,)`` over all tracks, counting the pairs
    of consecutive frames where the track's joint is valid in both (NaN for a joint never counted)."""
    k = next((kp.shape[1] for kp in keypoints if len(kp)), 0)
    total, count = np.zeros(k), np.zeros(k)
    for members in _tracks(track_ids).values():
        _, points, mask = _dense(members, keypoints, valid)
        both = mask[1:] & mask[:-1]
        total += np.where(both, np.linalg.norm(np.diff(points, axis=0), axis=-1), 0).sum(axis=0)
        count += both.sum(axis=0)
    return np.divide(total, count, out=np.full(k, np.nan), where=count > 0)


def jitter_report(
    track_ids: Sequence[np.ndarray],
    keypoints: Sequence[np.ndarray],
    keypoint_scores: Sequence[np.ndarray],
    boxes: Sequence[np.ndarray],
    fps: float,
    conf: float | np.ndarray = 0.3,
    online: OneEuroParams = OneEuroParams(),
    offline: SavgolParams = SavgolParams(),
) -> dict[str, np.ndarray]:
    """Per-joint jitter of the raw keypoints and of their online and offline smoothing (same valid joints)."""
    valid = [np.asarray(s) >= conf for s in keypoint_scores]
    return {
        "raw": jitter(track_ids, keypoints, valid),
        "online": jitter(track_ids, smooth_online(track_ids, keypoints, boxes, fps, online), valid),
        "offline": jitter(
            track_ids, smooth_offline(track_ids, keypoints, keypoint_scores, conf, offline), valid
        ),
    }
