r"""Joint and segment angles of keypoint tracks, with their uncertainty, smoothing and angular velocity.

**Conventions** (those of Sports2D, whose joint angles follow ISB's zero and sign as far as one 2D view
can; all in degrees, image y pointing down):

- *Flexion* joint angles (knees, hips, elbows, neck, fingers): 180° minus the interior angle at the
  middle point, so a straight limb is 0° and flexion is positive, in [0, 180]. One view cannot tell
  flexion from hyperextension (no facing direction), so the angle is unsigned.
- *Aligned* joint angles (shoulders): the interior angle between the two segments, 0° when they lie
  along each other (the arm hanging beside the trunk), 180° overhead, in [0, 180].
- *Segment* angles: the direction from the first point to the second, anticlockwise positive on the
  screen, zero along the reference: ``horizontal`` (pointing to the image's right, as Sports2D's segment
  angles) or ``vertical`` (pointing up), in (-180, 180]. ``trunk_lean``: mid-hip to mid-shoulder against
  the vertical, positive leaning towards the image's left.

A point is one keypoint or the mean of several (``mid_hip`` = mean of the hips).

**Uncertainty.** Each keypoint's position error is taken isotropic with a standard deviation per
coordinate from the flip test's two looks where predict ran it (``--flip``): ``sd = FLIP_SD_FACTOR *
gap``, ``gap`` half the distance between the keypoints the crop and its mirror image give on their own.
Measured against heatmap spread and OKS sigmas on the motion clips (``benchmarks/analysis.py --sources``:
each scaled to 95% on one clip per kind), only its intervals stay within 94-100% on every kind of the
held-out clips: OKS sigmas alone and heatmap spread give nearly constant widths that over-cover (99%)
and rank the errors poorly; OKS sigmas / score^3 ranks them a little better (Spearman 0.60 against
0.53) but covers squats 81%. The factor is large: the two looks share most of their error, their gap
shows only part of it. Without the
flip test: ``sd = SD_FACTOR * sigma_k * s / score ** SD_SCORE_POWER`` (``sigma_k``: the schema's OKS
sigma, ``s``: the square root of the person's box area, the OKS scale, ``score``: the keypoint's heatmap
score: less sure points err more), which covers less than it should on held-out clips (the benchmark
prints both). Either is propagated to first order (the delta method): with
``u = A - B``, ``v = C - B`` the joint angle's variance is
``sd_A^2 / |u|^2 + sd_C^2 / |v|^2 + sd_B^2 |u / |u|^2 - v / |v|^2|^2`` (rad^2), a segment's
``(sd_A^2 + sd_B^2) / |B - A|^2``; a mean of n points has ``sum sd_i^2 / n^2``. The 95% interval is
``angle ± 1.96 sd``. The factors are calibrated on one clip of each kind (seed 0) of the sample model's
predictions (``benchmarks/analysis.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import savgol_filter

from posekit.analysis.tracks import Tracks
from posekit.datasets.schema import default_sigmas
from posekit.errors import ConfigError

KINDS = ("flexion", "aligned", "horizontal", "vertical")
Z95 = 1.959963984540054  # the standard normal's 97.5% quantile
#: Keypoint SD = FLIP_SD_FACTOR x the flip test's looks' gap (see the module docstring).
FLIP_SD_FACTOR = 3.2
#: Without the flip test: SD = SD_FACTOR x OKS sigma x person scale / score ** SD_SCORE_POWER.
SD_FACTOR = 0.15
SD_SCORE_POWER = 3.0


@dataclass(frozen=True)
class AngleDef:
    """An angle: three points (``flexion``/``aligned`` joint angle at the middle one) or two
    (``horizontal``/``vertical`` segment angle); each point is the mean of one or more keypoints."""

    name: str
    points: tuple[tuple[str, ...], ...]
    kind: str = "flexion"

    def __post_init__(self) -> None:
        needed = 3 if self.kind in ("flexion", "aligned") else 2
        if self.kind not in KINDS or len(self.points) != needed or not all(self.points):
            raise ConfigError(
                f"angle {self.name!r}: kind {self.kind!r} with {len(self.points)} point(s); use one of "
                f"{', '.join(KINDS)} with 3 points for flexion/aligned and 2 for horizontal/vertical"
            )


def _mid(side: str, a: str, b: str, c: str, kind: str = "flexion") -> AngleDef:
    return AngleDef(f"{side}_{b}", ((f"{side}_{a}",), (f"{side}_{b}",), (f"{side}_{c}",)), kind)


_HIPS, _SHOULDERS = ("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")
#: COCO-17 body angles.
COCO17_ANGLES = tuple(
    d
    for side in ("left", "right")
    for d in (
        _mid(side, "hip", "knee", "ankle"),
        _mid(side, "shoulder", "hip", "knee"),
        _mid(side, "shoulder", "elbow", "wrist"),
        _mid(side, "hip", "shoulder", "elbow", "aligned"),
    )
) + (
    AngleDef("trunk_lean", (_HIPS, _SHOULDERS), "vertical"),
    AngleDef("neck", (_HIPS, _SHOULDERS, ("nose",)), "flexion"),
)
_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
#: Hand-21 finger flexions: joint 1 (at the knuckle: wrist, 1, 2), 2 (1, 2, 3) and 3 (2, 3, 4).
HAND21_ANGLES = tuple(
    AngleDef(
        f"{finger}_joint{j}",
        tuple((p,) for p in (["wrist"] + [f"{finger}{i}" for i in range(1, 5)])[j - 1 : j + 2]),
    )
    for finger in _FINGERS
    for j in (1, 2, 3)
)


def angle_set(names: Sequence[str], spec: str | Path | Mapping[str, Any] | None = None) -> list[AngleDef]:
    """The angles to compute for keypoints ``names``: the built-in set whose keypoints they have (COCO-17
    body, hand-21 fingers), or ``spec``: a YAML/JSON file or a mapping ``{name: [a, b, c]}`` (flexion)
    or ``{name: {points: [...], kind: aligned|horizontal|vertical}}``, a point a name or a list of
    names (their mean)."""
    if spec is None:
        for preset in (COCO17_ANGLES, HAND21_ANGLES):
            if all(k in names for d in preset for p in d.points for k in p):
                return list(preset)
        raise ConfigError(
            "no built-in angle set fits these keypoints (COCO-17 body or hand-21); give your own with "
            "--angles FILE ({name: [a, b, c]})"
        )
    if not isinstance(spec, Mapping):
        from posekit.datasets.yaml_file import load_yaml

        spec = load_yaml(Path(spec), "angle definitions")
    if not isinstance(spec, Mapping) or not spec:
        raise ConfigError("angle definitions: expected a mapping {name: [a, b, c]} or {name: {points, kind}}")
    defs = []
    for name, entry in spec.items():
        body = entry if isinstance(entry, Mapping) else {"points": entry}
        points = body.get("points")
        if not isinstance(points, list):
            raise ConfigError(f"angle {name!r}: points must be a list of keypoint names (or lists of them)")
        group = tuple(tuple(p) if isinstance(p, list) else (p,) for p in points)
        missing = sorted({k for p in group for k in p} - set(names))
        if missing:
            raise ConfigError(f"angle {name!r} names keypoints these predictions lack: {', '.join(missing)}")
        defs.append(AngleDef(str(name), group, str(body.get("kind", "flexion"))))
    return defs


@dataclass
class AngleSeries:
    """Angles (A) of people (P) over frames (T), in degrees; NaN where a point is not visible."""

    names: list[str]
    kinds: list[str]
    values: np.ndarray  # (P, T, A) per frame, as measured
    sd: np.ndarray  # (P, T, A) standard deviation of ``values``
    smooth: np.ndarray  # (P, T, A) Savitzky-Golay smoothed (= values without smoothing)
    velocity: np.ndarray  # (P, T, A) degrees per second of ``smooth`` (NaN for still images)

    @property
    def low(self) -> np.ndarray:
        """Lower end of the 95% interval (within the angle's range: [0, 180] for joint angles)."""
        return np.maximum(self.values - Z95 * self.sd, self._bounds[0])

    @property
    def high(self) -> np.ndarray:
        """Upper end of the 95% interval (within the angle's range)."""
        return np.minimum(self.values + Z95 * self.sd, self._bounds[1])

    @property
    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        joint = np.array([k in ("flexion", "aligned") for k in self.kinds])
        return np.where(joint, 0.0, -np.inf), np.where(joint, 180.0, np.inf)


def keypoint_sd(
    tracks: Tracks,
    factor: float = SD_FACTOR,
    score_power: float = SD_SCORE_POWER,
    sigmas: Sequence[float] | None = None,
    flip_factor: float | None = FLIP_SD_FACTOR,
) -> np.ndarray:
    """Per-coordinate position SD (pixels) of each keypoint, (P, T, K): ``flip_factor * flip gap`` where
    the flip test's gap is recorded (``flip_factor`` None: never), else ``factor * sigma_k * sqrt(box
    area) / score ** score_power`` (scores below 0.05 count as 0.05; ``sigmas`` default to the schema's
    OKS sigmas of the keypoints' names)."""
    sig = np.asarray(sigmas if sigmas is not None else default_sigmas(tracks.names), dtype=float)
    scale = np.sqrt(np.abs(tracks.boxes[..., 2] * tracks.boxes[..., 3]))
    oks = factor * scale[..., None] * sig / np.clip(tracks.scores, 0.05, None) ** score_power
    if flip_factor is None:
        return oks
    return np.where(np.isfinite(tracks.flip_gaps), flip_factor * tracks.flip_gaps, oks)


def compute_angles(
    tracks: Tracks, defs: Sequence[AngleDef], sd_px: np.ndarray | None = None, window: int = 0
) -> AngleSeries:
    """Angles ``defs`` of every track, their SD from the keypoints' position SD ``sd_px`` (P, T, K;
    None: zero), Savitzky-Golay smoothing over ``window`` frames (odd; 0: none) and angular velocity."""
    shape = tracks.xy.shape[:3]
    sd_px = np.zeros(shape) if sd_px is None else sd_px
    values, sds = [], []
    for d in defs:
        points, variances = [], []
        for group in d.points:
            idx = [tracks.index(k) for k in group]
            xy = tracks.xy[:, :, idx].mean(axis=2)
            xy[~tracks.visible[:, :, idx].all(axis=2)] = np.nan
            points.append(xy)
            variances.append((sd_px[:, :, idx] ** 2).sum(axis=2) / len(idx) ** 2)
        value, variance = _angle(points, variances, d.kind)
        values.append(value)
        sds.append(np.degrees(np.sqrt(variance)))
    values_a, sd_a = np.stack(values, -1), np.stack(sds, -1)
    smooth, velocity = _smooth(values_a, window, tracks.fps)
    return AngleSeries([d.name for d in defs], [d.kind for d in defs], values_a, sd_a, smooth, velocity)


def _angle(points: list[np.ndarray], variances: list[np.ndarray], kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Degrees and variance (rad^2) of one angle; see the module docstring for both formulas."""
    if kind in ("horizontal", "vertical"):
        d = points[1] - points[0]
        angle = np.degrees(np.arctan2(-d[..., 1], d[..., 0])) - (90.0 if kind == "vertical" else 0.0)
        angle = (angle + 180.0) % 360.0 - 180.0
        angle = np.where(angle == -180.0, 180.0, angle)
        return angle, (variances[0] + variances[1]) / (d**2).sum(-1)
    u, v = points[0] - points[1], points[2] - points[1]
    cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    interior = np.degrees(np.arctan2(np.abs(cross), (u * v).sum(-1)))
    uu, vv = (u**2).sum(-1), (v**2).sum(-1)
    vertex = ((u / uu[..., None] - v / vv[..., None]) ** 2).sum(-1)
    variance = variances[0] / uu + variances[2] / vv + variances[1] * vertex
    return (180.0 - interior if kind == "flexion" else interior), variance


def _smooth(values: np.ndarray, window: int, fps: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Savitzky-Golay smoothing (order 2) and its derivative over each run of finite values at least
    ``window`` long (shorter runs are kept as they are, with no velocity)."""
    smooth, velocity = values.copy(), np.full(values.shape, np.nan)
    if window < 3 or fps is None:
        return smooth, velocity
    window += 1 - window % 2
    for p in range(values.shape[0]):
        for a in range(values.shape[2]):
            series = values[p, :, a]
            finite = np.isfinite(series)
            edges = np.flatnonzero(np.diff(np.concatenate([[0], finite.astype(int), [0]])))
            for start, stop in zip(edges[::2], edges[1::2], strict=True):
                if stop - start >= window:
                    run = series[start:stop]
                    smooth[p, start:stop, a] = savgol_filter(run, window, 2)
                    velocity[p, start:stop, a] = savgol_filter(run, window, 2, deriv=1) * fps
    return smooth, velocity
