"""int8 pose models, calibrated on real crops: ONNX Runtime's static quantisation of an exported ONNX
model, or NNCF's post-training quantisation of an OpenVINO model.

OpenVINO: ``nncf.quantize`` with the transformer model type (its "mixed" preset: symmetric weights,
asymmetric activations, SmoothQuant on the matrix products, layer norms and softmax left in float), as
the NNCF documentation recommends for transformers; the calibration crops are fed one at a time.

ONNX Runtime:

``quantize_static`` in QDQ format (ONNX Runtime's recommended format on CPUs), uint8 activations and
per-channel int8 weights, after ``quant_pre_process`` (shape inference and graph fusions, as the
ONNX Runtime quantisation guide asks). Only the matrix products are quantised (MatMul, Conv, Gemm):
measured on ViTPose, quantising every supported operator (layer norms, additions, ...) was both
slower (ViTPose-S, batch 3: 1273 ms against 1146; fp32 1304, one thread) and less accurate (the
sample-trained ViTPose-T's AP 92.42 against 92.64; fp32 92.57). On x86 CPUs without VNNI, ONNX
Runtime's u8s8 kernels use ``VPMADDUBSW``, which can saturate: the guide's remedy, 7-bit weights
(``reduce_range``), is applied there. Activation ranges are the min/max over the calibration crops:
person crops from the ground-truth boxes of a data set's train split (default: the built-in sample)
or whole images of one person each (a folder or glob of images).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import ConfigError
from posekit.topdown.processor import TopDownProcessor

#: Crops the activation ranges are measured on (more change the ranges little; each costs one forward).
CALIBRATION_CROPS = 64
#: The quantisation recipes below, named per export format: cached int8 models are rebuilt when one changes.
RECIPE = {"onnx": "qdq-u8s8-per-channel-matmul-conv-gemm", "openvino": "nncf-ptq-transformer-mixed"}
DEFAULT_CALIBRATION = "sample"


def calibration_crops(
    processor: TopDownProcessor, calibration: str | Path = DEFAULT_CALIBRATION, count: int = CALIBRATION_CROPS
) -> np.ndarray:
    """Up to ``count`` model inputs ``(N, 3, H, W)`` float32 made by ``processor`` from ``calibration``:
    a data set (``sample``, a data YAML or COCO JSON: its train split's people, ground-truth boxes) or
    images (a folder, a glob or one file: each whole image is one person's box)."""
    images, boxes = _calibration_people(str(calibration), count)
    pixels, _ = processor.preprocess(images, boxes, clip=True)
    if not len(pixels):
        raise ConfigError(f"--calibration {calibration}: no person to calibrate int8 ranges on")
    return pixels[:count]


def _calibration_people(spec: str, count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Images and their person boxes (xywh) from a data set, or whole images."""
    from posekit.datasets.image_reader import read_image
    from posekit.inference.sources import resolve_source

    if spec in ("sample", "sample-video") or spec.endswith((".yaml", ".yml", ".json")):
        from posekit.datasets.data_config import resolve_data
        from posekit.samples import locate

        dataset = resolve_data(locate(spec)).load_split("train")
        images, boxes, people = [], [], 0
        for image_id, anns in dataset.by_image().items():
            found = [a.bbox for a in anns if not a.iscrowd and a.num_keypoints > 0]
            if found:
                images.append(read_image(dataset.images[image_id].path))
                boxes.append(np.stack(found))
                people += len(found)
            if people >= count:
                break
        return images, boxes
    images = [frame.image for _, frame in zip(range(count), resolve_source(spec), strict=False)]
    return images, [np.array([[0.0, 0.0, im.shape[1], im.shape[0]]]) for im in images]


def quantize_int8(fp32_model: str | Path, output: str | Path, crops: np.ndarray) -> Path:
    """Write the int8 (QDQ) version of the float32 ONNX model ``fp32_model`` to ``output``, with activation
    ranges from ``crops``; the posekit metadata of the source model is kept."""
    import onnx
    import torch
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_model, output = Path(fp32_model), Path(output)
    source = onnx.load(str(fp32_model))
    graph_input = source.graph.input[0]
    batch = graph_input.type.tensor_type.shape.dim[0].dim_value or 8  # 0: a dynamic batch

    class Crops(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches: Iterator[np.ndarray] = (
                _pad(crops[i : i + batch], batch) for i in range(0, len(crops), batch)
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            chunk = next(self._batches, None)
            return None if chunk is None else {graph_input.name: chunk}

    prepared = output.with_name(output.stem + ".pre.onnx")
    try:
        quant_pre_process(str(fp32_model), str(prepared))
        quantize_static(
            str(prepared),
            str(output),
            Crops(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=not torch.cpu._is_vnni_supported(),
            op_types_to_quantize=["MatMul", "Conv", "Gemm"],
        )
    finally:
        prepared.unlink(missing_ok=True)
    quantized = onnx.load(str(output))
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(source.metadata_props)
    onnx.save(quantized, str(output))
    return output


def quantize_openvino_int8(model: Any, crops: np.ndarray) -> Any:
    """The int8 version (NNCF post-training quantisation, transformer preset) of the OpenVINO model
    ``model``, with activation ranges (and SmoothQuant's scales) from ``crops``."""
    import nncf

    dataset = nncf.Dataset([crop[None] for crop in crops])
    return nncf.quantize(model, dataset, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(crops))


def _pad(chunk: np.ndarray, batch: int) -> np.ndarray:
    """A fixed-batch graph takes exactly ``batch`` crops: repeat the last ones."""
    if len(chunk) == batch:
        return chunk
    return np.concatenate([chunk, chunk[np.arange(batch - len(chunk)) % len(chunk)]])
