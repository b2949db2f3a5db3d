"""Inference split across processes: ``posekit predict`` and ``posekit val`` under ``torchrun`` or
``accelerate launch`` give each process a contiguous block of the work, and the main process merges the
parts into the files a single process writes, byte for byte.

The process group is Accelerate's (``accelerate.PartialState``: gloo on CPUs, NCCL on GPUs, several
machines through ``torchrun --nnodes``); nothing starts one when the environment names no world. Blocks
are whole batches (``unit`` items), so every model call sees the same inputs as in a single-process run.
Parts are files in the run folder (each written atomically, then merged by the main process): the
sources are read from a file system every process sees, and the run folder lives on it too.
"""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from posekit.fileio import atomic_path, atomic_write_bytes

T = TypeVar("T")
#: Folder of a run where the processes leave their parts until the main process merges them.
PARTS_DIR = ".parts"


@dataclass(frozen=True)
class Shard:
    """This process's place among ``world`` processes (``rank`` 0 is the main one)."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def block(self, count: int, unit: int = 1) -> range:
        """This process's contiguous block of ``count`` items, cut at multiples of ``unit`` (a batch) and
        as even as whole units allow; blocks of successive ranks follow each other and cover all items."""
        units = -(-count // unit)
        start, stop = units * self.rank // self.world, units * (self.rank + 1) // self.world
        return range(min(start * unit, count), min(stop * unit, count))

    def wait(self) -> None:
        """Return once every process has come here."""
        if self.world > 1:
            _state().wait_for_everyone()

    def share(self, make: Callable[[], T]) -> T:
        """``make()`` run by the main process (e.g. a new run folder), its result given to all."""
        if self.world == 1:
            return make()
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([make() if self.is_main else None])[0]

    def total(self, value: int) -> int:
        """The sum of ``value`` over the processes (every process gets it)."""
        if self.world == 1:
            return value
        from accelerate.utils import gather_object

        return sum(gather_object([value]))

    def part(self, path: str | Path) -> Path:
        """Where this process writes its part of ``path`` (``path`` itself in a single process)."""
        path = Path(path)
        return path if self.world == 1 else self._part_of(path, self.rank)

    def merge(self, path: str | Path, combine: Callable[[list[Path], Path], None]) -> None:
        """After every process wrote its :meth:`part` of ``path`` atomically (or none, having nothing): the
        main process writes ``path`` atomically with ``combine(parts in rank order, temporary path)``,
        unless no part exists; all return after."""
        if self.world == 1:
            return
        self.wait()
        parts = [p for p in self._parts(Path(path)) if p.exists()] if self.is_main else []
        if parts:
            with atomic_path(path) as tmp:
                combine(parts, tmp)
            _remove(parts)
        self.wait()

    def gather(self, obj: T, path: str | Path) -> list[T] | None:
        """Every process's ``obj`` in rank order on the main process (None on the others), passed through
        part files named after ``path`` (removed after; ``path`` itself is not written)."""
        if self.world == 1:
            return [obj]
        atomic_write_bytes(self.part(path), pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        self.wait()
        gathered = None
        if self.is_main:
            parts = self._parts(Path(path))
            gathered = [pickle.loads(p.read_bytes()) for p in parts]
            _remove(parts)
        self.wait()
        return gathered

    def _parts(self, path: Path) -> list[Path]:
        return [self._part_of(path, rank) for rank in range(self.world)]

    @staticmethod
    def _part_of(path: Path, rank: int) -> Path:
        return path.parent / PARTS_DIR / f"{rank}.{path.name}"  # the suffix stays: video writers read it


def current_shard() -> Shard:
    """This process's :class:`Shard`: from the process group that ``torchrun`` / ``accelerate launch``
    describe in the environment (``WORLD_SIZE``, ``RANK``), else the only process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Shard()
    state = _state()
    return Shard(state.process_index, state.num_processes)


@cache
def _state() -> Any:
    import torch
    from accelerate import PartialState

    # without a GPU, accelerate joins the processes only when told it is on CPUs (gloo)
    return PartialState(cpu=not torch.cuda.is_available())


def _remove(parts: list[Path]) -> None:
    """Delete merged parts, and their folder once empty."""
    for part in parts:
        part.unlink()
    folder = parts[0].parent
    if not any(folder.iterdir()):
        shutil.rmtree(folder, ignore_errors=True)
