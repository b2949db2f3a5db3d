"""``posekit check DATA``: validate a keypoint data set, print a summary and every defect.

Exit status: 0 no errors (warnings allowed), 1 errors in the data (a missing or unreadable DATA
included: the one validator, :func:`posekit.data.check.check`, reports it), 2 a malformed command line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from posekit.data.check import CheckReport, check
from posekit.errors import PosekitError

_MAX_SHOWN_ISSUES = 50


def check_command(
    data: Annotated[str, typer.Argument(help="'sample', a COCO keypoint .json or a data .yaml.")] = "sample",
    images: Annotated[
        Path | None, typer.Option(help="Image folder of a .json (default: found beside it).")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON (machine-readable).")
    ] = False,
    show: Annotated[
        int,
        typer.Option(
            "--show", min=0, metavar="N", help="Write N augmented training crops with their targets drawn."
        ),
    ] = 0,
    wholebody: Annotated[
        bool, typer.Option("--wholebody", help="COCO-WholeBody: check all 133 keypoints.")
    ] = False,
    project: Annotated[str, typer.Option(help="Folder of run folders (for --show).")] = "runs",
    name: Annotated[str, typer.Option(help="Run name (for --show): PROJECT/check/NAME.")] = "exp",
) -> None:
    """Validate a keypoint data set: summary, every defect (file, id, field, fix) and advice."""
    report = check(data, images=images, wholebody=wholebody)
    console = Console(soft_wrap=True, highlight=False)
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(console, report)
    if show and report.ok:
        folder, written = _write_crops(data, images, wholebody, show, project, name)
        if not json_out:
            console.print(
                f"Wrote {written} augmented training crop(s) with targets to [bold]{escape(str(folder))}[/]"
            )
    if not report.ok:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------- printing
def _print_report(console: Console, report: CheckReport) -> None:
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


# ---------------------------------------------------------------------------------------------- --show
def _write_crops(
    data: str, images: Path | None, wholebody: bool, count: int, project: str, name: str
) -> tuple[Path, int]:
    """Write ``count`` augmented training crops (train split) with their target keypoints drawn."""
    from posekit.data.config import resolve_data
    from posekit.data.dataset import TopDownDataset
    from posekit.data.figures import encode_jpeg
    from posekit.io import atomic_write_bytes
    from posekit.runs import new_run_dir
    from posekit.viz.draw import draw_pose

    config = resolve_data(data, images=images, wholebody=wholebody)
    dataset = config.load_split("train" if config.train is not None else "val")
    crops = TopDownDataset(dataset, train=True)
    if len(crops) == 0:
        raise PosekitError(f"{dataset.json_path} has no person with labelled keypoints to show")
    folder = new_run_dir(project, "check", name)
    picks = np.linspace(0, len(crops) - 1, num=min(count, len(crops))).round().astype(int)
    for n, index in enumerate(picks):
        crop = crops.crop(int(index))
        keypoints = crop["keypoints"]
        drawn = draw_pose(
            crop["image"], keypoints[:, :2], (keypoints[:, 2] > 0).astype(float), dataset.schema, conf=0.5
        )
        out = folder / f"crop_{n:03d}_image{crop['image_id']}_ann{crop['annotation_id']}.jpg"
        atomic_write_bytes(out, encode_jpeg(drawn))
    return folder, len(picks)
