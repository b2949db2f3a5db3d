"""Per-keypoint accuracy: each joint's own COCO AP, its PCK and its mean OKS term, weakest first.

A joint's AP is COCO's OKS AP computed with that joint alone: every other joint's visibility is
set to 0 in the ground truth (``num_keypoints`` recounted, so people without this joint labelled
become ignored, as COCO ignores people with no labelled keypoint) and the predictions are left as
they are; the OKS then reduces to the joint's own term ``exp(-d^2 / (2 area (2 sigma)^2))``. It is
one faster-coco-eval run per joint, on OKS terms computed once for all joints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from faster_coco_eval import COCOeval_faster

from posekit.metrics.coco_eval import (
    coco_objects,
    ground_truth_arrays,
    resolve_sigmas,
    result_arrays,
    run_cocoeval,
)
from posekit.metrics.matching import Matching
from posekit.metrics.oks import coco_oks, oks_terms
from posekit.metrics.pck import box_size, pck


@dataclass
class KeypointRow:
    """One row of the per-keypoint table (NaN where the figure is undefined: joint never labelled)."""

    index: int
    name: str
    ap: float  # COCO AP@[.5:.95] with this joint alone
    pck: float  # PCK at ``pck_threshold`` x max(w, h) of the person box
    oks_term: float  # mean exp(-d^2 / (2 area (2 sigma)^2)) over matched people where it is labelled
    labelled: int  # matched people with this joint labelled

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in asdict(self).items()}


def per_keypoint_ap(
    gt: dict[str, Any], results: Sequence[dict[str, Any]], sigmas: Sequence[float] | np.ndarray
) -> np.ndarray:
    """(K,) COCO AP of every joint alone (NaN for a joint no evaluated person has labelled)."""
    sigmas = resolve_sigmas(sigmas, len(sigmas))
    k = sigmas.size
    labelled = ground_truth_arrays(gt, k).keypoints[..., 2] > 0
    coco_gt, coco_dt = coco_objects(gt, results, result_arrays(gt, results, k))
    anns = coco_gt.dataset["annotations"]  # the dicts COCOeval reads its ignore flags from
    cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    out = np.full(k, np.nan)
    for j in range(k):
        for ann, flag in zip(anns, labelled[:, j].tolist(), strict=True):
            ann["num_keypoints"] = int(flag)  # people without this joint become ignored
        ap = float(run_cocoeval(coco_gt, coco_dt, sigmas, _JointEval, joint=j, cache=cache).stats[0])
        out[j] = ap if ap >= 0 else np.nan
    return out


class _JointEval(COCOeval_faster):
    """COCOeval scoring one joint alone, from OKS terms computed once per image for all joints.

    Hand-written because K plain COCOeval runs (the library loops over people in Python each time)
    were slow. For a person with the joint labelled, the OKS is that joint's term, computed by the
    same expression as pycocotools, so the matching is unchanged; people without it are ignored
    (``num_keypoints`` 0) and, as in COCO, scored against their doubled box with all keypoints.
    """

    def __init__(self, *args: Any, joint: int, cache: dict, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.joint, self.cache = joint, cache

    def computeOks(self, imgId: int, catId: int) -> np.ndarray | list:  # noqa: N802 (COCOeval's name)
        if (imgId, catId) not in self.cache:
            gts = self.gt_dataset.get(imgId, catId)
            dts = self.dt_dataset.get(imgId, catId)
            order = np.argsort([-d["score"] for d in dts], kind="mergesort")[: self.params.maxDets[-1]]
            if len(gts) == 0 or len(order) == 0:
                return []
            k = len(self.params.kpt_oks_sigmas)
            gt = np.array([g["keypoints"] for g in gts], np.float64).reshape(len(gts), k, 3)
            area = np.array([g["area"] for g in gts], np.float64)
            pred = np.array([dts[i]["keypoints"] for i in order], np.float64).reshape(len(order), k, 3)
            terms = oks_terms(
                pred[:, None, :, :2], gt[None, :, :, :2], area[None], self.params.kpt_oks_sigmas
            )
            unlabelled = gt.copy()
            unlabelled[..., 2] = 0
            boxes = np.array([g["bbox"] for g in gts], np.float64)
            box_oks = coco_oks(unlabelled, area, pred, self.params.kpt_oks_sigmas, boxes)
            self.cache[imgId, catId] = (terms, box_oks, gt[..., 2] > 0)
        terms, box_oks, labelled = self.cache[imgId, catId]
        return np.where(labelled[None, :, self.joint], terms[..., self.joint], box_oks)


def mean_oks_terms(matching: Matching, sigmas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per joint: the mean OKS term over matched people where the joint is labelled, and that count."""
    m = matching.subset(matching.matched)
    terms = oks_terms(m.pred, m.gt[..., :2], m.areas, sigmas)  # (N, K)
    labelled = m.gt[..., 2] > 0
    counts = labelled.sum(axis=0)
    mean = np.where(counts > 0, (terms * labelled).sum(axis=0) / np.maximum(counts, 1), np.nan)
    return mean, counts


def per_keypoint_table(
    names: Sequence[str],
    matching: Matching,
    sigmas: np.ndarray,
    ap: np.ndarray | None = None,
    pck_threshold: float = 0.1,
) -> list[KeypointRow]:
    """The per-keypoint rows, weakest first (by AP when given, else by PCK; undefined rows last)."""
    m = matching.subset(matching.matched)
    accuracy = pck(m.pred, m.gt, box_size(m.boxes), pck_threshold).per_keypoint
    terms, counts = mean_oks_terms(matching, sigmas)
    ap = np.full(len(names), np.nan) if ap is None else np.asarray(ap, np.float64)
    rows = [
        KeypointRow(i, str(name), float(ap[i]), float(accuracy[i]), float(terms[i]), int(counts[i]))
        for i, name in enumerate(names)
    ]
    key = ap if not np.isnan(ap).all() else accuracy
    return [rows[i] for i in np.argsort(np.nan_to_num(key, nan=np.inf), kind="stable")]
