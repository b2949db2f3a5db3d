"""Gait events and their timing from a side view, by Zeni et al.'s coordinate method.

Zeni, Richards & Higginson (2008), *Two simple methods for determining gait events during treadmill and
overground walking using kinematic data*, Gait & Posture 27(4): heel strike is where the heel is
furthest ahead of the sacrum along the direction of walking, toe off where the toe is furthest behind
it. COCO-17 has neither heel nor toe: the ankle stands in for both (a common adaptation), and the
mid-hip for the sacrum: its local straight-line course over one second (a Savitzky-Golay fit of order 1,
which follows steady walking exactly, ends included). A model's hips wobble with the legs' pose within
each stride (the sample model's by +-10 px, a quarter of the ankle's excursion); on the flat top of the
ankle's curve that wobble moved heel strikes by 3 frames, the fitted course does not wobble. The
direction of walking is the sign of that course's velocity at each frame, so a walker may turn. Heel
strikes are the peaks of the leading ankle (the one further ahead at each frame), toe offs the dips of
the trailing one, found by scipy's ``find_peaks`` at least ``min_step`` seconds apart and with a
prominence of at least ``min_swing`` of the leg's length; each event's side is the ankle leading
(trailing) at its frame. Taking the envelope rather than each ankle alone keeps the timing when a model
swaps left and right, common in side views.

Distances are in pixels, or metres given ``metres_per_pixel`` (:func:`metres_per_pixel` turns the
person's height into one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks, savgol_filter

from posekit.analysis.tracks import Tracks
from posekit.errors import DataError

SIDES = ("left", "right")
#: Nose to ankle as a share of standing height (Drillis & Contini 1966: eye 0.936 H, ankle 0.039 H; the
#: nose sits a little below the eyes).
NOSE_TO_ANKLE = 0.88


@dataclass
class GaitEvents:
    """Frames (indices into the track) of each side's heel strikes and toe offs, and the walking
    direction at each frame (+1 towards the image's right, -1 left)."""

    heel_strikes: dict[str, np.ndarray]
    toe_offs: dict[str, np.ndarray]
    direction: np.ndarray


@dataclass
class GaitSummary:
    """Means over the events found; times in seconds, lengths in ``unit`` (px or m)."""

    steps: int
    cadence: float  # steps per minute
    step_time: float
    stride_time: float
    stance_share: float  # of the stride
    swing_share: float
    step_length: float
    speed: float  # unit per second
    unit: str

    def as_dict(self) -> dict[str, float | int | str]:
        return dict(vars(self))


def _series(tracks: Tracks, person: int, name: str) -> np.ndarray:
    """x of keypoint ``name`` over the frames, linearly bridged over the frames it is not visible."""
    k = tracks.index(name)
    x = np.where(tracks.visible[person, :, k], tracks.xy[person, :, k, 0], np.nan)
    finite = np.isfinite(x)
    if finite.sum() < 3:
        raise DataError(f"track {tracks.track_ids[person]}: {name} is visible in fewer than 3 frames")
    frames = np.arange(len(x))
    return np.interp(frames, frames[finite], x[finite])


def _pelvis_course(tracks: Tracks, person: int) -> np.ndarray:
    """The mid-hip's x over the frames, fitted by a straight line over each second (odd window, at
    most the track's length): a gait cycle's bob and sway average out."""
    pelvis = (_series(tracks, person, "left_hip") + _series(tracks, person, "right_hip")) / 2
    window = min(max(3, int(round(float(tracks.fps or 0)))), len(pelvis))
    window -= 1 - window % 2
    return savgol_filter(pelvis, window, 1, mode="interp") if window >= 3 else pelvis


def gait_events(tracks: Tracks, person: int, min_step: float = 0.35, min_swing: float = 0.15) -> GaitEvents:
    """Heel strikes and toe offs of track ``person`` (an index into ``tracks.track_ids``)."""
    if not tracks.fps:
        raise DataError("gait events need a video (frames per second); these predictions are still images")
    pelvis = _pelvis_course(tracks, person)
    direction = np.where(np.gradient(pelvis) >= 0, 1.0, -1.0)
    hip_y = np.nanmean(tracks.xy[person, :, [tracks.index("left_hip"), tracks.index("right_hip")], 1], axis=0)
    ankle_y = np.nanmean(
        tracks.xy[person, :, [tracks.index("left_ankle"), tracks.index("right_ankle")], 1], axis=0
    )
    leg = float(np.nanmedian(np.abs(ankle_y - hip_y)))
    distance = max(1, int(round(min_step * tracks.fps)))
    ahead = np.stack([(_series(tracks, person, f"{side}_ankle") - pelvis) * direction for side in SIDES])
    # The leading ankle's envelope (max over the sides) peaks at every heel strike, the trailing one's
    # (min) dips at every toe off: a model's left/right swaps in a side view leave both unchanged, and
    # the side of an event is the ankle that leads (trails) at that frame.
    strike = find_peaks(ahead.max(0), prominence=min_swing * leg, distance=distance)[0]
    off = find_peaks(-ahead.min(0), prominence=min_swing * leg, distance=distance)[0]
    lead, trail = ahead[:, strike].argmax(0), ahead[:, off].argmin(0)
    strikes = {side: strike[lead == i] for i, side in enumerate(SIDES)}
    offs = {side: off[trail == i] for i, side in enumerate(SIDES)}
    return GaitEvents(strikes, offs, direction)


def gait_summary(
    tracks: Tracks, person: int, events: GaitEvents, metres_per_pixel: float | None = None
) -> GaitSummary:
    """Cadence, step and stride time, stance and swing shares, step length and speed of ``events``."""
    fps = float(tracks.fps or 0)
    scale, unit = (metres_per_pixel, "m") if metres_per_pixel else (1.0, "px")
    all_strikes = np.sort(np.concatenate([events.heel_strikes[s] for s in SIDES]))
    if len(all_strikes) < 2:
        raise DataError(f"track {tracks.track_ids[person]}: fewer than 2 heel strikes; walk longer or closer")
    step_time = float(np.diff(all_strikes).mean() / fps)
    strides, stances, lengths = [], [], []
    ankles = {s: _series(tracks, person, f"{s}_ankle") for s in SIDES}
    for side, other in (SIDES, SIDES[::-1]):
        hs = events.heel_strikes[side]
        lengths += [abs(ankles[side][f] - ankles[other][f]) for f in hs]
        for a, b in zip(hs[:-1], hs[1:], strict=True):
            off = events.toe_offs[side][(events.toe_offs[side] > a) & (events.toe_offs[side] < b)]
            strides.append(b - a)
            if len(off) == 1:
                stances.append((off[0] - a) / (b - a))
    pelvis = _pelvis_course(tracks, person)
    span = all_strikes[-1] - all_strikes[0]
    stance = float(np.mean(stances)) if stances else float("nan")
    return GaitSummary(
        steps=len(all_strikes),
        cadence=60.0 / step_time,
        step_time=step_time,
        stride_time=float(np.mean(strides) / fps) if strides else float("nan"),
        stance_share=stance,
        swing_share=1.0 - stance,
        step_length=float(np.mean(lengths)) * scale,
        speed=float(abs(pelvis[all_strikes[-1]] - pelvis[all_strikes[0]]) / (span / fps)) * scale,
        unit=unit,
    )


def metres_per_pixel(tracks: Tracks, person: int, height_m: float) -> float:
    """The scale that makes the person ``height_m`` metres tall: their median nose-to-ankle height in
    pixels is :data:`NOSE_TO_ANKLE` of it."""
    nose = tracks.xy[person, :, tracks.index("nose"), 1]
    ankles = np.nanmean(tracks.xy[person, :, [tracks.index("left_ankle"), tracks.index("right_ankle")], 1], 0)
    pixels = float(np.nanmedian(ankles - nose))
    if not np.isfinite(pixels) or pixels <= 0:
        raise DataError(
            f"track {tracks.track_ids[person]}: no frame with its nose above its ankles to scale by"
        )
    return height_m * NOSE_TO_ANKLE / pixels
