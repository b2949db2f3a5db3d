"""Two posekit jobs on one machine: a tiny training alone, then two of them at once, per OpenMP setting.

The torch CPU wheel runs its threads on GNU OpenMP (libgomp), whose threads spin about 3 ms (300,000
iterations) at every barrier before they sleep when ``OMP_WAIT_POLICY`` is not set. Alone that saves a
few microseconds per parallel region; with another CPU-heavy process on the same cores the spinning
threads burn the time slices the other process's threads need, and both crawl. ``import posekit`` sets
``GOMP_SPINCOUNT=1000`` (spin about 10 us, then sleep) unless the user set a policy; this script measures
it against the default, passive waiting (sleep at once) and a longer spin. Each job is a subprocess
training ViTPose-T at 128x96 (the sample preset) for a fixed number of steps on a generated sample; the
time is the training's own (``train_time_s``: no imports).

    python benchmarks/shared_machine.py            # 2 epochs of a 64-image sample, each setting twice
    python benchmarks/shared_machine.py --quick    # 1 epoch of 32 images, once

"slowdown" = time with two jobs at once / time alone: 2.0 is a fair half of the machine each.
Run it on a quiet machine: the 1-minute load average is printed before each setting.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

#: name -> environment of the jobs. GOMP_SPINCOUNT=300000 is libgomp's default spin when no wait policy
#: is set (posekit then leaves the environment alone, so the jobs run as before the change).
SETTINGS: dict[str, dict[str, str]] = {
    "OpenMP default: spin 3 ms": {"GOMP_SPINCOUNT": "300000"},
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin 0.1 ms": {"GOMP_SPINCOUNT": "10000"},
    "spin 10 us (posekit)": {"GOMP_SPINCOUNT": "1000", "KMP_BLOCKTIME": "0"},
    "PASSIVE, 1 thread": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"},
}
_CLEARED = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def worker(data: str, project: str, name: str, epochs: int) -> None:
    """One job: train and print the training time as JSON (run in a subprocess)."""
    import posekit

    summary = posekit.train(
        data=data,
        model="vitpose-t",
        pretrained="none",
        input_size="128x96",
        epochs=epochs,
        batch_size=8,
        lr=2e-3,
        workers=0,
        project=project,
        name=name,
    )
    print(json.dumps({"train_time_s": summary.train_time_s}))


def run_jobs(count: int, env: dict[str, str], data: Path, project: Path, epochs: int) -> list[float]:
    """Start ``count`` jobs at once; their training times."""
    base = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    jobs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(data), str(project), f"job{i}", str(epochs)],
            env={**base, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(count)
    ]
    times = []
    for job in jobs:
        out, _ = job.communicate()
        if job.returncode:
            raise SystemExit(f"a job failed (exit {job.returncode}); run it alone to see why")
        times.append(json.loads(out.strip().splitlines()[-1])["train_time_s"])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        data, project, name, epochs = args.worker
        worker(data, project, name, int(epochs))
        return
    from posekit.samples.sample_images import generate_sample

    repeats = args.repeats or (1 if args.quick else 2)
    epochs, images = (1, 32) if args.quick else (2, 64)
    console = Console()
    table = Table(title=f"Tiny training ({epochs} epoch(s) of {images} images), {os.cpu_count()} CPUs")
    for column in ("setting", "load", "alone (s)", "two at once (s)", "slowdown"):
        table.add_column(column, justify="left" if column == "setting" else "right")
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_sample(Path(tmp) / "data", num_train=images, num_val=images // 4, seed=0)
        for repeat in range(repeats):
            for label, env in SETTINGS.items():
                load = os.getloadavg()[0]
                start = time.time()
                alone = run_jobs(1, env, data, Path(tmp) / "runs", epochs)[0]
                both = run_jobs(2, env, data, Path(tmp) / "runs", epochs)
                slowdown = statistics.mean(both) / alone
                table.add_row(
                    f"{label}" + (f" (run {repeat + 1})" if repeats > 1 else ""),
                    f"{load:.2f}",
                    f"{alone:.1f}",
                    ", ".join(f"{t:.1f}" for t in both),
                    f"{slowdown:.2f}x",
                )
                console.print(f"{label}: {slowdown:.2f}x ({time.time() - start:.0f} s)")
    console.print(table)


if __name__ == "__main__":
    main()
