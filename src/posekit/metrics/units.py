"""The one unit in which AP, AR, PCK and AUC are shown to a person (console, report.html, charts, CSV,
training's table): a fraction 0-1 with three decimals, as ``metrics.json`` stores them."""

from __future__ import annotations

import math

#: Said beside every table or chart of these scores.
SCORE_UNIT = "fractions 0-1"


def format_fraction(value: float | None) -> str:
    """``0.913``; "-" where undefined (None, NaN or COCO's -1)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value < 0:
        return "-"
    return f"{value:.3f}"
