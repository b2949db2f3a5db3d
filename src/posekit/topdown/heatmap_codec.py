"""UDP Gaussian heatmap codec: keypoints <-> heatmaps, with DARK sub-pixel decoding.

Semantics follow mmpose's ``UDPHeatmap`` (``generate_udp_gaussian_heatmaps`` and
``refine_keypoints_dark_udp``), which ViTPose trains and evaluates with: an input pixel ``x`` maps to
heatmap ``x * (W - 1) / (w - 1)``, and the Gaussian sits at the sub-pixel position, cut to the
``3 sigma`` window around ``mu = trunc(x + 0.5)`` exactly as mmpose cuts it (truncation towards zero,
so a point left of or above the map rounds as mmpose rounds it, and a window ending up to one pixel
before the map keeps weight 1 with an empty target, as in mmpose). One deliberate difference: when
``3 sigma`` is not a whole number, mmpose's window offset moves the Gaussian one pixel off the point for
points within ``3 sigma`` of the left/top edge (``trunc`` of a negative window start rounds up); posekit
keeps it on the point. For the default sigma 2 (and any sigma that is a multiple of 1/3) the targets
equal mmpose's.

Two decoders (``decode``; :data:`DEFAULT_DECODE` is the reference):

- ``"reference"``: mmpose's DARK-UDP to the letter -- every map blurred with OpenCV's Gaussian kernel
  (zero padding, rescaled to its peak), log, the 3x3 stencil at the argmax with edge padding, one Newton
  step with ``Hessian + eps I``. It equals mmpose 1.3's decode to float precision (where mmpose gives
  NaN -- a map without a positive peak -- it keeps the argmax).
- ``"posekit"``: the same step where the blur kernel fits inside the map; near the borders (within the
  kernel radius) the blur is skipped, the stencil moves inside the map and the step is kept within one
  heatmap pixel of the argmax, since zero-padded blurring pulls border peaks inwards (on synthetic peaks
  it is the closer of the two to the true peak there). Only 9 blurred values per map are computed.

Written here, vectorised over all people and keypoints, because mmpose loops in Python (and needs mmcv).
"""

from __future__ import annotations

from typing import Literal, TypeVar, get_args

import cv2
import numpy as np
import torch

HeatmapArray = TypeVar("HeatmapArray", np.ndarray, torch.Tensor)
DecodeMode = Literal["posekit", "reference"]
DECODE_MODES: tuple[str, ...] = get_args(DecodeMode)
#: The decoder unless a model says otherwise. On the sample-trained ViTPose-T the two tie: COCO AP
#: posekit - reference = -0.06 / -0.41 points on the sample's validation split (flip test / none) and
#: +0.68 / -0.08 on the ground-truth video (``python benchmarks/fidelity.py``), so the reference wins:
#: it reproduces mmpose's (and the official ViTPose) numbers.
DEFAULT_DECODE: DecodeMode = "reference"


def blur_kernel_size_for(sigma: float) -> int:
    """Odd Gaussian kernel size whose OpenCV default sigma matches ``sigma`` (2 -> 11, 3 -> 17, as DARK)."""
    return 2 * max(1, round((sigma - 0.8) / 0.3 + 1)) + 1


class UDPHeatmapCodec:
    """Encode keypoints (input pixels) to UDP Gaussian heatmaps and decode heatmaps back.

    Sizes are (height, width). ``blur_kernel_size`` is the DARK modulation kernel (default from sigma);
    ``decode`` picks the decoder (see the module docstring).
    """

    def __init__(
        self,
        input_size: tuple[int, int] = (256, 192),
        heatmap_size: tuple[int, int] = (64, 48),
        sigma: float = 2.0,
        blur_kernel_size: int | None = None,
        decode: DecodeMode = DEFAULT_DECODE,
    ) -> None:
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        if decode not in DECODE_MODES:
            raise ValueError(f"decode must be one of {DECODE_MODES}, got {decode!r}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.sigma = float(sigma)
        self.blur_kernel_size = blur_kernel_size or blur_kernel_size_for(sigma)
        if self.blur_kernel_size % 2 != 1:
            raise ValueError(f"blur_kernel_size must be odd, got {self.blur_kernel_size}")
        self.decode_mode: DecodeMode = decode
        (in_h, in_w), (hm_h, hm_w) = self.input_size, self.heatmap_size
        #: heatmap pixels per input pixel along (x, y)
        self.to_heatmap = np.array([(hm_w - 1) / (in_w - 1), (hm_h - 1) / (in_h - 1)])

    # ------------------------------------------------------------------ encode
    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (K, 2) in input pixels and visibility (K,) -> heatmaps (K, h, w), weights (K,).

        A keypoint gets weight 1 when it is labelled (``visible > 0``) and mmpose's window
        ``[trunc(mu - 3 sigma), trunc(mu + 3 sigma + 1))`` reaches the map; otherwise weight 0 and an
        empty heatmap.
        """
        hm_h, hm_w = self.heatmap_size
        points = np.asarray(keypoints, dtype=np.float64)[:, :2] * self.to_heatmap  # (K, 2)
        finite = np.all(np.isfinite(points), axis=1)
        points = np.where(finite[:, None], points, 0.0)
        radius = 3 * self.sigma
        mu = np.trunc(points + 0.5)  # mmpose: (keypoints + 0.5).astype(np.int64)
        low, high = np.trunc(mu - radius), np.trunc(mu + radius + 1)  # window [low, high) per axis
        weights = (
            (np.asarray(visible) > 0)
            & finite
            & (low[:, 0] < hm_w)
            & (low[:, 1] < hm_h)
            & (high[:, 0] >= 0)
            & (high[:, 1] >= 0)
        )

        def axis_profile(size: int, axis: int) -> np.ndarray:  # (K, size) cut 1-D Gaussian
            grid = np.arange(size, dtype=np.float64)
            profile = np.exp(-((grid - points[:, axis : axis + 1]) ** 2) / (2 * self.sigma**2))
            inside = (grid >= low[:, axis : axis + 1]) & (grid < high[:, axis : axis + 1])
            return (profile * inside).astype(np.float32)

        # the Gaussian is separable: one outer product per keypoint, in float32
        gx, gy = axis_profile(hm_w, 0) * weights[:, None], axis_profile(hm_h, 1)
        return gy[:, :, None] * gx[:, None, :], weights.astype(np.float32)

    # ------------------------------------------------------------------ decode
    def decode(self, heatmaps: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, K, h, w) (or (K, h, w)) -> keypoints (N, K, 2) in input pixels, scores (N, K).

        Scores are the heatmap maxima; positions the argmax refined by one DARK Newton step on the
        log-heatmap (see the module docstring for the two decoders).
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
        if self.decode_mode == "reference":
            points = self._refine_reference(maps, x, y, scores)
        else:
            points = self._refine(maps, x, y, scores)
        keypoints = (points / self.to_heatmap).reshape(n, k, 2)
        scores = scores.reshape(n, k)
        return (keypoints[0], scores[0]) if single else (keypoints, scores)

    def _refine(self, maps: np.ndarray, x: np.ndarray, y: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """posekit's DARK step: blurred stencil inside, raw stencil moved inwards at the borders, clamped."""
        _, h, w = maps.shape
        cx, cy = np.clip(x, 1, w - 2), np.clip(y, 1, h - 2)  # the stencil centre, inside the map
        stencil = _window(maps, cx, cy, 1)  # (M, 3, 3)
        r = self.blur_kernel_size // 2
        inner = (cx >= r + 1) & (cx <= w - r - 2) & (cy >= r + 1) & (cy <= h - r - 2)
        if inner.any():
            stencil[inner] = self._blurred_stencil(maps[inner], cx[inner], cy[inner], scores[inner])
        step = _newton_step(np.log(np.clip(stencil, 1e-3, 50.0)))
        ok = np.isfinite(step).all(axis=1) & (scores > 0)
        px = np.where(ok, cx + step[:, 0], x)
        py = np.where(ok, cy + step[:, 1], y)
        return np.stack([np.clip(px, x - 1, x + 1), np.clip(py, y - 1, y + 1)], axis=-1)

    def _refine_reference(
        self, maps: np.ndarray, x: np.ndarray, y: np.ndarray, scores: np.ndarray
    ) -> np.ndarray:
        """mmpose's ``refine_keypoints_dark_udp`` on every map at once.

        mmpose blurs whole maps and rescales each to its peak before the log; the rescaling adds a constant
        to the log, which the Newton step does not see, unless the log's clip to [1e-3, 50] binds. So where
        the clip cannot bind (the blurred stencil >= 1e-3 and the peak <= 50: the factor lies in [1, peak /
        stencil max]) and the stencil is a clear peak, only its 9 blurred values are computed (~10x faster
        for a trained model's maps); the other maps are blurred whole, as mmpose does.
        """
        m, h, w = maps.shape
        ks = self.blur_kernel_size
        offsets = np.arange(-1, 2)
        # the stencil around the argmax, edge-padded (mmpose pads the log-map by its edge values)
        rows = np.clip(y[:, None] + offsets, 0, h - 1) - y[:, None] + 1  # (M, 3) in 0..2
        cols = np.clip(x[:, None] + offsets, 0, w - 1) - x[:, None] + 1
        around = _blur_around(maps, x, y, ks)  # (M, 3, 3) blurred values around (x, y), not rescaled
        stencil = around[np.arange(m)[:, None, None], rows[:, :, None], cols[:, None, :]]
        log = np.log(np.clip(stencil, 1e-3, 50.0))
        # the constant differs from mmpose's in the last float32 bit, which a flat (ill-conditioned) log-map
        # magnifies into a visible step: maps whose log-curvature is not clearly negative take mmpose's path
        _, _, hxx, hyy, hxy = _derivatives(log)
        peaked = (hxx + hyy) / 2 + np.sqrt(((hxx - hyy) / 2) ** 2 + hxy**2) <= -0.05  # both eigenvalues
        local = peaked & (scores > 0) & (scores <= 50.0) & (stencil.reshape(m, -1).min(axis=1) >= 1e-3)
        if not local.all():
            log[~local] = self._reference_stencil(maps[~local], x[~local], y[~local], scores[~local])
        step = _newton_step(log, exact=True)
        # a map without a positive peak blurs to 0/0 (mmpose returns NaN there): keep its argmax
        step = np.where(np.isfinite(step).all(axis=1, keepdims=True), step, 0.0)
        cx, cy = np.where(scores > 0, x, -1), np.where(scores > 0, y, -1)
        return np.stack([cx + step[:, 0], cy + step[:, 1]], axis=-1)

    def _reference_stencil(
        self, maps: np.ndarray, x: np.ndarray, y: np.ndarray, scores: np.ndarray
    ) -> np.ndarray:
        """The 3x3 log stencils of mmpose's whole-map path: blur, rescale to the peak, clip, log, edge-pad."""
        m, h, w = maps.shape
        log = np.log(np.clip(_blur_maps(maps, self.blur_kernel_size), 1e-3, 50.0))
        padded = np.pad(log, ((0, 0), (1, 1), (1, 1)), mode="edge")
        # mmpose marks maps without a positive maximum as (-1, -1): their stencil sits on the padded corner
        cx, cy = np.where(scores > 0, x, -1) + 1, np.where(scores > 0, y, -1) + 1
        rows, cols = cy[:, None] + np.arange(-1, 2), cx[:, None] + np.arange(-1, 2)
        # clipped reads only matter for the corner stencil, where mmpose reads the neighbouring flat memory
        return padded[
            np.arange(m)[:, None, None],
            np.clip(rows, 0, h + 1)[:, :, None],
            np.clip(cols, 0, w + 1)[:, None, :],
        ]

    def _blurred_stencil(
        self, maps: np.ndarray, cx: np.ndarray, cy: np.ndarray, peaks: np.ndarray
    ) -> np.ndarray:
        """The 3x3 stencil of the DARK-modulated maps (OpenCV's Gaussian kernel, zero borders), rescaled
        so that its maximum equals the map's peak (mmpose rescales by the blurred map's maximum, which lies
        in this stencil for any single-peaked map)."""
        stencil = _blur_around(maps, cx, cy, self.blur_kernel_size)
        top = stencil.reshape(len(stencil), -1).max(axis=1)
        factor = np.where(top > 0, peaks / np.where(top > 0, top, 1.0), 1.0)
        return stencil * factor[:, None, None]


def _blur_around(maps: np.ndarray, cx: np.ndarray, cy: np.ndarray, kernel_size: int) -> np.ndarray:
    """(M, 3, 3) values of each map blurred with OpenCV's Gaussian kernel (zero outside the map) at
    (cx, cy) and its 8 neighbours: computed from a window around them only, not whole blurred maps."""
    kernel = cv2.getGaussianKernel(kernel_size, 0).ravel().astype(np.float32)
    window = _window(maps, cx, cy, kernel_size // 2 + 1)  # (M, ks+2, ks+2)
    rows = np.lib.stride_tricks.sliding_window_view(window, kernel_size, axis=2) @ kernel  # (M, ks+2, 3)
    return np.lib.stride_tricks.sliding_window_view(rows, kernel_size, axis=1) @ kernel  # (M, 3, 3)


def _window(maps: np.ndarray, cx: np.ndarray, cy: np.ndarray, radius: int) -> np.ndarray:
    """(M, 2r+1, 2r+1) values of each map around (cx, cy); zero outside the map."""
    m, h, w = maps.shape
    offsets = np.arange(-radius, radius + 1)
    rows, cols = cy[:, None] + offsets, cx[:, None] + offsets  # (M, 2r+1)
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    rows_in, cols_in = np.clip(rows, 0, h - 1)[:, :, None], np.clip(cols, 0, w - 1)[:, None, :]
    values = maps[np.arange(m)[:, None, None], rows_in, cols_in]
    return np.where(inside, values, 0.0).astype(np.float32)


def _blur_maps(maps: np.ndarray, kernel_size: int) -> np.ndarray:
    """mmpose's ``gaussian_blur``: each map zero-padded, blurred with OpenCV's kernel, rescaled to its peak.

    All maps are blurred in one OpenCV call: stacked into one tall image, each inside a zero border of
    the kernel radius, so no map reaches into another (nor into OpenCV's own border handling).
    """
    m, h, w = maps.shape
    b = kernel_size // 2
    tall = np.zeros((m, h + 2 * b, w + 2 * b), np.float32)
    tall[:, b : b + h, b : b + w] = maps
    blurred = cv2.GaussianBlur(tall.reshape(m * (h + 2 * b), w + 2 * b), (kernel_size, kernel_size), 0)
    blurred = blurred.reshape(m, h + 2 * b, w + 2 * b)[:, b : b + h, b : b + w]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = maps.reshape(m, -1).max(axis=1) / blurred.reshape(m, -1).max(axis=1)
    return blurred * factor[:, None, None]


def _derivatives(log: np.ndarray) -> tuple[np.ndarray, ...]:
    """Gradient (gx, gy) and Hessian (hxx, hyy, hxy) at the centre of 3x3 stencils (M, 3, 3), central
    differences."""
    c, xp, xm, yp, ym = log[:, 1, 1], log[:, 1, 2], log[:, 1, 0], log[:, 2, 1], log[:, 0, 1]
    hxy = 0.5 * (log[:, 2, 2] - xp - yp + 2 * c - xm - ym + log[:, 0, 0])
    return 0.5 * (xp - xm), 0.5 * (yp - ym), xp - 2 * c + xm, yp - 2 * c + ym, hxy


def _newton_step(log: np.ndarray, exact: bool = False) -> np.ndarray:
    """(M, 2) offset ``-H^-1 g`` from 3x3 log-heatmap stencils (M, 3, 3), central differences.

    ``exact``: invert ``H + eps I`` as mmpose does (NaN/inf pass through); otherwise the same step with
    ``eps`` on the diagonal, NaN where ``H`` is singular.
    """
    gx, gy, hxx, hyy, hxy = _derivatives(log)
    eps = np.finfo(np.float32).eps
    if exact:
        hessian = np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, hyy], -1)], -2) + eps * np.eye(2)
        return -np.einsum("mij,mj->mi", np.linalg.inv(hessian), np.stack([gx, gy], -1))
    hxx, hyy = hxx + eps, hyy + eps
    det = hxx * hyy - hxy**2
    with np.errstate(divide="ignore", invalid="ignore"):
        det = np.where(det != 0, det, np.nan)
        return np.stack([-(hyy * gx - hxy * gy) / det, -(hxx * gy - hxy * gx) / det], axis=-1)


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
