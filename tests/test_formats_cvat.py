"""CVAT exports ("COCO Keypoints 1.0" JSON, "CVAT for images 1.1" XML) to COCO, quirks included.

The files follow the documented layouts: Datumaro's COCO keypoints test asset (which CVAT's exporter
writes) with CVAT's attributes, and the XML example of CVAT's ``format-xml.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.datasets.data_config import resolve_data
from posekit.datasets.formats import convert
from posekit.errors import DataError
from posekit.tasks.check import check


def _image(path: Path, width: int = 200, height: int = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.zeros((height, width, 3), np.uint8))


def _coco_export(root: Path, subset: str = "default", annotations: list | None = None) -> Path:
    """An unzipped CVAT "COCO Keypoints 1.0" export: images/<subset>/, annotations/person_keypoints_*.json."""
    _image(root / "images" / subset / "a.jpg")
    _image(root / "images" / subset / "b.jpg")
    export = {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {
            "contributor": "",
            "date_created": "",
            "description": "",
            "url": "",
            "version": "",
            "year": "",
        },
        "categories": [
            # the skeleton label (index 0), then its 3 point labels (indices 1-3, no category), then "car"
            {
                "id": 1,
                "name": "person",
                "supercategory": "",
                "keypoints": ["1", "2", "3"],
                "skeleton": [[1, 2], [2, 4]],
            },
            {"id": 5, "name": "car", "supercategory": "", "keypoints": [], "skeleton": []},
        ],
        "images": [
            {
                "id": 1,
                "width": 200,
                "height": 100,
                "file_name": "a.jpg",
                "license": 0,
                "flickr_url": "",
                "coco_url": "",
                "date_captured": 0,
            },
            {
                "id": 2,
                "width": 200,
                "height": 100,
                "file_name": "b.jpg",
                "license": 0,
                "flickr_url": "",
                "coco_url": "",
                "date_captured": 0,
            },
        ],
        "annotations": annotations
        if annotations is not None
        else [
            {  # outside point 3 keeps its x, y; point 2 occluded; a track id among the attributes
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [],
                "area": 600.0,
                "bbox": [10.0, 20.0, 30.0, 20.0],
                "iscrowd": 0,
                "attributes": {"occluded": False, "track_id": 4, "keyframe": True},
                "keypoints": [12.5, 22.0, 2, 30.0, 35.5, 1, 55.0, 60.0, 0],
                "num_keypoints": 2,
            },
            {  # one point only: CVAT writes a zero-sized box around it
                "id": 2,
                "image_id": 2,
                "category_id": 1,
                "segmentation": [],
                "area": 0.0,
                "bbox": [70.0, 40.0, 0.0, 0.0],
                "iscrowd": 0,
                "attributes": {"occluded": False},
                "keypoints": [0, 0, 0, 70.0, 40.0, 2, 0, 0, 0],
                "num_keypoints": 1,
            },
            {  # every point outside: nothing to place a box on
                "id": 3,
                "image_id": 2,
                "category_id": 1,
                "segmentation": [],
                "area": 0.0,
                "bbox": [0, 0, 0, 0],
                "iscrowd": 0,
                "attributes": {},
                "keypoints": [5, 5, 0, 6, 6, 0, 7, 7, 0],
                "num_keypoints": 0,
            },
            {
                "id": 4,
                "image_id": 1,
                "category_id": 5,
                "segmentation": [],
                "area": 4.0,
                "bbox": [1, 1, 2, 2],
                "iscrowd": 0,
            },
        ],
    }
    path = root / "annotations" / f"person_keypoints_{subset}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(export))
    return path


def test_coco_keypoints_export_becomes_the_expected_people(tmp_path: Path) -> None:
    src = _coco_export(tmp_path / "export")
    report = convert(src, tmp_path / "coco", "cvat")
    assert report.splits["train"] == {"images": 2, "people": 2, "crowd": 0}
    notes = "\n".join(report.notes)
    assert "1 skeleton(s) with every point outside" in notes and "1 zero-sized box" in notes
    assert "1 annotation(s) of labels that are not skeletons dropped" in notes
    assert "1 skeleton edge(s)" in notes  # [2, 4]: node 4 is not one of the 3 points
    data = resolve_data(tmp_path / "coco" / "data.yaml").load_split("train")
    assert data.schema.names == ["1", "2", "3"] and data.schema.skeleton == [(0, 1)]
    first, second = data.annotations
    np.testing.assert_allclose(first.keypoints, [[12.5, 22, 2], [30, 35.5, 1], [0, 0, 0]])  # outside: v=0
    np.testing.assert_allclose(first.bbox, [10, 20, 30, 20])
    assert first.extra == {"track_id": 4}
    np.testing.assert_allclose(second.bbox, [69.5, 39.5, 1, 1])  # 1 pixel around the single point
    assert check(tmp_path / "coco" / "data.yaml").ok


def test_cvat_to_yolo_goes_through_coco(tmp_path: Path) -> None:
    src = _coco_export(tmp_path / "export")
    report = convert(src, tmp_path / "y", "cvat", "yolo")
    assert any("zero-sized box" in note for note in report.notes)  # the CVAT reader's notes come along
    assert not any(line.startswith("the skeleton") for line in report.lost)  # "1", "2", "3": no preset's
    assert any(note.startswith("skeleton kept in `schema:`") for note in report.notes)  # YOLO's YAML has it
    rows = (tmp_path / "y" / "labels" / "train" / "a.txt").read_text().split()
    assert rows[:5] == ["0", "0.125", "0.3", "0.15", "0.2"]  # box 10, 20, 30, 20 in a 200x100 image
    assert rows[5:] == ["0.0625", "0.22", "2", "0.15", "0.355", "1", "0", "0", "0"]
    assert resolve_data(tmp_path / "y" / "data.yaml").load_split("train").schema.names == ["1", "2", "3"]


def test_subsets_of_an_export_folder_become_train_and_val(tmp_path: Path) -> None:
    _coco_export(tmp_path / "export", "train")
    _coco_export(tmp_path / "export", "val")
    report = convert(tmp_path / "export", tmp_path / "coco", "cvat")
    assert set(report.splits) == {"train", "val"}
    config = resolve_data(tmp_path / "coco" / "data.yaml")
    assert config.train.json_path.name == "train.json" and config.val.json_path.name == "val.json"
    assert config.val.images.resolve() == (tmp_path / "export" / "images" / "val").resolve()


def test_empty_exports_say_what_is_missing(tmp_path: Path) -> None:
    src = _coco_export(tmp_path / "no_skeletons", annotations=[])
    with pytest.raises(
        DataError, match=r"holds no skeletons \(2 image\(s\)\).*Fix: annotate with a skeleton"
    ):
        convert(src, tmp_path / "a", "cvat")
    raw = json.loads(src.read_text())
    raw["images"] = []
    src.write_text(json.dumps(raw))
    with pytest.raises(DataError, match="the export holds no images"):
        convert(src, tmp_path / "b", "cvat")
    src.write_text('{"images": [')
    with pytest.raises(DataError, match="malformed JSON at line 1"):
        convert(src, tmp_path / "c", "cvat")


_SVG = (
    '<line x1="36.8" y1="47.7" x2="86.8" y2="10.7" stroke="black" data-type="edge" data-node-from="2" '
    'stroke-width="0.5" data-node-to="4"></line>'
    '<line x1="25.1" y1="22.6" x2="36.8" y2="47.7" stroke="black" data-type="edge" data-node-from="1" '
    'stroke-width="0.5" data-node-to="2"></line>'
    '<circle r="1.5" cx="25.1" cy="22.6" data-type="element node" data-element-id="1" data-node-id="1" '
    'data-label-name="head"></circle>'
    '<circle r="1.5" cx="36.8" cy="47.7" data-type="element node" data-element-id="2" data-node-id="2" '
    'data-label-name="hip"></circle>'
    '<circle r="1.5" cx="86.8" cy="10.7" data-type="element node" data-element-id="4" data-node-id="4" '
    'data-label-name="foot"></circle>'
)


def _xml_export(root: Path) -> Path:
    """An unzipped "CVAT for images 1.1" export (annotations.xml + images/), as in CVAT's format-xml.md."""
    _image(root / "images" / "frame_000.jpg", 320, 240)
    _image(root / "images" / "frame_001.jpg", 320, 240)
    svg = _SVG.replace("<", "&lt;").replace(">", "&gt;")
    labels = "".join(
        f"<label><name>{n}</name><type>points</type><attributes></attributes><parent>s1</parent></label>"
        for n in ("head", "hip", "foot")
    )
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><id>4</id><name>pose</name><size>2</size><mode>annotation</mode>
    <labels>
      <label><name>car</name><attributes></attributes></label>
      <label><name>s1</name><type>skeleton</type><attributes></attributes><svg>{svg}</svg></label>
      {labels}
    </labels></task><dumped>2024-01-01</dumped></meta>
  <image id="0" name="frame_000.jpg" width="320" height="240">
    <box label="car" xtl="1.00" ytl="2.00" xbr="30.00" ybr="40.00" occluded="0" z_order="4"></box>
    <skeleton label="s1" source="manual" z_order="0">
      <points label="head" occluded="0" source="manual" outside="0" points="54.47,94.81"></points>
      <points label="hip" occluded="1" source="manual" outside="0" points="68.02,162.34"></points>
      <points label="foot" occluded="0" source="manual" outside="1" points="125.87,62.85"></points>
    </skeleton>
  </image>
  <image id="1" name="frame_001.jpg" width="320" height="240">
    <box label="car" xtl="100.00" ytl="50.00" xbr="200.00" ybr="230.00" occluded="0" group_id="7"></box>
    <skeleton label="s1" source="manual" z_order="0" group_id="7">
      <points label="head" occluded="0" source="manual" outside="0" points="150,60"></points>
      <points label="foot" occluded="0" source="manual" outside="0" points="160,220"></points>
    </skeleton>
  </image>
</annotations>
"""
    (root / "annotations.xml").write_text(xml)
    return root / "annotations.xml"


def test_cvat_for_images_xml_becomes_the_expected_people(tmp_path: Path) -> None:
    _xml_export(tmp_path / "export")
    report = convert(tmp_path / "export", tmp_path / "coco", "cvat")
    assert report.splits["train"] == {"images": 2, "people": 2, "crowd": 0}
    data = resolve_data(tmp_path / "coco" / "data.yaml").load_split("train")
    assert data.schema.names == ["head", "hip", "foot"]  # the svg's circle order
    assert sorted(data.schema.skeleton) == [(0, 1), (1, 2)]  # node ids 1, 2, 4 -> positions 0, 1, 2
    first, second = data.annotations
    np.testing.assert_allclose(first.keypoints, [[54.47, 94.81, 2], [68.02, 162.34, 1], [0, 0, 0]])
    np.testing.assert_allclose(first.bbox, [54.47, 94.81, 68.02 - 54.47, 162.34 - 94.81])  # around the points
    np.testing.assert_allclose(second.keypoints, [[150, 60, 2], [0, 0, 0], [160, 220, 2]])  # hip not drawn
    np.testing.assert_allclose(second.bbox, [100, 50, 100, 180])  # the box grouped with the skeleton
    assert check(tmp_path / "coco" / "data.yaml").ok


def test_cvat_video_xml_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "annotations.xml"
    path.write_text('<annotations><version>1.1</version><track id="0" label="s1"></track></annotations>')
    with pytest.raises(DataError, match="holds tracks.*export as 'CVAT for images 1.1'"):
        convert(path, tmp_path / "out", "cvat")
