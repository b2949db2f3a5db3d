"""Top-down samples: one person crop per item, as tensors, with heatmap targets and the metadata to map
predictions back to the image (image id, annotation id, centre, scale, box score, box). Every crop,
target and normalisation comes from the model's :class:`~posekit.topdown.processor.TopDownProcessor`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from posekit.datasets.image_reader import read_image
from posekit.datasets.records import KeypointAnnotations
from posekit.datasets.schema import unpaired_sides
from posekit.errors import ConfigError, DataError
from posekit.topdown.affine import warp_keypoints
from posekit.topdown.augment import AugmentConfig, AugmentParams, apply_colour_jitter, random_augment_params
from posekit.topdown.processor import TopDownProcessor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Person:
    image_id: int
    annotation_id: int  # -1 for detections
    bbox: np.ndarray  # (4,) xywh
    score: float
    keypoints: np.ndarray | None  # (K, 3) for ground truth


class TopDownDataset(Dataset):
    """Person crops of a :class:`KeypointAnnotations` for training or evaluation.

    - ``train=True``: one item per non-crowd person with at least one labelled keypoint and a
      positive box; random augmentation (``augment``, default :class:`AugmentConfig`) drawn from
      ``np.random.default_rng((seed, epoch, index))``.
    - ``train=False``: the same people, or with ``boxes`` (COCO detection results: dicts with
      ``image_id``, ``bbox`` xywh, ``score``; any ``category_id``) one item per box; no augmentation.

    Items hold ``pixel_values`` (3, H, W), ``heatmaps`` (K, h, w) and ``target_weights`` (K,) (not
    for detection boxes), ``keypoints`` (K, 3) in crop pixels (ground truth only) and the metadata
    ``image_id``, ``annotation_id`` (-1 for detections), ``center``, ``scale`` (pixels, model aspect
    ratio), ``box_score`` (1.0 for ground-truth boxes) and ``bbox``. ``skipped`` counts the people
    and boxes left out, by reason.
    """

    def __init__(
        self,
        dataset: KeypointAnnotations,
        processor: TopDownProcessor | None = None,
        augment: AugmentConfig | None = None,
        boxes: list[dict] | None = None,
        seed: int = 0,
        train: bool = True,
    ) -> None:
        if boxes is not None and train:
            raise ValueError("detection boxes have no targets to train on: pass train=False with boxes")
        self.dataset = dataset
        self.schema = dataset.schema
        self.processor = processor or TopDownProcessor(flip_index=tuple(dataset.schema.flip_index))
        self.train = train
        self.augment = (augment or AugmentConfig()) if train else None
        sides = unpaired_sides(self.schema) if self.augment is not None and self.augment.flip_prob > 0 else []
        if sides:
            raise ConfigError(
                f"the keypoints {', '.join(sides[:6])} name a side but have no flip pair, and training "
                "mirrors images (left and right labels would mix): give the data YAML's schema flip_pairs "
                "(0-based [left, right] indices), or turn mirroring off with augment: {flip_prob: 0}"
            )
        self.seed = seed
        self.epoch = 0
        self.skipped: dict[str, int] = {}
        self.people = self._from_boxes(boxes) if boxes is not None else self._from_annotations()
        advice = self.processor.aspect_advice(np.array([p.bbox for p in self.people]))
        if advice is not None:
            logger.warning("%s", advice)
        self._cache: tuple[Path, np.ndarray] | None = None  # last image read (items come sorted by image)

    # ------------------------------------------------------------------ building the item list
    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def _from_annotations(self) -> list[_Person]:
        people = []
        for ann in sorted(self.dataset.annotations, key=lambda a: (a.image_id, a.id)):
            if ann.iscrowd:
                self._skip("crowd")
            elif not np.any(ann.keypoints[:, 2] > 0):
                self._skip("no_keypoints")
            elif not (ann.bbox[2] > 0 and ann.bbox[3] > 0):
                self._skip("empty_box")
            else:
                people.append(_Person(ann.image_id, ann.id, np.asarray(ann.bbox, float), 1.0, ann.keypoints))
        return people

    def _from_boxes(self, boxes: list[dict]) -> list[_Person]:
        people = []
        for i, box in enumerate(boxes):
            try:
                image_id, bbox = int(box["image_id"]), np.asarray(box["bbox"], dtype=np.float64)
                score = float(box.get("score", 1.0))
                if bbox.shape != (4,) or not np.all(np.isfinite(bbox)):
                    raise ValueError
            except (KeyError, TypeError, ValueError) as error:
                raise DataError(
                    f"detection box #{i} ({box!r:.120}) is malformed: each box needs 'image_id', "
                    "'bbox' [x, y, w, h] (finite numbers) and optionally 'score' (COCO detection results)"
                ) from error
            if image_id not in self.dataset.images:
                self._skip("unknown_image")
            elif not (bbox[2] > 0 and bbox[3] > 0):
                self._skip("empty_box")
            else:
                people.append(_Person(image_id, -1, bbox, score, None))
        if boxes and not people and self.skipped.get("unknown_image"):
            raise DataError(
                f"none of the {len(boxes)} detection boxes refers to an image of {self.dataset.json_path}; "
                "pass the detections made for this data set"
            )
        people.sort(key=lambda p: p.image_id)
        return people

    # ------------------------------------------------------------------ items
    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation of this epoch (call before each epoch, in every worker's dataset)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.people)

    def _image(self, image_id: int) -> np.ndarray:
        info = self.dataset.images[image_id]
        if self._cache is None or self._cache[0] != info.path:
            self._cache = (info.path, read_image(info.path, (info.width, info.height)))
        return self._cache[1]

    def crop(self, index: int) -> dict[str, Any]:
        """Item ``index`` before tensor conversion: ``image`` (H, W, 3) uint8 crop, ``keypoints`` (K, 3)
        in crop pixels (or None), ``matrix`` (2, 3) image -> crop, ``flip`` and the metadata.

        Ground-truth boxes are clipped to the image (as the reference loader does), detection boxes not.
        """
        person = self.people[index]
        processor = self.processor
        info = self.dataset.images[person.image_id]
        image_size = (info.height, info.width) if person.annotation_id >= 0 else None
        center, scale = (v[0] for v in processor.box_center_scale(person.bbox, image_size))
        if self.augment is not None:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            params = random_augment_params(rng, self.augment, center, scale, person.keypoints, self.schema)
        else:
            params = AugmentParams(center=center, scale=scale)
        matrix = processor.warp_matrix(params.center, params.scale, params.rotation, params.flip)
        image = processor.crop(self._image(person.image_id), matrix)
        if params.colour is not None:
            image = apply_colour_jitter(image, params.colour)
        keypoints = None
        if person.keypoints is not None:
            flip_index = self.schema.flip_index if params.flip else None
            keypoints = warp_keypoints(person.keypoints, matrix, flip_index)
        return {
            "image": image,
            "keypoints": keypoints,
            "matrix": matrix,
            "flip": params.flip,
            "image_id": person.image_id,
            "annotation_id": person.annotation_id,
            "center": params.center,
            "scale": processor.input_scale(params.scale),
            "box_score": person.score,
            "bbox": person.bbox,
        }

    def __getitem__(self, index: int) -> dict[str, Any]:
        crop = self.crop(index)
        item = {"pixel_values": torch.from_numpy(self.processor.normalize(crop.pop("image")))}
        keypoints = crop.pop("keypoints")
        if keypoints is not None:
            heatmaps, weights = self.processor.encode(keypoints[:, :2], keypoints[:, 2])
            item.update(
                heatmaps=torch.from_numpy(heatmaps),
                target_weights=torch.from_numpy(weights),
                keypoints=torch.from_numpy(keypoints.astype(np.float32)),
            )
        del crop["matrix"], crop["flip"]
        item.update(crop)
        return item


def collate(batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack items into a batch: tensors and arrays stacked, ints -> int64, floats -> float64 (the box
    geometry that maps predictions back to the image keeps its full precision)."""
    out: dict[str, torch.Tensor] = {}
    for key in batch[0]:
        values = [item[key] for item in batch]
        if isinstance(values[0], torch.Tensor):
            out[key] = torch.stack(values)
        elif isinstance(values[0], (bool, int, np.integer)):
            out[key] = torch.tensor(values, dtype=torch.int64)
        else:
            out[key] = torch.from_numpy(np.asarray(values, dtype=np.float64))
    return out
