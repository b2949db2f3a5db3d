"""``posekit analyze PREDICTIONS``: joint angles with their uncertainty, reps and gait events from a
predict run (or the API's results), written to ``runs/analyze/<name>`` as tables, plots, files other tools
read and a report.html. The measuring is :mod:`posekit.analysis`; this module only runs it and writes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.analysis import angles as angle_math
from posekit.analysis.exports import (
    tidy_columns,
    wide_columns,
    write_openpose,
    write_sleap,
    write_table,
    write_trc,
)
from posekit.analysis.gait import GaitEvents, GaitSummary, gait_events, gait_summary, metres_per_pixel
from posekit.analysis.reps import Rep, count_reps, preset, rep_signal
from posekit.analysis.tracks import Tracks, read_predictions, tracks_from_frames
from posekit.datasets.schema import standard_layout
from posekit.errors import ConfigError, PosekitError
from posekit.fileio import atomic_write_json

EXPORTS = ("openpose", "trc", "sleap")
_ANGLES_PLOTTED = 4


@dataclass
class Analysis:
    """What :func:`analyze` measured: tracks, angles, reps per track index, gait per track index."""

    tracks: Tracks
    angles: angle_math.AngleSeries
    reps: dict[int, list[Rep]] = field(default_factory=dict)
    gait: dict[int, tuple[GaitEvents, GaitSummary]] = field(default_factory=dict)
    save_dir: Path | None = None
    sd_model: str = ""
    signal: tuple[str, ...] = ()  # the angles reps were counted on (the larger at each frame)


def analyze(
    source: str | Path | Iterable[Any],
    *,
    fps: float | None = None,
    exercise: str | None = None,
    signal: str | None = None,
    min_range: float | None = None,
    gait: bool = False,
    angles: str | Path | dict | None = None,
    flip_sd_factor: float = angle_math.FLIP_SD_FACTOR,
    sd_factor: float = angle_math.SD_FACTOR,
    sd_score_power: float = angle_math.SD_SCORE_POWER,
    smooth: float = 0.2,
    height: float | None = None,
    scale: float | None = None,
    exports: Sequence[str] = (),
    video: str | Path | None = None,
    save: bool = True,
    project: str | Path = "runs",
    name: str = "exp",
) -> Analysis:
    """Analyse ``source``: a predict run folder, its predictions file, a COCO keypoint file, or the
    results of ``model.predict`` (PoseResults or their ``to_dict()``).

    ``fps``: frames per second (default: the run's, when it recorded one). ``exercise``: count reps with a
    preset (squat, curl, pushup, jumping_jack); ``signal`` + ``min_range``: on any angle. ``gait``: heel
    strikes, toe offs and their timing (side view). ``angles``: your own angle set (file or mapping).
    Keypoint SD: ``flip_sd_factor`` x the flip test's looks' gap where predict ran the flip test
    (``--flip``), else ``sd_factor`` x OKS sigma x person scale / score ** ``sd_score_power``
    (:mod:`posekit.analysis.angles`). ``smooth``: Savitzky-Golay window in seconds (0: none). ``height``
    (m) or ``scale`` (m per pixel): lengths in metres. The tables (CSV, and Parquet with pyarrow) are
    always written; ``exports`` adds openpose, trc and sleap (SLEAP .slp and NWB; ``video``: the source
    they name)."""
    unknown = sorted(set(exports) - set(EXPORTS))
    if unknown:
        raise ConfigError(f"unknown export {', '.join(unknown)}; choose from {', '.join(EXPORTS)}")
    tracks = _tracks(source, fps)
    defs = angle_math.angle_set(tracks.names, angles)
    window = int(round(smooth * tracks.fps)) if tracks.fps else 0
    sd_px = angle_math.keypoint_sd(tracks, sd_factor, sd_score_power, flip_factor=flip_sd_factor)
    series = angle_math.compute_angles(tracks, defs, sd_px, window)
    result = Analysis(tracks, series, sd_model=_sd_model(tracks, flip_sd_factor, sd_factor, sd_score_power))
    if exercise or signal:
        names, least = _signal(exercise, signal, min_range, series.names)
        result.signal = names
        frames = int(round(0.3 * tracks.fps)) if tracks.fps else 1
        for p in range(len(tracks.track_ids)):
            result.reps[p] = count_reps(rep_signal(series, p, names), least, min_frames=frames, window=window)
    if gait:
        for p in range(len(tracks.track_ids)):
            try:
                events = gait_events(tracks, p)
                per_px = scale or (metres_per_pixel(tracks, p, height) if height else None)
                result.gait[p] = (events, gait_summary(tracks, p, events, per_px))
            except PosekitError:
                continue  # a track too short to walk in: reported as having no gait
    if save:
        result.save_dir = _write(result, project, name, exports, video, scale, height, exercise or signal)
    return result


def _sd_model(tracks: Tracks, flip_factor: float, factor: float, power: float) -> str:
    """How the keypoints' SD was modelled, in words for the report."""
    flip = f"{flip_factor:g} x the flip test's looks' gap"
    oks = f"{factor:g} x OKS sigma x person scale / score^{power:g}"
    seen = np.isfinite(tracks.flip_gaps).any()
    if seen and np.isfinite(tracks.flip_gaps[tracks.visible]).all():
        return flip
    return f"{flip} (else {oks})" if seen else f"{oks} (predict --flip for calibrated intervals)"


def _tracks(source: str | Path | Iterable[Any], fps: float | None) -> Tracks:
    if isinstance(source, (str, Path)):
        path = Path(source)
        jitter = (path if path.is_dir() else path.parent) / "jitter.json"
        if fps is None and jitter.is_file():
            fps = json.loads(jitter.read_text(encoding="utf-8")).get("fps")
        return read_predictions(path, fps)
    return tracks_from_frames((r.to_dict() if hasattr(r, "to_dict") else r for r in source), fps)


def _signal(
    exercise: str | None, signal: str | None, min_range: float | None, names: list[str]
) -> tuple[tuple[str, ...], float]:
    if signal is not None:
        if signal not in names or min_range is None:
            raise ConfigError(
                f"--signal {signal!r} with --min-range {min_range}: name one of the angles "
                f"({', '.join(names)}) and the least range of a rep in degrees"
            )
        return (signal,), min_range
    chosen = preset(str(exercise))
    return chosen.angles, min_range or chosen.min_range


def _write(
    result: Analysis,
    project: str | Path,
    name: str,
    exports: Sequence[str],
    video: str | Path | None,
    scale: float | None,
    height: float | None,
    rep_signal: str | None,
) -> Path:
    from posekit.report.html import Panel, write_html_report
    from posekit.runs import new_run_dir
    from posekit.viz.angle_plots import angle_figure
    from posekit.viz.plots import save_png

    tracks, series = result.tracks, result.angles
    folder = new_run_dir(project, "analyze", name)
    write_table(tidy_columns(tracks), folder / "keypoints.csv")
    extra = {f"{n}_deg": series.values[..., a] for a, n in enumerate(series.names)}
    extra |= {f"{n}_sd": series.sd[..., a] for a, n in enumerate(series.names)}
    write_table(wide_columns(tracks, extra), folder / "people.csv")
    write_table(_angle_columns(result), folder / "angles.csv")
    if result.reps:
        write_table(_rep_columns(result), folder / "reps.csv")
    if result.gait:
        write_table(_event_columns(result), folder / "gait_events.csv")
        summaries = {int(tracks.track_ids[p]): s.as_dict() for p, (_, s) in result.gait.items()}
        atomic_write_json(folder / "gait.json", summaries)
    if "openpose" in exports:
        write_openpose(tracks, folder / "openpose")
    for p in range(len(tracks.track_ids)) if "trc" in exports else ():
        per_px = scale or (metres_per_pixel(tracks, p, height) if height else None)
        write_trc(tracks, p, folder / f"markers_{_label(tracks.track_ids[p])}.trc", per_px)
    if "sleap" in exports:
        layout = standard_layout(len(tracks.names))
        edges = layout.skeleton if layout is not None and layout.names == tracks.names else None
        write_sleap(tracks, folder, video or "video.mp4", edges)
    panels = []
    for p, track in enumerate(tracks.track_ids):
        gait_angles = ("left_knee", "right_knee", "left_hip", "right_hip") if p in result.gait else ()
        plotted = _plotted(result, p, result.signal + gait_angles)
        if not plotted:
            continue
        events = None
        if p in result.gait:
            ev = result.gait[p][0]
            events = {
                f"{s}: {kind}": frames
                for s in ("left", "right")
                for kind, frames in (("heel strike", ev.heel_strikes[s]), ("toe off", ev.toe_offs[s]))
            }
        label = _label(track)
        fig = angle_figure(
            tracks.times, series, p, plotted, label, result.reps.get(p, ()), events, bool(tracks.fps)
        )
        save_png(fig, folder / f"angles_{label}.png")
        tables = []
        if p in result.reps:
            tables.append(
                (
                    ("rep", "start (s)", "end (s)", "min (°)", "max (°)", "range (°)"),
                    [
                        [
                            str(i),
                            f"{tracks.times[r.start]:.2f}",
                            f"{tracks.times[r.end]:.2f}",
                            f"{r.low:.1f}",
                            f"{r.high:.1f}",
                            f"{r.range:.1f}",
                        ]
                        for i, r in enumerate(result.reps[p], 1)
                    ],
                )
            )
        if p in result.gait:
            summary = result.gait[p][1].as_dict()
            tables.append(
                (list(summary), [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in summary.values()]])
            )
        panels.append(Panel(label, [(f"angles of {label}", fig)], tables))
    facts = {
        "frames": len(tracks.files),
        "tracks": len(tracks.track_ids),
        "fps": tracks.fps or "still images",
        "reps counted on": rep_signal or "-",
        "keypoint SD": result.sd_model,
    }
    notes = [par.replace("\n", " ").replace("``", "") for par in (angle_math.__doc__ or "").split("\n\n")[1:]]
    write_html_report(
        folder,
        f"posekit analyze: {folder.name}",
        facts=facts,
        panels=[Panel("Conventions", notes=notes), *panels],
    )
    return folder


def _plotted(result: Analysis, p: int, preferred: Sequence[str]) -> list[str]:
    """The angles to plot for a track: ``preferred`` (the rep signal's, or knees and hips for gait), then
    those that move most (5th to 95th percentile) among the ones seen in at least half the frames."""
    series = result.angles
    values = series.values[p]
    seen = np.isfinite(values).mean(axis=0) >= 0.5
    if not seen.any():
        return []
    spread = np.full(len(series.names), -1.0)
    spread[seen] = np.diff(np.nanpercentile(values[:, seen], [5, 95], axis=0), axis=0)[0]
    chosen = [n for n in preferred if n in series.names and seen[series.names.index(n)]]
    chosen += [series.names[a] for a in np.argsort(-spread) if seen[a] and series.names[a] not in chosen]
    return chosen[:_ANGLES_PLOTTED]


def _label(track: int) -> str:
    """``track3`` for a tracked person, ``person1`` for the first untracked one of each frame."""
    return f"track{track}" if track >= 0 else f"person{-track}"


def _angle_columns(result: Analysis) -> dict[str, list]:
    tracks, s = result.tracks, result.angles
    cols: dict[str, list] = {
        c: []
        for c in (
            "file",
            "frame",
            "time",
            "track_id",
            "angle",
            "kind",
            "value",
            "sd",
            "low95",
            "high95",
            "smooth",
            "velocity",
        )
    }
    present = np.isfinite(s.values).any(axis=2)
    for p, t in zip(*np.nonzero(present.T)[::-1], strict=True):
        for a, n in enumerate(s.names):
            row = (
                tracks.files[t],
                int(tracks.frames[t]),
                float(tracks.times[t]),
                int(tracks.track_ids[p]),
                n,
                s.kinds[a],
                *(float(v[p, t, a]) for v in (s.values, s.sd, s.low, s.high, s.smooth, s.velocity)),
            )
            for column, value in zip(cols, row, strict=True):
                cols[column].append(value)
    return cols


def _rep_columns(result: Analysis) -> dict[str, list]:
    tracks = result.tracks
    cols: dict[str, list] = {
        c: []
        for c in (
            "track_id",
            "rep",
            "start_frame",
            "peak_frame",
            "end_frame",
            "start",
            "end",
            "duration",
            "min",
            "max",
            "range",
        )
    }
    for p, reps in result.reps.items():
        for i, r in enumerate(reps, 1):
            t0, t1 = float(tracks.times[r.start]), float(tracks.times[r.end])
            row = (
                int(tracks.track_ids[p]),
                i,
                int(tracks.frames[r.start]),
                int(tracks.frames[r.peak]),
                int(tracks.frames[r.end]),
                t0,
                t1,
                t1 - t0,
                r.low,
                r.high,
                r.range,
            )
            for column, value in zip(cols, row, strict=True):
                cols[column].append(value)
    return cols


def _event_columns(result: Analysis) -> dict[str, list]:
    tracks = result.tracks
    cols: dict[str, list] = {"track_id": [], "side": [], "event": [], "frame": [], "time": []}
    for p, (events, _) in result.gait.items():
        for kind, per_side in (("heel_strike", events.heel_strikes), ("toe_off", events.toe_offs)):
            for side, frames in per_side.items():
                for f in frames:
                    for column, value in zip(
                        cols,
                        (int(tracks.track_ids[p]), side, kind, int(tracks.frames[f]), float(tracks.times[f])),
                        strict=True,
                    ):
                        cols[column].append(value)
    return cols
