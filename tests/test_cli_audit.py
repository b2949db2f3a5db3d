"""``posekit audit`` and ``posekit sigmas`` through the real CLI entry point; their help examples run."""

from __future__ import annotations

import csv
import json
import shlex

import pytest

from posekit.datasets.schema import get_preset


def _example(run_cli, verb: str) -> list[str]:
    """The 'Try:' command of ``posekit VERB --help``, split into arguments."""
    code, output = run_cli(verb, "--help")
    assert code == 0
    line = next(line.strip(" │") for line in output.splitlines() if "Try: posekit" in line)
    words = shlex.split(line.split("Try:", 1)[1])
    assert words[:2] == ["posekit", verb]
    return words[1:]


@pytest.fixture
def in_tmp(sample_data, tmp_path, monkeypatch):
    """Work in tmp_path with 'sample' standing for the small fixture sample."""
    monkeypatch.setattr("posekit.samples.sample_images.sample_data_path", lambda: sample_data)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_audit_example_runs_as_printed(in_tmp, run_cli) -> None:
    code, output = run_cli(*_example(run_cli, "audit"))
    assert code == 0, output
    assert "people (train)" in output and "people (val)" in output and "bone_length" in output
    rows = list(csv.DictReader((in_tmp / "runs/audit/exp/findings.csv").open()))
    written = json.loads((in_tmp / "runs/audit/exp/findings.json").read_text())
    assert written["findings"] == [
        {
            **r,
            "annotation_id": int(r["annotation_id"]),
            "image_id": int(r["image_id"]),
            "score": float(r["score"]),
        }
        for r in rows
    ]
    assert {label: s["mode"] for label, s in written["audit"]["splits"].items()} == {
        "train": "data",
        "val": "data",
    }
    assert "Mode (train): data only (no model)" in output


def test_audit_finds_what_was_broken(in_tmp, sample_data, run_cli) -> None:
    coco = json.loads((sample_data.parent / "val.json").read_text())
    first = coco["annotations"][0]
    first["keypoints"][2] = 0  # nose: v=0 but placed
    first["num_keypoints"] -= 1
    (in_tmp / "val.json").write_text(json.dumps(coco))
    images = sample_data.parent / "images" / "val"
    code, output = run_cli("audit", in_tmp / "val.json", "--images", images, "--name", "x")
    assert code == 0, output
    assert "1 finding(s)" in output and "train+val" in output
    (row,) = csv.DictReader((in_tmp / "runs/audit/x/findings.csv").open())
    assert (row["annotation_id"], row["joint"], row["kind"], row["score"]) == (
        str(first["id"]),
        "nose",
        "visibility",
        "12.0",
    )
    code, output = run_cli("audit", in_tmp / "val.json", "--split", "test")
    assert code == 1 and "unknown split 'test'" in output


def test_sigmas_example_runs_as_printed(in_tmp, run_cli) -> None:
    code, output = run_cli(*_example(run_cli, "sigmas"))
    assert code == 0, output
    written = json.loads((in_tmp / "runs/sigmas/exp/schema.json").read_text())
    assert written["names"] == get_preset("coco17").names and len(written["sigmas"]) == 17
    assert written["name"].startswith("coco17 (sigmas from 3 annotations of")
    assert "posekit val --sigmas runs/sigmas/exp/schema.json" in output


def test_sigmas_from_two_files_and_from_predictions(in_tmp, sample_data, run_cli) -> None:
    from posekit.label_audit.sigma_estimation import simulate_repeats

    coco = json.loads((sample_data.parent / "train.json").read_text())
    a, b = simulate_repeats(coco, get_preset("coco17").sigmas, copies=2, seed=0)
    (in_tmp / "a.json").write_text(json.dumps(a))
    (in_tmp / "b.json").write_text(json.dumps(b))  # no images beside them: not needed
    code, output = run_cli("sigmas", "a.json", "b.json", "--out", "s.json")
    assert code == 0, output
    assert "sigmas from 2 annotations" in json.loads((in_tmp / "s.json").read_text())["name"]
    results = [
        {"image_id": x["image_id"], "category_id": 1, "keypoints": x["keypoints"], "score": 1.0}
        for x in b["annotations"]
    ]
    (in_tmp / "results.json").write_text(json.dumps(results))
    code, output = run_cli("sigmas", "a.json", "--predictions", "results.json", "--out", "r.json")
    assert code == 0, output
    assert "Approximation" in output and "APPROXIMATE" in json.loads((in_tmp / "r.json").read_text())["name"]
    code, output = run_cli("sigmas", "a.json")
    assert code == 1 and "two or more annotation files" in output


def test_audit_with_a_model_says_which_images_it_memorised(in_tmp, tiny_model_dir, run_cli) -> None:
    import shutil

    shutil.copytree(tiny_model_dir, in_tmp / "run" / "weights" / "best")
    (in_tmp / "run" / "args.yaml").write_text("data: sample\n")  # trained on the sample's train split
    code, output = run_cli(
        "audit", "sample", "--model", "run/weights/best", "--fix", "swaps", "--device", "cpu"
    )
    assert code == 0, output
    assert "Mode (train): a model trained on these images: it has memorised their labels" in output
    assert "Mode (val): a model not trained on these images" in output and "--fix swaps:" in output
    folder = in_tmp / "runs/audit/exp"
    written = json.loads((folder / "findings.json").read_text())["audit"]
    assert {k: s["mode"] for k, s in written["splits"].items()} == {"train": "memorised", "val": "held_out"}
    assert "displaced" in written["kinds"] and (folder / "changes.csv").is_file()
    assert (folder / "findings.jpg").is_file() == bool(
        json.loads((folder / "findings.json").read_text())["findings"]
    )


@pytest.mark.slow  # trains the fold models
def test_audit_folds_train_inside_the_run_folder(in_tmp, tiny_sample, run_cli) -> None:
    recipe = (
        "model: vitpose-t-simple\npretrained: none\ninput_size: 64x48\nepochs: 1\nbatch_size: 4\nworkers: 0\n"
    )
    (in_tmp / "tiny.yaml").write_text(recipe)
    code, output = run_cli(
        "audit",
        tiny_sample,
        "--split",
        "val",
        "--folds",
        "2",
        "--fold-config",
        "tiny.yaml",
        "--device",
        "cpu",
    )
    assert code == 0, output
    assert "Mode (val): cross-fitted: each image predicted by a model trained on the other folds" in output
    folds = in_tmp / "runs/audit/exp/folds/val"
    val_images = [im["id"] for im in json.loads((tiny_sample.parent / "val.json").read_text())["images"]]
    assert sorted(map(int, json.loads((folds / "assignment.json").read_text()))) == sorted(val_images)
    assert (folds / "fold2" / "train" / "model" / "weights" / "last" / "posekit.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "vitpose-t", "--folds", "2"), "--model and --folds are alternatives"),
        (("--folds", "1"), "cross-fitting needs at least 2 folds"),
        (("--fix", "boxes"), "--fix 'boxes': only swaps can be fixed automatically"),
        (("--fold-config", "x.yaml"), "--fold-config sets the recipe of the --folds models; add --folds K"),
        (("--model", "nowhere/at-all-model", "--device", "cpu"), "nowhere/at-all-model"),
    ],
)
def test_audit_model_options_fail_clearly(in_tmp, run_cli, args, message) -> None:
    code, output = run_cli("audit", "sample", *args)
    assert code == 1 and message in output and "Traceback" not in output
    assert not (in_tmp / "runs").exists()


def test_a_wrong_num_keypoints_is_a_finding_not_an_abort(in_tmp, sample_data, run_cli) -> None:
    coco = json.loads((sample_data.parent / "val.json").read_text())
    first = coco["annotations"][0]
    labelled = sum(v > 0 for v in first["keypoints"][2::3])
    first["num_keypoints"] = labelled + 3
    (in_tmp / "val.json").write_text(json.dumps(coco))
    images = sample_data.parent / "images" / "val"
    code, output = run_cli("audit", in_tmp / "val.json", "--images", images, "--name", "counts")
    assert code == 0, output
    found = csv.DictReader((in_tmp / "runs/audit/counts/findings.csv").open())
    rows = [r for r in found if r["kind"] == "num_keypoints"]
    assert [(r["annotation_id"], r["joint"], r["score"]) for r in rows] == [(str(first["id"]), "", "12.0")]
    assert f"num_keypoints is {labelled + 3} but {labelled} points are labelled" in " ".join(output.split())
