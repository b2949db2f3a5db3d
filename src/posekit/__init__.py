"""posekit: train, evaluate and run top-down keypoint models (ViTPose) on COCO keypoint data."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# OpenMP threads (GNU libgomp in the torch CPU wheel; LLVM libomp on macOS) spin ~3 ms at every barrier
# before they sleep. With another CPU-heavy process on the same cores that spinning takes the time its
# threads need, and a tiny training went from 17 s to 7 min. Passive waiting shares the machine well but
# makes the many small parallel regions of a small model's training wake sleeping threads each time
# (the sample training: 23 s an epoch against 15 s spinning). A spin of 1,000 iterations (about 10 us)
# keeps most of the speed alone (17.5 s) and two jobs at once still run at more than half speed each
# (1.48x as long as one; passive 1.24x, libgomp's default 4.2x: benchmarks/shared_machine.py). The
# runtimes read these once, when torch loads them: so here, before any posekit module imports torch. A
# setting of the user's wins (and torch imported before posekit keeps its own).
if not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"} & set(os.environ):
    os.environ["GOMP_SPINCOUNT"] = "1000"  # libgomp
    os.environ["KMP_BLOCKTIME"] = "0"  # LLVM / Intel OpenMP: sleep at once (their spin is in ms)

__version__ = "0.1.0"

__all__ = [
    "KeypointSchema",
    "ViTPose",
    "__version__",
    "analyze",
    "audit",
    "check",
    "convert",
    "export",
    "load",
    "predict",
    "sigmas",
    "train",
    "val",
]

# The public API (posekit.api) is imported lazily so that ``import posekit`` (and ``posekit --help``) stays
# fast.
_LAZY = {name: "posekit.api" for name in __all__ if name not in ("KeypointSchema", "__version__", "analyze")}
_LAZY["KeypointSchema"] = "posekit.datasets.schema"
_LAZY["analyze"] = "posekit.tasks.analyze"

if TYPE_CHECKING:
    from posekit.datasets.schema import KeypointSchema


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'posekit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
