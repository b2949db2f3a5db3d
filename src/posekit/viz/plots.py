"""Evaluation plots (matplotlib, Agg canvas, no global pyplot state): each chart is a ``*_figure``
function; :func:`save_png` writes one atomically, :func:`svg_text` renders one for an HTML page."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from posekit.fileio import atomic_save

#: coco-analyze's colours for the keypoint labels (good and the error types of Ronchi & Perona).
ERROR_COLOURS = {
    "good": "#1ED88B",
    "jitter": "#8C4646",
    "inversion": "#D96459",
    "swap": "#F2AE72",
    "miss": "#F2E394",
}


def per_keypoint_figure(
    names: Sequence[str], values: Sequence[float], label: str, title: str | None = None
) -> Figure:
    """Horizontal bars, one per keypoint in the given order (pass them weakest first: it is drawn on top).

    ``values`` are fractions in [0, 1]; NaN (undefined) bars are left empty and marked "n/a".
    """
    values = np.asarray(values, dtype=np.float64)
    fig, ax = _figure(5.2, 1.2 + 0.28 * len(names))
    y = np.arange(len(names))
    shown = np.nan_to_num(values, nan=0.0)
    ax.barh(y, shown, color=_colours(shown))
    for yi, v in zip(y, values, strict=True):
        ax.text(
            min(v, 1.0) + 0.01 if np.isfinite(v) else 0.01,
            yi,
            f"{v:.3f}" if np.isfinite(v) else "n/a",
            va="center",
            fontsize=9,
        )
    ax.set_yticks(y, list(names), fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.15)
    ax.set_xlabel(label)
    ax.set_title(textwrap.fill(title or f"Per-keypoint {label}, weakest first", 48), fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return fig


def pr_curves_figure(recall: np.ndarray, curves: Mapping[str, np.ndarray]) -> Figure:
    """Precision-recall curves (e.g. ``{"OKS 0.50": p50, "OKS 0.75": p75}``) on one chart."""
    fig, ax = _figure(5.2, 4.4)
    for label, precision in curves.items():
        precision = np.asarray(precision, dtype=np.float64)
        ap = float(precision[precision > -1].mean()) if (precision > -1).any() else float("nan")
        ax.plot(recall, np.clip(precision, 0, None), label=f"{label} (AP {ap:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Keypoint precision-recall\n(COCO, 20 predictions per image)", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return fig


def label_shares_figure(
    names: Sequence[str], counts: np.ndarray, labels: Sequence[str], title: str
) -> Figure:
    """One stacked horizontal bar per row (``counts`` (N, len(labels))), each label's share of the row,
    rows in the given order from the top; a row without counts is left empty."""
    counts = np.asarray(counts, dtype=np.float64)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = _figure(5.2, 1.8 + 0.28 * len(names))
    y = np.arange(len(names))
    left = np.zeros(len(names))
    for i, label in enumerate(labels):
        ax.barh(y, shares[:, i], left=left, color=ERROR_COLOURS.get(label), label=label, edgecolor="white")
        left += shares[:, i]
    ax.set_yticks(y, list(names), fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the labelled joints")
    ax.set_title(title, fontsize=11)
    fig.legend(loc="outside lower center", ncols=len(labels), fontsize=9, frameon=False)
    return fig


def ap_fixed_figure(ap: float, fixed: Mapping[str, float]) -> Figure:
    """AP as predicted and after fixing each error type (``{"jitter": ap, ...}``), as horizontal bars."""
    names = ["as predicted", *(f"{name} fixed" for name in fixed)]
    values = np.array([ap, *fixed.values()], dtype=np.float64)
    fig, ax = _figure(5.2, 1.3 + 0.4 * len(names))
    y = np.arange(len(names))
    colours = ["#4F82BD", *(ERROR_COLOURS.get(name, "#555555") for name in fixed)]
    ax.barh(y, np.nan_to_num(values), color=colours, edgecolor="#333333", linewidth=0.5)
    for yi, v in zip(y, values, strict=True):
        gain = f" (+{v - ap:.3f})" if yi and np.isfinite(v - ap) else ""
        ax.text(min(v, 1.0) + 0.01 if np.isfinite(v) else 0.01, yi, f"{v:.3f}{gain}", va="center", fontsize=9)
    ax.axvline(ap, color="#4F82BD", linestyle="--", linewidth=1)
    ax.set_yticks(y, names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.35)
    ax.set_xlabel("COCO AP (OKS 0.50:0.95)")
    ax.set_title("AP after fixing each error type", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return fig


def save_png(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write the figure as a PNG file, atomically."""
    path = Path(path)
    atomic_save(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    return path


def svg_text(fig: Figure) -> str:
    """The figure as SVG text: text kept as text (small, selectable), no date, stable ids."""
    buffer = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "posekit"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def plot_per_keypoint(
    names: Sequence[str], values: Sequence[float], path: str | Path, label: str, title: str | None = None
) -> Path:
    """:func:`per_keypoint_figure` written as a PNG file."""
    return save_png(per_keypoint_figure(names, values, label, title), path)


def _figure(width: float, height: float) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _colours(values: np.ndarray) -> list:
    cmap = colormaps["RdYlGn"]
    return [cmap(float(np.clip(v, 0, 1))) for v in values]
