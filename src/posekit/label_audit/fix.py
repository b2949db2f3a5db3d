"""``posekit audit --fix swaps``: a corrected copy of each audited annotation file, with the left/right
pairs the swap findings flag exchanged, and a change log. The original file is never written.

A pair's two points are exchanged whole (x, y and v: the labels went to the wrong sides, each keeping
its own visibility). A whole-body finding exchanges every left/right pair of the schema; findings that
name one pair of an annotation twice (the data-only and the model check) exchange it once.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.schema import KeypointSchema
from posekit.errors import ConfigError, PosekitError
from posekit.fileio import atomic_write_json, atomic_write_text, refuse_overwriting_inputs
from posekit.label_audit.api import AuditReport

#: What ``--fix`` can correct without a person looking.
FIXABLE = ("swaps",)
CHANGES_CSV = "changes.csv"
CHANGES_JSON = "changes.json"


@dataclass(frozen=True)
class SwapChange:
    """One left/right pair exchanged in one annotation; ``old``/``new``: ``[[x, y, v], [x, y, v]]`` of
    the pair's two keypoints (in the order ``joint_pair`` names them)."""

    file: str
    annotation_id: int
    image_id: int
    joint_pair: str
    scope: str  # "pair" or "whole body", as the finding said
    old: list[list[float]]
    new: list[list[float]]
    score: float

    def row(self) -> dict[str, Any]:
        """The CSV row: the coordinates as JSON text."""
        return {**asdict(self), "old": json.dumps(self.old), "new": json.dumps(self.new)}


def check_fix(value: str | None) -> None:
    """One :class:`ConfigError` unless ``value`` (``--fix``) is None or a kind :data:`FIXABLE` names."""
    if value is not None and value not in FIXABLE:
        raise ConfigError(
            f"--fix {value!r}: only {', '.join(FIXABLE)} can be fixed automatically; the other findings "
            "need a look (see findings.csv and findings.jpg)"
        )


def fix_swaps(report: AuditReport, folder: str | Path) -> tuple[list[Path], list[SwapChange]]:
    """Write ``<file stem>.fixed.json`` into ``folder`` for each audited file with swap findings, and
    ``changes.csv``/``changes.json`` (one row per exchanged pair); returns the fixed files and the changes."""
    folder = Path(folder)
    stems = [s.dataset.json_path.stem for s in report.splits.values()]
    written_files: list[Path] = []
    changes: list[SwapChange] = []
    for label, split in report.splits.items():
        plan = _plan(report, label, split.dataset.schema)
        if not plan:
            continue
        source = split.dataset.json_path
        coco = json.loads(source.read_bytes())
        k = split.dataset.schema.num_keypoints
        names = split.dataset.schema.names
        for ann in coco["annotations"]:
            for (a, b), (scope, score) in sorted(plan.get(ann.get("id"), {}).items()):
                points = np.asarray(ann["keypoints"], np.float64).reshape(k, 3)
                old = points[[a, b]].tolist()
                points[[a, b]] = points[[b, a]]
                ann["keypoints"] = [v if i % 3 < 2 else int(v) for i, v in enumerate(points.ravel().tolist())]
                changes.append(
                    SwapChange(
                        str(source), int(ann["id"]), int(ann["image_id"]), f"{names[a]}/{names[b]}", scope,
                        old, points[[a, b]].tolist(), round(score, 2),
                    )
                )  # fmt: skip
        name = source.stem if stems.count(source.stem) == 1 else f"{label}-{source.stem}"
        path = folder / f"{name}.fixed.json"
        refuse_overwriting_inputs(path, [source], "run the audit elsewhere")
        atomic_write_json(path, coco, indent=None)
        written_files.append(path)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(SwapChange)], lineterminator="\n")
    writer.writeheader()
    writer.writerows(c.row() for c in changes)
    atomic_write_text(folder / CHANGES_CSV, buffer.getvalue())
    atomic_write_json(folder / CHANGES_JSON, [asdict(c) for c in changes])
    return written_files, changes


def _plan(report: AuditReport, label: str, schema: KeypointSchema) -> dict[int, dict[tuple[int, int], tuple]]:
    """annotation id -> {(a, b) pair to exchange: (scope, highest score)} from the split's swap findings."""
    pairs = {f"{schema.names[a]}/{schema.names[b]}": (a, b) for a, b in schema.flip_pairs}
    plan: dict[int, dict[tuple[int, int], tuple]] = {}
    for f in report.findings:
        if f.kind != "swap" or f.split != label:
            continue
        if f.joint and f.joint not in pairs:
            raise PosekitError(
                f"swap finding on annotation {f.annotation_id}: {f.joint} is no left/right pair of the schema"
            )
        whole = not f.joint
        for pair in pairs.values() if whole else [pairs[f.joint]]:
            scope, score = plan.setdefault(f.annotation_id, {}).get(pair, ("pair", -np.inf))
            plan[f.annotation_id][pair] = ("whole body" if whole else scope, max(score, f.score))
    return plan
