"""Checks that compare each label with a model's prediction for the same person (pure array functions).

The caller runs the model on every person's ground-truth box and passes a :class:`ModelOutput` whose row
``i`` belongs to person ``i`` of :class:`~posekit.label_audit.people.People`. Optionally the prediction on the
horizontally mirrored crop, mapped back (un-mirrored, left/right indices exchanged, as the flip test
returns it): a finding then needs both views, and keeps the weaker view's evidence, so a person whose
sides the model cannot tell apart (seen from the back, from the side) raises no swap.

Residuals are in OKS sigma units ``u`` (see :mod:`posekit.label_audit.people`). Their spread is learnt per
keypoint from the data: ``tau_k^2 = median(u^2) / (2 ln 2)`` (a 2-D Gaussian's per-coordinate variance;
``u^2 / tau^2`` is chi-square with 2 degrees of freedom, median ``2 ln 2``), never below the annotator
noise :data:`~posekit.label_audit.people.ANNOTATOR_VARIANCE`. With the mirrored view, the model's own
uncertainty about each point adds to that: two looks with independent per-coordinate errors of variance
``s^2`` differ by ``E|a - b|^2 = 4 s^2``, so ``|a - b|^2 / 4`` is added to ``tau_k^2`` (the two looks
share one network, so this underestimates rather than overstates it). A label ``u`` from the prediction
has ``-ln p = u^2 / (2 tau^2)`` (``p``: the chance a right label lies that far from the prediction).
Without it, a model's gross errors on occluded limbs (both looks far apart, at moderate confidence)
read as displaced labels (``benchmarks/audit.py``: displaced precision 0.65 -> 0.83 on the sample).

- **swap**: per left/right pair, the log likelihood ratio of the labels exchanged against as labelled,
  ``(cost as labelled - cost exchanged)``, weighted by the lower of the two confidences, where both
  exchanged labels agree with the model (within :data:`AGREE_NATS`; otherwise one point is displaced).
  When at least half of a person's pairs (and two or more) are flagged, one whole-body finding replaces
  them.
- **displaced**: ``-ln p`` of the label's residual, weighted by the model's confidence.
- **missed**: v=0 where the model's point lies in the box with confidence >= :data:`MISSED_MIN_CONF`, the
  confidence (logit) a robust z outlier among all unlabelled points of that keypoint inside their boxes.
- **visibility** (the model's part): a point labelled visible (v=2) where the model's confidence is a low
  robust z outlier among v=2 points of that keypoint, or labelled occluded (v=1) where it is a high one
  among v=1 points, in both cases with the label where the model puts it (so it is not a displacement).
  A model's confidence reflects occlusion only loosely: expect these at low scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from posekit.datasets.schema import KeypointSchema
from posekit.errors import PosekitError
from posekit.label_audit.findings import SCORE_MAX, Finding, nats_score, sort_findings, tail_score
from posekit.label_audit.people import ANNOTATOR_VARIANCE, People, nanmedian, robust_z, sigma_units
from posekit.settings import MIN_SCORE

#: The kinds these checks report.
MODEL_KINDS = ("swap", "displaced", "missed", "visibility")
#: v=0 points are suggested only where the model is at least this confident.
MISSED_MIN_CONF = 0.5
#: A label agrees with the model's point when a right label would lie that far from it with probability
#: p >= 1e-3 (-ln p <= 6.9 nats): within the model's usual error.
AGREE_NATS = 3 * math.log(10)
#: Smallest spread of logit confidences assumed (synthetic scores can be nearly constant).
MIN_LOGIT_SPREAD = 0.25
_LOGIT_CLIP = 1e-4


@dataclass
class ModelOutput:
    """A model's keypoints (N, K, 2) and confidences (N, K) for N people, made with their own boxes;
    optionally the same on the mirrored crops, mapped back to the original keypoint order and image.
    A person the model did not see (no labelled point) has NaN rows and raises no finding.

    ``mode``: how the predictions relate to the labels (a key of :data:`~posekit.label_audit.api.MODES`: was
    the model trained on these images?) and ``detail`` says which model(s)."""

    keypoints: np.ndarray
    scores: np.ndarray
    mirrored_keypoints: np.ndarray | None = None
    mirrored_scores: np.ndarray | None = None
    mode: str = "unknown"
    detail: str = ""

    def views(self) -> list[tuple[np.ndarray, np.ndarray]]:
        views = [(self.keypoints, self.scores)]
        if self.mirrored_keypoints is not None:
            if self.mirrored_scores is None:
                raise PosekitError("mirrored_keypoints were given without mirrored_scores")
            views.append((self.mirrored_keypoints, self.mirrored_scores))
        return [(np.asarray(p, np.float64), np.asarray(s, np.float64)) for p, s in views]


def model_findings(
    people: People, schema: KeypointSchema, output: ModelOutput, min_score: float = MIN_SCORE
) -> list[Finding]:
    """All model-based checks, highest score first."""
    views = output.views()
    for points, scores in views:
        if points.shape != (*people.keypoints.shape[:2], 2) or scores.shape != people.keypoints.shape[:2]:
            raise PosekitError(
                f"model output has keypoints {points.shape} and scores {scores.shape}; expected "
                f"{(*people.keypoints.shape[:2], 2)} and {people.keypoints.shape[:2]} (one row per person)"
            )
    tau2 = residual_variance(people, schema, views[0][0])
    if len(views) == 2:  # the model's uncertainty at each point, from its two looks (see the module doc)
        tau2 = tau2 + sigma_units(views[0][0], views[1][0], schema.sigmas_array, people.scale) ** 2 / 4
    c = _Comparison(people, schema, views, tau2)
    swaps, swapped = _swaps(c, min_score)
    return sort_findings(
        [*swaps, *_displaced(c, min_score, skip=swapped), *_missed(c, min_score), *_visibility(c, min_score)]
    )


def residual_variance(people: People, schema: KeypointSchema, points: np.ndarray) -> np.ndarray:
    """(K,) per-coordinate variance of label-to-prediction residuals in sigma units (see module doc)."""
    u = sigma_units(people.keypoints[..., :2], points, schema.sigmas_array, people.scale)
    u2 = np.where(people.placed, u**2, np.nan)
    tau2 = np.nan_to_num(nanmedian(u2, axis=0) / (2 * math.log(2)), nan=ANNOTATOR_VARIANCE)
    return np.maximum(tau2, ANNOTATOR_VARIANCE)


@dataclass
class _Comparison:
    """The people's labels, the model's views of them, and the residual spread ``tau2`` ((K,) or (N, K))."""

    people: People
    schema: KeypointSchema
    views: list[tuple[np.ndarray, np.ndarray]]
    tau2: np.ndarray

    def units(self, labels: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Sigma units between labels (N, K, 2) and the model's points of each keypoint slot (N, K, 2)."""
        return sigma_units(labels, points, self.schema.sigmas_array, self.people.scale)

    def cost(self, labels: np.ndarray, points: np.ndarray) -> np.ndarray:
        """-ln p of each label against the model's point of its slot (see the module doc)."""
        return self.units(labels, points) ** 2 / (2 * self.tau2)


# ---------------------------------------------------------------------------------------------- swaps
def _swaps(c: _Comparison, min_score: float) -> tuple[list[Finding], np.ndarray]:
    """Left/right swaps, and the (N, K) mask of the points they cover."""
    people, names = c.people, c.schema.names
    pairs = np.asarray(c.schema.flip_pairs, dtype=np.int64).reshape(-1, 2)
    labels, placed = people.keypoints[..., :2], people.placed
    evaluable = placed[:, pairs[:, 0]] & placed[:, pairs[:, 1]]  # (N, P)
    exchanged = labels[:, c.schema.flip_index]  # label of the partner in each slot
    llr = np.full(evaluable.shape, np.inf)
    for points, scores in c.views:
        as_labelled = c.cost(labels, points)[:, pairs]  # (N, P, 2)
        as_exchanged = c.cost(exchanged, points)[:, pairs]
        gain = (as_labelled - as_exchanged).sum(axis=-1) * scores[:, pairs].min(axis=-1)
        fits = (as_exchanged <= AGREE_NATS).all(axis=-1)  # else one displaced point, not a swap
        llr = np.minimum(llr, np.where(fits, gain, 0.0))
    score = np.where(evaluable, nats_score(np.maximum(llr, 0)), 0.0)
    points = c.views[0][0]
    u_labelled, u_exchanged = c.units(labels, points), c.units(exchanged, points)
    covered = np.zeros(placed.shape, dtype=bool)
    out = []
    for i in np.flatnonzero((score >= min_score).any(axis=1)):
        flagged = np.flatnonzero(score[i] >= min_score)
        covered[i, pairs[flagged].ravel()] = True
        if len(flagged) >= max(2, evaluable[i].sum() / 2):
            listed = ", ".join(_pair_name(names, pairs[p]) for p in flagged)
            out.append(
                people.finding(
                    i, "", "swap", min(score[i, flagged].sum(), SCORE_MAX),
                    f"{len(flagged)} of {int(evaluable[i].sum())} left/right pairs agree with the model only "
                    f"when exchanged: {listed}",
                    "exchange left and right for the whole person (labelled as if seen from the other side)",
                )
            )  # fmt: skip
            continue
        for p in flagged:
            a, b = pairs[p]
            out.append(
                people.finding(
                    i, _pair_name(names, pairs[p]), "swap", score[i, p],
                    f"labels are {u_labelled[i, a]:.1f} and {u_labelled[i, b]:.1f} sigma units from the "
                    f"model's points, {u_exchanged[i, a]:.1f} and {u_exchanged[i, b]:.1f} when exchanged",
                    f"exchange {names[a]} and {names[b]}",
                )
            )  # fmt: skip
    return out, covered


def _pair_name(names: list[str], pair: np.ndarray) -> str:
    return f"{names[pair[0]]}/{names[pair[1]]}"


# ---------------------------------------------------------------------------------------------- displaced
def _displaced(c: _Comparison, min_score: float, skip: np.ndarray) -> list[Finding]:
    """Labels far from a confident prediction (points in ``skip``, the swapped pairs, excluded)."""
    people, names = c.people, c.schema.names
    labels = people.keypoints[..., :2]
    nats = np.full(labels.shape[:2], np.inf)
    for points, scores in c.views:
        nats = np.minimum(nats, c.cost(labels, points) * scores)
    score = np.where(people.placed & ~skip, nats_score(nats), 0.0)
    points, scores = c.views[0]
    u = c.units(labels, points)
    return people.point_findings(
        score, min_score, "displaced", names,
        lambda i, j: (
            f"{np.hypot(*(labels[i, j] - points[i, j])):.0f} px ({u[i, j]:.1f} sigma units) from the "
            f"model's point (confidence {scores[i, j]:.2f})",
            f"move {names[j]} to about ({points[i, j, 0]:.0f}, {points[i, j, 1]:.0f}), or check it",
        ),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------- visibility
def _missed(c: _Comparison, min_score: float) -> list[Finding]:
    """Unlabelled points (v=0) the model finds confidently inside the box."""
    people, names = c.people, c.schema.names
    unlabelled = people.keypoints[..., 2] == 0
    score = np.full(unlabelled.shape, np.inf)
    for points, scores in c.views:
        candidates = unlabelled & _inside_box(points, people.boxes)
        z = _confidence_z(scores, candidates)
        score = np.minimum(score, np.where(candidates & (scores >= MISSED_MIN_CONF), tail_score(z), 0.0))
    points, scores = c.views[0]
    return people.point_findings(
        score, min_score, "missed", names,
        lambda i, j: (
            f"unlabelled, but the model finds it at ({points[i, j, 0]:.0f}, {points[i, j, 1]:.0f}) inside "
            f"the box with confidence {scores[i, j]:.2f}",
            f"label {names[j]} at about ({points[i, j, 0]:.0f}, {points[i, j, 1]:.0f}) if it can be "
            "seen or located",
        ),
    )  # fmt: skip


def _visibility(c: _Comparison, min_score: float) -> list[Finding]:
    """v=2 points the model barely sees, and v=1 points it sees as well as visible ones (see module doc)."""
    people = c.people
    v, labels = people.keypoints[..., 2], people.keypoints[..., :2]
    direction = {2: -1.0, 1: 1.0}  # v=2: low confidence is suspicious; v=1: high
    score = np.full(v.shape, np.inf)
    for points, scores in c.views:
        z = np.zeros(v.shape)
        for value, sign in direction.items():
            group = people.placed & (v == value)
            z = np.where(group, sign * _confidence_z(scores, group), z)
        agree = c.cost(labels, points) <= AGREE_NATS
        score = np.minimum(score, np.where(people.placed & agree, tail_score(z), 0.0))
    scores = c.views[0][1]
    typical = {
        value: nanmedian(np.where(people.placed & (v == value), scores, np.nan), axis=0)
        for value in direction
    }
    said = {
        2: ("v=2 (visible)", "set v=1 if it is occluded"),
        1: ("v=1 (occluded)", "set v=2 if it can be seen"),
    }

    def describe(i: int, j: int) -> tuple[str, str]:
        value = int(v[i, j])
        return (
            f"{said[value][0]} but the model's confidence is {scores[i, j]:.2f} (typical for v={value}: "
            f"{typical[value][j]:.2f})",
            said[value][1],
        )

    return people.point_findings(score, min_score, "visibility", c.schema.names, describe)


def _confidence_z(scores: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Robust z of logit confidences within ``group``, per keypoint; 0 outside the group."""
    p = np.clip(scores, _LOGIT_CLIP, 1 - _LOGIT_CLIP)
    logit = np.where(group, np.log(p / (1 - p)), np.nan)
    return np.nan_to_num(robust_z(logit, MIN_LOGIT_SPREAD))


def _inside_box(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x, y, w, h = (boxes[:, i, None] for i in range(4))
    px, py = points[..., 0], points[..., 1]
    return (px >= x) & (px <= x + w) & (py >= y) & (py <= y + h)
