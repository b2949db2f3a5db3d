"""Parts of the training engine on their own: loss, batch order, EMA, autobatch fit, resume lookup."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from posekit.engine.autobatch import fit_batch_size
from posekit.engine.checkpoint import STATE_FILE, find_resume_dir
from posekit.engine.ema import ModelEMA
from posekit.engine.sampler import EpochBatchSampler, EpochItems
from posekit.engine.train import heatmap_loss
from posekit.errors import ConfigError


def test_heatmap_loss_is_mmpose_keypoint_mse_with_target_weight() -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(3, 5, 8, 6, generator=g), torch.rand(3, 5, 8, 6, generator=g)
    weights = torch.tensor([[1, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.float32)
    # mmpose 1.x: mse(reduction="none") * target_weights[..., None, None], mean over everything
    expected = (
        sum(
            float(weights[b, k]) * float(((pred[b, k] - target[b, k]) ** 2).sum())
            for b in range(3)
            for k in range(5)
        )
        / pred.numel()
    )
    assert math.isclose(float(heatmap_loss(pred, target, weights)), expected, rel_tol=1e-6)
    assert torch.allclose(heatmap_loss(pred, target, torch.ones(3, 5)), F.mse_loss(pred, target))
    pred.requires_grad_(True)
    heatmap_loss(pred, target, weights).backward()
    assert pred.grad[0, 1].abs().sum() == 0 and pred.grad[2].abs().sum() == 0  # unlabelled: no gradient


def _batches(sampler: EpochBatchSampler) -> list[list[tuple[int, int]]]:
    return list(sampler)


def test_batch_order_is_a_function_of_seed_and_epoch() -> None:
    a, b = EpochBatchSampler(23, 4, seed=3), EpochBatchSampler(23, 4, seed=3)
    a.set_epoch(2)
    b.set_epoch(2)
    assert _batches(a) == _batches(b)
    assert len(a) == 6 and [len(x) for x in _batches(a)] == [4, 4, 4, 4, 4, 3]
    assert sorted(i for batch in _batches(a) for _, i in batch) == list(range(23))
    assert {e for batch in _batches(a) for e, _ in batch} == {2}
    b.set_epoch(3)
    assert [i for x in _batches(a) for _, i in x] != [i for x in _batches(b) for _, i in x]
    c = EpochBatchSampler(23, 4, seed=4)
    c.set_epoch(2)
    assert _batches(a) != _batches(c)


def test_resume_skips_the_batches_already_done() -> None:
    full, resumed = EpochBatchSampler(30, 4, seed=1), EpochBatchSampler(30, 4, seed=1)
    full.set_epoch(5)
    resumed.set_epoch(5, start_batch=3)
    assert _batches(resumed) == _batches(full)[3:]
    assert len(resumed) == len(full)


def test_processes_share_an_epoch_without_overlap() -> None:
    ranks = [EpochBatchSampler(10, 2, seed=0, rank=r, world=2) for r in range(2)]
    for s in ranks:
        s.set_epoch(1)
    seen = [[i for batch in s for _, i in batch] for s in ranks]
    assert len(seen[0]) == len(seen[1]) == 5 and not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(10))
    odd = [EpochBatchSampler(7, 2, seed=0, rank=r, world=2) for r in range(2)]
    assert len(odd[0]) == len(odd[1]) == 2  # padded by wrapping around: every process steps as often


def test_epoch_items_sets_the_epoch_before_each_item() -> None:
    class Recorder:
        epoch = -1

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch

        def __getitem__(self, index: int) -> tuple[int, int]:
            return self.epoch, index

        def __len__(self) -> int:
            return 3

    items = EpochItems(Recorder())
    assert items[(4, 2)] == (4, 2) and items[(0, 1)] == (0, 1) and len(items) == 3


def test_ema_follows_the_warmed_up_decay() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    ema = ModelEMA(model, decay=0.9, tau=2.0)
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].num_batches_tracked.fill_(7)
    ema.update(model)
    d = 0.9 * (1 - math.exp(-1 / 2.0))
    assert torch.allclose(ema.module[0].weight, d * start + (1 - d) * model[0].weight)
    assert int(ema.module[1].num_batches_tracked) == 7
    assert not any(p.requires_grad for p in ema.module.parameters())
    copy = ModelEMA(model)
    copy.load_state_dict(ema.state_dict())
    assert copy.updates == 1 and torch.equal(copy.module[0].weight, ema.module[0].weight)


def test_autobatch_fits_a_line_to_the_memory_probes() -> None:
    batches = [1, 2, 4, 8]
    memory = [100 + 10 * b for b in batches]  # 100 fixed + 10 per sample
    assert fit_batch_size(batches, memory, budget=600) == 50
    assert fit_batch_size(batches, memory, budget=50) == 1
    assert fit_batch_size(batches, memory, budget=1e9, limit=256) == 256
    assert fit_batch_size(batches, [5.0] * 4, budget=1e3) == 8  # flat profile: the largest probe


def test_resume_finds_the_latest_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no run to resume"):
        find_resume_dir(tmp_path, None)
    for name in ("exp", "exp2"):
        state = tmp_path / "train" / name / "weights" / "last" / STATE_FILE
        state.parent.mkdir(parents=True)
        state.write_bytes(b"x")
    newest = tmp_path / "train" / "exp" / "weights" / "last" / STATE_FILE
    stamp = newest.stat().st_mtime + 10
    os.utime(newest, (stamp, stamp))
    assert find_resume_dir(tmp_path, None) == tmp_path / "train" / "exp"
    assert find_resume_dir(tmp_path, tmp_path / "train" / "exp2" / "weights") == tmp_path / "train" / "exp2"
    with pytest.raises(ConfigError, match="no resumable checkpoint"):
        find_resume_dir(tmp_path, tmp_path / "elsewhere")


def test_resume_repairs_a_checkpoint_killed_between_its_renames(tmp_path: Path) -> None:
    weights = tmp_path / "train" / "exp" / "weights"
    (weights / ".last.abc.tmp" / "last.old").mkdir(parents=True)  # the old one, moved aside
    (weights / ".last.abc.tmp" / "last.old" / STATE_FILE).write_bytes(b"x")
    (weights / ".last.abc.tmp" / "last").mkdir(parents=True)  # half-written, never renamed
    assert find_resume_dir(tmp_path, weights.parent) == weights.parent
    assert (weights / "last" / STATE_FILE).is_file()
    assert sorted(p.name for p in weights.iterdir()) == ["last"]
