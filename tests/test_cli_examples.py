"""The "try this" examples: ``posekit`` alone lists them, each command's ``--help`` shows its own, every one
parses, and all but ``posekit train`` (minutes; benchmarks/train.py runs it) run as printed, the ones
that need a trained model on a tiny model where ``posekit train`` would have put it."""

from __future__ import annotations

import importlib.util
import shlex
import shutil

import pytest
import typer

from posekit.cli.app import app
from posekit.cli.examples import EXAMPLES, TRAINED


def _flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines at spaces


def test_posekit_alone_lists_every_example(run_cli) -> None:
    _, out = run_cli()
    assert "Usage:" in out and "Try this" in out
    assert all(line in _flat(out) for line, _ in EXAMPLES.values())


@pytest.mark.parametrize("command", list(EXAMPLES))
def test_each_help_shows_its_example_which_parses(command, run_cli) -> None:
    line, what = EXAMPLES[command]
    code, out = run_cli(command, "--help")
    assert code == 0 and f"Try: {line}" in _flat(out) and _flat(what) in _flat(out)
    args = shlex.split(line)
    assert args[:2] == ["posekit", command]
    group = typer.main.get_command(app)
    parent = group.make_context("posekit", args[1:2])
    group.get_command(parent, command).make_context(
        command, args[2:], parent=parent
    )  # raises if it does not parse


@pytest.mark.slow
def test_examples_run_as_printed(tmp_path, tiny_model_dir, run_cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_model_dir, tmp_path / TRAINED)  # what `posekit train` leaves there
    for command, (line, _) in EXAMPLES.items():
        if command == "train" or (command == "export" and importlib.util.find_spec("onnx") is None):
            continue
        code, out = run_cli(*shlex.split(line)[1:])
        assert code == 0, f"{line}\n{out[-2000:]}"
    assert (tmp_path / "runs/val/exp/metrics.json").is_file()
    assert len(list((tmp_path / "runs/predict/exp").glob("*.jpg"))) == 50  # the sample's val images
    assert (tmp_path / "yolo_sample/data.yaml").is_file()
