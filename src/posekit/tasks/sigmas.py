"""``posekit sigmas A.json B.json ...``: per-keypoint OKS sigmas from repeated annotations (or, approximately,
from a model's residuals), written as a schema file (``runs/sigmas/<name>/schema.json`` or ``out``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from posekit.datasets.results_file import load_results
from posekit.datasets.schema import KeypointSchema
from posekit.errors import ConfigError
from posekit.fileio import atomic_write_json, refuse_overwriting_inputs
from posekit.label_audit import sigma_estimation as estimate
from posekit.runs import new_run_dir
from posekit.settings import SigmasConfig, build_settings


@dataclass(frozen=True)
class SigmasResult:
    """The schema with the estimated sigmas, the file it was written to and the evidence per keypoint."""

    schema: KeypointSchema
    path: Path
    estimate: estimate.SigmaEstimate


def sigmas(
    files: list[str | Path] | str | Path | None = None,
    config: str | Path | None = None,
    *,
    verbose: bool = False,
    **settings: Any,
) -> SigmasResult:
    """Estimate per-keypoint OKS sigmas as COCO defines them (the spread of annotators' labels of a point,
    relative to the person's scale) from ``files`` (two or more COCO keypoint files of the same images, one
    with ``predictions``, or ``"sample"``) and write the schema file that ``posekit val --sigmas FILE`` and
    a data YAML's ``schema:`` read. The keyword names are the ``posekit sigmas`` flags
    (:class:`SigmasConfig`). ``verbose``: print the table."""
    if isinstance(files, (str, Path)):
        files = [files]
    cfg = build_settings(SigmasConfig, config, files=files, **settings)
    if cfg.out is not None:  # never over the annotations or predictions it reads
        refuse_overwriting_inputs(cfg.out, [*cfg.files, cfg.predictions], "choose another --out")
    if cfg.files == ["sample"]:
        cocos, schema = estimate.sample_repeats()
        sources = len(cocos)
    else:
        read = [estimate.read_annotations(f) for f in cfg.files]
        cocos, schema, sources = [c for c, _ in read], read[0][1], len(read)
        for f, (_, other) in zip(cfg.files[1:], read[1:], strict=True):
            if other.names != schema.names:
                raise ConfigError(
                    f"{f} has other keypoints than {cfg.files[0]}; annotate the same keypoint set"
                )
    if cfg.predictions is not None:
        if len(cocos) != 1:
            raise ConfigError("--predictions goes with exactly one annotation file (the one predicted)")
        coco = cocos[0]
        results = load_results(
            cfg.predictions,
            schema.num_keypoints,
            [i["id"] for i in coco["images"]],
            coco["categories"][0]["id"],
        )
        found = estimate.residual_sigmas(coco, results, schema)
    elif len(cocos) < 2:
        raise ConfigError(
            "pass two or more annotation files of the same images, or one file and --predictions RESULTS.json"
        )
    else:
        found = estimate.repeat_sigmas(cocos, schema, cfg.min_oks, cfg.robust)
    result = estimate.sigma_schema(schema, found, sources)
    path = (
        Path(cfg.out) if cfg.out is not None else new_run_dir(cfg.project, "sigmas", cfg.name) / "schema.json"
    )
    atomic_write_json(path, result.to_dict())
    if verbose:
        _print(Console(soft_wrap=True, highlight=False), schema, result, found, path)
    return SigmasResult(result, path, found)


def _print(
    console: Console, before: KeypointSchema, after: KeypointSchema, found: estimate.SigmaEstimate, path: Path
) -> None:
    table = Table(title=escape(after.name), title_justify="left")
    for column in ("keypoint", "sigma", "was", "ratio", "evidence (dof)"):
        table.add_column(column, justify="left" if column == "keypoint" else "right")
    for i, keypoint in enumerate(after.names):
        kept = bool(found.dof[i] == 0)
        table.add_row(
            escape(keypoint),
            f"{after.sigmas[i]:.4f}" + (" (kept)" if kept else ""),
            f"{before.sigmas[i]:.4f}",
            f"{after.sigmas[i] / before.sigmas[i]:.2f}",
            str(int(found.dof[i])),
        )
    console.print(table)
    if found.approximate:
        console.print(
            "[bold yellow]Approximation:[/] model residuals include the model's own error, so these sigmas "
            "are an upper bound on the annotators'. Repeated annotations give the real thing."
        )
    console.print(
        f"Wrote {escape(str(path))}; use it with `posekit val --sigmas {escape(str(path))}` or paste it "
        "under `schema:` in a data YAML."
    )
