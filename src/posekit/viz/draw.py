"""Drawing poses on images (OpenCV): skeletons coloured by body side, boxes, track ids, crop mosaics."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from posekit.datasets.schema import KeypointSchema

#: RGB colours of limbs and keypoints by side.
SIDE_COLOURS = {"left": (0, 220, 0), "right": (255, 140, 0), "center": (51, 153, 255)}
BOX_COLOUR = (255, 255, 0)
#: Track-id colours (RGB), picked by ``id % len``.
TRACK_COLOURS = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (220, 190, 255),
    (170, 110, 40),
    (255, 250, 200),
    (128, 0, 0),
    (170, 255, 195),
    (128, 128, 0),
    (255, 215, 180),
]


def track_colour(track_id: int) -> tuple[int, int, int]:
    """The RGB colour of a track id (stable across frames)."""
    return TRACK_COLOURS[int(track_id) % len(TRACK_COLOURS)]


def _limb_colour(schema: KeypointSchema, a: int, b: int) -> tuple[int, int, int]:
    sides = {schema.side(a), schema.side(b)}
    return SIDE_COLOURS[sides.pop() if len(sides) == 1 else "center"]


def draw_pose(
    image_rgb: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray | None,
    schema: KeypointSchema | None,
    conf: float = 0.3,
    boxes: np.ndarray | None = None,
    track_ids: Sequence[int] | np.ndarray | None = None,
    radius: int | None = None,
) -> np.ndarray:
    """Draw people on a copy of ``image_rgb`` (H, W, 3 uint8, RGB) and return it.

    ``keypoints`` (N, K, 2) (or (K, 2) for one person) in pixels; keypoints with ``scores`` below
    ``conf`` (and limbs touching them) are not drawn. Limbs come from ``schema.skeleton``, coloured by
    side (left / right / centre); without a schema or skeleton only points are drawn. ``boxes`` (N, 4)
    xywh and ``track_ids`` (N,) are optional. Radius and line width scale with the image size.
    """
    canvas = np.ascontiguousarray(image_rgb, dtype=np.uint8).copy()
    points = np.asarray(keypoints, dtype=np.float64)
    if points.ndim == 2:
        points = points[None]
    points = points[..., :2]
    n, k = points.shape[:2]
    scores = np.ones((n, k)) if scores is None else np.asarray(scores, dtype=np.float64).reshape(n, k)
    shown = (scores >= conf) & np.all(np.isfinite(points), axis=-1)
    h, w = canvas.shape[:2]
    radius = radius or max(2, round(max(h, w) / 200))
    thickness = max(1, round(radius * 0.6))
    if schema is not None:
        skeleton = schema.skeleton
        colours = [SIDE_COLOURS[schema.side(i)] for i in range(k)]
        limb_colours = [_limb_colour(schema, a, b) for a, b in skeleton]
    else:
        skeleton, colours, limb_colours = [], [SIDE_COLOURS["center"]] * k, []
    fixed = (np.nan_to_num(points) * 16).round().astype(np.int64)  # 4 fractional bits: sub-pixel drawing
    for person in range(n):
        for (a, b), colour in zip(skeleton, limb_colours, strict=True):
            if shown[person, a] and shown[person, b]:
                p, q = fixed[person, a], fixed[person, b]
                cv2.line(canvas, tuple(map(int, p)), tuple(map(int, q)), colour, thickness, cv2.LINE_AA, 4)
        for i in np.flatnonzero(shown[person]):
            centre = tuple(map(int, fixed[person, i]))
            cv2.circle(canvas, centre, radius * 16, colours[i], -1, cv2.LINE_AA, 4)
    anchors = _label_anchors(points, shown, boxes)
    if boxes is not None:
        for person, (x, y, bw, bh) in enumerate(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)):
            colour = BOX_COLOUR if track_ids is None else track_colour(track_ids[person])
            cv2.rectangle(canvas, (round(x), round(y)), (round(x + bw), round(y + bh)), colour, thickness)
    if track_ids is not None:
        for person, track_id in enumerate(track_ids):
            if anchors[person] is not None:
                _label(canvas, f"#{int(track_id)}", anchors[person], track_colour(track_id), radius)
    return canvas


def _label_anchors(
    points: np.ndarray, shown: np.ndarray, boxes: np.ndarray | None
) -> list[tuple[int, int] | None]:
    """Where each person's label goes: the top-left of its box, else of its drawn keypoints."""
    if boxes is not None:
        return [(round(x), round(y)) for x, y, _, _ in np.asarray(boxes, dtype=np.float64).reshape(-1, 4)]
    return [
        (round(p[s, 0].min()), round(p[s, 1].min())) if s.any() else None
        for p, s in zip(points, shown, strict=True)
    ]


def _label(
    canvas: np.ndarray, text: str, anchor: tuple[int, int], colour: tuple[int, int, int], radius: int
) -> None:
    """Text on a filled box just above ``anchor`` (kept inside the image)."""
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, max(0.35, radius / 6)
    thick = max(1, radius // 3)
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    x = min(max(anchor[0], 0), max(canvas.shape[1] - tw - 2, 0))
    y = min(max(anchor[1], th + base + 2), canvas.shape[0] - 1)
    cv2.rectangle(canvas, (x, y - th - base - 2), (x + tw + 2, y), colour, -1)
    cv2.putText(canvas, text, (x + 1, y - base), font, scale, (0, 0, 0), thick, cv2.LINE_AA)


def draw_crops_grid(
    images: Sequence[np.ndarray],
    keypoints: Sequence[np.ndarray | None] | np.ndarray | None = None,
    scores: Sequence[np.ndarray | None] | np.ndarray | None = None,
    schema: KeypointSchema | None = None,
    conf: float = 0.3,
    captions: Sequence[str] | None = None,
    cols: int | None = None,
    tile_size: tuple[int, int] | None = None,
    gap: int = 2,
) -> np.ndarray:
    """One RGB mosaic of ``images`` (each H, W, 3), each with its pose drawn.

    ``keypoints[i]`` is (K, 2) or (K, 3); with 3 columns and no ``scores`` the third column
    (visibility or score) decides what is drawn (``>= conf``). Tiles are resized to ``tile_size``
    (h, w; default: the first image's size), laid out ``cols`` wide (default: a near-square grid)
    with an optional caption each (e.g. "OKS 0.31").
    """
    if len(images) == 0:
        raise ValueError("draw_crops_grid needs at least one image")
    tile_h, tile_w = tile_size or images[0].shape[:2]
    cols = cols or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    mosaic = np.full((rows * (tile_h + gap) - gap, cols * (tile_w + gap) - gap, 3), 32, np.uint8)
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        tile = cv2.resize(np.ascontiguousarray(image), (tile_w, tile_h), interpolation=cv2.INTER_AREA)
        if tile.ndim == 2:
            tile = cv2.cvtColor(tile, cv2.COLOR_GRAY2RGB)
        kps = keypoints[i] if keypoints is not None else None
        if kps is not None:
            kps = np.asarray(kps, dtype=np.float64)
            tile_scores = scores[i] if scores is not None else None
            if tile_scores is None and kps.shape[-1] >= 3:
                tile_scores = kps[:, 2]
            xy = (kps[:, :2] + 0.5) * [tile_w / w, tile_h / h] - 0.5  # pixel centres, as cv2.resize
            tile = draw_pose(
                tile, xy[None], None if tile_scores is None else np.asarray(tile_scores)[None], schema, conf
            )
        if captions is not None and captions[i]:
            _label(tile, str(captions[i]), (0, 0), (255, 255, 255), max(2, round(max(tile_h, tile_w) / 200)))
        r, c = divmod(i, cols)
        y, x = r * (tile_h + gap), c * (tile_w + gap)
        mosaic[y : y + tile_h, x : x + tile_w] = tile
    return mosaic
