"""GPU throughput: ViTPose-S/B training samples/s and the share of each step the GPU waits for data,
inference crops/s in bf16 and fp16 at batch 1..256, and end-to-end video frames/s.

    python benchmarks/gpu.py                # on a CUDA GPU: ~10 min
    python benchmarks/gpu.py --dry-run      # the same code on the CPU, tiny sizes (the test suite runs it)

Weights are random (speed does not depend on them). Training is the engine's loss and data pipeline
(``TopDownDataset`` with augmentation, ``heatmap_loss``, AdamW) in bf16 autocast on the built-in sample,
``--workers`` loader processes: the data-wait share is the time spent waiting for the next batch over
the step time (a GPU starved by the loader shows a large share; add workers). Video: the predictor on a
generated 640x480 clip of 3 walkers with ground-truth boxes every frame (``det-every 1``; the pose model
is what the GPU speeds up) and the default precision.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader

import posekit
from posekit.datasets.data_config import resolve_data
from posekit.device import resolve_precision, torch_dtype
from posekit.engine.train import heatmap_loss
from posekit.inference.predictor import Predictor, TorchRunner
from posekit.models.vitpose import load_model
from posekit.samples import locate
from posekit.samples.sample_images import generate_sample
from posekit.samples.sample_video import generate_video
from posekit.topdown.training_dataset import TopDownDataset, collate

console = Console(width=120)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_throughput(
    model_name: str, data: Path | str, device: torch.device, batch: int, steps: int, workers: int, size: tuple
) -> tuple[float, float]:
    """Samples/s of training steps and the share of step time spent waiting for the loader."""
    model = load_model(model_name, pretrained="none", input_size=size).to(device).train()
    dataset = TopDownDataset(resolve_data(locate(data)).load_split("train"), model.processor, train=True)
    loader = DataLoader(
        dataset, batch_size=batch, shuffle=True, num_workers=workers, collate_fn=collate, drop_last=True,
        pin_memory=device.type == "cuda", persistent_workers=workers > 0,
    )  # fmt: skip
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda")
    waited = total = 0.0
    done = 0
    while done < steps + 1:
        batches = iter(loader)
        while done < steps + 1:
            start = time.perf_counter()
            item = next(batches, None)
            if item is None:
                break
            ready = time.perf_counter()
            pixels = item["pixel_values"].to(device, non_blocking=True)
            with autocast:
                loss = heatmap_loss(
                    model(pixels).float(), item["heatmaps"].to(device), item["target_weights"].to(device)
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            synchronize(device)
            if done:  # the first step (allocation, loader start-up) is not counted
                waited += ready - start
                total += time.perf_counter() - start
            done += 1
    return steps * batch / total, waited / total


def crops_per_second(
    model_name: str, device: torch.device, precision: str, batch: int, size: tuple, seconds: float
) -> float:
    model = (
        load_model(model_name, pretrained="none", input_size=size).to(device, torch_dtype(precision)).eval()
    )
    x = torch.randn(batch, 3, *size, device=device, dtype=torch_dtype(precision))
    with torch.inference_mode():
        model(x)
        synchronize(device)
        count, start = 0, time.perf_counter()
        while count < 3 or time.perf_counter() - start < seconds:
            model(x)
            count += 1
        synchronize(device)
    return count * batch / (time.perf_counter() - start)


def video_fps(device: torch.device, tmp: Path, frames: int, size: tuple, image_size: tuple) -> float:
    folder = tmp / "clip"
    generate_video(folder, num_frames=frames, image_size=image_size, num_people=3, seed=7)
    gt = posekit.datasets.coco_keypoints.load_coco(folder / "annotations.json").by_image()
    boxes = [np.array([a.bbox for a in gt[i + 1]], np.float64).reshape(-1, 4) for i in range(frames)]
    model = load_model("vitpose-s", pretrained="none", input_size=size)
    predictor = Predictor(TorchRunner(model, str(device), "vitpose-s"))
    list(predictor.predict(folder / "video.mp4", boxes=boxes, det_every=1))  # warm-up
    start = time.perf_counter()
    count = sum(1 for _ in predictor.predict(folder / "video.mp4", boxes=boxes, det_every=1))
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: checks the code runs")
    parser.add_argument("--workers", type=int, default=8, help="training data loader processes")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run with --dry-run to check the script on the CPU")
    device = torch.device("cpu" if args.dry_run else "cuda")
    models = ["vitpose-t"] if args.dry_run else ["vitpose-s", "vitpose-b"]
    size = (64, 48) if args.dry_run else (256, 192)
    batches = [1, 2] if args.dry_run else [1, 8, 32, 64, 128, 256]
    steps, workers, train_batch = (2, 0, 2) if args.dry_run else (30, args.workers, 64)
    frames, image_size = (3, (120, 160)) if args.dry_run else (100, (480, 640))
    seconds = 0.0 if args.dry_run else 1.0  # per inference measurement (at least 3 calls)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        data = generate_sample(tmp / "sample", num_train=8, num_val=2) if args.dry_run else "sample"

        out = Table(title=f"Training, {name}: batch {train_batch}, {workers} loader workers, bf16 autocast")
        for column in ("model", "samples/s", "GPU waiting for data"):
            out.add_column(column, justify="left" if column == "model" else "right")
        for model_name in models:
            rate, wait = train_throughput(model_name, data, device, train_batch, steps, workers, size)
            out.add_row(model_name, f"{rate:.1f}", f"{100 * wait:.0f}%")
        console.print(out)

        precisions = ["bf16", "fp16"] if device.type == "cuda" else ["fp32"]
        out = Table(title=f"Inference crops/s, {name}, {size[0]}x{size[1]}")
        out.add_column("model / precision")
        for batch in batches:
            out.add_column(f"batch {batch}", justify="right")
        for model_name in models:
            for precision in precisions:
                rates = [crops_per_second(model_name, device, precision, b, size, seconds) for b in batches]
                out.add_row(f"{model_name} {precision}", *(f"{r:.0f}" for r in rates))
        console.print(out)

        fps = video_fps(device, tmp, frames, size, image_size)
        auto = resolve_precision("auto", device)
        clip = f"{image_size[1]}x{image_size[0]}, 3 walkers, ViTPose-S {auto}, ground-truth boxes every frame"
        console.print(f"Video: {fps:.1f} frames/s ({clip})")


if __name__ == "__main__":
    main()
