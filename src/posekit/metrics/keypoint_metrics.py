"""Every metric of a COCO keypoint results list against its ground truth, in memory: COCO OKS AP/AR,
PCK, PCKh, AUC, EPE, NME, the per-keypoint table, PR curves and confidence-threshold figures. Pure: it
prints, draws and writes nothing (:mod:`posekit.report` does)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from posekit.datasets.schema import KeypointSchema
from posekit.metrics.coco_eval import MAX_DETECTIONS, CocoKeypointEval, evaluate_coco_keypoints
from posekit.metrics.matching import MATCHING_RULE, Matching, match_people
from posekit.metrics.pck import (
    INTEROCULAR_INDICES,
    auc,
    box_diagonal,
    box_size,
    epe,
    head_size_from_boxes,
    head_size_from_keypoints,
    interocular_distance,
    nme,
    pck,
)
from posekit.metrics.per_keypoint import KeypointRow, per_keypoint_ap, per_keypoint_table

CONFIDENCE_NOTE = (
    "COCO AP/AR use every predicted keypoint whatever its score (the score only ranks people); "
    "the confidence threshold only selects the keypoints that are drawn and exported (and the "
    "'confidence' figures of metrics.json), so it does not change COCO AP."
)
PR_THRESHOLDS = (0.5, 0.75)


@dataclass
class EvaluationReport:
    metrics: dict[str, Any]  # the content of metrics.json
    keypoints: list[KeypointRow]  # weakest first
    coco: CocoKeypointEval
    matching: Matching


def evaluate_predictions(
    gt: dict[str, Any],
    results: Sequence[dict[str, Any]],
    schema: KeypointSchema,
    *,
    sigmas: Sequence[float] | None = None,
    pck_thresholds: Sequence[float] = (0.05, 0.1, 0.2),
    pckh_threshold: float = 0.5,
    auc_norm: float = 30.0,
    conf: float = 0.3,
    box_source: str = "ground-truth boxes",
    keypoint_ap: bool = True,
) -> EvaluationReport:
    """Evaluate COCO keypoint ``results`` against the GT dict ``gt`` whose keypoints ``schema`` describes.

    ``sigmas`` overrides the schema's OKS sigmas; ``box_source`` says where the person boxes of the
    predictions came from (it is recorded, not used); ``keypoint_ap=False`` skips the K extra COCO
    runs of the per-keypoint AP.
    """
    sigma_source = "given (override)" if sigmas is not None else f"schema {schema.name!r}"
    sigmas_arr = np.asarray(sigmas if sigmas is not None else schema.sigmas, dtype=np.float64)
    coco = evaluate_coco_keypoints(gt, results, sigmas_arr)
    matching = match_people(gt, results, sigmas_arr)
    m = matching.subset(matching.matched)
    k = schema.num_keypoints
    ap = per_keypoint_ap(gt, results, sigmas_arr) if keypoint_ap and len(results) else None
    rows = per_keypoint_table(schema.names, matching, sigmas_arr, ap)
    anns = gt.get("annotations") or []
    crowd = sum(bool(a.get("iscrowd", 0)) for a in anns)

    metrics: dict[str, Any] = {
        "coco": coco.stats,
        "coco_notes": coco.notes,
        "oks": {
            "sigmas": coco.sigmas.tolist(),
            "sigmas_source": sigma_source,
            "thresholds": coco.oks_thresholds.round(2).tolist(),
            "max_detections_per_image": MAX_DETECTIONS,
            "area_ranges": {"medium": [32**2, 96**2], "large": [96**2, 1e5**2]},
        },
        "box_source": box_source,
        "counts": {
            "images": len(gt.get("images") or []),
            "annotations": len(anns),
            "people": int(len(matching.oks)),
            "crowd": crowd,
            "without_keypoints": len(anns) - crowd - int(len(matching.oks)),
            "predictions": len(results),
            "matched_people": int(matching.matched.sum()),
            "missed_people": int((~matching.matched).sum()),
        },
        "matching": MATCHING_RULE,
        "mean_oks": float(matching.oks.mean()) if len(matching.oks) else None,
        "pck": {
            "normaliser": "max(w, h) of the ground-truth person box",
            "thresholds": list(pck_thresholds),
            **{f"PCK@{t:g}": pck(m.pred, m.gt, box_size(m.boxes), t).value for t in pck_thresholds},
        },
        "pckh": _pckh(m, schema, pckh_threshold),
        "auc": {"normaliser": f"{auc_norm:g} px", "num_thresholds": 20, "value": auc(m.pred, m.gt, auc_norm)},
        "epe": {"unit": "px", "value": epe(m.pred, m.gt)},
        "nme": _nme(m, k),
        "confidence": _confidence(m, conf),
        "keypoint_names": list(schema.names),
        "per_keypoint": [row.to_dict() for row in rows],
        "pr_curves": {
            "recall": coco.recall_thresholds.round(2).tolist(),
            **{f"precision@OKS{t:g}": coco.precision_at(t).tolist() for t in PR_THRESHOLDS},
        },
    }
    return EvaluationReport(_json_safe(metrics), rows, coco, matching)


def _pckh(m: Matching, schema: KeypointSchema, threshold: float) -> dict[str, Any]:
    if np.isfinite(m.head_boxes).all(axis=1).any():
        norm, source = head_size_from_boxes(m.head_boxes), "0.6 x diagonal of the annotation's bbox_head"
    elif len(schema.head) >= 2:
        names = (
            ", ".join(schema.names[i] for i in schema.head)
            if len(schema.head) <= 6
            else f"the {len(schema.head)} head keypoints"
        )
        norm, source = head_size_from_keypoints(m.gt, schema.head), f"diagonal of the box around {names}"
    else:
        return {
            "value": None,
            "reason": "no bbox_head in the annotations and no head keypoints in the schema",
        }
    people = int(np.isfinite(norm).sum())
    return {
        "normaliser": source,
        "threshold": threshold,
        "value": pck(m.pred, m.gt, norm, threshold).value,
        "people": people,
    }


def _nme(m: Matching, k: int) -> dict[str, Any]:
    eyes = INTEROCULAR_INDICES.get(k)
    if eyes is not None:
        norm = interocular_distance(m.gt, eyes)
        return {
            "normaliser": f"inter-ocular distance (outer eye corners, keypoints {eyes[0]} and {eyes[1]})",
            "value": nme(m.pred, m.gt, norm),
        }
    return {
        "normaliser": "diagonal of the ground-truth person box",
        "value": nme(m.pred, m.gt, box_diagonal(m.boxes)),
    }


def _confidence(m: Matching, conf: float) -> dict[str, Any]:
    kept = m.pred_scores >= conf
    labelled = m.gt[..., 2] > 0
    return {
        "threshold": conf,
        "kept_fraction": float(kept.mean()) if kept.size else None,
        "labelled_kept_fraction": float(kept[labelled].mean()) if labelled.any() else None,
        "note": CONFIDENCE_NOTE,
    }


def _json_safe(obj: Any) -> Any:
    """NaN becomes None (JSON has no NaN); numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj
