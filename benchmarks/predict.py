"""Inference speed on this machine: ViTPose-S crops/s (PyTorch eager vs ONNX Runtime, batch 1 and 8) and
end-to-end frames/s on a generated 640x480 video with 3 people, person detector included.

Weights are random (no downloads here): speed does not depend on them. The detector is a random
RT-DETR with the R18 architecture at 640x640 (``save_random_detector(..., "r18")``); as random scores
would pass no threshold, its 3 best person boxes per frame are kept, so the pose model sees 3 people.

    python benchmarks/predict.py [--quick] [--threads N]

On a small shared VM, one thread can beat two by a wide margin at batch 1 (each op's thread-pool
synchronisation costs milliseconds when the cores are busy): compare ``--threads 1`` with the default.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import posekit
from posekit.inference.onnx_runtime import OnnxRunner
from posekit.inference.predictor import Predictor, TorchRunner
from posekit.inference.video import VideoWriter
from posekit.models.detector import PersonDetector, save_random_detector
from posekit.models.vitpose import load_model


class TopPeople:
    """Keep a detector's ``k`` best person boxes per frame (random weights score below any threshold)."""

    def __init__(self, detector: PersonDetector, k: int = 3) -> None:
        self.detector, self.k = detector, k

    def detect(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(boxes[: self.k], scores[: self.k]) for boxes, scores in self.detector.detect(images)]


def crops_per_second(runner, batch: int, seconds: float) -> float:
    x = np.random.default_rng(0).standard_normal((batch, 3, *runner.processor.input_size)).astype(np.float32)
    runner(x)  # warm-up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or count < 2:
        runner(x)
        count += 1
    return count * batch / (time.perf_counter() - start)


def make_video(path: Path, num_frames: int) -> Path:
    """640x480, 25 fps, three figures walking."""
    rng = np.random.default_rng(0)
    with VideoWriter(path, 25.0, (480, 640)) as writer:
        for t in range(num_frames):
            frame = np.full((480, 640, 3), 60, np.uint8)
            for i, (x, y) in enumerate([(80 + 3 * t, 120), (300 - 2 * t, 150 + t), (480, 100 + 2 * t)]):
                colour = [(220, 90, 90), (90, 220, 90), (90, 90, 220)][i]
                cv2.circle(frame, (x + 30, y + 20), 18, colour, -1)
                cv2.rectangle(frame, (x + 12, y + 42), (x + 48, y + 140), colour, -1)
                cv2.line(frame, (x + 18, y + 140), (x + 5, y + 230), colour, 8)
                cv2.line(frame, (x + 42, y + 140), (x + 55, y + 230), colour, 8)
            writer.write(frame + rng.integers(0, 12, frame.shape, dtype=np.uint8))
    return path


def frames_per_second(predictor, video: Path, detector: TopPeople, batch: int) -> float:
    warm_up = predictor.predict(video, detector=detector, batch_size=batch, track=True, stream=True)
    next(warm_up)  # one chunk of ``batch`` frames
    warm_up.close()
    start = time.perf_counter()
    stream = predictor.predict(video, detector=detector, batch_size=batch, track=True, stream=True)
    frames = sum(1 for _ in stream)
    return frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short timings (noisier)")
    parser.add_argument(
        "--threads", type=int, help="CPU threads for PyTorch and ONNX Runtime (default: theirs)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    seconds, num_frames = (1.5, 8) if args.quick else (5.0, 16)
    console = Console(width=120)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = load_model("vitpose-s", pretrained="none")
        model_dir = model.save(tmp / "vitpose-s")
        onnx_path = posekit.export(model_dir, output=tmp / "vitpose-s.onnx", dynamic_batch=True).path
        torch_runner = TorchRunner(model, device="cpu", name="vitpose-s")
        onnx_runner = OnnxRunner(onnx_path, threads=args.threads)

        table = Table(
            title=f"ViTPose-S crops/s, 256x192, CPU ({torch.get_num_threads()} torch threads)", min_width=90
        )
        for column in ("runtime", "batch 1", "batch 8"):
            table.add_column(column, justify="right" if column != "runtime" else "left")
        rates = {}
        for name, runner in (("PyTorch eager (SDPA)", torch_runner), ("ONNX Runtime", onnx_runner)):
            rates[name] = [crops_per_second(runner, b, seconds) for b in (1, 8)]
            table.add_row(name, *(f"{r:.1f}" for r in rates[name]))
        ratio = [o / t for o, t in zip(rates["ONNX Runtime"], rates["PyTorch eager (SDPA)"], strict=True)]
        table.add_row("ONNX / PyTorch", *(f"{r:.2f}x" for r in ratio))
        console.print(table)

        video = make_video(tmp / "walk.mp4", num_frames)
        detector = TopPeople(PersonDetector(save_random_detector(tmp / "rtdetr-r18", "r18"), threshold=0.0))
        title = f"End to end: 640x480 video, {num_frames} frames, 3 people, RT-DETR-R18 (random) + ViTPose-S"
        e2e = Table(title=title, min_width=90)
        for column in ("pose runtime", "frames/s", "ms/frame"):
            e2e.add_column(column, justify="right" if column != "pose runtime" else "left")
        for name, runner in (("PyTorch", torch_runner), ("ONNX Runtime", onnx_runner)):
            fps = frames_per_second(Predictor(runner), video, detector, batch=8)
            e2e.add_row(name, f"{fps:.2f}", f"{1000 / fps:.0f}")
        start = time.perf_counter()
        detector.detect([np.zeros((480, 640, 3), np.uint8)] * 4)
        e2e.caption = f"detector alone: {(time.perf_counter() - start) / 4 * 1000:.0f} ms/frame (batch 4)"
        console.print(e2e)


if __name__ == "__main__":
    main()
