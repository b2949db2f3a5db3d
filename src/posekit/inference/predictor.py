"""``posekit.load(...)`` -> :class:`Predictor`, whose ``predict`` turns images and videos into poses.

Top-down: person boxes (detector, file, full image or given) -> UDP crops batched across people
and frames -> model (PyTorch or ONNX Runtime) -> heatmaps decoded to image keypoints -> optional
tracking (ByteTrack or OKS matching) and temporal smoothing (One-Euro online, Savitzky-Golay offline).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from posekit.data.processor import TopDownMeta, TopDownProcessor
from posekit.data.schema import KeypointSchema
from posekit.distributed import Shard, current_shard
from posekit.errors import ConfigError
from posekit.inference.boxes import BoxProvider
from posekit.inference.pose_result import PoseResult
from posekit.inference.shard import split_source
from posekit.inference.smoothing import OneEuroParams, OnlineSmoother, SavgolParams, smooth_offline
from posekit.inference.sources import Frame, Source, SourceLike, resolve_source
from posekit.inference.tracking import auto_tracker_kind, make_tracker


class HeatmapRunner(Protocol):
    """What the predictor needs from a model: its schema, its processor and ``(N, 3, H, W) -> (N, K, h, w)``
    on float32 numpy arrays."""

    schema: KeypointSchema
    processor: TopDownProcessor
    name: str

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray: ...


class TorchRunner:
    """A :class:`~posekit.models.vitpose.PoseModel` on a device, eval mode, numpy in and out."""

    def __init__(self, model: Any, device: str | None = None, name: str = "model") -> None:
        from posekit.device import resolve_device

        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.dtype = next(model.parameters()).dtype
        self.name = name
        self.schema = model.schema
        self.processor = model.processor

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            heatmaps = self.model(torch.from_numpy(pixel_values).to(self.device, self.dtype))
        return heatmaps.float().cpu().numpy()


def load(model: str | Path, device: str | None = None, **kwargs: Any) -> Predictor:
    """A :class:`Predictor` for a model directory, hub id, preset (``vitpose-b``) or exported ``.onnx`` file.

    ``kwargs`` go to :func:`posekit.models.vitpose.load_model` (e.g. ``pretrained``, ``schema``).
    """
    if str(model).endswith(".onnx"):
        from posekit.inference.onnx_runtime import OnnxRunner

        return Predictor(OnnxRunner(model, device=device))
    from posekit.models.vitpose import load_model

    return Predictor(TorchRunner(load_model(model, **kwargs), device=device, name=str(model)))


def parse_conf(conf: float | str | dict[str, float], schema: KeypointSchema) -> np.ndarray:
    """Per-keypoint thresholds ``(K,)`` from ``0.3``, ``"0.3,left_wrist=0.5"`` or ``{"default": .3, ...}``."""
    if isinstance(conf, (int, float)):
        default, overrides = float(conf), {}
    elif isinstance(conf, dict):
        overrides = {str(k): float(v) for k, v in conf.items()}
        default = overrides.pop("default", 0.3)
    else:
        default, overrides = 0.3, {}
        for part in (p.strip() for p in str(conf).split(",") if p.strip()):
            name, sep, value = part.partition("=")
            try:
                if sep:
                    overrides[name.strip()] = float(value)
                else:
                    default = float(part)
            except ValueError:
                raise ConfigError(
                    f"--conf {conf!r}: {part!r} is not a number; write a default and/or joint=value pairs, "
                    "e.g. '0.3' or '0.3,left_wrist=0.5,right_wrist=0.5'"
                ) from None
    unknown = sorted(set(overrides) - set(schema.names))
    if unknown:
        raise ConfigError(
            f"--conf names unknown keypoint(s) {unknown}; the model's keypoints are {schema.names}"
        )
    thresholds = np.full(schema.num_keypoints, default)
    for name, value in overrides.items():
        thresholds[schema.names.index(name)] = value
    if ((thresholds < 0) | (thresholds > 1)).any():
        raise ConfigError(f"--conf {conf!r}: thresholds must lie in [0, 1]")
    return thresholds


class Predictor:
    """Run a pose model on images, folders, globs, videos and webcams (see :meth:`predict`)."""

    def __init__(self, runner: HeatmapRunner) -> None:
        self.runner = runner
        self.schema = runner.schema
        self.processor = runner.processor
        self._detector: Any = None
        #: Run folder of the last ``predict(save=True)`` call.
        self.save_dir: Path | None = None

    # ------------------------------------------------------------------ public API
    def predict(self, source: SourceLike, **options: Any) -> list[PoseResult] | Iterator[PoseResult]:
        """One :class:`PoseResult` per image or frame (``options``: :class:`~posekit.settings.PredictConfig`).

        - ``boxes``: ``None``/``"detector"`` (person detector), ``"full"`` (the whole image is one person),
          a COCO detections (or annotations: ground-truth boxes, clipped to the image as in evaluation)
          JSON, or xywh arrays (one array, a list per image, a dict).
        - ``conf``: keypoint threshold (default 0.3), per joint with ``"0.3,left_wrist=0.5"``.
        - ``detector``: hub id, directory, :class:`~posekit.models.detector.PersonDetector` or any object
          with ``detect(images) -> [(xywh, scores)]`` (default ``PekingU/rtdetr_r50vd_coco_o365``);
          ``det_conf``: minimum person box score (detector or boxes file).
        - ``batch``: crops per model call (and frames read ahead).
        - ``flip``: the flip test (default: the model processor's policy; twice the model time).
        - ``track``: ``True`` (ByteTrack on detector boxes when ``posekit[track]`` is installed,
          else OKS matching), ``"bytetrack"``, ``"oks"``.
        - ``smooth``: ``"online"`` (One-Euro, ``one_euro``) or ``"offline"`` (gap filling + Savitzky-Golay,
          ``savgol``; reads the source twice); implies tracking.
        - ``stream``: return a generator (default for videos/webcams, so memory stays flat) or a list.
        - ``save``/``save_json``: write drawn images/videos, ``predictions.json`` (and ``predictions.jsonl``
          for videos) to ``project/predict/name`` (see ``self.save_dir``).
        """
        from posekit.settings import PredictConfig, build_settings

        cfg = build_settings(PredictConfig, **options)
        thresholds = parse_conf(cfg.conf, self.schema)
        provider = BoxProvider(cfg.boxes, cfg.det_conf)
        src = resolve_source(source)
        if src.kind == "webcam" and (cfg.smooth == "offline" or cfg.stream is False):
            raise ConfigError(
                "a webcam never ends: use stream=True (the default) and smooth='online' or None"
            )
        if provider.kind == "detector":
            self._ensure_detector(cfg.detector, cfg.det_conf)
        track = cfg.track or bool(cfg.smooth)
        shard = current_shard()  # several processes (torchrun): each predicts a block of the frames
        part = split_source(src, shard, cfg.batch, sequential=bool(track))
        results = self._run(src, part, shard, provider, thresholds, cfg.batch, track, cfg.flip)
        if cfg.smooth == "online":
            results = self._smooth_online(results, src.fps, cfg.one_euro)
        elif cfg.smooth == "offline":
            results = self._smooth_offline(results, src, thresholds, cfg.savgol)
        if cfg.save or cfg.save_json:
            from posekit.inference.writer import RunWriter
            from posekit.runs import new_run_dir

            self.save_dir = shard.share(lambda: new_run_dir(cfg.project, "predict", cfg.name))
            writer = RunWriter(
                self.save_dir,
                src,
                self.schema.names,
                cfg.save,
                True if cfg.save_json is None else cfg.save_json,
                cfg.one_euro,
                cfg.savgol,
                shard,
            )
            results = writer.wrap(results, thresholds)
        stream = src.is_sequence if cfg.stream is None else cfg.stream
        return results if stream else list(results)

    # ------------------------------------------------------------------ pipeline
    def _ensure_detector(self, detector: Any, det_conf: float) -> None:
        from posekit.models.detector import DEFAULT_DETECTOR, PersonDetector

        if detector is not None and not isinstance(detector, (str, Path)):
            self._detector = detector  # a PersonDetector or any object with detect(images)
        elif (
            self._detector is None
            or getattr(self._detector, "name", None) != str(detector or DEFAULT_DETECTOR)
            or getattr(self._detector, "threshold", None) != det_conf
        ):
            device = getattr(self.runner, "device", "cpu")
            self._detector = PersonDetector(detector or DEFAULT_DETECTOR, threshold=det_conf, device=device)

    def _run(
        self,
        src: Source,
        part: range | None,
        shard: Shard,
        provider: BoxProvider,
        thresholds: np.ndarray,
        batch: int,
        track: bool | str,
        flip: bool | None,
    ) -> Iterator[PoseResult]:
        tracker = None
        if track:
            kind = track if isinstance(track, str) else auto_tracker_kind(provider.kind)
            tracker = make_tracker(kind, src.fps, self.schema.sigmas_array, thresholds, provider.det_conf)
        frames_per_chunk = 1 if src.kind == "webcam" else batch
        count = 0
        frames = src.frames(part)
        while chunk := list(itertools.islice(frames, frames_per_chunk)):
            count += len(chunk)
            for result in self._predict_chunk(chunk, provider, thresholds, batch, flip):
                if tracker is not None:
                    result.track_ids = tracker.update(
                        result.boxes, result.box_scores, result.keypoints, result.keypoint_scores
                    )
                yield result
        provider.check_matched(count, shard)

    def _predict_chunk(
        self,
        frames: list[Frame],
        provider: BoxProvider,
        thresholds: np.ndarray,
        batch: int,
        flip: bool | None,
    ) -> list[PoseResult]:
        images = [f.image for f in frames]
        found = (
            self._detector.detect(images) if provider.kind == "detector" else [provider(f) for f in frames]
        )
        boxes = [b for b, _ in found]
        box_scores = np.concatenate([s for _, s in found]).reshape(-1)
        keypoints, keypoint_scores = self._keypoints(images, boxes, batch, flip, provider.ground_truth)
        scores = self.processor.rescore(keypoint_scores, box_scores)
        results, start = [], 0
        for frame, frame_boxes in zip(frames, boxes, strict=True):
            part = slice(start, start + len(frame_boxes))
            start = part.stop
            results.append(
                PoseResult(
                    image=frame.image,
                    name=frame.name,
                    image_id=frame.image_id,
                    index=frame.index,
                    schema=self.schema,
                    boxes=np.asarray(frame_boxes, np.float64).reshape(-1, 4),
                    box_scores=box_scores[part],
                    keypoints=keypoints[part],
                    keypoint_scores=keypoint_scores[part],
                    scores=scores[part],
                    visible=keypoint_scores[part] >= thresholds,
                    track_ids=np.full(len(frame_boxes), -1, dtype=np.int64),
                    path=frame.path,
                )
            )
        return results

    def _keypoints(
        self, images: list[np.ndarray], boxes: list[np.ndarray], batch: int, flip: bool | None, clip: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Image keypoints ``(N, K, 2)`` and scores ``(N, K)`` of all boxes, ``batch`` crops a model call."""
        pixel_values, meta = self.processor.preprocess(images, boxes, clip=clip)
        k = self.schema.num_keypoints
        points, scores = [np.zeros((0, k, 2))], [np.zeros((0, k))]
        for start in range(0, len(meta), batch):
            part = slice(start, start + batch)
            heatmaps, flipped = self.processor.forward(self.runner, pixel_values[part], flip)
            chunk = TopDownMeta(meta.centers[part], meta.scales[part], meta.image_index[part])
            kp, sc = self.processor.postprocess(heatmaps, chunk, flipped)
            points.append(kp)
            scores.append(sc)
        return np.concatenate(points), np.concatenate(scores)

    # ------------------------------------------------------------------ smoothing
    @staticmethod
    def _smooth_online(
        results: Iterator[PoseResult], fps: float, params: OneEuroParams
    ) -> Iterator[PoseResult]:
        smoother = OnlineSmoother(fps, params)
        for result in results:
            result.raw_keypoints = result.keypoints
            result.keypoints = smoother.update(result.index, result.track_ids, result.keypoints, result.boxes)
            yield result

    @staticmethod
    def _smooth_offline(
        results: Iterator[PoseResult], src: Source, thresholds: np.ndarray, params: SavgolParams
    ) -> Iterator[PoseResult]:
        """Pass 1 keeps only the arrays (not the frames); pass 2 re-reads the frames to attach them."""
        kept = []
        for result in results:
            result.image = np.empty((*result.image.shape[:2], 0), np.uint8)  # drop pixels, keep the size
            kept.append(result)
        smoothed = smooth_offline(
            [r.track_ids for r in kept], [r.keypoints for r in kept], [r.keypoint_scores for r in kept],
            thresholds, params,
        )  # fmt: skip
        for result, frame, points in zip(kept, src.reopen(), smoothed, strict=False):
            result.image, result.raw_keypoints, result.keypoints = frame.image, result.keypoints, points
            yield result
