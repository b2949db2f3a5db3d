"""Capsule stick figures with COCO-17 keypoints: the people of the built-in samples.

A person is a :class:`Body` (segment lengths, head size, limb thickness, colours: fixed for a person)
in a :class:`Pose` (joint angles), placed at a pelvis position by :func:`place`. Figures face the
camera (so a person's left is on the image's right, as in real front views): left limbs are drawn in
cool colours, right limbs in warm ones, forearms/shins lighter than upper arms/thighs (the colour change
marks the elbow/knee), with eyes, nose and ears on the head. :func:`label_people` labels keypoints
covered by a figure or an object in front, or an ear turned away, occluded (v=1) and keypoints outside
the image unlabelled (v=0); a person's box is the figure's extent clipped to the image.

Used by the still sample (:mod:`posekit.samples.sample_images`: one random pose per person) and the video
sample (:mod:`posekit.samples.sample_video`: the same people walking). Drawing is hand-written with
OpenCV primitives (no library generates posed figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from posekit.datasets.schema import get_preset

_SHIFT = 4  # OpenCV fixed-point bits: figures are drawn with sub-pixel accuracy
_SCALE = 1 << _SHIFT
_NAMES = get_preset("coco17").names
_J = {name: i for i, name in enumerate(_NAMES)}
_SIDES = ("left", "right")


@dataclass(frozen=True)
class Body:
    """What stays fixed for a person: sizes in pixels and colours (RGB by part)."""

    height: float
    shoulder_width: float  # half the distance between the shoulders
    hip_width: float  # half the distance between the hips
    arm: tuple[float, float]  # upper arm, forearm
    leg: tuple[float, float]  # thigh, shin
    radius: float  # of the head
    thickness: float  # of the limbs
    colours: dict[str, tuple[int, int, int]]  # torso, head, left, right


@dataclass(frozen=True)
class Pose:
    """Joint angles in degrees; per-side pairs are (left, right).

    ``tilt``: the trunk's lean; ``head``: the head's, on top of it; ``yaw``: the face's turn in
    [-0.45, 0.45] (> 0: to the image right; beyond 0.3 the far ear is hidden). ``*_spread``: an upper
    arm's or thigh's angle away from the trunk axis, outwards; ``elbow``/``knee``: the forearm's or
    shin's bend against it, signed.
    """

    tilt: float
    head: float
    yaw: float
    arm_spread: tuple[float, float]
    elbow: tuple[float, float]
    leg_spread: tuple[float, float]
    knee: tuple[float, float]


@dataclass
class Figure:
    """A placed person: what :func:`draw_figure` draws and :func:`label_people` labels."""

    joints: np.ndarray  # (17, 2) image coordinates
    self_occluded: np.ndarray  # (17,) bool: an ear turned away
    head: tuple[np.ndarray, float]  # centre, radius
    thickness: float
    colours: dict[str, tuple[int, int, int]]


@dataclass(frozen=True)
class Occluder:
    """A striped object in front of the people: its pixels, colour and stripe period."""

    mask: np.ndarray  # (H, W) uint8, 255 where it is
    colour: tuple[int, int, int]
    period: int


def random_person(rng: np.random.Generator, height: float) -> tuple[Body, Pose]:
    """A front-facing person ``height`` pixels tall with a random look and random joint angles.

    The order of the draws from ``rng`` is part of the still sample: changing it changes its files.
    """
    h = height
    tilt = float(np.clip(rng.normal(0, 12), -35, 35))
    shoulder_w, hip_w = rng.uniform(0.09, 0.12) * h, rng.uniform(0.06, 0.08) * h
    arm = (rng.uniform(0.15, 0.18) * h, rng.uniform(0.14, 0.17) * h)
    leg = (rng.uniform(0.22, 0.25) * h, rng.uniform(0.21, 0.24) * h)
    arm_spread, elbow, leg_spread, knee = [], [], [], []
    for _side in _SIDES:
        arm_spread.append(rng.uniform(-10, 150))
        elbow.append(rng.uniform(0, 130) * rng.choice((-1.0, 1.0)))
        bend = rng.uniform(0, 110) if rng.random() < 0.2 else rng.uniform(0, 45)
        leg_spread.append(rng.uniform(-5, 35))
        knee.append(bend * rng.choice((-1.0, 1.0)))
    radius = rng.uniform(0.08, 0.095) * h
    head = float(rng.normal(0, 10))
    yaw = rng.uniform(-0.45, 0.45)
    colours = {
        "torso": _hsv(rng, (125, 175), (60, 200), (90, 230)),
        "head": _hsv(rng, (5, 20), (60, 150), (150, 250)),
        "left": _hsv(rng, (85, 125), (170, 255), (150, 255)),  # cool: cyan..blue
        "right": _hsv(rng, (0, 25), (170, 255), (170, 255)),  # warm: red..yellow
    }
    thickness = max(3.0, rng.uniform(0.035, 0.06) * h)
    body = Body(h, shoulder_w, hip_w, arm, leg, radius, thickness, colours)
    pose = Pose(tilt, head, yaw, tuple(arm_spread), tuple(elbow), tuple(leg_spread), tuple(knee))
    return body, pose


def place(body: Body, pose: Pose, pelvis: np.ndarray) -> Figure:
    """The figure of ``body`` in ``pose`` with its pelvis (mid-hip) at ``pelvis`` (image x, y)."""
    h = body.height
    tilt = _rot(pose.tilt)
    up, right = tilt @ np.array([0.0, -1.0]), tilt @ np.array([1.0, 0.0])
    neck = pelvis + up * 0.30 * h
    j = np.zeros((17, 2))
    # the person's left is on the image right (+right): they face the camera
    j[_J["left_shoulder"]] = neck + right * body.shoulder_width
    j[_J["right_shoulder"]] = neck - right * body.shoulder_width
    j[_J["left_hip"]], j[_J["right_hip"]] = pelvis + right * body.hip_width, pelvis - right * body.hip_width
    for index, (side, outward) in enumerate(zip(_SIDES, (1.0, -1.0), strict=True)):
        j[_J[f"{side}_elbow"]], j[_J[f"{side}_wrist"]] = _limb(
            j[_J[f"{side}_shoulder"]], -up, outward, pose.arm_spread[index], body.arm, pose.elbow[index]
        )
        j[_J[f"{side}_knee"]], j[_J[f"{side}_ankle"]] = _limb(
            j[_J[f"{side}_hip"]], -up, outward, pose.leg_spread[index], body.leg, pose.knee[index]
        )
    radius = body.radius
    head_tilt = _rot(pose.head) @ tilt
    centre = neck + up * radius * 1.15
    yaw = pose.yaw

    def face(x: float, y: float) -> np.ndarray:
        return centre + head_tilt @ np.array([x, y]) * radius

    j[_J["nose"]] = face(0.55 * yaw, 0.18)
    j[_J["left_eye"]], j[_J["right_eye"]] = face(0.4 + 0.45 * yaw, -0.2), face(-0.4 + 0.45 * yaw, -0.2)
    j[_J["left_ear"]], j[_J["right_ear"]] = face(0.95 - 0.3 * yaw, 0.0), face(-0.95 - 0.3 * yaw, 0.0)
    hidden = np.zeros(17, dtype=bool)
    if yaw > 0.3:  # turned to its left: the left ear goes behind the head
        hidden[_J["left_ear"]] = True
    elif yaw < -0.3:
        hidden[_J["right_ear"]] = True
    return Figure(j, hidden, (centre, radius), body.thickness, body.colours)


def _rot(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def _limb(
    start: np.ndarray,
    down: np.ndarray,
    outward: float,
    spread: float,
    lengths: tuple[float, float],
    bend: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Two-segment limb from ``start``: first segment ``spread`` degrees from ``down`` towards
    ``outward`` (+1 image right, -1 left), second turned by ``bend`` degrees from the first."""
    first = _rot(-outward * spread) @ down
    mid = start + first * lengths[0]
    second = _rot(bend) @ first
    return mid, mid + second * lengths[1]


def _hsv(
    rng: np.random.Generator, hue: tuple[int, int], sat: tuple[int, int], val: tuple[int, int]
) -> tuple[int, int, int]:
    pixel = np.array([[[rng.integers(*hue), rng.integers(*sat), rng.integers(*val)]]], dtype=np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(pixel, cv2.COLOR_HSV2RGB)[0, 0])


def _lighter(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(c + (255 - c) * 0.45) for c in colour)


def _fixed(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * _SCALE)), int(round(p[1] * _SCALE))


# ---------------------------------------------------------------------------------------------- drawing
def draw_figure(canvas: np.ndarray, fig: Figure, mask: bool = False) -> None:
    """Draw ``fig`` on ``canvas`` (RGB), or its silhouette (255) on a single-channel ``mask``."""
    j, t = fig.joints, int(round(fig.thickness))
    line = cv2.LINE_8 if mask else cv2.LINE_AA

    def colour(name: str) -> tuple[int, ...]:
        return (255,) if mask else fig.colours[name]

    def capsule(a: str, b: str, c: tuple[int, ...]) -> None:
        cv2.line(canvas, _fixed(j[_J[a]]), _fixed(j[_J[b]]), c, t, line, _SHIFT)

    torso = np.array([_fixed(j[_J[n]]) for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")])
    cv2.fillConvexPoly(canvas, torso, colour("torso"), line, _SHIFT)
    for side in ("right", "left"):
        base = colour(side)
        light = base if mask else _lighter(fig.colours[side])
        capsule(f"{side}_hip", f"{side}_knee", base)
        capsule(f"{side}_knee", f"{side}_ankle", light)
        capsule(f"{side}_shoulder", f"{side}_elbow", base)
        capsule(f"{side}_elbow", f"{side}_wrist", light)
        for end in ("wrist", "ankle"):  # hands and feet: darker round ends centred on the joint
            tip = base if mask else tuple(int(c * 0.55) for c in fig.colours[side])
            cv2.circle(canvas, _fixed(j[_J[f"{side}_{end}"]]), int(0.7 * t * _SCALE), tip, -1, line, _SHIFT)
    centre, radius = fig.head
    neck = (j[_J["left_shoulder"]] + j[_J["right_shoulder"]]) / 2
    cv2.line(canvas, _fixed(neck), _fixed(centre), colour("head"), t, line, _SHIFT)
    for ear in ("left_ear", "right_ear"):
        if not fig.self_occluded[_J[ear]]:
            cv2.circle(
                canvas, _fixed(j[_J[ear]]), int(0.28 * radius * _SCALE), colour("head"), -1, line, _SHIFT
            )
    cv2.circle(canvas, _fixed(centre), int(radius * _SCALE), colour("head"), -1, line, _SHIFT)
    if mask:
        return
    for ear in ("left_ear", "right_ear"):  # an ear's centre marked so it can be located precisely
        if not fig.self_occluded[_J[ear]]:
            cv2.circle(canvas, _fixed(j[_J[ear]]), int(0.1 * radius * _SCALE), (90, 50, 40), -1, line, _SHIFT)
    for eye in ("left_eye", "right_eye"):
        cv2.circle(canvas, _fixed(j[_J[eye]]), int(0.14 * radius * _SCALE), (20, 20, 30), -1, line, _SHIFT)
    cv2.circle(canvas, _fixed(j[_J["nose"]]), int(0.16 * radius * _SCALE), (200, 30, 60), -1, line, _SHIFT)


def random_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A muted texture: smooth noise, stripes or a gradient, with a few faint shapes and pixel noise."""
    h, w = size
    kind = rng.integers(3)
    if kind == 0:
        cells = rng.uniform(0, 255, (int(rng.integers(3, 12)), int(rng.integers(3, 12)), 3))
        image = cv2.resize(cells.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        angle = rng.uniform(0, np.pi)
        xs = np.arange(w, dtype=np.float32)[None, :] * np.float32(np.cos(angle) / max(h, w))
        ys = np.arange(h, dtype=np.float32)[:, None] * np.float32(np.sin(angle) / max(h, w))
        u = xs + ys
        wave = np.sin(u * np.float32(rng.uniform(6, 40))) * 0.5 + 0.5 if kind == 1 else u - u.min()
        a, b = rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32)
        image = a + (b - a) * wave[..., None]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None]
    saturation = np.float32(rng.uniform(0.2, 0.45))  # muted: the figures stand out by their colours
    image = grey + (image - grey) * saturation
    noise = np.frombuffer(rng.bytes(image.size), np.uint8).reshape(image.shape) & 15  # uniform, cheap
    image = np.clip(image + noise - np.float32(7.5), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 6))):
        c = tuple(int(v) for v in rng.integers(60, 200, 3).mean() + rng.integers(-25, 25, 3))
        p1, p2 = rng.uniform(0, (w, h)), rng.uniform(0, (w, h))
        if rng.random() < 0.5:
            cv2.line(image, _fixed(p1), _fixed(p2), c, int(rng.integers(1, 6)), cv2.LINE_AA, _SHIFT)
        else:
            cv2.ellipse(
                image,
                (int(p1[0]), int(p1[1])),
                (int(rng.integers(5, 40)), int(rng.integers(5, 40))),
                float(rng.uniform(0, 180)),
                0,
                360,
                c,
                -1,
                cv2.LINE_AA,
            )
    return image


def random_occluder(rng: np.random.Generator, size: tuple[int, int], fig: Figure) -> Occluder:
    """A box or ellipse, a few limb widths across, over one of ``fig``'s joints."""
    target = fig.joints[rng.integers(17)]
    span = np.array([rng.uniform(0.6, 1.6), rng.uniform(0.6, 1.6)]) * fig.thickness * 3
    c = tuple(int(v) for v in rng.integers(40, 220, 3))
    mask = np.zeros(size, np.uint8)
    if rng.random() < 0.5:
        p1, p2 = target - span * rng.uniform(0.2, 0.8, 2), target + span * rng.uniform(0.2, 0.8, 2)
        cv2.rectangle(mask, _fixed(p1), _fixed(p2), 255, -1, cv2.LINE_8, _SHIFT)
    else:
        axes = (int(span[0] * 0.6 * _SCALE), int(span[1] * 0.6 * _SCALE))
        cv2.ellipse(
            mask,
            _fixed(target + rng.normal(0, fig.thickness, 2)),
            axes,
            float(rng.uniform(0, 180)),
            0,
            360,
            255,
            -1,
            cv2.LINE_8,
            _SHIFT,
        )
    return Occluder(mask, c, int(rng.integers(3, 9)))


def paint_occluder(occluder: Occluder, image: np.ndarray, ids: np.ndarray) -> None:
    """Paint ``occluder`` (diagonal stripes) on ``image``; its pixels get id 255 in ``ids``."""
    h, w = ids.shape
    stripes = ((np.arange(h)[:, None] + np.arange(w)[None, :]) // occluder.period) % 2 == 0
    covered = occluder.mask > 0
    image[covered & stripes] = occluder.colour
    image[covered & ~stripes] = np.array(occluder.colour) // 2
    ids[covered] = 255


def draw_people(image: np.ndarray, figures: list[Figure]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Draw ``figures`` on ``image`` back to front (list order). Returns which figure (1-based) is on
    top of each pixel (0: none) and each figure's silhouette (255 inside)."""
    ids = np.zeros(image.shape[:2], np.uint8)
    masks = []
    for index, fig in enumerate(figures):
        mask = np.zeros(image.shape[:2], np.uint8)
        draw_figure(mask, fig, mask=True)
        draw_figure(image, fig)
        ids[mask > 0] = index + 1
        masks.append(mask)
    return ids, masks


def label_people(
    figures: list[Figure], masks: list[np.ndarray], ids: np.ndarray, min_labelled: int
) -> list[tuple[np.ndarray, list[float]] | None]:
    """Per figure, its keypoints (17, 3) and box (xywh), or None when fewer than ``min_labelled``
    keypoints are in the image. ``ids`` is :func:`draw_people`'s map after any occluder was painted."""
    h, w = ids.shape
    people: list[tuple[np.ndarray, list[float]] | None] = []
    for index, (fig, mask) in enumerate(zip(figures, masks, strict=True)):
        keypoints = np.zeros((17, 3))
        within = inside(fig.joints, (h, w))
        px = np.clip(np.round(fig.joints).astype(int), 0, (w - 1, h - 1))
        on_top = ids[px[:, 1], px[:, 0]]
        covered = (on_top != index + 1) & (on_top != 0) | fig.self_occluded
        keypoints[:, :2] = np.where(within[:, None], fig.joints, 0.0)
        keypoints[:, 2] = np.where(within, np.where(covered, 1, 2), 0)
        if np.count_nonzero(keypoints[:, 2]) < min_labelled:
            people.append(None)
            continue
        ys, xs = np.nonzero(mask)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        people.append((keypoints, [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]))
    return people


def extent(fig: Figure) -> np.ndarray:
    """The figure's box (x0, y0, x1, y1): joints, limb thickness and head."""
    centre, radius = fig.head
    points = np.vstack([fig.joints, centre - radius, centre + radius])
    return np.concatenate([points.min(0) - fig.thickness, points.max(0) + fig.thickness])


def inside(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Which ``points`` (N, 2) lie in an image of ``size`` (height, width)."""
    h, w = size
    return (points[:, 0] >= 0) & (points[:, 1] >= 0) & (points[:, 0] <= w - 1) & (points[:, 1] <= h - 1)
