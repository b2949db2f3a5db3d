"""The training recipe of a run, from what is actually loaded: pretrained weights -> fine-tuning, none ->
from scratch (the same rule for the built-in sample and for any ``--data``), the settings it fills, and
the banner lines that say which recipe, why, and how the data compares with the seed's guidance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from posekit.datasets.records import KeypointAnnotations
from posekit.settings import (
    FINETUNE_MIN_PEOPLE,
    FINETUNE_RECIPE,
    ROTATED_LABELS_DEG,
    SCRATCH_INPUT_SIZES,
    SCRATCH_MIN_PEOPLE,
    SCRATCH_RECIPE,
    SCRATCH_ROTATED,
    TrainConfig,
)


@dataclass(frozen=True)
class Recipe:
    """``kind`` of training, ``reason`` it was chosen (what was or was not loaded) and its settings."""

    kind: Literal["fine-tuning", "from scratch"]
    reason: str
    settings: dict[str, Any]
    #: what of the settings was fitted to the data, and why (the banner's second part), as (setting, note)
    #: pairs: a note is shown when its setting came from the recipe (or names none), not when it was given
    fitted: tuple[tuple[str, str], ...] = ()
    applied: set[str] = field(default_factory=set)  # the settings :meth:`fill` set

    @property
    def min_people(self) -> int:
        return FINETUNE_MIN_PEOPLE if self.kind == "fine-tuning" else SCRATCH_MIN_PEOPLE

    def fill(self, cfg: TrainConfig) -> None:
        """Set the fields of ``cfg`` left unset (None) to the recipe's; ``augment`` given is applied over
        the recipe's augmentation; with ``time`` the epochs are left to :func:`fit_epochs`."""
        for name, value in self.settings.items():
            if name == "epochs" and cfg.time is not None:
                continue
            if name == "augment":
                cfg.augment = {**value, **cfg.augment}
            elif getattr(cfg, name) is None:
                setattr(cfg, name, value)
            else:
                continue
            self.applied.add(name)

    @property
    def fitted_note(self) -> str:
        """The notes of :attr:`fitted` whose settings the recipe set, joined."""
        return ", ".join(note for name, note in self.fitted if not name or name in self.applied)


def choose_recipe(weights: str | None, reason: str, data: KeypointAnnotations | None = None) -> Recipe:
    """Fine-tuning when ``weights`` (where they were loaded from) is set, else from scratch; ``reason``
    says why no weights were loaded (unused when they were). From scratch, the input shape follows the
    training ``data``'s boxes and the rotation augmentation (and schedule) its labels' rotation spread."""
    if weights is not None:
        return Recipe("fine-tuning", f"pretrained weights loaded from {weights}", FINETUNE_RECIPE)
    if data is None or not data.annotations:
        return Recipe("from scratch", reason, SCRATCH_RECIPE)
    boxes = np.array([person.bbox for person in data.annotations], np.float64)
    aspect = box_aspect(boxes)
    size = min(SCRATCH_INPUT_SIZES, key=lambda hw: abs(np.log(hw[1] / hw[0] / aspect)))
    settings = {**SCRATCH_RECIPE, "input_size": size}
    spread = rotation_spread(np.stack([person.keypoints for person in data.annotations]))
    fitted = [
        ("input_size", f"input {size[0]}x{size[1]} for boxes {aspect:.2f} wide per high"),
        ("", f"labels rotated {spread:.0f} deg"),
    ]
    if spread > ROTATED_LABELS_DEG:
        augment = {**settings["augment"], **SCRATCH_ROTATED["augment"]}
        settings = {**settings, **SCRATCH_ROTATED, "augment": augment}
        fitted += [
            ("augment", f"> {ROTATED_LABELS_DEG}: rotation augmentation up to 180 deg"),
            ("epochs", f"{settings['epochs']} epochs"),
            ("head", "the simple head (half the time a step)"),
        ]
    return Recipe("from scratch", reason, settings, tuple(fitted))


def box_aspect(boxes: np.ndarray) -> float:
    """The median width / height of the boxes (xywh, (N, 4)) that have both; 1 when none has."""
    boxes = boxes[(boxes[:, 2] > 0) & (boxes[:, 3] > 0)]
    return float(np.median(boxes[:, 2] / boxes[:, 3])) if len(boxes) else 1.0


def rotation_spread(keypoints: np.ndarray) -> float:
    """How much the labels are rotated, in degrees: the circular standard deviation of the direction
    between the two keypoints labelled together on at least half of the objects that lie farthest apart
    (``keypoints`` (N, K, 3)). About 15 for upright people, 170+ for freely rotated objects; 0 when no pair
    is labelled often enough."""
    visible = keypoints[..., 2] > 0
    best, angles = 0.0, None
    for i in range(keypoints.shape[1]):
        for j in range(i + 1, keypoints.shape[1]):
            both = visible[:, i] & visible[:, j]
            if 2 * both.sum() < len(keypoints) or not both.any():
                continue
            vectors = keypoints[both, j, :2] - keypoints[both, i, :2]
            distance = float(np.linalg.norm(vectors, axis=1).mean())
            if distance > best:
                best, angles = distance, np.arctan2(vectors[:, 1], vectors[:, 0])
    if angles is None:
        return 0.0
    length = max(float(np.abs(np.exp(1j * angles).mean())), 1e-12)  # mean resultant length
    return float(np.degrees(np.sqrt(-2 * np.log(length))))


def no_weights_reason(model: str, pretrained: str, error: Exception | None = None) -> str:
    """Why a run starts from random weights: ``--pretrained none``, a preset without hub weights, or
    ``error`` (the preset's hub weights could not be had)."""
    if error is not None:
        return f"the pretrained weights of {model} could not be loaded ({error})"
    if pretrained == "none":
        return "--pretrained none"
    return f"{model} has no pretrained weights"


def banner(recipe: Recipe, cfg: TrainConfig, train_people: int) -> list[str]:
    """The recipe line (what, why, the main settings) and the data-size line (a warning below the seed's
    guidance for this recipe)."""
    settings = (
        f"{cfg.optimizer} lr {cfg.lr:.3g}, {cfg.epochs} epochs, batch {cfg.batch_size}, "
        f"layer decay {cfg.layer_decay:g}"
    )
    fitted = f"; {recipe.fitted_note}" if recipe.fitted_note else ""
    lines = [f"Recipe: {recipe.kind} ({recipe.reason}): {settings}{fitted}."]
    guidance = (
        f"the seed's guidance is {FINETUNE_MIN_PEOPLE:,}+ labelled people to fine-tune and "
        f"{SCRATCH_MIN_PEOPLE:,}+ to train from scratch"
    )
    if train_people < recipe.min_people:
        advice = "expect a rough model; label more people"
        if recipe.kind == "from scratch":
            advice += ", or fine-tune a preset with weights (--model vitpose-b)"
        lines.append(f"[yellow]Warning:[/] {train_people:,} training people; {guidance}: {advice}.")
    else:
        lines.append(f"{train_people:,} training people; {guidance}.")
    return lines


def same_images_warning(train: KeypointAnnotations, val: KeypointAnnotations) -> str | None:
    """A warning when validation images are also training images (one JSON given as both splits), else
    None: the AP then measures how well the training images were learnt, not how well the model does on
    images it never saw."""
    seen = {image.path.resolve() for image in train.images.values()}
    shared = sum(image.path.resolve() in seen for image in val.images.values())
    if not shared:
        return None
    return (
        f"[yellow]Warning:[/] {shared} of the {len(val.images)} validation images are also training images "
        f"({val.json_path.name} / {train.json_path.name}), so the AP says how well they were learnt, not how "
        "the model does on new images; give a separate `val:` split in a data YAML"
    )


#: A validated person costs about this fraction of a training sample: a forward pass (a third of forward
#: plus backward), twice with the flip test.
VAL_COST = 2 / 3


def fit_epochs(minutes: float, step_s: float, steps: int, batch: int, val_people: int, val_every: int) -> int:
    """The most epochs (at least 1) whose training steps (``step_s`` seconds each, ``steps`` an epoch)
    and share of validations (``val_people`` every ``val_every`` epochs) fit in ``minutes``."""
    epoch_s = steps * step_s + val_people * step_s / batch * VAL_COST / val_every
    return max(1, int(minutes * 60 // epoch_s))
