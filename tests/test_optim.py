"""Layer-wise lr decay parameter groups and the warm-up + cosine/step schedules."""

from __future__ import annotations

import math

import pytest
import torch

from posekit.engine.optim import build_optimizer, build_scheduler, param_groups
from posekit.errors import ConfigError
from posekit.models.vitpose import load_model


@pytest.fixture(scope="module")
def model():
    return load_model("vitpose-t", pretrained="none", input_size=(64, 48))


def _group_of(groups: list[dict], name: str) -> dict:
    return next(g for g in groups if name in g["param_names"])


def test_param_groups_decay_and_layer_scales(model) -> None:
    groups = param_groups(model, lr=1e-3, weight_decay=0.1, layer_decay=0.75)
    named = dict(model.named_parameters())
    listed = [n for g in groups for n in g["param_names"]]
    assert sorted(listed) == sorted(named)  # every trainable parameter exactly once

    for group in groups:
        for name in group["param_names"]:
            param = named[name]
            exempt = param.ndim == 1 or name.endswith(".bias") or "position_embeddings" in name
            assert group["weight_decay"] == (0.0 if exempt else 0.1), name
    for name in (
        "net.backbone.embeddings.position_embeddings",
        "net.backbone.encoder.layer.0.layernorm_before.weight",
        "net.head.batchnorm1.weight",
        "net.backbone.encoder.layer.3.mlp.fc1.bias",
    ):
        assert _group_of(groups, name)["weight_decay"] == 0.0
    assert _group_of(groups, "net.backbone.encoder.layer.3.mlp.fc1.weight")["weight_decay"] == 0.1

    depth = 6  # vitpose-t
    embed = _group_of(groups, "net.backbone.embeddings.patch_embeddings.projection.weight")
    assert embed["lr_scale"] == pytest.approx(0.75 ** (depth + 1))
    head = _group_of(groups, "net.head.conv.weight")
    assert head["lr"] == pytest.approx(1e-3) and head["lr_scale"] == 1.0
    assert _group_of(groups, "net.backbone.layernorm.weight")["lr_scale"] == 1.0
    scales = [
        _group_of(groups, f"net.backbone.encoder.layer.{i}.mlp.fc1.weight")["lr_scale"] for i in range(depth)
    ]
    assert scales == sorted(scales) and len(set(scales)) == depth  # strictly growing with depth
    assert scales[-1] == pytest.approx(0.75)
    for group in groups:
        assert group["lr"] == pytest.approx(1e-3 * group["lr_scale"])


def test_param_groups_skip_frozen_and_no_decay_rate(model) -> None:
    frozen = model.net.backbone.embeddings.patch_embeddings.projection.weight
    frozen.requires_grad_(False)
    try:
        groups = param_groups(model, lr=1e-3, weight_decay=0.05, layer_decay=1.0)
    finally:
        frozen.requires_grad_(True)
    assert all(p is not frozen for g in groups for p in g["params"])
    assert {g["lr_scale"] for g in groups} == {1.0}
    with pytest.raises(ConfigError, match="layer decay"):
        param_groups(model, lr=1e-3, weight_decay=0.05, layer_decay=0.0)


def _lrs(scheduler, steps: int) -> list[float]:
    values = []
    for _ in range(steps):
        values.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()
        scheduler.step()
    return values


def test_warmup_then_cosine() -> None:
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.AdamW([{"params": [param], "lr": 0.1}, {"params": [], "lr": 0.05}])
    lrs = _lrs(build_scheduler(optimizer, total_steps=110, warmup_steps=10, schedule="cosine"), 111)
    assert lrs[0] == pytest.approx(0.1 * 0.001)
    assert lrs[5] == pytest.approx(0.1 * (1 - 0.5 * 0.999))
    assert lrs[10] == pytest.approx(0.1)
    assert lrs[60] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lrs[110] == pytest.approx(0.0, abs=1e-12)
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.0, abs=1e-12)  # each group keeps its own base


def test_warmup_then_step_and_errors() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    lrs = _lrs(build_scheduler(optimizer, 30, warmup_steps=5, schedule="step", milestones=[20, 10]), 30)
    assert lrs[5:10] == [1.0] * 5
    assert lrs[10] == pytest.approx(0.1) and lrs[19] == pytest.approx(0.1) and lrs[25] == pytest.approx(0.01)
    with pytest.raises(ConfigError, match="unknown lr schedule"):
        build_scheduler(optimizer, 30, schedule="linear")


def test_build_optimizer_uses_groups(model) -> None:
    optimizer = build_optimizer(model, lr=5e-4, weight_decay=0.1, layer_decay=0.75)
    assert isinstance(optimizer, torch.optim.AdamW)
    assert len(optimizer.param_groups) == len(param_groups(model, 5e-4, 0.1, 0.75))


def test_fused_update_equals_the_reference_adamw(model) -> None:
    """The fused optimiser makes torch's reference (per-tensor) AdamW update, group by group."""
    import copy

    start = copy.deepcopy(model)
    ours, theirs = copy.deepcopy(model), copy.deepcopy(model)
    fused = build_optimizer(ours, lr=5e-3, weight_decay=0.1, layer_decay=0.75)
    reference = torch.optim.AdamW(param_groups(theirs, 5e-3, 0.1, 0.75), lr=5e-3, foreach=False, fused=False)
    assert fused.defaults["fused"]
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
            a.grad = torch.randn(a.shape, generator=generator)
            b.grad = a.grad.clone()
        fused.step()
        reference.step()
    for (name, a), b, s in zip(ours.named_parameters(), theirs.parameters(), start.parameters(), strict=True):
        assert not torch.equal(a, s), name
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
