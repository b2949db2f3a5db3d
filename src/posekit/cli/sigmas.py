"""``posekit sigmas A.json B.json ...``: per-keypoint OKS sigmas from repeated annotations (a schema file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from posekit.errors import ConfigError

if TYPE_CHECKING:
    from posekit.audit.sigma_estimation import SigmaEstimate
    from posekit.datasets.schema import KeypointSchema


def sigmas_command(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Two or more COCO keypoint .json files labelling the same images (people are matched by "
            "OKS); one file with --predictions; or 'sample' (a demo: simulated annotators)."
        ),
    ],
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="COCO keypoint results of a model on the one FILE: APPROXIMATE sigmas from its residuals.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Schema file to write (default: runs/sigmas/<name>/schema.json)."),
    ] = None,
    min_oks: Annotated[
        float,
        typer.Option("--min-oks", min=0.0, max=1.0, help="OKS at which two annotations are one person."),
    ] = 0.5,
    robust: Annotated[
        bool, typer.Option("--robust", help="Medians instead of means: for files with gross mistakes.")
    ] = False,
    project: Annotated[str, typer.Option("--project", help="Runs folder.")] = "runs",
    name: Annotated[str, typer.Option("--name", help="Run name (runs/sigmas/<name>, incremented).")] = "exp",
) -> None:
    """Estimate per-keypoint OKS sigmas as COCO defines them (the spread of annotators' labels of a point,
    relative to the person's scale) and write a schema file that `posekit val --sigmas FILE` and a data
    YAML's `schema:` read."""
    from posekit.audit import sigma_estimation as estimate
    from posekit.datasets.results_file import load_results
    from posekit.fileio import atomic_write_json, refuse_overwriting_inputs
    from posekit.runs import new_run_dir

    if out is not None:  # never over the annotations or predictions it reads
        refuse_overwriting_inputs(out, [*files, predictions], "choose another --out")
    if files == ["sample"]:
        cocos, schema = estimate.sample_repeats()
        sources = len(cocos)
    else:
        read = [estimate.read_annotations(f) for f in files]
        cocos, schema, sources = [c for c, _ in read], read[0][1], len(read)
        for f, (_, other) in zip(files[1:], read[1:], strict=True):
            if other.names != schema.names:
                raise ConfigError(f"{f} has other keypoints than {files[0]}; annotate the same keypoint set")
    if predictions is not None:
        if len(cocos) != 1:
            raise ConfigError("--predictions goes with exactly one annotation file (the one predicted)")
        coco = cocos[0]
        results = load_results(
            predictions, schema.num_keypoints, [i["id"] for i in coco["images"]], coco["categories"][0]["id"]
        )
        found = estimate.residual_sigmas(cocos[0], results, schema)
    elif len(cocos) < 2:
        raise ConfigError(
            "pass two or more annotation files of the same images, or one file and --predictions RESULTS.json"
        )
    else:
        found = estimate.repeat_sigmas(cocos, schema, min_oks, robust)
    result = estimate.sigma_schema(schema, found, sources)
    path = out if out is not None else new_run_dir(project, "sigmas", name) / "schema.json"
    atomic_write_json(path, result.to_dict())
    _print(Console(soft_wrap=True, highlight=False), schema, result, found, path)


def _print(
    console: Console, before: KeypointSchema, after: KeypointSchema, found: SigmaEstimate, path: Path
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
