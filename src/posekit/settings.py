"""Settings of every command: one validated pydantic model per command (check, train, val, predict, export,
convert, audit, sigmas), shared by the CLI (whose options are generated from these fields:
:mod:`posekit.cli.options`), a YAML file (``--config``) and the Python API, so each option, its default and
its help live in one place.

Every field is a flag of its command (``batch_size`` -> ``--batch-size``) but those marked with
``json_schema_extra={"cli": False}`` (YAML and Python only, e.g. train's ``augment``). Values left at
``None`` are resolved by the engine once the device and the model are known (see
:mod:`posekit.engine.train`), and the fully resolved configuration is written to the run
folder as ``args.yaml``, which is itself a valid ``--config`` file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from posekit.datasets.yaml_file import load_yaml
from posekit.device import PrecisionSetting, RuntimeSetting
from posekit.errors import ConfigError, check_number
from posekit.metrics import NMS_THRESHOLDS

#: The model ``posekit train`` trains when no ``--model`` is given: the tiny preset, which learns on 2 CPU
#: cores in minutes. It has no pretrained weights, so it gets the from-scratch recipe; a preset with hub
#: weights (``--model vitpose-b``) gets the fine-tuning one.
DEFAULT_MODEL = "vitpose-t"

#: Labelled people in the training split that each recipe wants (the ViTPose seed's guidance); the banner
#: compares the data with them and warns below.
FINETUNE_MIN_PEOPLE, SCRATCH_MIN_PEOPLE = 500, 2000

#: The fine-tuning recipe, used when pretrained weights were loaded (the ViTPose seed): AdamW at
#: BASE_LR x total batch / BASE_BATCH (``lr`` left to that rule), the preset's layer decay and drop path,
#: ViTPose's augmentation (AugmentConfig's defaults), a few epochs, the checkpoint's input size.
FINETUNE_RECIPE: dict[str, Any] = {
    "optimizer": "adamw",
    "epochs": 5,
    "batch_size": 16,
    "weight_decay": 0.1,
    "val_every": 1,
    "augment": {},
}

#: The from-scratch recipe, used when no weights were loaded (a preset without hub weights such as
#: vitpose-t, ``--pretrained none``, or hub weights that could not be had). Tuned on the built-in sample
#: (below) and fitted to the training data by :func:`posekit.engine.recipe.choose_recipe` (the input's
#: aspect to the boxes', SCRATCH_ROTATED to rotated labels). benchmarks/train.py also runs it on two
#: generated sets unlike the sample (benchmarks/own_data.py: a 9-keypoint quadruped and a 21-keypoint hand,
#: freely rotated, on cluttered backgrounds, ~615 training objects each), where this recipe as it is
#: (128x96, no rotation, 10 epochs) gets AP 0.115 on the hand (PCK@0.1 0.50) and 0.010 on the quadruped
#: (0.34); a lower lr was no faster on the quadruped (loss after 3 epochs 0.0132 at 1e-3 and 0.0135 at
#: 5e-4 against 0.0131 at 2e-3; after 5, PCK@0.1 0.21 at 1e-3 against 0.22).
SCRATCH_RECIPE: dict[str, Any] = {
    # the classic head's learned 4x upsampling localises from the 8x6 patch grid of a 128x96 crop; the
    # simple head (bilinear x4) costs a third as much but learns the sample several times slower
    "input_size": (128, 96),
    # AP on the sample's val split after 10 epochs at batch 4: Muon on the transformer's matrices 0.918,
    # AdamW 0.759 (AdamW needs 18 epochs for 0.904); batch 4 beats 8 and 2 for the same wall time; lr
    # 2e-3 beats 1e-3 and 4e-3 (AdamW) and 3e-3 (Muon, 8 epochs: 0.887 vs 0.865 but not 0.90)
    "optimizer": "muon",
    "epochs": 10,
    "batch_size": 4,
    "lr": 2e-3,
    "layer_decay": 1.0,
    "drop_path": 0.0,
    "weight_decay": 0.05,
    "augment": {
        "rotation_prob": 0.0,
        "scale_factor": 0.1,
        "shift_prob": 0.0,
        "colour_prob": 0.0,
        "half_body_prob": 0.0,
    },
    # a validation costs about a third of an epoch here: after epochs 5 and 10
    "val_every": 5,
}

#: The from-scratch input (height, width) is the one of these whose aspect is nearest the training boxes'
#: median width / height: portrait for upright people (the sample's boxes: 0.70), square (the generated
#: sets' boxes: 0.99-1.00, which 128x96 shows 1.33x smaller, mostly padding), landscape for wide objects.
SCRATCH_INPUT_SIZES: tuple[tuple[int, int], ...] = ((128, 96), (128, 128), (96, 128))

#: Labels whose rotation spread (:func:`posekit.engine.recipe.rotation_spread`: 15 degrees for the
#: sample's upright people, 169 and 189 for the generated quadruped and hand sets) is above this many
#: degrees get SCRATCH_ROTATED over the from-scratch recipe.
ROTATED_LABELS_DEG = 45
#: Freely rotated objects need more epochs, rotation augmentation up to 180 degrees (std 90, on 80% of the
#: crops) to learn every orientation from a few hundred objects, and the simple head. Measured on the
#: generated quadruped (benchmarks/own_data.py; AMD EPYC, avx2/avx512_bf16/avx512_vnni, bf16, 128x128): with
#: the classic head, more epochs paid more than anything else (AP 0.194 at 20 epochs, 0.333 at 40, 0.354 at
#: 55 in 11.1 min alone, 0.396 at 60), while 96x96 inputs, 8 heads, a 192x8 backbone, lr 3e-3 or 4e-3 and
#: colour/shift/scale augmentation (0.346; with drop path 0.1, 0.364) did not help: it found the paws but
#: not their side (left and right paws on one paw, PCK@0.1 ~0.5). The simple head (bilinear x4 and a 3x3
#: conv: a step takes half the time, 50 against 103 ms fwd+bwd at batch 8) learns the side: 0.660 at 75
#: epochs, 0.746 at 110 (one thread, beside another run; the hand 0.694 at 110); at 160x160 it is no better
#: for the time (0.620 at 55 epochs in the time of 75 at 128x128). Alone an epoch takes ~7.8 s on 2 cores,
#: so 110 would pass 15 min; 100: quadruped 0.753 in 12.9 min, hand 0.663 in 12.5 (benchmarks/train.py,
#: sample unchanged: 0.919 in 1.9 min). The built-in sample's upright people keep the classic head (the
#: simple head learns them several times slower).
SCRATCH_ROTATED: dict[str, Any] = {
    "epochs": 100,
    "batch_size": 8,
    "head": "simple",
    "augment": {"rotation_prob": 0.8, "rotation": 90.0},
}

#: The ViTPose recipe: AdamW lr 5e-4 for a total batch of 512, scaled linearly with the batch size.
BASE_LR, BASE_BATCH = 5e-4, 512

#: Videos and live sources: the detector runs on every DET_EVERY-th frame (and early when someone is
#: lost); chosen by measurement in benchmarks/video.py (speed vs ID switches vs AP on the video sample).
DET_EVERY = 5
#: The flip test on videos and live sources (and ``posekit val`` on video data): off, as it doubles the
#: pose model's time; still images (and ``posekit val`` on them) follow the model's processor (on).
VIDEO_FLIP_TEST = False


def flip_test(flip: bool | None, processor_flip_test: bool, sequence: bool) -> bool:
    """The flip test of a run: ``flip`` when given, else :data:`VIDEO_FLIP_TEST` for videos (and video
    data), else the model processor's policy. predict and val decide it here, so they agree."""
    if flip is not None:
        return flip
    return VIDEO_FLIP_TEST if sequence else processor_flip_test


# Smoother settings (used by posekit.inference.smoothing; declared here, with the other settings).
@dataclass(frozen=True)
class OneEuroParams:
    """``min_cutoff`` (Hz): smoothing of still joints (lower = smoother); ``beta`` (Hz per object size per
    second): how fast the cutoff opens with speed (higher = less lag); ``d_cutoff`` (Hz): speed filter."""

    min_cutoff: float = field(default=0.5, metadata={"help": "One-Euro min cutoff (Hz): lower = smoother"})
    beta: float = field(default=4.0, metadata={"help": "One-Euro beta: higher = less lag on fast moves"})
    d_cutoff: float = field(default=1.0, metadata={"help": "One-Euro speed filter cutoff (Hz)"})

    def __post_init__(self) -> None:
        check_number("--beta", self.beta, 0)
        for name in ("min_cutoff", "d_cutoff"):
            if check_number(f"--{name.replace('_', '-')}", getattr(self, name), 0) == 0:
                raise ConfigError(f"--{name.replace('_', '-')}: must be > 0 (a cutoff frequency in Hz)")


@dataclass(frozen=True)
class SavgolParams:
    """``window`` (odd, frames) and ``polyorder`` of the Savitzky-Golay filter; gaps of low-score or missing
    joints up to ``max_gap`` frames are filled by linear interpolation first."""

    window: int = field(default=9, metadata={"help": "Savitzky-Golay window (odd, frames)"})
    polyorder: int = field(default=2, metadata={"help": "Savitzky-Golay polynomial order"})
    max_gap: int = field(default=10, metadata={"help": "offline: fill gaps of up to N frames"})

    def __post_init__(self) -> None:
        if self.max_gap < 0:
            raise ConfigError(f"--max-gap: {self.max_gap} is not allowed; expected frames >= 0")
        if self.window < 3 or self.window % 2 == 0 or not 0 <= self.polyorder < self.window:
            raise ConfigError(
                f"Savitzky-Golay window {self.window} / polyorder {self.polyorder}: the window must be odd "
                "number >= 3 and the polyorder smaller than it (e.g. window 9, polyorder 2)"
            )


#: What a valid value looks like, for fields whose pydantic message would be unhelpful.
_EXPECTED = {
    "batch_size": "expected a positive integer or 'auto'",
    "input_size": "expected HxW, both multiples of 16 (the ViT patch size), e.g. 256x192",
}

#: Findings below this score are not reported by ``posekit audit``: p = 1e-4 under each check's null
#: model, so that chance alone raises about one finding per 10,000 points or bones measured.
MIN_SCORE = 4.0

_DATA = "'sample', a COCO keypoint .json or a data .yaml"
_IMAGES = "image folder of a .json (default: found beside it)"
_PRETRAINED = "weights of a preset: auto (hub), none (random), a path or hub id"
_RUNTIME = (
    "auto (OpenVINO on CPUs with VNNI or bf16 hardware when posekit[openvino] is installed, else PyTorch) "
    "| torch | onnxruntime | openvino"
)
_PRECISION = (
    "auto (the fastest within 1 AP point of fp32 here: OpenVINO int8 on VNNI CPUs, bf16 on AMX/AVX512-BF16 "
    "CPUs and GPUs, else fp32) | fp32 | bf16 | fp16 | int8"
)
#: ``json_schema_extra`` of the fields that are not command-line flags (YAML and Python only).
_NOT_A_FLAG = {"cli": False}


#: A path given as ``str`` or ``pathlib.Path`` (kept as ``str``, so the settings stay plain YAML).
PathText = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, os.PathLike) else v)]

_SIZE = re.compile(r"^\s*(\d+)\s*[xX,]\s*(\d+)\s*$")


def flag(field: str) -> str:
    """The CLI flag of a config field: ``batch_size`` -> ``--batch-size``."""
    return "--" + field.replace("_", "-")


class TrainConfig(BaseModel):
    """All the settings of one training run (``None`` = chosen automatically, see each field)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    data: PathText | None = Field(None, description="data YAML, COCO JSON or 'sample' (default: the sample)")
    model: PathText | None = Field(
        None, description=f"preset, local directory or hub id (default: {DEFAULT_MODEL})"
    )
    pretrained: PathText | None = Field(None, description="auto | none | PATH | HUB_ID (default: auto)")
    epochs: int | None = Field(None, ge=1, description="training epochs (default: the recipe's)")
    time: float | None = Field(
        None, gt=0, description="minutes of training to fit the epochs to (timed on the first steps)"
    )
    batch_size: int | Literal["auto"] | None = Field(
        None, description="per-device batch, or 'auto' (largest that fits) (default: the recipe's)"
    )
    lr: float | None = Field(
        None, gt=0, description="peak lr (default: the recipe's; fine-tuning: 5e-4 x total batch / 512)"
    )
    weight_decay: float | None = Field(
        None, ge=0, description="weight decay, not on biases/norms/pos-embed (default: the recipe's)"
    )
    layer_decay: float | None = Field(None, gt=0, le=1, description="layer-wise lr decay (default: preset's)")
    warmup: int | None = Field(
        None, ge=0, description="linear warm-up steps (default: min(500, 10% of steps))"
    )
    schedule: Literal["cosine", "step", "constant"] = Field("cosine", description="lr decay after warm-up")
    optimizer: Literal["adamw", "muon"] | None = Field(
        None,
        description="adamw (fine-tuning's) or muon (transformer matrices; AdamW for the rest; from scratch)",
    )
    input_size: tuple[int, int] | None = Field(None, description="HxW model input (default: preset's)")
    head: Literal["classic", "simple"] | None = Field(
        None,
        description="heatmap head: classic (two deconvolutions) or simple (bilinear x4 + conv, half the time "
        "a step); one the weights lack starts random (default: the model's, or the recipe's)",
    )
    amp: Literal["bf16", "fp16", "no"] | None = Field(
        None,
        description="mixed precision (default: bf16 on GPUs and AVX512-BF16/AMX CPUs, as --precision auto)",
    )
    grad_clip: float = Field(1.0, ge=0, description="max gradient norm (0 disables)")
    workers: int | None = Field(None, ge=0, description="data loader processes (default: from CPU count)")
    seed: int = Field(0, ge=0, lt=2**63, description="seed of data order, augmentation and initialisation")
    device: Literal["cpu", "cuda", "auto"] = Field("auto", description="where to train")
    freeze_backbone_epochs: int = Field(0, ge=0, description="train only the head for the first N epochs")
    drop_path: float | None = Field(None, ge=0, lt=1, description="stochastic depth rate (default: preset's)")
    val_every: int | None = Field(
        None, ge=1, description="validate every N epochs and after the last (default: the recipe's)"
    )
    patience: int = Field(20, ge=0, description="stop after N validations without a better AP (0: never)")
    ema: bool = Field(False, description="keep an exponential moving average of the weights")
    save_every: int | None = Field(
        None, ge=1, description="save a checkpoint every N steps (default: ~10 min)"
    )
    augment: dict[str, Any] = Field(
        {},
        description="augmentation over the recipe's, e.g. {rotation: 20} (see AugmentConfig)",
        json_schema_extra=_NOT_A_FLAG,
    )
    project: PathText = Field("runs", description="root folder of the runs")
    name: PathText = Field("exp", description="run name: runs/train/<name> (incremented if it exists)")

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() != "auto":
            if not value.strip().isdigit():
                raise ValueError(_EXPECTED["batch_size"])
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ValueError(_EXPECTED["batch_size"])
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("input_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            match = _SIZE.match(value)
            if not match:
                raise ValueError(_EXPECTED["input_size"])
            value = (int(match[1]), int(match[2]))
        ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value)
        if not ok or any(v < 16 or v % 16 for v in value):
            raise ValueError(_EXPECTED["input_size"])
        return tuple(value)

    @field_validator("augment")
    @classmethod
    def _augment(cls, value: dict[str, Any]) -> dict[str, Any]:
        from posekit.topdown.augment import AugmentConfig

        try:
            return AugmentConfig(**value).model_dump(exclude_defaults=True)
        except ValidationError as error:
            item = error.errors()[0]
            field = ".".join(str(x) for x in item["loc"])
            options = ", ".join(AugmentConfig.model_fields)
            raise ValueError(f"{field}: {item['msg'].lower()}; fields: {options}") from None

    @field_validator("model")
    @classmethod
    def _model(cls, value: str | None) -> str | None:
        if value is None or Path(value).expanduser().exists() or "/" in value or value.endswith(".pth"):
            return value
        from posekit.models.presets import PRESETS, suggest_preset

        if value not in PRESETS:
            raise ValueError(
                f"expected a preset, a local model directory or a hub id (org/name); "
                f"presets: {', '.join(PRESETS)}.{suggest_preset(value)}"
            )
        return value

    def to_yaml(self) -> str:
        """The configuration as YAML (sizes written as ``HxW``), loadable with ``--config``."""
        data = self.model_dump()
        if data["input_size"] is not None:
            data["input_size"] = "{}x{}".format(*data["input_size"])
        return yaml.safe_dump(data, sort_keys=False)


class ValConfig(BaseModel):
    """The settings of ``posekit val`` / ``posekit.val`` (``None`` = chosen automatically, see each field)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)

    model: Any = Field(None, description="model directory, hub id, preset or a loaded PoseModel")
    data: PathText = Field("sample", description="data YAML, COCO JSON or 'sample'")
    images: PathText | None = Field(None, description=_IMAGES)
    predictions: PathText | None = Field(None, description="COCO keypoint results .json to score (no model)")
    boxes: PathText | None = Field(None, description="COCO detection results .json: person boxes, not GT")
    box_conf: float = Field(0.0, ge=0, le=1, description="keep detection boxes scoring at least this")
    split: Literal["train", "val"] = Field("val", description="data split")
    batch_size: int = Field(32, ge=1, description="people per forward pass")
    flip: bool | None = Field(
        None,
        description="flip test (default: the model's processor policy; off on video data, as in predict)",
    )
    runtime: RuntimeSetting = Field("auto", description=_RUNTIME)
    precision: PrecisionSetting = Field("auto", description=_PRECISION)
    calibration: PathText = Field("sample", description="int8: data set or person images to calibrate on")
    decode: Literal["posekit", "reference"] | None = Field(
        None, description="heatmap decoder (default: the model's; 'reference' = mmpose's DARK-UDP)"
    )
    conf: float = Field(0.3, ge=0, le=1, description="keypoint confidence for drawing/reporting (not AP)")
    sigmas: PathText | list[float] | None = Field(None, description="OKS sigmas: JSON file or comma list")
    nms: Literal["oks", "soft", "none"] = Field("oks", description="non-maximum suppression of people")
    nms_threshold: float | None = Field(
        None,
        gt=0,
        le=1,
        description="NMS threshold (default: "
        + ", ".join(f"{mode} {value:g}" for mode, value in NMS_THRESHOLDS.items())
        + ")",
    )
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    workers: int | None = Field(None, ge=0, description="data loading processes (default: 0 on CPU)")
    pretrained: PathText = Field("auto", description="weights of a preset: auto | none | PATH | HUB_ID")
    worst: int = Field(16, ge=0, description="people drawn in worst_people.jpg")
    project: PathText = Field("runs", description="root folder of the runs")
    name: PathText = Field("exp", description="run name: runs/val/<name> (incremented if it exists)")
    verbose: bool = Field(False, description="print the report", json_schema_extra=_NOT_A_FLAG)


class PredictOptions(BaseModel):
    """What :meth:`posekit.inference.predictor.Predictor.predict` reads: the settings of one prediction
    besides the model, the source and where the run is written."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)

    boxes: Any = Field(
        None, description="'detector' (default), 'full', a COCO detections/annotations JSON, or arrays"
    )
    detector: Any = Field(
        None,
        description="person detector: fast | accurate | hub id | directory (default: fast for videos, "
        "accurate for images)",
    )
    det_conf: float = Field(0.5, ge=0, le=1, description="minimum person box score")
    det_every: int | None = Field(
        None,
        ge=1,
        description=f"videos: detect every N frames, boxes from keypoints between (default: {DET_EVERY} with "
        "the detector, 1 with boxes files)",
    )
    conf: float | str | dict[str, float] = Field(
        0.3, description="keypoint threshold, per joint with '0.3,left_wrist=0.5'"
    )
    batch_size: int = Field(8, ge=1, description="crops per model call (and frames read ahead)")
    flip: bool | None = Field(
        None, description="flip test (default: the model's processor policy for images, off for videos)"
    )
    runtime: RuntimeSetting = Field("auto", description=_RUNTIME)
    precision: PrecisionSetting = Field("auto", description=_PRECISION)
    calibration: PathText = Field("sample", description="int8: data set or person images to calibrate on")
    live: bool | None = Field(
        None, description="drop frames the model has no time for (default: webcams and stream URLs)"
    )
    track: bool = Field(False, description="track ids across frames")
    tracker: Literal["auto", "bytetrack", "oks"] = Field(
        "auto", description="auto: ByteTrack on detector boxes (posekit[track]), else OKS; bytetrack; oks"
    )
    smooth: Literal["online", "offline"] | None = Field(
        None, description="temporal smoothing (implies track): online | offline"
    )
    one_euro: OneEuroParams = Field(OneEuroParams(), description="One-Euro filter settings (online)")
    savgol: SavgolParams = Field(SavgolParams(), description="gap filling + Savitzky-Golay (offline)")
    stream: bool | None = Field(
        None,
        description="return a generator (default for videos and webcams)",
        json_schema_extra=_NOT_A_FLAG,
    )
    save: bool = Field(False, description="write drawn images / videos (mp4, source fps and size)")
    save_json: bool | None = Field(
        None, description="write predictions.json and .jsonl (with each person's file; default: with save)"
    )


class PredictConfig(PredictOptions):
    """The settings of ``posekit predict`` / ``posekit.predict``: the model, the source, where it runs and
    where the run is written, then :class:`PredictOptions`."""

    model: Any = Field(None, description="model directory, hub id, preset (vitpose-b) or exported .onnx")
    source: Any = Field(
        None,
        description="image, folder, glob ('dir/*.jpg'), video, webcam index, stream URL (rtsp://), or "
        "'sample' (the built-in sample's val images, with their ground-truth boxes unless --boxes)",
    )
    pretrained: PathText = Field("auto", description=_PRETRAINED)
    device: str | None = Field(None, description="auto, cpu, cuda or cuda:N (default: cuda when available)")
    project: PathText = Field("runs", description="root folder of the runs")
    name: PathText = Field("exp", description="run name: runs/predict/<name> (incremented if it exists)")


class ExportConfig(BaseModel):
    """The settings of ``posekit export`` / ``posekit.export``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)

    model: Any = Field(None, description="model directory, hub id or preset (vitpose-b)")
    pretrained: PathText = Field("auto", description=_PRETRAINED)
    format: Literal["onnx", "openvino"] = Field(
        "onnx", description="onnx (ONNX Runtime) or openvino (an OpenVINO IR folder)"
    )
    output: PathText | None = Field(
        None,
        description="output .onnx, or the IR's folder (default: model.onnx / openvino/ in the model "
        "directory, else NAME.onnx / NAME_openvino/ here)",
    )
    dynamic_batch: bool = Field(False, description="leave the batch size free")
    batch_size: int = Field(1, ge=1, description="fixed batch size (without --dynamic-batch)")
    precision: PrecisionSetting = Field(
        "auto",
        description="fp32 (auto), fp16 (ONNX weights; inputs/outputs stay float32) or int8 (ONNX Runtime "
        "static quantisation, or NNCF's for openvino; calibrated on --calibration)",
    )
    calibration: PathText = Field(
        "sample", description="int8: a data set (sample, data YAML, COCO JSON) or person images"
    )
    opset: int = Field(17, ge=14, description="ONNX opset")


class CheckConfig(BaseModel):
    """The settings of ``posekit check`` / ``posekit.check``."""

    model_config = ConfigDict(extra="forbid")

    data: PathText = Field("sample", description=_DATA)
    images: PathText | None = Field(None, description=_IMAGES)
    wholebody: bool = Field(False, description="COCO-WholeBody: check all 133 keypoints")
    show: int = Field(0, ge=0, description="write N augmented training crops with their targets drawn")
    json_output: bool = Field(False, description="print the report as JSON (machine-readable)")
    project: PathText = Field("runs", description="folder of run folders (for --show)")
    name: PathText = Field("exp", description="run name (for --show): runs/check/<name>")


class ConvertConfig(BaseModel):
    """The settings of ``posekit convert`` / ``posekit.convert``."""

    model_config = ConfigDict(extra="forbid")

    src: PathText = Field(description="the data to convert (a file or folder; 'sample' for coco)")
    dst: PathText = Field(description="the output folder (new, or empty)")
    from_format: str = Field(description="source format: coco, yolo, cvat or label-studio")
    to_format: str = Field("coco", description="target format: coco or yolo")
    images: PathText | None = Field(
        None, description="image folder of a COCO .json, CVAT or Label Studio export (default: beside it)"
    )
    kpt_dims: Literal[2, 3] = Field(3, description="YOLO values per keypoint: 3 (x y v) or 2 (x y)")
    copy_images: bool = Field(False, description="COCO output holds its images (hard links when possible)")
    overwrite: bool = Field(False, description="replace DST when an earlier `posekit convert` wrote it")
    label_config: PathText | None = Field(
        None, description="Label Studio labelling config (XML): its model_index gives the keypoint order"
    )


class AuditConfig(BaseModel):
    """The settings of ``posekit audit`` / ``posekit.audit``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)

    data: PathText = Field("sample", description=_DATA)
    split: str = Field("all", description="train, val or all")
    images: PathText | None = Field(None, description=_IMAGES)
    min_score: float = Field(
        MIN_SCORE, ge=0, description="report findings scoring at least this (-log10 p; 4 = 1 in 10,000)"
    )
    top: int = Field(10, ge=0, description="findings to print (all go to the files)")
    model: Any = Field(
        None,
        description="compare the labels with this model's predictions (directory, hub id or preset of the "
        "same keypoints); on its own training images it has memorised the labels: use --folds",
    )
    folds: int | None = Field(
        None,
        description="train K models, each on K-1 folds of the images, each predicting the fold it did "
        "not see",
    )
    fold_config: PathText | None = Field(
        None, description="train settings YAML for the --folds models (default: posekit train's recipe)"
    )
    fix: str | None = Field(
        None, description="'swaps': write <file>.fixed.json with the flagged left/right pairs exchanged"
    )
    gallery: int = Field(16, ge=0, description="top findings drawn in findings.jpg (0: none)")
    device: str | None = Field(None, description="auto, cpu, cuda or cuda:N")
    project: PathText = Field("runs", description="root folder of the runs")
    name: PathText = Field("exp", description="run name: runs/audit/<name> (incremented if it exists)")


class SigmasConfig(BaseModel):
    """The settings of ``posekit sigmas`` / ``posekit.sigmas``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    files: list[PathText] = Field(
        description="two or more COCO keypoint .json files labelling the same images (people are matched "
        "by OKS); one file with --predictions; or 'sample' (a demo: simulated annotators)"
    )
    predictions: PathText | None = Field(
        None,
        description="COCO keypoint results of a model on the one file: APPROXIMATE sigmas from its residuals",
    )
    out: PathText | None = Field(
        None, description="schema file to write (default: runs/sigmas/<name>/schema.json)"
    )
    min_oks: float = Field(0.5, ge=0, le=1, description="OKS at which two annotations are one person")
    robust: bool = Field(False, description="medians instead of means: for files with gross mistakes")
    project: PathText = Field("runs", description="root folder of the runs")
    name: PathText = Field("exp", description="run name: runs/sigmas/<name> (incremented if it exists)")


def build_config(
    config: str | Path | None = None, recipe: dict[str, Any] | None = None, **overrides: Any
) -> TrainConfig:
    """Train settings: in increasing priority, the defaults, ``recipe`` (settings of a caller such as the
    audit's fold models), a YAML file and ``overrides`` (``None``: the flag was not given); what is still
    ``None`` is filled by the training recipe (:mod:`posekit.engine.recipe`). Raises one
    :class:`ConfigError`."""
    values = {k.replace("-", "_"): v for k, v in overrides.items() if v is not None}
    file_values = _read_yaml(Path(config)) if config is not None else {}
    file_values = {**(recipe or {}), **file_values}
    return build_settings(TrainConfig, config, file_values=file_values, **values)


SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


def build_settings(
    cls: type[SettingsModel],
    config: str | Path | None = None,
    file_values: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    **overrides: Any,
) -> SettingsModel:
    """``cls`` from, in increasing priority, ``defaults`` (a caller's own, e.g. the CLI's), a YAML file of
    settings (``config``; or its already read ``file_values``) and the given ``overrides`` (``None`` = not
    given). Raises one :class:`ConfigError` naming every bad flag, the value and what is allowed."""
    values = file_values if file_values is not None else (_read_yaml(Path(config)) if config else {})
    values = {
        **(defaults or {}),
        **values,
        **{k.replace("-", "_"): v for k, v in overrides.items() if v is not None},
    }
    try:
        return cls(**values)
    except ValidationError as error:
        raise ConfigError(_describe(error, cls, f" (in {config})" if config is not None else "")) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    data = load_yaml(path, "--config: ")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config: {path} must hold a mapping of settings (e.g. 'epochs: 10')")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _describe(error: ValidationError, cls: type[BaseModel], source: str) -> str:
    """One message for all the invalid values: the flag, the value given and what is allowed."""
    lines = []
    for item in error.errors():
        loc = item["loc"]
        field = str(loc[0]) if loc else ""
        if len(loc) > 1 and field in cls.model_fields and is_dataclass(cls.model_fields[field].annotation):
            field = str(loc[1])  # a nested setting (one_euro.min_cutoff) is its own flag (--min-cutoff)
        message = _EXPECTED.get(field) or item["msg"].removeprefix("Value error, ").replace(
            "Input should be", "must be"
        )
        if item["type"] == "extra_forbidden":
            options = ", ".join(flag(f) for f in cls.model_fields)
            lines.append(f"{flag(field)}: unknown option{source}; valid options: {options}")
            continue
        if item["type"] == "missing":
            lines.append(f"{flag(field)}: missing{source}; give it on the command line or in --config")
            continue
        if item["type"] == "literal_error":
            allowed = item.get("ctx", {}).get("expected", "")
            message = f"allowed values: {allowed.replace(chr(39), '')}"
        lines.append(f"{flag(field)}: invalid value {item['input']!r}{source}; {message}")
    # A union (e.g. int | 'auto') reports once per member: keep the first message per flag.
    seen: dict[str, str] = {}
    for line in lines:
        seen.setdefault(line.split(":", 1)[0], line)
    return "\n".join(seen.values())
