"""``posekit audit`` as a function: load (and so validate) the splits of a data set and run the checks."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posekit.datasets.data_config import resolve_data
from posekit.datasets.records import KeypointAnnotations
from posekit.datasets.schema import KeypointSchema
from posekit.errors import ConfigError, check_number
from posekit.label_audit.data_checks import DATA_KINDS, count_findings, data_findings
from posekit.label_audit.findings import Finding, sort_findings
from posekit.label_audit.model_checks import MODEL_KINDS, ModelOutput, model_findings
from posekit.label_audit.people import People
from posekit.samples import locate
from posekit.settings import MIN_SCORE

SPLITS = ("train", "val", "all")
#: How the labels of a split were judged (:attr:`AuditedSplit.mode`) and what that means for the findings.
MODES = {
    "data": "data only (no model)",
    "memorised": "a model trained on these images: it has memorised their labels, so findings understate",
    "held_out": "a model not trained on these images",
    "unknown": "a model of unknown training data: if it saw these images, findings understate",
    "folds": "cross-fitted: each image predicted by a model trained on the other folds only",
}


@dataclass
class AuditedSplit:
    """One audited annotation file: the loaded data, its people, the model's output (None: data only)."""

    dataset: KeypointAnnotations
    people: People
    output: ModelOutput | None = None

    @property
    def mode(self) -> str:
        """A key of :data:`MODES`."""
        return "data" if self.output is None else self.output.mode

    def describe(self) -> dict[str, Any]:
        """What findings.json records about this split."""
        detail = self.output.detail if self.output is not None else ""
        return {
            "file": str(self.dataset.json_path),
            "people": len(self.people),
            "mode": self.mode,
            "meaning": MODES.get(self.mode, self.mode),
            **({"model": detail} if detail else {}),
        }


@dataclass
class AuditReport:
    """Findings (highest score first), the people audited per split, the schema and the kinds checked;
    ``splits``: each audited file (by split label) with its people and the model's output."""

    findings: list[Finding]
    people: dict[str, int]
    schema: KeypointSchema
    kinds: tuple[str, ...]
    splits: dict[str, AuditedSplit] = field(default_factory=dict)
    min_score: float = MIN_SCORE

    def metadata(self) -> dict[str, Any]:
        """How the audit was made (findings.json's ``"audit"``): per split its file, people and mode."""
        return {
            "schema": self.schema.name,
            "kinds": list(self.kinds),
            "min_score": self.min_score,
            "splits": {label: s.describe() for label, s in self.splits.items()},
        }


def audit(
    data: str | Path = "sample",
    split: str = "all",
    images: str | Path | None = None,
    min_score: float = MIN_SCORE,
    predict: Callable[[Any, People], ModelOutput] | None = None,
) -> AuditReport:
    """Audit ``data`` ('sample', a COCO keypoint .json or a data .yaml).

    ``split``: ``train``, ``val`` or ``all`` (every split the data names; a file serving as both is
    audited once, its findings labelled ``train+val``). The data is loaded and validated as for training
    (a defect raises :class:`~posekit.errors.DataError`); the labels are then read as written, since
    loading clears the coordinates of unlabelled points, which the visibility check reports.

    ``predict(dataset, people)``: a model's :class:`ModelOutput` for ``people`` (one row each, made with
    their own boxes) of the loaded ``dataset``; when given, the model-based checks run too.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    check_number("--min-score", min_score, 0)
    config = resolve_data(locate(data), images=images)
    if config.wholebody:
        raise ConfigError(
            f"{config.source}: posekit audit checks the body keypoints only; set `wholebody: false`"
        )
    wanted = [s for s in ("train", "val") if getattr(config, s) is not None] if split == "all" else [split]
    by_file: dict[Path, list[str]] = {}
    for name in wanted:
        spec = getattr(config, name)
        by_file.setdefault(spec.json_path if spec is not None else Path(name), []).append(name)
    findings: list[Finding] = []
    splits: dict[str, AuditedSplit] = {}
    schema = None
    for names in by_file.values():
        label = "+".join(names)
        dataset = config.load_split(names[0])
        schema = dataset.schema
        written = json.loads(dataset.json_path.read_bytes())
        table = People.from_coco(written, schema.num_keypoints, (a.id for a in dataset.annotations))
        splits[label] = AuditedSplit(dataset, table, None if predict is None else predict(dataset, table))
        stated = {a.get("id"): a.get("num_keypoints") for a in written.get("annotations") or []}
        found = data_findings(table, schema, min_score) + count_findings(table, stated)
        if splits[label].output is not None:
            found += model_findings(table, schema, splits[label].output, min_score)
        findings += [dataclasses.replace(f, split=label) for f in found]
    if schema is None:
        raise ConfigError(f"{config.source}: names no split to audit")
    kinds = DATA_KINDS if predict is None else tuple(dict.fromkeys((*DATA_KINDS, *MODEL_KINDS)))
    people = {label: len(s.people) for label, s in splits.items()}
    return AuditReport(sort_findings(findings), people, schema, kinds, splits, min_score)
