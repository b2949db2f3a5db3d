"""The built-in sample: synthetic people (COCO-17 keypoints) as real JPEGs + COCO keypoint JSON.

Each image holds 1-4 capsule figures (:mod:`posekit.samples.figures`: human proportions, left limbs cool
and right limbs warm, occluded keypoints v=1, keypoints outside the image v=0) in random poses, with
varied limb thickness, colours and scale, on a textured background, sometimes behind a striped object.
Figures may touch and hide a few of each other's joints, but no two share more than a quarter of the
smaller one's box, so each person crop shows one main figure (sample-v1 allowed any overlap: crops
showing two people half each made a tiny model's AP plateau near 0.7 in the learning-curve benchmark).
The person box is the figure's extent clipped to the image and ``area`` is the box area (the figures
are thin, so their pixel area would make OKS far stricter than on real people).

Everything is drawn from ``np.random.default_rng((seed, split, index))``: the same seed gives the
same files. The COCO writing and the cache are shared with the video sample
(:mod:`posekit.samples.sample_video`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.datasets.schema import get_preset
from posekit.fileio import atomic_write_json, atomic_write_text, build_once, encode_image, posekit_home
from posekit.samples.figures import (
    Figure,
    draw_people,
    extent,
    inside,
    label_people,
    paint_occluder,
    place,
    random_background,
    random_occluder,
    random_person,
)

#: Bump when the generator changes, so a cached sample is regenerated.
SAMPLE_VERSION = "sample-v2"
_MIN_LABELLED = 5
_MAX_OVERLAP = 0.25  # of the smaller of two people's boxes


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
            (folder / name).write_bytes(encode_image(image))
            images.append({"id": i + 1, "file_name": name, "height": image_size[0], "width": image_size[1]})
            for keypoints, bbox in people:
                annotations.append(coco_annotation(len(annotations) + 1, i + 1, keypoints, bbox))
        description = f"posekit synthetic sample ({SAMPLE_VERSION}, seed {seed})"
        atomic_write_json(out / f"{split}.json", coco_document(images, annotations, description), indent=None)
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
def coco_annotation(ann_id: int, image_id: int, keypoints: np.ndarray, bbox: list[float]) -> dict:
    """A COCO person annotation (coordinates rounded to 0.01 px; ``area`` = box area)."""
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


def coco_document(images: list[dict], annotations: list[dict], description: str) -> dict:
    """A COCO keypoint file with the COCO-17 person category."""
    schema = get_preset("coco17")
    return {
        "info": {"description": description},
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


# ---------------------------------------------------------------------------------------------- scenes
def _render(
    rng: np.random.Generator, size: tuple[int, int]
) -> tuple[np.ndarray, list[tuple[np.ndarray, list[float]]]]:
    """One image and its people as (keypoints (17, 3), bbox xywh)."""
    h, w = size
    image = random_background(rng, size)
    count = int(rng.choice([1, 2, 3, 4], p=[0.15, 0.3, 0.3, 0.25]))
    figures: list[Figure] = []
    for _ in range(count):
        for _attempt in range(10):
            height = h * (rng.uniform(0.55, 0.92) if count == 1 else rng.uniform(0.4, 0.8))
            pelvis = np.array([rng.uniform(0.08, 0.92) * w, rng.uniform(0.35 * height, h - 0.4 * height)])
            fig = place(*random_person(rng, height), pelvis)
            if inside(fig.joints, size).sum() >= _MIN_LABELLED + 3 and not any(
                _crowded(fig, other) for other in figures
            ):
                figures.append(fig)
                break
    ids, masks = draw_people(image, figures)
    if figures and rng.random() < 0.3:
        paint_occluder(random_occluder(rng, size, figures[int(rng.integers(len(figures)))]), image, ids)
    return image, [p for p in label_people(figures, masks, ids, _MIN_LABELLED) if p is not None]


def _crowded(fig: Figure, other: Figure) -> bool:
    """Whether two figures' boxes share more than ``_MAX_OVERLAP`` of the smaller one: people may
    touch and hide a few joints of each other, but no crop is dominated by someone else."""
    a, b = extent(fig), extent(other)
    iw, ih = np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2])
    smaller = min(np.prod(a[2:] - a[:2]), np.prod(b[2:] - b[:2]))
    return max(iw, 0.0) * max(ih, 0.0) > _MAX_OVERLAP * smaller
