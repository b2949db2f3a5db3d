""":func:`load` -> :class:`Predictor`, whose ``predict`` turns images and videos into poses (``posekit.load``
wraps it in the model object of :mod:`posekit.api`).

Top-down: person boxes (detector, file, full image or given) -> UDP crops batched across people
and frames -> model (PyTorch in fp32/bf16/fp16, OpenVINO in fp32/bf16/int8 or ONNX Runtime; ``auto``:
the fastest within 1 AP point of fp32 here, :func:`posekit.device.resolve_backend`) -> heatmaps decoded to
image keypoints -> optional tracking (ByteTrack or OKS matching) and temporal smoothing (One-Euro
online, Savitzky-Golay offline).

On videos the detector runs every ``det_every`` frames and people are followed by their keypoints
between (:mod:`posekit.inference.keyframes`); frames are decoded ahead in a thread and detection runs
ahead of the pose model where the device has room for both (:mod:`posekit.inference.pipeline`); live
sources drop the frames the model has no time for. The loop reads frames in order from ``src.start``:
a video split by frame index (``Source.select``) is predicted part by part, each part from a key frame.
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from posekit.datasets.schema import KeypointSchema
from posekit.distributed import Shard, current_shard
from posekit.errors import ConfigError, check_number
from posekit.inference.boxes import BoxProvider
from posekit.inference.keyframes import Keyframes
from posekit.inference.pipeline import LiveStats, StageTimes, latest_only, read_ahead
from posekit.inference.pose_result import PoseResult
from posekit.inference.shard import split_source
from posekit.inference.smoothing import OnlineSmoother, smooth_offline, window_note
from posekit.inference.sources import Frame, Source, SourceLike, resolve_source
from posekit.inference.tracking import OKSTracker, PoseTracker, auto_tracker_kind, make_tracker
from posekit.settings import OneEuroParams, SavgolParams
from posekit.topdown.processor import TopDownMeta, TopDownProcessor

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from posekit.device import Backend

Found = list[tuple[np.ndarray, np.ndarray]]  # per frame: person boxes (N, 4) xywh and scores (N,)

#: Run the detector in a thread beside the pose model on CPUs too. Off: on the 2-core CPU this was
#: written on (shared, loaded) it gained nothing consistent (0.61 against 0.56 frames/s with 2 torch
#: threads, 1.31 against 1.40 with 1); benchmarks/video.py measures both ways ("detection in a thread").
OVERLAP_ON_CPU = False


class HeatmapRunner(Protocol):
    """What the predictor needs from a model: its schema, its processor, its device, runtime and precision,
    and ``(N, 3, H, W) -> (N, K, h, w)`` on float32 numpy arrays."""

    schema: KeypointSchema
    processor: TopDownProcessor
    name: str
    device: Any
    runtime: str
    precision: str

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray: ...


class TorchRunner:
    """A :class:`~posekit.models.vitpose.PoseModel` on a device in ``precision`` (fp32, bf16 or fp16: the
    weights are converted, ``model.to(dtype)``), eval mode, numpy in and out.

    Converted weights rather than ``torch.autocast``: the same AP (sample-trained ViTPose-T on the
    sample's val split: 92.565 converted, 92.564 autocast, 92.569 fp32), half the weights' memory, no
    cast of every weight on every call, and faster where measured (ViTPose-S, batch 3, on a CPU without
    bf16 hardware: 0.37x fp32 against 0.31x; AMX CPUs were not available to measure).
    """

    runtime = "torch"

    def __init__(
        self, model: Any, device: str | None = None, name: str = "model", precision: str = "fp32"
    ) -> None:
        from posekit.device import resolve_device, resolve_precision, torch_dtype

        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        if self.precision == "int8":
            raise ConfigError("int8 models run on OpenVINO or ONNX Runtime: use predict(precision='int8')")
        self.dtype = torch_dtype(self.precision)
        self.model = model.to(self.device, self.dtype).eval()
        self.name = name
        self.schema = model.schema
        self.processor = model.processor

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            heatmaps = self.model(torch.from_numpy(pixel_values).to(self.device, self.dtype))
        return heatmaps.float().cpu().numpy()


def load(model: str | Path, device: str | None = None, **kwargs: Any) -> Predictor:
    """A :class:`Predictor` for a model directory, hub id, preset (``vitpose-b``), exported ``.onnx`` file or
    OpenVINO IR (its folder or ``model.xml``).

    ``kwargs`` go to :func:`posekit.models.vitpose.load_model` (e.g. ``pretrained``, ``schema``).
    """
    from posekit.inference.openvino_runtime import OpenVinoRunner, is_openvino_model

    if str(model).endswith(".onnx"):
        from posekit.inference.onnx_runtime import OnnxRunner

        return Predictor(OnnxRunner(model, device=device))
    if is_openvino_model(model):
        return Predictor(OpenVinoRunner(model))
    from posekit.device import resolve_device
    from posekit.models.vitpose import load_model

    resolved = resolve_device(device)  # a wrong --device fails before the model loads
    return Predictor(TorchRunner(load_model(model, **kwargs), device=resolved, name=str(model)))


def detector_label(detector: Any) -> str:
    """The detector as the banner names it: its name, and its runtime when it is not PyTorch."""
    name, runtime = getattr(detector, "name", "detector"), getattr(detector, "runtime", "torch")
    return name if runtime == "torch" else f"{name} ({runtime})"


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
    thresholds = np.full(schema.num_keypoints, check_number(f"--conf {conf!r}", default, 0, 1))
    for name, value in overrides.items():
        thresholds[schema.names.index(name)] = check_number(f"--conf {conf!r} ({name})", value, 0, 1)
    return thresholds


class Predictor:
    """Run a pose model on images, folders, globs, videos, webcams and streams (see :meth:`predict`)."""

    def __init__(self, runner: HeatmapRunner) -> None:
        self.runner = runner
        self.schema = runner.schema
        self._detector: Any = None
        self._runners: dict[tuple[str, str], HeatmapRunner] = {}
        #: What the last ``predict`` call chose: precision, flip test, detector, det_every, tracker.
        self.settings: dict[str, Any] = {}
        #: Seconds and counts per stage of the last ``predict`` (decode, detect, pose, track, smooth).
        self.times = StageTimes()
        #: Frames read, handed on and dropped, and latencies, of the last live ``predict`` (else None).
        self.live_stats: LiveStats | None = None

    @property
    def processor(self) -> TopDownProcessor:
        """The model's top-down processor (crops, flip-test policy, decoder); assign a changed one (e.g.
        ``processor.updated(decode="posekit")``) to predict with it in every precision."""
        return self.runner.processor

    @processor.setter
    def processor(self, processor: TopDownProcessor) -> None:
        self.runner.processor = processor

    # ------------------------------------------------------------------ public API
    def predict(
        self, source: SourceLike, save_dir: str | Path | None = None, **options: Any
    ) -> list[PoseResult] | Iterator[PoseResult]:
        """One :class:`PoseResult` per image or frame (``options``: :class:`~posekit.settings.PredictOptions`,
        written to ``save_dir`` with ``save``/``save_json``).

        - ``boxes``: ``None``/``"detector"`` (person detector), ``"full"`` (the whole image is one person),
          a COCO detections (or annotations: ground-truth boxes, clipped to the image as in evaluation)
          JSON, or xywh arrays (one array, a list per image, a dict).
        - ``conf``: keypoint threshold (default 0.3), per joint with ``"0.3,left_wrist=0.5"``.
        - ``detector``: ``"fast"`` (D-FINE-N, the default for videos and live sources), ``"accurate"``
          (RT-DETR-R50, the default for images), a hub id, a directory, or any object with
          ``detect(images) -> [(xywh, scores)]``; ``det_conf``: minimum person box score.
        - ``det_every``: on videos, run the box source every N frames (default 5 with the detector, 1 with
          boxes files); between, each person's box comes from their keypoints, and the detector runs
          early when someone is lost. People are then followed with track ids.
        - ``runtime``: ``auto`` (on CPUs with VNNI or bf16 hardware OpenVINO when ``posekit[openvino]`` is
          installed, else PyTorch), ``torch``, ``onnxruntime``, ``openvino``.
        - ``precision``: ``auto`` (the fastest within 1 AP point of fp32 on this machine and runtime:
          OpenVINO int8 on VNNI CPUs, bf16 on CPUs with AMX/AVX512-BF16 and on GPUs, else fp32), ``fp32``,
          ``bf16``, ``fp16``, ``int8`` (OpenVINO/NNCF or ONNX Runtime, calibrated on ``calibration``: a
          data set or person images, default the built-in sample; built once and cached).
        - ``batch_size``: crops per model call (and frames read ahead).
        - ``flip``: the flip test (default: the model processor's policy for images, off for videos;
          twice the model time).
        - ``live``: drop the frames the model has no time for (default: webcams and stream URLs); the
          results carry their ``latency`` and ``self.live_stats`` counts the dropped frames.
        - ``track``: track ids across frames, with ``tracker`` ``"auto"`` (ByteTrack on detector boxes
          when ``posekit[track]`` is installed, else OKS matching), ``"bytetrack"`` or ``"oks"``.
        - ``smooth``: ``"online"`` (One-Euro, ``one_euro``) or ``"offline"`` (gap filling + Savitzky-Golay,
          ``savgol``; reads the source twice); implies tracking.
        - ``stream``: return a generator (default for videos/webcams, so memory stays flat) or a list.
        - ``save``/``save_json``: write drawn images/videos, ``predictions.json`` (and ``predictions.jsonl``
          for videos) to the folder ``save_dir`` (the run folder :mod:`posekit.tasks.predict` makes).
        """
        from posekit.settings import PredictOptions, build_settings, flip_test

        cfg = build_settings(PredictOptions, **options)
        writes = cfg.save or cfg.save_json
        if writes and save_dir is None:
            raise ConfigError("save/save_json write to a folder: pass save_dir (posekit.predict makes one)")
        thresholds = parse_conf(cfg.conf, self.schema)
        provider = BoxProvider(cfg.boxes, cfg.det_conf)
        src = resolve_source(source)
        live = src.live if cfg.live is None else cfg.live
        if live and (cfg.smooth == "offline" or cfg.stream is False):
            raise ConfigError(
                "a live source never ends: use stream=True (the default) and smooth='online' or None"
            )
        backend = self.backend(cfg.runtime, cfg.precision)
        runner = self._runner(backend, cfg.calibration)
        flip = flip_test(cfg.flip, runner.processor.flip_test, src.is_sequence)
        tracking = (True if cfg.tracker == "auto" else cfg.tracker) if cfg.track or cfg.smooth else False
        det_every = self._det_every(cfg.det_every, provider, src, tracking)
        if provider.kind == "detector":
            self._ensure_detector(cfg.detector, cfg.det_conf, src.is_sequence, runner.device, backend.runtime)
        track = tracking or det_every > 1
        shard = current_shard()  # several processes (torchrun): each predicts a block of the frames
        part = split_source(src, shard, cfg.batch_size, sequential=bool(track))
        self.settings = {
            "runtime": backend.runtime + (f" ({backend.reason})" if backend.reason else ""),
            "precision": runner.precision,
            "flip_test": flip,
            "boxes": detector_label(self._detector) if provider.kind == "detector" else provider.kind,
            "det_every": det_every,
            "live": live,
        }
        self.times, self.live_stats = StageTimes(), LiveStats() if live else None
        results = self._run(part, shard, provider, runner, thresholds, cfg.batch_size, track, flip, det_every)
        if cfg.smooth == "online":
            results = self._smooth_online(results, src.fps, cfg.one_euro)
        elif cfg.smooth == "offline":
            results = self._smooth_offline(results, src, thresholds, cfg.savgol)
        if writes:
            from posekit.inference.writer import RunWriter

            writer = RunWriter(
                Path(save_dir),
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

    def backend(self, runtime: str = "auto", precision: str = "auto") -> Backend:
        """The runtime and precision ``runtime``/``precision`` mean for this predictor's model (see
        :func:`posekit.device.resolve_backend`); an exported model keeps its own."""
        from posekit.device import Backend, resolve_backend

        base = self.runner
        if isinstance(base, TorchRunner):
            return resolve_backend(runtime, precision, base.device)
        runtime_of = getattr(base, "runtime", "custom")  # a runner from outside posekit may not say
        stored = getattr(base, "metadata", {}).get("precision", base.precision)
        floats = ("fp32", "bf16") if runtime_of == "openvino" and stored != "int8" else ()
        if runtime not in ("auto", runtime_of) or precision not in ("auto", base.precision, *floats):
            raise ConfigError(
                f"--runtime {runtime} --precision {precision}: {base.name} is an exported {stored} model for "
                f"{runtime_of}; export the model again for what you ask"
            )
        return Backend(runtime_of, base.precision if precision == "auto" else precision)  # type: ignore[arg-type]

    def runner_for(
        self, precision: str = "auto", calibration: str | Path = "sample", runtime: str = "auto"
    ) -> HeatmapRunner:
        """The model on ``runtime`` in ``precision`` (see :meth:`backend`): this predictor's own runner, or
        a converted copy made once (int8: calibrated on ``calibration``)."""
        return self._runner(self.backend(runtime, precision), calibration)

    def _runner(self, backend: Backend, calibration: str | Path) -> HeatmapRunner:
        base = self.runner
        if (backend.runtime, backend.precision) == (getattr(base, "runtime", "custom"), base.precision):
            return base
        key = (backend.runtime, backend.precision, str(calibration) if backend.precision == "int8" else "")
        if key not in self._runners:
            if not isinstance(base, TorchRunner):  # an OpenVINO float IR compiled in another precision
                from posekit.inference.openvino_runtime import OpenVinoRunner

                self._runners[key] = OpenVinoRunner(base.path, backend.precision)  # type: ignore[attr-defined]
            elif backend.runtime == "torch":
                self._runners[key] = TorchRunner(
                    copy.deepcopy(base.model), str(base.device), base.name, backend.precision
                )
            else:
                from posekit.inference.export import exported_runner

                self._runners[key] = exported_runner(base.model, *backend[:2], calibration)
        runner = self._runners[key]
        runner.processor = base.processor  # the same model: the processor assigned to this predictor
        return runner

    # ------------------------------------------------------------------ pipeline
    @staticmethod
    def _det_every(det_every: int | None, provider: BoxProvider, src: Source, track: bool | str) -> int:
        from posekit.settings import DET_EVERY

        if det_every is None:
            return DET_EVERY if provider.kind == "detector" and src.is_sequence else 1
        if det_every > 1 and not src.is_sequence:
            raise ConfigError(
                f"--det-every {det_every} applies to videos and live sources; each still image is detected"
            )
        if det_every > 1 and track == "bytetrack":
            raise ConfigError(
                f"--det-every {det_every} follows people by their keypoints between detections, and their "
                "identity with them (OKS matching for new people); ByteTrack needs boxes on every frame: "
                "use --det-every 1 with --tracker bytetrack, or --tracker oks"
            )
        return det_every

    def _ensure_detector(
        self, detector: Any, det_conf: float, sequence: bool, device: Any, runtime: str
    ) -> None:
        """The person detector of a run; on the OpenVINO runtime (the pose model's) it runs there too."""
        from posekit.models.detector import PersonDetector, detector_source

        if detector is not None and not isinstance(detector, (str, Path)):
            self._detector = detector  # a PersonDetector or any object with detect(images)
            return
        name = detector_source(detector, sequence)
        if (
            self._detector is None
            or getattr(self._detector, "name", None) != name
            or getattr(self._detector, "threshold", None) != det_conf
            or (runtime == "openvino") != getattr(self._detector, "runtime", "torch").startswith("openvino")
        ):
            self._detector = PersonDetector(name, threshold=det_conf, device=device)
            if runtime == "openvino":
                from posekit.inference.detector_runtime import on_openvino

                self._detector = on_openvino(self._detector)

    def _run(
        self,
        src: Source,
        shard: Shard,
        provider: BoxProvider,
        runner: HeatmapRunner,
        thresholds: np.ndarray,
        batch: int,
        track: bool | str,
        flip: bool,
        det_every: int,
    ) -> Iterator[PoseResult]:
        frames = self._frames(src, batch)
        clip = provider.ground_truth

        def find(chunk: list[Frame]) -> Found:
            with self.times("detect", len(chunk)):
                if provider.kind == "detector":
                    return self._detector.detect([f.image for f in chunk])
                return [provider(f) for f in chunk]

        def pose(chunk: list[Frame], found: Found) -> list[PoseResult]:
            with self.times("pose", len(chunk)):
                return self._pose(chunk, found, runner, thresholds, batch, flip, clip)

        count = 0
        if det_every > 1:
            tracker = OKSTracker(self.schema.sigmas_array, conf=thresholds)
            self.settings["tracker"] = "oks (people followed between detections)"
            keyframes = Keyframes(det_every, thresholds, self.schema.sigmas_array, first=src.start)
            ahead = ((f, find([f])[0] if keyframes.scheduled(f.index) else None) for f in frames)
            for frame, detected in self._overlap(ahead, runner):
                count += 1
                if detected is None and keyframes.due(frame.index):
                    detected = find([frame])[0]
                people = keyframes.boxes(detected)
                result = pose([frame], [(people.boxes, people.scores)])[0]
                keep = keyframes.distinct(
                    people.track_ids, result.keypoints, result.keypoint_scores, result.boxes
                )
                result = result.subset(keep)
                with self.times("track", 1):
                    result.track_ids = tracker.update(
                        result.boxes, result.box_scores, result.keypoints, result.keypoint_scores,
                        people.track_ids[keep],
                    )  # fmt: skip
                keyframes.follow(
                    result.track_ids,
                    result.boxes,
                    result.box_scores,
                    result.keypoints,
                    result.keypoint_scores,
                )
                yield self._delivered(result, frame)
            self.settings["key_frames"] = keyframes.detections
        else:
            tracker = self._tracker(track, provider, src.fps, thresholds)
            per_chunk = 1 if self.live_stats is not None else batch
            chunks = iter(lambda: list(itertools.islice(frames, per_chunk)), [])
            for chunk, found in self._overlap(((c, find(c)) for c in chunks), runner):
                count += len(chunk)
                for frame, result in zip(chunk, pose(chunk, found), strict=True):
                    if tracker is not None:
                        with self.times("track", 1):
                            result.track_ids = tracker.update(
                                result.boxes, result.box_scores, result.keypoints, result.keypoint_scores
                            )
                    yield self._delivered(result, frame)
        provider.check_matched(count, shard)

    def _frames(self, src: Source, batch: int) -> Iterator[Frame]:
        """The source's frames, decoded ahead in a thread; a live source keeps only its newest frame."""
        decoded = self.times.timed(src, "decode")
        if self.live_stats is None:
            yield from read_ahead(decoded, depth=2 * batch, name="posekit-decode")
            return
        for captured in latest_only(decoded, self.live_stats):
            captured.item.captured = captured.time
            yield captured.item

    @staticmethod
    def _overlap(items: Iterable[Any], runner: HeatmapRunner) -> Iterator[Any]:
        """``items`` (the detection of the coming frames) computed in a thread ahead of the pose model on a
        GPU, where the two overlap, and on a CPU when :data:`OVERLAP_ON_CPU` says so; else in line."""
        if OVERLAP_ON_CPU or str(getattr(runner, "device", "cpu")).startswith("cuda"):
            return read_ahead(items, depth=2, name="posekit-detect")
        return iter(items)

    def _tracker(
        self, track: bool | str, provider: BoxProvider, fps: float, thresholds: np.ndarray
    ) -> PoseTracker | None:
        if not track:
            return None
        kind = track if isinstance(track, str) else auto_tracker_kind(provider.kind)
        self.settings["tracker"] = kind
        return make_tracker(kind, fps, self.schema.sigmas_array, thresholds, provider.det_conf)

    def _delivered(self, result: PoseResult, frame: Frame) -> PoseResult:
        if frame.captured is not None and self.live_stats is not None:
            result.latency = time.monotonic() - frame.captured
            self.live_stats.latencies.append(result.latency)
        return result

    def _pose(
        self,
        frames: list[Frame],
        found: Found,
        runner: HeatmapRunner,
        thresholds: np.ndarray,
        batch: int,
        flip: bool,
        clip: bool,
    ) -> list[PoseResult]:
        """The people of ``frames`` in their boxes: all crops made at once, ``batch`` a model call."""
        images = [f.image for f in frames]
        boxes = [b for b, _ in found]
        box_scores = np.concatenate(
            [np.asarray(s, np.float64).reshape(-1) for _, s in found] or [np.zeros(0)]
        )
        keypoints, keypoint_scores, gaps = self._keypoints(runner, images, boxes, batch, flip, clip)
        scores = runner.processor.rescore(keypoint_scores, box_scores)
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
                    file=frame.file,
                    frame=frame.frame,
                    flip_gap=None if gaps is None else gaps[part],
                )
            )
        return results

    def _keypoints(
        self,
        runner: HeatmapRunner,
        images: list[np.ndarray],
        boxes: list[np.ndarray],
        batch: int,
        flip: bool,
        clip: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Image keypoints ``(N, K, 2)``, scores ``(N, K)`` and, with the flip test, its looks' gap
        ``(N, K)`` (:meth:`TopDownProcessor.flip_gap`) of all boxes, ``batch`` crops a model call."""
        processor = runner.processor
        pixel_values, meta = processor.preprocess(images, boxes, clip=clip)
        k = self.schema.num_keypoints
        points, scores, gaps = [np.zeros((0, k, 2))], [np.zeros((0, k))], [np.zeros((0, k))]
        for start in range(0, len(meta), batch):
            part = slice(start, start + batch)
            heatmaps, flipped = processor.forward(runner, pixel_values[part], flip)
            chunk = TopDownMeta(meta.centers[part], meta.scales[part], meta.image_index[part])
            kp, sc = processor.postprocess(heatmaps, chunk, flipped)
            points.append(kp)
            scores.append(sc)
            if flipped is not None:
                gaps.append(processor.flip_gap(heatmaps, flipped, chunk))
        return np.concatenate(points), np.concatenate(scores), np.concatenate(gaps) if flip else None

    # ------------------------------------------------------------------ smoothing
    def _smooth_online(
        self, results: Iterator[PoseResult], fps: float, params: OneEuroParams
    ) -> Iterator[PoseResult]:
        smoother = OnlineSmoother(fps, params)
        for result in results:
            with self.times("smooth", 1):
                result.raw_keypoints = result.keypoints
                result.keypoints = smoother.update(
                    result.index, result.track_ids, result.keypoints, result.boxes
                )
            yield result

    def _smooth_offline(
        self, results: Iterator[PoseResult], src: Source, thresholds: np.ndarray, params: SavgolParams
    ) -> Iterator[PoseResult]:
        """Pass 1 keeps only the arrays (not the frames); pass 2 re-reads the frames to attach them."""
        kept = []
        for result in results:
            result.image = np.empty((*result.image.shape[:2], 0), np.uint8)  # drop pixels, keep the size
            kept.append(result)
        note = window_note(params, len(kept))
        if note is not None:
            logger.warning("%s", note)
        with self.times("smooth", len(kept)):
            smoothed = smooth_offline(
                [r.track_ids for r in kept], [r.keypoints for r in kept], [r.keypoint_scores for r in kept],
                thresholds, params,
            )  # fmt: skip
        for result, frame, points in zip(kept, src.reopen(), smoothed, strict=False):
            result.image, result.raw_keypoints, result.keypoints = frame.image, result.keypoints, points
            yield result
