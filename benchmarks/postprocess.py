"""Top-down post-processing speed: posekit's OKS-NMS vs mmpose's loop formulation on the same boxes.

    python benchmarks/postprocess.py            # 2,000 images x 50 detections, best of 3
    python benchmarks/postprocess.py --quick    # 300 images x 50 detections, one run

Detections are generated deterministically as clusters of near-duplicate poses (as a detector's
overlapping boxes give); the table gives the wall time of each, the ratio, and whether both keep
exactly the same detections.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

from posekit.datasets.schema import get_preset
from posekit.metrics.nms import nms_per_image
from posekit.topdown.processor import TopDownProcessor


def make_detections(num_images: int, per_image: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``per_image`` detections per image: a few people, each seen by several jittered boxes."""
    rng = np.random.default_rng(seed)
    n = num_images * per_image
    people = rng.uniform(0, 600, (num_images, 6, 1, 2)) + rng.normal(0, 40, (num_images, 6, 17, 2))
    owner = rng.integers(0, 6, (num_images, per_image))
    base = np.take_along_axis(people, owner[:, :, None, None], axis=1).reshape(n, 17, 2)
    keypoints = base + rng.normal(0, rng.uniform(0.5, 8, (n, 1, 1)), (n, 17, 2))
    return {
        "image_ids": np.repeat(np.arange(num_images), per_image),
        "keypoints": keypoints,
        "keypoint_scores": rng.uniform(0, 1, (n, 17)),
        "box_scores": rng.uniform(0, 1, n),
        "areas": rng.uniform(2_000, 40_000, n),
    }


def reference_nms(
    dets: dict[str, np.ndarray], scores: np.ndarray, sigmas: np.ndarray, thr: float
) -> np.ndarray:
    """mmpose's ``oks_nms`` (flattened [x, y, v] rows, a Python loop over the remaining detections)."""
    variances = (sigmas * 2) ** 2
    keep_all = []
    for image_id in np.unique(dets["image_ids"]):
        idx = np.flatnonzero(dets["image_ids"] == image_id)
        kpts, areas, s = dets["keypoints"][idx], dets["areas"][idx], scores[idx]
        order = np.argsort(-s, kind="stable")
        while len(order):
            i = order[0]
            keep_all.append(idx[i])
            ious = np.zeros(len(order) - 1)
            for n, j in enumerate(order[1:]):
                d2 = ((kpts[j] - kpts[i]) ** 2).sum(-1)
                e = d2 / variances / ((areas[i] + areas[j]) / 2 + np.spacing(1)) / 2
                ious[n] = np.exp(-e).mean()
            order = order[1:][ious <= thr]
    return np.sort(np.asarray(keep_all))


def best_time(fn: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 images, one run")
    args = parser.parse_args()
    images, repeats = (300, 1) if args.quick else (2000, 3)
    dets = make_detections(images, 50)
    sigmas = get_preset("coco17").sigmas_array
    scores = TopDownProcessor().rescore(dets["keypoint_scores"], dets["box_scores"])
    ours_s, ours = best_time(
        lambda: nms_per_image(dets["image_ids"], dets["keypoints"], scores, dets["areas"], sigmas), repeats
    )
    ref_s, ref = best_time(lambda: reference_nms(dets, scores, sigmas, 0.9), repeats)
    table = Table(title=f"OKS-NMS (threshold 0.9), {images} images x 50 detections, best of {repeats}")
    for column in ("implementation", "time (s)", "vs mmpose loop", "kept", "same detections kept"):
        table.add_column(column, justify="left" if column == "implementation" else "right")
    same = "yes" if np.array_equal(ours, ref) else "NO"
    table.add_row(
        "posekit nms_per_image", f"{ours_s:.3f}", f"{ref_s / ours_s:.1f}x faster", str(len(ours)), same
    )
    table.add_row("mmpose oks_nms (loop)", f"{ref_s:.3f}", "1.0x", str(len(ref)), "-")
    Console().print(table)


if __name__ == "__main__":
    main()
