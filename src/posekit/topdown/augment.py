"""Training augmentation: sampling a person's centre/scale/rotation/flip and colour jitter.

Semantics and defaults follow the ViTPose recipe as implemented in mmpose 1.x (RandomFlip,
RandomHalfBody, RandomBBoxTransform); colour jitter is ours. Every random decision comes from the
``np.random.Generator`` passed in, so a sample is reproducible from its seed. Geometry is only sampled
here: the one warp that applies it is the processor's (:mod:`posekit.topdown.processor`). Hand-written
because general augmentation libraries have no keypoint-aware half-body crops or UDP geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from posekit.datasets.schema import KeypointSchema


# ---------------------------------------------------------------------- augmentation
class AugmentConfig(BaseModel):
    """Training augmentation (defaults: the ViTPose recipe, mmpose 1.x semantics, plus mild colour).

    Geometry is sampled per person: flip, half-body crop, box shift, scale and rotation. Scale is
    ``1 + scale_factor * t`` and rotation ``rotation * t2`` with ``t ~ N(0,1)`` truncated to [-1, 1]
    and ``t2`` truncated to [-2, 2] (so rotation=40 gives a std of 40 degrees, at most 80).
    Colour jitter factors are drawn uniformly in ``[1 - x, 1 + x]`` (hue: shift of ``+-hue`` turns).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    flip_prob: float = Field(0.5, ge=0, le=1)
    half_body_prob: float = Field(0.3, ge=0, le=1)
    half_body_min_keypoints: int = Field(9, ge=0, description="labelled keypoints needed for half-body")
    half_body_min_upper: int = Field(2, ge=1)
    half_body_min_lower: int = Field(3, ge=1)
    half_body_upper_prob: float = Field(0.7, ge=0, le=1, description="prefer the upper body")
    half_body_padding: float = Field(1.5, gt=0)
    shift_factor: float = Field(0.16, ge=0)
    shift_prob: float = Field(0.3, ge=0, le=1)
    scale_factor: float = Field(0.5, ge=0, lt=1)
    scale_prob: float = Field(1.0, ge=0, le=1)
    rotation: float = Field(40.0, ge=0, le=180, description="degrees, std of the truncated normal")
    rotation_prob: float = Field(0.6, ge=0, le=1)
    colour_prob: float = Field(0.5, ge=0, le=1)
    brightness: float = Field(0.2, ge=0, lt=1)
    contrast: float = Field(0.2, ge=0, lt=1)
    saturation: float = Field(0.2, ge=0, lt=1)
    hue: float = Field(0.02, ge=0, le=0.5)


@dataclass(frozen=True)
class ColourJitter:
    """Multiplicative brightness/contrast/saturation factors and a hue shift (fraction of a turn)."""

    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue: float = 0.0


@dataclass(frozen=True)
class AugmentParams:
    """One sampled augmentation: the crop box (before aspect fixing), rotation, flip and colour."""

    center: np.ndarray
    scale: np.ndarray
    rotation: float = 0.0
    flip: bool = False
    colour: ColourJitter | None = None


def _truncated_normal(rng: np.random.Generator, limit: float) -> float:
    # Rejection sampling: numpy has no truncated normal and scipy's truncnorm.rvs costs ~100 us a call.
    while True:
        value = rng.standard_normal()
        if -limit <= value <= limit:
            return float(value)


def _half_body_box(
    rng: np.random.Generator, config: AugmentConfig, keypoints: np.ndarray, schema: KeypointSchema
) -> tuple[np.ndarray, np.ndarray] | None:
    """mmpose's RandomHalfBody: a box around the labelled upper- or lower-body keypoints, or None."""
    labelled = keypoints[:, 2] > 0
    if not schema.upper_body or not schema.lower_body or labelled.sum() < config.half_body_min_keypoints:
        return None
    if rng.random() >= config.half_body_prob:
        return None
    upper = [i for i in schema.upper_body if labelled[i]]
    lower = [i for i in schema.lower_body if labelled[i]]
    prefer_upper = rng.random() < config.half_body_upper_prob
    upper_ok, lower_ok = len(upper) >= config.half_body_min_upper, len(lower) >= config.half_body_min_lower
    if not upper_ok and not lower_ok:
        return None
    chosen = upper if upper_ok and (prefer_upper or not lower_ok) else lower
    points = keypoints[chosen, :2]
    center = points.mean(axis=0)
    scale = (points.max(axis=0) - points.min(axis=0)) * config.half_body_padding
    return center, scale


def random_augment_params(
    rng: np.random.Generator,
    config: AugmentConfig,
    center: np.ndarray,
    scale: np.ndarray,
    keypoints: np.ndarray | None = None,
    schema: KeypointSchema | None = None,
) -> AugmentParams:
    """Sample one augmentation for a person with box ``center``/``scale`` and keypoints (K, 3) x, y, v.

    Half-body needs ``keypoints`` and a ``schema`` with ``upper_body`` and ``lower_body``. The same
    generator state always yields the same parameters.
    """
    center = np.asarray(center, dtype=np.float64).copy()
    scale = np.asarray(scale, dtype=np.float64).copy()
    flip = bool(rng.random() < config.flip_prob)
    if keypoints is not None and schema is not None:
        half = _half_body_box(rng, config, np.asarray(keypoints, dtype=np.float64), schema)
        if half is not None and half[1].max() > 1:
            center, scale = half
    if rng.random() < config.shift_prob:
        center = center + np.array([_truncated_normal(rng, 1), _truncated_normal(rng, 1)]) * (
            config.shift_factor * scale
        )
    if rng.random() < config.scale_prob:
        scale = scale * (1 + config.scale_factor * _truncated_normal(rng, 1))
    rotation = config.rotation * _truncated_normal(rng, 2) if rng.random() < config.rotation_prob else 0.0
    colour = None
    if rng.random() < config.colour_prob:
        b, c, s = (1 + rng.uniform(-x, x) for x in (config.brightness, config.contrast, config.saturation))
        hue = rng.uniform(-config.hue, config.hue)
        colour = ColourJitter(brightness=float(b), contrast=float(c), saturation=float(s), hue=float(hue))
    return AugmentParams(center=center, scale=scale, rotation=float(rotation), flip=flip, colour=colour)


def apply_colour_jitter(image: np.ndarray, jitter: ColourJitter) -> np.ndarray:
    """Brightness, contrast, saturation and hue jitter of an RGB uint8 image (returns a new image).

    Brightness and contrast (towards the mean grey level) are one lookup table; saturation blends
    with the grey image; hue rotates H in HSV. All uint8 OpenCV ops: ~0.3 ms for a 256x192 crop.
    """
    grey_mean = float(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).mean())
    gain = jitter.brightness * jitter.contrast
    offset = jitter.brightness * grey_mean * (1 - jitter.contrast)
    table = np.clip(np.arange(256) * gain + offset, 0, 255).round().astype(np.uint8)
    out = cv2.LUT(image, table)
    if jitter.saturation != 1.0:
        grey = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        out = cv2.addWeighted(out, jitter.saturation, grey, 1 - jitter.saturation, 0)
    if jitter.hue != 0.0:
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV_FULL)  # hue in 0..255 for a full turn
        hsv[..., 0] += np.uint8(round(jitter.hue * 256) % 256)  # uint8 arithmetic wraps around the circle
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)
    return out
