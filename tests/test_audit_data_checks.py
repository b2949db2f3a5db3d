"""posekit.label_audit.data_checks on generated people with known defects, and on the injected sample."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from posekit.datasets.data_config import resolve_data
from posekit.datasets.schema import get_preset
from posekit.label_audit.data_checks import (
    bone_findings,
    data_findings,
    duplicate_findings,
    outside_box_findings,
    visibility_findings,
)
from posekit.label_audit.findings import SCORE_MAX
from posekit.label_audit.inject import inject_errors, score_findings
from posekit.label_audit.people import People
from posekit.samples import locate

SCHEMA = get_preset("coco17")
# A standing person seen from the front, height 1, y down (their left on the image's right).
TEMPLATE = np.array(
    [
        [0.0, 0.08], [0.02, 0.06], [-0.02, 0.06], [0.05, 0.07], [-0.05, 0.07],  # head
        [0.12, 0.2], [-0.12, 0.2], [0.15, 0.35], [-0.15, 0.35], [0.16, 0.48], [-0.16, 0.48],  # arms
        [0.08, 0.52], [-0.08, 0.52], [0.09, 0.74], [-0.09, 0.74], [0.09, 0.95], [-0.09, 0.95],  # legs
    ]
)  # fmt: skip


def _people(n: int, seed: int = 0) -> tuple[People, np.ndarray]:
    """``n`` people of random size and place, one per image, with 1 % label noise; and their heights."""
    rng = np.random.default_rng(seed)
    height = rng.uniform(80, 200, n)
    origin = rng.uniform(0, 400, (n, 2))
    xy = origin[:, None] + height[:, None, None] * (TEMPLATE + rng.normal(0, 0.01, (n, 17, 2)))
    keypoints = np.concatenate([xy, np.full((n, 17, 1), 2.0)], axis=-1)
    people = People(np.arange(1, n + 1), np.arange(1, n + 1), keypoints, np.zeros((n, 4)), np.zeros(n))
    _fit_boxes(people)
    return people, height


def _fit_boxes(people: People) -> None:
    """Boxes around the labelled points, grown by 5 % on each side; area = box area."""
    xy = people.keypoints[..., :2]
    low, high = xy.min(axis=1), xy.max(axis=1)
    pad = 0.05 * (high - low)
    people.boxes[:] = np.concatenate([low - pad, high - low + 2 * pad], axis=1)
    people.areas[:] = people.boxes[:, 2] * people.boxes[:, 3]


def test_clean_people_raise_nothing() -> None:
    people, _ = _people(80)
    assert data_findings(people, SCHEMA) == []


def test_a_displaced_knee_is_named_by_its_two_long_bones() -> None:
    people, height = _people(80)
    people.keypoints[5, 13, 0] += 0.3 * height[5]  # left knee moved sideways by 30 % of the height
    findings = data_findings(people, SCHEMA)  # the knee also left its box
    assert {(f.annotation_id, f.kind, f.joint) for f in findings} == {
        (6, "bone_length", "left_knee"),
        (6, "outside_box", "left_knee"),
    }
    bones = next(f for f in findings if f.kind == "bone_length")
    assert "left_ankle-left_knee" in bones.evidence and "left_knee-left_hip" in bones.evidence


def test_one_long_bone_names_both_ends() -> None:
    people, _ = _people(80)
    elbow, wrist = people.keypoints[7, 7, :2], people.keypoints[7, 9, :2]
    people.keypoints[7, 9, :2] = elbow + 2.2 * (wrist - elbow)  # forearm 2.2x as long, same direction
    findings = bone_findings(people, SCHEMA)
    assert [(f.annotation_id, f.joint) for f in findings] == [(8, "left_elbow-left_wrist")]
    ratio = float(re.search(r"is ([\d.]+)x its usual length", findings[0].evidence).group(1))
    assert ratio == pytest.approx(2.2, rel=0.2)  # 1 % label noise makes each forearm +-10 %


def test_a_swapped_pair_is_named_and_explains_its_long_bones() -> None:
    people, _ = _people(80)
    people.keypoints[9, [13, 14]] = people.keypoints[9, [14, 13]]  # knees exchanged: legs cross
    findings = data_findings(people, SCHEMA)
    assert [(f.annotation_id, f.kind, f.joint) for f in findings] == [(10, "swap", "left_knee/right_knee")]
    assert findings[0].fix == "exchange left_knee and right_knee"
    people.keypoints[9, :, :2] = people.keypoints[9, SCHEMA.flip_index, :2]  # now mirrored throughout
    people.keypoints[9, [13, 14]] = people.keypoints[9, [14, 13]]  # (except the knees): consistent
    assert data_findings(people, SCHEMA) == []  # a whole mirrored person needs a model to be seen


def test_a_box_three_times_too_large() -> None:
    people, _ = _people(80)
    people.boxes[3, 2:] *= 3
    people.areas[3] *= 9
    findings = data_findings(people, SCHEMA)
    assert [(f.annotation_id, f.kind) for f in findings] == [(4, "box_size")]
    assert float(re.search(r"box is ([\d.]+)x larger", findings[0].evidence).group(1)) == pytest.approx(
        3, rel=0.05
    )


def test_points_beyond_the_margin_outside_the_box() -> None:
    people, height = _people(3)
    box = people.boxes[0]
    people.keypoints[0, 9, 0] = box[0] + box[2] * 1.05  # left wrist 5 % of the width out: within the margin
    people.keypoints[1, 9, 0] = people.boxes[1, 0] + people.boxes[1, 2] * 1.5  # 50 % out
    findings = outside_box_findings(people, SCHEMA)
    assert [(f.annotation_id, f.joint) for f in findings] == [(2, "left_wrist")]
    assert findings[0].evidence.startswith(f"{0.4 * people.boxes[1, 2]:.0f} px outside")


def test_visibility_flags_inconsistent_with_positions() -> None:
    people, _ = _people(2)
    people.keypoints[0, 3, 2] = 0  # left ear: v=0 but placed
    people.keypoints[1, 0] = 0, 0, 2  # nose: v=2 at (0, 0)
    findings = visibility_findings(people, SCHEMA)
    assert [(f.annotation_id, f.joint, f.score) for f in findings] == [
        (1, "left_ear", SCORE_MAX),
        (2, "nose", SCORE_MAX),
    ]
    assert "v=0" in findings[0].evidence and "(0, 0)" in findings[1].evidence


def test_a_person_labelled_twice_in_one_image() -> None:
    people, height = _people(3)
    people.image_ids[:] = 1
    people.keypoints[1] = people.keypoints[0] + [1.0, -1.0, 0.0]  # the same person, one pixel apart
    people.keypoints[2] = people.keypoints[0] + [0.3 * height[0], 0.0, 0.0]  # a neighbour, same pose
    _fit_boxes(people)
    findings = duplicate_findings(people, SCHEMA)
    assert [(f.annotation_id, f.kind) for f in findings] == [(2, "duplicate")]
    assert "annotation 1: OKS 0.99 over 17 joints" in findings[0].evidence
    people.image_ids[1] = 2  # in another image: two people who look alike
    assert duplicate_findings(people, SCHEMA) == []


@pytest.fixture
def sample_train(sample_data, monkeypatch):
    monkeypatch.setattr("posekit.samples.sample_images.sample_data_path", lambda: sample_data)
    return resolve_data(locate("sample")).load_split("train")


def test_data_only_mode_on_the_injected_sample(sample_train) -> None:
    """Visibility and duplicates are found exactly; swaps and displaced points through their bones."""
    raw = json.loads(sample_train.json_path.read_bytes())
    rates = {"swap": 0.15, "displaced": 0.15, "duplicate": 0.1, "visibility": 0.1}
    damaged, injected = inject_errors(raw, SCHEMA, rates, seed=1)
    findings = data_findings(People.from_coco(damaged, 17), SCHEMA)
    scores = score_findings(findings, injected)
    assert scores["visibility"].recall == scores["duplicate"].recall == 1.0
    assert scores["visibility"].precision == scores["duplicate"].precision == 1.0
    # without a model, small moves of head points and swaps of nearby points leave the skeleton plausible
    assert scores["displaced"].injected == scores["swap"].injected == 9
    assert scores["displaced"].recall >= 0.6 and scores["swap"].recall >= 0.6
    assert scores["bone_length"].precision >= 0.85 and scores["swap"].precision >= 0.85
