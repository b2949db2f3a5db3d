"""posekit.label_audit.findings: the common score scale, the order of findings and the two findings files."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from posekit.label_audit.findings import (
    SCORE_MAX,
    Finding,
    count_by_kind,
    nats_score,
    sort_findings,
    tail_score,
    write_findings,
)


def test_tail_score_is_minus_log10_of_the_upper_normal_tail() -> None:
    # upper tails of the standard normal: P(Z > 0) = 0.5, P(Z > 3) = 1.3499e-3, P(Z > 5) = 2.8665e-7
    assert tail_score(0.0) == pytest.approx(-math.log10(0.5))
    assert tail_score(3.0) == pytest.approx(-math.log10(1.3498980e-3), rel=1e-6)
    assert tail_score(5.0) == pytest.approx(-math.log10(2.8665157e-7), rel=1e-6)
    assert tail_score(40.0) == SCORE_MAX  # capped: p underflows long before
    assert tail_score(-3.0) == pytest.approx(-math.log10(1 - 1.3498980e-3), rel=1e-6)


def test_nats_score_converts_natural_logs_to_decades() -> None:
    assert nats_score(math.log(1000)) == pytest.approx(3.0)
    np.testing.assert_allclose(nats_score(np.array([-1.0, 0.0, np.inf])), [0.0, 0.0, SCORE_MAX])


def _f(ann: int, kind: str, score: float, joint: str = "") -> Finding:
    return Finding(ann, 10 + ann, joint, kind, score, f"evidence {ann}", "fix it")


def test_findings_sort_by_score_then_kind_and_files_hold_one_row_each(tmp_path) -> None:
    findings = [_f(3, "bone_length", 4.0, "a-b"), _f(1, "visibility", 12.0, "nose"), _f(2, "duplicate", 4.0)]
    ordered = sort_findings(findings)
    assert [f.annotation_id for f in ordered] == [1, 2, 3]  # equal scores: duplicate before bone_length
    csv_path, json_path = write_findings(tmp_path, findings, {"min_score": 4.0})
    rows = list(csv.DictReader(csv_path.open()))
    assert list(rows[0]) == [
        "annotation_id",
        "image_id",
        "joint",
        "kind",
        "score",
        "evidence",
        "fix",
        "split",
    ]
    assert [r["annotation_id"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["score"] == "12.0" and rows[2]["joint"] == "a-b"
    assert json.loads(json_path.read_text()) == {
        "audit": {"min_score": 4.0},
        "findings": [f.to_dict() for f in ordered],
    }
    assert count_by_kind(findings)["duplicate"] == 1 and count_by_kind(findings)["swap"] == 0
