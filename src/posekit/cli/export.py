"""``posekit export``: a pose model to ONNX or OpenVINO IR (checked against PyTorch), runnable with
``posekit predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def export_command(
    model: Annotated[str, typer.Option(help="Model: a directory, hub id or preset (vitpose-b).")],
    pretrained: Annotated[
        str, typer.Option(help="Weights of a preset: auto (hub), none (random), a path or hub id.")
    ] = "auto",
    format: Annotated[
        str, typer.Option("--format", help="onnx (ONNX Runtime) or openvino (an OpenVINO IR folder).")
    ] = "onnx",
    output: Annotated[
        Path | None,
        typer.Option(
            help="Output .onnx, or the IR's folder (default: model.onnx / openvino/ in the model directory, "
            "else NAME.onnx / NAME_openvino/ here)."
        ),
    ] = None,
    dynamic_batch: Annotated[
        bool, typer.Option("--dynamic-batch", help="Leave the batch size free.")
    ] = False,
    batch: Annotated[int, typer.Option(min=1, help="Fixed batch size (without --dynamic-batch).")] = 1,
    precision: Annotated[
        str,
        typer.Option(
            help="fp32 (auto), fp16 (ONNX weights; inputs/outputs stay float32) or int8 (ONNX Runtime static "
            "quantisation, or NNCF's for openvino; calibrated on --calibration)."
        ),
    ] = "auto",
    calibration: Annotated[
        str,
        typer.Option(
            help="int8: a data set (sample, data YAML, COCO JSON) or person images to calibrate on."
        ),
    ] = "sample",
    opset: Annotated[int, typer.Option(min=14, help="ONNX opset.")] = 17,
) -> None:
    """Export a pose model to ONNX with its keypoint schema and preprocessing in the file's metadata."""
    from posekit.inference.export import export

    result = export(
        model,
        pretrained=pretrained,
        format=format,
        output=output,
        dynamic_batch=dynamic_batch,
        precision=precision,
        opset=opset,
        batch=batch,
        calibration=calibration,
    )
    files = list(result.path.iterdir()) if result.path.is_dir() else [result.path]
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    batch_text = "dynamic" if result.dynamic_batch else str(batch)
    opset_text = f"opset {result.opset}, " if format == "onnx" else ""
    Console(soft_wrap=True, highlight=False).print(
        f"Exported [bold]{result.path}[/] ({size_mb:.1f} MB, {opset_text}batch {batch_text}"
        f", {result.precision}); max |heatmap diff| vs PyTorch: {result.max_abs_diff:.1e}. "
        f"Run it with: posekit predict --model {result.path} --source IMAGE"
    )
