"""``--fix swaps`` undoes injected left/right swaps in a copy, with a change log; findings.jpg draws the top
findings (label | prediction)."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from posekit.datasets.schema import get_preset
from posekit.errors import ConfigError
from posekit.label_audit.api import audit
from posekit.label_audit.fix import check_fix, fix_swaps
from posekit.label_audit.inject import inject_errors
from posekit.label_audit.model_checks import ModelOutput
from posekit.label_audit.people import People
from posekit.report.findings_gallery import save_findings_gallery

SCHEMA = get_preset("coco17")
K = 17


@pytest.fixture
def damaged(sample_data, tmp_path):
    """The fixture sample's val split with 10 % of people given one swapped pair and one more labelled
    mirrored throughout; a model that sees the truth; the audit of it."""
    truth = json.loads((sample_data.parent / "val.json").read_text())
    coco, injected = inject_errors(truth, SCHEMA, {"swap": 0.1}, seed=1)
    mirrored = next(
        a
        for a in coco["annotations"]
        if a["id"] not in {e.annotation_id for e in injected} and a["num_keypoints"] > 12
    )
    points = np.asarray(mirrored["keypoints"], float).reshape(K, 3)
    mirrored["keypoints"] = points[SCHEMA.flip_index].ravel().tolist()
    path = tmp_path / "val.json"
    path.write_text(json.dumps(coco))
    clean = People.from_coco(truth, K)
    row = {a: i for i, a in enumerate(clean.annotation_ids.tolist())}

    def predict(dataset, people: People) -> ModelOutput:
        rows = [row[a] for a in people.annotation_ids.tolist()]
        return ModelOutput(clean.keypoints[rows, :, :2], np.full((len(rows), K), 0.9), mode="held_out")

    report = audit(path, images=sample_data.parent / "images" / "val", predict=predict)
    return truth, path, injected, mirrored["id"], report


def test_fix_swaps_restores_the_truth_in_a_copy_with_a_change_log(damaged, tmp_path) -> None:
    truth, path, injected, mirrored_id, report = damaged
    before = path.read_bytes()
    out = tmp_path / "run"
    out.mkdir()
    files, changes = fix_swaps(report, out)
    assert files == [out / "val.fixed.json"] and path.read_bytes() == before  # never the original
    fixed = {
        a["id"]: np.reshape(a["keypoints"], (K, 3)) for a in json.loads(files[0].read_text())["annotations"]
    }
    for a in truth["annotations"]:
        np.testing.assert_allclose(fixed[a["id"]], np.reshape(a["keypoints"], (K, 3)), atol=0.01)
    pairs = {(c.annotation_id, c.joint_pair) for c in changes if c.scope == "pair"}
    assert pairs == {(e.annotation_id, e.joint) for e in injected}
    whole = [c for c in changes if c.annotation_id == mirrored_id]
    assert len(whole) == len(SCHEMA.flip_pairs) and {c.scope for c in whole} == {"whole body"}
    assert len(changes) == len(pairs) + len(whole)  # a pair flagged by both checks is exchanged once
    rows = list(csv.DictReader((out / "changes.csv").open()))
    first = changes[0]
    assert rows[0]["annotation_id"] == str(first.annotation_id) and json.loads(rows[0]["new"]) == first.new
    assert first.new == first.old[::-1] and float(rows[0]["score"]) == first.score >= report.min_score
    assert json.loads((out / "changes.json").read_text())[0]["old"] == first.old


def test_only_swaps_are_fixed_automatically() -> None:
    check_fix(None)
    check_fix("swaps")
    with pytest.raises(ConfigError, match="only swaps can be fixed automatically"):
        check_fix("displaced")


def test_the_gallery_draws_label_and_prediction_of_each_top_finding(damaged, tmp_path) -> None:
    report = damaged[-1]
    assert len(report.findings) == 4
    path = save_findings_gallery(report, tmp_path / "findings.jpg", limit=3)
    image = cv2.imread(str(path))
    assert image.shape == (256, 6 * 192 + 5 * 2, 3)  # 6 tiles of 256x192 (8 a row)
    image = cv2.imread(str(save_findings_gallery(report, tmp_path / "all.jpg")))
    assert image.shape == (256, 8 * 192 + 7 * 2, 3)
    for split in report.splits.values():
        split.output = None  # data only: the label alone
    image = cv2.imread(str(save_findings_gallery(report, tmp_path / "data_only.jpg", limit=3)))
    assert image.shape == (256, 3 * 192 + 2 * 2, 3)
