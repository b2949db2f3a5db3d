"""Real-time pose on video: speed (frames/s, ms per stage) and quality (AP, MOTA, ID switches, jitter).

    python benchmarks/video.py --quick          # ~10 min on a quiet 2-core CPU (estimated; full: ~25 min)
    python benchmarks/video.py --model runs/train/exp/weights/best   # the sample model (the default)
    python benchmarks/video.py --only speed     # sections: detectors, speed, quality
    python benchmarks/video.py --threads 1      # PyTorch and ONNX Runtime threads (default: theirs)

Runtimes and precisions one by one (crops/s, share of the CPU's peak, AP change): benchmarks/cpu_limit.py.

Sections, each timed side by side in this one process (configurations alternate, medians reported):

- ``detectors``: ms per 640x480 frame of the person-detector candidates (random weights of their real
  configurations; speed does not depend on weights): D-FINE-N/S, RT-DETR-R18, RT-DETRv2-S, RT-DETR-R50.
- ``speed``: end to end on generated 640x480 clips with 1 and 3 people (the video sample's walkers):
  posekit (det-every 1 in PyTorch fp32; the default settings, i.e. ``--runtime auto --precision auto``;
  PyTorch bf16, the default before OpenVINO; ONNX Runtime int8; flip on; detection overlapped in a
  thread) beside the plain transformers recipe (detector + ``VitPoseImageProcessor`` +
  model + ``post_process_pose_estimation`` on every frame, fp32), with RT-DETR-R50 (the detector of the
  transformers VitPose documentation) and with D-FINE-N. Random weights find no real person and would
  make the keypoint-following of det-every N behave like no model does, so the work is real and the
  behaviour borrowed: the random detector runs (its cost) and hands on the frame's ground-truth boxes;
  random ViTPose-S runs on the crops (its cost) and the sample-trained ViTPose-T, run on the same crops
  at half size, supplies the heatmaps (made in the warm-up run and looked up in the timed ones, as the
  real pipeline runs no second model; the look-up's time is printed).
- ``quality``: the sample-trained model on the video sample with ground-truth boxes as the detector
  (an oracle: the comparison is of what happens between detections): AP, MOTA, ID switches, IDF1 and
  jitter for det-every 1 (OKS matcher alone) and N = 2, 3, 5, 10; flip on/off; raw / One-Euro /
  offline smoothing.

The machine this was written on is shared with other jobs: read ratios between rows, not absolute
numbers, unless the machine was quiet.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import posekit
from posekit.datasets.coco_keypoints import load_coco
from posekit.datasets.data_config import resolve_data
from posekit.device import cpu_has_fast_bf16, openvino_installed
from posekit.inference import predictor as predictor_module
from posekit.inference.detector_runtime import on_openvino
from posekit.inference.pipeline import StageTimes
from posekit.inference.predictor import Predictor, TorchRunner
from posekit.inference.smoothing import smooth_offline, smooth_online
from posekit.inference.sources import resolve_source
from posekit.inference.video import VideoReader
from posekit.metrics.keypoint_metrics import evaluate_predictions
from posekit.metrics.video import evaluate_video
from posekit.models.detector import PersonDetector, save_random_detector
from posekit.models.vitpose import load_model
from posekit.samples import locate
from posekit.samples.sample_video import generate_video
from posekit.settings import DET_EVERY

console = Console(width=130)


def alternate(runs: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each run, the runs taking turns (load on a shared machine hits them alike)."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def table(title: str, columns: list[str]) -> Table:
    out = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        out.add_column(column, justify="left" if i == 0 else "right")
    return out


# ---------------------------------------------------------------------------------------------- detectors
def detectors_section(tmp: Path, rounds: int) -> None:
    names = {
        "dfine-n": "D-FINE-N (fast)",
        "dfine-s": "D-FINE-S",
        "r18": "RT-DETR-R18",
        "rtdetr-v2-r18": "RT-DETRv2-S (R18)",
        "r50": "RT-DETR-R50 (accurate)",
    }
    torch.manual_seed(0)
    built = {k: PersonDetector(save_random_detector(tmp / k, k), threshold=0.0) for k in names}
    weights = {k: sum(p.numel() for p in d.model.parameters()) / 1e6 for k, d in built.items()}
    if openvino_installed():  # posekit's default detector where the pose model runs on OpenVINO
        names["dfine-n openvino"], weights["dfine-n openvino"] = (
            "D-FINE-N on OpenVINO fp32",
            weights["dfine-n"],
        )
        built["dfine-n openvino"] = on_openvino(PersonDetector(tmp / "dfine-n", threshold=0.0))
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    for detector in built.values():
        detector.detect([image])  # warm-up
    seconds = alternate({k: (lambda d=d: d.detect([image])) for k, d in built.items()}, rounds)
    fast = np.median(seconds["dfine-n"])
    out = table(
        "Person detectors: one 640x480 frame (640x640 input), random weights",
        ["detector", "weights", "ms", "x D-FINE-N"],
    )
    for key, label in names.items():
        ms = np.median(seconds[key])
        out.add_row(label, f"{weights[key]:.1f} M", f"{1000 * ms:.0f}", f"{ms / fast:.2f}")
    console.print(out)


# ---------------------------------------------------------------------------------------------- speed
class OracleDetector:
    """Runs a (random) detector for its cost and returns the frame's ground-truth person boxes."""

    def __init__(self, detector: Any, boxes_by_key: dict[int, np.ndarray]) -> None:
        self.detector, self.boxes_by_key, self.name = detector, boxes_by_key, "oracle"

    def detect(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        self.detector.detect(images)
        return [(b := self.boxes_by_key[frame_key(image)], np.full(len(b), 0.9)) for image in images]


def frame_key(image: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(image[::7, ::7]).data)


class GuidedRunner:
    """ViTPose-S's cost (``cost``, in any precision or runtime) with the trained ViTPose-T's heatmaps
    (``guide``, on the same crops at half size, upsampled to ViTPose-S's heatmap size).

    The guide's heatmaps are kept per batch of crops (by a checksum of the pixels): a run repeats the
    warm-up run's crops exactly, so the timed runs look them up instead of paying a model that the real
    pipeline does not run (``guide`` in the table: the look-up's time, or the guide's where it had to run).
    """

    def __init__(self, cost: Any, guide: TorchRunner) -> None:
        self.cost, self.guide = cost, guide
        self.processor, self.schema, self.name = cost.processor, cost.schema, cost.name
        self.device, self.runtime, self.precision = cost.device, cost.runtime, cost.precision
        self.guide_seconds = 0.0
        self._heatmaps: dict[tuple[int, ...], np.ndarray] = {}

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        self.cost(pixel_values)
        start = time.perf_counter()
        key = (*pixel_values.shape, zlib.crc32(np.ascontiguousarray(pixel_values).data))
        if key not in self._heatmaps:
            h, w = self.guide.processor.input_size
            small = torch.nn.functional.interpolate(torch.from_numpy(pixel_values), (h, w), mode="area")
            heatmaps = torch.from_numpy(self.guide(small.numpy()))
            size = self.processor.heatmap_size
            self._heatmaps[key] = torch.nn.functional.interpolate(heatmaps, size, mode="bilinear").numpy()
        self.guide_seconds += time.perf_counter() - start
        return self._heatmaps[key]


class TransformersRecipe:
    """The transformers VitPose documentation's recipe, every frame, fp32: detector image processor +
    model + ``post_process_object_detection``, then ``VitPoseImageProcessor`` + ``VitPoseForPoseEstimation``
    + ``post_process_pose_estimation``."""

    def __init__(self, detector: OracleDetector, pose_net: Any) -> None:
        from transformers import VitPoseImageProcessorPil

        self.detector, self.net = detector, pose_net.eval()
        h, w = pose_net.config.backbone_config.image_size
        self.processor = VitPoseImageProcessorPil(size={"height": h, "width": w})
        self.times = StageTimes()

    @torch.inference_mode()
    def run(self, video: Path, frames: int) -> int:
        self.times = StageTimes()
        count = 0
        for image in self.times.timed(VideoReader(video).frames(0, frames), "decode"):
            with self.times("detect", 1):
                ((boxes, _),) = self.detector.detect([image])
            with self.times("pose", 1):
                if len(boxes):
                    inputs = self.processor(image, boxes=[boxes], return_tensors="pt")
                    outputs = self.net(**inputs)
                    self.processor.post_process_pose_estimation(outputs, boxes=[boxes])
            count += 1
        return count


class SpeedRun:
    """One pipeline over the first ``frames`` frames of a clip: frames/s and ms per stage."""

    def __init__(self, run: Callable[[], tuple[int, dict[str, float]]]) -> None:
        self.run, self.frames, self.stages = run, 0, {}

    def __call__(self) -> None:
        self.frames, self.stages = self.run()


def recipe_run(recipe: TransformersRecipe, video: Path, frames: int) -> SpeedRun:
    def run() -> tuple[int, dict[str, float]]:
        count = recipe.run(video, frames)
        return count, recipe.times.ms_per_frame(count)

    return SpeedRun(run)


def posekit_run(
    predictor: Predictor, video: Path, frames: int, detector: Any, overlap: bool = False, **settings: Any
) -> SpeedRun:
    def run() -> tuple[int, dict[str, float]]:
        predictor_module.OVERLAP_ON_CPU = overlap
        predictor.runner.guide_seconds = 0.0
        try:
            source = resolve_source(video).select(0, frames)
            count = sum(1 for _ in predictor.predict(source, detector=detector, **settings))
        finally:
            predictor_module.OVERLAP_ON_CPU = False
        stages = predictor.times.ms_per_frame(count)
        return count, {**stages, "guide": 1000 * predictor.runner.guide_seconds / count}

    return SpeedRun(run)


def speed_section(tmp: Path, trained: Path, rounds: int, frames: int, threads: int | None) -> None:
    torch.manual_seed(0)
    pose_s = load_model("vitpose-s", pretrained="none")
    guide = TorchRunner(load_model(trained), "cpu", "vitpose-t (trained)")
    detectors = {
        k: PersonDetector(save_random_detector(tmp / k, k), threshold=0.0) for k in ("dfine-n", "r50")
    }
    base = Predictor(TorchRunner(copy.deepcopy(pose_s), "cpu", "vitpose-s"))
    auto = base.backend()
    # the detector where posekit runs it by default: on OpenVINO when the pose model runs there
    detectors["dfine-n auto"] = detectors["dfine-n"]
    if auto.runtime == "openvino":
        built = PersonDetector(tmp / "dfine-n", threshold=0.0)
        detectors["dfine-n auto"] = on_openvino(built)
    variants = {
        "fp32": base.runner,
        "auto": base.runner_for(),
        "int8": base.runner_for("int8", runtime="onnxruntime"),
    }
    if cpu_has_fast_bf16():
        variants["bf16"] = base.runner_for("bf16", runtime="torch")
    guided = {k: Predictor(GuidedRunner(v, guide)) for k, v in variants.items()}
    default = guided["auto"]
    for people in (3, 1):
        video, boxes = speed_clip(tmp, people, frames)
        oracle = {k: OracleDetector(d, boxes) for k, d in detectors.items()}
        fast, fast_auto = oracle["dfine-n"], oracle["dfine-n auto"]
        n = DET_EVERY
        runs = {
            "transformers recipe, RT-DETR-R50 (docs)": recipe_run(
                TransformersRecipe(oracle["r50"], copy.deepcopy(pose_s.net)), video, frames
            ),
            "transformers recipe, D-FINE-N": recipe_run(
                TransformersRecipe(fast, copy.deepcopy(pose_s.net)), video, frames
            ),
            "posekit det-every 1, PyTorch fp32": posekit_run(
                guided["fp32"], video, frames, fast, det_every=1
            ),
            f"posekit default (det-every {n}, {auto.runtime} {auto.precision})": posekit_run(
                default, video, frames, fast_auto
            ),
            f"posekit det-every {n}, ONNX Runtime int8": posekit_run(guided["int8"], video, frames, fast),
            f"posekit det-every {n}, flip test on": posekit_run(default, video, frames, fast_auto, flip=True),
            f"posekit det-every {n}, detection in a thread": posekit_run(
                default, video, frames, fast_auto, overlap=True
            ),
        }
        if "bf16" in guided:
            runs[f"posekit det-every {n}, PyTorch bf16"] = posekit_run(guided["bf16"], video, frames, fast)
        for run in runs.values():  # warm-up
            run()
        seconds = alternate(runs, rounds)
        baseline = np.median(seconds["transformers recipe, RT-DETR-R50 (docs)"])
        per_frame = np.mean([len(b) for b in boxes.values()])
        title = (
            f"End to end: 640x480, {people} walker(s) ({per_frame:.1f} people per frame), {frames} frames, "
            f"ViTPose-S (random, guided) + random detectors, {torch.get_num_threads()} torch threads, "
            f"load {os.getloadavg()[0]:.1f}"
        )
        columns = ["pipeline", "frames/s", "x recipe R50", "decode", "detect", "pose", "track", "guide"]
        out = table(title, columns)
        for name, values in seconds.items():
            run = runs[name]
            out.add_row(
                name, f"{run.frames / np.median(values):.2f}", f"{baseline / np.median(values):.2f}",
                *(f"{run.stages.get(k, 0.0):.1f}" for k in ("decode", "detect", "pose", "track", "guide")),
            )  # fmt: skip
        out.caption = (
            "ms per frame by stage (stages in threads overlap); guide: looking up the heatmaps ViTPose-T "
            "made for these crops in the warm-up run, inside pose"
        )
        console.print(out)


def speed_clip(tmp: Path, people: int, frames: int) -> tuple[Path, dict[int, np.ndarray]]:
    """A 640x480 clip of ``people`` walkers and its ground-truth boxes by frame key."""
    folder = tmp / f"clip{people}"
    generate_video(folder, num_frames=frames, num_people=people, seed=7)
    coco = load_coco(folder / "annotations.json")
    by_image = coco.by_image()
    boxes = {}
    for index, image in enumerate(VideoReader(folder / "video.mp4").frames(0, frames)):
        anns = by_image[index + 1]
        boxes[frame_key(image)] = np.array([a.bbox for a in anns], np.float64).reshape(-1, 4)
    return folder / "video.mp4", boxes


# ---------------------------------------------------------------------------------------------- quality
class VideoSample:
    """The video sample's first ``frames`` frames: ground truth, per-frame boxes, and the measures."""

    def __init__(self, trained: Path, frames: int | None) -> None:
        gt_path = resolve_data(locate("sample-video")).val.json_path
        self.video = gt_path.parent / "video.mp4"
        gt = json.loads(gt_path.read_text())  # frame i of the video is image id i + 1
        count = len(gt["images"]) if frames is None else min(frames, len(gt["images"]))
        self.gt = {
            **gt,
            "images": [im for im in gt["images"] if im["id"] <= count],
            "annotations": [a for a in gt["annotations"] if a["image_id"] <= count],
        }
        self.count = count
        self.boxes = [np.zeros((0, 4)) for _ in range(count)]
        for a in self.gt["annotations"]:
            if a["num_keypoints"] > 0:
                self.boxes[a["image_id"] - 1] = np.vstack([self.boxes[a["image_id"] - 1], a["bbox"]])
        self.predictor = posekit.load(trained, device="cpu").predictor

    def run(self, det_every: int, **options: Any) -> list[Any]:
        """Tracked predictions with the ground-truth boxes as the box source every ``det_every`` frames."""
        source = resolve_source(self.video).select(0, self.count)
        predict = self.predictor.predict
        return list(
            predict(source, boxes=self.boxes, det_every=det_every, track=True, tracker="oks", **options)
        )

    def measure(self, results: list[Any], keypoints: list[np.ndarray] | None = None) -> dict[str, float]:
        """AP (points), MOTA, ID switches, IDF1 and jitter of ``results`` (with ``keypoints`` instead)."""
        rows = []
        for i, result in enumerate(results):
            if keypoints is not None:
                result = copy.copy(result)
                result.keypoints = keypoints[i]
            rows += [{**row, "image_id": result.index + 1} for row in result.to_coco()]
        report = evaluate_predictions(self.gt, rows, self.predictor.schema, keypoint_ap=False)
        video = evaluate_video(self.gt, rows, keypoint_threshold=0.3)  # as posekit val (--conf 0.3)
        return {"AP": 100 * report.metrics["coco"]["AP"], **{k: video[k] for k in QUALITY}}


QUALITY = ("MOTA", "id_switches", "IDF1", "jitter")


def quality_row(name: str, key_frames: Any, m: dict[str, float]) -> list[str]:
    return [name, str(key_frames), f"{m['AP']:.2f}", f"{m['MOTA']:.4f}", str(m["id_switches"]),
            f"{m['IDF1']:.4f}", f"{m['jitter']:.3f}"]  # fmt: skip


def quality_section(tmp: Path, trained: Path, frames: int | None) -> None:
    sample = VideoSample(trained, frames)
    columns = ["setting", "key frames", "AP", "MOTA", "ID switches", "IDF1", "jitter px/frame^2"]
    title = (
        f"Video sample ({sample.count} frames; ground-truth boxes as the detector), sample-trained ViTPose-T"
    )
    out = table(title, columns)
    for det_every in (1, 2, 3, 5, 10):
        m = sample.measure(sample.run(det_every))
        name = f"det-every {det_every}" + {1: " (OKS matcher alone)", DET_EVERY: " (default)"}.get(
            det_every, ""
        )
        out.add_row(*quality_row(name, sample.predictor.settings.get("key_frames", sample.count), m))
    m = sample.measure(sample.run(DET_EVERY, flip=True))
    out.add_row(
        *quality_row(f"det-every {DET_EVERY}, flip test on", sample.predictor.settings["key_frames"], m)
    )
    console.print(out)

    results = sample.run(DET_EVERY)
    ids, raw = [r.track_ids for r in results], [r.keypoints for r in results]
    smoothed = {
        "raw": raw,
        "One-Euro (online)": smooth_online(ids, raw, [r.boxes for r in results], 25.0),
        "offline (gap filling + Savitzky-Golay)": smooth_offline(
            ids, raw, [r.keypoint_scores for r in results]
        ),
    }
    columns = ["smoothing", "AP", "MOTA", "jitter px/frame^2", "jitter change", "AP change"]
    out = table(f"Smoothing at the default settings (det-every {DET_EVERY})", columns)
    base = sample.measure(results)
    for name, keypoints in smoothed.items():
        m = sample.measure(results, keypoints)
        change = f"{100 * (m['jitter'] / base['jitter'] - 1):+.0f}%"
        out.add_row(
            name,
            f"{m['AP']:.2f}",
            f"{m['MOTA']:.4f}",
            f"{m['jitter']:.3f}",
            change,
            f"{m['AP'] - base['AP']:+.2f}",
        )
    console.print(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="runs/train/exp/weights/best", type=Path, help="the sample model (`posekit train`)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer frames and rounds (~8 min)")
    parser.add_argument("--only", default="detectors,speed,quality", help="comma-separated sections")
    parser.add_argument("--threads", type=int, help="PyTorch and ONNX Runtime threads (default: theirs)")
    parser.add_argument("--frames", type=int, help="frames per speed run (default: 30 quick, 100 full)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default: 3 quick, 5 full)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.model.is_dir():
        raise SystemExit(f"the sample-trained model {args.model} is missing: train it with `posekit train`")
    rounds, frames = (3, 30) if args.quick else (5, 100)
    rounds, frames = args.rounds or rounds, args.frames or frames
    sections = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if "detectors" in sections:
            detectors_section(tmp, rounds)
        if "speed" in sections:
            speed_section(tmp, args.model, max(rounds - 1, 1), frames, args.threads)
        if "quality" in sections:
            quality_section(tmp, args.model, None)  # the whole clip even with --quick (the accuracy needs it)


if __name__ == "__main__":
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    cv2.setNumThreads(1)
    main()
