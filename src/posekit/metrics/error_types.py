"""Keypoint localisation errors as Ronchi & Perona classify them ("Benchmarking and Error Diagnosis in
Multi-Instance Pose Estimation", ICCV 2017, and their coco-analyze code), the AP each error type costs,
and the AP by person size and by number of labelled joints. Pure: every AP is posekit's COCO evaluation.

Each prediction that COCO's own matching pairs with a person at OKS >= 0.1 (``coco-analyze``'s
``oksLocThrs``) is analysed joint by joint, for the joints that person has labelled. The joint's keypoint
similarity ``ks = exp(-d^2 / (2 area (2 sigma)^2))`` is taken against every labelled point of the image's
people (their own areas): the same joint of its own person, the mirrored joint of its own person (the
left/right partner), and the same and mirrored joints of every other person. With ``ks_max`` the best of
these (first one on ties, own joint first):

- good: ``ks_max >= 0.85`` on its own joint;
- jitter: ``0.5 <= ks_max < 0.85`` on its own joint;
- inversion: ``ks_max >= 0.5`` on its own person's mirrored joint;
- swap: ``ks_max >= 0.5`` on another person's joint (same or mirrored);
- miss: ``ks_max < 0.5``.

Fixing an error moves the joint onto its own person, to the distance from the labelled point where
its ks is the level the type stands for (as coco-analyze does): a jitter to ks 0.85 (just good), a
miss to ks 0.5 (just jitter), an inversion or a swap to the ks it had with the wrong point. coco-analyze
computes that distance with sigma^2 where its OKS uses (2 sigma)^2, so its fixed points land at
ks^(1/4); here they land at the ks itself. The AP after fixing each type alone minus the AP of the
predictions is what the type costs (coco-analyze's ``errorsAPImpact``). coco-analyze counts a joint at
exactly ks 0.85 as neither good nor jitter; here it is good (the paper's ">= 0.85").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from faster_coco_eval import COCO

from posekit.datasets.schema import KeypointSchema
from posekit.metrics.coco_eval import (
    CachedOksEval,
    GroundTruthArrays,
    accumulated_cocoeval,
    average_precision,
    coco_matches,
    coco_objects,
    evaluate_coco_keypoints,
    ground_truth_arrays,
    resolve_sigmas,
    result_arrays,
    run_cocoeval,
)
from posekit.metrics.oks import oks_terms

#: The error types, in the order coco-analyze's figures list them.
ERROR_TYPES = ("jitter", "inversion", "swap", "miss")
#: The label of a joint: index into this tuple (-1 in :attr:`KeypointErrors.labels`: not labelled).
LABELS = ("good", *ERROR_TYPES)
#: ks at or above which a joint on its own labelled point is good (human annotators' spread).
GOOD_KS = 0.85
#: ks below which a joint is near no labelled point at all (a miss).
NEAR_KS = 0.5
#: Predictions matched by COCO at this OKS are analysed (coco-analyze's ``oksLocThrs``).
LOCALISATION_OKS = 0.1
#: COCO's area ranges (small people have no keypoints in COCO itself, but custom data may have them).
AREA_RANGES = {"small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}


@dataclass
class KeypointErrors:
    """The joints of every analysed prediction, classified (row m: result ``result_index[m]``)."""

    result_index: np.ndarray  # (M,) index into the results
    annotation_index: np.ndarray  # (M,) row of the ground truth's annotations (file order) it is matched to
    labels: np.ndarray  # (M, K) index into LABELS; -1 where the person has the joint unlabelled
    ks: np.ndarray  # (M, K) ks with its own labelled point (NaN where unlabelled)
    fixed: np.ndarray  # (M, K, 2) where fixing the joint's error puts it (the prediction where good)

    def counts(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """(K, len(LABELS)) joints of each label per keypoint, over the selected rows."""
        labels = self.labels[rows]
        return np.stack([(labels == i).sum(axis=0) for i in range(len(LABELS))], axis=1)


@dataclass
class GroupResult:
    """COCO AP of one group of people (a size range or a range of labelled-joint counts)."""

    name: str
    bounds: tuple[float, float]  # area [min, max) or labelled joints [min, max] of the group
    people: int  # people COCO scores in the group
    ap: float  # NaN where the group is empty
    counts: np.ndarray  # (len(LABELS),) joint labels of the analysed predictions of the group's people

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bounds": list(self.bounds),
            "people": self.people,
            "AP": _none_if_nan(self.ap),
            **_label_summary(self.counts),
        }


@dataclass
class ErrorBreakdown:
    """Ronchi & Perona's error breakdown of a set of predictions (see the module docstring)."""

    keypoint_names: list[str]
    errors: KeypointErrors
    ap: float  # COCO AP of the predictions as they are
    ap_fixed: dict[str, float]  # AP after fixing each error type alone, and "all" of them
    by_size: list[GroupResult]
    by_visible: list[GroupResult]

    @property
    def counts(self) -> np.ndarray:
        """(K, len(LABELS)) joints of each label per keypoint."""
        return self.errors.counts()

    def to_dict(self) -> dict[str, Any]:
        """The ``errors`` section of metrics.json."""
        counts = self.counts
        return {
            "method": (
                "Ronchi & Perona, ICCV 2017 (coco-analyze): each prediction COCO matches at OKS >= "
                f"{LOCALISATION_OKS:g}; per labelled joint, the best keypoint similarity ks with its own "
                f"point, its left/right partner (inversion) or another person's joints (swap); good ks >= "
                f"{GOOD_KS:g}, jitter {NEAR_KS:g} <= ks < {GOOD_KS:g}, miss ks < {NEAR_KS:g}"
            ),
            "fix": (
                f"a fixed joint is moved onto its own point's neighbourhood: jitter to ks {GOOD_KS:g}, miss "
                f"to ks {NEAR_KS:g}, inversion and swap to the ks they had with the wrong point"
            ),
            "predictions_analysed": len(self.errors.result_index),
            **_label_summary(counts.sum(axis=0)),
            "AP": _none_if_nan(self.ap),
            "AP_fixed": {k: _none_if_nan(v) for k, v in self.ap_fixed.items()},
            "AP_gain": {k: _none_if_nan(v - self.ap) for k, v in self.ap_fixed.items()},
            "per_keypoint": [
                {"name": name, **dict(zip(LABELS, map(int, row), strict=True))}
                for name, row in zip(self.keypoint_names, counts, strict=True)
            ],
            "by_size": [g.to_dict() for g in self.by_size],
            "by_visible_keypoints": [g.to_dict() for g in self.by_visible],
        }


def classify_keypoint_errors(
    gt: dict[str, Any], results: Sequence[dict[str, Any]], sigmas: np.ndarray, flip_index: np.ndarray
) -> KeypointErrors:
    """Classify every labelled joint of every prediction COCO matches at :data:`LOCALISATION_OKS`.

    ``flip_index[j]`` is joint j's left/right partner (itself for central joints).
    """
    k = len(sigmas)
    g = ground_truth_arrays(gt, k)
    pred = result_arrays(gt, results, k).keypoints[..., :2]
    matched = coco_matches(gt, results, sigmas, LOCALISATION_OKS)
    analysed = np.flatnonzero(matched >= 0)
    analysed = analysed[g.evaluated[matched[analysed]]]  # a person without labelled joints has nothing
    rows = matched[analysed]
    labels = np.full((len(analysed), k), -1, dtype=np.int64)
    own_ks = np.full((len(analysed), k), np.nan)
    fixed = pred[analysed].copy()
    by_image: dict[tuple[int, int], list[int]] = defaultdict(list)
    for row, key in enumerate(zip(g.image_ids.tolist(), g.category_ids.tolist(), strict=True)):
        by_image[key].append(row)
    for m, (d, a) in enumerate(zip(analysed.tolist(), rows.tolist(), strict=True)):
        others = [b for b in by_image[int(g.image_ids[a]), int(g.category_ids[a])] if b != a]
        people = np.array([a, *others])
        points = np.concatenate([g.keypoints[people], g.keypoints[people][:, flip_index]])  # (2P, K, 3)
        areas = np.concatenate([g.areas[people], g.areas[people]])
        ks = np.where(points[..., 2] > 0, oks_terms(pred[d], points[..., :2], areas, sigmas), -1.0)
        best, where = np.maximum(ks.max(axis=0), 0.0), ks.argmax(axis=0)
        own = where == 0
        label = np.select(
            [best < NEAR_KS, own & (best >= GOOD_KS), own, where == len(people)],
            [LABELS.index("miss"), LABELS.index("good"), LABELS.index("jitter"), LABELS.index("inversion")],
            LABELS.index("swap"),
        )
        labelled = g.keypoints[a, :, 2] > 0
        labels[m] = np.where(labelled, label, -1)
        own_ks[m] = np.where(labelled, ks[0], np.nan)
        target = np.select(
            [label == LABELS.index("jitter"), label == LABELS.index("miss")], [GOOD_KS, NEAR_KS], best
        )
        move = labelled & (label != LABELS.index("good"))
        distance = np.sqrt(-np.log(target[move]) * 2 * (2 * sigmas[move]) ** 2 * (g.areas[a] + np.spacing(1)))
        fixed[m, move] = g.keypoints[a, move, :2] + np.stack([distance, np.zeros_like(distance)], axis=1)
    return KeypointErrors(analysed, rows, labels, own_ks, fixed)


def fix_errors(
    results: Sequence[dict[str, Any]], errors: KeypointErrors, types: Sequence[str]
) -> list[dict[str, Any]]:
    """The results with the joints of the given error ``types`` fixed (new dicts where anything moved)."""
    codes = [LABELS.index(t) for t in types]
    out = list(results)
    for m, d in enumerate(errors.result_index.tolist()):
        move = np.isin(errors.labels[m], codes)
        if move.any():
            keypoints = np.array(results[d]["keypoints"], dtype=np.float64).reshape(-1, 3)
            keypoints[move, :2] = errors.fixed[m, move]
            out[d] = {**results[d], "keypoints": keypoints.ravel().tolist()}
    return out


def error_breakdown(
    gt: dict[str, Any],
    results: Sequence[dict[str, Any]],
    schema: KeypointSchema,
    sigmas: Sequence[float] | None = None,
) -> ErrorBreakdown:
    """Classify the joints of ``results`` against the GT dict ``gt``, the AP after fixing each error type
    (alone, then all), and the AP by person size and by number of labelled joints.

    ``sigmas`` overrides the schema's OKS sigmas.
    """
    sigmas_arr = resolve_sigmas(schema.sigmas if sigmas is None else sigmas, schema.num_keypoints)
    errors = classify_keypoint_errors(gt, results, sigmas_arr, schema.flip_index)
    ap_fixed = {
        name: evaluate_coco_keypoints(gt, fix_errors(results, errors, types), sigmas_arr).stats["AP"]
        for name, types in [*((t, (t,)) for t in ERROR_TYPES), ("all", ERROR_TYPES)]
    }
    g = ground_truth_arrays(gt, schema.num_keypoints)
    coco = coco_objects(gt, results, result_arrays(gt, results, len(sigmas_arr))) if len(results) else None
    cache: dict = {}  # the OKS of every image, shared by the runs on ``coco``
    ap, by_size = _by_size(coco, sigmas_arr, g, errors, cache)
    by_visible = _by_visible(coco, sigmas_arr, g, errors, cache)
    return ErrorBreakdown(list(schema.names), errors, ap, ap_fixed, by_size, by_visible)


def visible_groups(num_keypoints: int) -> list[tuple[int, int]]:
    """Ranges [min, max] of labelled-joint counts, four of equal width (coco-analyze's 1-5, 6-10, 11-15,
    16-17 for COCO's 17), the last one shorter."""
    width = math.ceil(num_keypoints / 4)
    return [(lo, min(lo + width - 1, num_keypoints)) for lo in range(1, num_keypoints + 1, width)]


def _by_size(
    coco: tuple[COCO, COCO] | None,
    sigmas: np.ndarray,
    g: GroundTruthArrays,
    errors: KeypointErrors,
    cache: dict,
) -> tuple[float, list[GroupResult]]:
    """The AP of everyone and of COCO's area ranges, from one COCO run (a person is scored in the range
    holding its area); with no predictions, AP 0 and the ranges undefined."""
    aps = [0.0] + [float("nan")] * len(AREA_RANGES)
    if coco is not None:
        ranges = {"all": (0.0, 1e5**2), **AREA_RANGES}  # COCO's "all"
        run = accumulated_cocoeval(*coco, sigmas, CachedOksEval, area_ranges=ranges, cache=cache)
        aps = [average_precision(run, i) for i in range(len(ranges))]
    groups = []
    for (name, (lo, hi)), ap in zip(AREA_RANGES.items(), aps[1:], strict=True):
        members = g.evaluated & (g.areas >= lo) & (g.areas <= hi)  # COCO's range test is inclusive
        groups.append(_group(name, (lo, hi), members, ap, errors))
    return aps[0], groups


def _by_visible(
    coco: tuple[COCO, COCO] | None,
    sigmas: np.ndarray,
    g: GroundTruthArrays,
    errors: KeypointErrors,
    cache: dict,
) -> list[GroupResult]:
    """One COCO run per group; people outside it are ignored (``num_keypoints`` 0, as coco-analyze's
    ``gtIgnoreIds``), so predictions matched to them count neither way."""
    visible = (g.keypoints[..., 2] > 0).sum(axis=1)
    anns = coco[0].dataset["annotations"] if coco is not None else []  # COCOeval reads ignore flags here
    counts = [ann["num_keypoints"] for ann in anns]
    groups = []
    try:
        for lo, hi in visible_groups(len(sigmas)):
            members = g.evaluated & (visible >= lo) & (visible <= hi)
            ap = float("nan")
            if coco is not None and members.any():
                for ann, count, inside in zip(anns, counts, members.tolist(), strict=True):
                    ann["num_keypoints"] = count if inside else 0
                ap = float(run_cocoeval(*coco, sigmas, CachedOksEval, cache=cache).stats[0])
            name = f"{lo}" if lo == hi else f"{lo}-{hi}"
            groups.append(_group(f"{name} joints", (lo, hi), members, ap, errors))
    finally:
        for ann, count in zip(anns, counts, strict=True):
            ann["num_keypoints"] = count
    return groups


def _group(
    name: str, bounds: tuple[float, float], members: np.ndarray, ap: float, errors: KeypointErrors
) -> GroupResult:
    rows = members[errors.annotation_index]
    return GroupResult(
        name,
        bounds,
        int(members.sum()),
        ap if members.any() and ap >= 0 else float("nan"),
        errors.counts(rows).sum(axis=0),
    )


def _label_summary(counts: np.ndarray) -> dict[str, Any]:
    """Joint counts by label and their fractions of the labelled joints."""
    total = int(counts.sum())
    return {
        "joints": total,
        "counts": dict(zip(LABELS, map(int, counts), strict=True)),
        "fractions": {
            name: (int(c) / total if total else None) for name, c in zip(LABELS, counts, strict=True)
        },
    }


def _none_if_nan(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
