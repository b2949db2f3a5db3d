"""Deterministic, resumable, distributed batch order.

The order of an epoch is a pure function of ``(seed, epoch)``; each process takes every ``world``-th
sample of it, and a resumed run skips the batches it has already trained on. Items are ``(epoch, index)``
pairs so that worker processes (persistent ones too) know the epoch of the augmentation they draw.
Written here because torch's ``DistributedSampler`` keeps the epoch in the sampler (workers never see it)
and cannot start in the middle of an epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Sampler


class EpochBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(epoch, index)`` for one process of ``world``; every process gets the same count."""

    def __init__(
        self, size: int, batch_size: int, seed: int = 0, rank: int = 0, world: int = 1, shuffle: bool = True
    ) -> None:
        if size < 1:
            raise ValueError("cannot sample batches from an empty data set")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world, self.shuffle = rank, world, shuffle
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch and skip its first ``start_batch`` batches (resume)."""
        self.epoch, self.start = epoch, start_batch

    @property
    def per_process(self) -> int:
        return math.ceil(self.size / self.world)

    def __len__(self) -> int:
        """Batches per epoch (a partial last batch included), independent of ``start_batch``."""
        return math.ceil(self.per_process / self.batch_size)

    def indices(self) -> np.ndarray:
        """This process's sample indices for the current epoch (the order wraps around to even out)."""
        order = (
            np.random.default_rng((self.seed, self.epoch)).permutation(self.size)
            if self.shuffle
            else np.arange(self.size)
        )
        order = np.resize(order, self.per_process * self.world)  # repeats from the start to pad
        return order[self.rank :: self.world]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        mine = self.indices()
        for b in range(self.start, len(self)):
            chunk = mine[b * self.batch_size : (b + 1) * self.batch_size]
            yield [(self.epoch, int(i)) for i in chunk]


class EpochItems(Dataset):
    """Wraps a dataset with ``set_epoch(e)`` so that items are addressed as ``(epoch, index)``."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        self.dataset.set_epoch(epoch)
        return self.dataset[index]
