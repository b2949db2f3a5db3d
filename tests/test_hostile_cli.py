"""The command line under misuse: NaN/infinite numbers, a GPU that is not there, Ctrl-C, a video whose
frames do not decode, and the OpenMP setting that lets two jobs share a machine."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.errors import ConfigError, Interrupted


# ---------------------------------------------------------------------------------------------- NaN and inf
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused_by_every_verb(tmp_path, tiny_sample, tiny_model_dir, run_cli, value):
    image = next((tiny_sample.parent / "images" / "val").iterdir())
    predict = (
        "predict",
        "--model",
        tiny_model_dir,
        "--source",
        image,
        "--boxes",
        "full",
        "--project",
        tmp_path,
    )
    cases = {
        ("predict", "--conf"): (*predict, "--conf", value),
        ("predict", "--conf (joint)"): (*predict, "--conf", f"0.3,left_wrist={value}"),
        ("predict", "--det-conf"): (*predict, "--det-conf", value),
        ("predict", "--min-cutoff"): (*predict, "--smooth", "online", "--min-cutoff", value),
        ("predict", "--beta"): (*predict, "--smooth", "online", "--beta", value),
        ("val", "--conf"): ("val", "--data", tiny_sample, "--predictions", "x.json", "--conf", value),
        ("train", "--lr"): ("train", "--data", tiny_sample, "--lr", value, "--project", tmp_path),
        ("audit", "--min-score"): ("audit", tiny_sample, "--min-score", value, "--project", tmp_path),
        ("sigmas", "--min-oks"): ("sigmas", "sample", "--min-oks", value, "--project", tmp_path),
    }
    for (verb, option), args in cases.items():
        code, output = run_cli(*args)
        assert code in (1, 2), (verb, option, output)  # 2: the command line itself (typer)
        flag = option.split()[0]
        assert flag in output and "Traceback" not in output, (verb, option, output)


def test_non_finite_numbers_in_yaml_and_python_are_refused(tmp_path, tiny_sample) -> None:
    from posekit.datasets.data_config import resolve_data
    from posekit.label_audit.api import audit
    from posekit.settings import OneEuroParams, build_config

    yaml = tmp_path / "data.yaml"
    yaml.write_text(
        f"train: {tiny_sample.parent / 'train.json'}\nval: {tiny_sample.parent / 'val.json'}\n"
        f"schema: {{sigmas: [{', '.join(['.nan'] * 17)}]}}\n"
    )
    with pytest.raises(ConfigError, match="sigmas"):
        resolve_data(yaml)
    config = tmp_path / "train.yaml"
    config.write_text("augment: {rotation: .inf}\n")
    with pytest.raises(ConfigError, match="--augment"):
        build_config(config)
    with pytest.raises(ConfigError, match="--min-score: nan"):
        audit(tiny_sample, min_score=float("nan"))
    with pytest.raises(ConfigError, match="--min-cutoff: nan"):
        OneEuroParams(min_cutoff=float("nan"))
    with pytest.raises(ConfigError, match="--beta: -1"):
        OneEuroParams(beta=-1.0)


# ---------------------------------------------------------------------------------------------- --device cuda
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("verb", ["predict", "val"])
def test_cuda_without_a_gpu_fails_before_anything_loads(tmp_path, run_cli, verb) -> None:
    # the model does not exist: only a device check made first can give the device message
    missing = tmp_path / "no-such-model"
    args = {
        "predict": ("predict", "--model", missing, "--source", tmp_path, "--device", "cuda"),
        "val": ("val", "--model", missing, "--data", tmp_path / "no.json", "--device", "cuda"),
    }[verb]
    code, output = run_cli(*args)
    assert code == 1, output
    assert "no CUDA GPU is available; use --device cpu" in " ".join(output.split())


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_detector_on_a_missing_gpu_is_a_config_error() -> None:
    from posekit.models.detector import PersonDetector

    with pytest.raises(ConfigError, match="no CUDA GPU"):
        PersonDetector("/no/such/detector", device="cuda")


# ---------------------------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_in_any_command_prints_interrupted(monkeypatch, run_cli) -> None:
    import posekit.datasets.validation

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(posekit.datasets.validation, "resolve_data", interrupted)
    code, output = run_cli("check", "sample")
    assert code == 130 and output.strip() == "Interrupted."


@pytest.mark.parametrize("saved", [True, False])
def test_ctrl_c_during_training_says_how_to_resume(tmp_path, monkeypatch, run_cli, saved) -> None:
    import posekit
    import posekit.engine.train as engine

    run = tmp_path / "runs" / "train" / "exp"
    if saved:
        (run / "weights" / "last").mkdir(parents=True)
        (run / "weights" / "last" / "training_state.pt").write_bytes(b"")

    class Trainer:  # the real loop is tested elsewhere; here only what Ctrl-C leaves the user with
        def __init__(self, cfg, resume_dir=None, run_folder=None, verbose=True) -> None:
            self.run_dir = run

        def fit(self) -> dict:
            raise KeyboardInterrupt

        def unlock(self) -> None:
            pass

    monkeypatch.setattr(engine, "Trainer", Trainer)
    code, output = run_cli("train", "--project", tmp_path / "runs")
    text = " ".join(output.split())
    assert code == 130 and text.startswith("Interrupted.") and "Traceback" not in output
    if saved:
        assert f"continue from it with: posekit train --resume {run}" in text
    else:
        assert f"No checkpoint was saved yet in {run}: start the run again." in text
    with pytest.raises(Interrupted):  # Python callers still see a KeyboardInterrupt
        posekit.train(project=str(tmp_path / "runs"))


# ---------------------------------------------------------------------------------------------- video
def _undecodable_video(path: Path) -> Path:
    """An mp4 whose container opens but whose frame data is zeroed: no frame decodes."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    raw = bytearray(path.read_bytes())
    at = raw.find(b"mdat")
    size = struct.unpack(">I", raw[at - 4 : at])[0]
    raw[at + 4 : at - 4 + size] = bytes(size - 8)
    path.write_bytes(bytes(raw))
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened() and not capture.read()[0]  # the case itself: opens, decodes nothing
    return path


def test_video_without_a_decodable_frame_is_an_error(tmp_path, tiny_model_dir, run_cli) -> None:
    video = _undecodable_video(tmp_path / "clip.mp4")
    code, output = run_cli("predict", "--model", tiny_model_dir, "--source", video, "--boxes", "full",
                           "--project", tmp_path / "runs")  # fmt: skip
    assert code == 1, output
    assert f"video {video}: no frame could be decoded" in " ".join(output.split())
    assert "0 image(s)/frame(s)" not in output
    assert not list((tmp_path / "runs").rglob("*.mp4")) and not list((tmp_path / "runs").rglob("*.json"))


# ---------------------------------------------------------------------------------------------- threads
def _wait_policy(env: dict[str, str]) -> str:
    keys = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
    code = f"import os, posekit; print(*(os.environ.get(k) for k in {keys}))"
    clean = {k: v for k, v in os.environ.items() if k not in keys}
    done = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True)
    return done.stdout.strip()


def test_import_posekit_makes_openmp_threads_spin_briefly_unless_told_otherwise() -> None:
    assert _wait_policy({}) == "None 1000 0"
    assert _wait_policy({"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE None None"
    assert _wait_policy({"GOMP_SPINCOUNT": "10000"}) == "None 10000 None"  # the user's own is kept as is
