"""COCO keypoint evaluation speed: posekit vs pycocotools vs faster-coco-eval on the same predictions.

    python benchmarks/eval.py            # 6,000 people, best of 3 runs each
    python benchmarks/eval.py --quick    # 1,500 people, one run each

The data set is generated deterministically (crowds, people without keypoints, missed people and
false positives included); the table gives the wall time of each, the ratios, and the largest
absolute difference between the ten stats of each and pycocotools'.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from posekit.metrics.coco_eval import COCO17_SIGMAS, COCO_STAT_NAMES, coco_keypoint_stats
from posekit.metrics.per_keypoint import per_keypoint_ap


def make_keypoint_set(
    num_people: int,
    num_keypoints: int = 17,
    seed: int = 0,
    crowd_fraction: float = 0.02,
    empty_fraction: float = 0.03,
    missed_fraction: float = 0.05,
    false_positive_fraction: float = 0.15,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A COCO keypoint GT dict and matching results with varied errors (deterministic for a seed).

    One to eight people per 640x480 image, boxes from 15 to 400 px (small, medium and large areas),
    keypoints with v = 0/1/2; some crowd regions and some people with no labelled keypoint; every
    other person predicted with an error that varies per person, a few missed, plus false positives.
    """
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    image_id = 0
    while len(anns) < num_people:
        image_id += 1
        images.append({"id": image_id, "file_name": f"{image_id:06d}.jpg", "width": 640, "height": 480})
        for _ in range(min(int(rng.integers(1, 9)), num_people - len(anns))):
            w, h = rng.uniform(15, 300), rng.uniform(20, 400)
            x, y = rng.uniform(0, 640 - w / 2), rng.uniform(0, 480 - h / 2)
            kp = np.column_stack(
                [
                    rng.uniform(x, x + w, num_keypoints),
                    rng.uniform(y, y + h, num_keypoints),
                    rng.choice([0, 1, 2], num_keypoints, p=[0.25, 0.15, 0.6]),
                ]
            )
            kind = rng.uniform()
            crowd = kind < crowd_fraction
            if crowd_fraction <= kind < crowd_fraction + empty_fraction:
                kp[:] = 0
            kp[kp[:, 2] == 0, :2] = 0
            area = float(w * h * rng.uniform(0.4, 0.8))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "iscrowd": int(crowd),
                    "bbox": [float(x), float(y), float(w), float(h)],
                    "area": area,
                    "keypoints": kp.ravel().tolist(),
                    "num_keypoints": int((kp[:, 2] > 0).sum()),
                }
            )
            if rng.uniform() < missed_fraction:
                continue
            error = np.sqrt(area) * rng.uniform(0.01, 0.25)
            pred = np.column_stack(
                [rng.uniform(x, x + w, num_keypoints), rng.uniform(y, y + h, num_keypoints)]
            )
            labelled = kp[:, 2] > 0
            pred[labelled] = kp[labelled, :2] + rng.normal(0, error, (labelled.sum(), 2))
            results.append(
                _result(image_id, pred, rng, score=float(np.clip(1 - error / np.sqrt(area), 0, 1)))
            )
    for _ in range(int(false_positive_fraction * num_people)):
        pred = np.column_stack([rng.uniform(0, 640, num_keypoints), rng.uniform(0, 480, num_keypoints)])
        results.append(
            _result(int(rng.integers(1, image_id + 1)), pred, rng, score=float(rng.uniform(0, 0.6)))
        )
    categories = [
        {"id": 1, "name": "person", "keypoints": [f"kp{i}" for i in range(num_keypoints)], "skeleton": []}
    ]
    return {"images": images, "annotations": anns, "categories": categories}, results


def _result(image_id: int, pred: np.ndarray, rng: np.random.Generator, score: float) -> dict[str, Any]:
    kp = np.column_stack([pred, rng.uniform(0.05, 1.0, len(pred))])
    return {"image_id": image_id, "category_id": 1, "keypoints": kp.ravel().round(2).tolist(), "score": score}


def pycocotools_stats(gt: dict, results: list, sigmas: np.ndarray) -> np.ndarray:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(results), "keypoints")
        evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats[:10])


def faster_coco_eval_stats(gt: dict, results: list, sigmas: np.ndarray) -> np.ndarray:
    from faster_coco_eval import COCO, COCOeval_faster

    coco_gt = COCO(gt)
    evaluator = COCOeval_faster(
        coco_gt,
        coco_gt.loadRes(results),
        "keypoints",
        kpt_oks_sigmas=list(sigmas),
        print_function=lambda *_: None,
    )
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return np.asarray(evaluator.stats[:10])


def posekit_stats(gt: dict, results: list, sigmas: np.ndarray) -> np.ndarray:
    stats = coco_keypoint_stats(gt, results, sigmas)
    return np.array([stats[name] for name in COCO_STAT_NAMES])


def _best_time(fn: Callable[[dict, list], Any], gt: dict, results: list, repeats: int) -> tuple[float, Any]:
    """Best wall time of ``fn(gt, results)``; each run gets fresh deep copies (made outside the timing),
    as pycocotools and faster-coco-eval modify the dicts they are given."""
    best, out = float("inf"), None
    for _ in range(repeats):
        gt_copy, results_copy = copy.deepcopy(gt), copy.deepcopy(results)
        start = time.perf_counter()
        out = fn(gt_copy, results_copy)
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,500 people, one run each")
    parser.add_argument("--people", type=int, default=None, help="number of annotated people (default 6000)")
    args = parser.parse_args()
    people = args.people or (1500 if args.quick else 6000)
    repeats = 1 if args.quick else 3
    gt, results = make_keypoint_set(people, seed=0)
    sigmas = COCO17_SIGMAS

    timings: dict[str, tuple[float, np.ndarray]] = {}
    for name, fn in (
        ("pycocotools", pycocotools_stats),
        ("faster-coco-eval (direct)", faster_coco_eval_stats),
        ("posekit coco_keypoint_stats", posekit_stats),
    ):
        timings[name] = _best_time(lambda g, r, fn=fn: fn(g, r, sigmas), gt, results, repeats)
    per_kp_time, _ = _best_time(lambda g, r: per_keypoint_ap(g, r, sigmas), gt, results, 1)

    reference_time, reference = timings["pycocotools"]
    table = Table(
        title=f"COCO keypoint eval: {people} people, {len(gt['images'])} images, "
        f"{len(results)} predictions, best of {repeats}"
    )
    for col in ("evaluator", "wall s", "speed-up vs pycocotools", "max |stat diff| vs pycocotools"):
        table.add_column(col, justify="left" if col == "evaluator" else "right")
    for name, (seconds, stats) in timings.items():
        diff = float(np.abs(stats - reference).max())
        table.add_row(name, f"{seconds:.3f}", f"{reference_time / seconds:.2f}x", f"{diff:.1e}")
    table.add_row(
        "posekit per-keypoint AP (17 COCO runs)",
        f"{per_kp_time:.3f}",
        f"{reference_time / per_kp_time:.2f}x",
        "-",
    )
    console = Console(width=max(Console().width, 110))
    console.print(table)
    console.print(
        "AP AP50 AP75 APm APl AR AR50 AR75 ARm ARl (pycocotools): " + " ".join(f"{v:.4f}" for v in reference)
    )
    assert all(np.abs(stats - reference).max() < 1e-9 for _, stats in timings.values()), "stats differ!"


if __name__ == "__main__":
    main()
