"""``posekit convert SRC DST --from F --to F``: labels between COCO keypoints (posekit's format), Ultralytics
YOLO pose, CVAT and Label Studio (:mod:`posekit.datasets.formats`), into a new folder with its data YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from posekit.datasets.formats import ConversionReport
from posekit.datasets.formats import convert as convert_data
from posekit.samples import locate
from posekit.settings import ConvertConfig, build_settings


def convert(
    src: str | Path | None = None,
    dst: str | Path | None = None,
    config: str | Path | None = None,
    *,
    verbose: bool = False,
    **settings: Any,
) -> ConversionReport:
    """Convert ``src`` ('sample' for the built-in COCO sample) into the folder ``dst``; the keyword names
    are the ``posekit convert`` flags (:class:`ConvertConfig`: ``from_format``, ``to_format``, ...). Return
    what was kept and lost (:class:`ConversionReport`, also written as ``dst/conversion.json``).
    ``verbose``: print it."""
    cfg = build_settings(ConvertConfig, config, src=src, dst=dst, **settings)
    report = convert_data(
        locate(cfg.src) if cfg.from_format == "coco" else cfg.src,
        cfg.dst,
        cfg.from_format,
        cfg.to_format,
        images=cfg.images,
        kpt_dims=cfg.kpt_dims,
        copy_images=cfg.copy_images,
        overwrite=cfg.overwrite,
        label_config=cfg.label_config,
    )
    if verbose:
        console = Console(soft_wrap=True, highlight=False)
        console.print(escape(str(report)))
        console.print(f"Next: [bold]posekit check {escape(report.output)}[/]")
    return report
