"""Video keypoint metrics: PoseTrack's MOTA/MOTP/ID switches (as poseval computes them), IDF1, jitter.

Input: a COCO keypoint ground truth with PoseTrack fields (annotations with ``track_id`` and
``bbox_head``; images with ``vid_id`` and ``frame_id`` giving each video's frame order, optional
``is_labeled`` and ``ignore_regions_x``/``ignore_regions_y``) and COCO keypoint results rows with a
``track_id``. Crowd regions (``iscrowd``) are not people and are left out.

**PoseTrack MOT** (``MOTA``, ``MOTP``, ``precision``, ``recall``, ``id_switches``) follows poseval
(github.com/leonid-pishchulin/poseval, ``eval_helpers.assignGTmulti`` and
``evaluateTracking.computeMetrics``) step by step, py-motmetrics included:

- a GT joint exists when labelled (v > 0); a predicted joint unless it is (0, 0, 0) (poseval's
  converter drops those), and, with ``keypoint_threshold``, unless its score is below it (poseval itself
  keeps every joint a submission lists);
- frames without any GT person are left out (predictions there too), then each video's last frame
  (``imgidxs[:-1]``); in frames with ignore regions, GT and predicted joints strictly inside one are
  dropped, and so are the people left without joints;
- per joint and frame, the GT people and the predictions having that joint go to one
  ``motmetrics.MOTAccumulator`` per joint and video, with distance = pixel distance / head size (0.6 x
  the diagonal of the GT ``bbox_head``) where it is <= ``threshold`` (0.5) and no match (NaN) beyond
  (ground truth without ``bbox_head`` on every labelled person: :data:`BOX_HEAD_FACTOR` x the diagonal of
  each person's ``bbox`` for everyone instead, named in the result's ``normaliser``);
  motmetrics keeps last frame's pairs where still allowed, assigns the rest by min-cost matching and
  counts misses, false positives, matches and ID switches (a GT track matched to another prediction
  track than at its last match);
- a frame with GT people but no predicted person (or the reverse, possible after ignore regions)
  enters as poseval writes it: one GT id 0 against one prediction id 0, unmatched, for every joint,
  i.e. one miss and one false positive per joint whatever the number of people;
- per joint, summed over videos: MOTA = 1 - (misses + switches + false positives) / GT joints (NaN
  without GT), MOTP = 1 - sum(D) / matches (0 without matches), precision = matches / (matches + false
  positives), recall = matches / GT joints, where sum(D) is poseval's ``acc.events['D'].sum()``: with
  motmetrics >= 1.2 it adds every candidate pair's distance (its RAW events, kept in ``events``) and the
  TRANSFER/ASCEND/MIGRATE duplicates of switches to the matched distances, so MOTP is below 1 even for
  a perfect prediction when people's joints come within the threshold of each other's;
- totals: the mean over the joints of the per-joint values, NaNs left out (MOTP's zeros kept);
  ``id_switches`` is the sum over joints. Values are fractions (poseval prints percentages).

The joints evaluated are those labelled at least once in the ground truth: on PoseTrack 2018 files
(COCO order, the ears never labelled) those are poseval's 15 joints.

**IDF1** (Ristani et al. 2016) at person level: in each labelled frame (``is_labeled`` not false), a
GT person (with at least one labelled joint) and a prediction (with at least one joint) are candidates
when the prediction has at least half of the person's labelled joints within ``threshold`` head sizes
(person PCKh >= 0.5); the candidate pairs (distance 1 - PCKh) go to one motmetrics accumulator per
video, whose IDF1 is the global min-cost matching of GT and predicted trajectories (a pair scores one
true positive per frame in which it is a candidate); IDTP/IDFP/IDFN are summed over videos.

**Jitter**: the same accumulator's per-frame assignment (MATCH and SWITCH events) pairs each GT person
with one prediction. For every GT track, frame t and joint where frames t-1, t, t+1 are consecutive in
the video, the track is matched to the same prediction track in all three, the GT joint is labelled and
the predicted joint exists in all three, the acceleration error is ``|(p[t+1] - 2 p[t] + p[t-1]) -
(g[t+1] - 2 g[t] + g[t-1])|`` (Euclidean, px/frame^2). ``jitter`` is its mean over all such (track,
frame, joint) triples, the per-joint value the mean over that joint's triples (NaN where there is none).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from posekit.errors import DataError, PosekitError
from posekit.metrics.pck import HEAD_BOX_FACTOR, box_diagonal

#: PoseTrack's PCKh threshold: a joint matches within half a head size (poseval's ``distThresh``).
PCKH_THRESHOLD = 0.5
#: For IDF1 and jitter, a prediction is a candidate for a GT person when it has at least this share of
#: the person's labelled joints within the PCKh threshold.
PERSON_MATCH = 0.5
#: Without head boxes, the head size is this share of the person box diagonal: the median of 0.6 x head
#: box diagonal / person box diagonal over the labelled people of PoseTrack18's val sample is 0.128.
BOX_HEAD_FACTOR = 0.125
_MOT_COUNTS = ("num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections")


@dataclass
class _Person:
    track: int
    xy: np.ndarray  # (K, 2)
    present: np.ndarray  # (K,) bool: labelled (GT) or predicted
    head_size: float = float("nan")  # GT only


@dataclass
class _Frame:
    position: int  # index in the video's frame order
    labelled: bool
    has_gt: bool  # any GT person before ignore regions (poseval keeps only such frames)
    gt: list[_Person] = field(default_factory=list)
    pred: list[_Person] = field(default_factory=list)


def evaluate_video(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    threshold: float = PCKH_THRESHOLD,
    keypoint_threshold: float | None = None,
) -> dict[str, Any]:
    """PoseTrack MOT metrics (poseval), IDF1 and jitter of tracked ``results`` on ``gt`` (module doc).

    ``gt``: a COCO keypoint dict (as read from the JSON) with ``track_id`` and ``bbox_head`` on every
    person; ``results``: rows with ``image_id``, ``keypoints`` (x, y, score per joint) and
    ``track_id``. Returns ``MOTA``, ``MOTP``, ``precision``, ``recall``, ``id_switches``, ``IDF1``,
    ``IDP``, ``IDR``, ``jitter`` (px/frame^2), ``jitter_count`` (triples averaged), ``per_joint``
    (name -> the same per joint plus ``misses``, ``false_positives``, ``gt_joints``, ``matches``),
    ``num_videos``, ``num_frames`` (frames of the MOT evaluation), ``threshold`` and ``normaliser`` (what
    the distances are divided by: the head size, or a share of the person box without ``bbox_head``). Raises
    :class:`~posekit.errors.DataError` for ground truth and :class:`~posekit.errors.PosekitError` for
    results that cannot be evaluated.
    """
    import motmetrics  # pandas-based: imported when used

    names = _keypoint_names(gt)
    videos, normaliser = _read(gt, results, len(names), keypoint_threshold)
    labelled = np.zeros(len(names), dtype=bool)
    for frames in videos.values():
        for frame in frames:
            for person in frame.gt:
                labelled |= person.present
    joints = np.flatnonzero(labelled)
    host = motmetrics.metrics.create()
    counts = np.zeros((len(names), 6))  # misses, switches, false positives, GT joints, matches, sum(D)
    identity = np.zeros(3)  # IDTP, IDFP, IDFN
    errors: list[list[float]] = [[] for _ in names]
    num_frames = 0
    for frames in videos.values():
        mot_frames = [f for f in frames if f.has_gt][:-1]  # poseval: imgidxs[:-1]
        num_frames += len(mot_frames)
        counts += _joint_counts(motmetrics, host, mot_frames, len(names), threshold)
        tp_fp_fn, matches = _person_tracks(motmetrics, host, [f for f in frames if f.labelled], threshold)
        identity += tp_fp_fn
        for joint, values in enumerate(_acceleration_errors(frames, matches, len(names))):
            errors[joint] += values
    per_joint = {names[j]: _joint_metrics(counts[j], errors[j]) for j in joints}

    def mean(key: str) -> float:
        values = [m[key] for m in per_joint.values() if not np.isnan(m[key])]
        return float(np.mean(values)) if values else float("nan")

    idtp, idfp, idfn = identity
    pooled = [e for j in joints for e in errors[j]]
    return {
        "MOTA": mean("MOTA"),
        "MOTP": mean("MOTP"),
        "precision": mean("precision"),
        "recall": mean("recall"),
        "id_switches": int(sum(m["id_switches"] for m in per_joint.values())),
        "IDF1": _ratio(2 * idtp, 2 * idtp + idfp + idfn),
        "IDP": _ratio(idtp, idtp + idfp),
        "IDR": _ratio(idtp, idtp + idfn),
        "jitter": float(np.mean(pooled)) if pooled else float("nan"),
        "jitter_count": len(pooled),
        "per_joint": per_joint,
        "num_videos": len(videos),
        "num_frames": num_frames,
        "threshold": threshold,
        "normaliser": normaliser,
    }


# ---------------------------------------------------------------------------------------------- input
def _keypoint_names(gt: Mapping[str, Any]) -> list[str]:
    for category in gt.get("categories") or []:
        if isinstance(category, Mapping) and category.get("keypoints"):
            return [str(name) for name in category["keypoints"]]
    raise DataError("the ground truth has no category with 'keypoints' names; pass a COCO keypoint file")


def _read(
    gt: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    num_joints: int,
    keypoint_threshold: float | None,
) -> tuple[dict[Hashable, list[_Frame]], str]:
    """Each video's frames in order, with their GT people and predictions (ignore regions applied), and
    the normaliser of the distances (module doc)."""
    images = list(gt.get("images") or [])
    order = sorted(
        range(len(images)), key=lambda i: (str(images[i].get("vid_id", "")), images[i].get("frame_id", i))
    )
    videos: dict[Hashable, list[_Frame]] = {}
    frame_of: dict[Any, _Frame] = {}
    for i in order:
        image = images[i]
        frames = videos.setdefault(image.get("vid_id", ""), [])
        frame = _Frame(len(frames), bool(image.get("is_labeled", True)), False)
        frames.append(frame)
        frame_of[image["id"]] = frame
    people = [ann for ann in gt.get("annotations") or [] if not ann.get("iscrowd")]
    located = [
        (ann, *_locate(ann, frame_of, num_joints, f"ground truth annotation {ann.get('id')}", DataError))
        for ann in people
    ]
    labelled = [ann for ann, _, xyv, present in located if (present & (xyv[:, 2] > 0)).any()]
    headless = sum(not _is_box(ann.get("bbox_head")) for ann in labelled)
    key, factor = ("bbox_head", HEAD_BOX_FACTOR) if not headless else ("bbox", BOX_HEAD_FACTOR)
    normaliser = (
        f"head size: {HEAD_BOX_FACTOR:g} x the diagonal of bbox_head"
        if not headless
        else f"{BOX_HEAD_FACTOR:g} x the diagonal of the person's bbox, for a head size ({headless} of "
        f"{len(labelled)} labelled people have no bbox_head)"
    )
    for ann, frame, xyv, present in located:
        where = f"ground truth annotation {ann.get('id')}"
        present &= xyv[:, 2] > 0
        head = float("nan")
        if present.any():
            box = ann.get(key)
            if not _is_box(box):
                raise DataError(
                    f"{where} has neither 'bbox_head' nor 'bbox' [x, y, w, h] to measure distances in"
                )
            head = factor * float(box_diagonal(np.array([box], np.float64))[0])
        _add(frame.gt, _Person(ann["track_id"], xyv[:, :2], present, head), where, DataError)
        frame.has_gt = True
    for index, row in enumerate(results):
        where = f"results row {index}"
        frame, xyv, present = _locate(row, frame_of, num_joints, where, PosekitError)
        if keypoint_threshold is not None:
            present &= xyv[:, 2] >= keypoint_threshold
        _add(frame.pred, _Person(row["track_id"], xyv[:, :2], present), where, PosekitError)
    for image in images:
        polygons = _ignore_regions(image)
        if polygons:
            frame = frame_of[image["id"]]
            frame.gt = _outside_regions(frame.gt, polygons)
            frame.pred = _outside_regions(frame.pred, polygons)
    return videos, normaliser


def _is_box(box: Any) -> bool:
    return isinstance(box, Sequence) and len(box) == 4


def _locate(
    record: Mapping[str, Any],
    frame_of: Mapping[Any, _Frame],
    num_joints: int,
    where: str,
    error: type[PosekitError],
) -> tuple[_Frame, np.ndarray, np.ndarray]:
    """The frame of a GT annotation or results row, its (K, 3) keypoints and which joints exist (all
    but those at (0, 0, 0), as poseval's converter reads them); checks image_id and track_id."""
    frame = frame_of.get(record.get("image_id"))
    if frame is None:
        raise error(f"{where}: image_id {record.get('image_id')} is not among the ground truth images")
    track = record.get("track_id")
    if not isinstance(track, (int, np.integer)) or isinstance(track, bool):  # motmetrics keeps ids as floats
        raise error(f"{where}: 'track_id' must be an integer (video metrics follow each person's track)")
    try:
        xyv = np.asarray(record.get("keypoints"), np.float64).reshape(num_joints, 3)
    except (TypeError, ValueError):
        raise error(
            f"{where}: 'keypoints' must be {3 * num_joints} numbers (x, y, v or score per joint)"
        ) from None
    return frame, xyv, ~np.all(xyv == 0, axis=1)


def _add(people: list[_Person], person: _Person, where: str, error: type[PosekitError]) -> None:
    if any(p.track == person.track for p in people):
        raise error(f"{where}: track_id {person.track} appears twice in its image; track ids must differ")
    people.append(person)


def _ignore_regions(image: Mapping[str, Any]) -> list[np.ndarray]:
    xs, ys = image.get("ignore_regions_x") or [], image.get("ignore_regions_y") or []
    return [
        np.array([px, py], np.float32).T.reshape(-1, 1, 2)
        for px, py in zip(xs, ys, strict=False)
        if len(px) >= 3
    ]


def _outside_regions(people: list[_Person], polygons: list[np.ndarray]) -> list[_Person]:
    """Drop joints strictly inside an ignore region (shapely's ``contains``, as poseval) and the people
    left without joints."""
    kept = []
    for person in people:
        for j in np.flatnonzero(person.present):
            point = (float(person.xy[j, 0]), float(person.xy[j, 1]))
            if any(cv2.pointPolygonTest(polygon, point, False) > 0 for polygon in polygons):
                person.present[j] = False
        if person.present.any():
            kept.append(person)
    return kept


# ---------------------------------------------------------------------------------------------- PoseTrack MOT
def _joint_counts(
    motmetrics: Any, host: Any, frames: list[_Frame], num_joints: int, threshold: float
) -> np.ndarray:
    """(K, 6) misses, switches, false positives, GT joints, matches and poseval's sum(D) of one video."""
    accumulators = [motmetrics.MOTAccumulator(auto_id=True) for _ in range(num_joints)]
    for frame in frames:
        if not frame.gt or not frame.pred:
            for accumulator in accumulators:  # poseval's stand-in for a frame with one side empty
                accumulator.update([0], [0], np.full((1, 1), np.nan))
            continue
        dist = _distances(frame.gt, frame.pred)  # (G, P, K)
        gt_tracks = np.array([p.track for p in frame.gt], dtype=object)
        pred_tracks = np.array([p.track for p in frame.pred], dtype=object)
        for j, accumulator in enumerate(accumulators):
            rows = np.flatnonzero([p.present[j] for p in frame.gt])
            cols = np.flatnonzero([p.present[j] for p in frame.pred])
            d = dist[np.ix_(rows, cols, [j])][..., 0]
            accumulator.update(
                list(gt_tracks[rows]), list(pred_tracks[cols]), np.where(d <= threshold, d, np.nan)
            )
    counts = np.zeros((num_joints, 6))
    for j, accumulator in enumerate(accumulators):
        if not frames:
            break
        summary = host.compute(accumulator, metrics=list(_MOT_COUNTS), return_dataframe=False, name="acc")
        total = float(accumulator.events["D"].sum())
        counts[j] = [*(float(summary[name]) for name in _MOT_COUNTS), 0.0 if np.isnan(total) else total]
    return counts


def _distances(gt: list[_Person], pred: list[_Person]) -> np.ndarray:
    """(G, P, K) joint distances in GT head sizes (inf where the head size is not positive)."""
    gt_xy = np.stack([p.xy for p in gt])
    pred_xy = np.stack([p.xy for p in pred])
    heads = np.array([p.head_size for p in gt])
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.linalg.norm(gt_xy[:, None] - pred_xy[None], axis=-1) / heads[:, None, None]
    return np.where(np.isnan(dist), np.inf, dist)


def _joint_metrics(counts: np.ndarray, errors: list[float]) -> dict[str, Any]:
    misses, switches, false_positives, objects, matches, total = counts
    return {
        "MOTA": float(1.0 - (misses + switches + false_positives) / objects) if objects > 0 else float("nan"),
        "MOTP": float(1.0 - total / matches) if matches > 0 else 0.0,
        "precision": _ratio(matches, matches + false_positives),
        "recall": _ratio(matches, objects),
        "id_switches": int(switches),
        "misses": int(misses),
        "false_positives": int(false_positives),
        "gt_joints": int(objects),
        "matches": int(matches),
        "jitter": float(np.mean(errors)) if errors else float("nan"),
        "jitter_count": len(errors),
    }


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


# ---------------------------------------------------------------------------------------------- people
def _person_tracks(
    motmetrics: Any, host: Any, frames: list[_Frame], threshold: float
) -> tuple[np.ndarray, dict[tuple[int, int], int]]:
    """IDTP, IDFP, IDFN of one video and its per-frame matches {(frame position, GT track): pred track}."""
    accumulator = motmetrics.MOTAccumulator(auto_id=False)
    for frame in frames:
        gt = [p for p in frame.gt if p.present.any()]
        pred = [p for p in frame.pred if p.present.any()]
        cost = np.full((len(gt), len(pred)), np.nan)
        if gt and pred:
            within = _distances(gt, pred) <= threshold
            within &= np.stack([p.present for p in gt])[:, None] & np.stack([p.present for p in pred])[None]
            pckh = within.sum(axis=2) / np.array([p.present.sum() for p in gt])[:, None]
            cost = np.where(pckh >= PERSON_MATCH, 1.0 - pckh, np.nan)
        accumulator.update([p.track for p in gt], [p.track for p in pred], cost, frameid=frame.position)
    if not frames:
        return np.zeros(3), {}
    summary = host.compute(accumulator, metrics=["idtp", "idfp", "idfn"], return_dataframe=False, name="acc")
    events = accumulator.mot_events
    events = events[events.Type.isin(["MATCH", "SWITCH"])]
    frame_ids = events.index.get_level_values("FrameId")
    matches = {(int(t), int(o)): int(h) for t, o, h in zip(frame_ids, events.OId, events.HId, strict=True)}
    return np.array([summary["idtp"], summary["idfp"], summary["idfn"]], np.float64), matches


def _acceleration_errors(
    frames: list[_Frame], matches: dict[tuple[int, int], int], num_joints: int
) -> list[list[float]]:
    """Per joint, the acceleration errors of matched people over consecutive frame triples."""
    errors: list[list[float]] = [[] for _ in range(num_joints)]
    gt_at = [{p.track: p for p in f.gt} for f in frames]
    pred_at = [{p.track: p for p in f.pred} for f in frames]
    for (t, track), pred in matches.items():
        if t == 0 or t + 1 >= len(frames):
            continue
        if matches.get((t - 1, track)) != pred or matches.get((t + 1, track)) != pred:
            continue
        g = [gt_at[s][track] for s in (t - 1, t, t + 1)]
        p = [pred_at[s][pred] for s in (t - 1, t, t + 1)]
        ok = np.logical_and.reduce([q.present for q in g + p])
        error = (p[2].xy - 2 * p[1].xy + p[0].xy) - (g[2].xy - 2 * g[1].xy + g[0].xy)
        for j in np.flatnonzero(ok):
            errors[j].append(float(np.hypot(*error[j])))
    return errors
