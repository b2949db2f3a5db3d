"""The evaluation report as files of a run folder: metrics.json, per_keypoint.csv and the plots."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from matplotlib.figure import Figure

from posekit.fileio import atomic_write_json, atomic_write_text
from posekit.metrics.keypoint_metrics import PR_THRESHOLDS, EvaluationReport
from posekit.metrics.per_keypoint import KeypointRow
from posekit.viz.plots import per_keypoint_figure, pr_curves_figure, save_png

#: The per-keypoint chart shows at most this many (the weakest) keypoints; the CSV has them all.
MAX_PLOTTED_KEYPOINTS = 40


def write_report(report: EvaluationReport, run_dir: str | Path) -> dict[str, Path]:
    """Write metrics.json, per_keypoint.csv, per_keypoint.png and pr_curve.png; returns their paths."""
    run_dir = Path(run_dir)
    paths = {
        name: run_dir / name
        for name in ("metrics.json", "per_keypoint.csv", "per_keypoint.png", "pr_curve.png")
    }
    atomic_write_json(paths["metrics.json"], report.metrics)
    atomic_write_text(paths["per_keypoint.csv"], _csv(report.keypoints))
    save_png(per_keypoint_chart(report), paths["per_keypoint.png"])
    save_png(pr_chart(report), paths["pr_curve.png"])
    return paths


def per_keypoint_chart(report: EvaluationReport) -> Figure:
    """The per-keypoint chart: each joint's AP (PCK@0.1 without per-joint AP), the weakest
    :data:`MAX_PLOTTED_KEYPOINTS` first."""
    use_ap = any(math.isfinite(r.ap) for r in report.keypoints)
    label = "AP (OKS, this keypoint alone)" if use_ap else "PCK@0.1"
    shown = report.keypoints[:MAX_PLOTTED_KEYPOINTS]
    title = f"Per-keypoint {label}, weakest first"
    if len(shown) < len(report.keypoints):
        title += f" ({len(shown)} of {len(report.keypoints)})"
    return per_keypoint_figure(
        [r.name for r in shown], [r.ap if use_ap else r.pck for r in shown], label, title
    )


def pr_chart(report: EvaluationReport) -> Figure:
    """The precision-recall curves at the OKS thresholds of :data:`PR_THRESHOLDS`."""
    curves = {f"OKS {t:.2f}": report.coco.precision_at(t) for t in PR_THRESHOLDS}
    return pr_curves_figure(report.coco.recall_thresholds, curves)


def _csv(rows: list[KeypointRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", "index", "name", "ap", "pck@0.1", "mean_oks_term", "labelled"])
    for rank, row in enumerate(rows, 1):
        writer.writerow(
            [rank, row.index, row.name, *(_cell(v) for v in (row.ap, row.pck, row.oks_term)), row.labelled]
        )
    return buffer.getvalue()


def _cell(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6f}"
