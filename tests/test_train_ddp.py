"""Distributed data parallel on CPU: ``torchrun --nproc_per_node 2`` (gloo) runs the same engine; the two
processes train on different samples and end with identical weights (the ones saved)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import TINY_TRAIN
from safetensors.torch import load_file

from posekit.datasets.data_config import resolve_data
from posekit.topdown.training_dataset import TopDownDataset

pytestmark = pytest.mark.slow  # training runs / several processes: not in the fast lane

WORKER = """
import json, sys
import torch
from posekit.settings import build_config
from posekit.engine import train as engine
from posekit.tasks.train import run_folder

settings, out = json.loads(sys.argv[1]), sys.argv[2]
seen = []
step = engine.Trainer.train_step


def spy(self, batch, epoch=0, index=0):
    seen.extend(int(a) for a in batch["annotation_id"])
    return step(self, batch, epoch, index)


engine.Trainer.train_step = spy
trainer = engine.Trainer(build_config(**settings), run_folder=run_folder)
summary = trainer.fit()
torch.save(
    {"seen": seen, "world": trainer.world, "net": trainer.unwrapped.net.state_dict(), "summary": summary},
    f"{out}/rank{trainer.rank}.pt",
)
"""


def test_two_processes_share_the_data_and_agree_on_the_weights(sample_data: Path, tmp_path: Path) -> None:
    settings = {
        **TINY_TRAIN,
        "data": str(sample_data),
        "freeze_backbone_epochs": 0,
        "project": str(tmp_path / "runs"),
    }
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(script),
            json.dumps(settings),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    assert [r["world"] for r in ranks] == [2, 2]

    train = TopDownDataset(resolve_data(str(sample_data)).load_split("train"))
    people = {p.annotation_id for p in train.people}
    seen = [set(r["seen"]) for r in ranks]
    assert seen[0] and seen[1] and len(seen[0] & seen[1]) <= 1  # at most the one sample that pads the epoch
    assert seen[0] | seen[1] == people

    a, b = ranks[0]["net"], ranks[1]["net"]
    assert all(torch.equal(a[k], b[k]) for k in a), "DDP keeps the replicas identical"
    runs = list((tmp_path / "runs" / "train").iterdir())
    assert len(runs) == 1, "only the main process creates the run folder"
    saved = load_file(runs[0] / "weights" / "last" / "model.safetensors")
    assert all(torch.equal(saved[k], a[k]) for k in saved)
    assert ranks[0]["summary"]["best_ap"] == ranks[1]["summary"]["best_ap"], "validation is shared"
