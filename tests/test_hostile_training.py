"""Training that must not report success: a resume on changed or other data, two resumes at once, a
diverging run, a val split with nothing to score."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import TINY_TRAIN

import posekit
from posekit.engine.checkpoint import lock_run
from posekit.errors import ConfigError, PosekitError

pytestmark = pytest.mark.slow  # training runs: not in the fast lane


def _project_data(tiny_sample: Path, folder: Path) -> Path:
    """A copy of the tiny sample (its data YAML names its files relative to itself)."""
    shutil.copytree(tiny_sample.parent, folder)
    return folder / "data.yaml"


def test_resume_refuses_changed_data_and_names_the_difference(
    tiny_sample: Path, tmp_path: Path, monkeypatch
) -> None:
    data = _project_data(tiny_sample, tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    run = posekit.train(data="data.yaml", project=str(tmp_path / "runs"), **TINY_TRAIN).run_dir
    assert f"data: {data.resolve()}" in (Path(run) / "args.yaml").read_text()  # absolute: any directory
    # from another working directory that holds another data.yaml, the run still finds its own data
    _project_data(tiny_sample, tmp_path / "other")
    (tmp_path / "other" / "train.json").write_text("not the run's data")
    monkeypatch.chdir(tmp_path / "other")
    assert posekit.train(resume=run).epochs == 1
    # the data edited in place (12 people -> 1): refused with the difference, unless allowed
    coco = json.loads((data.parent / "train.json").read_text())
    before = sum(not a.get("iscrowd") for a in coco["annotations"])
    coco["annotations"] = [a for a in coco["annotations"] if not a.get("iscrowd")][:1]
    (data.parent / "train.json").write_text(json.dumps(coco))
    with pytest.raises(ConfigError, match="changed since the run started") as refused:
        posekit.train(resume=run)
    assert f"train people: {before} -> 1" in str(refused.value) and "--allow-data-change" in str(
        refused.value
    )
    assert posekit.train(resume=run, allow_data_change=True).epochs == 1


def test_a_run_folder_is_trained_by_one_process_at_a_time(tmp_path: Path) -> None:
    held = lock_run(tmp_path)
    with pytest.raises(ConfigError, match=f"{tmp_path} is being trained by process \\d+; wait for it"):
        lock_run(tmp_path)
    held.close()
    lock_run(tmp_path).close()  # free again once the first one ends


def test_a_diverging_run_says_so(tiny_sample: Path, tmp_path: Path) -> None:
    settings = {**TINY_TRAIN, "batch_size": 2, "epochs": 2, "lr": 1e12, "warmup": 0}
    with pytest.raises(PosekitError, match=r"training diverged at step \d+ \(loss NaN\): lower --lr"):
        posekit.train(data=str(tiny_sample), project=str(tmp_path), **settings)


def test_a_val_split_without_labelled_keypoints_names_no_best_weights(
    tiny_sample: Path, tmp_path: Path, capsys
) -> None:
    data = _project_data(tiny_sample, tmp_path / "project")
    coco = json.loads((data.parent / "val.json").read_text())
    for person in coco["annotations"]:
        person["keypoints"] = [0] * len(person["keypoints"])
        person["num_keypoints"] = 0
    (data.parent / "val.json").write_text(json.dumps(coco))
    summary = posekit.train(data=str(data), project=str(tmp_path / "runs"), verbose=True, **TINY_TRAIN)
    output = " ".join(capsys.readouterr().out.split())
    assert summary.best is None and not (summary.run_dir / "weights" / "best").exists()
    assert "Best AP" not in output and "No AP: the val split has no person with a labelled keypoint" in output
