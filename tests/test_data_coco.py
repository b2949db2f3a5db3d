"""load_coco on the real samples in ../shared/data and their quirks; the clean COCO dict evaluates as
ground truth in pycocotools (AP 1.0 against itself)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.datasets.coco_keypoints import load_coco, parse_coco
from posekit.datasets.schema import KeypointSchema, get_preset
from posekit.errors import ConfigError, DataError


@pytest.mark.parametrize(
    ("relative", "schema", "k", "images", "people"),
    [
        ("coco/test_coco.json", "coco17", 17, 4, 14),
        ("coco/test_coco_wholebody.json", "coco17", 17, 4, 14),
        ("onehand10k/test_onehand10k.json", "hand21", 21, 4, 4),
        ("300w/test_300w.json", "face68", 68, 2, 2),
        ("ap10k/test_ap10k.json", None, 17, 2, 2),
        ("posetrack18/annotations/test_posetrack18_val.json", "person", 17, 3, 14),
        ("posetrack18/annotations/val/009473_mpii_test.json", "person", 17, 1, 2),
    ],
)
def test_shared_data_loads(
    shared_data: Path, relative: str, schema: str | None, k: int, images: int, people: int
) -> None:
    ds = load_coco(shared_data / relative)
    assert ds.schema.num_keypoints == k and (schema is None or ds.schema.name == schema)
    assert (len(ds.images), len(ds.annotations)) == (images, people)
    for info in ds.images.values():
        assert info.path.is_file()
    for ann in ds.annotations:
        assert ann.keypoints.shape == (k, 3) and ann.bbox.shape == (4,) and ann.area > 0
        assert ann.num_keypoints == int((ann.keypoints[:, 2] > 0).sum())
        assert set(np.unique(ann.keypoints[:, 2])) <= {0.0, 1.0, 2.0}
    assert sum(len(v) for v in ds.by_image().values()) == people and set(ds.by_image()) == set(ds.images)


def test_quirks(shared_data: Path) -> None:
    coco = load_coco(shared_data / "coco/test_coco.json")
    assert sum(a.num_keypoints == 0 for a in coco.annotations) == 2  # people with no labelled keypoint
    assert coco.schema == get_preset("coco17")

    track = load_coco(shared_data / "posetrack18/annotations/test_posetrack18_val.json")
    assert track.image_root == shared_data / "posetrack18"  # file_name is relative to posetrack18/
    ann = track.annotations[0]
    assert ann.iscrowd is False and "track_id" in ann.extra and "bbox_head" in ann.extra
    assert "ignore_regions_x" in next(iter(track.images.values())).extra
    assert track.schema.flip_pairs[0] == (3, 4)  # left_ear/right_ear inferred from the names
    assert (
        track.schema.sigmas[0] == 0.026 and track.schema.sigmas[1] == 0.05
    )  # nose from COCO, head_bottom default

    face = load_coco(shared_data / "300w/test_300w.json")
    assert face.schema.names[:2] == ["kp0", "kp1"] and (0, 16) in face.schema.flip_pairs
    assert face.schema.sigmas == get_preset("face68").sigmas
    assert face.annotations[0].extra["center"] == [489.5, 503.5]
    assert [i.severity for i in face.issues] == ["warning"]

    animals = load_coco(shared_data / "ap10k/test_ap10k.json")  # two species sharing one keypoint set
    assert {a.category_id for a in animals.annotations} == {1, 26}
    assert animals.to_coco_dict()["annotations"][0]["category_id"] == animals.category_id


def test_wholebody(shared_data: Path) -> None:
    path = shared_data / "coco/test_coco_wholebody.json"
    body, whole = load_coco(path), load_coco(path, wholebody=True)
    assert whole.schema.name == "wholebody133"
    raw = json.loads(path.read_text())["annotations"][0]
    b, w = body.annotations[0], whole.annotations[0]
    np.testing.assert_array_equal(w.keypoints[:17], b.keypoints)
    np.testing.assert_allclose(w.keypoints[23:91, :2], np.reshape(raw["face_kpts"], (68, 3))[:, :2])
    assert set(np.unique(w.keypoints[:, 2])) <= {0.0, 1.0, 2.0}  # part scores in (0, 1] count as labelled
    assert "face_kpts" in b.extra and "face_kpts" not in w.extra
    with pytest.raises(DataError, match="drop --wholebody"):
        load_coco(shared_data / "onehand10k/test_onehand10k.json", wholebody=True)


def test_coco_dict_is_pycocotools_ground_truth(shared_data: Path) -> None:
    ds = load_coco(shared_data / "coco/test_coco.json")
    gt_dict = ds.to_coco_dict()
    json.dumps(gt_dict)  # plain JSON types only
    results = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "keypoints": a["keypoints"],
            "score": 1.0,
        }
        for a in gt_dict["annotations"]
        if a["num_keypoints"] > 0
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(results), "keypoints")
        evaluator.params.kpt_oks_sigmas = ds.schema.sigmas_array
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert evaluator.stats[0] == pytest.approx(1.0)
    assert gt_dict["categories"][0]["skeleton"][0] == [16, 14]  # 1-based again


def test_image_root_override_and_schema_override(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "onehand10k/test_onehand10k.json"
    moved = tmp_path / "ann.json"
    moved.write_text(src.read_text())
    with pytest.raises(DataError, match="none of the 4 image files were found"):
        load_coco(moved)
    ds = load_coco(moved, images=src.parent, schema={"sigmas": [0.03] * 21})
    assert ds.image_root == src.parent and ds.schema.sigmas == [0.03] * 21
    custom = KeypointSchema.from_names([f"p{i}" for i in range(21)])
    assert load_coco(src, schema=custom).schema.names[0] == "p0"
    with pytest.raises(ConfigError, match="sigmas"):
        load_coco(src, schema={"sigmas": [0.03] * 3})


def test_parse_returns_partial_data_and_every_issue(tmp_path: Path, shared_data: Path) -> None:
    data = json.loads((shared_data / "coco/test_coco.json").read_text())
    data["annotations"][0]["keypoints"][2] = 5
    data["annotations"][1]["bbox"] = [0, 0, -1, 10]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    ds, issues = parse_coco(path, images=shared_data / "coco")
    assert ds is not None and len(ds.annotations) == 12
    assert [i.annotation_id for i in issues if i.severity == "error"] == [
        data["annotations"][0]["id"],
        data["annotations"][1]["id"],
    ]
