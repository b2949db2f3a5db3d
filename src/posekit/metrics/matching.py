"""Pair every annotated person with at most one prediction, by OKS (for PCK, per-keypoint figures and
the worst-people view); the rule is :data:`MATCHING_RULE`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from posekit.metrics.coco_eval import ground_truth_arrays, num_keypoints_of, resolve_sigmas, result_arrays
from posekit.metrics.oks import coco_oks

MATCHING_RULE = (
    "Within each image, the (prediction, person) pair with the highest OKS is matched first, then the "
    "next highest among the still-free ones, and so on (greedy one-to-one). A prediction can only be "
    "matched to a person whose box, grown by its own width and height on each side (COCO's region for "
    "people without keypoints), holds the mean of its keypoints, so a duplicate cannot take a person "
    "elsewhere in the image. With ground-truth boxes every person gets their own prediction, however "
    "poor. People left without one keep OKS 0 and count as missed. Only people COCO scores take part "
    "(not crowd, at least one labelled keypoint)."
)


@dataclass
class Matching:
    """N evaluated people and their matched predictions (row i of every array is person i)."""

    annotation_ids: np.ndarray  # (N,)
    image_ids: np.ndarray  # (N,)
    gt: np.ndarray  # (N, K, 3) ground-truth x, y, v
    boxes: np.ndarray  # (N, 4) ground-truth xywh
    areas: np.ndarray  # (N,)
    head_boxes: np.ndarray  # (N, 4) ``bbox_head`` xywh, NaN where absent
    result_index: np.ndarray  # (N,) index into the results list, -1 when no prediction matched
    oks: np.ndarray  # (N,) OKS with the matched prediction, 0 when none
    pred: np.ndarray  # (N, K, 2) matched predicted points, NaN when none
    pred_scores: np.ndarray  # (N, K) their keypoint scores, NaN when none

    @property
    def matched(self) -> np.ndarray:
        return self.result_index >= 0

    def subset(self, mask: np.ndarray) -> Matching:
        """The people selected by a boolean mask or index array."""
        return Matching(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})


@dataclass(frozen=True)
class PersonMatch:
    """One person of the worst-people ranking."""

    image_id: int
    annotation_id: int
    result_index: int  # -1: no prediction matched this person
    oks: float


def match_people(
    gt: dict[str, Any], results: Sequence[dict[str, Any]], sigmas: Sequence[float] | np.ndarray | None = None
) -> Matching:
    """Match the results to the people of ``gt`` (see :data:`MATCHING_RULE`)."""
    k = len(sigmas) if sigmas is not None else num_keypoints_of(gt)
    sigmas = resolve_sigmas(sigmas, k)
    g = ground_truth_arrays(gt, k)
    r = result_arrays(gt, results, k)
    people = np.flatnonzero(g.evaluated)
    n = people.size
    result_index = np.full(n, -1, dtype=np.int64)
    oks = np.zeros(n)
    by_key: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(r.image_ids.tolist(), r.category_ids.tolist(), strict=True)):
        by_key[key].append(i)
    person_groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for row, a in enumerate(people):
        person_groups[(int(g.image_ids[a]), int(g.category_ids[a]))].append(row)
    for key, rows in person_groups.items():
        dets = by_key.get(key)
        if not dets:
            continue
        ann = people[rows]
        matrix = coco_oks(g.keypoints[ann], g.areas[ann], r.keypoints[dets], sigmas, g.boxes[ann])  # (D, P)
        matrix[~_inside_grown_box(r.keypoints[dets, :, :2].mean(axis=1), g.boxes[ann])] = -1.0
        free_det, free_person = np.ones(matrix.shape[0], bool), np.ones(matrix.shape[1], bool)
        for flat in np.argsort(-matrix, axis=None, kind="stable"):
            d, p = divmod(int(flat), matrix.shape[1])
            if matrix[d, p] < 0 or not free_person.any():
                break
            if free_det[d] and free_person[p]:
                free_det[d] = free_person[p] = False
                result_index[rows[p]] = dets[d]
                oks[rows[p]] = matrix[d, p]
    has = result_index >= 0
    pred = np.full((n, k, 2), np.nan)
    pred_scores = np.full((n, k), np.nan)
    pred[has] = r.keypoints[result_index[has], :, :2]
    pred_scores[has] = r.keypoints[result_index[has], :, 2]
    return Matching(
        annotation_ids=g.ids[people],
        image_ids=g.image_ids[people],
        gt=g.keypoints[people],
        boxes=g.boxes[people],
        areas=g.areas[people],
        head_boxes=g.head_boxes[people],
        result_index=result_index,
        oks=oks,
        pred=pred,
        pred_scores=pred_scores,
    )


def _inside_grown_box(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(D, P): point d lies inside box p (xywh) grown by its width and height on each side, as COCO's
    ``computeOks`` does for people without labelled keypoints."""
    x, y, w, h = (boxes[:, i][None] for i in range(4))
    px, py = points[:, 0, None], points[:, 1, None]
    return (px >= x - w) & (px <= x + 2 * w) & (py >= y - h) & (py <= y + 2 * h)


def rank_people(matching: Matching, limit: int | None = None) -> list[PersonMatch]:
    """People sorted worst first (lowest OKS; missed people first), for the worst-people picture grid."""
    order = np.argsort(matching.oks, kind="stable")[:limit]
    return [
        PersonMatch(
            int(matching.image_ids[i]),
            int(matching.annotation_ids[i]),
            int(matching.result_index[i]),
            float(matching.oks[i]),
        )
        for i in order
    ]
