"""The top-down processor: everything between images + person boxes and model inputs, and between
heatmaps and image keypoints, written once and saved with the model.

``preprocess(images, boxes) -> (pixel_values, meta)``: box -> centre/scale (the input's aspect ratio,
``padding`` 1.25; ground-truth boxes clipped to the image first, as mmpose's COCO loader does) -> one
UDP warp (bilinear, zero border) -> normalisation by the ImageNet mean/std. Training augmentation only
changes centre/scale/rotation/flip before that same warp (:meth:`warp_matrix`).

``postprocess(heatmaps, meta, flipped=None) -> (keypoints, scores)``: the flip test (the mirrored
crop's heatmaps mirrored back with left/right channels swapped, averaged without a shift, as UDP
allows) -> the UDP codec's decode -> image pixels. :meth:`rescore` is the instance score of the COCO
protocol (box score x mean of the keypoint scores above ``keypoint_threshold``).

Saved like transformers saves processors: ``preprocessor_config.json`` written by transformers'
``VitPoseImageProcessor`` (input size, mean/std), so a plain transformers user gets a working processor
from a posekit model folder; the fields transformers has no name for (box padding, heatmap size, codec
sigma, DARK kernel, decoder, flip-test policy, rescoring threshold) go under ``"processor"`` in
``posekit.json``. Both are read back exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from posekit.datasets.json_file import load_json
from posekit.errors import ModelError
from posekit.topdown.affine import compose, fix_aspect_ratio, hflip_matrix, udp_warp_matrix, warp_image
from posekit.topdown.heatmap_codec import (
    DEFAULT_DECODE,
    DecodeMode,
    UDPHeatmapCodec,
    flip_heatmaps,
    input_to_image,
)

#: ImageNet statistics on the 0-1 scale, as transformers stores them (``image_mean``/``image_std``).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSOR_FILE = "preprocessor_config.json"

Array = TypeVar("Array", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class TopDownMeta:
    """Where each crop came from: ``centers``/``scales`` (N, 2) in image pixels (the aspect-fixed box
    the crop shows) and ``image_index`` (N,) into the images given to :meth:`TopDownProcessor.preprocess`."""

    centers: np.ndarray
    scales: np.ndarray
    image_index: np.ndarray

    def __len__(self) -> int:
        return len(self.centers)


#: :meth:`TopDownProcessor.aspect_advice` warns when swapping the input's height and width would show the
#: people at least this much larger.
SWAP_GAIN = 1.25


class TopDownProcessor(BaseModel):
    """Pre- and post-processing of a top-down keypoint model (sizes are (height, width))."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    input_size: tuple[int, int] = Field((256, 192), description="model input (height, width)")
    heatmap_size: tuple[int, int] = Field((64, 48), description="model output (height, width)")
    padding: float = Field(1.25, gt=0, description="person box enlargement before the crop")
    image_mean: tuple[float, float, float] = Field(IMAGENET_MEAN, description="per channel, 0-1 scale")
    image_std: tuple[float, float, float] = Field(IMAGENET_STD, description="per channel, 0-1 scale")
    sigma: float = Field(2.0, gt=0, description="Gaussian of the heatmap targets, heatmap pixels")
    blur_kernel_size: int | None = Field(None, description="DARK modulation kernel (default: from sigma)")
    decode: DecodeMode = Field(DEFAULT_DECODE, description="'posekit' or 'reference' (mmpose's DARK-UDP)")
    flip_test: bool = Field(True, description="average with the mirrored crop by default")
    keypoint_threshold: float = Field(0.2, ge=0, le=1, description="rescoring: mean of scores above this")
    flip_index: tuple[int, ...] | None = Field(None, description="left/right channel order (from the schema)")

    @model_validator(mode="after")
    def _check(self) -> TopDownProcessor:
        if min(self.input_size) < 2 or min(self.heatmap_size) < 3:
            raise ValueError(f"input size {self.input_size} / heatmap size {self.heatmap_size} are too small")
        if self.blur_kernel_size is not None and (
            self.blur_kernel_size < 1 or self.blur_kernel_size % 2 == 0
        ):
            raise ValueError(f"blur_kernel_size must be a positive odd number, got {self.blur_kernel_size}")
        return self

    @property
    def codec(self) -> UDPHeatmapCodec:
        """The heatmap codec of these settings (cheap to build: a few numbers)."""
        return UDPHeatmapCodec(
            self.input_size, self.heatmap_size, self.sigma, self.blur_kernel_size, self.decode
        )

    @property
    def aspect_ratio(self) -> float:
        """Width / height of the model input."""
        return self.input_size[1] / self.input_size[0]

    def aspect_advice(self, boxes: np.ndarray) -> str | None:
        """A warning when the input's aspect contradicts the boxes' (xywh, (N, 4)): when the input with height
        and width swapped would show the median box at least :data:`SWAP_GAIN` times larger (``192x256``,
        landscape, for upright people); None when it fits."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        boxes = boxes[(boxes[:, 2] > 0) & (boxes[:, 3] > 0)]
        if not len(boxes):
            return None
        width, height = np.median(boxes[:, 2]), np.median(boxes[:, 3])
        h, w = self.input_size
        gain = min(h / width, w / height) / min(w / width, h / height)  # pixels per box pixel, swapped / now
        if gain < SWAP_GAIN:
            return None
        shape = "landscape" if w > h else "portrait"
        return (
            f"the model input {h}x{w} (height x width) is {shape} but the median box is {width:.0f}x"
            f"{height:.0f} px (width x height): the crops are mostly padding and the people {gain:.1f}x "
            f"smaller than with --input-size {w}x{h}, which fits these boxes"
        )

    # ------------------------------------------------------------------ geometry
    def box_center_scale(
        self, boxes: np.ndarray, image_sizes: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """COCO boxes (N, 4) xywh -> centres (N, 2) and padded sizes (N, 2) in pixels (aspect not fixed).

        ``image_sizes`` (N, 2) (height, width): clip the boxes to their images first, as mmpose's COCO
        loader does with ground-truth boxes (``x2 = clip(x + w, 0, width - 1)``, float32 corners).
        """
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        x1, y1 = boxes[:, :2].T
        x2, y2 = (boxes[:, :2] + boxes[:, 2:]).T
        if image_sizes is not None:
            heights, widths = np.asarray(image_sizes, np.float64).reshape(-1, 2).T
            corners = [np.clip(x1, 0, widths - 1), np.clip(y1, 0, heights - 1)]
            corners += [np.clip(x2, 0, widths - 1), np.clip(y2, 0, heights - 1)]
            x1, y1, x2, y2 = (c.astype(np.float32).astype(np.float64) for c in corners)
        centers = np.stack([x1 + x2, y1 + y2], axis=1) * 0.5
        return centers, np.stack([x2 - x1, y2 - y1], axis=1) * self.padding

    def input_scale(self, scale: np.ndarray) -> np.ndarray:
        """The box size a crop shows: ``scale`` with its short side expanded to the input's aspect ratio."""
        return fix_aspect_ratio(scale, self.aspect_ratio)

    def warp_matrix(
        self, center: np.ndarray, scale: np.ndarray, rotation: float = 0.0, flip: bool = False
    ) -> np.ndarray:
        """(2, 3) image -> crop matrix of the box ``center``/``scale`` (aspect fixed here, as mmpose's
        TopdownAffine does), rotated by ``rotation`` degrees, mirrored in crop space when ``flip``."""
        matrix = udp_warp_matrix(center, self.input_scale(scale), rotation, self.input_size)
        return compose(matrix, hflip_matrix(self.input_size[1])) if flip else matrix

    def crop(self, image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """The RGB uint8 crop (H, W, 3) of ``image`` under ``matrix`` (bilinear, black outside the image)."""
        return warp_image(image, matrix, self.input_size)

    def normalize(self, crops: np.ndarray) -> np.ndarray:
        """RGB uint8 crops (..., H, W, 3) -> float32 (..., 3, H, W), ``(x / 255 - mean) / std``."""
        crops = np.asarray(crops)
        gain = (1.0 / (255.0 * np.asarray(self.image_std))).astype(np.float32)
        offset = (np.asarray(self.image_mean) / np.asarray(self.image_std)).astype(np.float32)
        out = np.empty((*crops.shape[:-3], 3, *crops.shape[-3:-1]), np.float32)
        for c in range(3):  # planar: ~10x faster than a float HWC detour
            np.multiply(crops[..., c], gain[c], out=out[..., c, :, :], casting="unsafe")
            out[..., c, :, :] -= offset[c]
        return out

    def to_images(self, pixel_values: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`normalize`: float (..., 3, H, W) -> RGB uint8 (..., H, W, 3), for drawing."""
        channels_last = np.moveaxis(np.asarray(pixel_values, np.float32), -3, -1)
        pixels = (channels_last * np.asarray(self.image_std) + np.asarray(self.image_mean)) * 255.0
        return np.clip(pixels.round(), 0, 255).astype(np.uint8)

    # ------------------------------------------------------------------ the two halves
    def preprocess(
        self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray], clip: bool = False
    ) -> tuple[np.ndarray, TopDownMeta]:
        """RGB images and their person boxes (one (n_i, 4) xywh array per image) -> ``pixel_values``
        (sum n_i, 3, H, W) float32 and the :class:`TopDownMeta` that maps predictions back.

        ``clip``: the boxes are ground-truth boxes, clipped to their image as the reference does.
        """
        counts = [len(np.asarray(b).reshape(-1, 4)) for b in boxes]
        image_index = np.repeat(np.arange(len(images)), counts)
        flat = np.concatenate([np.asarray(b, np.float64).reshape(-1, 4) for b in boxes] or [np.zeros((0, 4))])
        sizes = np.array([images[i].shape[:2] for i in image_index]).reshape(-1, 2) if clip else None
        centers, scales = self.box_center_scale(flat, sizes)
        crops = np.empty((len(flat), *self.input_size, 3), np.uint8)
        for n, i in enumerate(image_index):
            crops[n] = self.crop(images[i], self.warp_matrix(centers[n], scales[n]))
        return self.normalize(crops), TopDownMeta(centers, self.input_scale(scales), image_index)

    def forward(
        self, model: Callable[[Array], Array], pixel_values: Array, flip_test: bool | None = None
    ) -> tuple[Array, Array | None]:
        """Run ``model`` (``(N, 3, H, W) -> (N, K, h, w)``) on the crops and, with the flip test
        (default: :attr:`flip_test`), on their mirror images in the same call; returns both heatmaps."""
        if not (self.flip_test if flip_test is None else flip_test):
            return model(pixel_values), None
        if isinstance(pixel_values, torch.Tensor):
            both = model(torch.cat([pixel_values, pixel_values.flip(-1)]))
        else:
            both = model(np.ascontiguousarray(np.concatenate([pixel_values, pixel_values[..., ::-1]])))
        n = len(pixel_values)
        return both[:n], both[n:]

    def postprocess(
        self,
        heatmaps: np.ndarray | torch.Tensor,
        meta: TopDownMeta,
        flipped: np.ndarray | torch.Tensor | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, K, h, w) (+ those of the mirrored crops) -> image keypoints (N, K, 2) float64 and
        scores (N, K) float64."""
        heatmaps = _numpy(heatmaps)
        if flipped is not None:
            heatmaps = 0.5 * (heatmaps + self.mirror_back(flipped))
        points, scores = self.codec.decode(heatmaps)
        keypoints = input_to_image(points, meta.centers, meta.scales, self.input_size)
        return keypoints, scores.astype(np.float64)

    def looks(
        self, heatmaps: np.ndarray | torch.Tensor, flipped: np.ndarray | torch.Tensor, meta: TopDownMeta
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """The flip test's two looks decoded each on its own: (keypoints, scores) of the crops and of their
        mirror images (mapped back), as :meth:`postprocess` gives them."""
        return self.postprocess(heatmaps, meta), self.postprocess(self.mirror_back(flipped), meta)

    def flip_gap(
        self, heatmaps: np.ndarray | torch.Tensor, flipped: np.ndarray | torch.Tensor, meta: TopDownMeta
    ) -> np.ndarray:
        """Half the distance (image pixels, (N, K)) between the keypoints of the flip test's two
        :meth:`looks`: :mod:`posekit.analysis` scales it into the keypoints' uncertainty, the source
        measured to keep its intervals calibrated (``benchmarks/analysis.py --sources``)."""
        (own, _), (mirrored, _) = self.looks(heatmaps, flipped, meta)
        return np.linalg.norm(own - mirrored, axis=-1) / 2

    def mirror_back(self, flipped: np.ndarray | torch.Tensor) -> np.ndarray:
        """Heatmaps of mirrored crops (N, K, h, w) -> those of the crops themselves: mirrored back and
        left/right channels exchanged (unshifted: UDP heatmap pixels mirror onto pixels). Decoding them
        alone gives the mirrored view's keypoints, in the original keypoint order."""
        if self.flip_index is None:
            raise ModelError("the flip test needs the processor's flip_index (the schema's left/right pairs)")
        return np.ascontiguousarray(flip_heatmaps(_numpy(flipped), self.flip_index))

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Targets of one person: keypoints (K, 2) in crop pixels -> heatmaps (K, h, w), weights (K,)."""
        return self.codec.encode(keypoints, visible)

    def rescore(self, keypoint_scores: np.ndarray, box_scores: np.ndarray) -> np.ndarray:
        """Instance score (N,): box score x mean of the keypoint scores above :attr:`keypoint_threshold`
        (0 when none is), the COCO top-down protocol."""
        keypoint_scores = np.asarray(keypoint_scores, np.float64)
        valid = keypoint_scores > self.keypoint_threshold
        count = valid.sum(axis=1)
        mean = np.where(count > 0, (keypoint_scores * valid).sum(axis=1) / np.maximum(count, 1), 0.0)
        return np.asarray(box_scores, np.float64) * mean

    # ------------------------------------------------------------------ saving
    def to_dict(self) -> dict[str, Any]:
        """Every setting but the flip index (which the model's schema carries), JSON-ready."""
        return self.model_dump(mode="json", exclude={"flip_index"})

    def posekit_fields(self) -> dict[str, Any]:
        """The settings transformers' processor has no field for (stored in ``posekit.json``)."""
        return {k: v for k, v in self.to_dict().items() if k not in _TRANSFORMERS_FIELDS}

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``preprocessor_config.json`` with transformers' ``VitPoseImageProcessor`` (PIL backend:
        the same file, without torchvision); it pads boxes by 1.25 whatever :attr:`padding` says."""
        from transformers import VitPoseImageProcessorPil

        h, w = self.input_size
        VitPoseImageProcessorPil(
            size={"height": h, "width": w}, image_mean=list(self.image_mean), image_std=list(self.image_std)
        ).save_pretrained(directory)
        return Path(directory) / PREPROCESSOR_FILE

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, posekit_fields: dict[str, Any] | None = None, **overrides: Any
    ) -> TopDownProcessor:
        """The processor of a model directory: ``preprocessor_config.json`` (when present) plus
        ``posekit_fields`` (from ``posekit.json``), then ``overrides`` (e.g. ``flip_index``)."""
        path = Path(directory) / PREPROCESSOR_FILE
        fields: dict[str, Any] = {}
        if path.is_file():
            config = load_json(path, "image processor settings", ModelError)
            try:
                size = config.get("size") or {}
                if "height" in size and "width" in size:
                    fields["input_size"] = (int(size["height"]), int(size["width"]))
                for key in _TRANSFORMERS_FIELDS - {"input_size"}:
                    if key in config:  # transformers also accepts one number for the three channels
                        values = np.broadcast_to(np.asarray(config[key], np.float64), (3,))
                        fields[key] = tuple(float(v) for v in values)
            except (ValueError, TypeError, AttributeError) as error:
                raise ModelError(
                    f"{path}: unreadable image processor settings ({error}); re-save the model"
                ) from None
        return cls.from_dict({**fields, **(posekit_fields or {}), **overrides}, where=str(path))

    @classmethod
    def from_dict(cls, fields: dict[str, Any], where: str = "processor settings") -> TopDownProcessor:
        """Build from saved settings; one :class:`ModelError` naming the bad field."""
        try:
            return cls(**fields)
        except (ValidationError, TypeError) as error:
            raise ModelError(f"{where}: invalid top-down processor settings ({error})") from None

    def updated(self, **fields: Any) -> TopDownProcessor:
        """A copy with some settings changed (validated)."""
        return TopDownProcessor(**{**self.model_dump(), **fields})

    def with_model(
        self, input_size: tuple[int, int], heatmap_size: tuple[int, int], flip_index: Sequence[int] | None
    ) -> TopDownProcessor:
        """A copy for a network of these sizes and this keypoint set (the other settings kept)."""
        return self.updated(
            input_size=tuple(input_size),
            heatmap_size=tuple(heatmap_size),
            flip_index=None if flip_index is None else tuple(int(i) for i in flip_index),
        )


#: Settings that ``preprocessor_config.json`` holds (under transformers' names, ``size`` for input_size).
_TRANSFORMERS_FIELDS = {"input_size", "image_mean", "image_std"}


def _numpy(heatmaps: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(heatmaps, torch.Tensor):
        return heatmaps.detach().float().cpu().numpy()
    return np.asarray(heatmaps, np.float32)
