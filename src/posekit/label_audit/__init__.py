"""Label QA for COCO keypoint data: likely annotation errors (``posekit audit``) and OKS sigmas estimated
from repeated annotations (``posekit sigmas``).

Layer: imports posekit.datasets, posekit.metrics, posekit.fileio and posekit.errors only (no engine, inference
or CLI), so a model run can feed :func:`~posekit.label_audit.model_checks.model_findings` from above.
"""

from posekit.label_audit.api import AuditReport, audit
from posekit.label_audit.data_checks import data_findings
from posekit.label_audit.findings import SCORE_MAX, Finding, write_findings
from posekit.label_audit.inject import InjectedError, inject_errors, score_findings
from posekit.label_audit.model_checks import ModelOutput, model_findings
from posekit.label_audit.people import People
from posekit.settings import MIN_SCORE

__all__ = [
    "MIN_SCORE",
    "SCORE_MAX",
    "AuditReport",
    "Finding",
    "InjectedError",
    "ModelOutput",
    "People",
    "audit",
    "data_findings",
    "inject_errors",
    "model_findings",
    "score_findings",
    "write_findings",
]
