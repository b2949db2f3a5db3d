"""Write a prediction run: drawn images or an mp4 (source fps and size), ``predictions.json`` (COCO results,
each with its source ``file`` and ``frame``), ``predictions.jsonl`` (one line per image or video frame:
source file, frame, drawn image, keypoints by name) and, for tracked videos, ``jitter.json``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from posekit.distributed import Shard
from posekit.fileio import atomic_path, atomic_write_json, json_text
from posekit.inference.pose_result import PoseResult
from posekit.inference.smoothing import jitter_report
from posekit.inference.sources import Source, item_name
from posekit.inference.video import VideoReader, VideoWriter
from posekit.settings import OneEuroParams, SavgolParams

_KEEP_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class RunWriter:
    """Writes results as they stream by (see :meth:`wrap`). Under several processes (``shard``) each writes
    its part of ``predictions.json``, ``predictions.jsonl`` and the video, and the main process merges them
    into the files one process writes; drawn images keep the names one process gives them."""

    def __init__(
        self,
        save_dir: Path,
        src: Source,
        names: list[str],
        save_media: bool = True,
        save_json: bool = True,
        one_euro: OneEuroParams = OneEuroParams(),
        savgol: SavgolParams = SavgolParams(),
        shard: Shard = Shard(),
    ) -> None:
        self.save_dir, self.src, self.names = Path(save_dir), src, names
        self.save_media, self.save_json = save_media, save_json
        self.one_euro, self.savgol = one_euro, savgol
        self.shard = shard

    def wrap(self, results: Iterator[PoseResult], thresholds: np.ndarray) -> Iterator[PoseResult]:
        """Yield ``results`` unchanged while writing them. The files are complete when the stream ends or
        is stopped (the consumer closes it, or Ctrl-C on a webcam); an error discards the video/JSONL."""
        coco: list[dict[str, Any]] = []
        series: dict[str, list[np.ndarray]] = {"ids": [], "points": [], "scores": [], "boxes": []}
        file_names = _file_names(self.src) if self.save_media and not self.src.is_sequence else []
        video_path, jsonl_path = self.save_dir / f"{self.src.name}.mp4", self.save_dir / "predictions.jsonl"
        interrupted: KeyboardInterrupt | None = None
        with ExitStack() as stack:
            video = jsonl = None
            try:
                for result in results:
                    if self.save_media and self.src.is_sequence:
                        if video is None:
                            part = self.shard.part(video_path)
                            video = stack.enter_context(VideoWriter(part, self.src.fps, result.size))
                        video.write(result.plot())
                    elif self.save_media:
                        result.save(self.save_dir / file_names[result.index])
                    if self.save_json:
                        coco.extend(result.to_coco())
                        if jsonl is None:
                            part = self.shard.part(jsonl_path)
                            jsonl = stack.enter_context(atomic_path(part)).open("w", encoding="utf-8")
                            stack.callback(jsonl.close)
                        record = result.to_dict()
                        if file_names:  # the drawn image (colliding names were renamed): maps them back
                            record["drawn"] = file_names[result.index]
                        jsonl.write(json_text(record, separators=(",", ":")) + "\n")
                    if self.src.is_sequence:
                        raw = result.raw_keypoints if result.raw_keypoints is not None else result.keypoints
                        for key, value in zip(
                            series, (result.track_ids, raw, result.keypoint_scores, result.boxes), strict=True
                        ):
                            series[key].append(value)
                    yield result
            except GeneratorExit:
                pass  # the consumer stopped early: keep what was written
            except KeyboardInterrupt as stop:
                interrupted = stop
        if self.save_json:
            path = self.save_dir / "predictions.json"
            parts = self.shard.gather(coco, path)
            if parts is not None:
                atomic_write_json(path, [row for part in parts for row in part], indent=None)
        if self.save_json:
            self.shard.merge(jsonl_path, _concatenate_files)
        if self.src.is_sequence and self.save_media:
            self.shard.merge(video_path, lambda parts, tmp: _concatenate_videos(parts, tmp, self.src.fps))
        if any((ids >= 0).any() for ids in series["ids"] if len(ids)):
            self._write_jitter(series, thresholds)
        if interrupted is not None:
            raise interrupted

    def _write_jitter(self, series: dict[str, list[np.ndarray]], thresholds: np.ndarray) -> None:
        report = jitter_report(
            series["ids"], series["points"], series["scores"], series["boxes"], self.src.fps, thresholds,
            self.one_euro, self.savgol,
        )  # fmt: skip
        table = {
            mode: {
                "mean": _mean(values),
                "per_keypoint": {
                    n: (None if np.isnan(v) else round(float(v), 4))
                    for n, v in zip(self.names, values, strict=True)
                },
            }
            for mode, values in report.items()
        }
        out = {
            "unit": "pixels per frame (mean frame-to-frame displacement of each joint, tracked people, "
            "joints above their confidence threshold in both frames)",
            "fps": self.src.fps,
            "one_euro": vars(self.one_euro),
            "savgol": vars(self.savgol),
            **table,
        }
        atomic_write_json(self.save_dir / "jitter.json", out)


def _file_names(src: Source) -> list[str]:
    """Drawn image file names of an image source, by index: ``<stem><suffix>`` (the source's format when
    common, else .jpg), ``<stem>_<index><suffix>`` when an earlier image took the name."""
    names: list[str] = []
    for index, item in enumerate(src.items):
        suffix = Path(item).suffix.lower() if isinstance(item, (str, Path)) else ".jpg"
        suffix = suffix if suffix in _KEEP_SUFFIXES else ".jpg"
        name = f"{item_name(item, index)}{suffix}"
        names.append(name if name not in names else f"{item_name(item, index)}_{index}{suffix}")
    return names


def _concatenate_files(parts: list[Path], out: Path) -> None:
    with out.open("wb") as merged:
        for part in parts:
            with part.open("rb") as chunk:
                shutil.copyfileobj(chunk, merged)


def _concatenate_videos(parts: list[Path], out: Path, fps: float) -> None:
    """The parts' frames in order, in one mp4 (decoded and encoded again: mp4 segments do not join)."""
    writer = None
    for part in parts:
        for frame in VideoReader(part):
            if writer is None:
                writer = VideoWriter(out, fps, frame.shape[:2])
            writer.write(frame)
    if writer is not None:
        writer.close()


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return round(float(finite.mean()), 4) if len(finite) else None
