"""Stochastic depth (drop path) for transformers' VitPose backbone, which has none.

``VitPoseBackboneLayer`` computes ``h = x + attention(norm1(x))`` and ``out = h + mlp(norm2(h))``.
Forward hooks on its ``attention`` and ``mlp`` sub-modules scale those residual branches, so the
model file is not forked and the state dict keeps transformers' names. Rates grow linearly with depth
(0 for the first layer, ``rate`` for the last) as in ViTPose and timm. Hand-written because torch has no
stochastic depth op (torchvision's is not a dependency) and it is a few lines.
"""

from __future__ import annotations

import torch
from torch import nn


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Zero whole samples of a residual branch with probability ``p`` and rescale the kept ones."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    """Drop path with rate ``p``; attached to a layer, it scales the outputs of its residual branches."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, self.training)

    def branch_hook(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        return self(output)

    def extra_repr(self) -> str:
        return f"p={self.p:.3f}"


def set_drop_path(layers: nn.ModuleList, rate: float) -> list[float]:
    """Set stochastic depth on VitPose backbone ``layers`` (``net.backbone.encoder.layer``).

    The first call attaches a parameter-free ``drop_path`` module to each layer and hooks its residual
    branches; later calls only change the rates. With ``rate == 0`` the model is exactly the plain one.
    Returns the per-layer rates.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"drop path rate must be in [0, 1), got {rate}")
    depth = len(layers)
    rates = torch.linspace(0.0, rate, depth).tolist() if depth > 1 else [rate] * depth
    for layer, p in zip(layers, rates, strict=True):
        module = getattr(layer, "drop_path", None)
        if isinstance(module, DropPath):
            module.p = p
            continue
        layer.drop_path = DropPath(p)
        layer.attention.register_forward_hook(layer.drop_path.branch_hook)
        layer.mlp.register_forward_hook(layer.drop_path.branch_hook)
    return rates
