r"""Per-keypoint OKS sigmas estimated from repeated annotations of the same people (COCO's definition).

**COCO's definition.** "Using 5000 redundantly annotated images in val, for each keypoint type i we
measured the per-keypoint standard deviation sigma_i with respect to object scale s. That is we compute
sigma_i^2 = E[d_i^2 / s^2]" (cocodataset.org/#keypoints-eval, *Tuning OKS*), with ``d_i`` an annotation's
distance from the true point and ``s^2`` the object's area. OKS then uses ``kappa_i = 2 sigma_i``;
pycocotools' ``computeOks``: ``vars = (2 sigma)^2``, ``e = d^2 / vars / (area + eps) / 2``, term
``exp(-e)``.

**The estimator.** Model each label of a point as ``x_j = t + e_j`` with annotator errors ``e_j``
independent, mean 0 and ``E|e_j|^2 = sigma^2 s^2`` (any distribution). For one person labelled by ``m``
annotators with mean ``x̄``, the sample-variance identity summed over both coordinates gives
``E[sum_j |x_j - x̄|^2] = (m - 1) sigma^2 s^2``. Hence the unbiased estimator, pooled over people ``p``::

    sigma^2 = sum_p sum_j |x_pj - x̄_p|^2 / s_p^2  /  sum_p (m_p - 1)

For two annotators ``sum_j |x_j - x̄|^2 = d_12^2 / 2``, so ``sigma^2 = mean(d_12^2 / s^2) / 2``: the
distance between two noisy annotators has twice the variance of one annotator's distance from the truth,
and dividing by 2 turns COCO's annotator-vs-truth definition into an annotator-vs-annotator estimator.
``s_p^2`` is the mean area of the person's annotations; ``m_p`` counts those labelling the point (v>0).
``sigma^2`` is unbiased; its square root is low by a relative ``~1 / (8 dof)`` (Jensen, Gaussian noise;
``dof = sum_p (m_p - 1)``, two coordinates each), negligible with hundreds of people.

``robust=True`` uses medians instead, for files with gross mistakes (a swap adds as much as dozens of
normal labels to the mean): under Gaussian noise ``2 sum_j |x_j - x̄|^2 / (sigma^2 s^2)`` is chi-square
with ``2 (m - 1)`` degrees of freedom, so each person's statistic divided by that distribution's median
estimates ``sigma^2`` and their median is taken.

**Without repeats** :func:`sigmas_from_residuals` reads a model's residuals on validation as the
disagreement of a second "annotator": ``E d^2 = (sigma_label^2 + sigma_model^2) s^2``, so it returns an
upper bound on the annotators' sigmas (equal for a perfect model) and is labelled as an approximation.
It always uses the median (model failures are not Gaussian noise).
"""

from __future__ import annotations

import copy
import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

from posekit.datasets.coco_keypoints import parse_coco
from posekit.datasets.data_config import resolve_data
from posekit.datasets.records import format_issues
from posekit.datasets.schema import KeypointSchema
from posekit.errors import DataError, PosekitError, check_number
from posekit.label_audit.people import People, nanmedian
from posekit.metrics.matching import match_people
from posekit.metrics.oks import coco_oks
from posekit.samples import locate

#: Two annotations are the same person when their OKS (with the schema's current sigmas) is at least this.
MIN_OKS = 0.5
#: Issues about image files do not matter here: sigmas need the annotations only.
_IMAGE_FIELDS = ("file_name", "images")


@dataclass
class SigmaEstimate:
    """Estimated sigmas (NaN for keypoints without data) and the evidence behind each."""

    sigmas: np.ndarray  # (K,)
    dof: np.ndarray  # (K,) degrees of freedom: sum of (m_p - 1), or residuals used
    people: int  # people that contributed
    method: str  # "repeats" or "residuals"

    @property
    def approximate(self) -> bool:
        return self.method == "residuals"


# ---------------------------------------------------------------------------------------------- repeats
def read_annotations(path: str | Path) -> tuple[dict[str, Any], KeypointSchema]:
    """A COCO keypoint file, validated (image files need not exist), as a clean dict and its schema."""
    dataset, issues = parse_coco(path)
    errors = [i for i in issues if i.severity == "error" and i.field not in _IMAGE_FIELDS]
    if dataset is None or errors:
        raise DataError(format_issues(errors), errors)
    return dataset.to_coco_dict(), dataset.schema


def match_repeats(
    cocos: Sequence[dict[str, Any]], schema: KeypointSchema, min_oks: float = MIN_OKS
) -> tuple[np.ndarray, np.ndarray]:
    """The people of the first file matched in each other file (images by ``file_name``, people by
    Hungarian assignment on OKS >= ``min_oks``). Returns keypoints (P, M, K, 3) and areas (P, M), NaN
    where a file has no match. People the first file lacks are not used."""
    k = schema.num_keypoints
    check_number("--min-oks", min_oks, 0, 1)
    if len(cocos) < 2:
        raise PosekitError(f"repeated annotations need at least two files, got {len(cocos)}")
    tables = [_by_file_name(coco, k) for coco in cocos]
    reference = tables[0]
    groups_kp: list[np.ndarray] = []
    groups_area: list[np.ndarray] = []
    for name, (people, rows) in reference.items():
        kp = np.full((len(rows), len(cocos), k, 3), np.nan)
        area = np.full((len(rows), len(cocos)), np.nan)
        kp[:, 0], area[:, 0] = people.keypoints[rows], people.areas[rows]
        for f, table in enumerate(tables[1:], start=1):
            if name not in table:
                continue
            others, other_rows = table[name]
            similarity = coco_oks(
                people.keypoints[rows], people.areas[rows], others.keypoints[other_rows], schema.sigmas_array
            ).reshape(len(other_rows), len(rows))
            matched_other, matched_ref = linear_sum_assignment(similarity, maximize=True)
            keep = similarity[matched_other, matched_ref] >= min_oks
            kp[matched_ref[keep], f] = others.keypoints[other_rows][matched_other[keep]]
            area[matched_ref[keep], f] = others.areas[other_rows][matched_other[keep]]
        groups_kp.append(kp)
        groups_area.append(area)
    if not groups_kp:
        return np.zeros((0, len(cocos), k, 3)), np.zeros((0, len(cocos)))
    return np.concatenate(groups_kp), np.concatenate(groups_area)


def _by_file_name(coco: dict[str, Any], k: int) -> dict[str, tuple[People, np.ndarray]]:
    """Labelled people of a file, grouped by their image's file_name."""
    people = People.from_coco(coco, k)
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    rows: dict[str, list[int]] = defaultdict(list)
    for i in np.flatnonzero(people.placed.any(axis=1)):
        rows[names[int(people.image_ids[i])]].append(int(i))
    return {name: (people, np.asarray(r)) for name, r in rows.items()}


def sigmas_from_repeats(keypoints: np.ndarray, areas: np.ndarray, robust: bool = False) -> SigmaEstimate:
    """Sigmas from people labelled several times: keypoints (P, M, K, 3), areas (P, M), NaN where the
    m-th annotation of person p is missing (see the module doc for the estimator)."""
    x, y, v = keypoints[..., 0], keypoints[..., 1], keypoints[..., 2]
    placed = ~np.isnan(v) & (np.nan_to_num(v) > 0) & ((x != 0) | (y != 0))  # (P, M, K)
    m = placed.sum(axis=1)  # (P, K) annotations labelling each point
    xy = np.where(placed[..., None], keypoints[..., :2], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # points nobody labelled: their mean is NaN
        mean = np.nanmean(xy, axis=1)  # (P, K, 2)
        s2 = np.nanmean(areas, axis=1)[:, None]  # (P, 1)
    spread = np.nansum(np.sum((xy - mean[:, None]) ** 2, axis=-1), axis=1) / s2  # (P, K)
    used = m >= 2
    dof = np.where(used, m - 1, 0).sum(axis=0)
    if robust:
        normalised = np.where(used, 2 * spread / chi2.median(2 * np.maximum(m - 1, 1)), np.nan)
        variance = nanmedian(normalised, axis=0)
    else:
        variance = np.where(used, spread, 0.0).sum(axis=0) / np.where(dof > 0, dof, np.nan)
    return SigmaEstimate(np.sqrt(variance), dof, int(used.any(axis=1).sum()), "repeats")


def sigmas_from_residuals(pred: np.ndarray, gt: np.ndarray, areas: np.ndarray) -> SigmaEstimate:
    """APPROXIMATE sigmas from a model's points (N, K, 2) against the labels (N, K, 3) of N people with
    areas (N,): ``sigma^2 = median(d^2 / s^2) / ln 2`` over labelled points (the median of a 2-D
    Gaussian's ``d^2`` is ``ln 2`` times its mean), an upper bound (see the module doc)."""
    labelled = (gt[..., 2] > 0) & ~np.isnan(pred).any(axis=-1)
    d2 = np.sum((pred - gt[..., :2]) ** 2, axis=-1) / np.asarray(areas, np.float64)[:, None]
    variance = nanmedian(np.where(labelled, d2, np.nan), axis=0) / math.log(2)
    return SigmaEstimate(
        np.sqrt(variance), labelled.sum(axis=0), int(labelled.any(axis=1).sum()), "residuals"
    )


def repeat_sigmas(
    cocos: Sequence[dict[str, Any]], schema: KeypointSchema, min_oks: float = MIN_OKS, robust: bool = False
) -> SigmaEstimate:
    """Sigmas from two or more COCO dicts labelling the same images (:func:`match_repeats` then
    :func:`sigmas_from_repeats`)."""
    keypoints, areas = match_repeats(cocos, schema, min_oks)
    if not np.isfinite(areas[:, 1:]).any():
        raise PosekitError(
            f"no person of the first file was found again in the others (same file_name, OKS >= {min_oks}); "
            "pass files that annotate the same images"
        )
    return sigmas_from_repeats(keypoints, areas, robust)


def residual_sigmas(coco: dict[str, Any], results: Any, schema: KeypointSchema) -> SigmaEstimate:
    """APPROXIMATE sigmas from a model's COCO keypoint results on ``coco`` (matched to its people as
    ``posekit val`` matches them), see :func:`sigmas_from_residuals`."""
    matching = match_people(coco, results, schema.sigmas)
    found = matching.matched
    if not found.any():
        raise PosekitError(
            "no prediction matches a labelled person; are the results for this annotation file?"
        )
    return sigmas_from_residuals(matching.pred[found], matching.gt[found], matching.areas[found])


def sample_repeats(copies: int = 3, seed: int = 0) -> tuple[list[dict[str, Any]], KeypointSchema]:
    """A demonstration: the built-in sample's val people relabelled by ``copies`` simulated annotators
    with the schema's (COCO's) sigmas, which an estimate should then recover."""
    dataset = resolve_data(locate("sample")).load_split("val")
    return simulate_repeats(dataset.to_coco_dict(), dataset.schema.sigmas, copies, seed), dataset.schema


# ---------------------------------------------------------------------------------------------- output
def sigma_schema(schema: KeypointSchema, estimate: SigmaEstimate, sources: int) -> KeypointSchema:
    """``schema`` with the estimated sigmas (keypoints without data keep theirs) and a name saying how
    they were made. Its :meth:`~KeypointSchema.to_dict` is the file ``--sigmas`` and a data YAML's
    ``schema:`` read."""
    zero = np.flatnonzero(estimate.sigmas == 0)
    if zero.size:
        names = [schema.names[i] for i in zero]
        raise PosekitError(
            f"the annotations agree exactly at {names}: are the files copies of one another? Sigmas need "
            "independent annotations of the same people"
        )
    sigmas = np.where(np.isnan(estimate.sigmas), schema.sigmas_array, estimate.sigmas)
    if estimate.approximate:
        how = f"APPROXIMATE sigmas from model residuals on {estimate.people} people"
    else:
        how = f"sigmas from {sources} annotations of {estimate.people} people"
    return schema.override(name=f"{schema.name} ({how})", sigmas=[round(float(s), 4) for s in sigmas])


# ---------------------------------------------------------------------------------------------- simulation
def simulate_repeats(
    coco: dict[str, Any], sigmas: Sequence[float], copies: int = 2, seed: int = 0
) -> list[dict[str, Any]]:
    """``copies`` relabellings of ``coco``'s people by simulated annotators whose errors follow COCO's
    definition for ``sigmas``: each labelled point moved by Gaussian noise with ``E|e|^2 = sigma^2 area``
    (and kept in the image, as an annotator clicking on it would)."""
    rng = np.random.default_rng(seed)
    std = np.asarray(sigmas, np.float64) / math.sqrt(2)  # per coordinate, times sqrt(area)
    sizes = {im["id"]: (im["width"], im["height"]) for im in coco["images"]}
    out = []
    for _ in range(copies):
        relabelled = copy.deepcopy(coco)
        for ann in relabelled["annotations"]:
            kps = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
            scale = math.sqrt(ann.get("area") or ann["bbox"][2] * ann["bbox"][3])
            noise = rng.normal(size=(len(kps), 2)) * std[:, None] * scale
            moved = np.clip(kps[:, :2] + noise, 0, np.subtract(sizes[ann["image_id"]], 1))
            kps[:, :2] = np.where(kps[:, 2:] > 0, moved, kps[:, :2])
            ann["keypoints"] = kps.ravel().tolist()
        out.append(relabelled)
    return out
