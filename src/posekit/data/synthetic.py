"""The built-in sample: synthetic people (COCO-17 keypoints) as real JPEGs + COCO keypoint JSON.

Each image holds 1-4 capsule figures with human proportions and varied joint angles, limb thickness,
colours and scale, on a textured background. Figures face the camera (so a person's left is on the
image's right, as in real front views): left limbs are drawn in cool colours, right limbs in warm
ones, forearms/shins lighter than upper arms/thighs (the colour change marks the elbow/knee), with
eyes, nose and ears on the head. Keypoints covered by a figure or an object in front, or an ear
turned away, are labelled occluded (v=1); keypoints outside the image are unlabelled (v=0). Figures
may touch and hide a few of each other's joints, but no two share more than a quarter of the smaller
one's box, so each person crop shows one main figure (sample-v1 allowed any overlap: crops showing two
people half each made a tiny model's AP plateau near 0.7 in the learning-curve benchmark). The
person box is the figure's extent clipped to the image and ``area`` is the box area (the figures
are thin, so their pixel area would make OKS far stricter than on real people).

Everything is drawn from ``np.random.default_rng((seed, split, index))``: the same seed gives the
same files. Drawing is hand-written with OpenCV primitives (no library generates posed figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posekit.data.schema import get_preset
from posekit.io import atomic_write_json, atomic_write_text, build_once, posekit_home

#: Bump when the generator changes, so a cached sample is regenerated.
SAMPLE_VERSION = "sample-v2"
_SHIFT = 4  # OpenCV fixed-point bits: figures are drawn with sub-pixel accuracy
_SCALE = 1 << _SHIFT
_MIN_LABELLED = 5
_MAX_OVERLAP = 0.25  # of the smaller of two people's boxes
_JPEG_QUALITY = 92
_NAMES = get_preset("coco17").names
_J = {name: i for i, name in enumerate(_NAMES)}


def generate_sample(
    out_dir: str | Path,
    num_train: int = 200,
    num_val: int = 50,
    seed: int = 0,
    image_size: tuple[int, int] = (240, 320),
) -> Path:
    """Write ``images/{train,val}/*.jpg``, ``train.json``, ``val.json`` and ``data.yaml`` into
    ``out_dir``; return the path of ``data.yaml``. ``image_size`` is (height, width)."""
    out = Path(out_dir)
    for split_index, (split, count) in enumerate((("train", num_train), ("val", num_val))):
        folder = out / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(count):
            rng = np.random.default_rng((seed, split_index, i))
            image, people = _render(rng, image_size)
            name = f"{i + 1:06d}.jpg"
            ok, buf = cv2.imencode(
                ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]
            )
            if not ok:
                raise RuntimeError(f"OpenCV could not encode {name}")
            (folder / name).write_bytes(buf.tobytes())
            images.append({"id": i + 1, "file_name": name, "height": image_size[0], "width": image_size[1]})
            for keypoints, bbox in people:
                annotations.append(_annotation(len(annotations) + 1, i + 1, keypoints, bbox))
        atomic_write_json(out / f"{split}.json", _coco(images, annotations, seed), indent=None)
    yaml_path = out / "data.yaml"
    atomic_write_text(
        yaml_path,
        f"# posekit built-in synthetic sample (COCO-17 keypoints), seed {seed}\n"
        "train: {json: train.json, images: images/train}\n"
        "val: {json: val.json, images: images/val}\n",
    )
    return yaml_path


def sample_data_path() -> Path:
    """The built-in sample's data YAML, generated once under ``$POSEKIT_HOME`` (default
    ``~/.cache/posekit``) in ``sample-v2/`` and reused."""
    final = build_once(posekit_home() / SAMPLE_VERSION, generate_sample, "data.yaml", "the built-in sample")
    return final / "data.yaml"


# ---------------------------------------------------------------------------------------------- COCO
def _annotation(ann_id: int, image_id: int, keypoints: np.ndarray, bbox: list[float]) -> dict:
    flat = []
    for x, y, v in keypoints:
        flat += [round(float(x), 2), round(float(y), 2), int(v)]
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": 0,
        "bbox": [round(v, 2) for v in bbox],
        "area": round(bbox[2] * bbox[3], 2),
        "num_keypoints": int(np.count_nonzero(keypoints[:, 2] > 0)),
        "keypoints": flat,
    }


def _coco(images: list[dict], annotations: list[dict], seed: int) -> dict:
    schema = get_preset("coco17")
    return {
        "info": {"description": f"posekit synthetic sample ({SAMPLE_VERSION}, seed {seed})"},
        "images": images,
        "annotations": annotations,
        "categories": [
            {
                "id": 1,
                "name": "person",
                "supercategory": "person",
                "keypoints": list(schema.names),
                "skeleton": [[a + 1, b + 1] for a, b in schema.skeleton],
            }
        ],
    }


# ---------------------------------------------------------------------------------------------- figures
@dataclass
class _Figure:
    joints: np.ndarray  # (17, 2) image coordinates
    self_occluded: np.ndarray  # (17,) bool: an ear turned away
    head: tuple[np.ndarray, float]  # centre, radius
    thickness: float
    colours: dict[str, tuple[int, int, int]]


def _rot(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def _limb(
    rng: np.random.Generator,
    start: np.ndarray,
    down: np.ndarray,
    outward: float,
    spread: float,
    lengths: tuple[float, float],
    bend: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Two-segment limb from ``start``: first segment ``spread`` degrees from ``down`` towards
    ``outward`` (+1 image right, -1 left), second bent by ``bend`` degrees either way."""
    first = _rot(-outward * spread) @ down
    mid = start + first * lengths[0]
    second = _rot(bend * rng.choice((-1.0, 1.0))) @ first
    return mid, mid + second * lengths[1]


def _pose(rng: np.random.Generator, height: float, pelvis: np.ndarray) -> _Figure:
    """A front-facing figure ``height`` pixels tall with random joint angles."""
    h = height
    tilt = _rot(float(np.clip(rng.normal(0, 12), -35, 35)))
    up, right = tilt @ np.array([0.0, -1.0]), tilt @ np.array([1.0, 0.0])
    neck = pelvis + up * 0.30 * h
    shoulder_w, hip_w = rng.uniform(0.09, 0.12) * h, rng.uniform(0.06, 0.08) * h
    j = np.zeros((17, 2))
    # the person's left is on the image right (+right): they face the camera
    j[_J["left_shoulder"]], j[_J["right_shoulder"]] = neck + right * shoulder_w, neck - right * shoulder_w
    j[_J["left_hip"]], j[_J["right_hip"]] = pelvis + right * hip_w, pelvis - right * hip_w
    arm = (rng.uniform(0.15, 0.18) * h, rng.uniform(0.14, 0.17) * h)
    leg = (rng.uniform(0.22, 0.25) * h, rng.uniform(0.21, 0.24) * h)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        j[_J[f"{side}_elbow"]], j[_J[f"{side}_wrist"]] = _limb(
            rng, j[_J[f"{side}_shoulder"]], -up, sign, rng.uniform(-10, 150), arm, rng.uniform(0, 130)
        )
        knee_bend = rng.uniform(0, 110) if rng.random() < 0.2 else rng.uniform(0, 45)
        j[_J[f"{side}_knee"]], j[_J[f"{side}_ankle"]] = _limb(
            rng, j[_J[f"{side}_hip"]], -up, sign, rng.uniform(-5, 35), leg, knee_bend
        )
    radius = rng.uniform(0.08, 0.095) * h
    head_tilt = _rot(float(rng.normal(0, 10))) @ tilt
    centre = neck + up * radius * 1.15
    yaw = rng.uniform(-0.45, 0.45)  # > 0: the face turns to the image right (the person's left)

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
    colours = {
        "torso": _hsv(rng, (125, 175), (60, 200), (90, 230)),
        "head": _hsv(rng, (5, 20), (60, 150), (150, 250)),
        "left": _hsv(rng, (85, 125), (170, 255), (150, 255)),  # cool: cyan..blue
        "right": _hsv(rng, (0, 25), (170, 255), (170, 255)),  # warm: red..yellow
    }
    return _Figure(j, hidden, (centre, radius), max(3.0, rng.uniform(0.035, 0.06) * h), colours)


def _hsv(
    rng: np.random.Generator, hue: tuple[int, int], sat: tuple[int, int], val: tuple[int, int]
) -> tuple[int, int, int]:
    pixel = np.array([[[rng.integers(*hue), rng.integers(*sat), rng.integers(*val)]]], dtype=np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(pixel, cv2.COLOR_HSV2RGB)[0, 0])


def _lighter(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(c + (255 - c) * 0.45) for c in colour)


def _fixed(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * _SCALE)), int(round(p[1] * _SCALE))


def _draw_figure(canvas: np.ndarray, fig: _Figure, mask: bool = False) -> None:
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


# ---------------------------------------------------------------------------------------------- scenes
def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
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


def _occluder(rng: np.random.Generator, image: np.ndarray, ids: np.ndarray, fig: _Figure) -> None:
    """Draw a box or ellipse over part of ``fig``; its pixels get id 255 in ``ids``."""
    target = fig.joints[rng.integers(17)]
    size = np.array([rng.uniform(0.6, 1.6), rng.uniform(0.6, 1.6)]) * fig.thickness * 3
    c = tuple(int(v) for v in rng.integers(40, 220, 3))
    mask = np.zeros(ids.shape, np.uint8)
    if rng.random() < 0.5:
        p1, p2 = target - size * rng.uniform(0.2, 0.8, 2), target + size * rng.uniform(0.2, 0.8, 2)
        cv2.rectangle(mask, _fixed(p1), _fixed(p2), 255, -1, cv2.LINE_8, _SHIFT)
    else:
        axes = (int(size[0] * 0.6 * _SCALE), int(size[1] * 0.6 * _SCALE))
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
    h, w = ids.shape
    stripes = ((np.arange(h)[:, None] + np.arange(w)[None, :]) // int(rng.integers(3, 9))) % 2 == 0
    image[(mask > 0) & stripes] = c
    image[(mask > 0) & ~stripes] = np.array(c) // 2
    ids[mask > 0] = 255


def _render(
    rng: np.random.Generator, size: tuple[int, int]
) -> tuple[np.ndarray, list[tuple[np.ndarray, list]]]:
    """One image and its people as (keypoints (17, 3), bbox xywh)."""
    h, w = size
    image = _background(rng, size)
    count = int(rng.choice([1, 2, 3, 4], p=[0.15, 0.3, 0.3, 0.25]))
    figures = []
    for _ in range(count):
        for _attempt in range(10):
            height = h * (rng.uniform(0.55, 0.92) if count == 1 else rng.uniform(0.4, 0.8))
            pelvis = np.array([rng.uniform(0.08, 0.92) * w, rng.uniform(0.35 * height, h - 0.4 * height)])
            fig = _pose(rng, height, pelvis)
            inside = _inside(fig.joints, size)
            if inside.sum() >= _MIN_LABELLED + 3 and not any(_crowded(fig, other) for other in figures):
                figures.append(fig)
                break
    ids = np.zeros(size, np.uint8)  # which figure (1-based, in drawing order) or occluder (255) is on top
    masks = []
    for index, fig in enumerate(figures):
        mask = np.zeros(size, np.uint8)
        _draw_figure(mask, fig, mask=True)
        _draw_figure(image, fig)
        ids[mask > 0] = index + 1
        masks.append(mask)
    if figures and rng.random() < 0.3:
        _occluder(rng, image, ids, figures[int(rng.integers(len(figures)))])
    people = []
    for index, (fig, mask) in enumerate(zip(figures, masks, strict=True)):
        keypoints = np.zeros((17, 3))
        inside = _inside(fig.joints, size)
        px = np.clip(np.round(fig.joints).astype(int), 0, (w - 1, h - 1))
        on_top = ids[px[:, 1], px[:, 0]]
        covered = (on_top != index + 1) & (on_top != 0) | fig.self_occluded
        keypoints[:, :2] = np.where(inside[:, None], fig.joints, 0.0)
        keypoints[:, 2] = np.where(inside, np.where(covered, 1, 2), 0)
        if np.count_nonzero(keypoints[:, 2]) < _MIN_LABELLED:
            continue
        ys, xs = np.nonzero(mask)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        people.append((keypoints, [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]))
    return image, people


def _extent(fig: _Figure) -> np.ndarray:
    """The figure's box (x0, y0, x1, y1): joints, limb thickness and head."""
    centre, radius = fig.head
    points = np.vstack([fig.joints, centre - radius, centre + radius])
    return np.concatenate([points.min(0) - fig.thickness, points.max(0) + fig.thickness])


def _crowded(fig: _Figure, other: _Figure) -> bool:
    """Whether two figures' boxes share more than ``_MAX_OVERLAP`` of the smaller one: people may
    touch and hide a few joints of each other, but no crop is dominated by someone else."""
    a, b = _extent(fig), _extent(other)
    iw, ih = np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2])
    smaller = min(np.prod(a[2:] - a[:2]), np.prod(b[2:] - b[:2]))
    return max(iw, 0.0) * max(ih, 0.0) > _MAX_OVERLAP * smaller


def _inside(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    return (points[:, 0] >= 0) & (points[:, 1] >= 0) & (points[:, 0] <= w - 1) & (points[:, 1] <= h - 1)
