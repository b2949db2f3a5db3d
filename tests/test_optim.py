"""Layer-wise lr decay parameter groups, the warm-up + cosine/step schedules, fused AdamW and Muon."""

from __future__ import annotations

import math

import pytest
import torch

from posekit.engine.optim import MuonAdamW, build_optimizer, build_scheduler, newton_schulz, param_groups
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


def _random_grads(*models: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for params in zip(*(m.parameters() for m in models), strict=True):
        grad = torch.randn(params[0].shape, generator=generator)
        for p in params:
            p.grad = grad.clone()


def test_fused_update_equals_the_reference_adamw(model) -> None:
    """The fused optimiser makes torch's reference (per-tensor) AdamW update, group by group."""
    import copy

    start = copy.deepcopy(model)
    ours, theirs = copy.deepcopy(model), copy.deepcopy(model)
    fused = build_optimizer(ours, lr=5e-3, weight_decay=0.1, layer_decay=0.75)
    reference = torch.optim.AdamW(param_groups(theirs, 5e-3, 0.1, 0.75), lr=5e-3, foreach=False, fused=False)
    assert fused.defaults["fused"]
    for step in range(3):
        _random_grads(ours, theirs, seed=step)
        fused.step()
        reference.step()
    for (name, a), b, s in zip(ours.named_parameters(), theirs.parameters(), start.parameters(), strict=True):
        assert not torch.equal(a, s), name
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_newton_schulz_orthogonalises_each_matrix_of_a_stack() -> None:
    """Muon's quintic iteration: singular values spread over two decades pushed into about [0.68, 1.2]
    (Jordan et al.), for wide and tall matrices alike, each matrix of the stack on its own."""
    generator = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(3, 64, 64, generator=generator))
    v, _ = torch.linalg.qr(torch.randn(3, 96, 64, generator=generator))
    spread = torch.logspace(-2, 0, 64)  # singular values from 0.01 to 1
    wide = (u * spread) @ v.mT  # (3, 64, 96) with known singular vectors
    for stack in (wide, wide.mT.contiguous(), wide * 1e4):
        out = newton_schulz(stack)
        assert out.shape == stack.shape and out.dtype == torch.float32
        singular = torch.linalg.svdvals(out)
        assert singular.min() > 0.65 and singular.max() < 1.25
        one = newton_schulz(stack[1:2])[0]  # the stack does not mix matrices
        torch.testing.assert_close(out[1], one, rtol=1e-4, atol=1e-5)
    # in bfloat16 (where the hardware has it) the same matrices, to bfloat16's precision
    low = newton_schulz(wide, dtype=torch.bfloat16)
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), newton_schulz(wide), rtol=0, atol=0.02)
    # the singular vectors are kept: U^T out V is diagonal
    inner = u.mT @ newton_schulz(wide) @ v
    off = inner - torch.diag_embed(torch.diagonal(inner, dim1=-2, dim2=-1))
    assert off.abs().max() < 1e-3


def test_muon_adamw_steps_as_torch_muon_and_adamw(model) -> None:
    """Transformer matrices take torch.optim.Muon's update (adjust_lr_fn="match_rms_adamw"; torch runs
    Newton-Schulz in bfloat16, hence the tolerance), everything else torch's AdamW update."""
    import copy

    from torch.optim.lr_scheduler import LambdaLR

    start = copy.deepcopy(model)
    ours, theirs = copy.deepcopy(model), copy.deepcopy(model)
    optimizer = build_optimizer(ours, lr=5e-3, weight_decay=0.1, layer_decay=0.75, kind="muon")
    assert isinstance(optimizer, MuonAdamW)
    groups = param_groups(theirs, 5e-3, 0.1, 0.75)
    matrix = {
        n
        for g in groups
        for n, p in zip(g["param_names"], g["params"], strict=True)
        if p.ndim == 2 and ".layer." in n
    }
    assert len(matrix) == 6 * 6  # q, k, v, attention output, fc1, fc2 of the 6 layers
    split = []
    for group in groups:
        for muon in (True, False):
            params = [
                p for n, p in zip(group["param_names"], group["params"], strict=True) if (n in matrix) == muon
            ]
            if params:
                split.append((muon, {**group, "params": params}))
    torch_muon = torch.optim.Muon([g for m, g in split if m], lr=5e-3, adjust_lr_fn="match_rms_adamw")
    torch_adamw = torch.optim.AdamW([g for m, g in split if not m], lr=5e-3, foreach=False)
    for step in range(3):
        _random_grads(ours, theirs, seed=step)
        for each in (optimizer, torch_muon, torch_adamw):
            each.step()
    named = dict(theirs.named_parameters())
    for (name, a), s in zip(ours.named_parameters(), start.parameters(), strict=True):
        moved = named[name] - s
        assert moved.abs().max() > 1e-3, name
        # bfloat16 keeps 8 bits of mantissa: torch's matrix updates are within 3% of the largest step
        tolerance = 0.03 * moved.abs().max().item() if name in matrix else 1e-6
        torch.testing.assert_close(a - s, moved, rtol=0, atol=tolerance, msg=name)
    # one schedule drives both kinds of groups
    LambdaLR(optimizer, lambda step: 0.5)
    assert [g["lr"] / g["lr_scale"] for g in optimizer.param_groups] == pytest.approx([2.5e-3] * len(split))
    assert all(any(g is own for own in optimizer.param_groups) for g in optimizer._adamw.param_groups)


def test_muon_adamw_resumes_exactly(model) -> None:
    """state_dict -> load_state_dict (a resume) continues with the same momentum and AdamW moments."""
    import copy

    a_model, b_model = copy.deepcopy(model), copy.deepcopy(model)
    a = build_optimizer(a_model, lr=5e-3, weight_decay=0.1, kind="muon")
    _random_grads(a_model, seed=0)
    a.step()
    b_model.load_state_dict(a_model.state_dict())
    b = build_optimizer(b_model, lr=5e-3, weight_decay=0.1, kind="muon")
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    for seed in (1, 2):
        _random_grads(a_model, b_model, seed=seed)
        a.step()
        b.step()
    for (name, p), q in zip(a_model.named_parameters(), b_model.parameters(), strict=True):
        assert torch.equal(p, q), name
    with pytest.raises(ConfigError, match="unknown optimizer"):
        build_optimizer(model, lr=1e-3, kind="sgd")
