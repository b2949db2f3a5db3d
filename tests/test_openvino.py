"""OpenVINO runtime: the runtime/precision choice per CPU, IR export parity with PyTorch, NNCF int8 (cached),
predict and val on OpenVINO, and one clear error without OpenVINO installed."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import posekit
from posekit import device as device_module
from posekit.device import resolve_backend
from posekit.errors import ConfigError, ModelError

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def _machine(monkeypatch, vnni: bool, bf16: bool, openvino: bool, nncf: bool = True) -> None:
    monkeypatch.setattr(device_module, "cpu_has_vnni", lambda: vnni)
    monkeypatch.setattr(device_module, "cpu_has_fast_bf16", lambda: bf16)
    monkeypatch.setattr(
        device_module, "openvino_installed", lambda int8=False: openvino and (nncf or not int8)
    )


def test_auto_picks_the_fastest_runtime_for_the_cpu_and_what_is_installed(monkeypatch):
    _machine(monkeypatch, vnni=True, bf16=True, openvino=True)  # AVX512-BF16 + VNNI (this project's EPYC)
    assert resolve_backend("auto", "auto", CPU)[:2] == ("openvino", "int8")
    assert resolve_backend(None, None, CPU).reason == "auto: CPU with VNNI and bf16"
    assert resolve_backend("auto", "fp32", CPU)[:2] == ("openvino", "fp32")
    assert resolve_backend("torch", "auto", CPU)[:2] == ("torch", "bf16")
    assert resolve_backend("onnxruntime", "int8", CPU)[:2] == ("onnxruntime", "int8")
    assert resolve_backend("openvino", "bf16", CPU) == ("openvino", "bf16", "")  # nothing chosen: no reason
    _machine(monkeypatch, vnni=True, bf16=True, openvino=True, nncf=False)  # no quantiser: bf16
    assert resolve_backend("auto", "auto", CPU)[:2] == ("openvino", "bf16")
    assert resolve_backend("auto", "int8", CPU)[:2] == ("onnxruntime", "int8")
    _machine(monkeypatch, vnni=True, bf16=False, openvino=True)  # AVX512-VNNI without bf16 (Cascade Lake)
    assert resolve_backend("auto", "auto", CPU)[:2] == ("openvino", "int8")
    assert resolve_backend("openvino", "auto", CPU)[:2] == ("openvino", "int8")
    _machine(monkeypatch, vnni=True, bf16=True, openvino=False)  # without the extra: PyTorch as before
    backend = resolve_backend("auto", "auto", CPU)
    assert backend[:2] == ("torch", "bf16") and "posekit[openvino]" in backend.reason
    assert resolve_backend("auto", "int8", CPU)[:2] == ("onnxruntime", "int8")


def test_an_avx2_only_cpu_and_gpus_keep_pytorch(monkeypatch):
    """Where OpenVINO was not measured faster nothing changes, installed or not."""
    _machine(monkeypatch, vnni=False, bf16=False, openvino=True)
    assert resolve_backend("auto", "auto", CPU) == (
        "torch",
        "fp32",
        "auto: CPU with neither VNNI nor bf16 hardware",
    )
    assert resolve_backend("auto", "int8", CPU)[:2] == ("onnxruntime", "int8")
    assert resolve_backend("openvino", "auto", CPU)[:2] == ("openvino", "fp32")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_backend("auto", "auto", CUDA) == ("torch", "bf16", "auto: GPU")


def test_impossible_runtime_choices_raise_one_clear_error(monkeypatch):
    _machine(monkeypatch, vnni=True, bf16=True, openvino=True)
    with pytest.raises(ConfigError, match="--runtime 'tensorrt' is unknown"):
        resolve_backend("tensorrt", "auto", CPU)
    with pytest.raises(ConfigError, match="int8 runs on OpenVINO or ONNX Runtime"):
        resolve_backend("torch", "int8", CPU)
    with pytest.raises(ConfigError, match="fp32, bf16 or int8"):
        resolve_backend("openvino", "fp16", CPU)
    with pytest.raises(ConfigError, match="on a GPU use --runtime torch"):
        resolve_backend("openvino", "auto", CUDA)
    _machine(monkeypatch, vnni=True, bf16=True, openvino=False)
    with pytest.raises(ModelError, match=r"pip install 'posekit\[openvino\]'"):
        resolve_backend("openvino", "auto", CPU)


def test_without_openvino_loading_an_ir_says_what_to_install(monkeypatch, tmp_path):
    from posekit.inference.openvino_runtime import OpenVinoRunner

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    (tmp_path / "model.xml").write_text("<net/>")
    with pytest.raises(ModelError, match=r"posekit\[openvino\]"):
        OpenVinoRunner(tmp_path)


# ------------------------------------------------------------------------------------ with OpenVINO
@pytest.fixture(scope="module")
def ir(tiny_model_dir, tmp_path_factory):
    pytest.importorskip("openvino")
    return posekit.export(tiny_model_dir, format="openvino", output=tmp_path_factory.mktemp("ov") / "fp32")


@pytest.mark.openvino
def test_openvino_ir_matches_pytorch_and_carries_the_metadata(tiny_model_dir, ir):
    from posekit.inference.openvino_runtime import OpenVinoRunner
    from posekit.models.vitpose import load_model

    assert ir.max_abs_diff < 1e-4 and ir.dynamic_batch and (ir.path / "model.bin").is_file()
    reference = load_model(tiny_model_dir).eval()
    x = np.random.default_rng(0).standard_normal((5, 3, 64, 48)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    runner = OpenVinoRunner(ir.path, "fp32")
    assert runner.runtime == "openvino" and runner.precision == "fp32"
    assert np.abs(runner(x) - expected).max() < 1e-4 and runner(x[:1]).shape == (1, 17, 16, 12)
    assert runner.schema == reference.schema and runner.processor == reference.processor
    predictor = posekit.load(ir.path / "model.xml").predictor  # the folder or its model.xml
    assert predictor.runner.precision in ("fp32", "bf16") and predictor.runner_for("fp32").precision == "fp32"
    with pytest.raises(ConfigError, match="exported fp32 model for openvino"):
        posekit.load(ir.path, device="cpu").predictor.runner_for("int8")


@pytest.mark.slow
@pytest.mark.openvino
def test_openvino_predict_and_val_give_the_pytorch_results(tiny_model_dir, tiny_sample, tmp_path):
    pytest.importorskip("openvino")
    image = np.random.default_rng(0).integers(0, 255, (96, 80, 3), dtype=np.uint8)
    predictor = posekit.load(tiny_model_dir, device="cpu").predictor
    ours = predictor.predict(image, boxes="full", runtime="openvino", precision="fp32")[0]
    assert (predictor.settings["runtime"], predictor.settings["precision"]) == ("openvino", "fp32")
    theirs = predictor.predict(image, boxes="full", runtime="torch", precision="fp32")[0]
    np.testing.assert_allclose(ours.keypoint_scores, theirs.keypoint_scores, atol=1e-4)
    options = {"model": tiny_model_dir, "data": tiny_sample, "precision": "fp32", "project": tmp_path}
    options.update(worst=0, verbose=False, device="cpu")
    on_openvino = posekit.val(runtime="openvino", name="ov", **options)
    on_torch = posekit.val(runtime="torch", name="pt", **options)
    assert on_openvino.to_dict()["run"]["runtime"] == "openvino"
    assert on_torch.to_dict()["run"]["runtime"] == "torch"
    assert on_openvino.ap == pytest.approx(on_torch.ap, abs=1e-6)


@pytest.mark.openvino
@pytest.mark.slow
def test_openvino_int8_is_calibrated_and_cached(tiny_model_dir, tiny_sample, tmp_path, monkeypatch, caplog):
    pytest.importorskip("nncf")
    from posekit.inference.export import cached_export
    from posekit.inference.openvino_runtime import OpenVinoRunner

    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))
    exported = posekit.export(
        tiny_model_dir, format="openvino", output=tmp_path / "int8", precision="int8", calibration=tiny_sample
    )
    meta = OpenVinoRunner(exported.path).metadata
    assert meta["precision"] == "int8" and meta["calibration"]["source"] == str(tiny_sample)
    assert exported.precision == "int8" and 0 < exported.max_abs_diff < 0.1  # quantised: close, not equal
    predictor = posekit.load(tiny_model_dir, device="cpu").predictor
    with caplog.at_level("WARNING", "posekit.fileio"):
        runner = predictor.runner_for("int8", tiny_sample, runtime="openvino")
    assert "building the openvino int8 model once (a few minutes: int8 is calibrated)" in caplog.text
    assert (runner.runtime, runner.precision) == ("openvino", "int8")
    assert predictor.runner_for("int8", tiny_sample, runtime="openvino") is runner  # made once
    path = cached_export(predictor.runner.model, "openvino", "int8", tiny_sample)
    assert runner.path == path / "model.xml" and str(tmp_path / "home") in str(path)
    assert cached_export(predictor.runner.model, "openvino", "bf16") == cached_export(
        predictor.runner.model, "openvino", "fp32"
    )  # bf16 compiles the fp32 IR


@pytest.mark.openvino
def test_the_detector_on_openvino_finds_what_pytorch_finds(tmp_path, monkeypatch, tiny_model_dir, caplog):
    """D-FINE converted once (cached per weights) gives PyTorch's boxes and scores; predict on the OpenVINO
    runtime runs its detector there and says so."""
    pytest.importorskip("openvino")
    from posekit.inference.detector_runtime import OpenVinoDetectorModel, on_openvino
    from posekit.models.detector import PersonDetector, save_random_detector

    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    directory = save_random_detector(tmp_path / "dfine", "dfine-tiny")
    torch_detector = PersonDetector(directory, threshold=0.0)
    with torch.no_grad():  # random initialisation ties every score (its features are ~0): untie them
        for parameter in torch_detector.model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    torch_detector.model.save_pretrained(directory)
    torch_detector = PersonDetector(directory, threshold=0.0)
    images = [np.random.default_rng(i).integers(0, 255, (90, 120, 3), dtype=np.uint8) for i in range(3)]
    expected = torch_detector.detect(images)
    with caplog.at_level("WARNING", "posekit.fileio"):
        detector = on_openvino(PersonDetector(directory, threshold=0.0))
        assert "converting the person detector to OpenVINO once" in caplog.text  # why the first run waits
        caplog.clear()
        on_openvino(PersonDetector(directory, threshold=0.0))
        assert not caplog.text  # cached: converted once, said once
    assert isinstance(detector.model, OpenVinoDetectorModel) and detector.runtime == "openvino fp32"
    assert len(list((tmp_path / "home" / "exports").glob("*/model.xml"))) == 1
    for (boxes, scores), (want_boxes, want_scores) in zip(detector.detect(images), expected, strict=True):
        assert len(boxes) == len(want_boxes) > 0
        np.testing.assert_allclose(scores, want_scores, atol=1e-5)
        # equal scores may come in another order: compare the boxes as sets
        np.testing.assert_allclose(np.sort(boxes, axis=0), np.sort(want_boxes, axis=0), atol=1e-3)
    assert on_openvino(detector) is detector  # converted once
    predictor = posekit.load(tiny_model_dir, device="cpu").predictor
    predictor.predict(images[0], detector=directory, runtime="openvino", precision="fp32")
    assert predictor.settings["boxes"] == f"{directory} (openvino fp32)"
    predictor.predict(images[0], detector=directory, runtime="torch", precision="fp32")
    assert predictor.settings["boxes"] == str(directory)
