"""``posekit analyze PREDICTIONS``: joint angles with 95% intervals, reps, gait events, tables and files
other tools read, from a predict run (:func:`posekit.tasks.analyze.analyze`)."""

from __future__ import annotations

from typing import Annotated

import typer


def analyze_command(
    source: Annotated[
        str, typer.Argument(help="A predict run folder, its predictions.json(l), or a COCO keypoint file.")
    ],
    fps: Annotated[float | None, typer.Option(help="Frames per second (default: the run's).")] = None,
    exercise: Annotated[
        str | None, typer.Option(help="Count reps: squat, curl, pushup, jumping_jack.")
    ] = None,
    signal: Annotated[str | None, typer.Option(help="Count reps on this angle (with --min-range).")] = None,
    min_range: Annotated[float | None, typer.Option(help="Least range of a rep (degrees).")] = None,
    gait: Annotated[
        bool, typer.Option("--gait", help="Heel strikes, toe offs, cadence (side view).")
    ] = False,
    angles: Annotated[
        str | None, typer.Option(help="Your own angle set: a YAML file mapping each name to 3 keypoints.")
    ] = None,
    height: Annotated[float | None, typer.Option(help="The person's height (m): lengths in metres.")] = None,
    scale: Annotated[float | None, typer.Option(help="Metres per pixel: lengths in metres.")] = None,
    export: Annotated[
        list[str] | None,
        typer.Option(help="Files for other tools: openpose, trc, sleap (repeatable); CSV is always written."),
    ] = None,
    video: Annotated[str | None, typer.Option(help="The source video the sleap export names.")] = None,
    project: Annotated[str, typer.Option(help="Folder of run folders.")] = "runs",
    name: Annotated[str, typer.Option(help="Run name: PROJECT/analyze/NAME.")] = "exp",
) -> None:
    """Joint angles with 95% intervals, reps and gait events from predictions; CSV, plots, report.html."""
    from posekit.tasks.analyze import analyze

    result = analyze(
        source,
        fps=fps,
        exercise=exercise,
        signal=signal,
        min_range=min_range,
        gait=gait,
        angles=angles,
        height=height,
        scale=scale,
        exports=export or [],
        video=video,
        project=project,
        name=name,
    )
    for p, reps in result.reps.items():
        typer.echo(f"track {result.tracks.track_ids[p]}: {len(reps)} reps")
    for p, (_, summary) in result.gait.items():
        typer.echo(
            f"track {result.tracks.track_ids[p]}: {summary.steps} steps, cadence {summary.cadence:.1f}/min"
        )
    typer.echo(f"Results saved to {result.save_dir}")
