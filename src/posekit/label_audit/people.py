"""The annotated people an audit looks at, as arrays, and the two statistics every check shares.

Distances are measured in **OKS sigma units**: ``u = d / (2 sigma_k s)`` with ``s = sqrt(area)``, so a
label ``u`` away from a reference point gets the OKS term ``exp(-u^2 / 2)`` (pycocotools ``computeOks``:
``e = d^2 / (2 sigma)^2 / area / 2``). Spreads over the data set are robust (median and MAD), so the
errors being looked for do not hide themselves by widening the spread.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from posekit.label_audit.findings import Finding
from posekit.metrics.coco_eval import ground_truth_arrays

#: MAD -> standard deviation of a normal distribution.
MAD_TO_STD = 1.4826
#: Per-coordinate variance, in sigma units squared, of a correct label around the true point. COCO defines
#: sigma by ``sigma^2 = E[d^2 / s^2]`` (d: a label's distance from the truth), so ``E[u^2] = 1/4`` and each
#: of the two coordinates carries half: 1/8. A label cannot be expected to sit closer to anything.
ANNOTATOR_VARIANCE = 1 / 8
#: What is usual (a bone's length, a keypoint's confidence) is estimated from at least this many people;
#: with fewer, a median and MAD are too unsteady to call anything far off, and the check stays silent.
MIN_POPULATION = 20


@dataclass
class People:
    """N annotated people (crowd regions excluded); row ``i`` of every array is person ``i``.

    ``keypoints`` are as written in the file: a point with v=0 may carry coordinates (a defect the
    visibility check reports), which :func:`posekit.datasets.coco_keypoints.load_coco` clears on loading.
    """

    annotation_ids: np.ndarray  # (N,) int64
    image_ids: np.ndarray  # (N,) int64
    keypoints: np.ndarray  # (N, K, 3) x, y, v
    boxes: np.ndarray  # (N, 4) xywh
    areas: np.ndarray  # (N,) the OKS scale s^2

    def __len__(self) -> int:
        return len(self.annotation_ids)

    @classmethod
    def from_coco(
        cls, coco: dict[str, Any], num_keypoints: int, annotation_ids: Iterable[int] | None = None
    ) -> People:
        """The non-crowd people of a COCO keypoint dict (only ``annotation_ids`` when given)."""
        annotations = coco.get("annotations") or []
        if annotation_ids is not None:
            wanted = set(annotation_ids)
            annotations = [a for a in annotations if a.get("id") in wanted]
        g = ground_truth_arrays({"annotations": annotations}, num_keypoints)
        keep = ~g.iscrowd
        return cls(g.ids[keep], g.image_ids[keep], g.keypoints[keep], g.boxes[keep], g.areas[keep])

    def finding(self, i: int, joint: str, kind: str, score: float, evidence: str, fix: str) -> Finding:
        """A finding about person ``i``."""
        return Finding(
            int(self.annotation_ids[i]), int(self.image_ids[i]), joint, kind, float(score), evidence, fix
        )

    def point_findings(
        self,
        score: np.ndarray,
        min_score: float,
        kind: str,
        names: Sequence[str],
        describe: Callable[[int, int], tuple[str, str]],
    ) -> list[Finding]:
        """A finding for each point ``(i, j)`` whose (N, K) ``score`` reaches ``min_score``, with the
        evidence and fix ``describe(i, j)`` returns."""
        return [
            self.finding(i, names[j], kind, score[i, j], *describe(i, j))
            for i, j in zip(*np.nonzero(score >= min_score), strict=True)
        ]

    @property
    def placed(self) -> np.ndarray:
        """(N, K) labelled (v > 0) at a real position: not at COCO's (0, 0) placeholder."""
        k = self.keypoints
        return (k[..., 2] > 0) & ((k[..., 0] != 0) | (k[..., 1] != 0))

    @property
    def scale(self) -> np.ndarray:
        """(N,) the OKS object scale ``s = sqrt(area)``."""
        return np.sqrt(np.maximum(self.areas, np.finfo(np.float64).tiny))


def sigma_units(a: np.ndarray, b: np.ndarray, sigmas: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Distance between points ``a`` and ``b`` (..., K, 2) in OKS sigma units ``d / (2 sigma_k s)``;
    ``scale`` (s) broadcasts against the leading dimensions."""
    d = np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)
    return d / (2 * np.asarray(sigmas, np.float64) * np.asarray(scale, np.float64)[..., None])


def nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    """``np.nanmedian`` giving NaN for all-missing slices without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=axis)


def robust_scale(
    values: np.ndarray, min_spread: float, min_count: int = MIN_POPULATION
) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise median and robust standard deviation (1.4826 MAD) of (N, C) ``values``, NaN = missing.

    The spread is at least ``min_spread`` (exactly repeated values would otherwise make any difference
    infinitely significant); columns with fewer than ``min_count`` values get NaN for both.
    """
    values = np.asarray(values, np.float64)
    enough = np.sum(~np.isnan(values), axis=0) >= min_count
    x = np.where(enough, values, np.nan)
    median = nanmedian(x, axis=0)
    spread = np.maximum(MAD_TO_STD * nanmedian(np.abs(x - median), axis=0), min_spread)
    return median, np.where(enough, spread, np.nan)


def robust_z(values: np.ndarray, min_spread: float, min_count: int = MIN_POPULATION) -> np.ndarray:
    """Column-wise robust z ``(x - median) / spread`` of (N, C) ``values`` (see :func:`robust_scale`)."""
    median, spread = robust_scale(values, min_spread, min_count)
    return (np.asarray(values, np.float64) - median) / spread
