"""``posekit audit DATA``: find likely annotation errors; writes runs/audit/<name>/findings.csv and .json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from posekit.audit.findings import MIN_SCORE, count_by_kind, write_findings
from posekit.runs import new_run_dir


def audit_command(
    data: Annotated[str, typer.Argument(help="'sample', a COCO keypoint .json or a data .yaml.")] = "sample",
    split: Annotated[str, typer.Option("--split", help="train, val or all.")] = "all",
    images: Annotated[
        Path | None, typer.Option(help="Image folder of a .json (default: found beside it).")
    ] = None,
    min_score: Annotated[
        float,
        typer.Option(
            "--min-score", min=0.0, help="Report findings scoring at least this (-log10 p; 4 = 1 in 10,000)."
        ),
    ] = MIN_SCORE,
    top: Annotated[int, typer.Option("--top", min=0, help="Findings to print (all go to the files).")] = 10,
    project: Annotated[str, typer.Option("--project", help="Runs folder.")] = "runs",
    name: Annotated[str, typer.Option("--name", help="Run name (runs/audit/<name>, incremented).")] = "exp",
) -> None:
    """Find likely annotation errors without a model: points marked unlabelled but placed (or labelled
    at 0,0), people labelled twice, left/right swaps that make limbs cross, bones far too long for the
    person, boxes that do not fit their skeleton, points outside their box. Each finding has a score
    (-log10 of the chance that a correct label looks this wrong), the evidence and a fix."""
    from posekit.audit.api import audit

    report = audit(data, split=split, images=images, min_score=min_score)
    folder = new_run_dir(project, "audit", name)
    csv_path, _ = write_findings(folder, report.findings)
    console = Console(soft_wrap=True, highlight=False)
    people = ", ".join(f"{n} people ({split_name})" for split_name, n in report.people.items())
    counts = count_by_kind(report.findings)
    summary = Table(title=f"Audit of {escape(str(data))}: {escape(people)}", title_justify="left")
    summary.add_column("kind")
    summary.add_column("findings", justify="right")
    for kind in report.kinds:
        summary.add_row(kind, str(counts[kind]))
    console.print(summary)
    if report.findings and top:
        console.print(f"Top {min(top, len(report.findings))}, highest score first:")
    for f in report.findings[:top]:
        where = f"annotation {f.annotation_id}, image {f.image_id}" + (f", {f.joint}" if f.joint else "")
        console.print(f"  [bold]{f.score:4.1f}[/] {f.kind:<11} {escape(where)}: {escape(f.evidence)}")
        console.print(f"       [dim]fix:[/] {escape(f.fix)}")
    if not report.findings:
        console.print(f"[bold green]No likely error[/] (no finding scores {min_score:g} or more).")
    console.print(
        f"{len(report.findings)} finding(s) written to {escape(str(csv_path))} (and .json); score = -log10 "
        "of the chance that a right label looks this wrong"
    )
