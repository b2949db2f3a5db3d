"""``--batch-size auto``: the largest batch that fits the GPU, as Ultralytics' autobatch does it.

Peak memory of a training step is measured at a few small batch sizes, a straight line is fitted
through them, and the batch that fills ``FRACTION`` of the GPU memory is taken. On CPU memory is
rarely the limit, so a fixed batch is used (and said).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

#: Share of the GPU memory the chosen batch should use (the rest absorbs fragmentation and workers).
FRACTION = 0.6
CPU_BATCH = 16
PROBES = (1, 2, 4, 8, 16)


def fit_batch_size(batches: list[int], memory: list[float], budget: float, limit: int = 1024) -> int:
    """The batch at which the line fitted through ``(batches, memory)`` reaches ``budget`` (>= 1)."""
    slope, intercept = np.polyfit(batches, memory, deg=1)
    # flat (or falling): no growth over the probes beyond float rounding (polyfit's slope on a flat
    # profile is +-1e-16, not 0, depending on the CPU's vector unit)
    if slope * max(batches) <= 1e-9 * max(abs(m) for m in memory):
        return min(limit, max(batches))
    return int(max(1, min(limit, np.floor((budget - intercept) / slope + 1e-6))))


def auto_batch_size(model: Any, input_size: tuple[int, int], amp: str, device: torch.device, log: Any) -> int:
    """Largest batch per process that fits (GPU), or :data:`CPU_BATCH` on CPU."""
    if device.type != "cuda":
        log.print(
            f"--batch-size auto: {CPU_BATCH} on CPU (memory is not the limit there; set it to override)."
        )
        return CPU_BATCH
    model = model.to(device).train()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    total = torch.cuda.get_device_properties(device).total_memory
    batches, memory = [], []
    for b in PROBES:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        try:
            x = torch.randn(b, 3, *input_size, device=device)
            with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
                out = model(x)
            F.mse_loss(out.float(), torch.zeros_like(out, dtype=torch.float32)).backward()
        except torch.cuda.OutOfMemoryError:
            break
        finally:
            model.zero_grad(set_to_none=True)
        batches.append(b)
        memory.append(torch.cuda.max_memory_allocated(device) - base)
    torch.cuda.empty_cache()
    if len(batches) < 2:
        size = max(batches, default=1)
        log.print(f"--batch-size auto: only {size} sample(s) fit in a probe step; using {size}.")
        return size
    # AdamW will keep two moments per parameter, which the probe steps did not allocate.
    states = 2 * sum(p.numel() * p.element_size() for p in model.parameters())
    size = fit_batch_size(batches, memory, FRACTION * total - torch.cuda.memory_allocated(device) - states)
    log.print(f"--batch-size auto: {size} per GPU ({FRACTION:.0%} of {total / 2**30:.1f} GiB).")
    return size
