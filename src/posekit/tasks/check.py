"""``posekit check DATA``: validate a keypoint data set (the one validator of train, val and audit:
:func:`posekit.datasets.validation.validate`), print a summary and every defect, and with ``show`` write
augmented training crops with their targets to ``runs/check/<name>``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape

from posekit.datasets.validation import CheckReport, validate
from posekit.errors import PosekitError
from posekit.fileio import json_text
from posekit.samples import locate
from posekit.settings import CheckConfig, build_settings


def check(
    data: str | Path | None = None,
    config: str | Path | None = None,
    *,
    verbose: bool = False,
    **settings: Any,
) -> CheckReport:
    """Check ``data`` ('sample', a COCO keypoint .json or a data .yaml) and return every issue found (bad
    data never raises: it is reported). The keyword names are the ``posekit check`` flags
    (:class:`CheckConfig`; ``config`` a YAML file of them). ``show``: write that many augmented training
    crops with their targets to ``project/check/name`` when the data has no error. ``verbose``: print the
    summary (as JSON with ``json_output``)."""
    cfg = build_settings(CheckConfig, config, data=data, **settings)
    report = validate(locate(cfg.data), images=cfg.images, wholebody=cfg.wholebody)
    console = Console(soft_wrap=True, highlight=False)
    if verbose and cfg.json_output:
        print(json_text(report.to_dict(), indent=2))  # strict JSON: NaN as null
    elif verbose:
        from posekit.report.check_summary import print_check_report

        print_check_report(console, report)
    if cfg.show and report.ok:
        folder, written = _write_crops(cfg.data, cfg.images, cfg.wholebody, cfg.show, cfg.project, cfg.name)
        if verbose and not cfg.json_output:
            console.print(
                f"Wrote {written} augmented training crop(s) with targets to [bold]{escape(str(folder))}[/]"
            )
    return report


def _write_crops(
    data: str | Path, images: str | Path | None, wholebody: bool, count: int, project: str | Path, name: str
) -> tuple[Path, int]:
    """Write ``count`` augmented training crops (train split) with their target keypoints drawn."""
    from posekit.datasets.data_config import resolve_data
    from posekit.fileio import write_image
    from posekit.runs import new_run_dir
    from posekit.topdown.training_dataset import TopDownDataset
    from posekit.viz.draw import draw_pose

    config = resolve_data(locate(data), images=images, wholebody=wholebody)
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
        write_image(out, drawn)
    return folder, len(picks)
