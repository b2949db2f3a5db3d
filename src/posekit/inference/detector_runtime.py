"""The person detector on OpenVINO: its transformers model converted once (``openvino.convert_model``,
cached under ``$POSEKIT_HOME/exports/``) and run by OpenVINO's CPU plugin in fp32, behind the same
:class:`~posekit.models.detector.PersonDetector` (its image processor and post-processing stay).

Why: detection was 48 of ~123 ms a frame with three people (``benchmarks/video.py``, D-FINE-N in
PyTorch fp32 every 5th frame). fp32 only: converted D-FINE-N gives the same detections as PyTorch (the
same 300 queries, boxes within 1e-6), while bf16 or int8 would change boxes by an amount that can only be
judged as box AP, which needs the detector's real weights (not available offline to measure it).

The IR has a fixed 1x3xHxW input (the processor's size): DETR-style detectors bake shapes into their
anchors, so a batch is run one image at a time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.fileio import build_once
from posekit.inference.export import cache_folder
from posekit.inference.openvino_runtime import import_openvino
from posekit.models.detector import PersonDetector


@dataclass
class DetectionOutput:
    """What the detector's ``post_process_object_detection`` reads: ``logits`` (B, Q, C), ``pred_boxes``
    (B, Q, 4) relative centre-size boxes."""

    logits: torch.Tensor
    pred_boxes: torch.Tensor


class _Outputs(torch.nn.Module):
    """The detector as a module of tensors (``convert_model`` traces tuples, not ModelOutput objects)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(pixel_values=pixel_values)
        return out.logits, out.pred_boxes


class OpenVinoDetectorModel:
    """A compiled detector IR called like the transformers model: ``model(pixel_values=...)``."""

    def __init__(self, xml: Path) -> None:
        ov = import_openvino()
        import openvino.properties.hint as hints

        config = {
            hints.performance_mode: hints.PerformanceMode.LATENCY,
            hints.inference_precision: ov.Type.f32,
        }
        self.compiled = ov.Core().compile_model(str(xml), "CPU", config)
        self._request = self.compiled.create_infer_request()

    def __call__(self, pixel_values: torch.Tensor, **_: Any) -> DetectionOutput:
        logits, boxes = [], []
        for image in pixel_values.float().cpu().numpy():
            out = self._request.infer([np.ascontiguousarray(image[None])])
            logits.append(np.array(out[0]))
            boxes.append(np.array(out[1]))
        return DetectionOutput(
            torch.from_numpy(np.concatenate(logits)), torch.from_numpy(np.concatenate(boxes))
        )


def on_openvino(detector: PersonDetector) -> PersonDetector:
    """``detector`` running on OpenVINO (fp32), its IR converted on first use and cached per weights."""
    model = detector.model
    if not isinstance(model, torch.nn.Module) or detector.device.type != "cpu":
        return detector  # already converted, or on a GPU
    side = _input_size(detector.processor)
    if side is None:  # a processor that keeps the aspect (DETR): shapes vary, stay on PyTorch
        return detector
    folder = cache_folder(model, "detector", side)

    def build(tmp: Path) -> None:
        ov = import_openvino()
        example = torch.zeros(1, 3, *side)
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's warnings on shapes read as Python numbers
            converted = ov.convert_model(_Outputs(model).eval(), example_input=(example,))
        ov.save_model(converted, tmp / "model.xml", compress_to_fp16=False)

    what = f"the OpenVINO copy of the person detector {detector.name}"
    announce = "converting the person detector to OpenVINO once (~20 s)"
    folder = build_once(folder, build, "model.xml", what, announce)
    detector.model = OpenVinoDetectorModel(folder / "model.xml")
    detector.runtime = "openvino fp32"
    return detector


def _input_size(processor: Any) -> tuple[int, int] | None:
    """The (height, width) the detector's processor resizes every image to; None when it has none."""
    size = getattr(processor, "size", None) or {}
    height, width = size.get("height"), size.get("width")
    return (int(height), int(width)) if height and width else None
