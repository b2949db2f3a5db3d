"""ViTPose at the CPU's limit: crops/s, achieved GFLOP/s and share of the CPU's peak for every runtime and
precision, and what each costs in AP.

    python benchmarks/cpu_limit.py                  # ~10 min on a quiet 2-core CPU (estimated)
    python benchmarks/cpu_limit.py --only speed     # sections: speed, accuracy
    python benchmarks/cpu_limit.py --model runs/train/exp/weights/best

Sections, each measured side by side in this one process (configurations alternate, medians reported):

- ``speed``: ViTPose-S 256x192 (random weights: speed does not depend on them), batch 3 (3 people, no
  flip) on PyTorch fp32 / bf16, ONNX Runtime fp32 / int8 (QDQ) and OpenVINO fp32 / bf16 / int8 (NNCF),
  what ``--runtime auto`` picks marked. FLOPs per crop from torch's FLOP counter (multiply-add = 2);
  the peak is cores x clock x operations per cycle and core for the precision's instructions, from the
  CPU's flags (the assumptions are printed; the clock is the one /proc/cpuinfo reports, boost unknown).
- ``accuracy``: the sample-trained model (``posekit train``) in each runtime and precision: OKS AP on the
  still sample's val split (``posekit val``: ground-truth boxes, flip test) and on the video sample
  (ground-truth boxes every 5th frame as the detector, no flip), and the change from PyTorch fp32.

The machine this was written on is shared with other jobs: read ratios between rows, not absolute
numbers, unless the machine was quiet (the load average is printed).
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from video import DET_EVERY, VideoSample, alternate, table

import posekit
from posekit.device import cpu_has_fast_bf16, openvino_installed, resolve_backend
from posekit.inference.predictor import Predictor, TorchRunner
from posekit.models.vitpose import load_model

console = Console(width=130)

#: (runtime, precision) pairs measured, in table order.
BACKENDS = [
    ("torch", "fp32"),
    ("torch", "bf16"),
    ("onnxruntime", "fp32"),
    ("onnxruntime", "int8"),
    ("openvino", "fp32"),
    ("openvino", "bf16"),
    ("openvino", "int8"),
]


def cpu_flags() -> tuple[str, str, set[str]]:
    """The CPU's vendor, model name and flags (/proc/cpuinfo)."""
    info = dict(
        line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().splitlines()[:40] if ":" in line
    )
    info = {k.strip(): v.strip() for k, v in info.items()}
    return info.get("vendor_id", "?"), info.get("model name", "?"), set(info.get("flags", "").split())


def peak_ops(threads: int) -> tuple[dict[str, float], list[str]]:
    """Peak operations per second (multiply-add = 2) for fp32, bf16 and int8 on ``threads`` cores, and the
    assumptions made, from the CPU's flags. Operations per cycle and core: fp32 = FMA units (2) x 2 x
    fp32 lanes of the datapath; AVX512-BF16's VDPBF16PS does 2 products per fp32 lane, VNNI's VPDPBUSD 4
    (AVX2 without VNNI: VPMADDUBSW + VPMADDWD, counted as 2); AMX tiles 1024 bf16 / 2048 int8."""
    vendor, _, flags = cpu_flags()
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    clock = float(next(line.split(":")[1] for line in lines if line.startswith("cpu MHz")))
    # Zen 4 runs 512-bit instructions as two 256-bit halves (Zen 5 has avx512_vp2intersect and a full path)
    halves = vendor == "AuthenticAMD" and "avx512_vp2intersect" not in flags
    lanes = 16 if "avx512f" in flags and not halves else 8 if "avx2" in flags or "avx512f" in flags else 4
    fp32 = 2 * 2 * lanes
    bf16 = 1024 if "amx_bf16" in flags else 2 * fp32 if "avx512_bf16" in flags else fp32
    vnni = {"avx512_vnni", "avx_vnni"} & flags
    int8 = 2048 if "amx_int8" in flags else 4 * fp32 if vnni else 2 * fp32
    per_cycle = {"fp32": fp32, "bf16": bf16, "int8": int8}
    notes = [
        f"{threads} core(s) x {clock / 1000:.2f} GHz (/proc/cpuinfo's clock; boost not counted)",
        f"fp32: 2 FMA units x 2 x {lanes} lanes = {fp32} FLOP/cycle"
        + (" (512-bit instructions as two 256-bit halves: Zen 4)" if halves and "avx512f" in flags else ""),
        f"bf16: {bf16} FLOP/cycle ("
        + (
            "AMX"
            if bf16 == 1024
            else "AVX512-BF16, 2 products per fp32 lane"
            if bf16 > fp32
            else "none: fp32"
        )
        + ")",
        f"int8: {int8} OP/cycle ("
        + ("AMX" if int8 == 2048 else f"{'/'.join(sorted(vnni)).upper()}, 4 per lane" if vnni else "AVX2, ~2")
        + ")",
    ]
    return {k: v * threads * clock * 1e6 for k, v in per_cycle.items()}, notes


def flops_per_crop(model: torch.nn.Module) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(torch.zeros(1, 3, *model.input_size))
    return float(counter.get_total_flops())


def runners(predictor: Predictor, available: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """``predictor``'s model on each runtime and precision (int8: calibrated on the built-in sample)."""
    return {(rt, p): predictor.runner_for(p, "sample", runtime=rt) for rt, p in available}


def available_backends() -> list[tuple[str, str]]:
    found = []
    for runtime, precision in BACKENDS:
        if runtime == "openvino" and not openvino_installed(int8=precision == "int8"):
            continue
        found.append((runtime, precision))
    return found


def speed_section(rounds: int, threads: int) -> None:
    torch.manual_seed(0)
    model = load_model("vitpose-s", pretrained="none")
    predictor = Predictor(TorchRunner(copy.deepcopy(model), "cpu", "vitpose-s"))
    built = runners(predictor, available_backends())
    x = np.random.default_rng(0).standard_normal((3, 3, 256, 192)).astype(np.float32)
    for run in built.values():
        run(x)  # warm-up (OpenVINO compiles its kernels on the first call)
    seconds = alternate({k: (lambda r=r: r(x)) for k, r in built.items()}, rounds)
    flops = flops_per_crop(model)
    peak, notes = peak_ops(threads)
    auto = resolve_backend("auto", "auto", torch.device("cpu"))[:2]
    reference = ("torch", "bf16") if cpu_has_fast_bf16() else ("torch", "fp32")
    ref = np.median(seconds[reference])
    _, name, flags = cpu_flags()
    shown = sorted(
        {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8"} & flags
    )
    out = table(
        f"ViTPose-S 256x192, batch 3, {flops / 1e9:.2f} GFLOP a crop; {name} ({', '.join(shown)}), "
        f"{threads} thread(s), load {os.getloadavg()[0]:.1f}",
        ["runtime / precision", "crops/s", f"x {' '.join(reference)}", "GFLOP/s", "% of peak"],
    )
    for (runtime, precision), values in seconds.items():
        rate = 3 / np.median(values)
        label = f"{runtime} {precision}" + (" (auto)" if (runtime, precision) == auto else "")
        achieved = rate * flops
        out.add_row(
            label, f"{rate:.1f}", f"{ref / np.median(values):.2f}", f"{achieved / 1e9:.0f}",
            f"{100 * achieved / peak[precision]:.0f}% of {peak[precision] / 1e9:.0f}",
        )  # fmt: skip
    out.caption = "peak = " + "; ".join(notes)
    console.print(out)


def accuracy_section(tmp: Path, trained: Path) -> None:
    sample = VideoSample(trained, None)
    auto = resolve_backend("auto", "auto", torch.device("cpu"))[:2]
    still, video = {}, {}
    columns = [
        "runtime / precision",
        "still sample AP",
        "change",
        f"video AP (det-every {DET_EVERY})",
        "change",
    ]
    out = table(f"AP of the sample-trained model {trained} (points)", columns)
    for runtime, precision in available_backends():
        key = (runtime, precision)
        metrics = posekit.val(
            model=trained, data="sample", runtime=runtime, precision=precision, project=tmp, worst=0,
            verbose=False, device="cpu",
        )  # fmt: skip
        still[key] = 100 * metrics.ap
        video[key] = sample.measure(sample.run(DET_EVERY, runtime=runtime, precision=precision))["AP"]
        first = next(iter(still))
        out.add_row(
            f"{runtime} {precision}" + (" (auto)" if key == auto else ""),
            f"{still[key]:.2f}", f"{still[key] - still[first]:+.2f}",
            f"{video[key]:.2f}", f"{video[key] - video[first]:+.2f}",
        )  # fmt: skip
    out.caption = "still sample: posekit val (ground-truth boxes, flip test on); video: flip test off"
    console.print(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="runs/train/exp/weights/best", type=Path, help="the sample model (`posekit train`)"
    )
    parser.add_argument("--only", default="speed,accuracy", help="comma-separated sections")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (default 7)")
    args = parser.parse_args()
    threads = len(os.sched_getaffinity(0))  # every runtime's default
    sections = set(args.only.split(","))
    if "accuracy" in sections and not args.model.is_dir():
        raise SystemExit(f"the sample-trained model {args.model} is missing: train it with `posekit train`")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        if "speed" in sections:
            speed_section(args.rounds, threads)
        if "accuracy" in sections:
            accuracy_section(Path(folder), args.model)
    console.print(f"{time.perf_counter() - start:.0f} s", style="dim")


if __name__ == "__main__":
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    main()
