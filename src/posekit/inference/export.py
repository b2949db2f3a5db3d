"""``posekit.export``: a pose model to ONNX, with its schema and processor in the file's metadata.

Uses torch's TorchScript-based exporter (``torch.onnx.export(dynamo=False)``): with torch 2.13 it
exports transformers' VitPose (eager or SDPA attention) exactly (max heatmap difference ~1e-7), while
the dynamo exporter needs the extra ``onnxscript`` package. Every export is checked against PyTorch
on a random batch before it is written.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.errors import ConfigError, ModelError
from posekit.inference.onnx_runtime import METADATA_KEY, OnnxRunner
from posekit.io import atomic_save

FORMATS = ("onnx",)
#: Largest heatmap difference accepted between ONNX Runtime and PyTorch (fp32; fp16 exports: 1e-2).
TOLERANCE = {False: 1e-4, True: 1e-2}


@dataclass
class ExportResult:
    path: Path
    max_abs_diff: float  # ONNX Runtime vs PyTorch heatmaps on a random batch (CPU, fp32 reference)
    dynamic_batch: bool
    half: bool
    opset: int


class _HeatmapGraph(torch.nn.Module):
    """float32 ``pixel_values`` in, float32 ``heatmaps`` out, whatever the weights' precision."""

    def __init__(self, model: torch.nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values.to(self.dtype)).float()


def export(
    model: Any,
    pretrained: str = "auto",
    format: str = "onnx",
    output: str | Path | None = None,
    dynamic_batch: bool = False,
    half: bool = False,
    opset: int = 17,
    batch: int = 1,
) -> ExportResult:
    """Export ``model`` (a directory, hub id, preset with ``pretrained`` weights, or :class:`PoseModel`)
    to ``output`` (default: ``model.onnx`` in the model directory, else ``<name>.onnx`` here).

    ``dynamic_batch`` leaves the batch dimension free (else it is fixed to ``batch``); ``half`` stores
    fp16 weights (inputs and outputs stay float32). Raises :class:`ModelError` when ONNX Runtime's
    heatmaps differ from PyTorch's by more than :data:`TOLERANCE`.
    """
    from posekit.models.vitpose import PoseModel, load_model

    if format not in FORMATS:
        raise ConfigError(f"--format {format!r} is not supported; choose one of {list(FORMATS)}")
    if batch < 1:
        raise ConfigError(f"--batch must be >= 1, got {batch}")
    if isinstance(model, PoseModel):
        pose_model, name = copy.deepcopy(model), "model"  # the caller's model keeps its device and dtype
    else:
        # Eager attention exports to plain MatMul/Softmax nodes that every runtime and opset supports.
        pose_model = load_model(model, pretrained=pretrained, attn_implementation="eager")
        name = str(model)
    pose_model = pose_model.float().cpu().eval()
    if output is None:
        output = Path(name) / "model.onnx" if Path(name).is_dir() else Path(f"{Path(name).name}.onnx")
    output = Path(output)
    if output.suffix != ".onnx":
        raise ConfigError(f"--output {output} must end with .onnx")

    dtype = torch.float16 if half else torch.float32
    graph = _HeatmapGraph(pose_model.to(dtype), dtype).eval()
    dummy = torch.randn(batch, 3, *pose_model.input_size)
    metadata = json.dumps({**pose_model.metadata(), "processor": pose_model.processor.to_dict()})

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # tracer warnings on shape checks that are constant for a fixed size
            torch.onnx.export(
                graph,
                (dummy,),
                str(tmp),
                dynamo=False,
                input_names=["pixel_values"],
                output_names=["heatmaps"],
                dynamic_axes={"pixel_values": {0: "batch"}, "heatmaps": {0: "batch"}}
                if dynamic_batch
                else None,
                opset_version=opset,
                do_constant_folding=True,
            )
        _add_metadata(tmp, metadata)

    try:
        atomic_save(output, write)
    except (RuntimeError, torch.onnx.errors.OnnxExporterError) as error:
        raise ModelError(f"ONNX export of {name} failed (opset {opset}): {error}") from None
    finally:
        pose_model.float()
    diff = _verify(output, pose_model, 2 if dynamic_batch else batch)
    if diff > TOLERANCE[half]:
        output.unlink()
        raise ModelError(
            f"the exported {output} differs from PyTorch by {diff:.2e} (> {TOLERANCE[half]:.0e}); "
            "try another --opset or export without --half"
        )
    return ExportResult(output, diff, dynamic_batch, half, opset)


def _add_metadata(path: Path, metadata: str) -> None:
    import onnx

    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, metadata
    proto.producer_name = "posekit"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _verify(path: Path, model: torch.nn.Module, batch: int) -> float:
    """Max |heatmap difference| between ONNX Runtime and PyTorch (fp32) on a seeded random batch."""
    runner = OnnxRunner(path)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, *runner.processor.input_size)).astype(np.float32)
    with torch.inference_mode():
        reference = model(torch.from_numpy(x)).float().numpy()
    return float(np.abs(runner(x) - reference).max())
