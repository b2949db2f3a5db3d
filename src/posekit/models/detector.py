"""Person detector for top-down inference: a transformers object detector (RT-DETR by default).

Any ``AutoModelForObjectDetection`` checkpoint whose labels include ``person`` works (RT-DETR,
RT-DETRv2, D-FINE, DETR, ...); only person boxes above the score threshold are returned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from posekit.device import resolve_device
from posekit.errors import ModelError, check_number

#: RT-DETR R50-vd, COCO + Objects365 pre-training (53.1 COCO box AP), the detector the transformers
#: VitPose documentation pairs with ViTPose. Lighter: ``PekingU/rtdetr_r18vd_coco_o365``.
DEFAULT_DETECTOR = "PekingU/rtdetr_r50vd_coco_o365"


class PersonDetector:
    """Batched person detection: ``detect(images) -> [(boxes_xywh (N, 4), scores (N,))]`` per image."""

    def __init__(
        self,
        model: str | Path = DEFAULT_DETECTOR,
        threshold: float = 0.5,
        device: str | torch.device = "cpu",
        batch_size: int = 4,
    ) -> None:
        from transformers import AutoImageProcessor, AutoModelForObjectDetection

        self.name = str(model)
        self.threshold = check_number("--det-conf", threshold, 0, 1)
        self.batch_size, self.device = batch_size, resolve_device(device)  # fails before the model loads
        try:
            source = _local_copy(model)
            # The PIL backend needs no torchvision (not installable beside the CPU torch wheel).
            self.processor = AutoImageProcessor.from_pretrained(source, backend="pil")
            self.model = AutoModelForObjectDetection.from_pretrained(source).to(self.device).eval()
        except (OSError, ValueError, RecursionError) as error:  # (transformers reads the JSON files here)
            raise ModelError(
                f"cannot load the person detector {self.name!r} ({str(error).splitlines()[0]}). Pass "
                "--detector with a local directory with a transformers object-detection model (config.json, "
                "preprocessor_config.json, weights), connect to the Hugging Face hub once to cache "
                f"{DEFAULT_DETECTOR}, or skip detection with --boxes FILE (COCO detections) or --boxes full"
            ) from None
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        if "person" not in labels:
            raise ModelError(
                f"detector {self.name!r} has no 'person' class (labels: {sorted(labels)[:10]} ...); "
                "use a COCO-trained detector such as " + DEFAULT_DETECTOR
            )
        self.person_label = labels["person"]

    @torch.inference_mode()
    def detect(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Person boxes (xywh, image pixels) and scores for each RGB uint8 image, best first."""
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            inputs = self.processor(images=chunk, return_tensors="pt").to(self.device)
            outputs = self.model(**inputs)
            sizes = [image.shape[:2] for image in chunk]
            found_all = self.processor.post_process_object_detection(
                outputs, threshold=self.threshold, target_sizes=sizes
            )
            for (height, width), found in zip(sizes, found_all, strict=True):
                keep = found["labels"] == self.person_label
                xyxy = found["boxes"][keep].float().cpu().numpy().astype(np.float64)
                scores = found["scores"][keep].float().cpu().numpy().astype(np.float64)
                order = np.argsort(-scores, kind="stable")
                xyxy = np.clip(xyxy[order], 0, [width, height, width, height])
                xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
                out.append((xywh, scores[order]))
        return out


def _local_copy(model: str | Path) -> str:
    """A local directory as is; a hub id through ``snapshot_download`` (the cache, else one download), which
    fails within a second offline where ``from_pretrained`` retries an unreachable hub for ~30 s."""
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    from huggingface_hub import snapshot_download

    return snapshot_download(str(model), allow_patterns=["*.json", "*.safetensors"])


def save_random_detector(directory: str | Path, size: str = "tiny", image_size: int | None = None) -> Path:
    """Save a randomly initialised RT-DETR (``person`` is label 0) for offline tests and benchmarks: ``tiny``
    (~0.3 M weights, 2 labels, 64x64 input) or ``r18`` (RT-DETR-R18-sized, 80 labels:
    ResNet-18 basic blocks, 256-wide hybrid encoder, 3 decoder layers, 300 queries, 640x640 input).
    """
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrResNetConfig
    from transformers.models.rt_detr.image_processing_pil_rt_detr import RTDetrImageProcessorPil

    num_labels = 2 if size == "tiny" else 80
    labels = {0: "person", **{i: f"class{i}" for i in range(1, num_labels)}}
    common = dict(id2label=labels, label2id={v: k for k, v in labels.items()})
    if size == "tiny":
        backbone = RTDetrResNetConfig(
            embedding_size=8,
            hidden_sizes=[8, 16, 32, 64],
            depths=[1, 1, 1, 1],
            layer_type="basic",
            out_indices=[2, 3, 4],
        )
        config = RTDetrConfig(
            backbone_config=backbone, encoder_in_channels=[16, 32, 64], encoder_hidden_dim=32, d_model=32,
            encoder_ffn_dim=64, decoder_ffn_dim=64, encoder_attention_heads=2, decoder_attention_heads=2,
            decoder_layers=1, num_queries=30, num_denoising=0, decoder_in_channels=[32, 32, 32], **common,
        )  # fmt: skip
        image_size = image_size or 64
    elif size == "r18":
        backbone = RTDetrResNetConfig(
            hidden_sizes=[64, 128, 256, 512], depths=[2, 2, 2, 2], layer_type="basic", out_indices=[2, 3, 4]
        )
        config = RTDetrConfig(
            backbone_config=backbone, encoder_in_channels=[128, 256, 512], hidden_expansion=0.5,
            decoder_layers=3, **common,
        )  # fmt: skip
        image_size = image_size or 640
    else:
        raise ValueError(f"size must be 'tiny' or 'r18', got {size!r}")
    directory = Path(directory)
    RTDetrForObjectDetection(config).save_pretrained(directory)
    RTDetrImageProcessorPil(size={"height": image_size, "width": image_size}).save_pretrained(directory)
    return directory
