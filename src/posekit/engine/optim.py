"""Optimiser and learning-rate schedule of the ViTPose recipe: AdamW with layer-wise lr decay, linear
warm-up, then cosine or step decay; or Muon for the transformer's weight matrices with AdamW for the rest.

Layer ids follow ViTPose's ``LayerDecayOptimizerConstructor`` (BEiT): embeddings 0, transformer layer
``i`` -> ``i + 1``, everything after the backbone (final norm, head) ``L + 1``; the lr scale of id ``j`` is
``layer_decay ** (L + 1 - j)``. Biases, norms (any 1-d tensor) and position embeddings get no weight decay.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from posekit.device import resolve_precision
from posekit.errors import ConfigError

_LAYER = re.compile(r"(?:^|\.)encoder\.layer\.(\d+)\.")
_EMBEDDINGS = re.compile(r"(?:^|\.)backbone\.embeddings\.")
SCHEDULES = ("cosine", "step", "constant")
OPTIMIZERS = ("adamw", "muon")
#: torch.optim.Muon's quintic Newton-Schulz coefficients (Jordan et al., 2024)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def layer_id(name: str, num_layers: int) -> int:
    """Depth of a parameter for layer-wise lr decay (0 = embeddings, ``num_layers + 1`` = head)."""
    if _EMBEDDINGS.search(name):
        return 0
    match = _LAYER.search(name)
    return int(match.group(1)) + 1 if match else num_layers + 1


def no_weight_decay(name: str, param: torch.Tensor) -> bool:
    return param.ndim <= 1 or name.endswith(".bias") or "position_embeddings" in name


def param_groups(model: nn.Module, lr: float, weight_decay: float, layer_decay: float = 1.0) -> list[dict]:
    """AdamW parameter groups with layer-wise lr decay; each group has ``lr``, ``weight_decay``,
    ``lr_scale``, ``layer_id`` and ``param_names`` (frozen parameters are left out)."""
    if not 0.0 < layer_decay <= 1.0:
        raise ConfigError(f"layer decay must be in (0, 1], got {layer_decay}")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    num_layers = 1 + max((int(m.group(1)) for n, _ in named if (m := _LAYER.search(n))), default=-1)
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in named:
        depth = layer_id(name, num_layers)
        decay = not no_weight_decay(name, param)
        if (depth, decay) not in groups:
            scale = layer_decay ** (num_layers + 1 - depth)
            groups[depth, decay] = {
                "params": [],
                "param_names": [],
                "lr": lr * scale,
                "lr_scale": scale,
                "weight_decay": weight_decay if decay else 0.0,
                "layer_id": depth,
            }
        groups[depth, decay]["params"].append(param)
        groups[depth, decay]["param_names"].append(name)
    return [groups[key] for key in sorted(groups)]


def build_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float = 0.1,
    layer_decay: float = 1.0,
    betas: tuple[float, float] = (0.9, 0.999),
    kind: str = "adamw",
) -> torch.optim.Optimizer:
    """AdamW over :func:`param_groups` (``kind="adamw"``), or :class:`MuonAdamW` (``"muon"``). AdamW is
    fused: on CPU the default per-tensor loop takes 16 ms a step for ViTPose-T's 103 tensors, the fused
    kernels 3 ms (the same update, to float rounding)."""
    if kind not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}")
    groups = param_groups(model, lr, weight_decay, layer_decay)
    if kind == "muon":
        return MuonAdamW(groups, lr=lr, betas=betas)
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=True)


def newton_schulz(
    update: torch.Tensor, steps: int = 5, eps: float = 1e-7, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Approximate orthogonalisation ``U V^T`` of each (m, n) matrix of a (B, m, n) stack: torch.optim.Muon's
    quintic iteration, computed in ``dtype`` (torch's is bfloat16)."""
    a, b, c = NS_COEFFICIENTS
    x = update.to(dtype)
    tall = x.size(-2) > x.size(-1)
    if tall:
        x = x.mT
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.mT if tall else x


class MuonAdamW(torch.optim.Optimizer):
    """Muon (momentum, Nesterov, Newton-Schulz orthogonalised update) for the weight matrices of the
    transformer layers, fused AdamW for everything else (embeddings, norms, biases, the head), over
    :func:`param_groups`' groups; one lr schedule drives both.

    The Muon update follows ``torch.optim.Muon(adjust_lr_fn="match_rms_adamw")``: the lr scaled by
    ``0.2 * sqrt(max(m, n))`` gives the update AdamW's size, so AdamW's lr and weight decay carry over.
    Written here rather than used from torch because torch's runs Newton-Schulz one tensor at a time, always
    in bfloat16 (emulated, several times slower, on CPUs without bf16 units): 36 loops of small matmuls a
    step for ViTPose-T, 135 ms on 2 cores. This one stacks the same-shaped matrices (3 batched loops) and
    runs them in bfloat16 where the device multiplies it in hardware (15 ms on an AVX512-BF16 EPYC), else
    in float32 (37 ms). The AdamW groups are a ``torch.optim.AdamW`` sharing this optimiser's groups and
    state, so the schedule, ``state_dict`` and resume see one optimiser.
    """

    def __init__(
        self,
        groups: list[dict],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        momentum: float = 0.95,
        ns_steps: int = 5,
    ) -> None:
        split: list[dict] = []
        for group in groups:
            for muon in (True, False):
                chosen = [
                    (n, p)
                    for n, p in zip(group["param_names"], group["params"], strict=True)
                    if _is_muon(n, p) == muon
                ]
                if chosen:
                    names, params = zip(*chosen, strict=True)
                    split.append({**group, "params": list(params), "param_names": list(names), "muon": muon})
        defaults = {"lr": lr, "betas": betas, "momentum": momentum, "ns_steps": ns_steps, "weight_decay": 0.0}
        super().__init__(split, defaults)
        self._link_adamw()

    def _link_adamw(self) -> None:
        adamw_groups = [g for g in self.param_groups if not g["muon"]]
        betas = self.defaults["betas"]
        self._adamw = torch.optim.AdamW(
            [{**g} for g in adamw_groups], lr=self.defaults["lr"], betas=betas, fused=True
        )
        for group, own in zip(adamw_groups, self._adamw.param_groups, strict=True):
            group.update({k: v for k, v in own.items() if k not in group})
        self._adamw.param_groups = adamw_groups
        self._adamw.state = self.state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._link_adamw()

    @torch.no_grad()
    def step(self, closure: None = None) -> None:
        self._adamw.step()
        # one batched Newton-Schulz per matrix shape and hyper-parameters, across the layers' groups
        batches: dict[tuple, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        for group in self.param_groups:
            if not group["muon"]:
                continue
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            bufs = [self.state[p].setdefault("momentum_buffer", torch.zeros_like(p)) for p in params]
            torch._foreach_lerp_(bufs, grads, 1 - group["momentum"])
            updates = torch._foreach_lerp(grads, bufs, group["momentum"])  # Nesterov
            hyper = (group["lr"], group["weight_decay"], group["ns_steps"])
            for param, update in zip(params, updates, strict=True):
                batches.setdefault((tuple(param.shape), *hyper), []).append((param, update))
        for (shape, lr, decay, ns_steps), pairs in batches.items():
            params = [p for p, _ in pairs]
            fast_bf16 = resolve_precision("auto", params[0].device) == "bf16"
            dtype = torch.bfloat16 if fast_bf16 else torch.float32
            ortho = newton_schulz(torch.stack([u for _, u in pairs]), ns_steps, dtype=dtype)
            if decay:
                torch._foreach_mul_(params, 1 - lr * decay)
            torch._foreach_add_(
                params,
                [u.to(params[0].dtype) for u in ortho.unbind()],
                alpha=-lr * 0.2 * math.sqrt(max(shape)),
            )


def _is_muon(name: str, param: torch.Tensor) -> bool:
    """Muon takes the weight matrices of the transformer layers (attention and MLP)."""
    return param.ndim == 2 and _LAYER.search(name) is not None


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int = 500,
    schedule: str = "cosine",
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    warmup_ratio: float = 0.001,
    min_lr_ratio: float = 0.0,
) -> LambdaLR:
    """Per-step schedule: linear warm-up from ``warmup_ratio`` (mmcv's rule), then ``cosine`` to
    ``min_lr_ratio`` at ``total_steps``, ``step`` (x ``gamma`` at each of ``milestones``, in steps) or
    ``constant``. Every group keeps its own base lr (layer decay)."""
    if schedule not in SCHEDULES:
        raise ConfigError(f"unknown lr schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if total_steps < 1 or warmup_steps < 0:
        raise ConfigError(
            f"need total_steps >= 1 and warmup_steps >= 0, got {total_steps} and {warmup_steps}"
        )
    milestones = sorted(int(m) for m in milestones)

    def factor(step: int) -> float:
        if schedule == "cosine":
            progress = min(1.0, max(0, step - warmup_steps) / max(1, total_steps - warmup_steps))
            value = min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        elif schedule == "step":
            value = gamma ** sum(step >= m for m in milestones)
        else:
            value = 1.0
        if step < warmup_steps:
            value *= 1 - (1 - step / warmup_steps) * (1 - warmup_ratio)
        return value

    return LambdaLR(optimizer, factor)
