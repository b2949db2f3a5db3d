"""``posekit convert SRC DST --from FORMAT --to FORMAT``: labelling formats to and from COCO keypoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def convert_command(
    src: Annotated[str, typer.Argument(help="The data to convert (a file or folder; 'sample' for coco).")],
    dst: Annotated[Path, typer.Argument(help="The output folder (new, or empty).")],
    from_format: Annotated[
        str, typer.Option("--from", help="Source format: coco, yolo, cvat or label-studio.")
    ],
    to_format: Annotated[str, typer.Option("--to", help="Target format: coco or yolo.")] = "coco",
    images: Annotated[
        Path | None,
        typer.Option(
            help="Image folder of a COCO .json, CVAT or Label Studio export (default: found beside it)."
        ),
    ] = None,
    kpt_dims: Annotated[
        int, typer.Option("--kpt-dims", min=2, max=3, help="YOLO values per keypoint: 3 (x y v) or 2 (x y).")
    ] = 3,
    copy_images: Annotated[
        bool, typer.Option("--copy-images", help="COCO output holds its images (hard links when possible).")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace DST when an earlier `posekit convert` wrote it.")
    ] = False,
    label_config: Annotated[
        Path | None,
        typer.Option(help="Label Studio labelling config (XML): its model_index gives the keypoint order."),
    ] = None,
) -> None:
    """Convert keypoint labels between COCO (posekit's format), Ultralytics YOLO pose, CVAT and Label Studio.

    Back again: posekit convert yolo_sample/data.yaml coco_again --from yolo. posekit train/val/check also
    take a YOLO pose data.yaml directly.
    """
    from posekit.tasks.convert import convert

    convert(
        src,
        dst,
        from_format,
        to_format,
        images=images,
        kpt_dims=kpt_dims,
        copy_images=copy_images,
        overwrite=overwrite,
        label_config=label_config,
        verbose=True,
    )
