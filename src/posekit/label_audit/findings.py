"""One suspected annotation error (:class:`Finding`), the common score scale, and the findings files.

**Score.** Every check turns its evidence into decades of evidence against the label: ``score = -log10 p``
where ``p`` is the probability that a *correct* label looks at least this wrong under the check's null
model (a one-sided normal tail of a robust z, a 2-D Gaussian tail of a displacement), or ``log10`` of a
likelihood ratio (label wrong vs label right) where the check compares two explanations (swap,
duplicate). Score 4 means "one chance in 10,000 that a right label looks like this", whatever the
kind, so findings of all kinds sort on one list. Scores are capped at :data:`SCORE_MAX`, the score of a
certain defect (a logical inconsistency such as v=0 with coordinates, not a statistical judgement).
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import log_ndtr

from posekit.fileio import atomic_write_json, atomic_write_text

#: Finding kinds, in the order summaries list them (and ties in score sort).
KINDS = (
    "visibility", "num_keypoints", "duplicate", "swap", "displaced", "missed", "bone_length", "outside_box",
    "box_size",
)  # fmt: skip
#: The score of a certain defect; statistical scores are capped here (p = 1e-12).
SCORE_MAX = 12.0
FINDINGS_CSV = "findings.csv"
FINDINGS_JSON = "findings.json"


@dataclass(frozen=True)
class Finding:
    """A suspected error in one annotation (``joint`` empty when it concerns the whole annotation)."""

    annotation_id: int
    image_id: int
    joint: str
    kind: str
    score: float
    evidence: str
    fix: str
    split: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "score": round(self.score, 2)}


def tail_score(z: np.ndarray | float) -> np.ndarray:
    """Score of a robust z in the suspicious direction: ``-log10`` of the upper normal tail beyond ``z``."""
    return np.clip(-log_ndtr(-np.asarray(z, np.float64)) / math.log(10), 0.0, SCORE_MAX)


def nats_score(nats: np.ndarray | float) -> np.ndarray:
    """Score of evidence in natural-log units (``-ln p`` or ``ln`` of a likelihood ratio)."""
    return np.clip(np.asarray(nats, np.float64) / math.log(10), 0.0, SCORE_MAX)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Highest score first; ties by kind (:data:`KINDS` order), split, annotation id, joint."""
    order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(
        findings,
        key=lambda f: (-f.score, order.get(f.kind, len(order)), f.split, f.annotation_id, f.joint),
    )


def count_by_kind(findings: Iterable[Finding]) -> dict[str, int]:
    """Number of findings of each kind (every kind of :data:`KINDS`, zeros included)."""
    counts = Counter(f.kind for f in findings)
    return {kind: counts.get(kind, 0) for kind in (*KINDS, *sorted(set(counts) - set(KINDS)))}


def write_findings(
    folder: str | Path, findings: Iterable[Finding], metadata: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``findings.csv`` and ``findings.json`` (one row per finding, highest score first); the JSON
    is ``{"audit": metadata, "findings": rows}`` (``metadata``: how the audit was made)."""
    folder = Path(folder)
    rows = [f.to_dict() for f in sort_findings(findings)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(Finding)], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    csv_path, json_path = folder / FINDINGS_CSV, folder / FINDINGS_JSON
    atomic_write_text(csv_path, buffer.getvalue())
    atomic_write_json(json_path, {"audit": metadata or {}, "findings": rows})
    return csv_path, json_path
