"""posekit: train, evaluate and run top-down keypoint models (ViTPose) on COCO keypoint data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
