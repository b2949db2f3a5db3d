"""The Python API: ``posekit.load(...)`` gives one model object (:class:`ViTPose`) with ``train``, ``val``,
``predict``, ``export`` and ``audit``; the module functions (``posekit.val``, ``posekit.predict``, ...) take a
model as a directory, hub id, preset or that object. Each calls its command's task (:mod:`posekit.tasks`)
with the command's option names (:mod:`posekit.settings`), returns a typed result and prints nothing unless
``verbose=True``.

    import posekit

    run = posekit.train(data="data.yaml", model="vitpose-b", epochs=5, batch_size=16)
    model = posekit.load(run.best)
    metrics = model.val(data="data.yaml")              # metrics.ap, metrics.pck, metrics.to_dict()
    results = model.predict("clip.mp4", track=True)    # a list; stream=True: a generator
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posekit.errors import ConfigError

if TYPE_CHECKING:
    from posekit.datasets.formats import ConversionReport
    from posekit.datasets.schema import KeypointSchema
    from posekit.datasets.validation import CheckReport
    from posekit.inference.export import ExportResult
    from posekit.inference.pose_result import PoseResult
    from posekit.inference.predictor import Predictor
    from posekit.tasks.audit import AuditResult
    from posekit.tasks.results import Metrics, TrainResult
    from posekit.tasks.sigmas import SigmasResult
    from posekit.topdown.processor import TopDownProcessor


class ViTPose:
    """A pose model: a preset (``vitpose-b``), a model directory, a hub id, an exported ``.onnx`` file or a
    loaded ``PoseModel``. The weights load on first use, once, on ``device``."""

    def __init__(
        self, model: Any = "vitpose-b", *, device: str | None = None, pretrained: str = "auto"
    ) -> None:
        self.source, self.device, self.pretrained = model, device, pretrained
        self._predictor: Predictor | None = None

    def __repr__(self) -> str:
        return f"ViTPose({self._name!r})"

    @property
    def _name(self) -> str:
        return str(self.source) if isinstance(self.source, (str, Path)) else type(self.source).__name__

    @property
    def predictor(self) -> Predictor:
        """The loaded model's :class:`~posekit.inference.predictor.Predictor` (made once)."""
        if self._predictor is None:
            from posekit.inference.predictor import Predictor, TorchRunner, load

            if isinstance(self.source, (str, Path)):
                self._predictor = load(self.source, device=self.device, pretrained=self.pretrained)
            else:
                self._predictor = Predictor(TorchRunner(self.source, device=self.device))
        return self._predictor

    @property
    def model(self) -> Any:
        """The loaded ``PoseModel`` (a torch module; exported ``.onnx`` models have none)."""
        model = getattr(self.predictor.runner, "model", None)
        if model is None:
            raise ConfigError(
                f"{self._name} is an exported model: it predicts; val/export/audit need weights"
            )
        return model

    @property
    def schema(self) -> KeypointSchema:
        return self.predictor.schema

    @property
    def processor(self) -> TopDownProcessor:
        """The model's top-down processor; assign a changed one (``processor.updated(decode="posekit")``)
        to predict with it."""
        return self.predictor.processor

    @processor.setter
    def processor(self, processor: TopDownProcessor) -> None:
        self.predictor.processor = processor

    def predict(
        self, source: Any, config: str | Path | None = None, *, verbose: bool = False, **settings: Any
    ) -> list[PoseResult] | Iterator[PoseResult]:
        """Poses in ``source`` (see :func:`predict`)."""
        return predict(source, config, model=self, verbose=verbose, **settings)

    def val(self, config: str | Path | None = None, *, verbose: bool = False, **settings: Any) -> Metrics:
        """Evaluate on ``data`` (see :func:`val`)."""
        return val(config, model=self, verbose=verbose, **settings)

    def export(
        self, config: str | Path | None = None, *, verbose: bool = False, **settings: Any
    ) -> ExportResult:
        """Export to ONNX (see :func:`export`)."""
        return export(self, config, verbose=verbose, **settings)

    def audit(
        self,
        data: str | Path = "sample",
        config: str | Path | None = None,
        *,
        verbose: bool = False,
        **settings: Any,
    ) -> AuditResult:
        """Audit the labels of ``data`` against this model's predictions (see :func:`audit`)."""
        return audit(data, config, model=self, verbose=verbose, **settings)

    def train(
        self, config: str | Path | None = None, *, verbose: bool = False, **settings: Any
    ) -> TrainResult:
        """Fine-tune these weights (see :func:`train`); afterwards this object is the run's best model (its
        last, when no validation could choose one)."""
        if not isinstance(self.source, (str, Path)):
            raise ConfigError(
                "train starts from saved weights: save the model (save_pretrained) and load that"
            )
        result = train(
            config, model=str(self.source), pretrained=self.pretrained, verbose=verbose, **settings
        )
        self.source, self.pretrained, self._predictor = str(result.best or result.last), "auto", None
        return result


def load(model: Any = "vitpose-b", device: str | None = None, pretrained: str = "auto") -> ViTPose:
    """The model object of a preset (``pretrained``: auto = the hub weights, none = random, a path or hub
    id), a model directory, a hub id, an exported ``.onnx`` file or a loaded ``PoseModel``, loaded now (a
    missing or unreadable model fails here)."""
    if isinstance(model, ViTPose):
        return model
    loaded = ViTPose(model, device=device, pretrained=pretrained)
    loaded.predictor  # noqa: B018 - loads the weights
    return loaded


def _weights(model: Any) -> Any:
    """What the tasks take for a model: a ViTPose's loaded weights, anything else as given."""
    return model.model if isinstance(model, ViTPose) else model


def check(
    data: str | Path = "sample", config: str | Path | None = None, *, verbose: bool = False, **settings: Any
) -> CheckReport:
    """Validate a keypoint data set (``posekit check``): every defect with file, id, field and fix."""
    from posekit.tasks.check import check as run

    return run(data, config, verbose=verbose, **settings)


def convert(
    src: str | Path,
    dst: str | Path,
    config: str | Path | None = None,
    *,
    verbose: bool = False,
    **settings: Any,
) -> ConversionReport:
    """Convert labels between COCO, YOLO pose, CVAT and Label Studio (``posekit convert``)."""
    from posekit.tasks.convert import convert as run

    return run(src, dst, config, verbose=verbose, **settings)


def train(
    config: str | Path | None = None,
    resume: bool | str | Path | None = None,
    *,
    verbose: bool = False,
    **settings: Any,
) -> TrainResult:
    """Train (fine-tune) a ViTPose model (``posekit train``; the keywords are its options: ``data``,
    ``model``, ``epochs``, ``batch_size``, ...). Returns the :class:`TrainResult` (``best``, ``last``,
    ``metrics``)."""
    from posekit.tasks.train import train as run

    model = settings.get("model")
    if isinstance(model, ViTPose):
        settings = {**settings, "model": str(model.source), "pretrained": model.pretrained}
    return run(config, resume, verbose=verbose, **settings)


def val(
    config: str | Path | None = None, *, model: Any = None, verbose: bool = False, **settings: Any
) -> Metrics:
    """Evaluate a model (or a results file: ``predictions``) on a data split (``posekit val``; the keywords
    are its options). Returns the :class:`Metrics`."""
    from posekit.tasks.val import val as run

    return run(config, model=_weights(model), verbose=verbose, **settings)


def predict(
    source: Any = None,
    config: str | Path | None = None,
    *,
    model: Any = None,
    stream: bool = False,
    verbose: bool = False,
    **settings: Any,
) -> list[PoseResult] | Iterator[PoseResult]:
    """Poses in images, folders, globs, videos, webcams and streams (``posekit predict``; the keywords are
    its options). A list of :class:`PoseResult`, one per image or frame; ``stream=True``: a generator (for
    long videos and webcams). ``save=True`` / ``save_json=True`` write a run folder."""
    from posekit.tasks.predict import predict as run

    predictor = load(model).predictor if model is not None else None
    return run(config, source=source, model=predictor, stream=stream, verbose=verbose, **settings)


def export(
    model: Any = None, config: str | Path | None = None, *, verbose: bool = False, **settings: Any
) -> ExportResult:
    """Export a model to ONNX (``posekit export``; the keywords are its options)."""
    from posekit.tasks.export import export as run

    if isinstance(model, ViTPose) and isinstance(model.source, (str, Path)):
        settings = {"pretrained": model.pretrained, **settings}
        model = model.source  # the export is written beside the model directory
    return run(config, model=_weights(model), verbose=verbose, **settings)


def audit(
    data: str | Path = "sample",
    config: str | Path | None = None,
    *,
    model: Any = None,
    verbose: bool = False,
    **settings: Any,
) -> AuditResult:
    """Likely annotation errors in ``data`` (``posekit audit``; the keywords are its options), with a model
    (``model``, or ``folds``) also against its predictions. Returns the :class:`AuditResult`."""
    from posekit.tasks.audit import audit as run

    return run(data, config, model=_weights(model), verbose=verbose, **settings)


def sigmas(
    files: list[str | Path] | str | Path,
    config: str | Path | None = None,
    *,
    verbose: bool = False,
    **settings: Any,
) -> SigmasResult:
    """Per-keypoint OKS sigmas from repeated annotations (``posekit sigmas``), written as a schema file."""
    from posekit.tasks.sigmas import sigmas as run

    return run(files, config, verbose=verbose, **settings)
