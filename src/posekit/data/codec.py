"""UDP Gaussian heatmap codec: keypoints <-> heatmaps, with DARK sub-pixel decoding.

Semantics follow mmpose's ``UDPHeatmap`` (``generate_udp_gaussian_heatmaps`` and
``refine_keypoints_dark_udp``), which ViTPose trains and evaluates with: an input pixel ``x`` maps to
heatmap ``x * (W - 1) / (w - 1)``, the Gaussian sits at the sub-pixel position and is cut to a
``3 sigma`` square around the nearest pixel. The decoder is written here, vectorised over all
people and keypoints at once, because mmpose loops over them in Python (slow for thousands of people).
"""

from __future__ import annotations

from typing import TypeVar

import cv2
import numpy as np
import torch

HeatmapArray = TypeVar("HeatmapArray", np.ndarray, torch.Tensor)


def blur_kernel_size_for(sigma: float) -> int:
    """Odd Gaussian kernel size whose OpenCV default sigma matches ``sigma`` (2 -> 11, 3 -> 17, as DARK)."""
    return 2 * max(1, round((sigma - 0.8) / 0.3 + 1)) + 1


class UDPHeatmapCodec:
    """Encode keypoints (input pixels) to UDP Gaussian heatmaps and decode heatmaps back.

    Sizes are (height, width). ``blur_kernel_size`` is the DARK modulation kernel (default from sigma).
    """

    def __init__(
        self,
        input_size: tuple[int, int] = (256, 192),
        heatmap_size: tuple[int, int] = (64, 48),
        sigma: float = 2.0,
        blur_kernel_size: int | None = None,
    ) -> None:
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.sigma = float(sigma)
        self.blur_kernel_size = blur_kernel_size or blur_kernel_size_for(sigma)
        if self.blur_kernel_size % 2 != 1:
            raise ValueError(f"blur_kernel_size must be odd, got {self.blur_kernel_size}")
        (in_h, in_w), (hm_h, hm_w) = self.input_size, self.heatmap_size
        #: heatmap pixels per input pixel along (x, y)
        self.to_heatmap = np.array([(hm_w - 1) / (in_w - 1), (hm_h - 1) / (in_h - 1)])

    # ------------------------------------------------------------------ encode
    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (K, 2) in input pixels and visibility (K,) -> heatmaps (K, h, w), weights (K,).

        A keypoint gets weight 1 when it is labelled (``visible > 0``) and its ``3 sigma`` window
        overlaps the heatmap; otherwise weight 0 and an empty heatmap.
        """
        hm_h, hm_w = self.heatmap_size
        points = np.asarray(keypoints, dtype=np.float64)[:, :2] * self.to_heatmap  # (K, 2)
        nearest = np.floor(points + 0.5)
        radius = 3 * self.sigma
        weights = (
            (np.asarray(visible) > 0)
            & np.all(np.isfinite(points), axis=1)
            & (nearest[:, 0] - radius <= hm_w - 1)
            & (nearest[:, 1] - radius <= hm_h - 1)
            & (nearest[:, 0] + radius >= 0)
            & (nearest[:, 1] + radius >= 0)
        )
        points = np.where(weights[:, None], points, 0.0)
        nearest = np.where(weights[:, None], nearest, 0.0)

        def axis_profile(size: int, axis: int) -> np.ndarray:  # (K, size) cut 1-D Gaussian
            grid = np.arange(size, dtype=np.float64)
            profile = np.exp(-((grid - points[:, axis : axis + 1]) ** 2) / (2 * self.sigma**2))
            return (profile * (np.abs(grid - nearest[:, axis : axis + 1]) <= radius)).astype(np.float32)

        # the Gaussian is separable: one outer product per keypoint, in float32
        gx, gy = axis_profile(hm_w, 0) * weights[:, None], axis_profile(hm_h, 1)
        return gy[:, :, None] * gx[:, None, :], weights.astype(np.float32)

    # ------------------------------------------------------------------ decode
    def decode(self, heatmaps: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, K, h, w) (or (K, h, w)) -> keypoints (N, K, 2) in input pixels, scores (N, K).

        Argmax, then one Newton step on the log-heatmap with the gradient and Hessian from central
        differences (DARK for UDP, like mmpose's ``refine_keypoints_dark_udp``): on the Gaussian-blurred
        map (zero borders, rescaled to the original peak) wherever the blur kernel fits inside the map,
        and on the map itself near the borders, where zero-padded blurring would pull points inwards
        by up to a pixel. Next to an edge the 3x3 stencil is moved inside the map (a Newton step is
        exact for a log-quadratic from any point), so exact targets decode exactly up to the borders.
        The result is kept within 1 heatmap pixel of the argmax so that flat or saddle-shaped maps
        cannot throw a point away. Scores are the heatmap maxima.
        """
        if isinstance(heatmaps, torch.Tensor):
            heatmaps = heatmaps.detach().float().cpu().numpy()
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        single = heatmaps.ndim == 3
        if single:
            heatmaps = heatmaps[None]
        n, k, h, w = heatmaps.shape
        if h < 3 or w < 3:
            raise ValueError(f"heatmaps must be at least 3x3, got {h}x{w}")
        maps = heatmaps.reshape(n * k, h, w)
        flat = maps.reshape(n * k, h * w)
        index = flat.argmax(axis=1)
        scores = flat[np.arange(n * k), index]
        y, x = np.divmod(index, w)

        # stencil centre (cx, cy): the argmax, moved inside so that its 3x3 neighbours exist
        cx, cy = np.clip(x, 1, w - 2), np.clip(y, 1, h - 2)
        stencil = self._window(maps, cx, cy, 1)  # (M, 3, 3)
        r = self.blur_kernel_size // 2
        inner = (cx >= r + 1) & (cx <= w - r - 2) & (cy >= r + 1) & (cy <= h - r - 2)
        if inner.any():
            stencil[inner] = self._blurred_stencil(maps[inner], cx[inner], cy[inner], scores[inner])
        log = np.log(np.clip(stencil, 1e-3, 50.0))

        c, xp, xm, yp, ym = log[:, 1, 1], log[:, 1, 2], log[:, 1, 0], log[:, 2, 1], log[:, 0, 1]
        gx, gy = 0.5 * (xp - xm), 0.5 * (yp - ym)
        eps = np.finfo(np.float32).eps
        hxx, hyy = xp - 2 * c + xm + eps, yp - 2 * c + ym + eps
        hxy = 0.5 * (log[:, 2, 2] - xp - yp + 2 * c - xm - ym + log[:, 0, 0])
        det = hxx * hyy - hxy**2
        ok = (det != 0) & (scores > 0)
        det = np.where(ok, det, 1.0)
        px = cx + np.where(ok, -(hyy * gx - hxy * gy) / det, x - cx)
        py = cy + np.where(ok, -(hxx * gy - hxy * gx) / det, y - cy)
        points = np.stack([np.clip(px, x - 1, x + 1), np.clip(py, y - 1, y + 1)], axis=-1)
        keypoints = (points / self.to_heatmap).reshape(n, k, 2)
        scores = scores.reshape(n, k)
        return (keypoints[0], scores[0]) if single else (keypoints, scores)

    @staticmethod
    def _window(maps: np.ndarray, cx: np.ndarray, cy: np.ndarray, radius: int) -> np.ndarray:
        """(M, 2r+1, 2r+1) values of each map around (cx, cy); zero outside the map."""
        m, h, w = maps.shape
        offsets = np.arange(-radius, radius + 1)
        rows, cols = cy[:, None] + offsets, cx[:, None] + offsets  # (M, 2r+1)
        inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
        rows_in, cols_in = np.clip(rows, 0, h - 1)[:, :, None], np.clip(cols, 0, w - 1)[:, None, :]
        values = maps[np.arange(m)[:, None, None], rows_in, cols_in]
        return np.where(inside, values, 0.0).astype(np.float32)

    def _blurred_stencil(
        self, maps: np.ndarray, cx: np.ndarray, cy: np.ndarray, peaks: np.ndarray
    ) -> np.ndarray:
        """The 3x3 stencil of the DARK-modulated maps (OpenCV's Gaussian kernel, zero borders).

        Only the 9 needed values are computed (from a window around the stencil), not whole blurred
        maps: ~50x less work. Each stencil is rescaled so that its maximum equals the map's peak (mmpose
        rescales by the blurred map's maximum, which lies in this stencil for any single-peaked map).
        """
        ks = self.blur_kernel_size
        kernel = cv2.getGaussianKernel(ks, 0).ravel().astype(np.float32)
        window = self._window(maps, cx, cy, ks // 2 + 1)  # (M, ks+2, ks+2)
        rows = np.lib.stride_tricks.sliding_window_view(window, ks, axis=2) @ kernel  # (M, ks+2, 3)
        stencil = np.lib.stride_tricks.sliding_window_view(rows, ks, axis=1) @ kernel  # (M, 3, 3)
        top = stencil.reshape(len(stencil), -1).max(axis=1)
        factor = np.where(top > 0, peaks / np.where(top > 0, top, 1.0), 1.0)
        return stencil * factor[:, None, None]


def flip_heatmaps(heatmaps: HeatmapArray, flip_index: np.ndarray | list[int]) -> HeatmapArray:
    """Map heatmaps (torch or numpy, ``(..., K, h, w)``) predicted on a horizontally flipped input back
    to the original (flip test).

    Under UDP the flip is exact in pixel space (``x -> (w-1) - x``), so this is a plain mirror plus
    the left/right channel swap, with no one-pixel shift.
    """
    if isinstance(heatmaps, np.ndarray):
        return heatmaps[..., np.asarray(flip_index), :, ::-1]
    index = torch.as_tensor(np.asarray(flip_index), dtype=torch.long, device=heatmaps.device)
    return heatmaps.flip(-1).index_select(-3, index)


def input_to_image(
    keypoints: np.ndarray, centers: np.ndarray, scales: np.ndarray, input_size_hw: tuple[int, int]
) -> np.ndarray:
    """Keypoints (N, K, 2) in input pixels -> image pixels, inverse of the UDP warp without rotation.

    Input pixel 0 maps to ``center - scale / 2`` and pixel ``w - 1`` to ``center + scale / 2``.
    """
    in_h, in_w = input_size_hw
    centers = np.asarray(centers, dtype=np.float64)[:, None, :]
    scales = np.asarray(scales, dtype=np.float64)[:, None, :]
    per_pixel = scales / np.array([in_w - 1, in_h - 1])
    return np.asarray(keypoints, dtype=np.float64) * per_pixel + centers - 0.5 * scales
