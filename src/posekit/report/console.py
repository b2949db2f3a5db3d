"""The evaluation report on the console: COCO stats, localisation metrics and the per-keypoint table."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from posekit.metrics.coco_eval import COCO_STAT_NAMES
from posekit.metrics.keypoint_metrics import CONFIDENCE_NOTE, EvaluationReport


def print_report(report: EvaluationReport, console: Console | None = None, max_keypoints: int = 30) -> None:
    """Console tables: COCO stats, localisation metrics and the per-keypoint table (weakest first)."""
    console = console or Console()
    mt = report.metrics
    coco = Table(
        title=f"COCO keypoints (OKS, sigmas: {mt['oks']['sigmas_source']}, boxes: {mt['box_source']})"
    )
    for name in COCO_STAT_NAMES:
        coco.add_column(name, justify="right")
    coco.add_row(*(format_percent(mt["coco"][name]) for name in COCO_STAT_NAMES))
    console.print(coco)
    for note in mt["coco_notes"]:
        console.print(f"[yellow]note:[/] {note}")

    loc = Table(title="Localisation (matched people)")
    loc.add_column("metric")
    loc.add_column("value", justify="right")
    loc.add_column("normalised by")
    for t in mt["pck"]["thresholds"]:
        loc.add_row(f"PCK@{t:g}", format_percent(mt["pck"][f"PCK@{t:g}"]), mt["pck"]["normaliser"])
    if mt["pckh"].get("value") is not None:
        loc.add_row(
            f"PCKh@{mt['pckh']['threshold']:g}", format_percent(mt["pckh"]["value"]), mt["pckh"]["normaliser"]
        )
    loc.add_row("AUC", format_percent(mt["auc"]["value"]), mt["auc"]["normaliser"])
    loc.add_row("EPE", format_number(mt["epe"]["value"], " px"), "-")
    loc.add_row("NME", format_number(mt["nme"]["value"]), mt["nme"]["normaliser"])
    loc.add_row("mean OKS", format_number(mt["mean_oks"]), "missed people count 0")
    console.print(loc)

    kp = Table(title="Per keypoint, weakest first")
    for col in ("keypoint", "AP", "PCK@0.1", "OKS term", "labelled"):
        kp.add_column(col, justify="left" if col == "keypoint" else "right")
    for row in report.keypoints[:max_keypoints]:
        kp.add_row(
            row.name,
            format_percent(row.ap),
            format_percent(row.pck),
            format_number(row.oks_term),
            str(row.labelled),
        )
    console.print(kp)
    if len(report.keypoints) > max_keypoints:
        console.print(f"... {len(report.keypoints) - max_keypoints} more keypoints in per_keypoint.csv")
    counts = mt["counts"]
    console.print(
        f"{counts['people']} people evaluated ({counts['crowd']} crowd and {counts['without_keypoints']} "
        f"without labelled keypoints ignored, as COCO does), {counts['predictions']} predictions, "
        f"{counts['missed_people']} people without a matching prediction."
    )
    console.print(f"Confidence threshold {mt['confidence']['threshold']:g}: {CONFIDENCE_NOTE}")


def format_percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal; "-" where undefined (None, NaN or COCO's -1)."""
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value)) or value < 0
        else f"{100 * value:.1f}"
    )


def format_number(value: float | None, unit: str = "") -> str:
    """Four significant digits and the unit; "-" where undefined."""
    return "-" if value is None or math.isnan(value) else f"{value:.4g}{unit}"
