"""Data pipeline throughput on one core: training crops/s vs bare JPEG decode of the same images.

A training crop = read + decode the JPEG, sample the augmentation, UDP-warp the crop, colour jitter,
encode the 17 heatmap targets and normalise to a tensor (``TopDownDataset.__getitem__``). "Bare decode"
is ``cv2.imread`` of the same image for every crop, in the same (shuffled, as in training) order, so the
ratio says how much the pipeline costs on top of decoding. Also: evaluation crops (no augmentation)
and heatmap decoding (argmax + DARK) for many people at once.

    python benchmarks/data_pipeline.py [--quick] [--data sample|coco|PATH.json]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from posekit.datasets.coco_keypoints import load_coco
from posekit.datasets.records import KeypointAnnotations
from posekit.samples.sample_images import generate_sample
from posekit.topdown.heatmap_codec import UDPHeatmapCodec
from posekit.topdown.training_dataset import TopDownDataset

REPO = Path(__file__).resolve().parents[1]


def shared_coco() -> Path | None:
    """The COCO sample of ../shared/data (or $POSEKIT_SHARED_DATA), when present."""
    root = Path(os.environ.get("POSEKIT_SHARED_DATA") or REPO.parent / "shared" / "data")
    path = root / "coco" / "test_coco.json"
    return path if path.is_file() else None


def best_rates(fns: dict[str, Callable[[int], object]], order: np.ndarray, rounds: int) -> dict[str, float]:
    """Items per CPU second of each ``fn(index)`` over ``order``: the best of ``rounds`` interleaved passes.

    CPU time of this process (one thread), not wall time, and the best pass (as ``timeit`` advises):
    the figures are per core and as little disturbed as possible by other work on the machine.
    Interleaving the functions round by round keeps their ratio fair when the load changes.
    """
    for fn in fns.values():
        fn(int(order[0]))  # warm-up (imports, caches)
    best = dict.fromkeys(fns, 0.0)
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.process_time()
            for index in order:
                fn(int(index))
            best[name] = max(best[name], len(order) / (time.process_time() - start))
    return best


def measure(name: str, data: KeypointAnnotations, rounds: int) -> list[tuple[str, str, str]]:
    train = TopDownDataset(data, seed=0)
    evaluation = TopDownDataset(data, train=False)
    order = np.random.default_rng(0).permutation(len(train))  # shuffled, as a training sampler reads
    paths = [str(data.images[person.image_id].path) for person in train.people]
    fns = {"decode": lambda i: cv2.imread(paths[i]), "train": train.__getitem__}
    rates = best_rates({**fns, "eval": evaluation.__getitem__}, order, rounds)
    height, width = cv2.imread(paths[0]).shape[:2]
    label = f"{name} ({len(data.images)} images {width}x{height}, {len(train)} people)"
    return [
        (label, "bare JPEG decode (cv2.imread), images/s", f"{rates['decode']:,.0f}"),
        (label, "training crops/s (decode+augment+warp+targets)", f"{rates['train']:,.0f}"),
        (label, "ratio training crops / bare decodes", f"{rates['train'] / rates['decode']:.2f}"),
        (label, "evaluation crops/s (decode+warp, no targets)", f"{rates['eval']:,.0f}"),
    ]


def measure_decode(people: int, rounds: int) -> tuple[str, str, str]:
    codec = UDPHeatmapCodec()
    rng = np.random.default_rng(0)
    points = rng.uniform([0, 0], [191, 255], size=(people, 17, 2))
    heatmaps = np.stack([codec.encode(p, np.ones(17))[0] for p in points])
    heatmaps += rng.normal(0, 0.01, heatmaps.shape).astype(np.float32)
    calls = best_rates({"decode": lambda _: codec.decode(heatmaps)}, np.zeros(1, int), rounds * 3)["decode"]
    return (f"heatmap decode, batch of {people} x 17", "people/s (argmax+DARK)", f"{calls * people:,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (fewer images and rounds)")
    parser.add_argument("--data", default="both", help="sample | coco | both | a COCO keypoint JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one core: the figure is per core (DataLoader workers scale it)
    cv2.setNumThreads(1)
    rounds = 3 if args.quick else 10
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.data in ("sample", "both"):
            count = 12 if args.quick else 40
            generate_sample(tmp, num_train=count, num_val=1, seed=0, image_size=(480, 640))
            data = load_coco(Path(tmp) / "train.json", images=Path(tmp) / "images" / "train")
            rows += measure("built-in sample", data, rounds)
        if args.data in ("coco", "both") and shared_coco() is not None:
            rows += measure("COCO val2017 sample", load_coco(shared_coco()), rounds)
        if args.data not in ("sample", "coco", "both"):
            rows += measure(Path(args.data).name, load_coco(args.data), rounds)
    rows.append(measure_decode(256 if args.quick else 1024, rounds))
    versions = f"torch {torch.__version__}, OpenCV {cv2.__version__}"
    table = Table(title=f"posekit data pipeline: items per CPU second, 1 thread ({versions})")
    for column in ("data", "measure", "value"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in rows:
        table.add_row(*row)
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
