"""Known errors injected into a COCO keypoint dict, and how well an audit's findings recover them.

The benchmark's ground truth: :func:`inject_errors` damages a seeded random subset of people (each at
most once, so every damaged person carries exactly one known error) and :func:`score_findings` reports
precision and recall per kind. A finding counts as a hit when it names the damaged annotation (or, for a
duplicate, either copy) and its kind can reveal that error (:data:`DETECTED_BY`: a swapped pair also
makes long bones, a displaced joint long bones or a point outside the box).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from posekit.datasets.schema import KeypointSchema
from posekit.errors import ConfigError
from posekit.label_audit.findings import KINDS, Finding, sort_findings

#: Fraction of the eligible people damaged per kind (default of :func:`inject_errors`).
DEFAULT_RATES = {"swap": 0.05, "displaced": 0.05, "duplicate": 0.02, "visibility": 0.02, "missed": 0.02}
#: Finding kinds that reveal each injected kind.
DETECTED_BY = {
    "swap": ("swap", "bone_length"),
    "displaced": ("displaced", "bone_length", "outside_box"),
    "duplicate": ("duplicate",),
    "visibility": ("visibility", "missed"),  # a point set to v=0 where it is: the model finds it
    "missed": ("missed",),
}
#: Only people with at least this many labelled points are damaged.
MIN_LABELLED = 5
#: A swapped pair must lie at least this far apart (OKS sigma units), or swapping it changes nothing.
MIN_PAIR_DISTANCE = 1.0
#: Noise of a duplicate, as a fraction of annotator noise. Not all of it: on clean (synthetic) labels a
#: second annotator's full noise would itself read as an outlier to the bone-length check.
DUPLICATE_NOISE = 0.2
_TRIES = 20


@dataclass(frozen=True)
class InjectedError:
    """One injected error; ``other_id`` is the original of a duplicate (``annotation_id`` the copy)."""

    kind: str
    annotation_id: int
    image_id: int
    joint: str
    detail: str
    other_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def inject_errors(
    coco: dict[str, Any],
    schema: KeypointSchema,
    rates: Mapping[str, float] | None = None,
    seed: int = 0,
    min_shift: float = 4.0,
) -> tuple[dict[str, Any], list[InjectedError]]:
    """A damaged deep copy of ``coco`` and the list of errors put in (``coco`` is left as it is).

    ``rates``: fraction of the eligible people (not crowd, >= :data:`MIN_LABELLED` labelled points) per
    kind, default :data:`DEFAULT_RATES`. Kinds: ``swap`` (one left/right pair exchanged, both points
    labelled and >= 1 sigma unit apart), ``displaced`` (one point moved by ``min_shift`` to twice that in
    annotator standard deviations ``sigma_k * sqrt(area)``, in a random direction, kept in the image),
    ``duplicate`` (a near copy of the person as a new annotation, :data:`DUPLICATE_NOISE`), ``visibility``
    (a labelled point set to v=0 keeping its coordinates, or an unlabelled one set to v=2 at (0, 0)),
    ``missed`` (a visible point cleared to 0, 0, 0). The file stays valid for
    ``posekit.datasets.coco_keypoints.load_coco``.
    """
    rates = dict(DEFAULT_RATES if rates is None else rates)
    unknown = set(rates) - set(DETECTED_BY)
    if unknown:
        raise ConfigError(f"unknown error kind(s) {sorted(unknown)}; choose from {list(DETECTED_BY)}")
    out = copy.deepcopy(coco)
    rng = np.random.default_rng(seed)
    sizes = {im["id"]: (im["width"], im["height"]) for im in out["images"]}
    k = schema.num_keypoints
    eligible = [
        a
        for a in out["annotations"]
        if not a.get("iscrowd") and _labelled(a, k).sum() >= MIN_LABELLED and a["image_id"] in sizes
    ]
    queue = [eligible[i] for i in rng.permutation(len(eligible))]
    next_id = max((a["id"] for a in out["annotations"]), default=0) + 1
    injected: list[InjectedError] = []
    for kind, rate in rates.items():
        wanted = round(rate * len(eligible))
        done = 0
        while done < wanted and queue:
            ann = queue.pop()
            if kind == "duplicate":
                twin = _duplicate(ann, schema, rng, sizes[ann["image_id"]], next_id)
                out["annotations"].append(twin)
                injected.append(InjectedError(kind, next_id, ann["image_id"], "", "copy", other_id=ann["id"]))
                next_id += 1
                done += 1
                continue
            error = _INJECT[kind](ann, schema, rng, sizes[ann["image_id"]], min_shift)
            if error is not None:
                joint, detail = error
                injected.append(InjectedError(kind, ann["id"], ann["image_id"], joint, detail))
                done += 1
    return out, injected


# ---------------------------------------------------------------------------------------------- the kinds
def _swap(ann: dict, schema: KeypointSchema, rng: np.random.Generator, size: Any, shift: float) -> Any:
    kps = _points(ann, schema.num_keypoints)
    scale = math.sqrt(_area(ann))
    labelled = _labelled(ann, schema.num_keypoints)
    pairs = [
        (a, b)
        for a, b in schema.flip_pairs
        if labelled[a]
        and labelled[b]
        and np.hypot(*(kps[a, :2] - kps[b, :2])) >= MIN_PAIR_DISTANCE * 2 * schema.sigmas[a] * scale
    ]
    if not pairs:
        return None
    a, b = pairs[rng.integers(len(pairs))]
    kps[[a, b]] = kps[[b, a]]
    _store(ann, kps)
    return f"{schema.names[a]}/{schema.names[b]}", "left/right exchanged"


def _displace(ann: dict, schema: KeypointSchema, rng: np.random.Generator, size: Any, shift: float) -> Any:
    kps = _points(ann, schema.num_keypoints)
    j = rng.choice(np.flatnonzero(_labelled(ann, schema.num_keypoints)))
    units = rng.uniform(shift, 2 * shift)
    distance = units * schema.sigmas[j] * math.sqrt(_area(ann))
    for _ in range(_TRIES):
        angle = rng.uniform(0, 2 * math.pi)
        x, y = kps[j, 0] + distance * math.cos(angle), kps[j, 1] + distance * math.sin(angle)
        if 0 < x < size[0] - 1 and 0 < y < size[1] - 1:
            kps[j, :2] = x, y
            _store(ann, kps)
            return schema.names[j], f"moved {distance:.1f} px ({units:.1f} sigma)"
    return None


def _visibility(ann: dict, schema: KeypointSchema, rng: np.random.Generator, size: Any, shift: float) -> Any:
    kps = _points(ann, schema.num_keypoints)
    labelled = _labelled(ann, schema.num_keypoints)
    if rng.random() < 0.5 or labelled.all():
        j = rng.choice(np.flatnonzero(labelled))
        kps[j, 2] = 0
        detail = "v set to 0, coordinates kept"
    else:
        j = rng.choice(np.flatnonzero(~labelled))
        kps[j] = 0, 0, 2
        detail = "v set to 2 at (0, 0)"
    _store(ann, kps)
    return schema.names[j], detail


def _miss(ann: dict, schema: KeypointSchema, rng: np.random.Generator, size: Any, shift: float) -> Any:
    kps = _points(ann, schema.num_keypoints)
    visible = np.flatnonzero(_labelled(ann, schema.num_keypoints) & (kps[:, 2] == 2))
    if visible.size == 0:
        return None
    j = rng.choice(visible)
    kps[j] = 0
    _store(ann, kps)
    return schema.names[j], "visible point cleared to (0, 0, 0)"


_INJECT = {"swap": _swap, "displaced": _displace, "visibility": _visibility, "missed": _miss}


def _duplicate(ann: dict, schema: KeypointSchema, rng: np.random.Generator, size: Any, new_id: int) -> dict:
    """A near copy of the person (a re-import, or a copy with small edits): each labelled point moved by
    :data:`DUPLICATE_NOISE` of annotator noise (a point pushed out of the image stays where it was)."""
    kps = _points(ann, schema.num_keypoints)
    annotator = np.asarray(schema.sigmas) * math.sqrt(_area(ann) / 2)  # per coordinate: E|e|^2 = sigma^2 area
    std = DUPLICATE_NOISE * annotator
    moved = kps[:, :2] + rng.normal(size=(len(kps), 2)) * std[:, None]
    inside = (moved > 0).all(axis=1) & (moved[:, 0] < size[0] - 1) & (moved[:, 1] < size[1] - 1)
    change = _labelled(ann, schema.num_keypoints) & inside
    kps[change, :2] = moved[change]
    twin = copy.deepcopy(ann)
    twin["id"] = new_id
    _store(twin, kps)
    return twin


# ---------------------------------------------------------------------------------------------- helpers
def _points(ann: dict, k: int) -> np.ndarray:
    return np.asarray(ann["keypoints"], dtype=np.float64).reshape(k, 3).copy()


def _labelled(ann: dict, k: int) -> np.ndarray:
    kps = _points(ann, k)
    return (kps[:, 2] > 0) & ((kps[:, 0] != 0) | (kps[:, 1] != 0))


def _store(ann: dict, kps: np.ndarray) -> None:
    ann["keypoints"] = [round(float(v), 2) if i % 3 < 2 else int(v) for i, v in enumerate(kps.ravel())]
    ann["num_keypoints"] = int(np.count_nonzero(kps[:, 2] > 0))


def _area(ann: dict) -> float:
    area = ann.get("area") or 0
    return float(area) if area > 0 else float(ann["bbox"][2] * ann["bbox"][3])


# ---------------------------------------------------------------------------------------------- scoring
@dataclass(frozen=True)
class KindScore:
    """Recall of one injected kind and precision of the findings of that kind."""

    injected: int  # errors of this kind put in
    found: int  # of them, named by a finding of a kind in DETECTED_BY
    flagged: int  # findings of this kind
    correct: int  # of them, naming an injected error they can reveal

    @property
    def recall(self) -> float:
        return self.found / self.injected if self.injected else math.nan

    @property
    def precision(self) -> float:
        return self.correct / self.flagged if self.flagged else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "recall": self.recall, "precision": self.precision}


def score_findings(
    findings: Iterable[Finding], injected: Iterable[InjectedError], top: int | None = None
) -> dict[str, KindScore]:
    """Precision and recall per kind among the ``top`` highest-scoring findings (all when None)."""
    findings = sort_findings(findings)[:top]
    injected = list(injected)
    errors_of: dict[int, list[InjectedError]] = {}
    for e in injected:
        for ann_id in (e.annotation_id, e.other_id):
            if ann_id is not None:
                errors_of.setdefault(ann_id, []).append(e)

    def reveals(f: Finding, e: InjectedError) -> bool:
        return f.kind in DETECTED_BY[e.kind]

    found = {id(e) for f in findings for e in errors_of.get(f.annotation_id, []) if reveals(f, e)}
    kinds = [k for k in KINDS if k in DETECTED_BY or any(f.kind == k for f in findings)]
    scores = {}
    for kind in kinds:
        of_kind = [f for f in findings if f.kind == kind]
        correct = sum(any(reveals(f, e) for e in errors_of.get(f.annotation_id, [])) for f in of_kind)
        errors = [e for e in injected if e.kind == kind]
        scores[kind] = KindScore(len(errors), sum(id(e) in found for e in errors), len(of_kind), correct)
    return scores
