"""Top-down geometry: box -> centre/scale, the unbiased (UDP) affine warp, and training augmentation.

The warp follows UDP (Huang et al., "The Devil is in the Details", CVPR 2020): a box of size
``scale`` centred on ``center`` maps onto pixel *centres* 0 .. size-1 of the output, so the
mapping uses ``(size - 1) / scale`` and flipping is exactly ``x -> (w - 1) - x`` with no shift.
Augmentation semantics and defaults follow the ViTPose recipe as implemented in mmpose 1.x
(RandomFlip, RandomHalfBody, RandomBBoxTransform); colour jitter is ours. Every random decision
comes from the ``np.random.Generator`` passed in, so a sample is reproducible from its seed.
Hand-written on OpenCV because mmpose, the one library with these semantics, needs mmcv/mmengine,
and general augmentation libraries have no UDP geometry or keypoint-aware half-body crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from posekit.data.schema import KeypointSchema


# ---------------------------------------------------------------------- boxes
def fix_aspect_ratio(scale: np.ndarray, aspect_ratio_wh: float) -> np.ndarray:
    """Expand the short side of ``scale`` (..., 2) = (w, h) so that ``w / h == aspect_ratio_wh``."""
    scale = np.asarray(scale, dtype=np.float64)
    w, h = scale[..., 0], scale[..., 1]
    wider = w > h * aspect_ratio_wh
    new_w = np.where(wider, w, h * aspect_ratio_wh)
    return np.stack([new_w, np.where(wider, w / aspect_ratio_wh, h)], axis=-1)


def box_to_center_scale(
    bbox_xywh: np.ndarray, aspect_ratio_wh: float, padding: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """COCO boxes (4,) or (N, 4) xywh -> ``center`` (x, y) and ``scale`` (w, h) in pixels.

    ``scale`` is the box times ``padding`` with its short side expanded to the model's aspect ratio
    (``input_w / input_h``), the mmpose 1.x convention (no division by 200).
    """
    box = np.asarray(bbox_xywh, dtype=np.float64)
    center = box[..., :2] + 0.5 * box[..., 2:4]
    return center, fix_aspect_ratio(box[..., 2:4] * padding, aspect_ratio_wh)


# ---------------------------------------------------------------------- affine warp
def udp_warp_matrix(
    center: np.ndarray, scale: np.ndarray, rotation_deg: float, output_size_hw: tuple[int, int]
) -> np.ndarray:
    """(2, 3) affine matrix mapping image pixels to output pixels (UDP).

    The box ``center +- scale / 2`` rotated by ``rotation_deg`` maps onto ``[0, w-1] x [0, h-1]``;
    ``center`` lands on ``((w-1)/2, (h-1)/2)``. Same matrix as mmpose's ``get_udp_warp_matrix``.
    """
    out_h, out_w = output_size_hw
    cx, cy = np.asarray(center, dtype=np.float64)
    sw, sh = np.asarray(scale, dtype=np.float64)
    sx, sy = (out_w - 1) / sw, (out_h - 1) / sh
    theta = np.deg2rad(rotation_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    rot = np.array([[cos, -sin], [sin, cos]]) * np.array([[sx], [sy]])
    offset = np.array([(out_w - 1) / 2, (out_h - 1) / 2]) - rot @ np.array([cx, cy])
    return np.concatenate([rot, offset[:, None]], axis=1)


def hflip_matrix(width: int) -> np.ndarray:
    """(2, 3) matrix of the horizontal flip ``x -> (width - 1) - x`` of an image ``width`` pixels wide."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])


def compose(first: np.ndarray, then: np.ndarray) -> np.ndarray:
    """The (2, 3) affine ``then o first`` (apply ``first``, then ``then``)."""
    return then @ np.concatenate([first, [[0.0, 0.0, 1.0]]])


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to points (..., 2) (x, y)."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_image(
    image: np.ndarray, matrix: np.ndarray, output_size_hw: tuple[int, int], border_value: int = 0
) -> np.ndarray:
    """Warp ``image`` with ``matrix`` (image -> output pixels) to ``output_size_hw``, bilinear."""
    out_h, out_w = output_size_hw
    return cv2.warpAffine(
        image,
        np.asarray(matrix, dtype=np.float64),
        (int(out_w), int(out_h)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(border_value,) * 3,
    )


# ---------------------------------------------------------------------- augmentation
class AugmentConfig(BaseModel):
    """Training augmentation (defaults: the ViTPose recipe, mmpose 1.x semantics, plus mild colour).

    Geometry is sampled per person: flip, half-body crop, box shift, scale and rotation. Scale is
    ``1 + scale_factor * t`` and rotation ``rotation * t2`` with ``t ~ N(0,1)`` truncated to [-1, 1]
    and ``t2`` truncated to [-2, 2] (so rotation=40 gives a std of 40 degrees, at most 80).
    Colour jitter factors are drawn uniformly in ``[1 - x, 1 + x]`` (hue: shift of ``+-hue`` turns).
    """

    model_config = ConfigDict(extra="forbid")

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

    def warp_matrix(self, output_size_hw: tuple[int, int]) -> np.ndarray:
        """Image -> crop matrix (the flip is applied in crop space, ``x -> (w-1) - x``)."""
        out_h, out_w = output_size_hw
        scale = fix_aspect_ratio(self.scale, out_w / out_h)
        matrix = udp_warp_matrix(self.center, scale, self.rotation, output_size_hw)
        return compose(matrix, hflip_matrix(out_w)) if self.flip else matrix


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


def warp_keypoints(
    keypoints: np.ndarray, matrix: np.ndarray, flip_index: np.ndarray | None = None
) -> np.ndarray:
    """Keypoints (K, 3) x, y, v through ``matrix``; ``flip_index`` relabels left/right after a flip."""
    out = np.asarray(keypoints, dtype=np.float64).copy()
    out[:, :2] = transform_points(out[:, :2], matrix)
    return out[flip_index] if flip_index is not None else out
