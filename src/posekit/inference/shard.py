"""Which frames of a source this process predicts when several processes share ``posekit predict``
(``torchrun``): a contiguous block of whole chunks (``unit`` frames, the batch the predictor reads
ahead), so that every detector and model call sees the same frames as in a single-process run."""

from __future__ import annotations

from posekit.distributed import Shard
from posekit.errors import ConfigError
from posekit.inference.sources import Source


def split_source(src: Source, shard: Shard, unit: int, sequential: bool) -> Source:
    """This process's part of ``src`` (``src`` itself in a single process); frames keep their index in
    the whole input.

    Images are split by file and a video by frame index. Live sources, iterators of frames, tracking and
    smoothing (``sequential``) follow frames in time, so they cannot be split: several processes raise
    :class:`ConfigError`.
    """
    if shard.world == 1:
        return src
    if src.live or src.kind == "frames" or sequential:
        what = (
            "tracking, smoothing and detecting every N frames (frame after frame)"
            if sequential
            else f"a {src.kind} source (read once, in time)"
        )
        raise ConfigError(
            f"{what} cannot be split between {shard.world} processes: run `posekit predict` without "
            "torchrun / accelerate launch (one process per video: start one run per video)"
        )
    count = src.num_frames
    if count is None:
        raise ConfigError(
            f"{src.items[0]} does not say how many frames it has, so it cannot be split between "
            f"{shard.world} processes; run `posekit predict` on it without torchrun"
        )
    stop = count if src.stop is None else min(src.stop, count)
    part = shard.block(max(stop - src.start, 0), unit)
    # a video container's frame count may be short: the last block reads on to the end
    last = shard.rank == shard.world - 1 and src.kind == "video" and src.stop is None
    return src.select(src.start + part.start, None if last else src.start + part.stop)
