"""Model cost on this machine: parameters, GFLOPs per crop and inference crops/s (eager vs SDPA attention).

Random weights, 256x192 input. GFLOPs count a multiply-add as 2 (torch's FlopCounterMode; papers quoting
ViTPose-B at ~17.1 "GFLOPs" count multiply-adds, i.e. half of this). Run:

    python benchmarks/models.py            # every preset
    python benchmarks/models.py --quick    # fewer iterations; no L, H, ViTPose++ (same cost as plain)
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.table import Table

from posekit.models.presets import PRESETS
from posekit.models.vitpose import PoseModel, load_model

ATTENTION = ("eager", "sdpa")


@torch.inference_mode()
def crops_per_second(model: PoseModel, batch: int, iterations: int) -> dict[str, float]:
    """Crops/s per attention implementation, timed in alternation so that load changes hit both alike."""
    x = torch.randn(batch, 3, *model.input_size)
    seconds = dict.fromkeys(ATTENTION, 0.0)
    for attention in ATTENTION:  # warm-up
        model.net.backbone.set_attn_implementation(attention)
        model(x)
    for _ in range(iterations):
        for attention in ATTENTION:
            model.net.backbone.set_attn_implementation(attention)
            start = time.perf_counter()
            model(x)
            seconds[attention] += time.perf_counter() - start
    return {attention: batch * iterations / total for attention, total in seconds.items()}


def in_quick_run(preset: str) -> bool:
    """``--quick`` measures T, S and B, without ViTPose++ (which costs what the plain model does)."""
    size = preset.removesuffix("-simple").rsplit("-", 1)[-1]
    return size in ("t", "s", "b") and not preset.startswith("vitpose-plus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations; skip L, H and ViTPose++")
    parser.add_argument("--presets", nargs="*", help="preset names (default: all)")
    parser.add_argument("--iterations", type=int, default=None, help="timed batches per measurement")
    args = parser.parse_args()
    names = args.presets or [n for n in PRESETS if in_quick_run(n) or not args.quick]
    iterations = args.iterations or (2 if args.quick else 5)

    table = Table(
        title=f"posekit models, 256x192 crops, CPU ({torch.get_num_threads()} threads), "
        f"{iterations} timed batches"
    )
    table.add_column("preset")
    table.add_column("params (M)", justify="right")
    table.add_column("GFLOPs/crop", justify="right")
    for attention in ATTENTION:
        for batch in (1, 8):
            table.add_column(f"{attention} b{batch} crops/s", justify="right")
    table.add_column("sdpa/eager b8", justify="right")
    console = Console(stderr=True)
    for name in names:
        model = load_model(name, pretrained="none")
        speeds = {}
        for batch in (1, 8):
            for attention, value in crops_per_second(model, batch, iterations).items():
                speeds[attention, batch] = value
        table.add_row(
            name,
            f"{model.num_parameters() / 1e6:.1f}",
            f"{model.gflops():.1f}",
            *(f"{speeds[attention, batch]:.1f}" for attention in ATTENTION for batch in (1, 8)),
            f"{speeds['sdpa', 8] / speeds['eager', 8]:.2f}x",
        )
        console.print(f"measured {name}", style="dim")
        del model
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
