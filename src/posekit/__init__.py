"""posekit: train, evaluate and run top-down keypoint models (ViTPose) on COCO keypoint data."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# OpenMP threads (GNU libgomp in the torch CPU wheel; LLVM libomp on macOS) spin ~3 ms at every barrier
# before they sleep. With another CPU-heavy process on the same cores that spinning takes the time its
# threads need, and a tiny training went from 17 s to 7 min. Passive waiting costs little alone and lets
# two jobs share a machine at about half speed each (benchmarks/shared_machine.py). The runtimes read it
# once, when torch loads them: so here, before any posekit module imports torch. A setting of the user's
# wins (and torch imported before posekit keeps its own).
if not {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"} & set(os.environ):
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

__version__ = "0.1.0"

__all__ = ["KeypointSchema", "__version__", "check", "convert", "export", "load", "train", "val"]

# The public API is imported lazily so that ``import posekit`` (and ``posekit --help``) stays fast.
_LAZY = {
    "KeypointSchema": ("posekit.data.schema", "KeypointSchema"),
    "check": ("posekit.data.check", "check"),
    "load": ("posekit.inference.predictor", "load"),
    "train": ("posekit.engine.train", "train"),
    "val": ("posekit.engine.val", "val"),
    "export": ("posekit.inference.export", "export"),
    "convert": ("posekit.data.formats", "convert"),
}

if TYPE_CHECKING:
    from posekit.data.schema import KeypointSchema


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'posekit' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    return getattr(importlib.import_module(module), attr)
