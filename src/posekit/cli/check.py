"""``posekit check DATA``: validate a keypoint data set, print a summary and every defect.

Exit status: 0 no errors (warnings allowed), 1 errors in the data (a missing or unreadable DATA
included: the one validator, :func:`posekit.datasets.validation.validate`, reports it), 2 a malformed
command line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


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
    from posekit.tasks.check import check

    report = check(data, images, wholebody, show=show, project=project, name=name, verbose=not json_out)
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    if not report.ok:
        raise typer.Exit(1)
