"""The console summary of ``posekit check``: one table per annotation file, per-joint label counts and
every defect with its fix."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from posekit.datasets.validation import CheckReport

_MAX_SHOWN_ISSUES = 50


def print_check_report(console: Console, report: CheckReport) -> None:
    """Print the summary tables of each file, then the issues (errors first) and a one-line verdict."""
    for stats in report.summary["files"]:
        _print_file(console, stats)
    issues = report.issues
    for issue in issues[:_MAX_SHOWN_ISSUES]:
        style = "bold red" if issue.severity == "error" else "yellow"
        console.print(f"[{style}]{issue.severity}[/] {escape(issue.where)}: {escape(issue.message)}")
        console.print(f"    [dim]fix:[/] {escape(issue.fix)}")
    if len(issues) > _MAX_SHOWN_ISSUES:
        console.print(f"... and {len(issues) - _MAX_SHOWN_ISSUES} more (use --json for the full list)")
    n_err, n_warn = len(report.errors), len(report.warnings)
    if n_err:
        console.print(
            f"[bold red]✗ {n_err} error(s)[/], {n_warn} warning(s): fix the errors before training."
        )
    else:
        console.print(f"[bold green]✓ no errors[/], {n_warn} warning(s).")


def _print_file(console: Console, s: dict[str, Any]) -> None:
    title = f"{s['file']} ({' + '.join(s['splits'])}; {s['schema']}, {s['num_keypoints']} keypoints)"
    table = Table(title=escape(title), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    box = s["box_size_px"]
    rows = [
        ("images", f"{s['images']} ({s['images_without_people']} without people) in {s['image_root']}"),
        (
            "people",
            f"{s['people']} ({s['labelled_people']} with keypoints, {s['people_without_keypoints']} "
            f"without); crowd regions: {s['crowd']}",
        ),
        (
            "labelled keypoints",
            f"{s['labelled_keypoints']} ({s['keypoints_outside_image']} outside the image)",
        ),
        ("box size sqrt(w*h) px", " / ".join(f"{k} {v:g}" for k, v in box.items()) if box else "-"),
        ("COCO size (area)", ", ".join(f"{k} {v}" for k, v in s["coco_size"].items())),
        ("people per image", ", ".join(f"{k}: {v}" for k, v in s["people_per_image"].items())),
    ]
    if s["wholebody_fields"]:
        rows.append(("note", "COCO-WholeBody fields found: pass --wholebody to use all 133 keypoints"))
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    joints = Table(
        title="labelled keypoints per joint (v=2 visible, v=1 occluded, v=0 unlabelled)", title_justify="left"
    )
    for column in ("joint", "v=2", "v=1", "v=0", "labelled"):
        joints.add_column(column, justify="left" if column == "joint" else "right")
    people = max(s["people"], 1)
    for joint, c in s["keypoints_per_joint"].items():
        joints.add_row(
            escape(joint), str(c["v2"]), str(c["v1"]), str(c["v0"]), f"{(c['v1'] + c['v2']) / people:.0%}"
        )
    console.print(joints)
