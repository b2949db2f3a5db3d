"""Angle-time curves of one track: each angle with its 95% interval, reps shaded, gait events marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from posekit.analysis.angles import AngleSeries
from posekit.analysis.reps import Rep


def angle_figure(
    times: np.ndarray,
    angles: AngleSeries,
    person: int,
    names: Sequence[str],
    title: str,
    reps: Sequence[Rep] = (),
    events: Mapping[str, Sequence[int]] | None = None,
    seconds: bool = True,
) -> Figure:
    """Angles ``names`` of track ``person`` against ``times`` (seconds, or frames when not ``seconds``), one
    panel each: smoothed curve, 95%
    interval band; ``reps`` shaded and numbered, ``events`` ("left: heel strike" -> frames) as vertical
    lines (heel strikes solid red, toe offs dashed blue) on that side's angles."""
    fig = Figure(figsize=(7.5, 1.3 + 1.5 * len(names)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    styles = {"heel strike": ("tab:red", "-"), "toe off": ("tab:blue", "--")}
    for ax, name in zip(axes, names, strict=True):
        a = angles.names.index(name)
        ax.fill_between(
            times,
            angles.low[person, :, a],
            angles.high[person, :, a],
            color="tab:orange",
            alpha=0.25,
            lw=0,
            label="95% interval",
        )
        ax.plot(times, angles.smooth[person, :, a], color="tab:orange", lw=1.5, label=name)
        for i, rep in enumerate(reps, 1):
            ax.axvspan(times[rep.start], times[rep.end], color="tab:green", alpha=0.12, lw=0)
            if ax is axes[0]:
                ax.annotate(
                    str(i),
                    (times[rep.peak], 1.0),
                    xycoords=("data", "axes fraction"),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    color="tab:green",
                )
        for label, frames in (events or {}).items():
            side, _, kind = label.partition(": ")
            if name.startswith(("left_", "right_")) and not name.startswith(f"{side}_"):
                continue  # a side's events go on that side's angles (and on the unsided ones)
            colour, style = styles.get(kind, ("grey", ":"))
            for f in frames:
                ax.axvline(times[f], color=colour, ls=style, lw=0.8, alpha=0.7)
        ax.set_ylabel(f"{name} (°)", fontsize=9)
    if events:
        for kind, (colour, style) in styles.items():
            axes[0].plot([], [], color=colour, ls=style, lw=0.8, label=kind)
        axes[0].legend(fontsize=7, loc="upper right", ncol=3)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)" if seconds else "frame")
    axes[0].set_title(title, fontsize=10, pad=12)
    return fig
