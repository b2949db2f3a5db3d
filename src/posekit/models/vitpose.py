"""ViTPose on transformers' ``VitPoseForPoseEstimation``: the :class:`PoseModel` (network + keypoint
schema + :class:`~posekit.topdown.processor.TopDownProcessor` + training recipe) and :func:`load_model`, which
builds one from a preset, a local directory, a hub id or an official ``.pth``.

A saved directory is a plain transformers directory (``config.json`` whose ``id2label`` holds the keypoint
names, ``model.safetensors``, ``preprocessor_config.json`` written by transformers' ``VitPoseImageProcessor``)
plus ``posekit.json`` with the keypoint schema, the processor's other settings and the recipe.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from transformers import VitPoseConfig, VitPoseForPoseEstimation
from transformers.initialization import no_init_weights

from posekit.datasets.schema import KeypointSchema, get_preset
from posekit.errors import ConfigError, ModelError
from posekit.fileio import atomic_save, json_text
from posekit.models.droppath import set_drop_path
from posekit.models.presets import DEFAULT_INPUT_SIZE, PRESETS, recipe_for
from posekit.models.weights import METADATA_FILE, load_weights, read_checkpoint
from posekit.topdown.processor import TopDownProcessor

#: Version of ``posekit.json`` (1: preprocessing at the top level; 2: a ``processor`` section).
METADATA_VERSION = 2


class PoseModel(nn.Module):
    """A transformers ViTPose network (``.net``) with its keypoint schema and top-down processor.

    ``forward(pixel_values (N,3,H,W) normalised, dataset_index=None) -> heatmaps (N,K,h,w)``. ViTPose++
    models route their mixture-of-experts MLPs by ``dataset_index`` (default ``.dataset_index``, 0 = COCO).
    """

    def __init__(
        self,
        net: VitPoseForPoseEstimation,
        schema: KeypointSchema,
        processor: TopDownProcessor | None = None,
        dataset_index: int = 0,
        drop_path: float = 0.0,
        layer_decay: float = 0.75,
    ) -> None:
        super().__init__()
        if net.config.num_labels != schema.num_keypoints:
            raise ModelError(
                f"the network predicts {net.config.num_labels} keypoints but the schema "
                f"{schema.name!r} has {schema.num_keypoints}"
            )
        self.net = net
        self.schema = schema
        self.dataset_index = int(dataset_index)
        self.layer_decay = float(layer_decay)
        net.config.id2label = dict(enumerate(schema.names))
        net.config.label2id = {name: i for i, name in enumerate(schema.names)}
        self.drop_path = drop_path
        #: crops, normalisation, flip test, decoding and rescoring of this model (sized for its network)
        self.processor = (processor or TopDownProcessor()).with_model(
            self.input_size, self.heatmap_size, schema.flip_index
        )

    # ------------------------------------------------------------------ properties
    @property
    def config(self) -> VitPoseConfig:
        return self.net.config

    @property
    def input_size(self) -> tuple[int, int]:
        h, w = self.config.backbone_config.image_size
        return int(h), int(w)

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """Both heads upsample the patch grid 4x (two stride-2 deconvolutions, or bilinear x4)."""
        (h, w), (ph, pw) = self.input_size, self.config.backbone_config.patch_size
        factor = self.config.scale_factor if self.config.use_simple_decoder else 4
        return (h // ph) * factor, (w // pw) * factor

    @property
    def num_experts(self) -> int:
        return int(self.config.backbone_config.num_experts)

    @property
    def drop_path(self) -> float:
        return self._drop_path

    @drop_path.setter
    def drop_path(self, rate: float) -> None:
        """Stochastic depth rate of the last layer (linear from 0 over depth); active only in training."""
        if not 0.0 <= rate < 1.0:
            raise ConfigError(f"drop path must be in [0, 1), got {rate}")
        set_drop_path(self.net.backbone.encoder.layer, rate)
        self._drop_path = float(rate)

    # ------------------------------------------------------------------ compute
    def forward(
        self, pixel_values: torch.Tensor, dataset_index: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        if self.num_experts > 1:
            if dataset_index is None:
                dataset_index = self.dataset_index
            if isinstance(dataset_index, int):
                dataset_index = torch.full(
                    (pixel_values.shape[0],), dataset_index, device=pixel_values.device
                )
        else:
            dataset_index = None
        return self.net(pixel_values, dataset_index=dataset_index).heatmaps

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def gflops(self) -> float:
        """Floating-point operations (multiply and add counted apart) of one crop, in 1e9."""
        from torch.utils.flop_counter import FlopCounterMode

        param = next(self.parameters())
        x = torch.zeros(1, 3, *self.input_size, dtype=param.dtype, device=param.device)
        backbone, training = self.net.backbone, self.training
        attention = backbone.config._attn_implementation
        backbone.set_attn_implementation("eager")  # the counter has no formula for every fused SDPA kernel
        self.eval()  # batch norm statistics must not move
        try:
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                self(x)
        finally:
            backbone.set_attn_implementation(attention)
            self.train(training)
        return counter.get_total_flops() / 1e9

    # ------------------------------------------------------------------ saving
    def metadata(self) -> dict[str, Any]:
        """What ``posekit.json`` holds: the schema, the processor settings transformers has no field for,
        and the recipe (drop path, layer decay, ViTPose++ dataset index)."""
        return {
            "format": "posekit-model",
            "version": METADATA_VERSION,
            "schema": self.schema.to_dict(),
            "processor": self.processor.posekit_fields(),
            "dataset_index": self.dataset_index,
            "drop_path": self.drop_path,
            "layer_decay": self.layer_decay,
        }

    def save(self, directory: str | Path) -> Path:
        """Write the model atomically: transformers' files (config, weights, processor) + ``posekit.json``."""
        directory = Path(directory)

        def write(tmp: Path) -> None:
            self.net.save_pretrained(tmp)
            self.processor.save_pretrained(tmp)
            (tmp / METADATA_FILE).write_text(json_text(self.metadata(), indent=2) + "\n")

        atomic_save(directory, write)
        return directory


# ---------------------------------------------------------------------- loading
def weights_source(model: str | Path, pretrained: str = "auto") -> str | None:
    """Where :func:`load_model` takes the weights from: for a preset, its hub weights (``auto``; None when it
    has none), None (``none``: random) or the ``pretrained`` given; any other model is its own source."""
    preset = PRESETS.get(str(model))
    if preset is None:
        return str(model)
    return {"auto": preset.hub_id, "none": None}.get(pretrained, pretrained)


def load_model(
    model: str | Path,
    pretrained: str = "auto",
    schema: KeypointSchema | None = None,
    num_keypoints: int | None = None,
    input_size: tuple[int, int] | None = None,
    drop_path: float | None = None,
    attn_implementation: str | None = None,
    head: Literal["classic", "simple"] | None = None,
) -> PoseModel:
    """Build a :class:`PoseModel` from a preset name, a local directory, a hub id or an official ``.pth``.

    ``pretrained`` (presets only): ``auto`` (the preset's hub weights), ``none`` (random), a path (posekit
    or transformers directory, official ``.pth``) or a hub id. The keypoint schema comes from ``schema``,
    else ``num_keypoints``, else the checkpoint (a plain transformers 17-keypoint model is COCO-17). When the
    checkpoint predicts other keypoints, the final layer is re-initialised, keeping the channels whose
    names match. ``input_size`` (h, w) other than the checkpoint's resizes the position embeddings.
    ``drop_path`` defaults to the saved or preset recipe; ``attn_implementation``: ``sdpa`` (default) or
    ``eager``. ``head`` other than the checkpoint's or preset's builds that heatmap head (from random
    weights when the checkpoint has the other one).
    """
    name = str(model)
    preset = PRESETS.get(name)
    if preset is None and pretrained not in ("auto", "none"):
        raise ConfigError(
            f"--pretrained {pretrained!r} applies to preset names only, but --model is {name!r}; "
            f"pass the weights as --model, or pick a preset: {', '.join(PRESETS)}"
        )
    if preset is not None:
        source = weights_source(name, pretrained)
        checkpoint = read_checkpoint(source, input_size) if source else None
        trained_size = (
            tuple(checkpoint.config.backbone_config.image_size) if checkpoint else DEFAULT_INPUT_SIZE
        )
        base_config = preset.config(1, input_size or trained_size)
    else:
        checkpoint = read_checkpoint(name, input_size)
        base_config = copy.deepcopy(checkpoint.config)

    target_schema = _target_schema(schema, num_keypoints, checkpoint.schema if checkpoint else None)
    config = _with_task(base_config, target_schema, input_size)
    if head is not None:
        config.use_simple_decoder = head == "simple"
    use_weights = checkpoint is not None and pretrained != "none"
    if use_weights:  # skip the random init the checkpoint overwrites; only the head may keep fresh values
        with no_init_weights():
            net = VitPoseForPoseEstimation(config)
        net.head.apply(net._init_weights)
    else:
        net = VitPoseForPoseEstimation(config)
    try:  # the backbone holds the attention (the top-level class declares no SDPA support of its own)
        net.backbone.set_attn_implementation(attn_implementation or "sdpa")
    except (ValueError, ImportError) as e:
        raise ConfigError(
            f"attention implementation {attn_implementation!r} is not available here: {e}"
        ) from e
    if use_weights:
        load_weights(net, checkpoint, target_schema)

    meta = checkpoint.metadata if checkpoint else {}
    recipe = preset or recipe_for(config.backbone_config.hidden_size)
    model = PoseModel(
        net,
        target_schema,
        processor=checkpoint.processor if checkpoint else None,
        dataset_index=meta.get("dataset_index", 0),
        drop_path=drop_path if drop_path is not None else meta.get("drop_path", recipe.drop_path),
        layer_decay=meta.get("layer_decay", recipe.layer_decay),
    )
    return model.eval()


def _target_schema(
    schema: KeypointSchema | None, num_keypoints: int | None, checkpoint_schema: KeypointSchema | None
) -> KeypointSchema:
    if schema is not None:
        if num_keypoints is not None and num_keypoints != schema.num_keypoints:
            raise ConfigError(
                f"--num-keypoints {num_keypoints} contradicts the schema {schema.name!r} "
                f"({schema.num_keypoints} keypoints); drop one of them"
            )
        return schema
    if num_keypoints is None:
        return checkpoint_schema or get_preset("coco17")
    if num_keypoints < 1:
        raise ConfigError(f"--num-keypoints must be >= 1, got {num_keypoints}")
    if checkpoint_schema is not None and checkpoint_schema.num_keypoints == num_keypoints:
        return checkpoint_schema
    if num_keypoints == 17:
        return get_preset("coco17")
    return KeypointSchema.from_names([f"kp{i}" for i in range(num_keypoints)])


def _with_task(
    config: VitPoseConfig, schema: KeypointSchema, input_size: tuple[int, int] | None
) -> VitPoseConfig:
    """A copy of ``config`` predicting ``schema``'s keypoints at ``input_size``."""
    config = copy.deepcopy(config)
    config.id2label = dict(enumerate(schema.names))
    config.label2id = {n: i for i, n in enumerate(schema.names)}
    backbone = config.backbone_config
    if input_size is not None:
        h, w = (int(v) for v in input_size)
        ph, pw = backbone.patch_size
        if h <= 0 or w <= 0 or h % ph or w % pw:
            raise ConfigError(
                f"input size {h}x{w} (HxW) must be multiples of the patch size {ph}x{pw}, e.g. 256x192"
            )
        backbone.image_size = (h, w)
    backbone.out_indices = [backbone.num_hidden_layers]
    return config
