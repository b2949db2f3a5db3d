"""Motion clips with known answers: one person doing an exercise (known reps) or walking (known gait
events), drawn with the samples' capsule figures (:mod:`posekit.samples.figures`).

- **Exercises** (front view, the figure facing the camera): ``squat`` (knees and thighs bend out, the
  pelvis drops so the ankles stay on the floor), ``curl`` (both elbows), ``jumping_jack`` (arms and legs
  spread) and ``pushup`` (the body near horizontal, the elbows bend as it lowers). Each rep is a raised
  cosine ``(1 - cos 2 pi u) / 2`` of the exercise's range over an even number of frames, so its start and
  end frames are at rest and its middle frame at the peak; rests of 0.2-0.5 s lie between reps.
- **Walker** (side view: narrow hips and shoulders, walking across the image): each ankle's position
  relative to the pelvis follows a half cosine from +A (heel strike, furthest ahead) to -A (toe off,
  furthest behind) over the stance (60% of the cycle) and back over the swing (the foot lifted); the
  knee comes from two-link inverse kinematics. The cycle is a whole number of frames (a multiple of 10),
  so heel strikes and toe offs fall on frames: those are the known events (Zeni et al.'s extremes).

Output folder (as the video sample's)::

    frames/000001.jpg ...   the frames (JPEG, quality 92)
    annotations.json        COCO keypoints, one person with track_id 0 (frame i is image id i + 1)
    truth.json              kind, fps, num_frames, reps [[start, peak, end], ...] (0-based frames) or
                            heel_strikes / toe_offs {left: [...], right: [...]} and cycle_frames

Everything is drawn from ``np.random.default_rng(seed)``: the same arguments give the same files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from posekit.errors import ConfigError
from posekit.fileio import atomic_write_bytes, atomic_write_json, encode_image
from posekit.samples import figures
from posekit.samples.figures import Body, Figure, Pose
from posekit.samples.sample_images import coco_annotation, coco_document

EXERCISES = ("squat", "curl", "jumping_jack", "pushup")
KINDS = (*EXERCISES, "walk")
_STANCE = 0.6  # share of the gait cycle a foot is on the ground


def generate_clip(
    out_dir: str | Path,
    kind: str,
    seed: int = 0,
    fps: float = 25.0,
    image_size: tuple[int, int] = (480, 640),
    num_frames: int | None = None,
) -> dict:
    """Write a clip of ``kind`` (:data:`KINDS`) into ``out_dir``; return its truth (as ``truth.json``).
    ``num_frames`` defaults to what the reps need (4-6 of them) or 4 seconds of walking."""
    if kind not in KINDS:
        raise ConfigError(f"unknown clip kind {kind!r}; choose one of {', '.join(KINDS)}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    height, width = image_size
    scene = figures.random_background(rng, image_size)
    if kind == "walk":
        frames = num_frames or int(4 * fps)
        placed, truth = _walk(rng, image_size, frames)
    else:
        placed, truth = _exercise(rng, kind, image_size, fps, num_frames)
    out = Path(out_dir)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index, fig in enumerate(placed):
        image = scene.copy()
        ids, masks = figures.draw_people(image, [fig])
        name = f"frames/{index + 1:06d}.jpg"
        atomic_write_bytes(out / name, encode_image(image))
        images.append(
            {"id": index + 1, "file_name": name, "height": height, "width": width, "frame_id": index}
        )
        person = figures.label_people([fig], masks, ids, 1)[0]
        if person is not None:
            annotation = coco_annotation(len(annotations) + 1, index + 1, *person)
            annotation["track_id"] = 0
            annotations.append(annotation)
    truth = {"kind": kind, "seed": seed, "fps": fps, "num_frames": len(placed), **truth}
    document = coco_document(images, annotations, f"posekit motion clip ({kind}, seed {seed})")
    atomic_write_json(out / "annotations.json", document, indent=None)
    atomic_write_json(out / "truth.json", truth)
    return truth


def _standing(rng: np.random.Generator, height: float) -> tuple[Body, Pose]:
    """A person and their upright rest pose (arms hanging, legs straight, face to the camera)."""
    body, _ = figures.random_person(rng, height)
    rest = Pose(
        tilt=0.0,
        head=0.0,
        yaw=float(rng.uniform(-0.2, 0.2)),
        arm_spread=(8.0, 8.0),
        elbow=(5.0, -5.0),
        leg_spread=(4.0, 4.0),
        knee=(0.0, 0.0),
    )
    return body, rest


# ---------------------------------------------------------------------------------------------- exercises
def _exercise(
    rng: np.random.Generator, kind: str, size: tuple[int, int], fps: float, num_frames: int | None
) -> tuple[list[Figure], dict]:
    """The figures of an exercise clip and its reps."""
    h, w = size
    body, rest = _standing(rng, h * rng.uniform(0.6, 0.75) if kind != "pushup" else w * rng.uniform(0.5, 0.6))
    levels, reps, frame = [], [], int(rng.integers(5, 15))
    levels += [0.0] * frame
    for _ in range(int(rng.integers(4, 7))):
        half = int(round(rng.uniform(0.4, 0.7) * fps))
        depth = rng.uniform(0.8, 1.0)
        u = np.arange(2 * half + 1) / (2 * half)
        levels += list(depth * (1 - np.cos(2 * np.pi * u)) / 2)[:-1]
        reps.append([frame, frame + half, frame + 2 * half])
        frame += 2 * half
        pause = int(round(rng.uniform(0.2, 0.5) * fps))
        levels += [0.0] * pause
        frame += pause
    total = num_frames or frame
    levels = (levels + [0.0] * total)[:total]
    reps = [r for r in reps if r[2] < total]
    pose_of = _EXERCISE_POSES[kind]
    floor = h * rng.uniform(0.88, 0.94)
    centre = w * rng.uniform(0.4, 0.6)
    placed = [_on_floor(body, pose_of(rest, a), centre, floor) for a in levels]
    return placed, {"reps": reps}


def _squat(rest: Pose, a: float) -> Pose:
    return replace(
        rest, leg_spread=(4 + 40 * a, 4 + 40 * a), knee=(95 * a, -95 * a), arm_spread=(8 + 70 * a,) * 2
    )


def _curl(rest: Pose, a: float) -> Pose:
    return replace(rest, elbow=(5 + 135 * a, -5 - 135 * a))


def _jumping_jack(rest: Pose, a: float) -> Pose:
    return replace(rest, arm_spread=(8 + 150 * a, 8 + 150 * a), leg_spread=(4 + 22 * a, 4 + 22 * a))


def _pushup(rest: Pose, a: float) -> Pose:
    return replace(
        rest,
        tilt=78.0,
        arm_spread=(95 - 40 * a, 40 * a - 95),
        elbow=(-95 * a, -95 * a),
        leg_spread=(2.0, 2.0),
        head=-10.0,
    )


_EXERCISE_POSES: dict[str, Callable[[Pose, float], Pose]] = {
    "squat": _squat,
    "curl": _curl,
    "jumping_jack": _jumping_jack,
    "pushup": _pushup,
}


def _on_floor(body: Body, pose: Pose, x: float, floor: float) -> Figure:
    """``body`` in ``pose`` with its pelvis at ``x`` and its lowest joint on the ``floor``."""
    probe = figures.place(body, pose, np.zeros(2))
    lowest = probe.joints[:, 1].max() + body.thickness
    return figures.place(body, pose, np.array([x, floor - lowest]))


# ---------------------------------------------------------------------------------------------- walking
def _walk(rng: np.random.Generator, size: tuple[int, int], num_frames: int) -> tuple[list[Figure], dict]:
    """The figures of a walker and their heel strikes and toe offs."""
    h, w = size
    body, rest = _standing(rng, h * rng.uniform(0.6, 0.75))
    body = replace(body, shoulder_width=0.02 * body.height, hip_width=0.01 * body.height)
    cycle = int(rng.choice([30, 40]))
    leg = sum(body.leg)
    reach = 0.33 * leg
    hip_height = math.sqrt((0.96 * leg) ** 2 - reach**2)
    rightwards = bool(rng.random() < 0.5)
    forward = 1.0 if rightwards else -1.0
    start, stop = (0.2 * w, 0.8 * w) if rightwards else (0.8 * w, 0.2 * w)
    floor = h * rng.uniform(0.9, 0.95)
    first = int(rng.integers(cycle))  # the left foot's first heel strike
    offsets = {"left": first, "right": first + cycle // 2}
    placed = []
    for t in range(num_frames):
        pelvis = np.array([start + (stop - start) * t / max(1, num_frames - 1), floor - hip_height])
        spread, bend = [], []
        for index, side in enumerate(("left", "right")):
            phase = ((t - offsets[side]) / cycle) % 1.0
            if phase < _STANCE:
                rel, lift = reach * math.cos(math.pi * phase / _STANCE), 0.0
            else:
                swing = (phase - _STANCE) / (1 - _STANCE)
                rel, lift = -reach * math.cos(math.pi * swing), 0.12 * leg * math.sin(math.pi * swing)
            ankle = pelvis + np.array([forward * rel, hip_height - lift])
            thigh, shin = _two_link(pelvis, ankle, body.leg, forward)
            outward = 1.0 if index == 0 else -1.0  # figures.place's limb sides
            spread.append(outward * math.degrees(math.atan2(thigh[0], thigh[1])))
            bend.append(math.degrees(math.atan2(thigh[0] * shin[1] - thigh[1] * shin[0], thigh @ shin)))
        swing_arm = 20 * math.sin(2 * math.pi * (t - offsets["left"]) / cycle)
        pose = replace(
            rest,
            leg_spread=tuple(spread),
            knee=tuple(bend),
            arm_spread=(-swing_arm, swing_arm),
            elbow=(forward * 20, forward * 20),
        )
        placed.append(figures.place(body, pose, pelvis))
    truth: dict = {"cycle_frames": cycle, "heel_strikes": {}, "toe_offs": {}}
    for side, offset in offsets.items():
        truth["heel_strikes"][side] = [
            f for f in range(offset % cycle, num_frames, cycle) if 0 < f < num_frames - 1
        ]
        toe = offset + int(_STANCE * cycle)
        truth["toe_offs"][side] = [f for f in range(toe % cycle, num_frames, cycle) if 0 < f < num_frames - 1]
    return placed, truth


def _two_link(
    hip: np.ndarray, ankle: np.ndarray, lengths: tuple[float, float], forward: float
) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions of thigh and shin reaching from ``hip`` to ``ankle``, the knee towards ``forward``
    (hand-written: two circles' intersection, no library call for it)."""
    a, b = lengths
    d = ankle - hip
    dist = float(np.hypot(*d))
    along = (a * a - b * b + dist * dist) / (2 * dist)
    across = math.sqrt(max(a * a - along * along, 0.0))
    unit = d / dist
    normal = np.array([-unit[1], unit[0]])
    knee = hip + unit * along + normal * across * (1 if normal[0] * forward > 0 else -1)
    return (knee - hip) / a, (ankle - knee) / b
