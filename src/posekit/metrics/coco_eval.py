"""COCO keypoint evaluation (OKS AP/AR) with faster-coco-eval, checked against pycocotools.

faster-coco-eval runs pycocotools' algorithm in C++ (same matching, same interpolation), so the ten
stats equal pycocotools' to ~1e-15 while being faster (``benchmarks/eval.py``).
This module adds what the library leaves to the caller: validation of the inputs with clear
errors, any keypoint count (the sigmas are passed as ``kpt_oks_sigmas``), and the precision-recall
curves the report plots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from faster_coco_eval import COCO, COCOeval_faster

from posekit.errors import PosekitError

#: The ten COCO keypoint stats, in pycocotools' ``stats`` order.
COCO_STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
#: pycocotools' COCO-17 sigmas (``Params.setKpParams``), used when none are given for 17 keypoints.
COCO17_SIGMAS = (
    np.array(
        [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]
    )
    / 10
)
#: COCO keypoint evaluation keeps the 20 highest-scoring predictions per image.
MAX_DETECTIONS = 20
#: Object area (the OKS scale) of an annotation without ``area``: 0.53 x box area, the convention of
#: mmpose and faster-coco-eval (``use_area=False``) for PoseTrack and CrowdPose, whose files have none.
BOX_AREA_FACTOR = 0.53


@dataclass
class GroundTruthArrays:
    """The annotations of a COCO GT dict as arrays (one row per annotation, file order)."""

    ids: np.ndarray  # (A,) annotation ids
    image_ids: np.ndarray  # (A,)
    category_ids: np.ndarray  # (A,)
    keypoints: np.ndarray  # (A, K, 3)
    boxes: np.ndarray  # (A, 4) xywh
    areas: np.ndarray  # (A,)
    iscrowd: np.ndarray  # (A,) bool
    head_boxes: np.ndarray  # (A, 4) xywh ``bbox_head`` (PoseTrack, MPII), NaN where absent

    @property
    def evaluated(self) -> np.ndarray:
        """Mask of the people COCO scores: not crowd and at least one labelled keypoint."""
        return ~self.iscrowd & (self.keypoints[..., 2] > 0).any(axis=1)


@dataclass
class ResultArrays:
    """Validated COCO keypoint results as arrays (one row per result, input order)."""

    image_ids: np.ndarray  # (D,)
    category_ids: np.ndarray  # (D,)
    keypoints: np.ndarray  # (D, K, 3): x, y, score
    scores: np.ndarray  # (D,)


@dataclass
class CocoKeypointEval:
    """Output of :func:`evaluate_coco_keypoints`."""

    stats: dict[str, float]  # the ten COCO stats (fractions; -1 where COCO has nothing to average)
    oks_thresholds: np.ndarray  # (10,) 0.50 ... 0.95
    recall_thresholds: np.ndarray  # (101,) 0.00 ... 1.00
    precision: np.ndarray  # (10, 101) interpolated precision, area "all", 20 detections per image
    sigmas: np.ndarray  # (K,) the OKS sigmas used
    num_results: int
    num_people: int  # non-crowd annotations with at least one labelled keypoint
    notes: list[str]  # what a reader must know to interpret the stats (empty results, areas filled in)

    def precision_at(self, oks_threshold: float) -> np.ndarray:
        """The (101,) precision-recall curve at one OKS threshold (0.5, 0.55, ..., 0.95)."""
        index = np.flatnonzero(np.isclose(self.oks_thresholds, oks_threshold))
        if index.size == 0:
            raise PosekitError(
                f"OKS threshold {oks_threshold} is not evaluated; "
                f"choose one of {self.oks_thresholds.round(2).tolist()}"
            )
        return self.precision[index[0]]


def resolve_sigmas(sigmas: Sequence[float] | np.ndarray | None, num_keypoints: int) -> np.ndarray:
    """OKS sigmas as a float array of length ``num_keypoints``; COCO's when None and K == 17."""
    if sigmas is None:
        if num_keypoints == 17:
            return COCO17_SIGMAS.copy()
        raise PosekitError(
            f"no OKS sigmas given for {num_keypoints} keypoints; pass the schema's sigmas "
            "(or --sigmas FILE.json / a comma list)"
        )
    out = np.asarray(sigmas, dtype=np.float64).ravel()
    if out.size != num_keypoints or not np.all(np.isfinite(out) & (out > 0)):
        raise PosekitError(
            f"OKS sigmas must be {num_keypoints} positive numbers (one per keypoint), got {out.size}: "
            f"{out.tolist()[:8]}{' ...' if out.size > 8 else ''}"
        )
    return out


def num_keypoints_of(gt: dict[str, Any]) -> int:
    """Keypoint count of a COCO GT dict: from the first category's names, else the first annotation."""
    for category in gt.get("categories") or []:
        if category.get("keypoints"):
            return len(category["keypoints"])
    for ann in gt.get("annotations") or []:
        if ann.get("keypoints"):
            return len(ann["keypoints"]) // 3
    raise PosekitError(
        "the ground truth has no keypoint category and no annotated keypoints; nothing to evaluate"
    )


def annotation_area(ann: dict[str, Any]) -> float:
    """The annotation's ``area``, or :data:`BOX_AREA_FACTOR` x its box area when the file gives none."""
    if "area" in ann:
        return float(ann["area"])
    bbox = ann.get("bbox") or [0, 0, 0, 0]
    return BOX_AREA_FACTOR * float(bbox[2]) * float(bbox[3])


def ground_truth_arrays(gt: dict[str, Any], num_keypoints: int) -> GroundTruthArrays:
    """Annotations as arrays; a keypoints list of the wrong length raises naming the annotation id."""
    anns = gt.get("annotations") or []
    size = 3 * num_keypoints
    for ann in anns:
        if len(ann.get("keypoints") or []) != size:
            raise PosekitError(
                f"ground-truth annotation id {ann.get('id')} (image {ann.get('image_id')}) has "
                f"{len(ann.get('keypoints') or [])} keypoint values, expected {size} (x, y, v for "
                f"{num_keypoints} keypoints); fix the annotation file or the keypoint schema/sigmas"
            )
        if len(ann.get("bbox") or []) != 4:
            raise PosekitError(
                f"ground-truth annotation id {ann.get('id')} (image {ann.get('image_id')}) has no 'bbox' "
                "[x, y, w, h]; COCO keypoint evaluation needs one for every person (run `posekit check`)"
            )
    return GroundTruthArrays(
        ids=np.array([a["id"] for a in anns], dtype=np.int64),
        image_ids=np.array([a["image_id"] for a in anns], dtype=np.int64),
        category_ids=np.array([a.get("category_id", 1) for a in anns], dtype=np.int64),
        keypoints=np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(
            len(anns), num_keypoints, 3
        ),
        boxes=np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(len(anns), 4),
        areas=np.array([annotation_area(a) for a in anns], dtype=np.float64),
        iscrowd=np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool),
        head_boxes=np.array([a.get("bbox_head") or [np.nan] * 4 for a in anns], dtype=np.float64).reshape(
            len(anns), 4
        ),
    )


def result_arrays(gt: dict[str, Any], results: Sequence[dict[str, Any]], num_keypoints: int) -> ResultArrays:
    """Validate COCO keypoint results against ``gt``; raises :class:`PosekitError` naming the bad result.

    A missing ``category_id`` is read as the ground truth's category when it has exactly one.
    """
    if not isinstance(results, Sequence) or isinstance(results, (str, bytes)):
        raise PosekitError(
            f"keypoint results must be a list of dicts (COCO results format), got {type(results).__name__}"
        )
    required = ("image_id", "keypoints", "score")
    for i, r in enumerate(results):
        if not isinstance(r, dict) or not all(k in r for k in required):
            raise PosekitError(
                f"keypoint result {i} is not a dict with {list(required)}; each result needs image_id, "
                "category_id, keypoints [x, y, score]*K and score"
            )
    rows = _keypoint_rows(results, num_keypoints)
    category_ids = [int(c["id"]) for c in gt.get("categories") or []]
    default_category = category_ids[0] if len(category_ids) == 1 else None
    cats = [r.get("category_id", default_category) for r in results]
    if None in cats:
        raise PosekitError(
            f"keypoint result {cats.index(None)} has no category_id and the ground truth has "
            f"{len(category_ids)} categories; add category_id to every result"
        )
    img = np.array([r["image_id"] for r in results], dtype=np.int64)
    cat = np.array(cats, dtype=np.int64)
    scores = np.array([r["score"] for r in results], dtype=np.float64)
    known = np.isin(img, np.array([int(im["id"]) for im in gt.get("images") or []], dtype=np.int64))
    unknown: dict[int, int] = {}  # image id -> first result index
    for i in np.flatnonzero(~known).tolist():
        unknown.setdefault(int(img[i]), i)
    if unknown:
        shown = list(unknown.items())[:10]
        raise PosekitError(
            f"{len(unknown)} image id(s) in the keypoint results are not in the ground truth: "
            + ", ".join(f"{k} (result {v})" for k, v in shown)
            + (" ..." if len(unknown) > 10 else "")
            + "; evaluate against the annotation file the predictions were made for"
        )
    bad_cat = sorted(set(cat.tolist()) - set(category_ids))
    if bad_cat:
        raise PosekitError(
            f"keypoint results use category id(s) {bad_cat} that the ground truth lacks "
            f"(it has {category_ids}); fix category_id in the results"
        )
    bad = np.flatnonzero(~(np.isfinite(rows).all(axis=1) & np.isfinite(scores)))
    if bad.size:
        raise PosekitError(
            f"keypoint result(s) {bad[:10].tolist()} contain NaN or infinite keypoints/scores; "
            "drop or fix them before evaluating"
        )
    return ResultArrays(img, cat, rows.reshape(len(results), num_keypoints, 3), scores)


def _keypoint_rows(results: Sequence[dict[str, Any]], num_keypoints: int) -> np.ndarray:
    """(D, 3K) keypoint values; the first result of another length or with non-numbers is named."""
    size = 3 * num_keypoints
    if not results:
        return np.empty((0, size))
    try:
        rows = np.array([r["keypoints"] for r in results], dtype=np.float64).reshape(len(results), -1)
        if rows.shape[1] == size:
            return rows
    except (TypeError, ValueError):  # ragged or not numbers: find the culprit below
        pass
    for i, r in enumerate(results):
        try:
            n = np.asarray(r["keypoints"], dtype=np.float64).size
        except (TypeError, ValueError):
            raise PosekitError(f"keypoint result {i} has keypoints that are not numbers") from None
        if n != size:
            raise PosekitError(
                f"keypoint result {i} (image_id {r['image_id']}) has {n} keypoint values, expected {size} "
                f"(x, y, score for {num_keypoints} keypoints); were the predictions made with another schema?"
            )
    raise PosekitError("keypoint results have inconsistent keypoint arrays")


def coco_gt_dict(gt: dict[str, Any]) -> dict[str, Any]:
    """A fresh GT dict for COCOeval (which mutates its input), with ``num_keypoints`` filled in if missing."""
    anns = []
    for ann in gt.get("annotations") or []:
        ann = dict(ann, iscrowd=int(ann.get("iscrowd", 0)))
        ann["area"] = annotation_area(ann)
        if "num_keypoints" not in ann:
            ann["num_keypoints"] = int(np.count_nonzero(np.asarray(ann["keypoints"])[2::3] > 0))
        anns.append(ann)
    return {
        "images": [dict(img) for img in gt.get("images") or []],
        "annotations": anns,
        "categories": [dict(c) for c in gt.get("categories") or []],
    }


def coco_objects(
    gt: dict[str, Any], results: Sequence[dict[str, Any]], arrays: ResultArrays
) -> tuple[COCO, COCO]:
    """faster-coco-eval ``COCO`` objects of the ground truth and of the (validated) results.

    Both are built from fresh dicts because ``COCO``/``loadRes`` mutate theirs; a result's own
    ``bbox`` is kept (pycocotools then takes the prediction's area from it).
    """
    prepared = []
    columns = zip(
        results,
        arrays.image_ids.tolist(),
        arrays.category_ids.tolist(),
        arrays.keypoints.reshape(len(results), 3 * arrays.keypoints.shape[1]).tolist(),
        arrays.scores.tolist(),
        strict=True,
    )
    for r, image_id, category_id, keypoints, score in columns:
        item = {"image_id": image_id, "category_id": category_id, "keypoints": keypoints, "score": score}
        if r.get("bbox"):
            item["bbox"] = list(r["bbox"])
        prepared.append(item)
    coco_gt = COCO(coco_gt_dict(gt), print_function=_quiet)
    return coco_gt, coco_gt.loadRes(prepared)


def accumulated_cocoeval(
    coco_gt: COCO,
    coco_dt: COCO,
    sigmas: np.ndarray,
    evaluator: type[COCOeval_faster] = COCOeval_faster,
    *,
    oks_thresholds: Sequence[float] | None = None,
    area_ranges: Mapping[str, Sequence[float]] | None = None,
    **options: Any,
) -> COCOeval_faster:
    """A keypoint COCOeval with the given OKS sigmas, evaluated and accumulated (not summarised).

    ``oks_thresholds`` replace COCO's 0.50:0.95 and ``area_ranges`` (label -> [min, max] area) COCO's
    all/medium/large; ``evaluator`` may be a subclass taking extra keyword ``options``.
    """
    run = evaluator(
        coco_gt,
        coco_dt,
        iouType="keypoints",
        kpt_oks_sigmas=sigmas.tolist(),
        print_function=_quiet,
        **options,
    )
    if oks_thresholds is not None:
        run.params.iouThrs = np.asarray(oks_thresholds, dtype=np.float64)
    if area_ranges is not None:
        run.params.areaRng = [list(r) for r in area_ranges.values()]
        run.params.areaRngLbl = list(area_ranges)
    run.evaluate()
    run.accumulate()
    return run


def run_cocoeval(
    coco_gt: COCO,
    coco_dt: COCO,
    sigmas: np.ndarray,
    evaluator: type[COCOeval_faster] = COCOeval_faster,
    **options: Any,
) -> COCOeval_faster:
    """Run a keypoint COCOeval (evaluate, accumulate, summarize) with the given OKS sigmas.

    ``evaluator`` may be a subclass taking extra keyword ``options``.
    """
    run = accumulated_cocoeval(coco_gt, coco_dt, sigmas, evaluator, **options)
    run.summarize()
    return run


class CachedOksEval(COCOeval_faster):
    """COCOeval that computes each image's OKS matrix once for several runs on the same ``COCO``
    objects (``cache``: a dict shared by the runs), for runs that differ only in area ranges or in
    which people are ignored: neither changes the OKS."""

    def __init__(self, *args: Any, cache: dict, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache = cache

    def computeOks(self, imgId: int, catId: int) -> np.ndarray | list:  # noqa: N802 (COCOeval's name)
        if (imgId, catId) not in self.cache:
            self.cache[imgId, catId] = super().computeOks(imgId, catId)
        return self.cache[imgId, catId]


def average_precision(run: COCOeval_faster, area_index: int = 0) -> float:
    """AP over the run's OKS thresholds for one of its area ranges, as COCO's ``summarize`` averages it
    (mean interpolated precision where defined, most detections); -1 where nothing is defined."""
    precision = np.asarray(run.eval["precision"])[:, :, :, area_index, -1]
    defined = precision[precision > -1]
    return float(defined.mean()) if defined.size else -1.0


def coco_matches(
    gt: dict[str, Any], results: Sequence[dict[str, Any]], sigmas: np.ndarray, oks_threshold: float
) -> np.ndarray:
    """(D,) for each result, the row (file order) of the ground-truth annotation that COCO's own matching
    pairs it with at one OKS threshold (score order, 20 per image, area range 'all'), -1 where none.
    A result can be paired with an ignored annotation (crowd, no labelled keypoint) as in COCO."""
    matched = np.full(len(results), -1, dtype=np.int64)
    if not len(results):
        return matched
    arrays = result_arrays(gt, results, len(sigmas))
    run = accumulated_cocoeval(
        *coco_objects(gt, results, arrays),
        sigmas,
        oks_thresholds=[oks_threshold],
        area_ranges={"all": (0.0, 1e5**2)},  # one range: the library lists the matches of every range
        extra_calc=True,
    )
    rows = {int(a["id"]): i for i, a in enumerate(gt.get("annotations") or [])}
    for pair in run.eval["matched"]:
        dt_id, gt_id = pair.split("_", 1)
        matched[int(dt_id) - 1] = rows[int(gt_id)]  # loadRes numbers the results 1..D in order
    return matched


def evaluate_coco_keypoints(
    gt: dict[str, Any], results: Sequence[dict[str, Any]], sigmas: Sequence[float] | np.ndarray | None = None
) -> CocoKeypointEval:
    """COCO OKS AP/AR of keypoint ``results`` against a GT dict (e.g. ``KeypointAnnotations.to_coco_dict()``).

    Every image of ``gt`` is evaluated (an image without predictions counts its people as missed).
    Empty ``results`` give zeros with a note (``notes``) instead of failing as pycocotools does.
    """
    k = len(sigmas) if sigmas is not None else num_keypoints_of(gt)
    sigmas = resolve_sigmas(sigmas, k)
    gt_arrays = ground_truth_arrays(gt, k)
    arrays = result_arrays(gt, results, k)
    evaluator = run_cocoeval(*coco_objects(gt, results, arrays), sigmas)
    params = evaluator.params
    precision = np.asarray(evaluator.eval["precision"])[:, :, :, 0, -1]  # (T, R, categories)
    # average over categories where defined (COCO keypoints normally have one category)
    defined = precision > -1
    precision = np.where(
        defined.any(axis=2), (precision * defined).sum(axis=2) / np.maximum(defined.sum(axis=2), 1), -1
    )
    num_people = int(gt_arrays.evaluated.sum())
    notes = []
    if not len(results):
        notes.append("no predictions were given: every AP and AR is 0")
    if num_people == 0:
        notes.append("the ground truth has no person with a labelled keypoint: COCO reports -1 (undefined)")
    no_area = sum("area" not in a for a in gt.get("annotations") or [])
    if no_area:
        notes.append(
            f"{no_area} annotation(s) have no 'area': their OKS scale is {BOX_AREA_FACTOR} x the box area "
            "(mmpose's PoseTrack/CrowdPose convention)"
        )
    return CocoKeypointEval(
        stats={name: float(v) for name, v in zip(COCO_STAT_NAMES, evaluator.stats[:10], strict=True)},
        oks_thresholds=np.asarray(params.iouThrs, dtype=np.float64),
        recall_thresholds=np.asarray(params.recThrs, dtype=np.float64),
        precision=precision,
        sigmas=sigmas,
        num_results=len(results),
        num_people=num_people,
        notes=notes,
    )


def coco_keypoint_stats(
    gt: dict[str, Any], results: Sequence[dict[str, Any]], sigmas: Sequence[float] | np.ndarray | None = None
) -> dict[str, float]:
    """The ten COCO keypoint stats ``AP AP50 AP75 APm APl AR AR50 AR75 ARm ARl`` (fractions, -1: none)."""
    return evaluate_coco_keypoints(gt, results, sigmas).stats


def _quiet(*_: Any) -> None:
    """faster-coco-eval reports progress through a print function; the report prints the results itself."""
