"""Helpers shared by the tests (imported as ``from helpers import ...``; fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: Training settings of a model that trains in seconds on CPU (tests add or override what they need).
TINY_TRAIN = {
    "model": "vitpose-t-simple",
    "pretrained": "none",
    "input_size": "64x48",
    "batch_size": 4,
    "epochs": 1,
    "workers": 0,
    "device": "cpu",
}


def _benchmark_module() -> Any:
    """benchmarks/eval.py holds the deterministic generator of large keypoint sets (shared, not copied)."""
    spec = importlib.util.spec_from_file_location("posekit_bench_eval", REPO / "benchmarks" / "eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_keypoint_set = _benchmark_module().make_keypoint_set


def reference(gt: dict, results: list, sigmas=None) -> Any:
    """pycocotools' COCOeval of ``results`` (the reference posekit's COCO stats must equal)."""
    from pycocotools.coco import COCO as RefCOCO
    from pycocotools.cocoeval import COCOeval as RefCOCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = RefCOCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        ev = RefCOCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(results)), "keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def perturbed_predictions(gt: dict, seed: int = 0, false_positives: int = 5) -> list[dict]:
    """Every annotation's keypoints plus noise (varying per person), and some false positives."""
    rng = np.random.default_rng(seed)
    results = []
    for ann in gt["annotations"]:
        kp = np.array(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        x, y, w, h = ann["bbox"]
        kp[:, :2] += rng.normal(0, rng.uniform(1, 15), (len(kp), 2))
        unlabelled = kp[:, 2] == 0
        kp[unlabelled, 0] = rng.uniform(x, x + w, unlabelled.sum())
        kp[unlabelled, 1] = rng.uniform(y, y + h, unlabelled.sum())
        kp[:, 2] = rng.uniform(0, 1, len(kp))
        results.append(
            {
                "image_id": ann["image_id"],
                "category_id": 1,
                "keypoints": kp.ravel().tolist(),
                "score": float(rng.uniform(0.3, 1)),
            }
        )
    images = [img for img in gt["images"]]
    for _ in range(false_positives):
        img = images[int(rng.integers(len(images)))]
        kp = np.column_stack(
            [rng.uniform(0, img["width"], 17), rng.uniform(0, img["height"], 17), rng.uniform(0, 1, 17)]
        )
        results.append(
            {
                "image_id": img["id"],
                "category_id": 1,
                "keypoints": kp.ravel().tolist(),
                "score": float(rng.uniform(0, 0.5)),
            }
        )
    return results


def metrics_path(output: str) -> Path:
    """The metrics.json that ``posekit val`` printed it saved to."""
    line = next(line for line in output.splitlines() if line.startswith("Results saved to "))
    path = Path(line.removeprefix("Results saved to ").strip())
    assert path.name == "metrics.json" and path.is_file()
    return path


def strict_json(text: str) -> object:
    """``json.loads`` that refuses the NaN / Infinity tokens Python writes but JSON does not have."""

    def refuse(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)
