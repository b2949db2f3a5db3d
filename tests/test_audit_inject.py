"""posekit.label_audit.inject: seeded, valid, one known error per damaged person; the scorer's arithmetic."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from posekit.datasets.coco_keypoints import load_coco
from posekit.datasets.schema import get_preset
from posekit.errors import ConfigError
from posekit.label_audit.findings import Finding
from posekit.label_audit.inject import InjectedError, inject_errors, score_findings

SCHEMA = get_preset("coco17")


@pytest.fixture
def train(sample_data):
    """The fixture sample's train split: raw dict, its path and image folder."""
    path = sample_data.parent / "train.json"
    return json.loads(path.read_text()), path, sample_data.parent / "images" / "train"


def _points(coco: dict) -> dict[int, np.ndarray]:
    return {a["id"]: np.asarray(a["keypoints"], float).reshape(-1, 3) for a in coco["annotations"]}


def test_injection_is_seeded_valid_and_leaves_the_input_alone(train, tmp_path) -> None:
    raw, path, images = train
    before = copy.deepcopy(raw)
    rates = {"swap": 0.1, "displaced": 0.1, "duplicate": 0.1, "visibility": 0.1, "missed": 0.1}
    damaged, injected = inject_errors(raw, SCHEMA, rates, seed=5)
    assert raw == before
    assert inject_errors(raw, SCHEMA, rates, seed=5) == (damaged, injected)
    eligible = sum(1 for a in raw["annotations"] if a["num_keypoints"] >= 5)
    assert [sum(e.kind == k for e in injected) for k in rates] == [round(0.1 * eligible)] * 5
    damaged_people = [e.other_id if e.kind == "duplicate" else e.annotation_id for e in injected]
    assert len(set(damaged_people)) == len(injected)  # each person damaged once
    (tmp_path / "damaged.json").write_text(json.dumps(damaged))
    loaded = load_coco(tmp_path / "damaged.json", images=images)  # still a valid file
    assert len(loaded.annotations) == len(raw["annotations"]) + round(0.1 * eligible)


def test_each_kind_does_what_it_says(train) -> None:
    raw, _, _ = train
    damaged, injected = inject_errors(
        raw, SCHEMA, {k: 0.1 for k in ("swap", "displaced", "visibility", "missed", "duplicate")}, seed=2
    )
    old, new = _points(raw), _points(damaged)
    area = {a["id"]: a["area"] for a in raw["annotations"]}
    for e in injected:
        if e.kind == "duplicate":
            assert new[e.annotation_id][:, 2].tolist() == old[e.other_id][:, 2].tolist()
            continue
        changed = np.flatnonzero((old[e.annotation_id] != new[e.annotation_id]).any(axis=1))
        names = [SCHEMA.names[j] for j in changed]
        if e.kind == "swap":
            a, b = changed
            assert e.joint == f"{names[0]}/{names[1]}" and [a, b] in [list(p) for p in SCHEMA.flip_pairs]
            np.testing.assert_array_equal(new[e.annotation_id][[a, b]], old[e.annotation_id][[b, a]])
        else:
            assert names == [e.joint]
            (j,) = changed
            o, n = old[e.annotation_id][j], new[e.annotation_id][j]
            if e.kind == "displaced":
                moved = math.hypot(*(n[:2] - o[:2])) / (SCHEMA.sigmas[j] * math.sqrt(area[e.annotation_id]))
                assert 4 - 0.01 <= moved <= 8 + 0.01 and n[2] == o[2]
            elif e.kind == "missed":
                assert o[2] == 2 and n.tolist() == [0, 0, 0]
            else:  # visibility: labelled <-> unlabelled, the coordinates left
                assert ((o[2] > 0) != (n[2] > 0) and (n[:2] == o[:2]).all()) or n.tolist() == [0, 0, 2]


def test_unknown_kinds_are_refused(train) -> None:
    with pytest.raises(ConfigError, match="unknown error kind"):
        inject_errors(train[0], SCHEMA, {"blur": 0.1})


def test_scorer_counts_hits_per_kind_and_among_the_top() -> None:
    injected = [
        InjectedError("swap", 1, 1, "left_knee/right_knee", ""),
        InjectedError("swap", 2, 1, "left_eye/right_eye", ""),
        InjectedError("displaced", 3, 2, "nose", ""),
        InjectedError("duplicate", 9, 2, "", "", other_id=4),
    ]
    findings = [
        Finding(1, 1, "left_knee/right_knee", "swap", 9.0, "", ""),
        Finding(5, 3, "left_hip/right_hip", "swap", 8.0, "", ""),  # nothing injected there
        Finding(3, 2, "nose-left_eye", "bone_length", 7.0, "", ""),  # a long bone reveals the displaced nose
        Finding(4, 2, "", "duplicate", 6.0, "", ""),  # names the original of the copy
        Finding(2, 1, "", "box_size", 5.0, "", ""),  # a box finding cannot reveal a swap
    ]
    scores = score_findings(findings, injected)
    assert (
        scores["swap"].injected,
        scores["swap"].found,
        scores["swap"].flagged,
        scores["swap"].correct,
    ) == (2, 1, 2, 1)
    assert scores["swap"].recall == 0.5 and scores["swap"].precision == 0.5
    assert scores["displaced"].recall == 1.0 and scores["bone_length"].precision == 1.0
    assert scores["duplicate"].recall == 1.0 and scores["box_size"].precision == 0.0
    assert math.isnan(scores["missed"].recall) and math.isnan(scores["missed"].precision)
    top = score_findings(findings, injected, top=2)
    assert top["displaced"].recall == 0.0 and top["swap"].precision == 0.5
