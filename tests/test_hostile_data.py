"""Data that used to be accepted silently or give wrong results: image paths that are not image files or
leave the image folder, unknown categories, a train split with nobody to learn from (check refuses what
train refuses), boxes files with broken records, results scored without images, racing run folders."""

from __future__ import annotations

import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.datasets.data_config import resolve_data
from posekit.errors import DataError, PosekitError
from posekit.tasks.check import check


def _copy_split(tiny_sample: Path, tmp_path: Path, split: str = "train") -> tuple[Path, dict]:
    """The tiny sample's ``split`` JSON and images copied into ``tmp_path`` (images/ beside the JSON)."""
    images = tmp_path / "images"
    shutil.copytree(tiny_sample.parent / "images" / split, images)
    coco = json.loads((tiny_sample.parent / f"{split}.json").read_text())
    return tmp_path / "ann.json", coco


def _write(path: Path, coco: dict) -> Path:
    path.write_text(json.dumps(coco))
    return path


# ---------------------------------------------------------------------------------------------- image paths
def _break_images(images: Path, coco: dict) -> dict[int, str]:
    """Turn the sample's image files into the cases a loader must refuse; {image id: expected message}."""
    ids = [im["id"] for im in coco["images"]]
    first, second, third = (images / coco["images"][i]["file_name"] for i in range(3))
    first.unlink()
    first.symlink_to(first)  # a link loop
    second.unlink()
    second.symlink_to(images / "gone.jpg")  # a dangling link
    third.unlink()
    third.mkdir()  # a folder
    return {
        ids[0]: "is a link loop",
        ids[1]: "is a broken link (to",
        ids[2]: "is a folder, not an image file",
    }


def test_image_paths_that_are_not_image_files_are_refused(tmp_path, tiny_sample, run_cli) -> None:
    path, coco = _copy_split(tiny_sample, tmp_path)
    expected = _break_images(tmp_path / "images", coco)
    _write(path, coco)
    report = check(path)
    for image_id, message in expected.items():
        assert any(i.image_id == image_id and message in i.message for i in report.errors), (image_id, report)
    code, output = run_cli("check", path)
    assert code == 1 and "is a link loop" in output and "Traceback" not in output
    with pytest.raises(DataError, match="is a broken link"):
        resolve_data(path).load_split("val")


def test_file_names_leaving_the_image_folder_are_refused_unless_allowed(tmp_path, tiny_sample) -> None:
    path, coco = _copy_split(tiny_sample, tmp_path / "data")
    outside = tmp_path / "elsewhere.jpg"
    shutil.copy(tmp_path / "data" / "images" / coco["images"][0]["file_name"], outside)
    coco["images"][0]["file_name"] = "../../elsewhere.jpg"
    coco["images"][1]["file_name"] = str(tmp_path / "data" / "images" / coco["images"][1]["file_name"])
    _write(path, coco)
    report = check(path, images=tmp_path / "data" / "images")
    escaping = [i for i in report.errors if "points outside the image folder" in i.message]
    assert [i.image_id for i in escaping] == [coco["images"][0]["id"], coco["images"][1]["id"]]
    assert "outside_images: true" in escaping[0].fix

    yaml = tmp_path / "data" / "data.yaml"
    yaml.write_text("train: {json: ann.json, images: images}\nval: {json: ann.json, images: images}\n")
    assert not check(yaml).ok
    yaml.write_text(yaml.read_text() + "outside_images: true\n")
    assert check(yaml).ok, check(yaml)
    assert resolve_data(yaml).load_split("train").images[coco["images"][0]["id"]].path.is_file()


def test_two_image_records_naming_one_file_are_refused(tmp_path, tiny_sample) -> None:
    path, coco = _copy_split(tiny_sample, tmp_path)
    coco["images"][1]["file_name"] = "./" + coco["images"][0]["file_name"]
    _write(path, coco)
    report = check(path)
    [issue] = [i for i in report.errors if "names the same file as image" in i.message]
    assert issue.image_id == coco["images"][1]["id"] and f"image {coco['images'][0]['id']}" in issue.message
    with pytest.raises(DataError, match="names the same file"):
        resolve_data(path).load_split("train")


# ---------------------------------------------------------------------------------------------- one validator
def test_unknown_category_is_an_error_for_check_and_train(tmp_path, tiny_sample, run_cli) -> None:
    path, coco = _copy_split(tiny_sample, tmp_path)
    coco["annotations"][0]["category_id"] = 7
    _write(path, coco)
    code, output = run_cli("check", path)
    assert code == 1 and "category_id 7 matches no entry of 'categories' (1 annotation(s)" in output
    with pytest.raises(DataError, match="category_id 7 matches no entry"):
        resolve_data(path).load_split("train")


def test_a_train_split_without_labelled_people_is_refused_by_check_and_train(
    tmp_path, tiny_sample, run_cli
) -> None:
    path, coco = _copy_split(tiny_sample, tmp_path)
    for ann in coco["annotations"]:
        ann["keypoints"] = [0] * len(ann["keypoints"])
        ann["num_keypoints"] = 0
    _write(path, coco)
    message = "no person with labelled keypoints to train on"
    report = check(path)
    assert [i.message for i in report.errors if message in i.message]
    code, output = run_cli("check", path)
    assert code == 1 and message in output
    code, output = run_cli("train", "--data", path, "--model", "vitpose-t", "--pretrained", "none",
                           "--input-size", "64x48", "--project", tmp_path / "runs")  # fmt: skip
    assert code == 1 and message in output and "Traceback" not in output
    resolve_data(path).load_split("val")  # evaluation does not need labelled people to load
    # a data YAML whose train split is fine but whose val split is unlabelled passes check
    good = tiny_sample.parent / "train.json"
    yaml = tmp_path / "data.yaml"
    yaml.write_text(f"train: {{json: {good}, images: {tiny_sample.parent / 'images' / 'train'}}}\n"
                    f"val: {{json: {path}, images: {tmp_path / 'images'}}}\n")  # fmt: skip
    assert not [i for i in check(yaml).errors if message in i.message]


# ---------------------------------------------------------------------------------------------- boxes files
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["annotations"][0].pop("bbox"), "annotations[0]: 'bbox' must be 4 finite numbers"),
        (lambda c: c["annotations"][1].pop("image_id"), "annotations[1]: 'image_id' None is not an image"),
        (lambda c: c["annotations"].append("person"), "expected an object, got str"),
        (lambda c: c["images"][0].pop("id"), "images[0]: expected an object with an integer 'id'"),
        (lambda c: c["images"].append(None), "images[2]: expected an object"),
    ],
)
def test_annotation_boxes_file_with_broken_records(
    tmp_path, tiny_sample, tiny_model_dir, run_cli, change, message
) -> None:
    coco = json.loads((tiny_sample.parent / "val.json").read_text())
    image = tiny_sample.parent / "images" / "val" / coco["images"][-1]["file_name"]
    change(coco)
    boxes = _write(tmp_path / "boxes.json", coco)
    code, output = run_cli("predict", "--model", tiny_model_dir, "--source", image, "--boxes", boxes,
                           "--project", tmp_path / "runs")  # fmt: skip
    text = " ".join(output.split())
    assert code == 1 and str(boxes) in text and message in text, output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"image_id": 1, "score": 0.9}, "field 'bbox' must be 4 finite numbers"),
        ({"bbox": [0, 0, 5, 5], "score": 0.9}, "field 'image_id' must be an integer"),
        ([1, 2, 3, 4], "expected an object, got list"),
    ],
)
def test_detection_file_with_broken_records(tmp_path, tiny_sample, entry, message, run_cli) -> None:
    dets = _write(tmp_path / "dets.json", [{"image_id": 1, "bbox": [1, 1, 9, 9], "score": 1.0}, entry])
    code, output = run_cli("val", "--model", "vitpose-t", "--pretrained", "none", "--data", tiny_sample,
                           "--boxes", dets, "--project", tmp_path / "runs")  # fmt: skip
    assert code == 1 and "entry 1: " in output and message in output, output


# ------------------------------------------------------------------------------------- val without images
@pytest.mark.slow
def test_val_scores_a_results_file_without_the_images(tmp_path, tiny_sample, run_cli) -> None:
    coco = json.loads((tiny_sample.parent / "val.json").read_text())
    ann = _write(tmp_path / "val.json", coco)  # no image folder anywhere near it
    perfect = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in coco["annotations"]
        if not a.get("iscrowd") and a["num_keypoints"] > 0
    ]
    results = _write(tmp_path / "results.json", perfect)
    code, output = run_cli("val", "--data", ann, "--predictions", results, "--project", tmp_path / "runs")
    assert code == 0, output
    metrics = json.loads((tmp_path / "runs" / "val" / "exp" / "metrics.json").read_text())
    assert metrics["coco"]["AP"] == 1.0
    assert sum("worst_people.jpg skipped" in line for line in output.splitlines()) == 1
    assert not (tmp_path / "runs" / "val" / "exp" / "worst_people.jpg").exists()
    # a model run still needs them
    code, output = run_cli("val", "--model", "vitpose-t", "--pretrained", "none", "--data", ann,
                           "--project", tmp_path / "runs")  # fmt: skip
    assert code == 1 and "none of the" in output and "image files were found" in output


def test_empty_annotation_file_is_empty_not_malformed(tmp_path) -> None:
    (tmp_path / "a.json").write_text("")
    [issue] = check(tmp_path / "a.json").errors
    assert issue.message == "is empty"


# ---------------------------------------------------------------------------------------------- run folders
def test_runs_started_at_once_never_share_a_folder(tmp_path) -> None:
    from posekit.runs import new_run_dir

    workers = 8

    def claim(start: threading.Barrier, project: Path) -> Path:
        start.wait()  # all at the same moment
        return new_run_dir(project, "train", "exp")

    for trial in range(20):
        start = threading.Barrier(workers)
        with ThreadPoolExecutor(workers) as pool:
            folders = list(pool.map(claim, [start] * workers, [tmp_path / str(trial)] * workers))
        assert len(set(folders)) == workers, folders
        names = {"exp"} | {f"exp{n}" for n in range(2, workers + 1)}
        assert {f.name for f in folders} == names


def test_run_folder_that_cannot_be_created_is_one_message(tmp_path) -> None:
    from posekit.runs import new_run_dir

    (tmp_path / "file").write_text("")
    with pytest.raises(PosekitError, match="cannot create the run folder .*choose another --project"):
        new_run_dir(tmp_path / "file", "val", "exp")
    if os.geteuid() != 0:  # root writes anywhere
        (tmp_path / "locked").mkdir(mode=0o500)
        with pytest.raises(PosekitError, match="Permission denied"):
            new_run_dir(tmp_path / "locked", "val", "exp")


# -------------------------------------------------------------------------------------- labelling exports
def _label_studio_task(tmp_path: Path) -> dict:
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((80, 100, 3), np.uint8))
    size = {"original_width": 100, "original_height": 80, "image_rotation": 0}
    box = {
        "id": "b",
        "type": "rectanglelabels",
        **size,
        "value": {"x": 10, "y": 10, "width": 50, "height": 80, "rotation": 0, "rectanglelabels": ["person"]},
    }
    point = {"id": "p", "parentID": "b", "type": "keypointlabels", **size,
             "value": {"x": 20, "y": 20, "keypointlabels": ["nose"]}}  # fmt: skip
    return {
        "id": 1,
        "data": {"image": "/data/upload/1/a.jpg"},
        "annotations": [{"id": 1, "result": [box, point]}],
    }


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t["annotations"][0]["result"][0]["value"].__setitem__("rotation", "abc"),
        lambda t: t["annotations"][0]["result"][1].__setitem__("parentID", ["b"]),
        lambda t: t["annotations"][0]["result"][0].__setitem__("id", {"b": 1}),
        lambda t: t.__setitem__("annotations", 5),
        lambda t: [r.__setitem__("original_width", float("inf")) for r in t["annotations"][0]["result"]],
    ],
    ids=["rotation-text", "parent-list", "id-object", "annotations-number", "width-infinite"],
)
def test_label_studio_records_of_the_wrong_type_are_skipped_or_named(tmp_path, change) -> None:
    from posekit.datasets.formats import convert

    task = _label_studio_task(tmp_path)
    change(task)
    src = _write(tmp_path / "export.json", [task])
    try:  # before: ValueError / TypeError / OverflowError tracebacks
        convert(src, tmp_path / "out", "label-studio", "coco")
    except PosekitError as error:  # refused, naming the export
        assert str(src) in str(error)
    else:  # or converted, the bad region or task left out
        assert (tmp_path / "out" / "data.yaml").is_file()


def _cvat_export(tmp_path: Path) -> dict:
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((80, 100, 3), np.uint8))
    person = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 60], "iscrowd": 0,
              "keypoints": [20, 20, 2, 30, 30, 2, 0, 0, 0], "num_keypoints": 2}  # fmt: skip
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
        "categories": [{"id": 1, "name": "person", "keypoints": ["a", "b", "c"], "skeleton": [[1, 2]]}],
        "annotations": [person],
    }


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["categories"].append({"id": [2], "keypoints": ["a"]}),
        lambda c: c["annotations"].append({"id": 2, "category_id": {"id": 1}}),
        lambda c: c["categories"][0].__setitem__("skeleton", 5),
        lambda c: c["categories"].append({"id": "1", "keypoints": ["a", "b", "c"]}),
    ],
    ids=["category-id-list", "category-id-object", "skeleton-number", "category-id-text"],
)
def test_cvat_records_of_the_wrong_type_are_skipped_or_named(tmp_path, change) -> None:
    from posekit.datasets.formats import convert

    export = _cvat_export(tmp_path)
    change(export)
    src = _write(tmp_path / "person_keypoints_default.json", export)
    convert(src, tmp_path / "out", "cvat", "coco")  # before: TypeError (unhashable or unsortable ids)
    assert resolve_data(tmp_path / "out" / "data.yaml").load_split("train").annotations[0].id == 1
