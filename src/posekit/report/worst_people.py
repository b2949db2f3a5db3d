"""The worst-scoring people of an evaluation as one picture: ground truth and prediction side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posekit.data.geometry import transform_points
from posekit.data.images import read_image
from posekit.data.processor import TopDownProcessor
from posekit.data.records import KeypointAnnotations
from posekit.errors import PosekitError
from posekit.io import atomic_write_bytes
from posekit.metrics.evaluate import EvaluationReport
from posekit.metrics.matching import rank_people
from posekit.viz.draw import draw_crops_grid


def save_worst_people(
    dataset: KeypointAnnotations,
    report: EvaluationReport,
    results: list[dict[str, Any]],
    path: str | Path,
    conf: float = 0.3,
    limit: int = 16,
    tile_size: tuple[int, int] = (256, 192),
) -> Path | None:
    """A picture grid of the ``limit`` lowest-OKS people: ground truth and prediction side by side, each
    person cropped as a model's processor crops it (box padding 1.25, clipped to the image)."""
    ranked = rank_people(report.matching, limit)
    if not ranked:
        return None
    people = {a.id: a for a in dataset.annotations}
    k = dataset.schema.num_keypoints
    processor = TopDownProcessor(input_size=tile_size)
    images: dict[int, np.ndarray] = {}
    tiles, points, captions = [], [], []
    for person in ranked:
        ann = people[person.annotation_id]
        if ann.image_id not in images:
            images[ann.image_id] = read_image(dataset.images[ann.image_id].path)
        info = dataset.images[ann.image_id]
        center, scale = processor.box_center_scale(ann.bbox, (info.height, info.width))
        matrix = processor.warp_matrix(center[0], scale[0])
        crop = processor.crop(images[ann.image_id], matrix)
        gt = ann.keypoints.copy()
        gt[:, :2] = transform_points(gt[:, :2], matrix)
        gt[:, 2] = gt[:, 2] > 0  # labelled points are drawn, whatever conf is
        pred = None
        if person.result_index >= 0:
            pred = np.asarray(results[person.result_index]["keypoints"], np.float64).reshape(k, 3)
            pred[:, :2] = transform_points(pred[:, :2], matrix)
        tiles += [crop, crop]
        points += [gt, pred]
        captions += [f"GT {ann.id}", f"OKS {person.oks:.2f}" if pred is not None else "missed"]
    mosaic = draw_crops_grid(
        tiles, points, None, dataset.schema, conf, captions, min(8, len(tiles)), tile_size
    )
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(mosaic, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    if not ok:
        raise PosekitError(f"could not encode {path} as JPEG")
    atomic_write_bytes(path, encoded.tobytes())
    return Path(path)
