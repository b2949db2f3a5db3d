"""Training benchmarks on this machine (CPU unless a GPU is visible).

(a) Training samples/s per preset: posekit's engine step (Accelerate-wrapped model, weighted heatmap
    loss, gradient clipping, AdamW with layer-wise lr decay, scheduler) against a bare transformers
    forward/backward/AdamW loop of the same network and batch. Both run on the same fixed batch, in
    alternating rounds, so that a busy machine slows both alike; the ratio is what matters.
(b) Learning curves of ``posekit train`` run as a user runs it (a new process, imports included), with
    no recipe flag: on the built-in sample (``posekit train``, the sample already generated) and on two
    generated sets unlike it (``posekit train --data X --model vitpose-t``; benchmarks/own_data.py: a
    9-keypoint quadruped and a 21-keypoint hand, freely rotated, on cluttered backgrounds). For each set:
    epoch, wall seconds and OKS AP on its val split where the run validates, the final AP and the wall
    times, with the load average (other jobs on the machine make timings pessimistic).

    python benchmarks/train.py                        # full
    python benchmarks/train.py --only curve --sets quadruped hand
    python benchmarks/train.py --quick                # a short smoke run
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import torch
import torch.nn.functional as F
import yaml
from cpu_limit import cpu_flags
from rich.console import Console
from rich.table import Table
from transformers import VitPoseForPoseEstimation

from posekit.engine.train import Trainer
from posekit.settings import build_config
from posekit.tasks.train import run_folder


def _load_own_data() -> ModuleType:
    """benchmarks/own_data.py, the generator of the sets unlike the sample (beside this script)."""
    spec = importlib.util.spec_from_file_location("own_data", Path(__file__).with_name("own_data.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


console = Console()
#: The sets of (b) and the AP each should reach: the sample keeps 0.90; sets unlike it 0.5 in 15 minutes
SETS = ("sample", "quadruped", "hand")
TARGET_AP = {"sample": 0.90, "quadruped": 0.5, "hand": 0.5}
own_data = _load_own_data()


def _batch(trainer: Trainer, size: int) -> dict[str, torch.Tensor]:
    h, w = trainer.cfg.input_size
    k = trainer.schema.num_keypoints
    hh, hw = trainer.unwrapped.heatmap_size
    g = torch.Generator().manual_seed(0)
    return {
        "pixel_values": torch.randn(size, 3, h, w, generator=g),
        "heatmaps": torch.rand(size, k, hh, hw, generator=g),
        "target_weights": torch.ones(size, k),
    }


def _bare_step(net: VitPoseForPoseEstimation, optimizer: torch.optim.Optimizer, batch: dict) -> None:
    heatmaps = net(batch["pixel_values"]).heatmaps
    F.mse_loss(heatmaps, batch["heatmaps"]).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def throughput(
    preset: str, input_size: str, batch_size: int, rounds: int, min_round_s: float, project: Path
) -> dict:
    cfg = build_config(
        data="sample",
        model=preset,
        pretrained="none",
        optimizer="adamw",
        input_size=input_size,
        batch_size=batch_size,
        device="auto",
        amp="no",
        workers=0,
        project=str(project),
        name=preset,
        drop_path=0.0,
    )
    trainer = Trainer(cfg, run_folder=run_folder)
    trainer.model.train()
    bare = VitPoseForPoseEstimation(trainer.unwrapped.net.config).to(trainer.accelerator.device).train()
    bare.load_state_dict(trainer.unwrapped.net.state_dict())
    bare_opt = torch.optim.AdamW(bare.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    batch = {k: v.to(trainer.accelerator.device) for k, v in _batch(trainer, batch_size).items()}
    steps_of = {
        "posekit": lambda: trainer.train_step(batch),
        "bare": lambda: _bare_step(bare, bare_opt, batch),
    }
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    t0 = time.perf_counter()
    for step in steps_of.values():  # warm-up, and the length of a step
        step()
    sync()
    steps = max(1, math.ceil(min_round_s / ((time.perf_counter() - t0) / 2)))
    times: dict[str, list[float]] = {"posekit": [], "bare": []}
    for _ in range(rounds):  # alternating rounds: a busy machine slows both alike
        for name, step in steps_of.items():
            sync()
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            sync()
            times[name].append((time.perf_counter() - t0) / steps)
    ours, theirs = statistics.median(times["posekit"]), statistics.median(times["bare"])
    return {
        "preset": preset,
        "input": input_size,
        "batch": batch_size,
        "params_m": sum(p.numel() for p in bare.parameters()) / 1e6,
        "posekit": batch_size / ours,
        "bare": batch_size / theirs,
        "ratio": theirs / ours,
    }


def learning_curve(
    project: Path, name: str, data: Path | None, epochs: int | None
) -> tuple[list[dict], float, float]:
    """Run ``posekit train`` (``--data data --model vitpose-t``, or nothing for the sample) as a user does,
    in a new process, its output shown; rows of results.csv, set-up seconds (imports, data, model: all but
    the training loop) and total seconds."""
    command = [sys.executable, "-m", "posekit.cli.app", "train", "--project", str(project), "--name", name]
    command += ["--data", str(data), "--model", "vitpose-t"] if data is not None else []
    t0 = time.perf_counter()
    subprocess.run(command + (["--epochs", str(epochs)] if epochs else []), check=True)
    total = time.perf_counter() - t0
    rows = list(csv.DictReader(open(project / "train" / name / "results.csv")))
    setup = total - float(rows[-1]["time_s"])
    return rows, setup, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer presets, steps and epochs")
    parser.add_argument("--only", choices=("speed", "curve"), help="run only part (a) speed or (b) curves")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="(b): the data sets")
    args = parser.parse_args()
    presets = [("vitpose-t-simple", "128x96", 16), ("vitpose-t", "128x96", 16), ("vitpose-s", "256x192", 8)]
    if not args.quick:
        presets.append(("vitpose-b", "256x192", 8))
    rounds, min_round_s = (2, 0.5) if args.quick else (5, 2.0)

    _vendor, cpu, flags = cpu_flags()
    shown = sorted(flags & {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile"})
    console.print(f"CPU: {cpu}, {os.cpu_count()} cores, flags {' '.join(shown)}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "curve":
            speed_table(presets, rounds, min_round_s, Path(tmp))
        if args.only == "speed":
            return
        for name in args.sets:
            data = None if name == "sample" else own_data.generate(name, Path(tmp) / "data" / name)
            load_start = os.getloadavg()[0]
            rows, setup, total = learning_curve(Path(tmp), name, data, 3 if args.quick else None)
            args_yaml = (Path(tmp) / "train" / name / "args.yaml").read_text()
            curve_table(name, yaml.safe_load(args_yaml), rows, setup, total, load_start)


def speed_table(presets: list[tuple[str, str, int]], rounds: int, min_round_s: float, project: Path) -> None:
    table = Table(title="(a) training samples/s, posekit engine vs bare transformers loop (same batch)")
    for column in ("preset", "input", "batch", "params (M)", "posekit", "bare loop", "ratio"):
        table.add_column(column, justify="left" if column in ("preset", "input") else "right")
    for preset, size, batch in presets:
        r = throughput(preset, size, batch, rounds, min_round_s, project)
        speeds = f"posekit {r['posekit']:.2f}, bare {r['bare']:.2f} samples/s"
        console.print(f"{preset}: {speeds} ({r['ratio']:.2f}x)")
        table.add_row(
            r["preset"],
            r["input"],
            str(r["batch"]),
            f"{r['params_m']:.1f}",
            f"{r['posekit']:.1f}",
            f"{r['bare']:.1f}",
            f"{r['ratio']:.2f}x",
        )
    console.print(table)


def curve_table(
    name: str, settings: dict, rows: list[dict], setup: float, total: float, load_start: float
) -> None:
    target = TARGET_AP[name]
    curve = Table(
        title=f"(b) `posekit train{'' if name == 'sample' else ' --data ' + name + ' --model vitpose-t'}`: "
        f"{settings['model']}, pretrained={settings['pretrained']}, {settings['input_size']}, "
        f"{settings['head']} head, "
        f"{settings['optimizer']} lr {settings['lr']:.3g}, batch {settings['batch_size']}, "
        f"{settings['epochs']} epochs (validated every {settings['val_every']} and after the last)"
    )
    for column in ("epoch", "train loss", "AP", "AP50", "PCK@0.1", "wall s"):
        curve.add_column(column, justify="right")
    reached = None
    for row in rows:
        if reached is None and float(row.get("AP") or 0) >= target:
            reached = float(row["time_s"]) + setup
        metrics = (f"{float(row[m]):.3f}" if row.get(m) else "-" for m in ("AP", "AP50", "PCK@0.1"))
        curve.add_row(
            row["epoch"], f"{float(row['train_loss']):.2e}", *metrics, f"{float(row['time_s']) + setup:.0f}"
        )
    console.print(curve)
    final = next(float(r["AP"]) for r in reversed(rows) if r.get("AP"))
    console.print(
        f"{name}: final AP {final:.3f} after {total:.0f} s ({total / 60:.1f} min, {setup:.0f} s of it "
        "set-up: "
        f"imports, data, model); AP >= {target} "
        + (f"at {reached:.0f} s ({reached / 60:.1f} min)" if reached else "not reached")
        + f". Load average {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end on {os.cpu_count()} "
        "cores (other jobs on the machine make timings pessimistic)."
    )


if __name__ == "__main__":
    main()
