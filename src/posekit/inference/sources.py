"""Resolve what ``predict`` was given into frames: an image, a folder, a glob, a video, a webcam, a stream
URL (RTSP, ...), arrays, or an iterator of arrays."""

from __future__ import annotations

import glob
import itertools
import logging
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.errors import PosekitError
from posekit.inference.video import DEFAULT_FPS, VIDEO_SUFFIXES, VideoReader

logger = logging.getLogger(__name__)

#: Still-image formats OpenCV or PIL decodes (grey, RGB and RGBA alike; ``read_image`` converts to RGB).
IMAGE_SUFFIXES = (
    ".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".webp", ".tif", ".tiff", ".jp2", ".pbm", ".pgm",
    ".ppm", ".pxm", ".pnm", ".sr", ".ras", ".exr", ".hdr", ".pic", ".avif", ".tga",
)  # fmt: skip

#: URL schemes of live network streams (OpenCV's FFmpeg backend reads them); http(s) may be a file.
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "udp://", "tcp://", "srt://")


@dataclass
class Frame:
    """One image or video frame: RGB uint8 pixels, a name for output files, and its COCO image id;
    ``file``: the image or video it came from, relative to the source given (None for arrays), ``frame``:
    its frame in that file (0 for still images); ``captured``: when a live source read it
    (``time.monotonic()``), for its latency."""

    image: np.ndarray
    name: str
    index: int
    image_id: int
    path: Path | None = None
    captured: float | None = None
    #: ``image_id`` is the image's place in a folder or list, not a number read from its file name: boxes
    #: given by image id do not apply to it
    positional_id: bool = False
    file: str | None = None
    frame: int = 0


class Source:
    """Frames of one input. ``kind`` is ``"images"``, ``"video"``, ``"webcam"``, ``"stream"`` (a URL) or
    ``"frames"`` (an iterator of arrays); sequences carry their fps. ``live`` sources (webcams and stream
    URLs by default) deliver frames in real time: the predictor drops the frames it has no time for.

    ``start``/``stop`` select the frames ``[start, stop)`` (see :meth:`select`); frames keep their index in
    the whole input, so parts predicted apart (one per process) merge by index. ``root``: the folder the
    items' :attr:`Frame.file` names are relative to (None: paths as given).
    """

    def __init__(
        self,
        kind: str,
        items: list,
        fps: float = DEFAULT_FPS,
        name: str = "source",
        start: int = 0,
        stop: int | None = None,
        root: Path | None = None,
    ) -> None:
        self.kind = kind
        self.items = items
        self.fps = fps
        self.name = name
        self.start, self.stop = start, stop
        self.root = root
        self.live = kind in ("webcam", "stream")
        #: images in the input, or a video's frames as its container says (None: live sources, iterators)
        self.num_frames: int | None = len(items) if kind == "images" else None
        self._reader: VideoReader | None = None
        if kind in ("video", "webcam", "stream"):
            self._reader = VideoReader(items[0])
            self.fps, self.num_frames = self._reader.fps, self._reader.num_frames

    @property
    def is_sequence(self) -> bool:
        """True for videos, webcams and streams (frames in time order, tracked and smoothed)."""
        return self.kind != "images"

    def __iter__(self) -> Iterator[Frame]:
        if self.kind == "images":
            yield from self._images()
            return
        if self.kind == "frames":
            arrays: Iterable[np.ndarray] = self.items[0]
            stem = self.name
        else:
            reader, self._reader = self._reader, None
            arrays = (reader or VideoReader(self.items[0])).frames(self.start, self.stop)
            stem = Path(str(self.items[0])).stem if self.kind == "video" else self.name
        file = None if self.kind == "frames" else self.file(0)
        for index, image in zip(itertools.count(self.start), arrays, strict=False):
            if self.kind == "frames":
                if self.stop is not None and index >= self.stop:
                    return
                image = _check_array(image, index)
            yield Frame(image, f"{stem}_{index:06d}", index, index, file=file, frame=index)

    def file(self, index: int) -> str | None:
        """The ``index``-th item as the user named it: a path relative to :attr:`root` (the folder or the
        glob's base given; the path as given otherwise), a webcam index or URL; None for arrays."""
        item = self.items[index]
        if isinstance(item, np.ndarray):
            return None
        if isinstance(item, Path) and self.root is not None and item.is_relative_to(self.root):
            return item.relative_to(self.root).as_posix()
        return item.as_posix() if isinstance(item, Path) else str(item)

    def select(self, start: int = 0, stop: int | None = None) -> Source:
        """The frames ``[start, stop)`` of this input (indices in the whole input); videos skip the frames
        before ``start`` without decoding them."""
        if start < 0 or (stop is not None and stop < start):
            raise PosekitError(f"frame range [{start}, {stop}) is empty or negative")
        if self.kind == "frames":
            raise PosekitError("an iterator of frames can be read once only; select frames before making it")
        return Source(self.kind, self.items, self.fps, self.name, start, stop, self.root)

    def reopen(self) -> Source:
        """A fresh source over the same frames (videos are read twice by offline smoothing)."""
        return self.select(self.start, self.stop)

    def _images(self) -> Iterator[Frame]:
        from posekit.datasets.image_reader import read_image

        ids, positional = _image_ids(self.items)
        for index in range(
            self.start, len(self.items) if self.stop is None else min(self.stop, len(self.items))
        ):
            item, image_id = self.items[index], ids[index]
            if isinstance(item, np.ndarray):
                yield Frame(_check_array(item, index), item_name(item, index), index, image_id)
            else:
                image = read_image(Path(item))
                yield Frame(
                    image,
                    item_name(item, index),
                    index,
                    image_id,
                    Path(item),
                    positional_id=positional,
                    file=self.file(index),
                )


def item_name(item: str | Path | np.ndarray, index: int) -> str:
    """The name of an image source's ``index``-th item: its file stem (``image<index>`` for arrays)."""
    return f"image{index}" if isinstance(item, np.ndarray) else Path(item).stem


SourceLike = str | Path | int | np.ndarray | Sequence[str | Path | np.ndarray] | Iterator[np.ndarray] | Source


def resolve_source(source: SourceLike) -> Source:
    """A :class:`Source` for an image/video path, a folder, a glob, a webcam index, a stream URL, an array,
    a list (of paths or arrays) or an iterator of RGB arrays (frames in time order); a :class:`Source` (e.g.
    a part, ``select(start, stop)``) as it is."""
    if isinstance(source, Source):
        return source
    if isinstance(source, np.ndarray):
        return Source("images", [source], name="image")
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return Source("webcam", [int(source)], name=f"webcam{int(source)}")
    if isinstance(source, str) and source.lower().startswith(STREAM_SCHEMES):
        return Source("stream", [source], name="stream")
    if isinstance(source, Iterator):
        return Source("frames", [source], name="frames")
    if isinstance(source, (list, tuple)):
        if not source:
            raise PosekitError("predict got an empty list of sources; pass image paths or arrays")
        items = [s if isinstance(s, np.ndarray) else _image_file(Path(s)) for s in source]
        return Source("images", items, name="images")
    text = str(source)
    path = Path(text).expanduser()
    # a path that exists is taken literally ('img[1].jpg', 'set [v2]/'); only one that does not is a glob
    if not path.exists() and any(c in text for c in "*?["):
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if _is_image(Path(p)))
        if not files:
            raise PosekitError(f"the glob {text!r} matches no image ({', '.join(IMAGE_SUFFIXES[:6])}, ...)")
        return Source("images", files, name=Path(text).parent.name or "images", root=_glob_base(path))
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if _is_image(p))
        videos = sorted(p.name for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not files:
            hint = f"; it holds videos ({', '.join(videos[:3])}): pass one of them" if videos else ""
            raise PosekitError(f"folder {path} holds no image ({', '.join(IMAGE_SUFFIXES[:6])}, ...){hint}")
        if videos:
            listed = ", ".join(videos[:3]) + (f" and {len(videos) - 3} more" if len(videos) > 3 else "")
            logger.warning(
                "folder %s holds %d image(s) and %d video(s) (%s): the images are predicted, the videos are "
                "not; pass each video as its own --source",
                path,
                len(files),
                len(videos),
                listed,
            )
        return Source("images", files, name=path.name, root=path)
    if not path.exists():
        raise PosekitError(
            f"source {text} does not exist; pass an image, a folder, a glob ('dir/*.jpg'), a video "
            f"({', '.join(VIDEO_SUFFIXES[:3])}, ...) or a webcam index (0)"
        )
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return Source("video", [path], name=path.stem, root=path.parent)
    return Source("images", [_image_file(path)], name=path.stem, root=path.parent)


def _glob_base(pattern: Path) -> Path:
    """The folder a glob pattern searches from: its parts before the first one with a wildcard."""
    parts = list(itertools.takewhile(lambda part: not any(c in part for c in "*?["), pattern.parts))
    return Path(*parts) if parts else Path(".")


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _image_file(path: Path) -> Path:
    if path.exists() and not path.is_file():
        raise PosekitError(
            f"{path} is {_file_kind(path)}, not an image file; save the images to files (a live feed: pass "
            "its stream URL or webcam index)"
        )
    if not path.is_file():
        raise PosekitError(f"image {path} does not exist")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise PosekitError(
            f"{path} is not an image or video posekit reads (images: {', '.join(IMAGE_SUFFIXES[:8])}, ...; "
            f"videos: {', '.join(VIDEO_SUFFIXES)})"
        )
    return path


def _file_kind(path: Path) -> str:
    """What a path that exists but is not a regular file is, in words."""
    mode = path.stat().st_mode
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ]
    return next((words for test, words in kinds if test(mode)), "not a regular file")


def _image_ids(items: list) -> tuple[list[int], bool]:
    """COCO image ids: the numeric file stems when every stem is numeric and unique
    (``000000000785.jpg`` -> 785, as COCO names its files), else the position in the list; and whether
    they are positions."""
    stems = [None if isinstance(item, np.ndarray) else Path(item).stem for item in items]
    if all(s is not None and s.isdigit() for s in stems) and len({int(s) for s in stems}) == len(stems):
        return [int(s) for s in stems], False
    return list(range(len(items))), True


def _check_array(image: np.ndarray, index: int) -> np.ndarray:
    """Arrays are RGB(A) or grey uint8; returned as RGB uint8 HxWx3."""
    if (
        image.dtype != np.uint8
        or image.ndim not in (2, 3)
        or (image.ndim == 3 and image.shape[2] not in (1, 3, 4))
    ):
        raise PosekitError(
            f"image array {index} has shape {image.shape} and dtype {image.dtype}; pass RGB uint8 HxWx3 "
            "(grey HxW and RGBA HxWx4 are converted)"
        )
    if image.ndim == 2 or image.shape[2] == 1:
        return np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
    return np.ascontiguousarray(image[..., :3])
