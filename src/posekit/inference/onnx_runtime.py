"""Run an exported ``model.onnx`` with ONNX Runtime; its schema and processor travel in its metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.json_file import parse_json
from posekit.datasets.schema import KeypointSchema
from posekit.errors import ConfigError, ModelError
from posekit.models.official_checkpoint import file_kind
from posekit.topdown.processor import TopDownProcessor

#: Key of the ONNX ``metadata_props`` entry holding the model's metadata with every processor setting (JSON).
METADATA_KEY = "posekit"


def read_metadata(
    text: str | None, path: Path, format: str
) -> tuple[dict[str, Any], KeypointSchema, TopDownProcessor]:
    """The posekit metadata (JSON ``text``) of the exported model ``path``: the dict, the keypoint schema and
    the processor; one :class:`ModelError` when it is missing or unreadable."""
    again = f"`posekit export --model DIR --format {format}`"
    if text is None:
        raise ModelError(
            f"{path} has no posekit metadata (keypoint schema, processor settings); export it with {again}"
        )
    metadata, problem = parse_json(text)
    try:
        if problem is not None:
            raise ValueError(problem[0])
        schema = KeypointSchema.from_dict(metadata["schema"])
        processor = {**metadata["processor"], "flip_index": tuple(schema.flip_index)}
    except (ValueError, KeyError, TypeError, ConfigError) as error:
        raise ModelError(
            f"{path}: unreadable posekit metadata ({error}); export the model again with {again}"
        ) from None
    return metadata, schema, TopDownProcessor.from_dict(processor, where=str(path))


class OnnxRunner:
    """A :class:`~posekit.inference.predictor.HeatmapRunner` on ONNX Runtime (CPU, or CUDA when asked and
    available). A model exported with a fixed batch gets its crops in chunks of that size."""

    runtime = "onnxruntime"

    def __init__(self, path: str | Path, device: str | None = None, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError(
                "running .onnx models needs onnxruntime: pip install 'posekit[export]'"
            ) from None
        self.path = Path(path)
        self.name = str(path)
        if not self.path.is_file():
            raise ModelError(
                f"ONNX model {self.path} does not exist; create one with `posekit export --model DIR`"
            )
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        if device and str(device).startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ModelError(
                    f"--device {device}: this onnxruntime has no CUDA provider; install onnxruntime-gpu "
                    "or use --device cpu"
                )
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own exception types
            kind = file_kind(self.path)
            if kind is not None:
                raise ModelError(
                    f"{self.path}: is {kind}, not an ONNX model; create one with `posekit export`"
                ) from None
            raise ModelError(f"ONNX Runtime cannot load {self.path}: {error}") from None
        meta = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        self.metadata, self.schema, self.processor = read_metadata(meta, self.path, "onnx")
        #: fp32, fp16 or int8, as exported (files exported before posekit recorded it read as fp32)
        self.precision: str = self.metadata.get("precision", "fp32")
        model_input = self.session.get_inputs()[0]
        self._check_graph(model_input.shape, self.session.get_outputs()[0].shape)
        self._input_name = model_input.name
        self._dtype = np.float16 if "float16" in model_input.type else np.float32
        batch = model_input.shape[0]
        self.fixed_batch: int | None = batch if isinstance(batch, int) else None
        self.device = "cuda" if providers[0].startswith("CUDA") else "cpu"

    def _check_graph(self, inputs: list, outputs: list) -> None:
        """Refuse metadata that disagrees with the graph (keypoint count, input or heatmap size): decoding
        would read the heatmaps with the wrong schema or crop at the wrong size."""
        said = {
            "input": [3, *self.processor.input_size],
            "heatmaps": [self.schema.num_keypoints, *self.processor.heatmap_size],
        }
        found = {"input": list(inputs[1:]), "heatmaps": list(outputs[1:])}
        wrong = [
            f"{what} {'x'.join(map(str, said[what]))} (the graph: {'x'.join(map(str, found[what]))})"
            for what in said
            if len(found[what]) != 3
            or any(isinstance(f, int) and f != s for f, s in zip(found[what], said[what], strict=True))
        ]
        if wrong:
            raise ModelError(
                f"{self.path}: its posekit metadata disagrees with its graph: it says {'; '.join(wrong)}; "
                "the file was edited or put together from two exports: export the model again with "
                "`posekit export`"
            )

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        x = pixel_values.astype(self._dtype, copy=False)
        if self.fixed_batch is None:
            return self._run(x)
        n, b = len(x), self.fixed_batch
        outputs = []
        for start in range(0, n, b):
            chunk = x[start : start + b]
            if len(chunk) < b:  # pad the last chunk up to the exported batch size
                chunk = np.concatenate([chunk, np.zeros((b - len(chunk), *chunk.shape[1:]), chunk.dtype)])
            outputs.append(self._run(chunk))
        return np.concatenate(outputs)[:n]

    def _run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self._input_name: x})[0], dtype=np.float32)
