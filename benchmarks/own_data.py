"""Keypoint data sets unlike the built-in sample, to measure training recipes on data posekit never saw.

Two skeletons, neither a person: a 9-keypoint quadruped (seen from the side, near legs bright and far
legs dark, a thin tail) and a 21-keypoint hand (the ``hand21`` names: wrist, then four joints per finger,
fingers curled at random). Every animal or hand is freely rotated (0-360 degrees), mirrored half of the
time (its left/right labels swapped with it, as a flip augmentation does), sized from small to
large (log-uniform), and drawn on a cluttered background: a smooth colour texture, distractor strokes
and blobs in the objects' colours, and sometimes a block in front that hides joints (v=1). Joints
outside the image are v=0. The box is the drawn object's extent clipped to the image, ``area`` its box area.

Drawn with OpenCV from ``np.random.default_rng((seed, kind, split, index))``, sharing no code with the
built-in sample's generator (:mod:`posekit.samples`): the same seed gives the same files, in seconds.

    python benchmarks/own_data.py quadruped out/quadruped      # writes out/quadruped/data.yaml
    python benchmarks/own_data.py hand out/hand --seed 1
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posekit.fileio import atomic_write_json, atomic_write_text

KINDS = ("quadruped", "hand")
IMAGE_SIZE = (256, 256)  # height, width
#: train / val images; with 1-3 objects an image (mean 2) that is about 640 + 160 labelled objects
SPLITS = {"train": 320, "val": 80}
_MIN_LABELLED = 4
_MAX_OVERLAP = 0.3  # of the smaller of two objects' boxes


@dataclass(frozen=True)
class Skeleton:
    """Names, bones and OKS sigmas of a generated kind (flip pairs follow from ``left_``/``right_``)."""

    names: list[str]
    skeleton: list[tuple[int, int]]
    sigmas: list[float]


QUADRUPED = Skeleton(
    names=[
        "nose",
        "neck",
        "back",
        "tail_base",
        "tail_tip",
        "left_front_paw",
        "right_front_paw",
        "left_back_paw",
        "right_back_paw",
    ],  # fmt: skip
    skeleton=[(0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (1, 6), (3, 7), (3, 8)],
    # AP-10K's sigmas of the nearest joints (nose, neck, root of tail, front and back paws)
    sigmas=[0.026, 0.035, 0.079, 0.035, 0.062, 0.062, 0.062, 0.089, 0.089],
)
_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
HAND = Skeleton(
    names=["wrist"] + [f"{finger}{j}" for finger in _FINGERS for j in range(1, 5)],
    skeleton=[(0 if j == 0 else 1 + 4 * f + j - 1, 1 + 4 * f + j) for f in range(5) for j in range(4)],
    # COCO-WholeBody's hand sigmas are relative to the whole person's area; a hand's own box is several
    # times smaller, so twice them (0.034-0.094, within COCO-17's 0.025-0.107)
    sigmas=[
        2 * s
        for s in (
            0.029,
            0.022,
            0.035,
            0.037,
            0.047,
            0.026,
            0.025,
            0.024,
            0.035,
            0.018,
            0.024,
            0.022,
            0.026,
            0.017,
            0.021,
            0.021,
            0.032,
            0.02,
            0.019,
            0.022,
            0.031,
        )
    ],  # fmt: skip
)
SKELETONS = {"quadruped": QUADRUPED, "hand": HAND}


def _unit(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


# ---------------------------------------------------------------------------------------------- poses
def _quadruped(rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[np.ndarray, float, float]]]:
    """Keypoints (9, 2) of an animal facing +x (body length 1, y down) and its parts as (points,
    thickness, shade): the body, head and tail, then the far (left, dark) and near (right) legs."""
    neck, tail_base = np.array([0.35, 0.0]), np.array([-0.4, 0.0])
    back = np.array([0.0, rng.uniform(-0.08, 0.08)])
    nose = neck + rng.uniform(0.25, 0.4) * _unit(np.radians(rng.uniform(-70, 20)))
    tail_tip = tail_base + rng.uniform(0.25, 0.45) * _unit(np.radians(rng.uniform(120, 240)))
    parts = [(np.stack([neck, back, tail_base]), rng.uniform(0.16, 0.26), 1.0)]
    parts += [
        (np.stack([neck, nose]), rng.uniform(0.08, 0.12), 1.0),
        (np.stack([tail_base, tail_tip]), 0.03, 1.0),
    ]
    paws = {}
    for side, shade, dx in (("left", 0.55, -0.05), ("right", 1.0, 0.05)):
        for end, root in (("front", neck + [dx - 0.05, 0.05]), ("back", tail_base + [dx + 0.05, 0.05])):
            upper = np.radians(90 + rng.uniform(-40, 40))
            knee = root + rng.uniform(0.2, 0.28) * _unit(upper)
            paw = knee + rng.uniform(0.2, 0.28) * _unit(upper + np.radians(rng.uniform(-45, 45)))
            paws[f"{side}_{end}_paw"] = paw
            parts.append((np.stack([root, knee, paw]), rng.uniform(0.05, 0.08), shade))
    parts = parts[:3] + [p for p in parts[3:] if p[2] < 1] + [p for p in parts[3:] if p[2] == 1]
    named = {"nose": nose, "neck": neck, "back": back, "tail_base": tail_base, "tail_tip": tail_tip, **paws}
    return np.stack([named[n] for n in QUADRUPED.names]), parts


def _hand(rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[np.ndarray, float, float]]]:
    """Keypoints (21, 2) of a hand, wrist at the origin and fingers up (length 1), and its parts: the
    palm, then each finger from the wrist out (the thumb thickest)."""
    bases = [(-0.16, -0.12), (-0.13, -0.45), (-0.04, -0.48), (0.05, -0.46), (0.13, -0.41)]
    lengths = [(0.2, 0.15, 0.12), (0.2, 0.13, 0.1), (0.22, 0.14, 0.1), (0.2, 0.13, 0.1), (0.16, 0.1, 0.08)]
    directions = [-145.0, -100.0, -90.0, -82.0, -74.0]
    points, parts = [np.zeros(2)], []
    palm = np.array([[-0.12, 0.02], [0.1, 0.02], bases[4], bases[1], bases[0]])
    parts.append((palm, 0.12, 1.0))
    for f in range(5):
        curl = rng.uniform(0, 1) ** 1.5
        angle = np.radians(directions[f] + rng.uniform(-10, 10))
        joint = np.array(bases[f]) * rng.uniform(0.95, 1.05)
        finger = [joint]
        for segment in lengths[f]:
            angle += np.radians(curl * rng.uniform(15, 35)) * (-1 if f == 0 else 1)
            joint = joint + segment * (1 - 0.6 * curl) * _unit(angle)
            finger.append(joint)
        points += finger
        parts.append((np.stack([np.zeros(2)] + finger), 0.075 if f == 0 else 0.055, 1.0))
    return np.stack(points), parts


_POSES = {"quadruped": _quadruped, "hand": _hand}


# ---------------------------------------------------------------------------------------------- drawing
def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A smooth colour texture (upsampled noise) with distractor strokes and blobs."""
    h, w = size
    coarse = rng.uniform(40, 215, (int(rng.integers(3, 9)), int(rng.integers(3, 9)), 3))
    image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    image = np.clip(image + rng.normal(0, rng.uniform(3, 15), (h, w, 3)), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(4, 14))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.6:  # a bent stroke, as thick as a limb
            start = rng.uniform(0, 1, 2) * (w, h)
            path = [start]
            for _ in range(int(rng.integers(1, 4))):
                path.append(path[-1] + rng.uniform(15, 60) * _unit(rng.uniform(0, 2 * np.pi)))
            cv2.polylines(image, [np.int32(path)], False, colour, int(rng.integers(2, 10)), cv2.LINE_AA)
        else:
            centre = tuple(int(v) for v in rng.uniform(0, 1, 2) * (w, h))
            axes = tuple(int(v) for v in rng.uniform(4, 25, 2))
            cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    return image


def _draw(image: np.ndarray, parts: list[tuple[np.ndarray, float, float]], colour: np.ndarray) -> None:
    for points, thickness, shade in parts:
        tone = tuple(int(c) for c in np.clip(colour * shade, 0, 255))
        width = max(2, int(round(thickness)))
        if len(points) > 3:  # a closed outline (the palm)
            cv2.fillPoly(image, [np.int32(points.round())], tone, cv2.LINE_AA)
        cv2.polylines(image, [np.int32(points.round())], len(points) > 3, tone, width, cv2.LINE_AA)
        for p in points:
            cv2.circle(image, (int(round(p[0])), int(round(p[1]))), max(1, width // 2), tone, -1, cv2.LINE_AA)


def _place(
    rng: np.random.Generator, kind: str, size: tuple[int, int], scale: float
) -> tuple[np.ndarray, list[tuple[np.ndarray, float, float]], np.ndarray]:
    """One object posed, mirrored half of the time, rotated, scaled to ``scale`` px and placed: keypoints
    (K, 2), parts (in pixels, thickness in px) and its extent box (x0, y0, x1, y1), unclipped."""
    points, parts = _POSES[kind](rng)
    if rng.random() < 0.5:  # the mirror image, its left/right labels swapped as a flip does
        points, parts = points * [-1, 1], [(p * [-1, 1], t, s) for p, t, s in parts]
        names = SKELETONS[kind].names
        swap = [names.index(n.replace("left_", "right_") if "left_" in n else n.replace("right_", "left_"))
                for n in names]  # fmt: skip
        points = points[swap]
    angle = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    every = np.concatenate([p for p, _, _ in parts])
    centre = (every.max(0) + every.min(0)) / 2
    extent = (every.max(0) - every.min(0)).max()
    h, w = size
    offset = rng.uniform(0.15, 0.85, 2) * (w, h)
    to_px = lambda q: (q - centre) @ rotation.T * (scale / extent) + offset  # noqa: E731
    parts = [(to_px(p), t * scale / extent, s) for p, t, s in parts]
    pad = max(t for _, t, _ in parts) / 2
    every = np.concatenate([p for p, _, _ in parts])
    return to_px(points), parts, np.concatenate([every.min(0) - pad, every.max(0) + pad])


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    smaller = min((a[2:] - a[:2]).prod(), (b[2:] - b[:2]).prod())
    return float(inter / max(smaller, 1e-6))


def render(
    rng: np.random.Generator, kind: str, size: tuple[int, int] = IMAGE_SIZE
) -> tuple[np.ndarray, list[tuple[np.ndarray, list[float]]]]:
    """One RGB image and its objects as (keypoints (K, 3) x, y, v; box xywh clipped to the image)."""
    h, w = size
    image = _background(rng, size)
    placed: list[tuple[np.ndarray, list, np.ndarray]] = []
    for _ in range(int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))):
        for _attempt in range(10):
            scale = float(np.exp(rng.uniform(np.log(0.25), np.log(0.8)))) * min(h, w)
            candidate = _place(rng, kind, size, scale)
            if all(_overlap(candidate[2], other[2]) <= _MAX_OVERLAP for other in placed):
                placed.append(candidate)
                break
    hidden = np.zeros((h, w), bool)
    for _, parts, _ in placed:
        _draw(image, parts, rng.uniform(30, 255, 3))
    if rng.random() < 0.3:  # a block in front of whatever is there
        x0, y0 = rng.uniform(0, 0.8, 2) * (w, h)
        x1, y1 = x0 + rng.uniform(0.1, 0.3) * w, y0 + rng.uniform(0.1, 0.3) * h
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(image, (int(x0), int(y0)), (int(x1), int(y1)), colour, -1)
        hidden[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1] = True
    objects = []
    for points, _, box in placed:
        inside = (points[:, 0] >= 0) & (points[:, 0] < w) & (points[:, 1] >= 0) & (points[:, 1] < h)
        visibility = np.where(inside, 2, 0)
        ix, iy = np.clip(points[:, 0].astype(int), 0, w - 1), np.clip(points[:, 1].astype(int), 0, h - 1)
        visibility[inside & hidden[iy, ix]] = 1
        if np.count_nonzero(visibility) < _MIN_LABELLED:
            continue
        keypoints = np.column_stack([np.where(inside[:, None], points, 0), visibility])
        x0, y0 = max(0.0, box[0]), max(0.0, box[1])
        x1, y1 = min(float(w), box[2]), min(float(h), box[3])
        objects.append((keypoints, [x0, y0, x1 - x0, y1 - y0]))
    return image, objects


# ---------------------------------------------------------------------------------------------- files
def _annotation(ann_id: int, image_id: int, keypoints: np.ndarray, box: list[float]) -> dict:
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": 0,
        "bbox": [round(v, 2) for v in box],
        "area": round(box[2] * box[3], 2),
        "num_keypoints": int(np.count_nonzero(keypoints[:, 2])),
        "keypoints": [round(float(v), 2) if i % 3 < 2 else int(v) for i, v in enumerate(keypoints.ravel())],
    }


def generate(kind: str, out_dir: str | Path, seed: int = 0, splits: dict[str, int] | None = None) -> Path:
    """Write ``images/{split}/*.jpg``, ``{split}.json`` and ``data.yaml`` of ``kind`` into ``out_dir``
    (``splits``: images per split, default :data:`SPLITS`); return the data YAML's path."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    skeleton, out = SKELETONS[kind], Path(out_dir)
    category = {
        "id": 1,
        "name": kind,
        "keypoints": skeleton.names,
        "skeleton": [[a + 1, b + 1] for a, b in skeleton.skeleton],
    }
    for split_index, (split, count) in enumerate((splits or SPLITS).items()):
        folder = out / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(count):
            image, objects = render(np.random.default_rng((seed, KINDS.index(kind), split_index, i)), kind)
            name = f"{i + 1:06d}.jpg"
            cv2.imwrite(
                str(folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92]
            )
            images.append({"id": i + 1, "file_name": name, "height": image.shape[0], "width": image.shape[1]})
            for keypoints, box in objects:
                annotations.append(_annotation(len(annotations) + 1, i + 1, keypoints, box))
        document = {
            "info": {"description": f"generated {kind} set, seed {seed}"},
            "images": images,
            "annotations": annotations,
            "categories": [category],
        }
        atomic_write_json(out / f"{split}.json", document, indent=None)
    lines = [f"# generated {kind} set (benchmarks/own_data.py), seed {seed}"]
    lines += [f"{split}: {{json: {split}.json, images: images/{split}}}" for split in (splits or SPLITS)]
    lines.append(f"schema: {{sigmas: {skeleton.sigmas}}}")
    atomic_write_text(out / "data.yaml", "\n".join(lines) + "\n")
    return out / "data.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("out", type=Path, help="output folder (data.yaml, {split}.json, images/)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(generate(args.kind, args.out, args.seed))


if __name__ == "__main__":
    main()
