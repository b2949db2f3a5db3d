"""``posekit convert SRC DST --from F --to F``: labels between COCO keypoints (posekit's format), Ultralytics
YOLO pose, CVAT and Label Studio (:mod:`posekit.datasets.formats`), into a new folder with its data YAML."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from posekit.datasets.formats import ConversionReport
from posekit.datasets.formats import convert as convert_data
from posekit.samples import locate


def convert(
    src: str | Path,
    dst: str | Path,
    from_format: str,
    to_format: str = "coco",
    *,
    images: str | Path | None = None,
    kpt_dims: int = 3,
    copy_images: bool = False,
    overwrite: bool = False,
    label_config: str | Path | None = None,
    verbose: bool = False,
) -> ConversionReport:
    """Convert ``src`` ('sample' for the built-in COCO sample) into the folder ``dst``; return what was kept
    and lost (:class:`ConversionReport`, also written as ``dst/conversion.json``). ``verbose``: print it."""
    report = convert_data(
        locate(src) if from_format == "coco" else src,
        dst,
        from_format,
        to_format,
        images=images,
        kpt_dims=kpt_dims,
        copy_images=copy_images,
        overwrite=overwrite,
        label_config=label_config,
    )
    if verbose:
        console = Console(soft_wrap=True, highlight=False)
        console.print(escape(str(report)))
        console.print(f"Next: [bold]posekit check {escape(report.output)}[/]")
    return report
