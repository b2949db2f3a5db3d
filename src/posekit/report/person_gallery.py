"""People drawn as one JPEG grid: each person cropped as a model's processor crops it, one tile per pose
drawn on the crop (e.g. the label beside a prediction). The val and audit galleries are made here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.datasets.image_reader import read_image
from posekit.datasets.records import ImageInfo
from posekit.datasets.schema import KeypointSchema
from posekit.fileio import write_image
from posekit.topdown.affine import transform_points
from posekit.topdown.processor import TopDownProcessor
from posekit.viz.draw import draw_crops_grid


@dataclass
class GalleryPerson:
    """A person's ground-truth box in its image and the poses to draw on its crop, one tile each:
    ``(keypoints (K, 3) in image pixels, drawn where the third column >= conf; None: crop only, caption)``."""

    image: ImageInfo
    bbox: np.ndarray
    poses: Sequence[tuple[np.ndarray | None, str]]


def save_person_gallery(
    people: Sequence[GalleryPerson],
    schema: KeypointSchema,
    path: str | Path,
    conf: float = 0.3,
    tile_size: tuple[int, int] = (256, 192),
    cols: int = 8,
) -> Path | None:
    """Write the grid of ``people`` (``tile_size`` (h, w) tiles, ``cols`` a row) to ``path`` as JPEG;
    each person cropped as a processor crops it (box padding 1.25, clipped to the image). None when
    there is no one to draw."""
    if not people:
        return None
    processor = TopDownProcessor(input_size=tile_size)
    images: dict[Path, np.ndarray] = {}
    tiles, points, captions = [], [], []
    for person in people:
        info = person.image
        if info.path not in images:
            images[info.path] = read_image(info.path)
        center, scale = processor.box_center_scale(person.bbox, (info.height, info.width))
        matrix = processor.warp_matrix(center[0], scale[0])
        crop = processor.crop(images[info.path], matrix)
        for pose, caption in person.poses:
            if pose is not None:
                pose = np.asarray(pose, np.float64).copy()
                pose[:, :2] = transform_points(pose[:, :2], matrix)
            tiles.append(crop)
            points.append(pose)
            captions.append(caption)
    mosaic = draw_crops_grid(tiles, points, None, schema, conf, captions, min(cols, len(tiles)), tile_size)
    return write_image(path, mosaic)


def labelled(keypoints: np.ndarray) -> np.ndarray:
    """Ground-truth keypoints (K, 3) to draw: every labelled point (v > 0) shown, whatever ``conf``."""
    out = np.asarray(keypoints, np.float64).copy()
    out[:, 2] = out[:, 2] > 0
    return out
