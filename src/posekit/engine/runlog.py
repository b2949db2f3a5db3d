"""What a training run shows and writes: progress bars and tables on the console, and the run folder
(``args.yaml``, ``results.csv``, ``results.png``, ``per_keypoint.png``, ``train_batch*.jpg``,
``val_predictions*.jpg``, TensorBoard logs when tensorboard is installed). Only the main process logs."""

from __future__ import annotations

import csv
import importlib.util
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from posekit.fileio import atomic_save, atomic_write_text, write_image
from posekit.metrics.units import SCORE_UNIT, format_fraction

if TYPE_CHECKING:
    from posekit.datasets.records import KeypointAnnotations
    from posekit.datasets.schema import KeypointSchema
    from posekit.settings import TrainConfig
    from posekit.topdown.processor import TopDownProcessor

#: Columns of the validation table and of results.png's metric panel.
TABLE_METRICS = ("AP", "AP50", "AP75", "AR", "PCK@0.1")
#: How many augmented batches (first epoch), crops per batch and validation images are drawn.
PREVIEW_BATCHES, PREVIEW_CROPS, PREVIEW_IMAGES = 3, 16, 4


class RunLog:
    """Console and run-folder output of one training run (a no-op on processes other than the main one).

    The trainer calls it at each stage with the values to show; it never reads the trainer itself."""

    def __init__(self, enabled: bool = True, verbose: bool = True) -> None:
        """``enabled``: write and show anything (the main process); ``verbose``: show on the console."""
        self.enabled = enabled
        self.console = Console(quiet=not verbose)
        self.run_dir: Path | None = None
        self.writer: Any = None

    def print(self, message: str) -> None:
        if self.enabled:
            self.console.print(message, highlight=False)

    def open(
        self, run_dir: Path, cfg: TrainConfig, schema: KeypointSchema, processor: TopDownProcessor
    ) -> None:
        self.run_dir, self.schema, self.processor = run_dir, schema, processor
        if not self.enabled:
            return
        atomic_write_text(run_dir / "args.yaml", cfg.to_yaml())
        if importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def start(
        self,
        cfg: TrainConfig,
        loaded: str,
        parameters: int,
        people: int,
        val_annotations: int,
        world: int,
        steps: int,
    ) -> None:
        """The run's first line; ``loaded`` says what the model started from (weights, random, checkpoint)."""
        model, data = escape(str(cfg.model)), escape(str(cfg.data or "the built-in sample"))
        self.print(
            f"[bold]posekit train[/] {model} ({parameters / 1e6:.1f}M parameters, "
            f"from {escape(loaded)}) on {data}: {people} training people, "
            f"{val_annotations} val annotations, {self.schema.num_keypoints} keypoints\n"
            f"device {cfg.device} x{world}, amp {cfg.amp}, batch {cfg.batch_size}/process, "
            f"lr {cfg.lr:.3g} ({cfg.schedule}, {cfg.warmup} warm-up steps), input {cfg.input_size[0]}x"
            f"{cfg.input_size[1]}, {cfg.head} head, {cfg.epochs} epochs of {steps} steps -> "
            f"{escape(str(self.run_dir))}"
        )

    @contextmanager
    def progress(
        self,
        epoch: int,
        epochs: int,
        steps: int,
        start_step: int,
        loss_sum: float,
        loss_count: int,
        frozen: bool,
    ) -> Iterator[_Bar]:
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[speed]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, disable=not self.enabled) as progress:
            task = progress.add_task(
                f"Epoch {epoch + 1}/{epochs}" + (" (backbone frozen)" if frozen else ""),
                total=steps,
                completed=start_step,
                loss="-",
                lr="-",
                speed="",
            )
            yield _Bar(progress, task, loss_sum, loss_count)

    def train_batch(self, batch: dict[str, Any], index: int) -> None:
        """Draw the first batches' augmented crops with their targets (keypoints with a target weight)."""
        if not self.enabled or index >= PREVIEW_BATCHES:
            return
        from posekit.viz.draw import draw_crops_grid

        images = self.processor.to_images(batch["pixel_values"][:PREVIEW_CROPS].float().numpy())
        points = batch["keypoints"][:PREVIEW_CROPS, :, :2].numpy()
        weights = batch["target_weights"][:PREVIEW_CROPS].numpy()
        grid = draw_crops_grid(list(images), list(points), list(weights), self.schema, conf=0.5, cols=8)
        self._write_jpg(f"train_batch{index}.jpg", grid)

    def val_predictions(self, dataset: KeypointAnnotations, results: list[dict[str, Any]]) -> None:
        """Draw the predictions on the first validation images."""
        if not self.enabled:
            return
        from posekit.datasets.image_reader import read_image
        from posekit.viz.draw import draw_pose

        by_image: dict[int, list[dict[str, Any]]] = {}
        for r in results:
            by_image.setdefault(int(r["image_id"]), []).append(r)
        k = self.schema.num_keypoints
        for n, image_id in enumerate(sorted(dataset.images)[:PREVIEW_IMAGES]):
            people = by_image.get(image_id, [])
            flat = np.asarray([p["keypoints"] for p in people], dtype=np.float64).reshape(-1, k, 3)
            image = draw_pose(
                read_image(dataset.images[image_id].path), flat[..., :2], flat[..., 2], self.schema
            )
            self._write_jpg(f"val_predictions{n}.jpg", image)

    def best_metrics(self, metrics: dict[str, Any]) -> None:
        """Per-keypoint chart of the best epoch so far."""
        if not self.enabled:
            return
        from posekit.viz.plots import plot_per_keypoint

        rows = metrics["keypoints"]
        plot_per_keypoint(
            [r.name for r in rows], [r.pck for r in rows], self.run_dir / "per_keypoint.png", "PCK@0.1"
        )

    def epoch_end(
        self,
        history: list[dict[str, Any]],
        metrics: dict[str, Any] | None,
        val_data: KeypointAnnotations,
        epochs: int,
        best_epoch: int,
        best_ap: float,
    ) -> None:
        """After an epoch: results.csv, TensorBoard, and after a validation results.png (a second's
        plotting, not worth doing for the loss alone), the table and the drawings."""
        if not self.enabled:
            return
        row = history[-1]
        atomic_write_text(self.run_dir / "results.csv", _csv(history))
        if metrics is not None:
            _plot_results(history, self.run_dir / "results.png")
        if self.writer is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, row["epoch"])
            self.writer.flush()
        if metrics is None:
            return
        self.val_predictions(val_data, metrics["results"])
        weakest = ", ".join(f"{r.name} {r.pck:.2f}" for r in metrics["keypoints"][:3])
        table = Table(title=f"Validation, epoch {row['epoch']}/{epochs} ({SCORE_UNIT})", title_justify="left")
        for name in (*TABLE_METRICS, "weakest joints (PCK@0.1)", "best"):
            table.add_column(name, justify="right" if name in TABLE_METRICS else "left")
        best = (
            "[green]* new best[/]"
            if best_epoch == row["epoch"]
            else (f"epoch {best_epoch} (AP {format_fraction(best_ap)})")
        )
        table.add_row(*(format_fraction(row.get(m)) for m in TABLE_METRICS), weakest, best)
        self.console.print(table)

    def finish(self, summary: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self.writer is not None:
            self.writer.close()
        self.print(f"Done in {summary['train_time_s'] / 60:.1f} min. Results in {escape(str(self.run_dir))}")
        if summary["final_ap"] is not None and summary["best"] is None:
            self.print(
                "No AP: the val split has no person with a labelled keypoint (COCO AP is undefined), so no "
                f"best weights were chosen; the last ones are in {escape(str(summary['last']))}"
            )
        elif summary["final_ap"] is not None:
            best = f"Best AP {format_fraction(summary['best_ap'])} at epoch {summary['best_epoch']}"
            self.print(f"{best} -> {escape(str(summary['best']))}")
            self.print(f"[bold]Final AP {format_fraction(summary['final_ap'])}[/] ({SCORE_UNIT})")

    def _write_jpg(self, name: str, image_rgb: np.ndarray) -> None:
        write_image(self.run_dir / name, image_rgb)


class _Bar:
    """Updates the fields of one epoch's progress bar (running mean loss, lr, samples/s)."""

    def __init__(self, progress: Progress, task: Any, loss_sum: float, loss_count: int) -> None:
        self.progress, self.task = progress, task
        self.loss_sum, self.loss_count = loss_sum, loss_count
        self.samples, self.t0 = 0, time.perf_counter()

    def advance(self, loss: float, samples: int, groups: list[dict[str, Any]]) -> None:
        self.loss_sum += loss
        self.loss_count += 1
        self.samples += samples
        speed = self.samples / max(1e-9, time.perf_counter() - self.t0)
        self.progress.update(
            self.task,
            advance=1,
            loss=f"{self.loss_sum / self.loss_count:.3e}",
            lr=f"{max(g['lr'] for g in groups):.2e}",
            speed=f"{speed:.1f} samples/s",
        )


def _csv(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _plot_results(rows: list[dict[str, Any]], path: Path) -> None:
    """Training loss and learning rate, and the validation metrics, per epoch."""
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    loss_ax, lr_ax, metric_ax = fig.subplots(1, 3)
    epochs = [r["epoch"] for r in rows]
    loss_ax.plot(epochs, [r["train_loss"] for r in rows], marker=".")
    loss_ax.set(title="train loss (heatmap MSE)", xlabel="epoch", yscale="log")
    lr_ax.plot(epochs, [r["lr"] for r in rows], marker=".")
    lr_ax.set(title="learning rate (end of epoch)", xlabel="epoch")
    validated = [r for r in rows if "AP" in r]
    for name in TABLE_METRICS:
        metric_ax.plot(
            [r["epoch"] for r in validated], [r.get(name) for r in validated], marker=".", label=name
        )
    metric_ax.set(title=f"validation ({SCORE_UNIT})", xlabel="epoch", ylim=(0, 1))
    metric_ax.legend(loc="lower right")
    for ax in (loss_ax, lr_ax, metric_ax):
        ax.grid(alpha=0.3)
    atomic_save(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
