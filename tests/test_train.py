"""End-to-end training on the generated sample (tiny model, tiny crops): the run folder, a falling loss,
and exact resume after a SIGKILL in the middle of an epoch."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from accelerate.state import AcceleratorState
from helpers import TINY_TRAIN
from safetensors.torch import load_file

import posekit
from posekit.engine.checkpoint import STATE_FILE, load_state
from posekit.engine.train import Trainer
from posekit.errors import ConfigError
from posekit.settings import build_config
from posekit.tasks.results import TrainResult
from posekit.tasks.train import run_folder

pytestmark = pytest.mark.slow  # training runs / several processes: not in the fast lane

#: A run of a few seconds: 64x48 crops, batch 4, ~12 steps per epoch, a checkpoint every 4 steps.
TINY = {**TINY_TRAIN, "epochs": 2, "lr": 2e-3, "warmup": 3, "save_every": 4, "seed": 3, "val_every": 1}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread here and in the child process: the same arithmetic in both (bit-exact resume),
    and no OpenMP spinning on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def reference(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """One uninterrupted run, shared by the tests of this module."""
    project = tmp_path_factory.mktemp("runs")
    return posekit.train(data=str(sample_data), project=str(project), name="ref", **TINY)


def _weights(run_dir: str | Path) -> dict[str, torch.Tensor]:
    return load_file(Path(run_dir) / "weights" / "last" / "model.safetensors")


def test_run_folder_holds_every_output(reference: TrainResult) -> None:
    run = Path(reference.run_dir)
    for name in (
        "args.yaml",
        "results.csv",
        "results.png",
        "per_keypoint.png",
        "train_batch0.jpg",
        "val_predictions0.jpg",
    ):
        assert (run / name).stat().st_size > 0, name
    assert (run / "weights" / "last" / STATE_FILE).is_file()
    assert not (run / "weights" / "best" / STATE_FILE).exists(), "best holds the model only"
    from transformers import VitPoseForPoseEstimation

    net = VitPoseForPoseEstimation.from_pretrained(run / "weights" / "best")
    assert net.config.num_labels == 17
    rows = list(csv.DictReader((run / "results.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert {"train_loss", "lr", "AP", "AP50", "AP75", "AR", "PCK@0.1"} <= set(rows[0])
    args = (run / "args.yaml").read_text()
    assert "input_size: 64x48" in args and "lr: 0.002" in args and "workers: 0" in args
    aps = [float(r["AP"]) for r in rows]
    assert reference.final_ap == aps[-1] and reference.best_ap == max(aps)
    assert reference.best_epoch == 1 + aps.index(max(aps))


def test_loss_falls(reference: TrainResult) -> None:
    rows = list(csv.DictReader((Path(reference.run_dir) / "results.csv").open()))
    first, last = float(rows[0]["train_loss"]), float(rows[-1]["train_loss"])
    assert last < 0.8 * first, (first, last)


def test_resume_after_sigkill_ends_with_the_same_weights(
    reference: TrainResult, sample_data: Path, tmp_path: Path
) -> None:
    settings = {**TINY, "data": str(sample_data), "project": str(tmp_path), "name": "killed", "workers": 1}
    script = f"import posekit, json; posekit.train(**json.loads({json.dumps(json.dumps(settings))}))"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    checkpoint = tmp_path / "train" / "killed" / "weights" / "last"
    deadline = time.time() + 120
    state = None
    try:
        while time.time() < deadline and child.poll() is None:
            if (checkpoint / STATE_FILE).is_file():
                state = load_state(checkpoint)
                if state["epoch"] == 1 and state["step"] > 0:  # in the middle of the second epoch
                    os.kill(child.pid, signal.SIGKILL)
                    break
            time.sleep(0.02)
    finally:
        child.kill()
        _, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
    state = load_state(checkpoint)
    assert state["epoch"] < TINY["epochs"], "the run must be killed before the end"

    summary = posekit.train(resume=str(tmp_path / "train" / "killed"), workers=0)
    assert summary.run_dir == tmp_path / "train" / "killed"
    ours, theirs = _weights(summary.run_dir), _weights(reference.run_dir)
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    rows = list(csv.DictReader((Path(summary.run_dir) / "results.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2], "no epoch is logged twice"
    assert float(rows[1]["time_s"]) > float(rows[0]["time_s"]), "training time adds up over the resume"


def test_resume_refuses_to_change_the_recipe(reference: TrainResult) -> None:
    with pytest.raises(ConfigError, match="--lr cannot change when resuming"):
        posekit.train(resume=reference.run_dir, lr=0.1)


def _trainer(sample_data: Path, project: Path, **settings) -> Trainer:
    cfg = build_config(data=str(sample_data), project=str(project), **{**TINY, **settings})
    return Trainer(cfg, run_folder=run_folder)


@pytest.fixture
def fp32_accelerator() -> Iterator[None]:
    """Accelerate keeps one precision per process (bf16 by default on AVX512-BF16 CPUs): reset its state
    before and after a test that trains in another."""
    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.mark.usefixtures("fp32_accelerator")
def test_out_of_memory_halves_the_micro_batch_and_keeps_the_step(
    sample_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fp32, where micro-batches sum to the batch's gradient to rounding (fp32_accelerator)
    plain, shrunk = (
        _trainer(sample_data, tmp_path, batch_size=8, amp="no", name=n) for n in ("plain", "oom")
    )
    batch = next(iter(plain.loader))
    plain.train_step(batch)

    forward = shrunk.unwrapped.forward  # the instance's: under mixed precision, wrapped in autocast

    def small_only(pixel_values, *args, **kwargs):  # a "GPU" that holds 2 crops at a time
        if len(pixel_values) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(pixel_values, *args, **kwargs)

    monkeypatch.setattr(shrunk.unwrapped, "forward", small_only)
    shrunk.train_step(batch)
    assert shrunk.micro_batch == 2 and shrunk.cfg.batch_size == 8
    a, b = plain.unwrapped.state_dict(), shrunk.unwrapped.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a), "gradient accumulation keeps the step"


def test_frozen_backbone_and_ema(sample_data: Path, tmp_path: Path) -> None:
    trainer = _trainer(sample_data, tmp_path, epochs=1, freeze_backbone_epochs=1, ema=True, save_every=None)
    start = {k: v.clone() for k, v in trainer.unwrapped.state_dict().items()}
    trainer.fit()
    end = trainer.unwrapped.state_dict()
    backbone = [k for k in start if k.startswith("net.backbone.")]
    assert backbone and all(torch.equal(start[k], end[k]) for k in backbone)
    assert not torch.equal(start["net.head.conv.weight"], end["net.head.conv.weight"])
    saved = _weights(trainer.run_dir)
    assert torch.equal(saved["head.conv.weight"], trainer.ema.module.net.head.conv.weight)
    assert not torch.equal(saved["head.conv.weight"], end["net.head.conv.weight"]), "weights/ hold the EMA"


def test_patience_stops_early_and_a_resume_stays_stopped(
    sample_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    validate = Trainer.validate

    def flat(self: Trainer) -> dict:  # the same AP at every validation: never better than the first
        metrics = validate(self)
        metrics["summary"]["AP"] = 0.25
        return metrics

    monkeypatch.setattr(Trainer, "validate", flat)
    settings = {**TINY, "epochs": 5, "patience": 2, "save_every": None}
    summary = posekit.train(data=str(sample_data), project=str(tmp_path), **settings)
    assert summary.stopped_early and summary.epochs == 3 and summary.best_epoch == 1
    assert posekit.train(resume=summary.run_dir).epochs == 3


def test_targets_follow_the_model_heatmap_size(sample_data: Path, tmp_path: Path) -> None:
    """A model whose heatmaps are not input/4 (patch 8: input/2) trains on targets of its own size."""
    from transformers import VitPoseForPoseEstimation

    from posekit.datasets.schema import get_preset
    from posekit.models.presets import PRESETS
    from posekit.models.vitpose import PoseModel

    config = PRESETS["vitpose-t-simple"].config(17, (64, 48))
    config.backbone_config.patch_size = [8, 8]
    model = PoseModel(VitPoseForPoseEstimation(config), get_preset("coco17"))
    assert model.heatmap_size == (32, 24)
    directory = model.save(tmp_path / "patch8")
    settings = {**TINY, "model": str(directory), "epochs": 1, "input_size": None, "pretrained": None}
    summary = posekit.train(data=str(sample_data), project=str(tmp_path), name="p8", **settings)
    assert summary.epochs == 1 and summary.final_ap == summary.metrics["AP"]
    assert 0 <= summary.final_ap <= 1  # a validation ran (-1: no person to score)
    loss = float(next(csv.DictReader((summary.run_dir / "results.csv").open()))["train_loss"])
    assert 0 < loss < 1  # the targets were the model's size: a size mismatch raises, a wrong scale explodes


def test_validation_flip_test_follows_the_training_flips(sample_data: Path, tmp_path: Path) -> None:
    """Validation averages in the mirrored prediction only when training flips people."""
    from posekit.engine.model_evaluation import evaluate_model

    for name, augment, flip_test in (("flip", {}, True), ("noflip", {"flip_prob": 0.0}, False)):
        trainer = _trainer(sample_data, tmp_path, name=name, augment=augment)
        model, data, batch = trainer.unwrapped, trainer.val_data, trainer.micro_batch
        expected = evaluate_model(model, data, flip_test=flip_test, batch_size=batch, device="cpu")
        other = evaluate_model(model, data, flip_test=not flip_test, batch_size=batch, device="cpu")
        results = trainer.validate()["results"]
        assert results == expected.results and results != other.results, name
