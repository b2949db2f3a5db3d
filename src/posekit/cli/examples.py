"""One "try this" example per command, each working as printed on a fresh install: ``posekit`` with no
arguments lists them all, and each command's ``--help`` ends with its own. The examples that use a model
use the one the first, ``posekit train``, writes (and say so)."""

from __future__ import annotations

from rich.markup import escape

#: Where the first ``posekit train`` in a folder saves its best model.
TRAINED = "runs/train/exp/weights/best"

#: command -> (the command line, what it does / what it needs first)
EXAMPLES: dict[str, tuple[str, str]] = {
    "train": ("posekit train", "ViTPose-T on the built-in sample, about 3 min on a CPU; prints its AP"),
    "val": (f"posekit val --model {TRAINED}", "after `posekit train`: AP, PCK, per-keypoint on the sample"),
    "predict": (
        f"posekit predict --model {TRAINED} --source sample",
        "after `posekit train`: poses drawn on the sample's val images",
    ),
    "export": (
        f"posekit export --model {TRAINED}",
        "after `posekit train`, with pip install 'posekit[export]': an ONNX file",
    ),
    "analyze": (
        "posekit analyze runs/predict/exp --export openpose",
        "after `posekit predict`: joint angles with 95% intervals, tables, OpenPose JSON, report.html",
    ),
    "check": ("posekit check sample", "validate a data set (here the built-in sample)"),
    "convert": ("posekit convert sample yolo_sample --from coco --to yolo", "COCO to Ultralytics YOLO pose"),
    "audit": ("posekit audit sample", "likely label errors, no model needed"),
    "sigmas": ("posekit sigmas sample", "OKS sigmas from repeated annotations of the same people"),
}


def epilog(command: str) -> str:
    """The end of ``posekit COMMAND --help``: its example."""
    line, what = EXAMPLES[command]
    return escape(f"Try: {line}\n\n({what})")  # the help is rich markup: [export] is text


def overview() -> str:
    """What ``posekit`` with no arguments ends with: every example, in the order to try them."""
    lines = "\n\n".join(f"  {line}\n\n      {what}" for line, what in EXAMPLES.values())
    return escape(f"Try this (each line works as printed):\n\n{lines}")
