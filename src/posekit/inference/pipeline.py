"""Stages that run beside the model, so that it never waits: read-ahead in a background thread (decoding,
detection) and, for live sources, a reader that keeps only the newest frame.

Both are plain threads and bounded queues: OpenCV's decoding and PyTorch's kernels release the GIL, so a
thread overlaps them with the model without copying frames between processes. An exception in a
stage is raised again in the consumer; a consumer that stops early (closes the generator) stops the
stage.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterable[T], depth: int, name: str = "posekit-read-ahead") -> Iterator[T]:
    """``items`` produced by a background thread, up to ``depth`` ahead of the consumer."""
    if depth < 1:
        yield from items
        return
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failure(error))

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


class StageTimes:
    """Seconds spent in each stage of a run and the frames it handled (each stage is timed in the one thread
    that runs it; stages in different threads overlap, so their sum can exceed the wall time)."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.frames: defaultdict[str, int] = defaultdict(int)

    @contextmanager
    def __call__(self, stage: str, frames: int) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start
            self.frames[stage] += frames

    def timed(self, items: Iterable[T], stage: str) -> Iterator[T]:
        """``items`` with the time each one takes to produce counted as ``stage``."""
        iterator = iter(items)
        while True:
            with self(stage, 1):
                item = next(iterator, _END)
            if item is _END:
                self.frames[stage] -= 1
                return
            yield item  # type: ignore[misc]

    def ms_per_frame(self, frames: int) -> dict[str, float]:
        """Milliseconds per frame of each stage over a run of ``frames`` frames."""
        return {stage: 1000 * seconds / max(frames, 1) for stage, seconds in self.seconds.items()}


@dataclass
class LiveStats:
    """What a live source delivered: frames read, frames handed on, frames dropped because the consumer
    was busy, and the latency (s) from capture to the consumer's result of each frame it handled."""

    read: int = 0
    delivered: int = 0
    dropped: int = 0
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | None]:
        lat = sorted(self.latencies)
        return {
            "read": self.read,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "latency_ms_mean": round(1000 * sum(lat) / len(lat), 1) if lat else None,
            "latency_ms_p95": round(1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1) if lat else None,
        }


class Captured(Generic[T]):
    """An item of a live source and the ``time.monotonic()`` at which it was read."""

    __slots__ = ("item", "time")

    def __init__(self, item: T, at: float) -> None:
        self.item, self.time = item, at


def latest_only(items: Iterable[T], stats: LiveStats, name: str = "posekit-live") -> Iterator[Captured[T]]:
    """A live source read as fast as it delivers by a background thread that keeps only the newest unread
    item: when the consumer is slower, older items are dropped (counted in ``stats``) rather than queued,
    so the consumer always works on the most recent frame and latency stays bounded."""
    lock = threading.Condition()
    newest: list[Captured[T]] = []  # at most one: the newest unread item
    ended: list[object] = []  # _END or a _Failure, once the source stops
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                with lock:
                    stats.read += 1
                    stats.dropped += len(newest)
                    newest[:] = [Captured(item, time.monotonic())]
                    lock.notify()
            end: object = _END
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            end = _Failure(error)
        with lock:
            ended.append(end)
            lock.notify()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            with lock:
                while not newest and not ended:
                    lock.wait()
                if not newest:
                    if isinstance(ended[0], _Failure):
                        raise ended[0].error
                    return
                item = newest.pop()
                stats.delivered += 1
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
