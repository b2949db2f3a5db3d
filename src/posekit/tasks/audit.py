"""``posekit audit DATA``: likely annotation errors (with a model: ``model`` or ``folds``), written to the run
folder ``runs/audit/<name>``: findings.csv and .json, report.html, findings.jpg and, with ``fix="swaps"``,
a corrected copy of the data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from posekit.errors import PosekitError
from posekit.label_audit.api import MODES, AuditReport
from posekit.label_audit.findings import count_by_kind, write_findings
from posekit.report.html import write_html_report
from posekit.runs import new_run_dir
from posekit.settings import AuditConfig, build_settings


@dataclass(frozen=True)
class AuditResult:
    """An audit: the :class:`AuditReport` (findings, highest score first), its run folder and the
    corrected files written by ``fix="swaps"``."""

    report: AuditReport
    save_dir: Path
    fixed: list[Path] = field(default_factory=list)


def audit(
    data: str | Path | None = None,
    config: str | Path | None = None,
    *,
    verbose: bool = False,
    **settings: Any,
) -> AuditResult:
    """Audit ``data`` ('sample', a COCO keypoint .json or a data .yaml); the keyword names are the ``posekit
    audit`` flags (:class:`AuditConfig`), ``config`` a YAML file of them. ``verbose``: print the summary
    and the top findings."""
    from posekit.engine.model_audit import audit_with_model, check_model_options
    from posekit.label_audit.fix import check_fix, fix_swaps
    from posekit.report.findings_gallery import save_findings_gallery

    cfg = build_settings(AuditConfig, config, data=data, **settings)
    check_fix(cfg.fix)
    check_model_options(cfg.model, cfg.folds, cfg.fold_config)
    # the fold models are trained inside the run folder, so it is made first when there are folds
    folder = new_run_dir(cfg.project, "audit", cfg.name) if cfg.folds is not None else None
    report = audit_with_model(
        cfg.data,
        cfg.split,
        cfg.images,
        cfg.min_score,
        cfg.model,
        cfg.folds,
        folder,
        cfg.fold_config,
        device=cfg.device,
        progress=verbose,
    )
    folder = folder or new_run_dir(cfg.project, "audit", cfg.name)
    csv_path, _ = write_findings(folder, report.findings, report.metadata())
    write_html_report(
        folder,
        f"posekit audit: {cfg.data}",
        findings=report.findings,
        facts={
            "data": str(cfg.data),
            **{f"people ({s})": n for s, n in report.people.items()},
            **{f"mode ({s})": MODES[a.mode] for s, a in report.splits.items()},
        },
    )
    console = Console(soft_wrap=True, highlight=False, quiet=not verbose)
    drawn = None
    try:
        drawn = save_findings_gallery(report, folder / "findings.jpg", cfg.gallery) if cfg.gallery else None
    except PosekitError as error:  # a missing image must not cost the user the findings
        console.print(f"[yellow]warning:[/] findings.jpg not written: {escape(str(error))}")
    _print(console, cfg, report, csv_path, drawn is not None)
    fixed: list[Path] = []
    if cfg.fix == "swaps":
        fixed, changes = fix_swaps(report, folder)
        written = ", ".join(escape(str(p)) for p in fixed) or "no file (no swap found)"
        annotations = len({(c.file, c.annotation_id) for c in changes})
        console.print(
            f"--fix swaps: {len(changes)} left/right pair(s) of {annotations} annotation(s) exchanged in "
            f"{written}; log: {escape(str(folder / 'changes.csv'))} (the audited file is unchanged)"
        )
    return AuditResult(report, folder, list(fixed))


def _print(console: Console, cfg: AuditConfig, report: AuditReport, csv_path: Path, drawn: bool) -> None:
    for label, audited in report.splits.items():
        colour = "yellow" if audited.mode in ("memorised", "unknown") else "green"
        detail = audited.describe().get("model")
        console.print(
            f"Mode ({escape(label)}): [{colour}]{escape(MODES[audited.mode])}[/]"
            + (f" [dim]({escape(detail)})[/]" if detail else "")
        )
    people = ", ".join(f"{n} people ({split_name})" for split_name, n in report.people.items())
    counts = count_by_kind(report.findings)
    summary = Table(title=f"Audit of {escape(str(cfg.data))}: {escape(people)}", title_justify="left")
    summary.add_column("kind")
    summary.add_column("findings", justify="right")
    for kind in report.kinds:
        summary.add_row(kind, str(counts[kind]))
    console.print(summary)
    if report.findings and cfg.top:
        console.print(f"Top {min(cfg.top, len(report.findings))}, highest score first:")
    for f in report.findings[: cfg.top]:
        where = f"annotation {f.annotation_id}, image {f.image_id}" + (f", {f.joint}" if f.joint else "")
        console.print(f"  [bold]{f.score:4.1f}[/] {f.kind:<11} {escape(where)}: {escape(f.evidence)}")
        console.print(f"       [dim]fix:[/] {escape(f.fix)}")
    if not report.findings:
        console.print(f"[bold green]No likely error[/] (no finding scores {cfg.min_score:g} or more).")
    console.print(
        f"{len(report.findings)} finding(s) written to {escape(str(csv_path))} (and .json"
        + (", the top ones drawn in findings.jpg" if drawn else "")
        + "); score = -log10 of the chance that a right label looks this wrong"
    )
