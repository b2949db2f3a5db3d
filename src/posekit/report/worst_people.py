"""The worst-scoring people of an evaluation as one picture: ground truth and prediction side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.records import KeypointAnnotations
from posekit.metrics.keypoint_metrics import EvaluationReport
from posekit.metrics.matching import rank_people
from posekit.report.person_gallery import GalleryPerson, labelled, save_person_gallery


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
    people = {a.id: a for a in dataset.annotations}
    k = dataset.schema.num_keypoints
    gallery = []
    for person in rank_people(report.matching, limit):
        ann = people[person.annotation_id]
        pred = None
        if person.result_index >= 0:
            pred = np.asarray(results[person.result_index]["keypoints"], np.float64).reshape(k, 3)
        caption = f"OKS {person.oks:.2f}" if pred is not None else "missed"
        poses = [(labelled(ann.keypoints), f"GT {ann.id}"), (pred, caption)]
        gallery.append(GalleryPerson(dataset.images[ann.image_id], ann.bbox, poses))
    return save_person_gallery(gallery, dataset.schema, path, conf, tile_size)
