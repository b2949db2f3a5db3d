"""Ultralytics YOLO pose <-> COCO: round trips, visibility, keypoint names, `--data their.yaml`, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from posekit.datasets.data_config import resolve_data
from posekit.datasets.formats import convert
from posekit.datasets.formats.yolo import label_path
from posekit.datasets.records import KeypointAnnotations
from posekit.errors import ConfigError, DataError
from posekit.tasks.check import check


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "home"))  # the on-the-fly YOLO copies go here


def _people(dataset: KeypointAnnotations) -> dict[str, list]:
    """file name -> [(category, bbox, keypoints)] of the non-crowd people, in order."""
    by_image = dataset.by_image()
    return {
        info.file_name: [(a.category_id, a.bbox, a.keypoints) for a in by_image[i] if not a.iscrowd]
        for i, info in dataset.images.items()
    }


def _expected_after_yolo(dataset: KeypointAnnotations) -> dict[str, list]:
    """What YOLO keeps of COCO people: boxes clipped to the image, labelled points outside it unlabelled."""
    expected = {}
    for name, people in _people(dataset).items():
        info = next(i for i in dataset.images.values() if i.file_name == name)
        rows = []
        for category, (x, y, w, h), kps in people:
            x0, y0 = max(x, 0), max(y, 0)
            x1, y1 = min(x + w, info.width), min(y + h, info.height)
            kps = kps.copy()
            outside = (kps[:, 0] < 0) | (kps[:, 1] < 0) | (kps[:, 0] > info.width) | (kps[:, 1] > info.height)
            kps[outside] = 0
            rows.append((category, np.array([x0, y0, x1 - x0, y1 - y0]), kps))
        expected[name] = rows
    return expected


def _assert_same_people(got: KeypointAnnotations, want: dict[str, list], size: float) -> None:
    have = _people(got)
    assert sorted(have) == sorted(want)
    for name, people in want.items():
        assert len(have[name]) == len(people), name
        for (cat_a, box_a, kps_a), (cat_b, box_b, kps_b) in zip(have[name], people, strict=True):
            assert cat_a == cat_b
            np.testing.assert_allclose(box_a, box_b, atol=1e-6 * size, rtol=0)
            np.testing.assert_allclose(kps_a[:, :2], kps_b[:, :2], atol=1e-6 * size, rtol=0)
            np.testing.assert_array_equal(kps_a[:, 2], kps_b[:, 2])


def test_coco_yolo_coco_keeps_boxes_keypoints_and_visibility(tiny_sample: Path, tmp_path: Path) -> None:
    report = convert(tiny_sample, tmp_path / "yolo", "coco", "yolo")
    assert report.splits["train"] == {"images": 4, "people": 10, "crowd": 0}
    assert not any("skeleton" in line or "sigmas" in line for line in report.lost)  # COCO-17's come back
    spec = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())
    assert (
        spec["kpt_shape"] == [17, 3] and spec["flip_idx"][:3] == [0, 2, 1] and spec["names"] == {0: "person"}
    )
    assert (
        spec["train"] == "images/train" and "path" not in spec
    )  # Ultralytics: the root is the YAML's folder
    assert (tmp_path / "yolo" / "labels" / "train" / "000001.txt").is_file()

    convert(tmp_path / "yolo" / "data.yaml", tmp_path / "coco", "yolo", "coco")
    source = resolve_data(tiny_sample)
    back = resolve_data(tmp_path / "coco" / "data.yaml")
    for split in ("train", "val"):
        original = source.load_split(split)
        visibility = np.concatenate([a.keypoints[:, 2] for a in original.annotations])
        assert {0, 1, 2} <= set(visibility.tolist()) or split == "val"  # the sample has all three flags
        converted = back.load_split(split)
        assert converted.schema == original.schema  # COCO-17 again, from kpt_names
        _assert_same_people(converted, _people(original), size=320)
    assert check(tmp_path / "coco" / "data.yaml").ok


def test_two_values_per_keypoint_lose_occlusion_only(tiny_sample: Path, tmp_path: Path) -> None:
    report = convert(tiny_sample, tmp_path / "yolo2", "coco", "yolo", kpt_dims=2)
    assert any("v=1" in line for line in report.lost)
    assert any("0 0" in note for note in report.notes)  # Ultralytics would read them as corner points
    row = (tmp_path / "yolo2" / "labels" / "train" / "000001.txt").read_text().splitlines()[0].split()
    assert len(row) == 5 + 17 * 2
    convert(tmp_path / "yolo2" / "data.yaml", tmp_path / "coco2", "yolo", "coco")
    original = resolve_data(tiny_sample).load_split("train")
    back = resolve_data(tmp_path / "coco2" / "data.yaml").load_split("train")
    want = _people(original)
    for rows in want.values():
        for _, _, kps in rows:
            kps[kps[:, 2] == 1, 2] = 2  # occluded points come back as visible; unlabelled stay unlabelled
    _assert_same_people(back, want, size=320)


def _write_yolo(root: Path, rows: dict[str, str], dims: int = 3, **fields: object) -> Path:
    """A hand-written YOLO pose set: 64x48 images under images/train, the given label texts."""
    for name, text in rows.items():
        image = root / "images" / "train" / name
        image.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(image), np.full((48, 64, 3), 128, np.uint8))
        if text is not None:
            label_path(image).parent.mkdir(parents=True, exist_ok=True)
            label_path(image).write_text(text)
    config = {
        "train": "images/train",
        "val": "images/train",
        "kpt_shape": [3, dims],
        "names": {0: "a", 1: "b"},
    }
    config.update(fields)
    (root / "data.yaml").write_text(yaml.safe_dump(config))
    return root / "data.yaml"


_ROWS = {
    "a.jpg": "0 0.5 0.5 0.25 0.5 0.4375 0.3125 2 0.5625 0.4 1 0 0 0\n"
    "1 0.2 0.3 0.1 0.2 0.15 0.25 2 0 0 0 0.2 0.35 2\n",
    "b.jpg": "1 0.75 0.625 0.109375 0.270833 0.765625 0.541667 1 0.71875 0.6875 2 0.78125 0.729167 2\n",
    "c.jpg": "",  # an image without people
    "d.jpg": None,  # no label file: no people either
}


def test_yolo_coco_yolo_keeps_the_rows(tmp_path: Path) -> None:
    src = _write_yolo(
        tmp_path / "src", _ROWS, flip_idx=[0, 2, 1], kpt_names={0: ["x", "l", "r"], 1: ["x", "l", "r"]}
    )
    report = convert(src, tmp_path / "coco", "yolo", "coco")
    assert report.splits["train"] == {"images": 4, "people": 3, "crowd": 0}
    assert report.splits["val"] == report.splits["train"]  # the same folder for both
    convert(tmp_path / "coco" / "data.yaml", tmp_path / "back", "coco", "yolo")
    for name, text in _ROWS.items():
        written = label_path(tmp_path / "back" / "images" / "train" / name).read_text()
        assert written == (text or "")
    spec = yaml.safe_load((tmp_path / "back" / "data.yaml").read_text())
    assert spec["names"] == {0: "a", 1: "b"} and spec["flip_idx"] == [0, 2, 1]
    assert spec["kpt_names"] == {0: ["x", "l", "r"], 1: ["x", "l", "r"]} and spec["kpt_shape"] == [3, 3]
    assert check(tmp_path / "coco" / "data.yaml").ok


def test_pixel_coordinates_of_the_converted_coco(tmp_path: Path) -> None:
    src = _write_yolo(tmp_path / "src", {"a.jpg": _ROWS["a.jpg"]})
    convert(src, tmp_path / "coco", "yolo", "coco")
    first = resolve_data(tmp_path / "coco" / "data.yaml").load_split("train").annotations[0]
    np.testing.assert_allclose(first.bbox, [0.375 * 64, 0.25 * 48, 16, 24])  # cx cy w h -> x y w h
    np.testing.assert_allclose(first.keypoints, [[28, 15, 2], [36, 19.2, 1], [0, 0, 0]])
    assert first.category_id == 1  # class 0 -> category 1


def test_keypoint_names_come_from_kpt_names_coco_or_are_invented(tmp_path: Path, tiny_sample: Path) -> None:
    convert(tiny_sample, tmp_path / "y", "coco", "yolo")
    spec = yaml.safe_load((tmp_path / "y" / "data.yaml").read_text())
    del spec["kpt_names"]
    (tmp_path / "y" / "data.yaml").write_text(yaml.safe_dump(spec))
    assert resolve_data(tmp_path / "y" / "data.yaml").load_split("val").schema.name == "coco17"

    src = _write_yolo(tmp_path / "five", {"a.jpg": ""}, kpt_shape=[5, 3], flip_idx=[1, 0, 2, 4, 3])
    schema = resolve_data(src).load_split("val").schema  # no people: only the schema matters
    assert schema.names == ["kp0", "kp1", "kp2", "kp3", "kp4"]
    assert sorted(schema.flip_pairs) == [(0, 1), (3, 4)]


def test_resolve_data_reads_a_yolo_yaml_once(tmp_path: Path, tiny_sample: Path) -> None:
    """`posekit train/val/check --data their.yaml`: the same people as the COCO source, converted once."""
    convert(tiny_sample, tmp_path / "y", "coco", "yolo")
    yaml_path = tmp_path / "y" / "data.yaml"
    config = resolve_data(yaml_path)
    assert config.source == yaml_path
    original = resolve_data(tiny_sample).load_split("train")
    _assert_same_people(config.load_split("train"), _people(original), size=320)
    assert check(yaml_path).ok

    cached = sorted((tmp_path / "home" / "converted").iterdir())
    assert len(cached) == 1 and resolve_data(yaml_path).train.json_path.parent == cached[0]  # reused
    label = tmp_path / "y" / "labels" / "train" / "000001.txt"
    label.write_text(label.read_text().splitlines()[0] + "\n")  # edit the labels: a new copy is made
    assert len(resolve_data(yaml_path).load_split("train").annotations) == 10 - 1
    assert len(list((tmp_path / "home" / "converted").iterdir())) == 2


@pytest.mark.parametrize("name", ["coco/test_coco.json", "posetrack18/annotations/test_posetrack18_val.json"])
def test_shared_data_round_trip(shared_data: Path, tmp_path: Path, name: str) -> None:
    """Real data: crowd regions dropped, boxes clipped to the image (PoseTrack's leave it), labelled points
    outside the image unlabelled, the rest to 1e-6 of the image size; PoseTrack's file names hold images/."""
    src = tmp_path / "src" / Path(name).name
    src.parent.mkdir()
    raw = json.loads((shared_data / name).read_text())
    raw["annotations"][1]["iscrowd"] = 1
    src.write_text(json.dumps(raw))
    images = (shared_data / name).parent.parent if "posetrack" in name else (shared_data / name).parent
    report = convert(src, tmp_path / "yolo", "coco", "yolo", images=images)
    assert any(line.startswith("1 crowd region") for line in report.lost)
    convert(tmp_path / "yolo" / "data.yaml", tmp_path / "coco", "yolo", "coco")
    original = resolve_data(src, images=images).load_split("train")
    back = resolve_data(tmp_path / "coco" / "data.yaml").load_split("train")
    _assert_same_people(back, _expected_after_yolo(original), size=1920)
    assert check(tmp_path / "coco" / "data.yaml").ok


def test_shared_animal_species_stay_classes(shared_data: Path, tmp_path: Path) -> None:
    convert(shared_data / "ap10k" / "test_ap10k.json", tmp_path / "yolo", "coco", "yolo")
    spec = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())
    assert len(spec["names"]) == 54 and spec["names"][0] == "antelope"  # every species, indices 0..53
    classes = [
        line.split()[0]
        for p in (tmp_path / "yolo" / "labels").rglob("*.txt")
        for line in p.read_text().splitlines()
    ]
    assert sorted(classes) == ["0", "25"]  # categories 1 and 26


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0 0.5 0.5 0.2 0.2 0.5 0.5 2 0.5 0.5 2\n", "kpt_shape [3, 3] needs 14"),
        ("0 0.5 0.5 0.2 0.2 0.5 0.5 0.5 0.5 0.5 0.5\n", "it fits kpt_shape [3, 2]"),
        ("0 32 24 10 10 0.5 0.5 2 0.5 0.5 2 0 0 0\n", "not normalised to 0..1 (pixels?)"),
        ("0 0.5 0.5 0.2 0.2 0.5 0.5 3 0.5 0.5 2 0 0 0\n", "visibility 3"),
        ("7 0.5 0.5 0.2 0.2 0.5 0.5 2 0.5 0.5 2 0 0 0\n", "class 7 is not one of the classes [0, 1]"),
        ("0 0.5 0.5 0 0.2 0.5 0.5 2 0.5 0.5 2 0 0 0\n", "box width/height 0/0.2"),
        ("0 0.5 0.5 0.2 0.2 0.5 x 2 0.5 0.5 2 0 0 0\n", "'x' is not a number"),
    ],
)
def test_a_bad_row_is_one_message_with_file_line_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    src = _write_yolo(tmp_path / "src", {"a.jpg": _ROWS["a.jpg"] + text})
    with pytest.raises(DataError) as error:
        convert(src, tmp_path / "out", "yolo", "coco")
    message = str(error.value)
    assert "a.txt:3: " in message and expected in message and "Fix:" in message
    assert not (tmp_path / "out").exists()  # nothing half-written
    report = check(src)  # `posekit check their.yaml` lists the defect instead of raising
    assert not report.ok and report.errors[0].file.endswith("a.txt:3")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kpt_shape": [3, 4]}, "kpt_shape is [3, 4]"),
        ({"flip_idx": [1, 2, 0]}, "flip_idx must list"),
        ({"kpt_names": {0: ["a", "b"]}}, "kpt_names must give 3 distinct names"),
        ({"train": "images/missing"}, "is not a folder nor a .txt list"),
    ],
)
def test_a_bad_yaml_field_is_named(tmp_path: Path, fields: dict, expected: str) -> None:
    src = _write_yolo(tmp_path / "src", {"a.jpg": ""}, **fields)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        resolve_data(src)


def test_coco_yolo_coco_keeps_a_custom_skeleton_and_sigmas(tiny_sample: Path, tmp_path: Path) -> None:
    """YOLO has no field for them: posekit keeps them in the YOLO YAML's `schema:` (Ultralytics ignores it)
    and reads them back; nothing of the schema is listed as lost because nothing is."""
    sample = yaml.safe_load(tiny_sample.read_text())
    skeleton, sigmas = [[0, 1], [1, 3], [5, 6]], [0.05] * 17
    data = tmp_path / "data.yaml"
    data.write_text(
        yaml.safe_dump(
            {"path": str(tiny_sample.parent), "train": sample["train"], "val": sample["val"],
             "schema": {"skeleton": skeleton, "sigmas": sigmas}}
        )
    )  # fmt: skip
    report = convert(data, tmp_path / "yolo", "coco", "yolo")
    assert not any("skeleton" in line or "sigmas" in line for line in report.lost)
    assert any(note.startswith("skeleton and sigmas kept in `schema:`") for note in report.notes)
    spec = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())
    assert spec["schema"] == {"skeleton": skeleton, "sigmas": sigmas}
    back = convert(tmp_path / "yolo" / "data.yaml", tmp_path / "coco", "yolo", "coco")
    assert "Lost: nothing" in str(back) and not back.lost
    schema = resolve_data(tmp_path / "coco" / "data.yaml").load_split("train").schema
    assert [list(p) for p in schema.skeleton] == skeleton and schema.sigmas == sigmas
    category = json.loads(next((tmp_path / "coco").rglob("*train*.json")).read_text())["categories"][0]
    assert category["skeleton"] == [[a + 1, b + 1] for a, b in skeleton]  # 1-based in the COCO file
