"""Label audit benchmark: known errors put into copies of the built-in sample, then the recall of each
injected kind and the precision of each finding kind among the reported findings (score >= 4, or the
``--top`` highest), per mode of ``posekit audit``.

Errors (:func:`posekit.label_audit.inject_errors`, a fresh draw per seed): 5 % of the people with one
left/right pair swapped, 5 % with one joint moved 4-8 sigma, 2 % labelled twice, 2 % with a visibility
flip, 2 % with a visible point cleared. Modes:

- data only (no model);
- ``--model`` on the val split, which the model never saw (the honest figure), and the same with the
  crop alone (no mirrored view) to show what the mirror image's veto costs or buys;
- ``--model`` on the train split, which it memorised (findings understate);
- ``--folds K`` on the train split: K models of posekit train's recipe (vitpose-t from scratch) trained
  on the other folds of the damaged labels, each predicting the images it did not see (slow: K trainings
  per seed).

The model is the sample model (``posekit train`` with no arguments), trained on the clean train split.

    python benchmarks/audit.py            # val, train and folds; the model: runs/train/exp/weights/best
    python benchmarks/audit.py --quick    # one seed per split, no folds
    python benchmarks/audit.py --parts folds --fold-epochs 15    # only the (slow) --folds mode
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from posekit.datasets.data_config import resolve_data
from posekit.engine.model_audit import audit_with_model
from posekit.label_audit.api import MODES, AuditReport, audit
from posekit.label_audit.inject import DEFAULT_RATES, KindScore, inject_errors, score_findings
from posekit.models.vitpose import load_model
from posekit.samples import locate

console = Console()
#: The goal of the issue, with a model: recall >= 0.9 at precision >= 0.8 for these kinds.
GOAL = {"swap": (0.9, 0.8), "displaced": (0.9, 0.8)}


def benchmark(
    split: str,
    name: str,
    run_audit: Callable[[Path, Path, Path], AuditReport],
    seeds: list[int],
    top: int | None,
    workdir: Path,
) -> dict[str, KindScore]:
    """Counts summed over ``seeds`` of damaged copies of the sample's ``split``, audited by ``run_audit``
    (``(damaged json, its images, a scratch folder) -> report``)."""
    spec = getattr(resolve_data(locate("sample")), split)
    clean = json.loads(spec.json_path.read_bytes())
    images = spec.json_path.parent / "images" / split
    schema = resolve_data(locate("sample")).load_split(split).schema
    totals: dict[str, list[int]] = {}
    modes: set[str] = set()
    t0 = time.time()
    for seed in seeds:
        damaged, injected = inject_errors(copy.deepcopy(clean), schema, DEFAULT_RATES, seed=seed)
        path = workdir / f"{split}-{seed}.json"
        path.write_text(json.dumps(damaged))
        report = run_audit(path, images, workdir / f"{name}-{split}-{seed}".replace(" ", "_"))
        modes |= {s.mode for s in report.splits.values()}
        for kind, s in score_findings(report.findings, injected, top).items():
            row = totals.setdefault(kind, [0, 0, 0, 0])
            for i, v in enumerate((s.injected, s.found, s.flagged, s.correct)):
                row[i] += v
    scores = {kind: KindScore(*row) for kind, row in totals.items()}
    _print(split, name, modes, scores, len(seeds), time.time() - t0)
    return scores


def _print(
    split: str, name: str, modes: set[str], scores: dict[str, KindScore], seeds: int, seconds: float
) -> None:
    meaning = "; ".join(MODES[m] for m in sorted(modes))
    table = Table(
        title=f"{split} split, {name} ({seeds} seed(s), {seconds:.0f} s): {meaning}", title_justify="left"
    )
    for column in ("kind", "injected", "found", "recall", "flagged", "correct", "precision"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind, s in scores.items():
        if not (s.injected or s.flagged):
            continue
        table.add_row(
            kind,
            str(s.injected),
            str(s.found),
            _ratio(s.recall),
            str(s.flagged),
            str(s.correct),
            _ratio(s.precision),
        )
    console.print(table)
    goal = [k for k in GOAL if k in scores and scores[k].injected]
    if "data" not in modes and goal:
        verdict = ", ".join(
            f"{k}: recall {_ratio(s.recall)} (goal {GOAL[k][0]}), precision {_ratio(s.precision)} "
            f"(goal {GOAL[k][1]})"
            + (" MET" if s.recall >= GOAL[k][0] and s.precision >= GOAL[k][1] else " not met")
            for k, s in ((k, scores[k]) for k in goal)
        )
        console.print(f"  goal: {verdict}")


def _ratio(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="runs/train/exp/weights/best", help="the sample model (from `posekit train`)"
    )
    parser.add_argument("--quick", action="store_true", help="one seed per split, no folds")
    parser.add_argument("--parts", default="val,train,folds", help="what to run: val, train and/or folds")
    parser.add_argument(
        "--seeds", type=int, default=None, help="injection draws per split (default 5 val, 3 train)"
    )
    parser.add_argument(
        "--top", type=int, default=None, help="score the top N findings (default: all reported)"
    )
    parser.add_argument("--folds", type=int, default=2, help="K of the --folds mode")
    parser.add_argument(
        "--fold-epochs", type=int, default=None, help="epochs of each fold model (default: the sample's)"
    )
    args = parser.parse_args()
    if not Path(args.model).is_dir():
        parser.error(
            f"--model {args.model} is not a model folder; train the sample model with `posekit train`"
        )
    val_seeds = list(range(args.seeds or (1 if args.quick else 5)))
    train_seeds = list(range(args.seeds or (1 if args.quick else 3)))
    crop_only = load_model(args.model)
    crop_only.processor = crop_only.processor.updated(flip_test=False)  # no mirrored view

    def data_only(path: Path, images: Path, scratch: Path) -> AuditReport:
        return audit(path, images=images)

    def with_model(model: Any) -> Callable[[Path, Path, Path], AuditReport]:
        return lambda path, images, scratch: audit_with_model(path, images=images, model=model)

    fold_settings = {"epochs": args.fold_epochs} if args.fold_epochs else {}

    def folds(path: Path, images: Path, scratch: Path) -> AuditReport:
        return audit_with_model(
            path, images=images, folds=args.folds, folder=scratch, fold_settings=fold_settings
        )

    with tempfile.TemporaryDirectory(prefix="posekit-audit-bench-") as tmp:
        work = Path(tmp)
        console.print(f"Injected per seed: {DEFAULT_RATES} of the people with >= 5 labelled points")
        parts = set(args.parts.split(",")) - ({"folds"} if args.quick else set())
        if "val" in parts:
            benchmark("val", "data only", data_only, val_seeds, args.top, work)
            benchmark("val", "model (crop + mirror image)", with_model(args.model), val_seeds, args.top, work)
            benchmark("val", "model (crop only)", with_model(crop_only), val_seeds, args.top, work)
        if "train" in parts:
            benchmark("train", "data only", data_only, train_seeds, args.top, work)
            benchmark(
                "train", "model (crop + mirror image)", with_model(args.model), train_seeds, args.top, work
            )
        if "folds" in parts:
            benchmark("train", f"--folds {args.folds}", folds, train_seeds[:1], args.top, work)


if __name__ == "__main__":
    main()
