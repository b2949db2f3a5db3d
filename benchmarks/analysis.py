"""Analysis benchmark: the sample model's predictions of the motion clips against their truth.

Clips (:mod:`posekit.samples.motion_clips`): every exercise (squat, curl, jumping jack, push-up) and
walkers, ``--seeds`` of each; the model predicts each frame in the ground-truth box (no detector) with the
flip test (``--no-flip``: without, the video default), then :func:`posekit.tasks.analyze.analyze`
measures. Printed:

- joint-angle error per angle (degrees; frames where both the prediction and the truth see its points);
- 95% interval coverage of the true angle for a grid of keypoint-SD models on the calibration clips (seed
  0): factor x the flip test's looks' gap, or without the flip test factor x OKS sigma x person scale /
  score ** power; and for posekit's default on the others (seeds 1 on, not used to choose anything);
- with ``--sources``: the uncertainty sources side by side (each scaled to 95% on seed 0 by bisection,
  then its coverage on the other seeds and the rank correlation of its angle SD with the angle's error):
  OKS sigma x person scale, the same / score^3, the heatmap's spread (its second moment around its
  mean) and the flip test's looks' gap, all on the flip test's keypoints;
- reps: F1 over all exercise clips (a predicted rep is right when its peak lies inside an unmatched true
  rep); heel strikes and toe offs: share of true events (at least a quarter cycle from the clip's ends,
  where any method can see them) with a found one of the same side, and of either side (timing alone),
  within 2 frames.

    python benchmarks/analysis.py                        # the model: runs/train/exp/weights/best
    python benchmarks/analysis.py --seeds 2 --keep clips # keep clips and predictions, reuse them next time
    python benchmarks/analysis.py --no-flip              # the intervals' fallback without the flip test
    python benchmarks/analysis.py --seeds 3 --sources    # + the uncertainty sources compared
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from posekit.analysis.angles import (
    FLIP_SD_FACTOR,
    SD_FACTOR,
    SD_SCORE_POWER,
    Z95,
    angle_set,
    compute_angles,
    keypoint_sd,
)
from posekit.analysis.tracks import Tracks, read_predictions
from posekit.datasets.schema import default_sigmas
from posekit.samples.motion_clips import EXERCISES, generate_clip
from posekit.tasks.analyze import analyze

OKS_GRID = [(f, p) for p in (0.0, 1.0, 2.0, 3.0) for f in (0.1, 0.15, 0.2, 0.25, 0.3, 0.4)]
FLIP_GRID = [(f, None) for f in (1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0)]


def _clip(folder: Path, kind: str, seed: int, model, flip: bool) -> tuple[dict, list[dict]]:
    """The clip's truth and the model's per-frame predictions (reused from ``folder`` when there)."""
    cached = folder / ("pred_flip.json" if flip else "pred.json")
    if cached.is_file():
        return json.loads((folder / "truth.json").read_text()), json.loads(cached.read_text())
    truth = generate_clip(folder, kind, seed=seed)
    results = model().predict(
        str(folder / "frames"), boxes=str(folder / "annotations.json"), save=False, stream=False, flip=flip
    )
    frames = [r.to_dict() for r in results]
    cached.write_text(json.dumps(frames))
    return truth, frames


def _looks(folder: Path, model) -> dict[str, np.ndarray]:
    """Per frame of a clip (its one person, in the ground-truth box): the flip test's keypoints and scores,
    its looks' gap and the crop's heatmap spread (image pixels), and the box."""
    import cv2

    cached = folder / "looks.npz"
    if cached.is_file():
        return dict(np.load(cached))
    document = json.loads((folder / "annotations.json").read_text())
    boxes = {a["image_id"]: a["bbox"] for a in document["annotations"]}
    processor, out = model.processor, {k: [] for k in ("xy", "scores", "gap", "spread", "box")}
    for image in sorted(document["images"], key=lambda i: i["id"]):
        rgb = cv2.cvtColor(cv2.imread(str(folder / image["file_name"])), cv2.COLOR_BGR2RGB)
        box = np.array([boxes[image["id"]]])
        pixels, meta = processor.preprocess([rgb], [box], clip=True)
        heatmaps, flipped = processor.forward(model.runner, pixels, True)
        xy, scores = processor.postprocess(heatmaps, meta, flipped)
        maps = np.maximum(np.asarray(heatmaps)[0], 0)
        weights = maps / np.maximum(maps.sum((1, 2), keepdims=True), 1e-9)
        ys, xs = np.mgrid[: maps.shape[1], : maps.shape[2]]
        mx, my = (weights * xs).sum((1, 2)), (weights * ys).sum((1, 2))
        var = (weights * ((xs - mx[:, None, None]) ** 2 + (ys - my[:, None, None]) ** 2)).sum((1, 2)) / 2
        out["spread"].append(np.sqrt(var) * meta.scales[0, 0] / maps.shape[2])
        out["gap"].append(processor.flip_gap(heatmaps, flipped, meta)[0])
        out["xy"].append(xy[0])
        out["scores"].append(scores[0])
        out["box"].append(box[0])
    looks = {k: np.array(v) for k, v in out.items()}
    np.savez(cached, **looks)
    return looks


def _compare_sources(root: Path, seeds: int, model) -> None:
    """Print each uncertainty source's held-out coverage and rank correlation (see the docstring)."""
    clips = {}
    for kind in (*EXERCISES, "walk"):
        for seed in range(seeds):
            folder = root / f"{kind}{seed}"
            fps = json.loads((folder / "truth.json").read_text())["fps"]
            truth = read_predictions(folder / "annotations.json", fps)
            looks = _looks(folder, model)
            tracks = replace(
                truth,
                xy=looks["xy"][None],
                scores=looks["scores"][None],
                visible=looks["scores"][None] >= 0.3,
                boxes=looks["box"][None],
                flip_gaps=looks["gap"][None],
            )
            clips[kind, seed] = (truth, tracks, looks)

    def sd_px(tracks: Tracks, looks: dict[str, np.ndarray], source: str) -> np.ndarray:
        oks = np.sqrt(looks["box"][:, 2] * looks["box"][:, 3])[:, None] * default_sigmas(tracks.names)
        scores = np.clip(looks["scores"], 0.05, None)
        return {"OKS": oks, "OKS / score^3": oks / scores**3, "heatmap spread": looks["spread"]}.get(
            source, looks["gap"]
        )[None]

    def measure(key: tuple[str, int], source: str, factor: float) -> tuple[np.ndarray, ...]:
        truth, tracks, looks = clips[key]
        defs = angle_set(tracks.names)
        got = compute_angles(tracks, defs, factor * sd_px(tracks, looks, source))
        gt, pred, sd = compute_angles(truth, defs).values[0], got.values[0], got.sd[0]
        both = np.isfinite(gt) & np.isfinite(pred)
        error = np.abs(pred - gt)[both]
        return error <= Z95 * sd[both], error, sd[both]

    kinds = (*EXERCISES, "walk")
    print(f"\n| keypoint SD source | factor | held-out coverage | {' | '.join(kinds)} | Spearman |")
    print("|---|---|---|" + "---|" * len(kinds) + "---|")
    for source in ("OKS", "OKS / score^3", "heatmap spread", "flip gap"):
        low, high = 1e-3, 1e3
        for _ in range(40):  # bisection on the factor: 95% on seed 0
            factor = float(np.sqrt(low * high))
            cover = np.concatenate([measure((k, 0), source, factor)[0] for k in kinds]).mean()
            low, high = (factor, high) if cover < 0.95 else (low, factor)
        held = {k: [measure((k, s), source, factor) for s in range(1, seeds)] for k in kinds}
        per = [f"{np.concatenate([m[0] for m in held[k]]).mean():.3f}" for k in kinds]
        every = [m for k in kinds for m in held[k]]
        rho = spearmanr(np.concatenate([m[1] for m in every]), np.concatenate([m[2] for m in every]))[0]
        inside = np.concatenate([m[0] for m in every]).mean()
        print(f"| {source} | {factor:.3g} | {inside:.3f} | {' | '.join(per)} | {rho:.2f} |", flush=True)


def _rep_matches(found: list, truth: list) -> int:
    used, hits = set(), 0
    for rep in found:
        match = next((i for i, (a, _, b) in enumerate(truth) if i not in used and a <= rep.peak <= b), None)
        if match is not None:
            used.add(match)
            hits += 1
    return hits


def _event_hits(found: np.ndarray, truth: list[int], lo: int, hi: int) -> tuple[int, int]:
    """How many of the ``truth`` frames in [lo, hi) have a ``found`` one within 2 frames, and how many."""
    truth = [f for f in truth if lo <= f < hi]
    return sum(len(found) > 0 and int(np.min(np.abs(found - f))) <= 2 for f in truth), len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="runs/train/exp/weights/best")
    parser.add_argument("--seeds", type=int, default=3, help="clips per kind (seed 0 calibrates)")
    parser.add_argument("--quick", action="store_true", help="one clip per kind (no held-out coverage)")
    parser.add_argument("--keep", default=None, help="folder to keep clips and predictions in (and reuse)")
    parser.add_argument("--no-flip", dest="flip", action="store_false", help="predict without the flip test")
    parser.add_argument("--sources", action="store_true", help="compare the uncertainty sources (slow)")
    args = parser.parse_args()
    args.seeds = 1 if args.quick else args.seeds
    import posekit

    loaded = []

    def model():
        if not loaded:
            loaded.append(posekit.load(args.model, device="cpu"))
        return loaded[0]

    errors: dict[str, list[np.ndarray]] = {}
    grid = FLIP_GRID if args.flip else OKS_GRID
    cover: dict[tuple[float, float | None], dict[str, list[np.ndarray]]] = {g: {} for g in grid}
    held_out: dict[str, list[np.ndarray]] = {}
    tp = n_found = n_true = 0
    events = {f"{e}, {s}": [0, 0] for e in ("heel strike", "toe off") for s in ("same side", "either side")}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for kind in (*EXERCISES, "walk"):
            for seed in range(args.seeds):
                truth, frames = _clip(root / f"{kind}{seed}", kind, seed, model, args.flip)
                fps = truth["fps"]
                exercise = kind if kind != "walk" else None
                got = analyze(frames, fps=fps, exercise=exercise, gait=kind == "walk", save=False)
                gt_tracks = read_predictions(root / f"{kind}{seed}" / "annotations.json", fps)
                gt = compute_angles(gt_tracks, angle_set(gt_tracks.names)).values[0]
                pred = got.angles.values[0]
                both = np.isfinite(pred) & np.isfinite(gt)
                for a, name in enumerate(got.angles.names):
                    errors.setdefault(name, []).append(np.abs(pred - gt)[both[:, a], a])
                for factor, power in grid if seed == 0 else ():
                    sd_px = (
                        keypoint_sd(got.tracks, flip_factor=factor)
                        if power is None
                        else keypoint_sd(got.tracks, factor, power, flip_factor=None)
                    )
                    sd = compute_angles(got.tracks, angle_set(got.tracks.names), sd_px).sd[0]
                    cover[factor, power].setdefault(kind, []).append((np.abs(pred - gt) <= Z95 * sd)[both])
                if seed > 0:
                    inside = np.abs(pred - gt) <= Z95 * got.angles.sd[0]
                    held_out.setdefault(kind, []).append(inside[both])
                if kind == "walk":
                    ev = got.gait[0][0] if 0 in got.gait else None
                    margin, n = truth["cycle_frames"] // 4, truth["num_frames"]
                    for label, key, found in (
                        ("heel strike", "heel_strikes", ev and ev.heel_strikes),
                        ("toe off", "toe_offs", ev and ev.toe_offs),
                    ):
                        either = np.concatenate(list(found.values())) if found else np.array([], int)
                        for side in ("left", "right"):
                            same = found[side] if found else np.array([], int)
                            for scope, frames in (("same side", same), ("either side", either)):
                                hits, count = _event_hits(frames, truth[key][side], margin, n - margin)
                                events[f"{label}, {scope}"][0] += hits
                                events[f"{label}, {scope}"][1] += count
                else:
                    reps = got.reps.get(0, [])
                    tp += _rep_matches(reps, truth["reps"])
                    n_found += len(reps)
                    n_true += len(truth["reps"])
                    print(
                        f"{kind} seed {seed}: {len(reps)} reps found, {len(truth['reps'])} true", flush=True
                    )
        if args.sources and args.seeds > 1:
            _compare_sources(root, args.seeds, model())
    print(
        f"\n{time.perf_counter() - start:.0f} s; model {args.model}, "
        f"{'flip test' if args.flip else 'no flip test'}, ground-truth boxes, {args.seeds} clips per kind; "
        f"keypoint SD: {got.sd_model}\n"
    )
    print("| angle | MAE (deg) | median (deg) | 90th pct (deg) | angle-frames |\n|---|---|---|---|---|")
    for name, values in errors.items():
        v = np.concatenate(values)
        print(f"| {name} | {v.mean():.2f} | {np.median(v):.2f} | {np.percentile(v, 90):.2f} | {len(v)} |")
    kinds = (*EXERCISES, "walk")

    def row(groups: dict[str, list[np.ndarray]]) -> str:
        per = [f"{np.concatenate(groups[k]).mean():.3f}" if k in groups else "-" for k in kinds]
        return f"{np.concatenate([x for v in groups.values() for x in v]).mean():.3f} | " + " | ".join(per)

    model_name = "x flip gap" if args.flip else "x OKS sigma x scale / score ** power"
    print(
        f"\n| SD model | factor | power | 95% coverage, all | {' | '.join(kinds)} |\n|---|---|---|---|"
        + "---|" * len(kinds)
    )
    for (factor, power), groups in cover.items():
        print(f"| {model_name} | {factor:g} | {'-' if power is None else f'{power:g}'} | {row(groups)} |")
    if held_out:
        factor, power = (FLIP_SD_FACTOR, "-") if args.flip else (SD_FACTOR, f"{SD_SCORE_POWER:g}")
        print(f"| **default, held-out seeds** | **{factor:g}** | **{power}** | {row(held_out)} |")
    precision, recall = tp / max(n_found, 1), tp / max(n_true, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    print(
        f"\nreps: {tp} matched, {n_found} found, {n_true} true: precision {precision:.3f} "
        f"recall {recall:.3f} F1 {f1:.3f}"
    )
    for label, (hits, count) in events.items():
        print(f"{label}: {hits}/{count} within 2 frames of the truth ({hits / max(count, 1):.1%})")


if __name__ == "__main__":
    main()
