"""Top-down geometry: aspect-ratio fixing and the unbiased (UDP) affine warp.

The warp follows UDP (Huang et al., "The Devil is in the Details", CVPR 2020): a box of size
``scale`` centred on ``center`` maps onto pixel *centres* 0 .. size-1 of the output, so the
mapping uses ``(size - 1) / scale`` and flipping is exactly ``x -> (w - 1) - x`` with no shift.
Hand-written on OpenCV because mmpose, the one library with these semantics, needs mmcv/mmengine.
"""

from __future__ import annotations

import cv2
import numpy as np


# ---------------------------------------------------------------------- boxes
def fix_aspect_ratio(scale: np.ndarray, aspect_ratio_wh: float) -> np.ndarray:
    """Expand the short side of ``scale`` (..., 2) = (w, h) so that ``w / h == aspect_ratio_wh``."""
    scale = np.asarray(scale, dtype=np.float64)
    w, h = scale[..., 0], scale[..., 1]
    wider = w > h * aspect_ratio_wh
    new_w = np.where(wider, w, h * aspect_ratio_wh)
    return np.stack([new_w, np.where(wider, w / aspect_ratio_wh, h)], axis=-1)


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


def warp_keypoints(
    keypoints: np.ndarray, matrix: np.ndarray, flip_index: np.ndarray | None = None
) -> np.ndarray:
    """Keypoints (K, 3) x, y, v through ``matrix``; ``flip_index`` relabels left/right after a flip."""
    out = np.asarray(keypoints, dtype=np.float64).copy()
    out[:, :2] = transform_points(out[:, :2], matrix)
    return out[flip_index] if flip_index is not None else out
