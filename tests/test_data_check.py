"""posekit check: real data sets pass, a corpus of broken files is rejected with the named message
(file, id, field), the CLI exits 1 without a traceback (2 on usage errors), --json and --show work."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from posekit.cli.app import app
from posekit.datasets.coco_keypoints import load_coco
from posekit.errors import ConfigError, DataError
from posekit.tasks.check import check

runner = CliRunner()
W, H = 100, 80
SHARED = [
    "coco/test_coco.json",
    "coco/test_coco_wholebody.json",
    "onehand10k/test_onehand10k.json",
    "300w/test_300w.json",
    "ap10k/test_ap10k.json",
    "posetrack18/annotations/test_posetrack18_val.json",
    "posetrack18/annotations/val/003418_mpii_test.json",
]


def _person(ann_id: int, image_id: int) -> dict:
    rng = np.random.default_rng(ann_id)
    xy = rng.uniform([20, 10], [60, 70], (17, 2)).round(1)
    keypoints = [v for (x, y) in xy for v in (float(x), float(y), 2)]
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": 0,
        "bbox": [15.0, 5.0, 50.0, 70.0],
        "area": 2000.0,
        "num_keypoints": 17,
        "keypoints": keypoints,
    }


def _base() -> dict:
    names = [
        "nose",
        "left_eye",
        "right_eye",
        "left_ear",
        "right_ear",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
    ]
    return {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": W, "height": H},
            {"id": 2, "file_name": "b.jpg", "width": W, "height": H},
        ],
        "annotations": [_person(10, 1), _person(11, 1), _person(20, 2)],
        "categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": [[16, 14], [14, 12]]}],
    }


@pytest.fixture
def make_data(tmp_path: Path) -> Callable[..., Path]:
    """Write a (possibly broken) data set: ``mutate(d)`` edits the JSON dict, ``files(folder)`` the images."""

    def make(
        mutate: Callable[[dict], None] | None = None,
        text: str | None = None,
        files: Callable[[Path], None] | None = None,
    ) -> Path:
        folder = tmp_path / "data"
        folder.mkdir(exist_ok=True)
        for name in ("a.jpg", "b.jpg"):
            cv2.imwrite(str(folder / name), np.full((H, W, 3), 120, np.uint8))
        data = _base()
        if mutate:
            mutate(data)
        if files:
            files(folder)
        path = folder / "ann.json"
        path.write_text(text if text is not None else json.dumps(data, indent=1))
        return path

    return make


def test_num_keypoints_that_disagrees_with_the_labels_is_a_warning(make_data: Callable[..., Path]) -> None:
    """posekit counts the labels itself: a wrong num_keypoints is reported (audit lists it as a finding), not
    a reason to refuse the file."""
    report = check(make_data(_set(["annotations", 1, "num_keypoints"], 5)))
    assert report.ok and not report.errors
    (issue,) = [i for i in report.warnings if i.field == "num_keypoints"]
    assert "num_keypoints is 5 but 17 keypoints are labelled (v > 0); 17 is used" in issue.message
    assert (issue.annotation_id, issue.image_id) == (11, 1) and issue.fix == "set num_keypoints to 17 " + (
        "(COCO evaluation ignores people with num_keypoints 0)"
    )


def test_valid_base_passes(make_data: Callable[..., Path]) -> None:
    report = check(make_data())
    assert report.ok, report.issues
    stats = report.summary["files"][0]
    assert stats["images"] == 2 and stats["people"] == 3 and stats["labelled_keypoints"] == 51
    assert stats["people_per_image"] == {"1": 1, "2": 1}
    assert stats["keypoints_per_joint"]["nose"] == {"v0": 0, "v1": 0, "v2": 3}


def _set(path: list, value: object) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        target = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _del(path: list) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        target = d
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _kp(ann: int, index: int, value: object) -> Callable[[dict], None]:
    return _set(["annotations", ann, "keypoints", index], value)


def _duplicate_annotation(d: dict) -> None:
    d["annotations"][1]["id"] = 10


def _duplicate_image(d: dict) -> None:
    d["images"].append(copy.deepcopy(d["images"][0]))


def _truncate(folder: Path) -> None:
    ok, buf = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8))
    (folder / "b.jpg").write_bytes(buf.tobytes()[: len(buf) // 2])


def _exif_rotated(folder: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 100x80, shown (and read by OpenCV) turned by 90 degrees
    Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(folder / "a.jpg", exif=exif)


# (name, json edit, image-file edit, raw text, message, field, annotation id, image id)
BROKEN = [
    (
        "malformed-json",
        None,
        None,
        '{"images": [\n  {"id": 1,,}\n]}',
        "malformed JSON at line 2, column",
        None,
        None,
        None,
    ),
    (
        "not-keypoint-file",
        None,
        None,
        json.dumps([{"image_id": 1, "bbox": [0, 0, 1, 1], "score": 0.9}]),
        "the top level is a list",
        None,
        None,
        None,
    ),
    (
        "missing-section",
        _del(["annotations"]),
        None,
        None,
        "missing section 'annotations'",
        "annotations",
        None,
        None,
    ),
    (
        "no-keypoint-category",
        _del(["categories", 0, "keypoints"]),
        None,
        None,
        "no category has a 'keypoints'",
        "categories",
        None,
        None,
    ),
    (
        "keypoints-length",
        _set(["annotations", 1, "keypoints"], [1.0] * 50),
        None,
        None,
        "'keypoints' has 50 values; expected 3 x 17 = 51",
        "keypoints",
        11,
        1,
    ),
    ("keypoints-null", _kp(0, 4, None), None, None, "must be a flat list of numbers", "keypoints", 10, 1),
    ("visibility", _kp(2, 5, 3), None, None, "visibility of keypoint 'left_eye' is 3", "keypoints", 20, 2),
    (
        "nan",
        _kp(0, 3, float("nan")),
        None,
        None,
        "keypoint 'left_eye' has a non-finite value",
        "keypoints",
        10,
        1,
    ),
    (
        "keypoint-outside",
        _kp(1, 0, 500.0),
        None,
        None,
        "labelled keypoint 'nose' at (500,",
        "keypoints",
        11,
        1,
    ),
    ("bbox-missing", _del(["annotations", 0, "bbox"]), None, None, "missing bbox", "bbox", 10, 1),
    (
        "bbox-zero",
        _set(["annotations", 0, "bbox"], [10, 10, 0, 20]),
        None,
        None,
        "zero or negative size",
        "bbox",
        10,
        1,
    ),
    (
        "bbox-negative",
        _set(["annotations", 2, "bbox"], [10, 10, 30, -5]),
        None,
        None,
        "zero or negative size",
        "bbox",
        20,
        2,
    ),
    (
        "bbox-outside",
        _set(["annotations", 2, "bbox"], [300, 10, 30, 20]),
        None,
        None,
        "lies outside the image",
        "bbox",
        20,
        2,
    ),
    ("duplicate-annotation-id", _duplicate_annotation, None, None, "duplicate annotation id 10", "id", 10, 1),
    ("duplicate-image-id", _duplicate_image, None, None, "duplicate image id 1", "id", None, 1),
    (
        "unknown-image",
        _set(["annotations", 2, "image_id"], 999),
        None,
        None,
        "image_id 999 is not in 'images'",
        "image_id",
        20,
        999,
    ),
    ("iscrowd", _set(["annotations", 0, "iscrowd"], "yes"), None, None, "iscrowd is 'yes'", "iscrowd", 10, 1),
    (
        "skeleton-range",
        _set(["categories", 0, "skeleton"], [[1, 2], [3, 99]]),
        None,
        None,
        "skeleton pair [3, 99] is out of range for 17 keypoints",
        "categories[id=1].skeleton",
        None,
        None,
    ),
    (
        "image-missing",
        None,
        lambda f: (f / "b.jpg").unlink(),
        None,
        "image file not found",
        "file_name",
        None,
        2,
    ),
    (
        "image-corrupt",
        None,
        lambda f: (f / "a.jpg").write_bytes(b"not an image at all"),
        None,
        "cannot decode image",
        "file_name",
        None,
        1,
    ),
    ("image-truncated", None, _truncate, None, "b.jpg is truncated", "file_name", None, 2),
    ("image-exif", None, _exif_rotated, None, "after EXIF orientation 6", "width/height", None, 1),
    (
        "image-size",
        _set(["images", 1, "width"], 64),
        None,
        None,
        "is width 100, height 80 but the JSON says width 64, height 80",
        "width/height",
        None,
        2,
    ),
]


@pytest.mark.parametrize(
    ("name", "mutate", "files", "text", "message", "field", "ann_id", "image_id"),
    BROKEN,
    ids=[b[0] for b in BROKEN],
)
def test_broken_file_is_rejected(
    make_data: Callable[..., Path],
    name: str,
    mutate: Callable | None,
    files: Callable | None,
    text: str | None,
    message: str,
    field: str | None,
    ann_id: int | None,
    image_id: int | None,
) -> None:
    path = make_data(mutate, text, files)
    report = check(path)
    matches = [i for i in report.errors if message in i.message]
    assert matches, f"{message!r} not in {[str(i) for i in report.issues]}"
    issue = matches[0]
    assert issue.file == str(path)
    assert (issue.field, issue.annotation_id, issue.image_id) == (field, ann_id, image_id)
    assert issue.fix

    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1, result.output
    shown = " ".join(result.output.split())
    assert message in shown and issue.where in shown
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "name", ["keypoints-length", "visibility", "bbox-zero", "unknown-image", "image-missing"]
)
def test_loader_refuses_with_the_same_message(make_data: Callable[..., Path], name: str) -> None:
    _, mutate, files, text, message, *_ = next(b for b in BROKEN if b[0] == name)
    path = make_data(mutate, text, files)
    with pytest.raises(DataError) as caught:
        load_coco(path)
    issue = next(i for i in caught.value.issues if message in i.message)
    assert str(issue) in str(caught.value)
    assert str(issue) == str(next(i for i in check(path).errors if message in i.message))


def test_loader_message_is_capped(make_data: Callable[..., Path]) -> None:
    def many(d: dict) -> None:
        d["annotations"] = [{**_person(100 + i, 1), "bbox": [0, 0, 0, 0]} for i in range(25)]

    with pytest.raises(DataError) as caught:
        load_coco(make_data(many))
    assert len(caught.value.issues) == 25
    assert "25 error(s)" in str(caught.value) and "... and 15 more" in str(caught.value)


def test_cli_subprocess_has_no_traceback(make_data: Callable[..., Path]) -> None:
    path = make_data(_kp(2, 5, 7))
    proc = subprocess.run(
        [sys.executable, "-m", "posekit.cli.app", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "visibility of keypoint 'left_eye' is 7" in " ".join(proc.stdout.split())


def test_wrong_data_arguments_are_reported_by_the_validator(
    tmp_path: Path, make_data: Callable[..., Path]
) -> None:
    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["check", *args])
        return result.exit_code, " ".join(result.output.split())

    code, output = run(str(tmp_path / "nope.json"))
    assert code == 1 and "nope.json' not found" in output
    (tmp_path / "data.txt").write_text("x")
    code, output = run(str(tmp_path / "data.txt"))
    assert code == 1 and "neither a .json nor a .yaml" in output
    code, output = run(str(make_data()), "--images", str(tmp_path / "none"))
    assert code == 1 and "is not a folder" in output
    code, output = run("sample", "--images", str(tmp_path))
    assert code == 1 and "--images applies to a .json only" in output
    with pytest.raises(ConfigError, match="--show: invalid value -1; must be greater than or equal to 0"):
        runner.invoke(app, ["check", str(make_data()), "--show", "-1"], catch_exceptions=False)


def test_json_report(make_data: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["check", str(make_data(_kp(2, 5, 3))), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False and report["errors"] == 1
    assert report["issues"][0]["annotation_id"] == 20 and report["issues"][0]["field"] == "keypoints"
    assert report["summary"]["files"][0]["people"] == 2  # the broken person is left out of the summary


@pytest.mark.parametrize("relative", SHARED)
def test_shared_data_passes(shared_data: Path, relative: str) -> None:
    report = check(shared_data / relative)
    assert report.ok, [str(i) for i in report.errors]
    stats = report.summary["files"][0]
    assert stats["images"] >= 1 and stats["people"] >= 1 and stats["labelled_keypoints"] > 0
    assert sum(stats["people_per_image"].values()) == stats["images"]
    assert stats["box_size_px"]["p0"] <= stats["box_size_px"]["p50"] <= stats["box_size_px"]["p100"]
    joints = stats["keypoints_per_joint"]
    assert len(joints) == stats["num_keypoints"]
    assert all(sum(c.values()) == stats["people"] for c in joints.values())
    assert any("500 labelled people" in i.message for i in report.warnings)  # tiny samples get the advice


def test_shared_data_cli_and_details(shared_data: Path) -> None:
    result = runner.invoke(app, ["check", str(shared_data / "coco/test_coco.json")])
    assert result.exit_code == 0, result.output
    assert "no errors" in result.output and "left_ankle" in result.output
    stats = check(shared_data / "coco/test_coco.json").summary["files"][0]
    assert (stats["images"], stats["people"], stats["people_without_keypoints"]) == (4, 14, 2)
    wholebody = check(shared_data / "coco/test_coco_wholebody.json", wholebody=True)
    assert wholebody.ok and wholebody.summary["files"][0]["num_keypoints"] == 133
    posetrack = check(shared_data / "posetrack18/annotations/test_posetrack18_val.json")
    rare = next(i for i in posetrack.warnings if "almost none" in i.message)
    assert "'left_ear' (0)" in rare.message and "'right_ear' (0)" in rare.message
    assert posetrack.summary["files"][0]["keypoints_outside_image"] == 1  # a head top above the frame


def test_show_writes_crops(sample_data: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["check", str(sample_data), "--show", "3", "--project", str(tmp_path / "runs")]
    )
    assert result.exit_code == 0, result.output
    crops = sorted((tmp_path / "runs" / "check" / "exp").glob("*.jpg"))
    assert len(crops) == 3
    image = cv2.imread(str(crops[0]))
    assert image.shape == (256, 192, 3)


def test_bad_data_yaml_is_reported(tmp_path: Path, make_data: Callable[..., Path]) -> None:
    yaml_path = tmp_path / "data.yaml"
    yaml_path.write_text(f"train: {make_data()}\nschema: {{sigmas: [0.1, 0.1]}}\n")
    issue = check(yaml_path).errors[0]
    assert issue.field == "schema" and "sigmas has 2 values but there are 17 keypoints" in issue.message
    yaml_path.write_text("train: [oops\n")
    result = runner.invoke(app, ["check", str(yaml_path)])
    assert result.exit_code == 1 and "invalid YAML at line 2" in " ".join(result.output.split())
