"""Video I/O with OpenCV: RGB frames from a file or a webcam; mp4 written at the source's fps and size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from posekit.errors import PosekitError
from posekit.fileio import atomic_path

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
DEFAULT_FPS = 30.0


class VideoReader:
    """RGB uint8 frames of a video file, a webcam (an int index) or a stream URL, with its fps and
    (height, width)."""

    def __init__(self, source: str | Path | int) -> None:
        self.source = source
        self._cap = cv2.VideoCapture(source if isinstance(source, int) else str(source))
        if not self._cap.isOpened():
            if isinstance(source, int):
                raise PosekitError(
                    f"cannot open webcam {source}: no camera at that index (0 is the first one)"
                )
            if "://" in str(source):
                raise PosekitError(
                    f"cannot open the stream {source}; check the URL, that the camera or server is "
                    "reachable from here, and that OpenCV's FFmpeg backend reads that protocol"
                )
            raise PosekitError(
                f"cannot open video {source}; check that it exists and is a format OpenCV (FFmpeg) reads "
                f"({', '.join(VIDEO_SUFFIXES)})"
            )
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else DEFAULT_FPS
        self.size = (
            int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        )
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        #: Number of frames the container announces (None for webcams or when unknown; may be approximate).
        self.num_frames: int | None = count if count > 0 and not isinstance(source, int) else None

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.frames()

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames ``[start, stop)``; those before ``start`` are skipped without decoding (``grab``), which
        stays exact where seeking by frame number is not."""
        try:
            for _ in range(start):
                if not self._cap.grab():
                    return
            index = start
            while stop is None or index < stop:
                ok, frame = self._cap.read()
                if not ok:
                    break
                index += 1
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            if index == 0 and stop != 0:  # an empty result would look like a video without people
                what = f"webcam {self.source}" if isinstance(self.source, int) else f"video {self.source}"
                raise PosekitError(
                    f"{what}: no frame could be decoded (it opens, but its video stream is empty, damaged or "
                    "in a codec this OpenCV lacks); re-encode it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4"
                )
        finally:
            self.close()

    def close(self) -> None:
        self._cap.release()


class VideoWriter:
    """Write RGB frames to an mp4 (``mp4v``) atomically: the file appears complete when the writer closes.

    Frames of another size are resized to ``size_hw`` so the output always matches the source.
    """

    def __init__(self, path: str | Path, fps: float, size_hw: tuple[int, int]) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.size_hw = (int(size_hw[0]), int(size_hw[1]))
        self._stack = ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path))
        h, w = self.size_hw
        self._writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
        if not self._writer.isOpened():
            self._stack.close()
            raise PosekitError(f"cannot write video {self.path}: OpenCV has no mp4v encoder for it")

    def write(self, frame_rgb: np.ndarray) -> None:
        h, w = self.size_hw
        if frame_rgb.shape[:2] != (h, w):
            frame_rgb = cv2.resize(frame_rgb, (w, h), interpolation=cv2.INTER_AREA)
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))

    def close(self, keep: bool = True) -> None:
        """Finish the file (moved into place when ``keep``; discarded otherwise)."""
        self._writer.release()
        if keep:
            self._stack.close()
        else:
            self._stack.__exit__(PosekitError, PosekitError("discarded"), None)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # A stopped stream (closed generator, Ctrl-C) keeps the frames written so far; an error does not.
        self.close(keep=exc_type is None or issubclass(exc_type, (GeneratorExit, KeyboardInterrupt)))
