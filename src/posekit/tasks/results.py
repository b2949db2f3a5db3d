"""What the commands return to Python: typed results with the numbers as attributes and ``to_dict()``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Metrics:
    """An evaluation (``posekit val``): the headline numbers as attributes, everything (as written to
    metrics.json: COCO stats, PCK, per-keypoint, error types, video) in :meth:`to_dict`."""

    values: dict[str, Any]
    save_dir: Path | None = None

    def _coco(self, name: str) -> float:
        return float(self.values["coco"][name])

    @property
    def ap(self) -> float:
        """COCO OKS AP (0.50:0.95)."""
        return self._coco("AP")

    @property
    def ap50(self) -> float:
        return self._coco("AP50")

    @property
    def ap75(self) -> float:
        return self._coco("AP75")

    @property
    def ar(self) -> float:
        return self._coco("AR")

    @property
    def pck(self) -> float | None:
        """PCK@0.1 (of the box size); None when no person was matched."""
        return self.values["pck"].get("PCK@0.1")

    @property
    def mean_oks(self) -> float | None:
        return self.values.get("mean_oks")

    def to_dict(self) -> dict[str, Any]:
        """The metrics as in metrics.json, plus ``save_dir``."""
        return {**self.values, "save_dir": None if self.save_dir is None else str(self.save_dir)}


@dataclass(frozen=True)
class TrainResult:
    """A training run: its folder, the best and last weights (model directories; ``best`` is None when no
    validation had a person to score) and the metrics of its last validation (``metrics``: AP, AP50, ...,
    PCK@0.1, mean_OKS)."""

    run_dir: Path
    best: Path | None
    last: Path
    metrics: dict[str, float]
    best_ap: float
    best_epoch: int
    final_ap: float | None
    epochs: int
    stopped_early: bool
    train_time_s: float

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> TrainResult:
        """From the trainer's run summary."""
        return cls(
            run_dir=Path(summary["run_dir"]),
            best=None if summary["best"] is None else Path(summary["best"]),
            last=Path(summary["last"]),
            metrics=summary["final_metrics"],
            best_ap=summary["best_ap"],
            best_epoch=summary["best_epoch"],
            final_ap=summary["final_ap"],
            epochs=summary["epochs"],
            stopped_early=summary["stopped_early"],
            train_time_s=summary["train_time_s"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
