"""``posekit audit DATA``: find likely annotation errors (with a model: ``--model`` or ``--folds``); writes
runs/audit/<name>/findings.csv and .json, findings.jpg and, with ``--fix swaps``, a corrected copy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from posekit.audit.api import MODES
from posekit.audit.findings import MIN_SCORE, count_by_kind, write_findings
from posekit.errors import PosekitError
from posekit.report.html import write_html_report
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
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Compare the labels with this model's predictions (directory, hub id or preset of the "
            "same keypoints). On its own training images it has memorised the labels: use --folds.",
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option(
            "--folds",
            help="Train K models, each on K-1 folds of the images, each predicting the fold it did not see.",
        ),
    ] = None,
    fold_config: Annotated[
        Path | None,
        typer.Option(
            "--fold-config",
            help="Train settings YAML for the --folds models (default: posekit train's recipe for the data).",
        ),
    ] = None,
    fix: Annotated[
        str | None,
        typer.Option(
            "--fix", help="'swaps': write <file>.fixed.json with the flagged left/right pairs exchanged."
        ),
    ] = None,
    gallery: Annotated[
        int, typer.Option("--gallery", min=0, help="Top findings drawn in findings.jpg (0: none).")
    ] = 16,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = None,
    project: Annotated[str, typer.Option("--project", help="Runs folder.")] = "runs",
    name: Annotated[str, typer.Option("--name", help="Run name (runs/audit/<name>, incremented).")] = "exp",
) -> None:
    """Find likely annotation errors without a model: points marked unlabelled but placed (or labelled
    at 0,0), people labelled twice, left/right swaps that make limbs cross, bones far too long for the
    person, boxes that do not fit their skeleton, points outside their box. With a model (--model, or
    --folds K), also swaps, displaced joints, missed labels and visibility mistakes against its
    predictions. Each finding has a score (-log10 of the chance that a correct label looks this wrong),
    the evidence and a fix."""
    from posekit.audit.fix import check_fix, fix_swaps
    from posekit.engine.model_audit import audit_with_model, check_model_options
    from posekit.report.findings_gallery import save_findings_gallery

    check_fix(fix)
    check_model_options(model, folds, fold_config)
    folder = new_run_dir(project, "audit", name) if folds is not None else None  # the fold models go in it
    report = audit_with_model(
        data, split, images, min_score, model, folds, folder, fold_config, device=device, progress=True
    )
    folder = folder or new_run_dir(project, "audit", name)
    csv_path, _ = write_findings(folder, report.findings, report.metadata())
    write_html_report(
        folder,
        f"posekit audit: {data}",
        findings=report.findings,
        facts={
            "data": str(data),
            **{f"people ({s})": n for s, n in report.people.items()},
            **{f"mode ({s})": MODES[a.mode] for s, a in report.splits.items()},
        },
    )
    console = Console(soft_wrap=True, highlight=False)
    drawn = None
    try:
        drawn = save_findings_gallery(report, folder / "findings.jpg", gallery) if gallery else None
    except PosekitError as error:  # a missing image must not cost the user the findings
        console.print(f"[yellow]warning:[/] findings.jpg not written: {escape(str(error))}")
    for label, audited in report.splits.items():
        colour = "yellow" if audited.mode in ("memorised", "unknown") else "green"
        detail = audited.describe().get("model")
        console.print(
            f"Mode ({escape(label)}): [{colour}]{escape(MODES[audited.mode])}[/]"
            + (f" [dim]({escape(detail)})[/]" if detail else "")
        )
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
        f"{len(report.findings)} finding(s) written to {escape(str(csv_path))} (and .json"
        + (", the top ones drawn in findings.jpg" if drawn else "")
        + "); score = -log10 of the chance that a right label looks this wrong"
    )
    if fix == "swaps":
        fixed, changes = fix_swaps(report, folder)
        written = ", ".join(escape(str(p)) for p in fixed) or "no file (no swap found)"
        annotations = len({(c.file, c.annotation_id) for c in changes})
        console.print(
            f"--fix swaps: {len(changes)} left/right pair(s) of {annotations} annotation(s) exchanged in "
            f"{written}; "
            f"log: {escape(str(folder / 'changes.csv'))} (the audited file is unchanged)"
        )
