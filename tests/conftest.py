"""Shared fixtures: the real sample data in ../shared/data (skipped when absent) and the built-in sample."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import REPO


def _shared_data() -> Path | None:
    env = os.environ.get("POSEKIT_SHARED_DATA")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (COCO, hand, face, animal, PoseTrack samples); skips the test when absent."""
    path = _shared_data()
    if path is None:
        pytest.skip("../shared/data is not available")
    return path


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small built-in synthetic sample (COCO-17): returns the path of its data YAML."""
    from posekit.samples.sample_images import generate_sample

    out = tmp_path_factory.mktemp("sample")
    return generate_sample(out, num_train=24, num_val=8, seed=0)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random ViTPose-T (64x48 input keeps CPU tests fast) saved as a posekit model directory."""
    import torch

    from posekit.models.vitpose import load_model

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("model") / "vitpose-t"
    return load_model("vitpose-t", pretrained="none", input_size=(64, 48)).save(directory)


@pytest.fixture(scope="session")
def tiny_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in sample at its smallest (4 train, 2 val images): returns the path of its data YAML."""
    from posekit.samples.sample_images import generate_sample

    return generate_sample(tmp_path_factory.mktemp("tiny_sample"), num_train=4, num_val=2, seed=0)


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Callable[..., tuple[int, str]]:
    """``run_cli(*args)`` runs ``posekit <args>`` and returns the exit code and stdout + stderr."""
    from posekit.cli.app import main

    def run(*args: object) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["posekit", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exit_:
            code = exit_.code or 0
        out = capsys.readouterr()
        return code, out.out + out.err

    return run


@pytest.fixture(autouse=True)
def _pytorch_unless_openvino(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests not marked ``openvino`` see OpenVINO as not installed, so ``auto`` keeps them on PyTorch (and
    ONNX Runtime) whatever this machine has: on a VNNI CPU every predict would otherwise quantise its model
    with NNCF first (a minute per model on 2 cores) and compare int8 keypoints."""
    if request.node.get_closest_marker("openvino") is None:
        monkeypatch.setattr("posekit.device.openvino_installed", lambda int8=False: False)
