"""Label Studio JSON exports of keypoint tasks to COCO.

The tasks follow the documented layout (Label Studio's task format and KeyPointLabels docs; the SDK's
converter test data ``data_keypoints.json``): percent coordinates, ``original_width/height``, keypoints
linked to a ``rectanglelabels`` box by ``parentID``, ``relation`` results, several annotators,
predictions, and a labelling config whose ``model_index`` gives the keypoint order.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.datasets.data_config import resolve_data
from posekit.datasets.formats import convert
from posekit.errors import ConfigError, DataError
from posekit.tasks.check import check

W, H = 216, 174  # the SDK test data's image size


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.zeros((H, W, 3), np.uint8))


def _point(rid: str, label: str, x: float, y: float, parent: str | None = None) -> dict:
    result = {
        "id": rid,
        "type": "keypointlabels",
        "value": {"x": x, "y": y, "width": 0.2285263987391647, "keypointlabels": [label]},
        "origin": "manual",
        "to_name": "image",
        "from_name": "keypoints",
        "image_rotation": 0,
        "original_width": W,
        "original_height": H,
    }
    if parent is not None:
        result["parentID"] = parent
    return result


def _box(
    rid: str, x: float, y: float, w: float, h: float, label: str = "person", rotation: float = 0
) -> dict:
    return {
        "id": rid,
        "type": "rectanglelabels",
        "value": {"x": x, "y": y, "width": w, "height": h, "rotation": rotation, "rectanglelabels": [label]},
        "origin": "manual",
        "to_name": "image",
        "from_name": "bbox",
        "image_rotation": 0,
        "original_width": W,
        "original_height": H,
    }


def _annotation(aid: int, result: list, updated: str, **flags: object) -> dict:
    return {
        "id": aid,
        "completed_by": {"id": aid, "email": f"annotator{aid}@example.test"},
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": updated,
        "updated_at": updated,
        "lead_time": 172.7,
        "task": 1,
        **flags,
    }


def _export(root: Path) -> Path:
    """Four tasks: parentID links; several annotators (a ground truth, a cancelled one); predictions only;
    keypoints without any box. Uploaded images carry Label Studio's 8-character prefix in their URL."""
    _image(root / "images" / "image1.jpg")
    _image(root / "images" / "image2.jpg")
    _image(root / "images" / "image3.jpg")
    _image(root / "images" / "photos" / "image4.jpg")
    first = [
        _point("YuLAREYKpq", "nose", 64.44444444444444, 39.290780141843975, "hplPm0Szvc"),
        _point("gD9Q-39A_4", "left_eye", 58.38849487785658, 30.78014184397163, "hplPm0Szvc"),
        _point("qwGtX1L1Nm", "right_eye", 70.50039401103231, 32.19858156028369, "hplPm0Szvc"),
        _box("hplPm0Szvc", 38.849487785658, 7.65957446808511, 47.304964539007095, 50.92198581560283),
        {"type": "relation", "to_id": "hplPm0Szvc", "from_id": "YuLAREYKpq", "direction": "right"},
    ]
    truth = [
        _box("boxA", 10, 10, 30, 60),
        _box("boxB", 60, 10, 30, 60, rotation=90),  # rotated about its top-left corner
        _point("p1", "nose", 20, 20, "boxA"),
        _point("p2", "left_eye", 25, 30),  # no parentID: linked by the relation below
        {"type": "relation", "from_id": "boxA", "to_id": "p2", "direction": "right"},
        _point("p3", "right_eye", 30, 50),  # no link at all, inside box A only
        _point("p4", "left_ear", 35, 20),  # inside both boxes: dropped
        _point("p5", "nose", 95, 95),  # inside no box: dropped
    ]
    tasks = [
        {
            "id": 10764,
            "annotations": [_annotation(11996, first, "2025-05-02T14:46:24Z")],
            "file_upload": "8f3a2b1c-image1.jpg",
            "predictions": [],
            "data": {"image": "/data/upload/18/8f3a2b1c-image1.jpg"},
        },
        {
            "id": 10765,
            "annotations": [
                _annotation(1, [_point("x", "nose", 50, 50)], "2025-05-03T10:00:00Z"),
                _annotation(2, truth, "2025-05-01T10:00:00Z", ground_truth=True),
                _annotation(3, [], "2025-05-09T10:00:00Z", was_cancelled=True),
            ],
            "data": {"image": "/data/upload/18/0a1b2c3d-image2.jpg"},
        },
        {
            "id": 10766,
            "annotations": [],
            "predictions": [{"model_version": "m1", "result": [_point("q", "nose", 5, 5)]}],
            "data": {"image": "/data/upload/18/image3.jpg"},
        },
        {
            "id": 10767,
            "annotations": [
                _annotation(4, [_point("a", "left_eye", 40, 40), _point("b", "nose", 50, 45)], "2025-05-04")
            ],
            "data": {"image": "/data/local-files/?d=photos/image4.jpg"},
        },
    ]
    path = root / "export.json"
    path.write_text(json.dumps(tasks))
    return path


def _px(x: float, y: float) -> list[float]:
    return [x / 100 * W, y / 100 * H]


def test_export_becomes_the_expected_people(tmp_path: Path) -> None:
    report = convert(_export(tmp_path / "ls"), tmp_path / "coco", "label-studio")
    notes = "\n".join(report.notes)
    assert "coco17 preset" in notes  # nose/left_eye/right_eye are COCO-17 names: its order
    assert "1 task(s) with only predictions (model output) skipped" in notes
    assert "1 task(s) annotated several times" in notes and "2 keypoint(s) not linked to one box" in notes
    data = resolve_data(tmp_path / "coco" / "data.yaml").load_split("train")
    assert data.schema.name == "coco17"
    assert [data.images[i].file_name for i in sorted(data.images)] == [
        "image1.jpg",  # the upload prefix dropped: the file is found without it
        "image2.jpg",
        "photos/image4.jpg",  # local storage: the ?d= path
    ]
    people = data.by_image()
    (one,) = people[1]
    np.testing.assert_allclose(
        one.bbox, [*_px(38.849487785658, 7.65957446808511), *_px(47.304964539007095, 50.92198581560283)]
    )
    np.testing.assert_allclose(
        one.keypoints[:3, :2],
        [
            _px(64.44444444444444, 39.290780141843975),
            _px(58.38849487785658, 30.78014184397163),
            _px(70.50039401103231, 32.19858156028369),
        ],
    )
    assert one.keypoints[:3, 2].tolist() == [2, 2, 2] and not one.keypoints[3:, 2].any()

    box_a, box_b = people[2]  # the ground-truth annotation, not the later one of annotator 1
    np.testing.assert_allclose(box_a.keypoints[:3, :2], [_px(20, 20), _px(25, 30), _px(30, 50)])
    assert box_a.keypoints[:, 2].tolist() == [2, 2, 2] + [0] * 14  # parentID, relation, inside box A only
    (x, y), (w, h) = _px(60, 10), _px(30, 60)
    np.testing.assert_allclose(box_b.bbox, [x - h, y, h, w])  # turned 90 degrees clockwise about (x, y)
    assert not box_b.keypoints[:, 2].any()

    (orphans,) = people[3]  # no box in the annotation: one person around its points
    np.testing.assert_allclose(orphans.keypoints[:2, :2], [_px(50, 45), _px(40, 40)])
    np.testing.assert_allclose(orphans.bbox, [*_px(40, 40), *np.subtract(_px(50, 45), _px(40, 40))])
    assert check(tmp_path / "coco" / "data.yaml").ok


_CONFIG = """<View>
  <Image name="image" value="$img"/>
  <KeyPointLabels name="keypoints" toName="image">
    <Label value="tail" model_index="2"/>
    <Label value="head" model_index="0"/>
    <Label value="neck" model_index="1"/>
  </KeyPointLabels>
  <RectangleLabels name="bbox" toName="image"><Label value="dog"/></RectangleLabels>
</View>"""


def test_label_config_gives_the_keypoint_order_and_image_key(tmp_path: Path) -> None:
    _image(tmp_path / "dog.jpg")
    result = [
        _box("d", 10, 10, 50, 50, "dog"),
        _point("t", "tail", 50, 50, "d"),
        _point("h", "head", 20, 20, "d"),
    ]
    tasks = [
        {"id": 1, "data": {"img": "s3://bucket/dog.jpg"}, "annotations": [_annotation(1, result, "2025")]}
    ]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    (tmp_path / "config.xml").write_text(_CONFIG)
    convert(tmp_path / "export.json", tmp_path / "coco", "label-studio", label_config=tmp_path / "config.xml")
    data = resolve_data(tmp_path / "coco" / "data.yaml").load_split("train")
    assert data.schema.names == ["head", "neck", "tail"] and data.category_name == "dog"
    np.testing.assert_allclose(
        data.annotations[0].keypoints, [[*_px(20, 20), 2], [0, 0, 0], [*_px(50, 50), 2]]
    )

    report = convert(tmp_path / "export.json", tmp_path / "alphabetical", "label-studio")
    assert any("alphabetical: pass --label-config" in note for note in report.notes)
    assert resolve_data(tmp_path / "alphabetical" / "data.yaml").load_split("train").schema.names == [
        "head",
        "tail",
    ]


def test_bad_exports_give_one_clear_message(tmp_path: Path) -> None:
    (tmp_path / "min.json").write_text(json.dumps([{"id": 1, "image": "a.jpg", "keypoints": []}]))  # JSON-MIN
    with pytest.raises(DataError, match="not a Label Studio JSON export.*Fix: export the project as 'JSON'"):
        convert(tmp_path / "min.json", tmp_path / "a", "label-studio")
    tasks = [{"id": 1, "data": {"image": "x.jpg"}, "annotations": [], "predictions": [{"result": []}]}]
    (tmp_path / "empty.json").write_text(json.dumps(tasks))
    with pytest.raises(DataError, match="none of the 1 task"):
        convert(tmp_path / "empty.json", tmp_path / "b", "label-studio")
    (tmp_path / "config.xml").write_text("<View><Image name='i' value='$image'/></View>")
    with pytest.raises(ConfigError, match="no <KeyPointLabels>"):
        convert(tmp_path / "empty.json", tmp_path / "c", "label-studio", label_config=tmp_path / "config.xml")
