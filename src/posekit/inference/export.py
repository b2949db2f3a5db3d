"""``posekit.export``: a pose model to ONNX or to OpenVINO IR, with its schema and processor in the file's
metadata (ONNX ``metadata_props``, OpenVINO ``rt_info``).

Uses torch's TorchScript-based exporter (``torch.onnx.export(dynamo=False)``): with torch 2.13 it
exports transformers' VitPose (eager or SDPA attention) exactly (max heatmap difference ~1e-7), while
the dynamo exporter needs the extra ``onnxscript`` package. fp32 and fp16 exports are checked against
PyTorch on a random batch before they are written; int8 exports (:mod:`posekit.inference.quantize`) are
compared on the calibration crops and the difference reported (quantisation changes heatmaps by design:
its cost is measured as AP, see ``benchmarks/cpu_limit.py``).

OpenVINO IRs are converted from the PyTorch module by ``openvino.convert_model`` (no ONNX file in
between), always with a free batch dimension (OpenVINO's CPU plugin runs dynamic shapes), and hold fp32
weights (bf16 is chosen when the model is compiled: ``posekit predict --runtime openvino --precision bf16``)
or NNCF's int8.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.device import Precision, resolve_precision
from posekit.errors import ConfigError, ModelError
from posekit.fileio import ReadOnlyError, atomic_save, build_once, posekit_home
from posekit.inference.onnx_runtime import METADATA_KEY, OnnxRunner
from posekit.inference.openvino_runtime import OpenVinoRunner, import_openvino
from posekit.inference.quantize import (
    DEFAULT_CALIBRATION,
    RECIPE,
    calibration_crops,
    quantize_int8,
    quantize_openvino_int8,
)

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "openvino")
#: The file (ONNX) or folder (OpenVINO IR) an export writes by default, in the model's folder.
DEFAULT_NAME = {"onnx": "model.onnx", "openvino": "openvino"}
#: Largest heatmap difference accepted between ONNX Runtime and PyTorch (int8: reported, not checked).
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "int8": float("inf")}


@dataclass
class ExportResult:
    path: Path
    max_abs_diff: float  # ONNX Runtime vs PyTorch heatmaps (CPU, fp32 reference)
    dynamic_batch: bool
    precision: Precision
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
    precision: str = "auto",
    opset: int = 17,
    batch_size: int = 1,
    calibration: str | Path = DEFAULT_CALIBRATION,
) -> ExportResult:
    """Export ``model`` (a directory, hub id, preset with ``pretrained`` weights, or :class:`PoseModel`)
    to ``output``: for ``format="onnx"`` a ``.onnx`` file (default: ``model.onnx`` in the model directory,
    else ``<name>.onnx`` here), for ``"openvino"`` a folder holding ``model.xml`` and ``model.bin``
    (default: ``openvino/`` in the model directory, else ``<name>_openvino/`` here).

    ``dynamic_batch`` leaves the batch dimension free (else it is fixed to ``batch_size``; OpenVINO IRs are
    always free). ``precision``: ``fp32`` (``auto``), ``fp16`` weights (ONNX; inputs and outputs stay
    float32) or ``int8`` (post-training quantisation with activation ranges measured on ``calibration``:
    a data set, default the built-in sample, or a folder/glob of person images). Raises
    :class:`ModelError` when the runtime's heatmaps differ from PyTorch's by more than :data:`TOLERANCE`.
    """
    from posekit.models.vitpose import PoseModel, load_model

    if format not in FORMATS:
        raise ConfigError(f"--format {format!r} is not supported; choose one of {list(FORMATS)}")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    openvino = format == "openvino"
    resolved = resolve_precision(precision, torch.device("cpu"), runtime="openvino" if openvino else "onnx")
    if openvino and resolved not in ("fp32", "int8"):
        raise ConfigError(
            f"--precision {resolved}: OpenVINO IRs hold fp32 or int8 weights; bf16 is chosen when the "
            "model runs (posekit predict --runtime openvino --precision bf16)"
        )
    if isinstance(model, PoseModel):
        pose_model, name = copy.deepcopy(model), "model"  # the caller's model keeps its device and dtype
    else:
        # Eager attention exports to plain MatMul/Softmax nodes that every runtime and opset supports.
        pose_model = load_model(model, pretrained=pretrained, attn_implementation="eager")
        name = str(model)
    pose_model = pose_model.float().cpu().eval()
    beside_model = output is None and Path(name).is_dir()
    here = Path(f"{Path(name).resolve().name}_openvino" if openvino else f"{Path(name).resolve().name}.onnx")
    if output is None:
        output = Path(name) / DEFAULT_NAME[format] if beside_model else here
    output = Path(output)
    if not openvino and output.suffix != ".onnx":
        raise ConfigError(f"--output {output} must end with .onnx")
    if openvino and output.suffix:
        raise ConfigError(f"--output {output}: an OpenVINO export is a folder (model.xml + model.bin)")

    dtype = torch.float16 if resolved == "fp16" else torch.float32
    graph = _HeatmapGraph(pose_model.to(dtype), dtype).eval()
    dummy = torch.randn(batch_size, 3, *pose_model.input_size)
    info = {**pose_model.metadata(), "processor": pose_model.processor.to_dict(), "precision": resolved}
    crops = None
    if resolved == "int8":
        crops = calibration_crops(pose_model.processor, calibration)
        info["calibration"] = {"source": str(calibration), "crops": len(crops)}
    metadata = json.dumps(info)

    def write_float(tmp: Path) -> None:
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

    def write_openvino(tmp: Path) -> None:
        ov = import_openvino()
        h, w = pose_model.input_size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the same tracer warnings
            converted = ov.convert_model(
                graph,
                example_input=dummy,
                input=[("pixel_values", ov.PartialShape([-1, 3, h, w]), ov.Type.f32)],
            )
        if crops is not None:
            converted = quantize_openvino_int8(converted, crops)
        converted.outputs[0].get_tensor().set_names({"heatmaps"})
        converted.set_rt_info(metadata, [METADATA_KEY])
        tmp.mkdir()
        ov.save_model(converted, str(tmp / "model.xml"), compress_to_fp16=False)

    def write(tmp: Path) -> None:
        if openvino:
            return write_openvino(tmp)
        if crops is None:
            return write_float(tmp)
        fp32 = tmp.with_name(tmp.stem + ".fp32.onnx")
        try:
            write_float(fp32)
            quantize_int8(fp32, tmp, crops)
        finally:
            fp32.unlink(missing_ok=True)

    try:
        try:
            atomic_save(output, write)
        except ReadOnlyError:
            if not beside_model:
                raise
            # a read-only model store: the default output moves to the working directory, and says so
            logger.warning("%s is read-only: writing %s instead (choose with --output)", output.parent, here)
            output = here
            atomic_save(output, write)
    except (RuntimeError, torch.onnx.errors.OnnxExporterError) as error:
        raise ModelError(f"{format} export of {name} failed: {error}") from None
    finally:
        pose_model.float()
    diff = _verify(output, pose_model, 2 if dynamic_batch or openvino else batch_size, crops)
    if diff > TOLERANCE[resolved]:
        shutil.rmtree(output) if output.is_dir() else output.unlink()
        raise ModelError(
            f"the exported {output} differs from PyTorch by {diff:.2e} (> {TOLERANCE[resolved]:.0e}); "
            "try another --opset or export in fp32"
        )
    return ExportResult(output, diff, dynamic_batch or openvino, resolved, opset)


def _add_metadata(path: Path, metadata: str) -> None:
    import onnx

    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, metadata
    proto.producer_name = "posekit"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _verify(path: Path, model: torch.nn.Module, batch: int, crops: np.ndarray | None = None) -> float:
    """Max |heatmap difference| between the exported model (ONNX Runtime or OpenVINO fp32) and PyTorch
    (fp32) on ``crops`` (the calibration crops of an int8 export, up to 16) or a seeded random batch."""
    runner = OnnxRunner(path) if path.suffix == ".onnx" else OpenVinoRunner(path, "fp32")
    if crops is not None:
        x = crops[:16]
    else:
        x = np.random.default_rng(0).standard_normal((batch, 3, *runner.processor.input_size))
        x = x.astype(np.float32)
    with torch.inference_mode():
        reference = model(torch.from_numpy(x)).float().numpy()
    return float(np.abs(runner(x) - reference).max())


def cached_export(
    model: Any, runtime: str, precision: str, calibration: str | Path = DEFAULT_CALIBRATION
) -> Path:
    """The exported ``model`` (a :class:`~posekit.models.vitpose.PoseModel`) that ``runtime``
    (``onnxruntime``: a ``.onnx`` file, ``openvino``: an IR folder) runs in ``precision`` (int8: calibrated
    on ``calibration``; OpenVINO bf16: the fp32 IR), built once per weights, processor, format, precision,
    calibration and quantisation recipe under ``$POSEKIT_HOME/exports/``."""
    format = "openvino" if runtime == "openvino" else "onnx"
    stored = "fp32" if format == "openvino" and precision == "bf16" else precision
    recipe = [str(calibration), RECIPE[format]] if stored == "int8" else []
    folder = cache_folder(model, model.processor.to_dict(), format, stored, *recipe)
    name = DEFAULT_NAME[format]

    def build(tmp: Path) -> None:
        export(
            model,
            format=format,
            output=tmp / name,
            dynamic_batch=True,
            precision=stored,
            calibration=calibration,
        )

    complete = f"{name}/model.xml" if format == "openvino" else name
    what = f"the {format} {stored} model"
    took = "a few minutes: int8 is calibrated" if stored == "int8" else "seconds"
    return build_once(folder, build, complete, what, f"building {what} once ({took})") / name


def cache_folder(model: torch.nn.Module, *recipe: Any) -> Path:
    """The folder under ``$POSEKIT_HOME/exports/`` of a conversion of ``model``: one per weights and
    ``recipe`` (JSON-serialisable values: processor, format, precision, ...)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    digest.update(json.dumps(recipe, sort_keys=True).encode())
    return posekit_home() / "exports" / digest.hexdigest()[:16]


def exported_runner(
    model: Any, runtime: str, precision: str, calibration: str | Path = DEFAULT_CALIBRATION
) -> Any:
    """``model`` on ``runtime`` (``onnxruntime`` or ``openvino``) in ``precision``, from its cached export."""
    path = cached_export(model, runtime, precision, calibration)
    return OpenVinoRunner(path, precision) if runtime == "openvino" else OnnxRunner(path)
