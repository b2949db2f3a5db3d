"""README's "Your own data: the first hour" works as printed on data posekit never generated: check, train
(one epoch added: the recipe's schedule takes minutes), val and predict, in a folder laid out as the
section's data YAML says."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _section() -> str:
    start = README.index("## Your own data: the first hour")
    return README[start : README.index("\n## ", start + 1)]


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", _section(), re.S)


def _own_data(tmp_path: Path) -> None:
    """The quadruped set of benchmarks/own_data.py, laid out as the README's data YAML names it."""
    spec = importlib.util.spec_from_file_location("own_data", REPO / "benchmarks" / "own_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    generated = tmp_path / "generated"
    module.generate("quadruped", generated, seed=3, splits={"train": 12, "val": 4})
    layout = yaml.safe_load(_blocks("yaml")[0])
    for split in ("train", "val"):  # the generator writes {split}.json and images/{split}/
        coco = json.loads((generated / f"{split}.json").read_text())
        images = tmp_path / layout[split]["images"]
        images.mkdir(parents=True)
        for image in coco["images"]:
            (images / image["file_name"]).write_bytes(
                (generated / "images" / split / image["file_name"]).read_bytes()
            )
        (tmp_path / layout[split]["json"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / layout[split]["json"]).write_text(json.dumps(coco))
    (tmp_path / "data.yaml").write_text(_blocks("yaml")[0])


@pytest.mark.slow
def test_the_first_hour_runs_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:
    _own_data(tmp_path)
    monkeypatch.chdir(tmp_path)
    lines = [line for line in _blocks("bash")[0].splitlines() if line.strip()]
    assert [shlex.split(line)[1] for line in lines] == ["check", "train", "val", "predict"]
    for line in lines:
        args = shlex.split(line)[1:]
        if args[0] == "train":
            args += ["--epochs", "1"]
        code, out = run_cli(*args)
        assert code == 0, f"{line}\n{out}"
        if args[0] == "train":
            assert "from scratch" in out.lower()  # the banner names the recipe
    assert (tmp_path / "runs" / "val" / "exp" / "report.html").is_file()
    records = json.loads((tmp_path / "runs" / "predict" / "exp" / "predictions.json").read_text())
    assert records and all(r["file"].endswith(".jpg") for r in records)
