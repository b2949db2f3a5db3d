"""Hostile and damaged files: every JSON reader, weights, training states and a full disk end in one
message naming the file, what is wrong and the fix (exit 1), never a traceback, and nothing is lost."""

from __future__ import annotations

import errno
import json
import shutil
import struct
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError

from posekit.datasets.json_file import load_json, parse_json, read_json
from posekit.errors import DataError, ModelError, PosekitError

DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE_JSON = {
    "deep": (DEEP, "nested too deeply"),
    "huge_int": ('{"images": [{"id": ' + "9" * 5000 + "}]}", "does not fit in 64 bits"),
    "big_int": ('[{"image_id": 123456789012345678901234567890}]', "does not fit in 64 bits"),
    "huge_float": ('[{"image_id": 1, "score": 1e999}]', "too large for a 64-bit float"),
    "empty": ("", "is empty"),
    "blank": (" \n\t", "is empty"),
    "latin1": (b'{"name": "\xe9t\xe9"}', "not UTF-8"),
}


# ---------------------------------------------------------------------------------------------- the reader
@pytest.mark.parametrize("case", list(HOSTILE_JSON))
def test_json_reader_refuses_hostile_text_with_one_problem(tmp_path: Path, case: str) -> None:
    text, problem = HOSTILE_JSON[case]
    path = tmp_path / "x.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    data, found = read_json(path)
    assert data is None and found is not None
    assert problem in found[0] and found[1]
    with pytest.raises(DataError, match=f"annotations {path}: .*{problem}.* Fix: "):
        load_json(path, "annotations")


def test_json_reader_says_where_a_refused_number_is() -> None:
    _, problem = parse_json('{"a": 1,\n "b": 1e400}')
    assert (
        problem is not None
        and problem[0] == "the number 1e400 is too large for a 64-bit float at b (line 2, column 7)"
    )


def test_json_reader_keeps_valid_json_and_its_literals() -> None:
    text = '\ufeff{"id": 9223372036854775807, "x": -1.5e300, "v": NaN, "s": "\\u00e9"}'
    data, problem = parse_json(text.encode("utf-8"))  # with a UTF-8 byte-order mark
    assert problem is None
    assert data["id"] == 2**63 - 1 and data["x"] == -1.5e300 and data["s"] == "é"
    assert data["v"] != data["v"]  # NaN stays readable: the records' checks name the field
    assert parse_json(json.dumps({"a": 1}).encode("utf-16"))[0] == {"a": 1}


def test_json_reader_names_folders_and_broken_links(tmp_path: Path) -> None:
    assert read_json(tmp_path)[1][0] == "is a folder, not a file"
    (tmp_path / "link.json").symlink_to(tmp_path / "gone.json")
    assert read_json(tmp_path / "link.json")[1][0] == "is a broken link"
    assert read_json(tmp_path / "missing.json")[1][0] == "does not exist"


# ---------------------------------------------------------------------------------------------- every reader
def _coco_case(tmp_path: Path, text: str) -> tuple[list, str]:
    path = tmp_path / "ann.json"
    path.write_text(text)
    return ["check", path], str(path)


def _results_case(tmp_path: Path, text: str, tiny_sample: Path) -> tuple[list, str]:
    path = tmp_path / "results.json"
    path.write_text(text)
    return ["val", "--data", tiny_sample, "--predictions", path, "--project", tmp_path / "runs"], str(path)


def _sigmas_case(tmp_path: Path, text: str, tiny_sample: Path) -> tuple[list, str]:
    path = tmp_path / "sigmas.json"
    path.write_text(text)
    results = tmp_path / "results.json"
    results.write_text("[]")
    args = ["val", "--data", tiny_sample, "--predictions", results, "--sigmas", path, "--project", tmp_path]
    return args, str(path)


def _boxes_case(tmp_path: Path, text: str, tiny_sample: Path, tiny_model_dir: Path) -> tuple[list, str]:
    path = tmp_path / "boxes.json"
    path.write_text(text)
    image = next((tiny_sample.parent / "images" / "val").iterdir())
    args = ["predict", "--model", tiny_model_dir, "--source", image, "--boxes", path, "--project", tmp_path]
    return args, str(path)


@pytest.mark.parametrize("reader", ["annotations", "results", "sigmas", "boxes"])
@pytest.mark.parametrize("case", ["deep", "huge_int", "huge_float", "empty"])
def test_every_json_the_cli_reads_refuses_hostile_text(
    tmp_path, tiny_sample, tiny_model_dir, run_cli, reader: str, case: str
) -> None:
    text, problem = HOSTILE_JSON[case]
    args, path = {
        "annotations": lambda: _coco_case(tmp_path, text),
        "results": lambda: _results_case(tmp_path, text, tiny_sample),
        "sigmas": lambda: _sigmas_case(tmp_path, text, tiny_sample),
        "boxes": lambda: _boxes_case(tmp_path, text, tiny_sample, tiny_model_dir),
    }[reader]()
    code, output = run_cli(*args)
    assert code == 1, output
    assert path in " ".join(output.split()) and problem in output
    assert "Traceback" not in output


def test_sigma_file_that_is_not_utf8_is_named(tmp_path, tiny_sample, run_cli) -> None:
    (tmp_path / "sigmas.json").write_bytes(b'{"sigmas": [0.1], "note": "\xff\xfe"}')
    (tmp_path / "results.json").write_text("[]")
    code, output = run_cli(
        "val", "--data", tiny_sample, "--predictions", tmp_path / "results.json",
        "--sigmas", tmp_path / "sigmas.json", "--project", tmp_path,
    )  # fmt: skip
    assert code == 1 and "--sigmas file" in output and "not UTF-8" in output


# ---------------------------------------------------------------------------------------------- model files
def _copy_model(tiny_model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def _header(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _absurd_tensor(path: Path) -> None:
    header, body = _header(path)
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [10**12, 10**6]
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)


DAMAGED_WEIGHTS = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "absurd header length": lambda p: p.write_bytes(struct.pack("<Q", 2**62) + p.read_bytes()[8:]),
    "absurd tensor size": _absurd_tensor,
    "empty": lambda p: p.write_bytes(b""),
}


@pytest.mark.parametrize("damage", list(DAMAGED_WEIGHTS))
def test_damaged_safetensors_is_one_message(tmp_path, tiny_model_dir, tiny_sample, run_cli, damage) -> None:
    model = _copy_model(tiny_model_dir, tmp_path)
    DAMAGED_WEIGHTS[damage](model / "model.safetensors")
    code, output = run_cli("val", "--model", model, "--data", tiny_sample, "--project", tmp_path / "runs")
    text = " ".join(output.split())
    assert code == 1, output
    assert f"{model / 'model.safetensors'}: damaged weights file" in text and "copy or download" in text
    assert "Traceback" not in output and "SafetensorError" not in output.split("(")[0]


@pytest.mark.parametrize(
    ("file", "text", "problem"),
    [
        ("config.json", DEEP, "nested too deeply"),
        ("config.json", "", "is empty"),
        ("posekit.json", '{"schema": {"names": []}}', "unreadable posekit metadata"),
        ("posekit.json", '{"schema": 1e999}', "too large for a 64-bit float"),
        ("posekit.json", "[1, 2]", "unreadable posekit metadata"),
        ("preprocessor_config.json", '{"size": {"height": "x", "width": 1}}', "unreadable image processor"),
        ("preprocessor_config.json", '{"image_std": [1e999, 1, 1]}', "too large for a 64-bit float"),
    ],
)
def test_damaged_model_folder_files_are_named(tmp_path, tiny_model_dir, file, text, problem) -> None:
    from posekit.models.vitpose import load_model

    model = _copy_model(tiny_model_dir, tmp_path)
    (model / file).write_text(text)
    with pytest.raises(ModelError, match=problem) as info:
        load_model(model)
    assert str(model / file) in str(info.value)


# ----------------------------------------------------------------------------------------- training state
class _Payload:
    """Unpickling this runs code: weights_only loading must refuse it."""

    def __reduce__(self):
        return (open, (_Payload.marker, "w"))

    marker = ""


def _run_folder(tmp_path: Path, tiny_model_dir: Path, tiny_sample: Path) -> Path:
    from posekit.settings import build_config

    run = tmp_path / "runs" / "train" / "exp"
    shutil.copytree(tiny_model_dir, run / "weights" / "last")
    cfg = build_config(
        data=str(tiny_sample), model="vitpose-t", pretrained="none", input_size="64x48", epochs=1,
        batch_size=2, project=str(tmp_path / "runs"),
    )  # fmt: skip
    (run / "args.yaml").write_text(cfg.to_yaml())
    return run


@pytest.mark.parametrize("state", ["truncated", "foreign", "payload", "garbage"])
def test_resume_from_a_damaged_or_foreign_state_is_one_message(
    tmp_path, tiny_model_dir, tiny_sample, run_cli, state: str
) -> None:
    run = _run_folder(tmp_path, tiny_model_dir, tiny_sample)
    path = run / "weights" / "last" / "training_state.pt"
    _Payload.marker = str(tmp_path / "PAYLOAD_RAN")
    if state == "truncated":
        torch.save({"epoch": 1, "optimizer": {"x": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:300])
    elif state == "foreign":
        torch.save({"model_state": {"w": torch.zeros(2)}, "global_step": 10}, path)
    elif state == "payload":
        torch.save({"epoch": _Payload()}, path)
    else:
        path.write_bytes(b"not a checkpoint at all" * 10)
    code, output = run_cli("train", "--resume", run)
    text = " ".join(output.split())
    assert code == 1, output
    assert str(path) in text and "Traceback" not in output
    expected = {
        "truncated": "damaged training state",
        "foreign": "not a posekit training state (missing bad_validations, best_ap",
        "payload": "training state refused for safety",
        "garbage": "is a text file (it starts with 'not a checkpoint at all",  # says what it is
    }[state]
    assert expected in text
    assert "UnpicklingError" not in text
    assert not Path(_Payload.marker).exists()


# ---------------------------------------------------------------------------------------------- a full disk
def _fill(tmp: Path, error: BaseException) -> None:
    (tmp / "model.safetensors").write_bytes(b"x" * 3000)  # what was written before the disk filled
    raise error


@pytest.mark.parametrize(
    "error",
    [
        SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"),
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"),  # torch.save
    ],
    ids=["safetensors", "oserror", "torch"],
)
def test_full_disk_keeps_the_previous_checkpoint_and_says_so(tmp_path, monkeypatch, error) -> None:
    from posekit.engine import checkpoint
    from posekit.fileio import atomic_write_json

    last = tmp_path / "weights" / "last"
    last.mkdir(parents=True)
    (last / "model.safetensors").write_bytes(b"old" * 1000)

    class Model:
        def save(self, tmp: Path) -> None:
            tmp.mkdir()
            _fill(tmp, error)

    if isinstance(error, RuntimeError):  # torch names no OS error: the free space tells
        monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    with pytest.raises(PosekitError) as info:
        checkpoint.save_checkpoint(last, Model())
    message = str(info.value)
    assert message.startswith(f"cannot write {last}: no space left on the disk (")
    assert "the existing last is unchanged" in message and "Free some space" in message
    assert (last / "model.safetensors").read_bytes() == b"old" * 1000
    assert [p.name for p in last.parent.iterdir()] == ["last"]  # no temporary folder left behind

    target = tmp_path / "metrics.json"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(PosekitError, match=f"cannot write {target}: no space left on the disk"):
        atomic_write_json(target, {"AP": 1.0})
    assert not target.exists()


def test_other_write_errors_pass_through(tmp_path) -> None:
    from posekit.fileio import atomic_save

    def broken(tmp: Path) -> None:
        raise ValueError("a bug, not the disk")

    with pytest.raises(ValueError, match="a bug"):
        atomic_save(tmp_path / "x", broken)


# ---------------------------------------------------------------------------------------------- YAML
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"a: " + b"[" * 5000 + b"]" * 5000, "is nested too deeply"),
        (b"epochs: 2\nname: \xff\xfe\n", "not UTF-8 text"),
        (b"epochs: [1\n", "invalid YAML at line 2"),
    ],
    ids=["deep", "latin1", "malformed"],
)
def test_hostile_yaml_is_one_message_for_config_and_data(tmp_path, run_cli, text, problem) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(text)
    code, output = run_cli("train", "--config", path, "--project", tmp_path)
    assert code == 1 and f"--config: {path}: " in output and problem in output, output
    code, output = run_cli("check", path)
    assert code == 1 and problem in output and "Traceback" not in output, output


def test_a_seed_beyond_64_bits_is_refused(run_cli, tmp_path) -> None:
    code, output = run_cli("train", "--seed", "9" * 30, "--project", tmp_path)
    assert code == 1 and "--seed: invalid value" in output


def test_detector_folder_with_hostile_json_is_one_message(tmp_path) -> None:
    from posekit.models.detector import PersonDetector

    for name in ("config.json", "preprocessor_config.json"):
        (tmp_path / name).write_text(DEEP)
    with pytest.raises(
        ModelError, match=f"cannot load the person detector '{tmp_path}' \\(maximum recursion"
    ):
        PersonDetector(tmp_path)
