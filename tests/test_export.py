"""ONNX export: heatmap parity with PyTorch (< 1e-4 on CPU), metadata, fixed/dynamic batch, ONNX predict."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

import posekit
from posekit.errors import ConfigError, ModelError
from posekit.inference.onnx_runtime import METADATA_KEY, OnnxRunner
from posekit.models.vitpose import load_model


@pytest.fixture(scope="module")
def exported(tiny_model_dir):
    return posekit.export(tiny_model_dir, dynamic_batch=True)


def test_dynamic_batch_export_matches_pytorch(tiny_model_dir, exported):
    assert exported.path == tiny_model_dir / "model.onnx" and exported.max_abs_diff < 1e-4
    reference = load_model(tiny_model_dir).eval()
    runner = OnnxRunner(exported.path)
    x = np.random.default_rng(0).standard_normal((5, 3, 64, 48)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    heatmaps = runner(x)
    assert heatmaps.shape == (5, 17, 16, 12) and runner.fixed_batch is None
    assert np.abs(heatmaps - expected).max() < 1e-4
    meta = json.loads({p.key: p.value for p in onnx.load(str(exported.path)).metadata_props}[METADATA_KEY])
    assert meta["processor"]["input_size"] == [64, 48] and meta["schema"]["names"][0] == "nose"
    assert runner.schema == reference.schema and runner.processor == reference.processor


def test_onnx_predict_gives_the_pytorch_results(tiny_model_dir, exported, shared_data):
    boxes = shared_data / "coco/test_coco_det_AP_H_56.json"
    # fp32 on both sides: "auto" picks bf16 for PyTorch on CPUs with bf16 units (AVX512-BF16, AMX)
    torch_results = posekit.load(tiny_model_dir, device="cpu").predict(
        shared_data / "coco", boxes=boxes, precision="fp32"
    )
    onnx_results = posekit.load(exported.path).predict(shared_data / "coco", boxes=boxes, precision="fp32")
    for a, b in zip(torch_results, onnx_results, strict=True):
        np.testing.assert_allclose(a.keypoint_scores, b.keypoint_scores, atol=1e-4)
        # random weights give nearly flat heatmaps, where 1e-7 can move a sub-pixel refinement a little
        assert np.median(np.abs(a.keypoints - b.keypoints)) < 0.05


@pytest.mark.slow
def test_fixed_batch_and_fp16_exports(tiny_model_dir, tmp_path):
    fixed = posekit.export(tiny_model_dir, output=tmp_path / "b2.onnx", batch_size=2)
    runner = OnnxRunner(fixed.path)
    assert runner.fixed_batch == 2
    x = np.random.default_rng(1).standard_normal((3, 3, 64, 48)).astype(np.float32)  # padded to 2 + 2
    with torch.no_grad():
        expected = load_model(tiny_model_dir).eval()(torch.from_numpy(x)).numpy()
    assert np.abs(runner(x) - expected).max() < 1e-4
    half = posekit.export(tiny_model_dir, output=tmp_path / "half.onnx", precision="fp16")
    assert half.max_abs_diff < 1e-2 and half.path.stat().st_size < 0.6 * fixed.path.stat().st_size
    assert OnnxRunner(half.path)(x[:1]).dtype == np.float32 and OnnxRunner(half.path).precision == "fp16"
    assert fixed.precision == "fp32" and OnnxRunner(fixed.path).precision == "fp32"


@pytest.mark.slow
def test_int8_export_is_quantised_on_calibration_crops(tiny_model_dir, tiny_sample, tmp_path):
    int8 = posekit.export(
        tiny_model_dir, output=tmp_path / "int8.onnx", precision="int8", calibration=tiny_sample
    )
    graph = onnx.load(str(int8.path))
    ops = {node.op_type for node in graph.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # QDQ format
    meta = json.loads({p.key: p.value for p in graph.metadata_props}[METADATA_KEY])
    assert meta["precision"] == "int8" and meta["calibration"]["source"] == str(tiny_sample)
    assert meta["calibration"]["crops"] > 0 and meta["schema"]["names"][0] == "nose"
    runner = OnnxRunner(int8.path)
    assert runner.precision == "int8" and runner.fixed_batch == 1
    x = np.random.default_rng(2).standard_normal((3, 3, 64, 48)).astype(np.float32)
    with torch.no_grad():
        expected = load_model(tiny_model_dir).eval()(torch.from_numpy(x)).numpy()
    heatmaps = runner(x)
    # quantised, not equal, but the same function: close relative to the heatmaps' spread
    assert heatmaps.shape == expected.shape and 0 < np.abs(heatmaps - expected).mean() < 0.2 * expected.std()


def test_export_errors(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="format"):
        posekit.export(tiny_model_dir, format="tflite")
    with pytest.raises(ConfigError, match=".onnx"):
        posekit.export(tiny_model_dir, output=tmp_path / "model.bin")
    with pytest.raises(ConfigError, match="no bf16 kernels"):
        posekit.export(tiny_model_dir, output=tmp_path / "bf16.onnx", precision="bf16")
    with pytest.raises(ModelError, match="does not exist"):
        posekit.load(tmp_path / "missing.onnx")
    plain = tmp_path / "plain.onnx"
    torch.onnx.export(torch.nn.Conv2d(3, 2, 1), (torch.zeros(1, 3, 8, 8),), str(plain), dynamo=False)
    with pytest.raises(ModelError, match="no posekit metadata"):
        posekit.load(plain)


def test_cli_export(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from posekit.cli.app import app

    out = tmp_path / "cli.onnx"
    result = CliRunner().invoke(
        app, ["export", "--model", str(tiny_model_dir), "--output", str(out), "--dynamic-batch"]
    )
    assert result.exit_code == 0, result.output
    assert out.is_file() and "max |heatmap diff|" in result.output and "batch dynamic" in result.output
