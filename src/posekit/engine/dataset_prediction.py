"""Prediction over a data set: every ground-truth person (or every detection box) of a split through the
model and its processor, keypoints in image pixels, and the COCO results they make (rescoring, OKS-NMS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from rich.progress import track
from torch.utils.data import DataLoader, Subset

from posekit.datasets.records import KeypointAnnotations
from posekit.datasets.results_file import to_coco_results
from posekit.device import loader_workers, resolve_device
from posekit.distributed import Shard
from posekit.metrics.nms import NmsMode, nms_per_image
from posekit.topdown.processor import TopDownMeta
from posekit.topdown.training_dataset import TopDownDataset, collate


@dataclass
class DatasetPredictions:
    """One row per person box (ground-truth person or detection), keypoints in image pixels."""

    image_ids: np.ndarray  # (N,)
    annotation_ids: np.ndarray  # (N,) the ground-truth person of the box, -1 for detections
    boxes: np.ndarray  # (N, 4) xywh
    box_scores: np.ndarray  # (N,) 1 for ground-truth boxes
    areas: np.ndarray  # (N,) area of the padded box (the scale OKS-NMS uses, as mmpose)
    keypoints: np.ndarray  # (N, K, 2)
    keypoint_scores: np.ndarray  # (N, K)
    scores: np.ndarray  # (N,) instance scores (the processor's rescoring)
    skipped: dict[str, int] = field(default_factory=dict)  # boxes left out, by reason
    # with ``split_views``: the mirrored crops' keypoints, mapped back (``keypoints`` are then the crops')
    mirrored_keypoints: np.ndarray | None = None  # (N, K, 2)
    mirrored_keypoint_scores: np.ndarray | None = None  # (N, K)

    def to_results(
        self,
        sigmas: np.ndarray,
        category_id: int = 1,
        nms: NmsMode = "oks",
        nms_threshold: float | None = None,
    ) -> list[dict[str, Any]]:
        """COCO keypoint results after (soft) OKS-NMS per image (threshold 0.9 for ``"oks"``)."""
        keep = nms_per_image(
            self.image_ids, self.keypoints, self.scores, self.areas, sigmas, nms, nms_threshold
        )
        return to_coco_results(
            self.image_ids[keep],
            self.keypoints[keep],
            self.keypoint_scores[keep],
            self.scores[keep],
            category_id,
        )

    @classmethod
    def concatenate(cls, parts: list[DatasetPredictions]) -> DatasetPredictions:
        """The rows of ``parts`` in order (the blocks of several processes); ``skipped`` is the first's
        (every process counts the boxes of the whole split); fields that every part leaves None stay None."""
        arrays = {
            name: np.concatenate([getattr(p, name) for p in parts])
            for name in cls.__dataclass_fields__
            if name != "skipped" and getattr(parts[0], name) is not None
        }
        return cls(**arrays, skipped=parts[0].skipped)


def predict_dataset(
    model: torch.nn.Module,
    dataset: KeypointAnnotations,
    *,
    boxes: list[dict[str, Any]] | None = None,
    flip_test: bool | None = None,
    batch_size: int = 32,
    device: str | torch.device | None = "auto",
    workers: int | None = None,
    progress: bool = False,
    split_views: bool = False,
    shard: Shard | None = None,
) -> DatasetPredictions:
    """Predict every ground-truth person of ``dataset`` (or every box of ``boxes``, COCO detections).

    ``model`` is a :class:`~posekit.models.vitpose.PoseModel` (any keypoint count); its ``processor``
    makes the crops, runs the flip test (``flip_test``, default: the processor's policy), decodes and
    rescores. ``workers`` (data loading processes): :func:`~posekit.device.loader_workers` by default.
    With ``shard``, only that process's block of whole batches is predicted.

    ``split_views``: run the crops and their mirror images (as the flip test does) but decode each on its
    own instead of averaging: ``keypoints`` are the crops', ``mirrored_keypoints`` the mirror images'
    (mapped back to the image and the keypoint order), two independent looks at each person.
    """
    device = resolve_device(device)
    if workers is None:
        workers = loader_workers(device)
    processor = model.processor
    crops = TopDownDataset(dataset, processor, boxes=boxes, train=False)
    mine = crops if shard is None else Subset(crops, shard.block(len(crops), batch_size))
    loader = DataLoader(mine, batch_size=batch_size, num_workers=workers, collate_fn=collate)
    dtype = next((p.dtype for p in model.parameters()), torch.float32)  # an ONNX Runtime model has none
    model.to(device)
    was_training = model.training
    model.eval()
    columns: dict[str, list[np.ndarray]] = {
        k: [] for k in ("image_id", "annotation_id", "bbox", "box_score", "scale", "keypoints", "scores")
    }
    if split_views:
        columns |= {"mirrored_keypoints": [], "mirrored_scores": []}
    try:
        with torch.inference_mode():
            for batch in track(loader, "Predicting", total=len(loader), disable=not progress, transient=True):
                meta = TopDownMeta(
                    batch["center"].double().numpy(),
                    batch["scale"].double().numpy(),
                    np.arange(len(batch["center"])),
                )
                pixels = batch["pixel_values"].to(device, dtype)
                heatmaps, flipped = processor.forward(model, pixels, True if split_views else flip_test)
                if split_views:
                    (points, scores), (mirrored, mirrored_scores) = processor.looks(heatmaps, flipped, meta)
                    columns["mirrored_keypoints"].append(mirrored)
                    columns["mirrored_scores"].append(mirrored_scores)
                else:
                    points, scores = processor.postprocess(heatmaps, meta, flipped)
                columns["keypoints"].append(points)
                columns["scores"].append(scores)
                columns["scale"].append(meta.scales)
                for key in ("image_id", "annotation_id", "bbox", "box_score"):
                    columns[key].append(batch[key].numpy())
    finally:
        model.train(was_training)
    k = model.schema.num_keypoints
    empty = {"keypoints": (0, k, 2), "scores": (0, k), "bbox": (0, 4), "scale": (0, 2)}
    empty |= {"mirrored_keypoints": (0, k, 2), "mirrored_scores": (0, k)}
    out = {key: np.concatenate(v) if v else np.zeros(empty.get(key, (0,))) for key, v in columns.items()}
    box_scores = out["box_score"].astype(np.float64)
    return DatasetPredictions(
        image_ids=out["image_id"].astype(np.int64),
        annotation_ids=out["annotation_id"].astype(np.int64),
        boxes=out["bbox"].astype(np.float64),
        box_scores=box_scores,
        areas=out["scale"].prod(axis=1),
        keypoints=out["keypoints"],
        keypoint_scores=out["scores"],
        scores=processor.rescore(out["scores"], box_scores),
        skipped=dict(crops.skipped),
        mirrored_keypoints=out.get("mirrored_keypoints"),
        mirrored_keypoint_scores=out.get("mirrored_scores"),
    )
