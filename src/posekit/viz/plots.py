"""Evaluation plots (matplotlib, Agg canvas, no global pyplot state), written atomically as PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from posekit.io import atomic_save


def plot_per_keypoint(
    names: Sequence[str], values: Sequence[float], path: str | Path, label: str, title: str | None = None
) -> Path:
    """Horizontal bars, one per keypoint in the given order (pass them weakest first: it is drawn on top).

    ``values`` are fractions in [0, 1]; NaN (undefined) bars are left empty and marked "n/a".
    """
    values = np.asarray(values, dtype=np.float64)
    fig = Figure(figsize=(7, 1.2 + 0.28 * len(names)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y = np.arange(len(names))
    shown = np.nan_to_num(values, nan=0.0)
    ax.barh(y, shown, color=_colours(shown))
    for yi, v in zip(y, values, strict=True):
        ax.text(
            min(v, 1.0) + 0.01 if np.isfinite(v) else 0.01,
            yi,
            f"{v:.3f}" if np.isfinite(v) else "n/a",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, list(names), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xlabel(label)
    ax.set_title(title or f"Per-keypoint {label}, weakest first")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_pr_curves(recall: np.ndarray, curves: Mapping[str, np.ndarray], path: str | Path) -> Path:
    """Precision-recall curves (e.g. ``{"OKS 0.50": p50, "OKS 0.75": p75}``) on one chart."""
    fig = Figure(figsize=(6, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, precision in curves.items():
        precision = np.asarray(precision, dtype=np.float64)
        ap = float(precision[precision > -1].mean()) if (precision > -1).any() else float("nan")
        ax.plot(recall, np.clip(precision, 0, None), label=f"{label} (AP {ap:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Keypoint precision-recall (COCO, 20 predictions per image)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return _save(fig, path)


def _colours(values: np.ndarray) -> list:
    cmap = colormaps["RdYlGn"]
    return [cmap(float(np.clip(v, 0, 1))) for v in values]


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    atomic_save(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path
