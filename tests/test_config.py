"""TrainConfig: validation messages name the flag and the allowed values; YAML and flags merge in order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from posekit.errors import ConfigError
from posekit.settings import TrainConfig, build_config


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"amp": "fp8"}, "--amp: invalid value 'fp8'; allowed values: bf16, fp16 or no"),
        ({"input_size": "256by192"}, "--input-size: invalid value '256by192'; expected HxW"),
        ({"input_size": "250x192"}, "multiples of 16"),
        ({"batch_size": "big"}, "--batch-size: invalid value 'big'; expected a positive integer or 'auto'"),
        ({"batch_size": 0}, "--batch-size"),
        ({"schedule": "poly"}, "--schedule: invalid value 'poly'; allowed values: cosine, step or constant"),
        ({"device": "tpu"}, "allowed values: cpu, cuda or auto"),
        ({"epochs": 0}, "--epochs: invalid value 0; must be greater than or equal to 1"),
        ({"lrr": 0.1}, "--lrr: unknown option; valid options: --data, --model"),
        ({"model": "vitpose-xxl"}, "--model: invalid value 'vitpose-xxl'; expected a preset"),
    ],
)
def test_invalid_values_give_one_message_naming_the_flag(settings: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_config(data="x.json", **settings)
    message = str(info.value)
    assert expected in message
    assert message.count("\n") == 0, "one value, one line"


def test_unknown_preset_lists_the_presets() -> None:
    from posekit.models.presets import PRESETS

    with pytest.raises(ConfigError) as info:
        build_config(model="vitpose-xxl")
    assert all(name in str(info.value) for name in PRESETS)


def test_sizes_and_batch_parse() -> None:
    cfg = build_config(data="x.json", input_size="256x192", batch_size="auto")
    assert cfg.input_size == (256, 192) and cfg.batch_size == "auto"
    assert build_config(data="x.json", batch_size="8").batch_size == 8
    assert build_config(data="x.json", input_size=[128, 96]).input_size == (128, 96)


def test_settings_do_not_depend_on_the_data() -> None:
    """The recipe is chosen from what the engine loads, not from the data: the settings leave it unset."""
    for data in (None, "sample", "my.yaml"):
        cfg = build_config(data=data)
        assert (cfg.model, cfg.pretrained, cfg.lr, cfg.epochs, cfg.optimizer, cfg.batch_size) == (None,) * 6
    assert build_config(epochs=3).epochs == 3


def test_yaml_then_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("data: my.yaml\nepochs: 7\ninput-size: 192x144\nlr: 0.001\n")
    cfg = build_config(path, epochs=3, lr=None)
    assert (cfg.data, cfg.epochs, cfg.input_size, cfg.lr) == ("my.yaml", 3, (192, 144), 0.001)


def test_yaml_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: my.yaml\namp: fp4\n")
    with pytest.raises(ConfigError, match=r"--amp: invalid value 'fp4' \(in .*bad.yaml\)"):
        build_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        build_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        build_config(tmp_path / "list.yaml")


def test_args_yaml_round_trips(tmp_path: Path) -> None:
    cfg = build_config(data="d.yaml", model="vitpose-s", input_size="256x192", lr=1e-4, ema=True)
    path = tmp_path / "args.yaml"
    path.write_text(cfg.to_yaml())
    assert yaml.safe_load(path.read_text())["input_size"] == "256x192"
    assert build_config(path) == cfg


def test_every_field_documents_itself() -> None:
    assert all(info.description for info in TrainConfig.model_fields.values())


@pytest.mark.parametrize(
    "flags",
    [["--amp", "fp8"], ["--input-size", "256"], ["--model", "vitpose-xxl"], ["--batch-size", "-4"]],
)
def test_cli_config_error_exits_1_with_one_message(
    flags: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from posekit.cli.app import main

    monkeypatch.setattr(sys, "argv", ["posekit", "train", *flags, "--project", str(tmp_path)])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    assert info.value.code == 1
    assert err.startswith("Error: " + flags[0]) and "Traceback" not in err
    assert not (tmp_path / "train").exists(), "nothing is created before the settings are valid"


@pytest.mark.slow
def test_cli_error_has_no_traceback_end_to_end(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "posekit.cli.app", "train", "--amp", "fp8", "--project", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr + run.stdout
    assert "--amp: invalid value 'fp8'" in run.stderr
