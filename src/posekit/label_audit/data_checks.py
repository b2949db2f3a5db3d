"""Checks that need no model: each looks at the labels alone and returns :class:`Finding` records.

- **visibility**: v=0 with coordinates, v>0 at COCO's (0, 0) placeholder (certain defects).
- **duplicate**: two annotations of one person in an image: the log likelihood ratio of "one person
  labelled twice" (two labels of a joint differ by annotator noise, per-coordinate variance
  ``sigma_k^2 s^2``) against "two people" (the other label anywhere in the union of the two boxes).
- **swap**: a left/right pair whose exchange leaves none of the person's bones too long (the best such
  pair per person, scored by the bone-length likelihood ratio; see :func:`swap_findings`).
- **bone_length**: a skeleton bone far longer than usual for the person's size. Each person's size is
  fitted from its own skeleton: ``log length[p, b] = size[p] + typical[b] + residual`` by median polish
  (Tukey). Not the box (truncated and occluded people have small boxes around normal-sized limbs, and the
  box is itself under test) nor a torso length (schema-specific, foreshortened when bending). The robust
  z of the residual within each bone flags the long tail only: 2-D projection makes any bone legitimately
  short (foreshortening), but never much longer.
- **box_size**: the box much larger or smaller than the fitted skeleton size suggests (robust z, two-sided).
- **outside_box**: a labelled point beyond the box grown by :data:`OUTSIDE_MARGIN` of its size, scored by
  how unlikely annotator noise alone (:data:`~posekit.label_audit.people.ANNOTATOR_VARIANCE`) puts it that
  far.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from posekit.datasets.schema import KeypointSchema
from posekit.label_audit.findings import SCORE_MAX, Finding, nats_score, sort_findings, tail_score
from posekit.label_audit.people import ANNOTATOR_VARIANCE, People, nanmedian, robust_scale, sigma_units
from posekit.metrics.oks import oks
from posekit.settings import MIN_SCORE

#: The kinds these checks report.
DATA_KINDS = ("visibility", "num_keypoints", "duplicate", "swap", "bone_length", "box_size", "outside_box")
#: A person's size is fitted only from at least this many measured bones.
MIN_BONES = 4
#: Median-polish sweeps (converged to < 1e-3 in log length after three on COCO-like skeletons).
POLISH_SWEEPS = 5
#: Smallest spread assumed for log lengths (10 %): body proportions and annotator noise make bones vary at
#: least this much between people of one size (synthetic or copied skeletons can show none).
MIN_LOG_SPREAD = 0.1
#: A box drawn around the visible pixels may cut a labelled hand or an occluded joint: points within this
#: fraction of the box's width (height) beyond its sides are not reported.
OUTSIDE_MARGIN = 0.1


def data_findings(people: People, schema: KeypointSchema, min_score: float = MIN_SCORE) -> list[Finding]:
    """All data-only checks on ``people``, highest score first."""
    fit = SkeletonFit.of(people, schema)
    swaps, explained = swap_findings(people, schema, fit, min_score)
    return sort_findings(
        [
            *visibility_findings(people, schema),
            *duplicate_findings(people, schema, min_score),
            *swaps,
            *bone_findings(people, schema, fit, min_score, skip=explained),
            *box_size_findings(people, fit, min_score),
            *outside_box_findings(people, schema, min_score),
        ]
    )


# ---------------------------------------------------------------------------------------------- visibility
def visibility_findings(people: People, schema: KeypointSchema) -> list[Finding]:
    """v=0 with coordinates and v>0 at (0, 0): each point a finding with score SCORE_MAX."""
    k = people.keypoints
    at_origin = (k[..., 0] == 0) & (k[..., 1] == 0)
    placed_unlabelled = np.where((k[..., 2] == 0) & ~at_origin, SCORE_MAX, 0.0)
    labelled_at_origin = np.where((k[..., 2] > 0) & at_origin, SCORE_MAX, 0.0)
    return [
        *people.point_findings(
            placed_unlabelled, SCORE_MAX, "visibility", schema.names,
            lambda i, j: (
                f"v=0 (unlabelled) but placed at ({k[i, j, 0]:g}, {k[i, j, 1]:g})",
                "set v=2 (v=1 when occluded) if the point is right; otherwise set x = y = 0",
            ),
        ),
        *people.point_findings(
            labelled_at_origin, SCORE_MAX, "visibility", schema.names,
            lambda i, j: (
                f"v={k[i, j, 2]:g} (labelled) but at (0, 0), COCO's placeholder for unlabelled points",
                "place the point, or set v=0 if it cannot be seen",
            ),
        ),
    ]  # fmt: skip


def count_findings(people: People, stated: dict[int, Any]) -> list[Finding]:
    """People whose ``num_keypoints`` (``stated``, by annotation id, as written) differs from their count of
    labelled points (v > 0): each a finding with score SCORE_MAX (the loader uses the count of labels)."""
    labelled = np.count_nonzero(people.keypoints[..., 2] > 0, axis=1)
    found = []
    for i, count in enumerate(labelled.tolist()):
        value = stated.get(int(people.annotation_ids[i]))
        if value is not None and value != count:
            found.append(
                people.finding(
                    i,
                    "",
                    "num_keypoints",
                    SCORE_MAX,
                    f"num_keypoints is {value!r} but {count} points are labelled (v > 0)",
                    f"set num_keypoints to {count}",
                )
            )
    return found


# ---------------------------------------------------------------------------------------------- duplicates
def duplicate_findings(people: People, schema: KeypointSchema, min_score: float = MIN_SCORE) -> list[Finding]:
    """Pairs of annotations in one image that label the same person (reported on the later one)."""
    sigmas = schema.sigmas_array
    placed, xy = people.placed, people.keypoints[..., :2]
    i, j = _pairs_in_images(people.image_ids)
    common = placed[i] & placed[j]  # (M, K)
    s2 = (people.areas[i] + people.areas[j])[:, None] / 2
    var = sigmas[None] ** 2 * s2  # per-coordinate variance between two annotators' labels
    d2 = np.sum((xy[i] - xy[j]) ** 2, axis=-1)
    region = _union_box_area(people.boxes[i], people.boxes[j])[:, None]
    nats = np.sum(np.where(common, np.log(region / (2 * math.pi * var)) - d2 / (2 * var), 0.0), axis=1)
    score = nats_score(nats)
    out = []
    for m in np.flatnonzero(score >= min_score):
        early, later = sorted((i[m], j[m]), key=lambda row: people.annotation_ids[row])
        similarity = float(oks(xy[i[m]], xy[j[m]], s2[m, 0], sigmas, visible=common[m]))
        other = int(people.annotation_ids[early])
        out.append(
            people.finding(
                later, "", "duplicate", score[m],
                f"same person as annotation {other}: OKS {similarity:.2f} over {int(common[m].sum())} "
                "joints labelled in both",
                f"delete annotation {int(people.annotation_ids[later])} or {other}",
            )
        )  # fmt: skip
    return out


def _pairs_in_images(image_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (i, j), i < j in file order, of every two people in the same image."""
    order = np.argsort(image_ids, kind="stable")
    _, starts, counts = np.unique(image_ids[order], return_index=True, return_counts=True)
    firsts, seconds = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    triangles: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for start, count in zip(starts[counts > 1].tolist(), counts[counts > 1].tolist(), strict=True):
        if count not in triangles:
            triangles[count] = np.triu_indices(count, k=1)
        a, b = triangles[count]
        firsts.append(order[start + a])
        seconds.append(order[start + b])
    return np.concatenate(firsts), np.concatenate(seconds)


def _union_box_area(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Area of the box enclosing both boxes, for (M, 4) xywh boxes ``a`` and ``b``."""
    low = np.minimum(a[:, :2], b[:, :2])
    high = np.maximum(a[:, :2] + a[:, 2:], b[:, :2] + b[:, 2:])
    return np.prod(high - low, axis=1)


# ---------------------------------------------------------------------------------------------- skeleton
class SkeletonFit:
    """Median polish of log bone lengths, ``log L[p, b] = size[p] + typical[b] + residual[p, b]``, and the
    robust z of each residual within its bone."""

    def __init__(self, bones: np.ndarray, log_length: np.ndarray) -> None:
        self.bones = bones  # (B, 2) keypoint indices
        measured = ~np.isnan(log_length)
        rows = measured.sum(axis=1) >= MIN_BONES
        table = np.where(rows[:, None], log_length, np.nan)
        size, typical = np.zeros(len(table)), np.zeros(bones.shape[0])
        for _ in range(POLISH_SWEEPS):
            typical = nanmedian(table - size[:, None], axis=0)
            size = nanmedian(table - typical[None], axis=1)
        self.size = np.where(rows, size, np.nan)  # (N,) log of the person's skeleton size
        self.typical = typical  # (B,)
        self.residual = table - size[:, None] - typical[None]  # (N, B), NaN where not measured
        self.center, self.spread = robust_scale(self.residual, MIN_LOG_SPREAD)
        self.z = (log_length - self.size[:, None] - typical[None] - self.center) / self.spread

    def z_of(self, rows: np.ndarray, xy: np.ndarray, placed: np.ndarray) -> np.ndarray:
        """Robust z of the bone lengths of people ``rows`` with their points at ``xy`` (R, K, 2)."""
        log_length = log_lengths(xy, placed, self.bones)
        return (log_length - self.size[rows, None] - self.typical[None] - self.center) / self.spread

    @classmethod
    def of(cls, people: People, schema: KeypointSchema) -> SkeletonFit:
        bones = np.asarray(schema.skeleton, dtype=np.int64).reshape(-1, 2)
        return cls(bones, log_lengths(people.keypoints[..., :2], people.placed, bones))


def log_lengths(xy: np.ndarray, placed: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """(N, B) log lengths of the bones (B, 2) whose ends are both placed (N, K); NaN elsewhere."""
    length = np.linalg.norm(xy[:, bones[:, 0]] - xy[:, bones[:, 1]], axis=-1)
    measured = placed[:, bones[:, 0]] & placed[:, bones[:, 1]] & (length > 0)
    with np.errstate(divide="ignore"):
        return np.where(measured, np.log(length), np.nan)


def swap_findings(
    people: People, schema: KeypointSchema, fit: SkeletonFit, min_score: float = MIN_SCORE
) -> tuple[list[Finding], np.ndarray]:
    """Left/right pairs whose exchange leaves none of the person's bones too long; and the (N, B) mask of
    the bones they explain. The score is the log likelihood ratio of the person's bone lengths, exchanged
    against as labelled, under the robust normal model of :class:`SkeletonFit`, counting only lengths
    beyond the usual (short is never evidence: foreshortening).
    A person labelled mirrored throughout has a consistent skeleton: only a model can tell."""
    names = schema.names
    pairs = np.asarray(schema.flip_pairs, dtype=np.int64).reshape(-1, 2)
    explained = np.zeros(fit.z.shape, dtype=bool)
    if not len(pairs):
        return [], explained
    long = np.maximum(np.nan_to_num(fit.z), 0) ** 2
    rows = np.flatnonzero(nats_score(long.sum(axis=1) / 2) >= min_score)  # the gain can reach the score
    labelled, placed = long[rows], people.placed[rows]
    gain = np.full((len(rows), len(pairs)), -np.inf)  # nats, where the exchange leaves all bones normal
    for p, (a, b) in enumerate(pairs):
        xy = people.keypoints[rows, :, :2].copy()
        xy[:, [a, b]] = xy[:, [b, a]]
        exchanged = np.nan_to_num(fit.z_of(rows, xy, placed))
        normal = (tail_score(exchanged) < min_score).all(axis=1)  # every bone, not only the pair's
        valid = placed[:, a] & placed[:, b] & normal
        gain[valid, p] = np.sum(labelled - np.maximum(exchanged, 0) ** 2, axis=1)[valid] / 2
    best = np.argmax(gain, axis=1)
    score = nats_score(gain[np.arange(len(rows)), best])
    out = []
    for r in np.flatnonzero(score >= min_score):
        i = rows[r]
        explained[i] = True  # once exchanged, none of the person's bones is too long
        a, b = (names[j] for j in pairs[best[r]])
        longest = float(np.nanmax(fit.residual[i] - fit.center))
        out.append(
            people.finding(
                i, f"{a}/{b}", "swap", score[r],
                f"bones up to {np.exp(longest):.1f}x their usual length, all normal once {a} and {b} are "
                "exchanged",
                f"exchange {a} and {b}",
            )
        )  # fmt: skip
    return out, explained


def bone_findings(
    people: People,
    schema: KeypointSchema,
    fit: SkeletonFit | None = None,
    min_score: float = MIN_SCORE,
    skip: np.ndarray | None = None,
) -> list[Finding]:
    """Bones far longer than usual for the person's size (bones in ``skip`` (N, B) left out). Two long
    bones meeting at a joint become one finding on that joint (it is probably misplaced); a single long
    bone names both ends."""
    fit = fit or SkeletonFit.of(people, schema)
    z = fit.z
    keep = True if skip is None else ~skip
    score = np.where((z > 0) & keep, tail_score(np.nan_to_num(z)), 0.0)
    ratio = np.exp(fit.residual - fit.center)  # length / usual length at this size
    names = schema.names
    out = []
    for i in np.flatnonzero((score >= min_score).any(axis=1)):
        flagged = set(np.flatnonzero(score[i] >= min_score).tolist())
        ends: dict[int, list[int]] = defaultdict(list)
        for b in flagged:
            for joint in fit.bones[b]:
                ends[int(joint)].append(b)
        for joint, bones in sorted(ends.items(), key=lambda item: -len(item[1])):
            if len(bones) < 2 or not flagged.issuperset(bones):
                continue
            flagged -= set(bones)
            parts = ", ".join(
                f"{_bone_name(names, fit.bones[b])} {ratio[i, b]:.1f}x (z {z[i, b]:.1f})" for b in bones
            )
            out.append(
                people.finding(
                    i,
                    names[joint],
                    "bone_length",
                    float(score[i, bones].max()),
                    f"all bones at {names[joint]} are too long for this person: {parts}",
                    f"check {names[joint]}: it is probably misplaced",
                )
            )
        for b in sorted(flagged):
            bone = _bone_name(names, fit.bones[b])
            out.append(
                people.finding(
                    i,
                    bone,
                    "bone_length",
                    float(score[i, b]),
                    f"bone {bone} is {ratio[i, b]:.1f}x its usual length for this person's size "
                    f"(z {z[i, b]:.1f})",
                    "check both ends: one is misplaced, or two sides are swapped",
                )
            )
    return out


def box_size_findings(people: People, fit: SkeletonFit, min_score: float = MIN_SCORE) -> list[Finding]:
    """Boxes much larger or smaller than the size the person's skeleton suggests."""
    box = 0.5 * np.log(np.maximum(people.boxes[:, 2] * people.boxes[:, 3], np.finfo(np.float64).tiny))
    excess = (box - fit.size)[:, None]  # NaN for people without a fitted size
    (typical,), (spread,) = robust_scale(excess, MIN_LOG_SPREAD)
    z = (excess[:, 0] - typical) / spread
    score = tail_score(np.abs(np.nan_to_num(z)))
    out = []
    for i in np.flatnonzero(score >= min_score):
        factor = math.exp(excess[i, 0] - typical)
        size = f"{factor:.1f}x larger" if factor >= 1 else f"{1 / factor:.1f}x smaller"
        out.append(
            people.finding(
                i,
                "",
                "box_size",
                float(score[i]),
                f"box is {size} than its skeleton suggests (z {z[i]:.1f})",
                "redraw the box around the person (or check that the keypoints belong to it)",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------- outside box
def outside_box_findings(
    people: People, schema: KeypointSchema, min_score: float = MIN_SCORE
) -> list[Finding]:
    """Labelled points beyond the box grown by :data:`OUTSIDE_MARGIN` of its size."""
    x, y, w, h = (people.boxes[:, i, None] for i in range(4))
    px, py = people.keypoints[..., 0], people.keypoints[..., 1]
    mx, my = OUTSIDE_MARGIN * w, OUTSIDE_MARGIN * h
    dx = np.maximum(0, np.maximum(x - mx - px, px - (x + w + mx)))
    dy = np.maximum(0, np.maximum(y - my - py, py - (y + h + my)))
    zero = np.zeros_like(people.keypoints[..., :2])
    u = sigma_units(np.stack([dx, dy], axis=-1), zero, schema.sigmas_array, people.scale)
    score = np.where(people.placed, nats_score(u**2 / (2 * ANNOTATOR_VARIANCE)), 0.0)
    return people.point_findings(
        score, min_score, "outside_box", schema.names,
        lambda i, j: (
            f"{np.hypot(dx[i, j], dy[i, j]):.0f} px outside the box grown by {OUTSIDE_MARGIN:.0%} "
            f"({u[i, j]:.1f} sigma units)",
            "move the point onto the person, or enlarge the box to include it",
        ),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------- helpers


def _bone_name(names: list[str], bone: np.ndarray) -> str:
    return f"{names[bone[0]]}-{names[bone[1]]}"
