"""Analysis benchmark: the sample model's predictions of the motion clips against their truth.

Clips (:mod:`posekit.samples.motion_clips`): every exercise (squat, curl, jumping jack, push-up) and
walkers, several seeds each; the model predicts each frame in the ground-truth box (no detector), then
:func:`posekit.tasks.analyze.analyze` measures. Printed:

- joint-angle MAE per angle (degrees; frames where both the prediction and the truth see its points);
- 95% interval coverage of the true angle for several keypoint-SD factors (calibration seeds) and for
  the default factor on the other seeds;
- reps: F1 over all exercise clips (a predicted rep is right when its peak lies inside an unmatched true
  rep); heel strikes and toe offs: share within 2 frames of the truth (events at least a quarter cycle
  from the clip's ends, where any method can see them).

    python benchmarks/analysis.py                       # the model: runs/train/exp/weights/best
    python benchmarks/analysis.py --seeds 2 --model DIR
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from posekit.analysis.angles import Z95, angle_set, compute_angles, keypoint_sd
from posekit.analysis.tracks import read_predictions
from posekit.samples.motion_clips import EXERCISES, generate_clip
from posekit.tasks.analyze import SD_FACTOR, analyze

FACTORS = (0.03, 0.05, 0.075, 0.1, 0.15, 0.2)


def _rep_matches(found: list, truth: list) -> int:
    used, hits = set(), 0
    for rep in found:
        for i, (start, _, end) in enumerate(truth):
            if i not in used and start <= rep.peak <= end:
                used.add(i)
                hits += 1
                break
    return hits


def _event_hits(found: np.ndarray, truth: list[int], lo: int, hi: int) -> tuple[int, int]:
    truth = [f for f in truth if lo <= f < hi]
    return sum(bool(len(found)) and int(np.min(np.abs(found - f))) <= 2 for f in truth), len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="runs/train/exp/weights/best")
    parser.add_argument("--seeds", type=int, default=2, help="clips per kind (the first calibrates)")
    args = parser.parse_args()
    import posekit

    model = posekit.load(args.model, device="cpu")
    errors: dict[str, list[np.ndarray]] = {}
    cover: dict[float, list[np.ndarray]] = {f: [] for f in FACTORS}
    held_out: list[np.ndarray] = []
    tp = n_found = n_true = 0
    events = {"heel strike": [0, 0], "toe off": [0, 0]}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in (*EXERCISES, "walk"):
            for seed in range(args.seeds):
                folder = Path(tmp) / f"{kind}{seed}"
                truth = generate_clip(folder, kind, seed=seed)
                fps = truth["fps"]
                results = model.predict(
                    str(folder / "frames"),
                    boxes=str(folder / "annotations.json"),
                    save=False,
                    stream=False,
                    flip=False,
                )
                frames = [r.to_dict() for r in results]
                exercise = kind if kind != "walk" else None
                got = analyze(frames, fps=fps, exercise=exercise, gait=kind == "walk", save=False, smooth=0)
                gt_tracks = read_predictions(folder / "annotations.json", fps)
                gt = compute_angles(gt_tracks, angle_set(gt_tracks.names))
                both = np.isfinite(got.angles.values[0]) & np.isfinite(gt.values[0])
                for a, name in enumerate(gt.names):
                    errors.setdefault(name, []).append(
                        np.abs(got.angles.values[0][both[:, a], a] - gt.values[0][both[:, a], a])
                    )
                for factor in FACTORS if seed == 0 else ():
                    tracks = got.tracks
                    scaled = compute_angles(tracks, angle_set(tracks.names), keypoint_sd(tracks, factor))
                    cover[factor].append(
                        (np.abs(scaled.values[0] - gt.values[0]) <= Z95 * scaled.sd[0])[both]
                    )
                inside = np.abs(got.angles.values[0] - gt.values[0]) <= Z95 * got.angles.sd[0]
                if seed > 0:
                    held_out.append(inside[both])
                if kind == "walk":
                    ev = got.gait[0][0] if 0 in got.gait else None
                    margin, n = truth["cycle_frames"] // 4, truth["num_frames"]
                    for label, key, found in (
                        ("heel strike", "heel_strikes", ev and ev.heel_strikes),
                        ("toe off", "toe_offs", ev and ev.toe_offs),
                    ):
                        for side in ("left", "right"):
                            hits, count = _event_hits(
                                found[side] if found else np.array([]), truth[key][side], margin, n - margin
                            )
                            events[label][0] += hits
                            events[label][1] += count
                else:
                    reps = got.reps.get(0, [])
                    tp += _rep_matches(reps, truth["reps"])
                    n_found += len(reps)
                    n_true += len(truth["reps"])
                    print(
                        f"{kind} seed {seed}: {len(reps)} reps found, {len(truth['reps'])} true", flush=True
                    )
    print(f"\n{time.perf_counter() - start:.0f} s; model {args.model}, no flip test, ground-truth boxes\n")
    print("| angle | MAE (deg) | median (deg) | frames |\n|---|---|---|---|")
    for name, values in errors.items():
        v = np.concatenate(values)
        print(f"| {name} | {v.mean():.2f} | {np.median(v):.2f} | {len(v)} |")
    print("\n| SD factor | 95% coverage (calibration seed 0) |\n|---|---|")
    for factor, values in cover.items():
        print(f"| {factor:g} | {np.concatenate(values).mean():.3f} |")
    print(
        f"\ncoverage of the default factor {SD_FACTOR:g} on held-out seeds: "
        f"{np.concatenate(held_out).mean():.3f} ({sum(len(v) for v in held_out)} angle-frames)"
    )
    precision, recall = tp / max(n_found, 1), tp / max(n_true, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    print(
        f"reps: {tp} matched, {n_found} found, {n_true} true: precision {precision:.3f} recall {recall:.3f} "
        f"F1 {f1:.3f}"
    )
    for label, (hits, count) in events.items():
        print(f"{label}: {hits}/{count} within 2 frames ({hits / max(count, 1):.1%})")
    print(json.dumps({"f1": f1, "events": events}))


if __name__ == "__main__":
    main()
