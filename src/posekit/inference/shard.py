"""Which frames of a source this process predicts when several processes share ``posekit predict``
(``torchrun``): a contiguous block of whole chunks (``unit`` frames, the batch the predictor reads
ahead), so that every detector and model call sees the same frames as in a single-process run."""

from __future__ import annotations

import sys

from posekit.distributed import Shard
from posekit.errors import ConfigError
from posekit.inference.sources import Source
from posekit.inference.video import VideoReader


def split_source(src: Source, shard: Shard, unit: int, sequential: bool) -> range | None:
    """This process's frame indices of ``src`` (None: all of them, in a single process).

    Images are split by file and a video by frame index. Tracking and smoothing (``sequential``) follow
    people from frame to frame, so they cannot be split: several processes raise :class:`ConfigError`.
    """
    if shard.world == 1:
        return None
    if src.kind == "webcam" or sequential:
        what = "a webcam" if src.kind == "webcam" else "tracking and smoothing (frame after frame)"
        raise ConfigError(
            f"{what} cannot be split between {shard.world} processes: run `posekit predict` without "
            "torchrun / accelerate launch (one process per video: start one run per video)"
        )
    if src.kind == "images":
        return shard.block(len(src.items), unit)
    count = VideoReader(src.items[0]).num_frames
    if count is None:
        raise ConfigError(
            f"{src.items[0]} does not say how many frames it has, so it cannot be split between "
            f"{shard.world} processes; run `posekit predict` on it without torchrun"
        )
    part = shard.block(count, unit)
    # the container's frame count may be short: the last block reads on to the end
    last = shard.rank == shard.world - 1
    return range(part.start, sys.maxsize) if last else part
