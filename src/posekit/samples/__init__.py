"""The built-in synthetic data sets, generated on first use from a seed: stick figures (``figures``), the
COCO-17 image sample (``sample``), the walking video (``sample-video``) and the motion clips with known
reps and gait events (``motion_clips``, for posekit analyze). Imports the base layer and
:mod:`posekit.datasets` (for the COCO-17 schema); the readers never import this package."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

_Spec = TypeVar("_Spec")

#: The names that stand for a built-in data set wherever a data set is expected.
SAMPLE_NAMES = ("sample", "sample-video")


def locate(spec: _Spec) -> _Spec | Path:
    """The data YAML of a built-in sample (``"sample"``, ``"sample-video"``: generated on first use and
    cached), or ``spec`` unchanged. Data readers take the result: they know no sample names."""
    if isinstance(spec, str) and spec in SAMPLE_NAMES:
        if spec == "sample":
            from posekit.samples.sample_images import sample_data_path

            return sample_data_path()
        from posekit.samples.sample_video import sample_video_path

        return sample_video_path()
    return spec
