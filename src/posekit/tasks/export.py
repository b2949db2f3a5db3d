"""``posekit export``: a pose model to ONNX or an OpenVINO IR (checked against PyTorch), runnable with
``posekit predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from posekit.inference.export import ExportResult
from posekit.inference.export import export as export_model
from posekit.settings import ExportConfig, build_settings


def export(config: str | Path | None = None, *, verbose: bool = False, **settings: Any) -> ExportResult:
    """Export ``model`` (a directory, hub id, preset or loaded ``PoseModel``) with its keypoint schema and
    preprocessing in the file's metadata; the keyword names are the ``posekit export`` flags
    (:class:`ExportConfig`), ``config`` a YAML file of them. ``verbose``: print the file and its check."""
    cfg = build_settings(ExportConfig, config, **settings)
    if cfg.model is None:
        from posekit.errors import ConfigError

        raise ConfigError("export needs --model: a model directory, hub id or preset (vitpose-b)")
    result = export_model(
        cfg.model,
        pretrained=cfg.pretrained,
        format=cfg.format,
        output=cfg.output,
        dynamic_batch=cfg.dynamic_batch,
        precision=cfg.precision,
        opset=cfg.opset,
        batch_size=cfg.batch_size,
        calibration=cfg.calibration,
    )
    if verbose:
        files = list(result.path.iterdir()) if result.path.is_dir() else [result.path]
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        batch_text = "dynamic" if result.dynamic_batch else str(cfg.batch_size)
        opset_text = f"opset {result.opset}, " if cfg.format == "onnx" else ""
        Console(soft_wrap=True, highlight=False).print(
            f"Exported [bold]{result.path}[/] ({size_mb:.1f} MB, {opset_text}batch {batch_text}"
            f", {result.precision}); max |heatmap diff| vs PyTorch: {result.max_abs_diff:.1e}. "
            f"Run it with: posekit predict --model {result.path} --source IMAGE"
        )
    return result
