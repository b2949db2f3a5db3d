"""``posekit val`` and ``posekit predict`` under ``torchrun --nproc_per_node 2`` (gloo, CPU): each process
takes a block of the people, images or video frames, and the merged run folder equals a single-process
run's byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets.image_reader import read_image
from posekit.distributed import PARTS_DIR, Shard
from posekit.errors import ConfigError
from posekit.inference.shard import split_source
from posekit.inference.sources import resolve_source
from posekit.inference.video import VideoReader, VideoWriter
from posekit.inference.writer import _file_names

#: Runs ``posekit`` once per argument list in one process, as the console script does.
WORKER = """
import json, sys
from posekit.cli.app import main

for args in json.loads(sys.argv[1]):
    sys.argv = ["posekit", *args]
    try:
        main()
    except SystemExit as stop:
        if stop.code:
            raise
"""


@pytest.mark.parametrize(
    ("count", "unit", "world", "blocks"),
    [
        (10, 3, 2, [(0, 6), (6, 10)]),  # 4 batches: 2 + 2, the last one short
        (10, 3, 3, [(0, 3), (3, 6), (6, 10)]),
        (2, 1, 4, [(0, 0), (0, 1), (1, 1), (1, 2)]),  # more processes than items: some get none
        (7, 4, 1, [(0, 7)]),
    ],
)
def test_blocks_are_whole_batches_in_order(count, unit, world, blocks) -> None:
    got = [Shard(rank, world).block(count, unit) for rank in range(world)]
    assert [(r.start, r.stop) for r in got] == blocks


def test_tracking_and_webcams_are_not_split(tmp_path) -> None:
    video = tmp_path / "clip.mp4"
    with VideoWriter(video, 10.0, (32, 48)) as writer:
        for _ in range(5):
            writer.write(np.zeros((32, 48, 3), np.uint8))
    src = resolve_source(video)
    assert split_source(src, Shard(), 2, sequential=True) is src  # one process: everything
    first, last = split_source(src, Shard(0, 2), 2, False), split_source(src, Shard(1, 2), 2, False)
    assert (first.start, first.stop) == (0, 2)
    assert (last.start, last.stop) == (2, None)  # the last part reads on to the end
    assert [f.index for f in first] + [f.index for f in last] == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="tracking, smoothing .* cannot be split between 2 processes"):
        split_source(src, Shard(0, 2), 2, sequential=True)
    with pytest.raises(ConfigError, match="frames source .* cannot be split"):  # an iterator: read once
        split_source(resolve_source(iter([np.zeros((8, 8, 3), np.uint8)])), Shard(0, 2), 2, False)


def test_drawn_image_names_do_not_depend_on_the_other_images_read(tmp_path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for name in ("x.png", "y.tif"):
            (tmp_path / folder / name).write_bytes(b"")
    files = [tmp_path / f / n for f in ("a", "b") for n in ("x.png", "y.tif")]
    assert _file_names(resolve_source(files)) == ["x.png", "y.jpg", "x_2.png", "y_3.jpg"]


def _posekit(commands: list[list[str]], cwd: Path, processes: int) -> None:
    script = cwd / "worker.py"
    script.write_text(WORKER)
    launch = [sys.executable]
    if processes > 1:
        launch += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same kernels in both runs
    run = subprocess.run(
        [*launch, str(script), json.dumps(commands)], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


@pytest.mark.slow  # two torchrun processes
def test_two_processes_write_what_one_writes(sample_data: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    root = sample_data.parent
    video = tmp_path / "clip.mp4"
    with VideoWriter(video, 10.0, (240, 320)) as writer:
        for image in sorted((root / "images" / "val").glob("*.jpg")):
            writer.write(read_image(image))
    model, images = str(tiny_model_dir), str(root / "images" / "val")
    commands = [  # fmt: skip
        ["val", "--model", model, "--data", str(sample_data), "--batch-size", "4", "--worst", "0"],
        ["predict", "--model", model, "--source", images, "--boxes", str(root / "val.json"),
         "--batch-size", "3"],
        ["predict", "--model", model, "--source", str(video), "--boxes", "full", "--batch-size", "3"],
    ]
    for processes in (1, 2):
        (tmp_path / str(processes)).mkdir()
        _posekit(commands, tmp_path / str(processes), processes)
    one, two = tmp_path / "1" / "runs", tmp_path / "2" / "runs"
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file()) == files
    assert not list(two.rglob(PARTS_DIR)), "the parts are removed once merged"
    people = json.loads((one / "val" / "exp" / "predictions.json").read_text())
    assert len(people) > 8, "more people than 2 batches of 4: both processes predicted some"
    for name in ("val/exp/predictions.json", "predict/exp/predictions.json", "predict/exp2/predictions.json",
                 "predict/exp2/predictions.jsonl"):  # fmt: skip
        assert (two / name).read_bytes() == (one / name).read_bytes(), name
    assert (
        json.loads((two / "val/exp/metrics.json").read_text())["coco"]
        == json.loads((one / "val/exp/metrics.json").read_text())["coco"]
    )
    drawn = sorted(p.name for p in (one / "predict" / "exp").glob("*.jpg"))
    assert len(drawn) == 8 and all(
        (two / "predict/exp" / n).read_bytes() == (one / "predict/exp" / n).read_bytes() for n in drawn
    )
    assert VideoReader(two / "predict/exp2/clip.mp4").num_frames == 8
