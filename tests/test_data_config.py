"""Data specs: "sample", a COCO .json, an Ultralytics-like data YAML (relative paths, shorthand, schema
overrides) and clear ConfigErrors for bad YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.datasets.data_config import DataConfig, resolve_data
from posekit.datasets.schema import get_preset
from posekit.errors import ConfigError
from posekit.samples import locate


def _yaml(folder: Path, text: str) -> Path:
    path = folder / "data.yaml"
    path.write_text(text)
    return path


def test_json_spec(shared_data: Path) -> None:
    path = shared_data / "coco/test_coco.json"
    config = resolve_data(path)
    assert config.train == config.val and config.train.json_path == path and config.source == path
    assert config.load_split("val").schema.name == "coco17"
    with pytest.raises(ConfigError, match="'train' or 'val'"):
        config.load_split("test")


def test_yaml_relative_paths_and_overrides(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data.resolve()
    path = _yaml(
        tmp_path,
        f"path: {root}\n"
        "train: {json: coco/test_coco.json, images: coco}\n"
        "val: onehand10k/test_onehand10k.json\n"
        "schema: {sigmas: [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05,"
        " 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]}\n",
    )
    config = resolve_data(path)
    assert config.train.json_path == root / "coco/test_coco.json" and config.train.images == root / "coco"
    assert config.val.images is None  # found next to the JSON
    train = config.load_split("train")
    assert train.schema.sigmas == [0.05] * 17 and train.schema.names == get_preset("coco17").names
    with pytest.raises(ConfigError, match="sigmas has 17 values but there are 21"):
        config.load_split("val")  # the override does not fit the hand file


def test_yaml_relative_to_its_folder_and_named_schema(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "ann.json").write_text((shared_data / "ap10k/test_ap10k.json").read_text())
    path = _yaml(
        tmp_path,
        f"val: {{json: ann.json, images: {shared_data / 'ap10k'}}}\n"
        "schema: {preset: coco17, name: renamed}\n",
    )
    config = resolve_data(tmp_path)  # a folder with data.yaml
    assert config.train is None and config.val.json_path == tmp_path / "ann.json" and config.source == path
    ds = config.load_split("val")
    assert ds.schema.name == "renamed" and ds.schema.names[0] == "nose"
    with pytest.raises(ConfigError, match="has no 'train' split"):
        config.load_split("train")
    names = [f"j{i}" for i in range(15)] + ["left_paw", "right_paw"]
    _yaml(
        tmp_path,
        f"val: {{json: ann.json, images: {shared_data / 'ap10k'}}}\nschema:\n  names: ["
        + ", ".join(names)
        + "]\n",
    )
    assert resolve_data(path).load_split("val").schema.flip_pairs == [(15, 16)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train: [unclosed\n", "invalid YAML at line 2"),
        ("- a\n- b\n", "must be a mapping"),
        ("trian: a.json\n", "line 1: unknown key 'trian'; did you mean 'train'?"),
        ("train: {images: x}\n", "train.json: Field required"),
        ("train: a.json\nschema: {preset: coco18}\n", "unknown preset 'coco18'"),
        ("schema: {preset: coco17}\n", "names no split"),
        ("train: a.json\nwholebody: maybe\n", "wholebody"),
    ],
)
def test_bad_yaml(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")) as caught:
        resolve_data(_yaml(tmp_path, text))
    assert str(tmp_path / "data.yaml") in str(caught.value)


def test_bad_specs(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        resolve_data(tmp_path / "missing.json")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ConfigError, match="neither a .json nor a .yaml"):
        resolve_data(tmp_path / "x.txt")
    with pytest.raises(ConfigError, match="--images applies to a .json only"):
        resolve_data(_yaml(tmp_path, "train: a.json\n"), images=tmp_path)


def test_sample_spec(monkeypatch: pytest.MonkeyPatch, sample_data: Path) -> None:
    monkeypatch.setattr("posekit.samples.sample_images.sample_data_path", lambda: sample_data)
    config = resolve_data(locate("sample"))
    assert isinstance(config, DataConfig) and config.source == sample_data
    assert resolve_data(config) is config
    assert len(config.load_split("val").images) == 8


def test_first_hour_yaml_mistakes_name_the_file_line_and_key(tmp_path: Path, shared_data: Path) -> None:
    """A typo in a key, a wrong image folder and a schema that does not fit the data: one message each,
    naming the YAML (once), its line and the key to fix."""
    cases = {
        "val: a.json\nvall: b.json\n": "line 2: unknown key 'vall'; did you mean 'val'?",
        "val: {json: a.json, imags: x}\n": "line 1: unknown key 'imags' in `val:`; did you mean 'images'?",
        "val: a.json\nschema: {presset: coco17}\n": "'presset' in `schema:`; did you mean 'preset'?",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigError, match=message) as caught:
            resolve_data(_yaml(tmp_path, text))
        text = str(caught.value)
        assert text.count(str(tmp_path / "data.yaml")) == 1 and "Extra inputs" not in text
    hand = shared_data / "onehand10k" / "test_onehand10k.json"
    config = resolve_data(_yaml(tmp_path, f"val: {{json: {hand}, images: {tmp_path / 'nowhere'}}}\n"))
    with pytest.raises(ConfigError, match=r"data.yaml, line 1: `val: images:` .*nowhere is not") as caught:
        config.load_split("val")
    assert "--images" not in str(caught.value)
    config = resolve_data(_yaml(tmp_path, f"val: {hand}\nschema:\n  preset: coco17\n"))
    with pytest.raises(ConfigError) as caught:
        config.load_split("val")
    assert str(caught.value).startswith(f"{tmp_path / 'data.yaml'}, line 2: `schema:` does not fit")
    assert "(coco17) has 17 keypoints but" in str(caught.value)
    assert "has 21 (wrist, thumb1, thumb2, ...)" in str(caught.value)
