"""Analysis benchmark: the sample model's predictions of the motion clips against their truth.

Clips (:mod:`posekit.samples.motion_clips`): every exercise (squat, curl, jumping jack, push-up) and
walkers, ``--seeds`` of each; the model predicts each frame in the ground-truth box (no detector) with the
flip test (``--no-flip``: without, the video default), then :func:`posekit.tasks.analyze.analyze`
measures. Printed:

- joint-angle error per angle (degrees; frames where both the prediction and the truth see its points);
- 95% interval coverage of the true angle for a grid of keypoint-SD models on the calibration clips (seed
  0): factor x the flip test's looks' gap, or without the flip test factor x OKS sigma x person scale /
  score ** power; and for posekit's default on the others (seeds 1 on, not used to choose anything);
- reps: F1 over all exercise clips (a predicted rep is right when its peak lies inside an unmatched true
  rep); heel strikes and toe offs: share of true events (at least a quarter cycle from the clip's ends,
  where any method can see them) with a found one of the same side, and of either side (timing alone),
  within 2 frames.

    python benchmarks/analysis.py                        # the model: runs/train/exp/weights/best
    python benchmarks/analysis.py --seeds 2 --keep clips # keep clips and predictions, reuse them next time
    python benchmarks/analysis.py --no-flip              # the intervals' fallback without the flip test
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from posekit.analysis.angles import (
    FLIP_SD_FACTOR,
    SD_FACTOR,
    SD_SCORE_POWER,
    Z95,
    angle_set,
    compute_angles,
    keypoint_sd,
)
from posekit.analysis.tracks import read_predictions
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
