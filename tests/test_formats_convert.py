"""`posekit convert` and `posekit.convert`: the verb, the output folder's rules, format names, chains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import posekit
from posekit.datasets.formats import convert
from posekit.errors import ConfigError
from posekit.tasks.check import check


def test_cli_converts_and_reports(tiny_sample: Path, tmp_path: Path, run_cli) -> None:
    code, output = run_cli("convert", tiny_sample, tmp_path / "y", "--from", "coco", "--to", "yolo")
    assert code == 0, output
    assert "train: 4 image(s), 10 people" in output and "Lost:" in output
    assert f"Next: posekit check {tmp_path / 'y' / 'data.yaml'}" in " ".join(output.split())
    report = json.loads((tmp_path / "y" / "conversion.json").read_text())
    assert report["target_format"] == "yolo" and report["splits"]["val"]["people"] == 8


def test_cli_error_is_one_message(tiny_sample: Path, tmp_path: Path, run_cli) -> None:
    code, output = run_cli("convert", tiny_sample, tmp_path / "x", "--from", "coco", "--to", "cvat")
    assert code == 1 and "Traceback" not in output
    assert "--to 'cvat' is not one of coco, yolo (CVAT and Label Studio are read only" in " ".join(
        output.split()
    )


def test_output_folder_rules(tiny_sample: Path, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="exists and is not empty"):
        convert(tiny_sample, busy, "coco", "yolo")
    with pytest.raises(ConfigError, match="replaces only a folder written by `posekit convert`"):
        convert(tiny_sample, busy, "coco", "yolo", overwrite=True)
    assert (busy / "mine.txt").read_text() == "keep me"
    convert(tiny_sample, tmp_path / "y", "coco", "yolo")
    convert(tiny_sample, tmp_path / "y", "coco", "yolo", kpt_dims=2, overwrite=True)  # an earlier conversion
    assert yaml.safe_load((tmp_path / "y" / "data.yaml").read_text())["kpt_shape"] == [17, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "y"]  # no temporary folder left


def test_wrong_source_format_is_named(tiny_sample: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an Ultralytics pose data YAML"):
        convert(tiny_sample, tmp_path / "a", "yolo")
    convert(tiny_sample, tmp_path / "y", "coco", "yolo")
    with pytest.raises(ConfigError, match="pass --from yolo"):
        convert(tmp_path / "y" / "data.yaml", tmp_path / "b", "coco", "yolo")
    with pytest.raises(ConfigError, match="--from 'voc' is not one of coco, yolo, cvat, label-studio"):
        convert(tiny_sample, tmp_path / "c", "voc")


def test_coco_output_can_hold_its_images(tiny_sample: Path, tmp_path: Path) -> None:
    convert(tiny_sample, tmp_path / "y", "coco", "yolo")
    convert(tmp_path / "y" / "data.yaml", tmp_path / "c", "ultralytics", "coco", copy_images=True)
    assert (tmp_path / "c" / "images" / "train" / "000001.jpg").is_file()
    assert yaml.safe_load((tmp_path / "c" / "data.yaml").read_text())["train"]["images"] == "images/train"
    assert check(tmp_path / "c" / "data.yaml").ok


def test_python_api(tmp_path: Path) -> None:
    report = posekit.convert("sample", tmp_path / "y", from_format="coco", to_format="yolo")
    assert (tmp_path / "y" / "data.yaml").is_file() and (tmp_path / "y" / "conversion.json").is_file()
    assert "data.yaml" in report.output
