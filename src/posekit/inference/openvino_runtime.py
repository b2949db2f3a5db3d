"""Run an exported OpenVINO IR (``model.xml`` + ``model.bin``) on the CPU; its schema and processor travel in
the IR's ``rt_info`` under ``posekit``, as in an ONNX file's metadata.

A float IR runs in fp32 or bf16 (OpenVINO's ``INFERENCE_PRECISION_HINT``: the weights stay fp32 in the
file, the CPU plugin converts them when it compiles); an int8 IR (NNCF) runs its quantised matrix
products in int8 and the rest in OpenVINO's default precision for this CPU (bf16 where it has bf16
hardware: ViTPose-S int8 6.3 crops/s against 3.9 with the rest in fp32, measured on a loaded 2-core EPYC).
One compiled model, latency hint (one stream: the predictor calls it with one batch at a time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posekit.device import OPENVINO_EXTRA, cpu_has_fast_bf16
from posekit.errors import ModelError
from posekit.inference.onnx_runtime import METADATA_KEY, read_metadata


def ir_path(path: str | Path) -> Path:
    """The ``.xml`` of an exported OpenVINO model: ``path`` itself or ``path/model.xml`` (a folder)."""
    path = Path(path)
    return path / "model.xml" if path.suffix != ".xml" else path


def is_openvino_model(path: str | Path) -> bool:
    """Whether ``path`` names an OpenVINO IR: a ``.xml`` file or a folder holding ``model.xml``."""
    path = Path(path)
    return path.suffix == ".xml" or (path.is_dir() and (path / "model.xml").is_file())


def import_openvino() -> Any:
    """The ``openvino`` module, or one clear error naming the extra to install."""
    try:
        import openvino
    except ImportError:
        raise ModelError(f"running OpenVINO models needs openvino: {OPENVINO_EXTRA}") from None
    return openvino


class OpenVinoRunner:
    """A :class:`~posekit.inference.predictor.HeatmapRunner` on OpenVINO's CPU plugin. ``precision``: for a
    float IR ``fp32`` or ``bf16`` (``None``: bf16 on CPUs with bf16 hardware, else fp32); an int8 IR runs
    int8 whatever is asked."""

    runtime = "openvino"

    def __init__(self, path: str | Path, precision: str | None = None, threads: int | None = None) -> None:
        ov = import_openvino()
        import openvino.properties as props
        import openvino.properties.hint as hints

        self.path = ir_path(path)
        self.name = str(path)
        if not self.path.is_file():
            raise ModelError(
                f"OpenVINO model {self.path} does not exist; create one with "
                "`posekit export --model DIR --format openvino`"
            )
        core = ov.Core()
        try:
            model = core.read_model(str(self.path))
        except RuntimeError as error:
            raise ModelError(f"OpenVINO cannot read {self.path}: {error}") from None
        meta = model.get_rt_info([METADATA_KEY]).astype(str) if model.has_rt_info([METADATA_KEY]) else None
        self.metadata, self.schema, self.processor = read_metadata(meta, self.path, "openvino")
        exported = self.metadata.get("precision", "fp32")
        if exported == "int8":
            self.precision = "int8"
        else:
            self.precision = precision or ("bf16" if cpu_has_fast_bf16() else "fp32")
        config: dict[Any, Any] = {hints.performance_mode: hints.PerformanceMode.LATENCY}
        if self.precision != "int8":  # int8: the quantised products in int8, the rest in the CPU's default
            config[hints.inference_precision] = {"bf16": ov.Type.bf16, "fp32": ov.Type.f32}[self.precision]
        if threads:
            config[props.inference_num_threads] = threads
        self.compiled = core.compile_model(model, "CPU", config)
        self._request = self.compiled.create_infer_request()
        self.device = "cpu"

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(pixel_values, dtype=np.float32)
        return np.array(self._request.infer([x])[0], dtype=np.float32)
