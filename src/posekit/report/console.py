"""The evaluation report on the console: COCO stats, localisation metrics and the per-keypoint table."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from posekit.metrics.coco_eval import COCO_STAT_NAMES
from posekit.metrics.keypoint_metrics import CONFIDENCE_NOTE, EvaluationReport
from posekit.metrics.units import SCORE_UNIT, format_fraction


def print_report(report: EvaluationReport, console: Console | None = None, max_keypoints: int = 30) -> None:
    """Console tables: COCO stats, localisation metrics and the per-keypoint table (weakest first)."""
    console = console or Console()
    mt = report.metrics
    coco = Table(
        title=f"COCO keypoints (OKS AP/AR, {SCORE_UNIT}; sigmas: {mt['oks']['sigmas_source']}, "
        f"boxes: {mt['box_source']})"
    )
    for name in COCO_STAT_NAMES:
        coco.add_column(name, justify="right")
    coco.add_row(*(format_fraction(mt["coco"][name]) for name in COCO_STAT_NAMES))
    console.print(coco)
    for note in mt["coco_notes"]:
        console.print(f"[yellow]note:[/] {note}")

    loc = Table(title=f"Localisation (matched people; PCK and AUC in {SCORE_UNIT})")
    loc.add_column("metric")
    loc.add_column("value", justify="right")
    loc.add_column("normalised by")
    for t in mt["pck"]["thresholds"]:
        loc.add_row(f"PCK@{t:g}", format_fraction(mt["pck"][f"PCK@{t:g}"]), mt["pck"]["normaliser"])
    if mt["pckh"].get("value") is not None:
        pckh = mt["pckh"]
        loc.add_row(f"PCKh@{pckh['threshold']:g}", format_fraction(pckh["value"]), pckh["normaliser"])
    loc.add_row("AUC", format_fraction(mt["auc"]["value"]), mt["auc"]["normaliser"])
    loc.add_row("EPE", format_number(mt["epe"]["value"], " px"), "-")
    loc.add_row("NME", format_number(mt["nme"]["value"]), mt["nme"]["normaliser"])
    loc.add_row("mean OKS", format_number(mt["mean_oks"]), "missed people count 0")
    console.print(loc)

    kp = Table(title=f"Per keypoint, weakest first (AP and PCK in {SCORE_UNIT})")
    for col in ("keypoint", "AP", "PCK@0.1", "OKS term", "labelled"):
        kp.add_column(col, justify="left" if col == "keypoint" else "right")
    for row in report.keypoints[:max_keypoints]:
        kp.add_row(
            row.name,
            format_fraction(row.ap),
            format_fraction(row.pck),
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


def format_number(value: float | None, unit: str = "") -> str:
    """Four significant digits and the unit; "-" where undefined."""
    return "-" if value is None or math.isnan(value) else f"{value:.4g}{unit}"
