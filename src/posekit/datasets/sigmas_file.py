"""OKS sigmas given by the user (``--sigmas``): a JSON file or a comma list, one per keypoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.datasets.json_file import load_json
from posekit.datasets.schema import KeypointSchema
from posekit.errors import ConfigError


def parse_sigmas(
    value: str | Path | list[float] | np.ndarray | None, schema: KeypointSchema
) -> list[float] | None:
    """``--sigmas``: a JSON file (a list or ``{"sigmas": [...]}``) or a comma list, one per keypoint."""
    if value is None:
        return None
    if isinstance(value, str | Path) and Path(value).suffix.lower() == ".json":
        path = Path(value)
        data = load_json(path, "--sigmas file", ConfigError)
        values = data.get("sigmas") if isinstance(data, dict) else data
        where = f"--sigmas file {path}"
    elif isinstance(value, str):
        values, where = [v.strip() for v in value.split(",") if v.strip()], f"--sigmas {value!r}"
    else:
        values, where = list(np.asarray(value).ravel()), "sigmas"
    try:
        sigmas = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: every sigma must be a number, e.g. 0.025,0.025,...") from None
    k = schema.num_keypoints
    if len(sigmas) != k or not all(np.isfinite(s) and s > 0 for s in sigmas):
        raise ConfigError(
            f"{where}: expected {k} positive numbers (one per keypoint of {schema.name}), got {sigmas}"
        )
    return sigmas
