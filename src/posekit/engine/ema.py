"""Exponential moving average of model weights (the ``--ema`` option).

Hand-written rather than ``torch.optim.swa_utils.AveragedModel`` because short fine-tunes need the decay
warm-up used by timm/Ultralytics (``decay * (1 - exp(-updates / tau))``): with a constant 0.9999 the
average of a 500-step run would still be mostly the initial weights.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn


class ModelEMA:
    """A frozen copy of ``model`` whose floating-point parameters and buffers trail the live ones."""

    def __init__(self, model: nn.Module, decay: float = 0.9999, tau: float = 2000.0) -> None:
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, 0

    def current_decay(self) -> float:
        return self.decay * (1.0 - math.exp(-self.updates / self.tau))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.current_decay()
        ema_state = self.module.state_dict()
        live, avg = [], []
        for key, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                live.append(value.detach())
                avg.append(ema_state[key])
            else:  # integer buffers such as BatchNorm's num_batches_tracked are copied
                ema_state[key].copy_(value)
        torch._foreach_lerp_(avg, live, 1.0 - d)

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
