"""Person detectors for top-down inference: transformers object detectors, a fast one for video and an
accurate one for still images.

Any ``AutoModelForObjectDetection`` checkpoint whose labels include ``person`` works (D-FINE,
RT-DETR, RT-DETRv2, DETR, ...); only person boxes above the score threshold are returned.

``--detector fast`` is D-FINE-N (``ustc-community/dfine-nano-coco``: 42.8 COCO box AP, 4 M weights,
7 GFLOPs at 640x640, per the D-FINE model zoo). Chosen by measurement: with random weights of the
real configurations, on this project's 2-core CPU it ran 3.3x faster than RT-DETR-R18 and
RT-DETRv2-S (equal to each other), 1.9x faster than D-FINE-S and 8.6x faster than RT-DETR-R50
(medians of alternating runs, 640x640, one thread; see :func:`save_random_detector`). On video the
detector runs every few frames only (:mod:`posekit.inference.keyframes`), so its lower accuracy
costs less than its time would. ``--detector accurate`` is RT-DETR-R50 with Objects365
pre-training (``PekingU/rtdetr_r50vd_coco_o365``, 55.3 AP), the detector transformers' VitPose
documentation pairs with ViTPose.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posekit.device import resolve_device
from posekit.errors import ModelError, check_number
from posekit.models.official_checkpoint import refused_for_safety

DETECTORS = {"fast": "ustc-community/dfine-nano-coco", "accurate": "PekingU/rtdetr_r50vd_coco_o365"}


def detector_source(detector: str | Path | None, sequence: bool) -> str:
    """The hub id or directory of ``--detector``: ``fast``/``accurate`` by name, anything else as given;
    None: ``fast`` for videos and live sources, ``accurate`` for still images."""
    name = str(detector) if detector is not None else ("fast" if sequence else "accurate")
    return DETECTORS.get(name, name)


class PersonDetector:
    """Batched person detection: ``detect(images) -> [(boxes_xywh (N, 4), scores (N,))]`` per image."""

    def __init__(
        self,
        model: str | Path = DETECTORS["accurate"],
        threshold: float = 0.5,
        device: str | torch.device = "cpu",
        batch_size: int = 4,
    ) -> None:
        from transformers import AutoImageProcessor, AutoModelForObjectDetection

        self.name = str(model)
        self.threshold = check_number("--det-conf", threshold, 0, 1)
        self.batch_size, self.device = batch_size, resolve_device(device)  # fails before the model loads
        self.runtime = "torch"  # what runs the model (posekit.inference.detector_runtime may convert it)
        try:
            source = _local_copy(model)
            # The PIL backend needs no torchvision (not installable beside the CPU torch wheel).
            self.processor = AutoImageProcessor.from_pretrained(source, backend="pil")
            self.model = AutoModelForObjectDetection.from_pretrained(source).to(self.device).eval()
        except pickle.UnpicklingError as error:  # transformers loads .bin weights with weights_only=True
            if "global" in str(error).lower():  # a refused object, not damaged bytes
                raise ModelError(refused_for_safety(model, "person detector weights")) from None
            raise ModelError(
                f"cannot load the person detector {self.name!r}: its weights are damaged "
                f"({str(error).splitlines()[0]}); copy them again"
            ) from None
        except (OSError, ValueError, RecursionError) as error:  # (transformers reads the JSON files here)
            raise ModelError(
                f"cannot load the person detector {self.name!r} ({str(error).splitlines()[0]}). Pass "
                "--detector with a local directory with a transformers object-detection model (config.json, "
                "preprocessor_config.json, weights), connect to the Hugging Face hub once to cache it "
                f"({', '.join(f'{k}: {v}' for k, v in DETECTORS.items())}), or skip detection with "
                "--boxes FILE (COCO detections) or --boxes full"
            ) from None
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        if "person" not in labels:
            raise ModelError(
                f"detector {self.name!r} has no 'person' class (labels: {sorted(labels)[:10]} ...); "
                f"use a COCO-trained detector such as {DETECTORS['fast']} or {DETECTORS['accurate']}"
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


#: Architectures :func:`save_random_detector` builds: ``tiny`` RT-DETR and ``dfine-tiny`` (for tests),
#: and the real sizes of the candidates (for speed measurements; the transformers conversion scripts'
#: configurations): D-FINE-N/S (HGNetV2 backbones), RT-DETR-R18/R50, RT-DETRv2-S (R18).
RANDOM_DETECTORS = ("tiny", "dfine-tiny", "dfine-n", "dfine-s", "r18", "rtdetr-v2-r18", "r50")


def save_random_detector(directory: str | Path, size: str = "tiny", image_size: int | None = None) -> Path:
    """Save a randomly initialised detector of architecture ``size`` (one of :data:`RANDOM_DETECTORS`;
    ``person`` is label 0; tiny ones have 2 labels and a 64x64 input, real sizes 80 labels and 640x640)
    for offline tests and benchmarks: speed does not depend on the weights."""
    from transformers.models.rt_detr.image_processing_pil_rt_detr import RTDetrImageProcessorPil

    if size not in RANDOM_DETECTORS:
        raise ValueError(f"size must be one of {RANDOM_DETECTORS}, got {size!r}")
    tiny = "tiny" in size
    num_labels = 2 if tiny else 80
    labels = {0: "person", **{i: f"class{i}" for i in range(1, num_labels)}}
    model_class, config = _random_config(
        size, {"id2label": labels, "label2id": {v: k for k, v in labels.items()}}
    )
    directory = Path(directory)
    model_class(config).save_pretrained(directory)
    side = image_size or (64 if tiny else 640)
    # D-FINE and RT-DETR share the image processor (resize to the square input, 0-1 scale, no mean/std)
    RTDetrImageProcessorPil(size={"height": side, "width": side}).save_pretrained(directory)
    return directory


def _random_config(size: str, labels: dict[str, Any]) -> tuple[type, Any]:
    from transformers import (
        DFineConfig,
        DFineForObjectDetection,
        HGNetV2Config,
        RTDetrConfig,
        RTDetrForObjectDetection,
        RTDetrResNetConfig,
        RTDetrV2Config,
        RTDetrV2ForObjectDetection,
    )

    if size == "tiny":
        backbone = RTDetrResNetConfig(
            embedding_size=8, hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1], layer_type="basic",
            out_indices=[2, 3, 4],
        )  # fmt: skip
        return RTDetrForObjectDetection, RTDetrConfig(
            backbone_config=backbone, encoder_in_channels=[16, 32, 64], encoder_hidden_dim=32, d_model=32,
            encoder_ffn_dim=64, decoder_ffn_dim=64, encoder_attention_heads=2, decoder_attention_heads=2,
            decoder_layers=1, num_queries=30, num_denoising=0, decoder_in_channels=[32, 32, 32], **labels,
        )  # fmt: skip
    if size in ("r18", "rtdetr-v2-r18"):
        backbone = RTDetrResNetConfig(
            hidden_sizes=[64, 128, 256, 512], depths=[2, 2, 2, 2], layer_type="basic", out_indices=[2, 3, 4]
        )
        model_class, config_class = (
            (RTDetrForObjectDetection, RTDetrConfig)
            if size == "r18"
            else (RTDetrV2ForObjectDetection, RTDetrV2Config)
        )
        return model_class, config_class(
            backbone_config=backbone, encoder_in_channels=[128, 256, 512], hidden_expansion=0.5,
            decoder_layers=3, **labels,
        )  # fmt: skip
    if size == "r50":
        return RTDetrForObjectDetection, RTDetrConfig(**labels)
    # D-FINE: HGNetV2 backbones as in transformers' D-FINE conversion script
    hgnet = dict(
        hidden_sizes=[128, 256, 512, 1024], stem_channels=[3, 16, 16], stage_in_channels=[16, 64, 256, 512],
        stage_mid_channels=[16, 32, 64, 128], stage_out_channels=[64, 256, 512, 1024],
        stage_num_blocks=[1, 1, 2, 1], stage_downsample=[False, True, True, True],
        stage_light_block=[False, False, True, True], stage_kernel_size=[3, 3, 5, 5],
        stage_numb_of_layers=[3, 3, 3, 3], use_learnable_affine_block=True, embedding_size=32,
    )  # fmt: skip
    if size == "dfine-s":
        return DFineForObjectDetection, DFineConfig(
            backbone_config=HGNetV2Config(**hgnet, out_indices=[2, 3, 4]), decoder_layers=3,
            hidden_expansion=0.5, depth_mult=0.34, decoder_n_points=[3, 6, 3],
            encoder_in_channels=[256, 512, 1024], **labels,
        )  # fmt: skip
    nano = dict(
        num_feature_levels=2, encode_proj_layers=[1], feat_strides=[16, 32], depth_mult=0.5, decoder_layers=3,
        hidden_expansion=0.34, encoder_in_channels=[512, 1024], decoder_n_points=[6, 6],
    )  # fmt: skip
    if size == "dfine-n":
        return DFineForObjectDetection, DFineConfig(
            backbone_config=HGNetV2Config(**hgnet, out_indices=[3, 4]), encoder_ffn_dim=512, d_model=128,
            encoder_hidden_dim=128, decoder_ffn_dim=512, decoder_in_channels=[128, 128], **nano, **labels,
        )  # fmt: skip
    # dfine-tiny: the nano layout, narrower and with fewer queries
    small_hgnet = {**hgnet, "stem_channels": [3, 8, 8], "stage_in_channels": [8, 16, 32, 64],
                   "stage_mid_channels": [8, 8, 16, 16], "stage_out_channels": [16, 32, 64, 128],
                   "hidden_sizes": [16, 32, 64, 128], "stage_numb_of_layers": [1, 1, 1, 1],
                   "stage_num_blocks": [1, 1, 1, 1]}  # fmt: skip
    tiny = {**nano, "encoder_in_channels": [64, 128]}
    return DFineForObjectDetection, DFineConfig(
        backbone_config=HGNetV2Config(**small_hgnet, out_indices=[3, 4]), encoder_ffn_dim=32, d_model=32,
        encoder_hidden_dim=32, decoder_ffn_dim=32, decoder_in_channels=[32, 32], num_queries=16,
        num_denoising=0, encoder_attention_heads=2, decoder_attention_heads=2, **tiny, **labels,
    )  # fmt: skip
