"""benchmarks/gpu.py runs end to end on the CPU with --dry-run (no GPU is lent to this project's tests)."""

from __future__ import annotations

import importlib.util

from helpers import REPO


def test_gpu_benchmark_dry_run_prints_every_table(capsys):
    spec = importlib.util.spec_from_file_location("gpu_benchmark", REPO / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--dry-run"])
    out = capsys.readouterr().out
    assert "Training, CPU (dry run)" in out and "GPU waiting for data" in out and "vitpose-t" in out
    assert "Inference crops/s" in out and "batch 2" in out
    assert "Video: " in out and "frames/s" in out
