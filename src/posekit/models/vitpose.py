"""ViTPose models on transformers' ``VitPoseForPoseEstimation``: presets, weights from every source
(hub id, local directory, official ``.pth``), custom keypoint counts and self-describing saves.

A saved directory is a plain transformers directory (``config.json`` whose ``id2label`` holds the keypoint
names, ``model.safetensors``, a ``preprocessor_config.json`` for ``VitPoseImageProcessor``) plus
``posekit.json`` with the keypoint schema and the preprocessing (input size, mean/std, box padding).
"""

from __future__ import annotations

import copy
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn
from transformers import VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation
from transformers.initialization import no_init_weights

from posekit.data.dataset import IMAGENET_MEAN, IMAGENET_STD
from posekit.data.schema import KeypointSchema, get_preset
from posekit.errors import ConfigError, ModelError
from posekit.io import atomic_save
from posekit.models.convert import (
    config_from_state_dict,
    convert_official_state_dict,
    is_official_state_dict,
    read_official_checkpoint,
)
from posekit.models.droppath import set_drop_path

logger = logging.getLogger(__name__)

DEFAULT_INPUT_SIZE = (256, 192)
METADATA_FILE = "posekit.json"
_HUB_FILES = ["*.json", "*.safetensors"]


@dataclass(frozen=True)
class Preset:
    """Architecture and recipe of a named model. ``hub_id``: default pretrained weights (``None``: random)."""

    hidden_size: int
    depth: int
    heads: int
    drop_path: float
    layer_decay: float
    simple_head: bool = False
    num_experts: int = 1
    hub_id: str | None = None

    def config(self, num_keypoints: int, input_size: tuple[int, int]) -> VitPoseConfig:
        backbone = VitPoseBackboneConfig(
            image_size=input_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.depth,
            num_attention_heads=self.heads,
            num_experts=self.num_experts,
            part_features=self.hidden_size // 4 if self.num_experts > 1 else 0,
            layer_norm_eps=1e-6,  # the official ViTPose value (transformers' default is 1e-12)
            out_indices=[self.depth],
        )
        return VitPoseConfig(
            backbone_config=backbone, num_labels=num_keypoints, use_simple_decoder=self.simple_head
        )


def _presets() -> dict[str, Preset]:
    # size: hidden, depth, heads, drop path, layer decay (DESIGN.md recipe); ViTPose++ uses 6 experts with
    # hidden/4 part features (the usyd-community checkpoints). The hub holds COCO ViTPose-B weights in both
    # head types and ViTPose++ S/B/L/H; S/L/H presets start from the ViTPose++ weights, whose COCO expert
    # (dataset index 0) folds exactly into a plain MLP, and a simple head is initialised when asked for.
    sizes = {
        "t": (128, 6, 4, 0.0, 1.0, None),
        "s": (384, 12, 12, 0.1, 0.75, "small"),
        "b": (768, 12, 12, 0.3, 0.75, "base"),
        "l": (1024, 24, 16, 0.5, 0.8, "large"),
        "h": (1280, 32, 16, 0.55, 0.85, "huge"),
    }
    presets: dict[str, Preset] = {}
    for size, (hidden, depth, heads, rate, decay, word) in sizes.items():
        plus = f"usyd-community/vitpose-plus-{word}" if word else None
        arch = dict(hidden_size=hidden, depth=depth, heads=heads, drop_path=rate, layer_decay=decay)
        classic = "usyd-community/vitpose-base" if size == "b" else plus
        presets[f"vitpose-{size}"] = Preset(**arch, hub_id=classic)
        presets[f"vitpose-{size}-simple"] = Preset(
            **arch, simple_head=True, hub_id="usyd-community/vitpose-base-simple" if size == "b" else plus
        )
        presets[f"vitpose-plus-{size}"] = Preset(**arch, num_experts=6, hub_id=plus)
    return presets


PRESETS: dict[str, Preset] = _presets()


class PoseModel(nn.Module):
    """A transformers ViTPose network (``.net``) with its keypoint schema and preprocessing.

    ``forward(pixel_values (N,3,H,W) normalised, dataset_index=None) -> heatmaps (N,K,h,w)``. ViTPose++
    models route their mixture-of-experts MLPs by ``dataset_index`` (default ``.dataset_index``, 0 = COCO).
    """

    def __init__(
        self,
        net: VitPoseForPoseEstimation,
        schema: KeypointSchema,
        padding: float = 1.25,
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
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
        self.padding = float(padding)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.dataset_index = int(dataset_index)
        self.layer_decay = float(layer_decay)
        net.config.id2label = dict(enumerate(schema.names))
        net.config.label2id = {name: i for i, name in enumerate(schema.names)}
        self.drop_path = drop_path

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
        """What ``posekit.json`` holds: schema and preprocessing (everything beyond transformers' config)."""
        return {
            "format": "posekit-model",
            "version": 1,
            "schema": self.schema.to_dict(),
            "input_size": list(self.input_size),
            "heatmap_size": list(self.heatmap_size),
            "mean": list(self.mean),
            "std": list(self.std),
            "padding": self.padding,
            "dataset_index": self.dataset_index,
            "drop_path": self.drop_path,
            "layer_decay": self.layer_decay,
        }

    def save(self, directory: str | Path) -> Path:
        """Write the model atomically: plain transformers files + ``posekit.json``."""
        directory = Path(directory)

        def write(tmp: Path) -> None:
            self.net.save_pretrained(tmp)
            (tmp / METADATA_FILE).write_text(json.dumps(self.metadata(), indent=2) + "\n")
            (tmp / "preprocessor_config.json").write_text(
                json.dumps(self._processor_config(), indent=2) + "\n"
            )

        atomic_save(directory, write)
        return directory

    def _processor_config(self) -> dict[str, Any]:
        """A ``VitPoseImageProcessor`` config (0-1 scale statistics; it always pads boxes by 1.25)."""
        h, w = self.input_size
        return {
            "image_processor_type": "VitPoseImageProcessor",
            "do_affine_transform": True,
            "size": {"height": h, "width": w},
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "image_mean": [m / 255 for m in self.mean],
            "image_std": [s / 255 for s in self.std],
            "normalize_factor": 200.0,
        }


# ---------------------------------------------------------------------- loading
@dataclass
class _Checkpoint:
    config: VitPoseConfig
    state_dict: dict[str, torch.Tensor]
    schema: KeypointSchema
    metadata: dict[str, Any]
    origin: str


def load_model(
    model: str | Path,
    pretrained: str = "auto",
    schema: KeypointSchema | None = None,
    num_keypoints: int | None = None,
    input_size: tuple[int, int] | None = None,
    drop_path: float | None = None,
    attn_implementation: str | None = None,
) -> PoseModel:
    """Build a :class:`PoseModel` from a preset name, a local directory, a hub id or an official ``.pth``.

    ``pretrained`` (presets only): ``auto`` (the preset's hub weights), ``none`` (random), a path (posekit
    or transformers directory, official ``.pth``) or a hub id. The keypoint schema comes from ``schema``,
    else ``num_keypoints``, else the checkpoint (a plain transformers 17-keypoint model is COCO-17). When the
    checkpoint predicts other keypoints, the final layer is re-initialised, keeping the channels whose
    names match. ``input_size`` (h, w) other than the checkpoint's resizes the position embeddings.
    ``drop_path`` defaults to the saved or preset recipe; ``attn_implementation``: ``sdpa`` (default) or
    ``eager``.
    """
    name = str(model)
    preset = PRESETS.get(name)
    if preset is None and pretrained not in ("auto", "none"):
        raise ConfigError(
            f"--pretrained {pretrained!r} applies to preset names only, but --model is {name!r}; "
            f"pass the weights as --model, or pick a preset: {', '.join(PRESETS)}"
        )
    if preset is not None:
        source = {"auto": preset.hub_id, "none": None}.get(pretrained, pretrained)
        checkpoint = _read_checkpoint(source, input_size) if source else None
        trained_size = (
            tuple(checkpoint.config.backbone_config.image_size) if checkpoint else DEFAULT_INPUT_SIZE
        )
        base_config = preset.config(1, input_size or trained_size)
    else:
        checkpoint = _read_checkpoint(name, input_size)
        base_config = copy.deepcopy(checkpoint.config)

    target_schema = _target_schema(schema, num_keypoints, checkpoint.schema if checkpoint else None)
    config = _with_task(base_config, target_schema, input_size)
    load_weights = checkpoint is not None and pretrained != "none"
    if load_weights:  # skip the random init the checkpoint overwrites; only the head may keep fresh values
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
    if load_weights:
        _load_weights(net, checkpoint, target_schema)

    meta = checkpoint.metadata if checkpoint else {}
    recipe = preset or _recipe_for(config.backbone_config.hidden_size)
    model = PoseModel(
        net,
        target_schema,
        padding=meta.get("padding", 1.25),
        mean=tuple(meta.get("mean", IMAGENET_MEAN)),
        std=tuple(meta.get("std", IMAGENET_STD)),
        dataset_index=meta.get("dataset_index", 0),
        drop_path=drop_path if drop_path is not None else meta.get("drop_path", recipe.drop_path),
        layer_decay=meta.get("layer_decay", recipe.layer_decay),
    )
    return model.eval()


def _recipe_for(hidden_size: int) -> Preset:
    """The recipe (drop path, layer decay) of the preset size with this width, else ViTPose-B's."""
    for preset in PRESETS.values():
        if preset.hidden_size == hidden_size:
            return preset
    return PRESETS["vitpose-b"]


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


def _read_checkpoint(source: str | Path, input_size: tuple[int, int] | None) -> _Checkpoint:
    """Read weights and config from a local directory, an official ``.pth`` or a hub id."""
    path = Path(source).expanduser()
    if path.is_file():
        state = read_official_checkpoint(path)
        if is_official_state_dict(state):
            state = convert_official_state_dict(state)
        config = config_from_state_dict(state, input_size, {p.hidden_size: p.heads for p in PRESETS.values()})
        return _Checkpoint(config, state, _schema_from_config(config), {}, str(path))
    if path.is_dir():
        return _read_directory(path, str(path))
    if _looks_like_hub_id(str(source)):
        return _read_directory(_download(str(source)), str(source))
    raise ModelError(
        f"model {str(source)!r} is not a preset, an existing file or directory, or a hub id (owner/name). "
        f"Presets: {', '.join(PRESETS)}"
    )


def _looks_like_hub_id(source: str) -> bool:
    return bool(re.fullmatch(r"[\w.\-]+/[\w.\-]+", source)) and not source.startswith((".", "~"))


def _read_directory(directory: Path, origin: str) -> _Checkpoint:
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise ModelError(
            f"{directory}: no config.json; a model directory is one saved by posekit or transformers"
        )
    try:
        config = VitPoseConfig.from_pretrained(directory)
    except (OSError, ValueError, TypeError) as e:
        raise ModelError(f"{config_file}: not a ViTPose config ({e})") from e
    if getattr(config, "model_type", None) != "vitpose":
        raise ModelError(f"{config_file}: model_type is {config.model_type!r}, expected 'vitpose'")
    state = _read_weights(directory)
    metadata: dict[str, Any] = {}
    meta_file = directory / METADATA_FILE
    if meta_file.is_file():
        try:
            metadata = json.loads(meta_file.read_text())
            schema = KeypointSchema.from_dict(metadata["schema"])
        except (ValueError, KeyError, TypeError) as e:
            raise ModelError(
                f"{meta_file}: unreadable posekit metadata ({e}); delete it or re-save the model"
            ) from e
    else:
        schema = _schema_from_config(config)
    return _Checkpoint(config, state, schema, metadata, origin)


def _read_weights(directory: Path) -> dict[str, torch.Tensor]:
    single, index = directory / "model.safetensors", directory / "model.safetensors.index.json"
    if single.is_file():
        return load_file(single)
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return {k: v for shard in shards for k, v in load_file(directory / shard).items()}
    bin_file = directory / "pytorch_model.bin"
    if bin_file.is_file():
        return read_official_checkpoint(bin_file)
    raise ModelError(f"{directory}: no model.safetensors (or pytorch_model.bin) with the weights")


def _schema_from_config(config: VitPoseConfig) -> KeypointSchema:
    """COCO-17 for 17 keypoints, else the ``id2label`` names (``kp{i}`` when transformers made them up)."""
    k = config.num_labels
    if k == 17:
        return get_preset("coco17")
    names = [str(config.id2label.get(i, f"kp{i}")) for i in range(k)]
    if all(re.fullmatch(r"LABEL_\d+", n) for n in names):
        names = [f"kp{i}" for i in range(k)]
    return KeypointSchema.from_names(names)


def _download(repo_id: str) -> Path:
    """Hub snapshot (config + safetensors + posekit.json): the cache first, then one fast online attempt."""
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    try:
        return Path(
            huggingface_hub.snapshot_download(repo_id, allow_patterns=_HUB_FILES, local_files_only=True)
        )
    except OSError:
        pass  # not cached: go online below
    how = (
        f"Download it where there is internet (`hf download {repo_id} --local-dir DIR`) and pass DIR as "
        "--model / pretrained, or start from random weights with --pretrained none"
    )
    if constants.HF_HUB_OFFLINE:
        raise ModelError(f"{repo_id!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set. {how}.")
    try:  # one request without retries: huggingface_hub would otherwise retry an unreachable host for ~30 s
        huggingface_hub.get_hf_file_metadata(huggingface_hub.hf_hub_url(repo_id, "config.json"), timeout=10)
    except (RepositoryNotFoundError, GatedRepoError) as e:
        raise ModelError(
            f"{repo_id!r} is neither a local path nor a Hugging Face Hub model you can access ({e}). {how}."
        ) from e
    except HfHubHTTPError as e:
        raise ModelError(f"{repo_id!r}: the Hugging Face Hub answered with an error ({e}). {how}.") from e
    except Exception as e:  # noqa: BLE001 - any transport failure (DNS, proxy, TLS, timeout) means unreachable
        raise ModelError(
            f"cannot download {repo_id!r}: the Hugging Face Hub is unreachable ({e}). {how}."
        ) from e
    try:
        return Path(huggingface_hub.snapshot_download(repo_id, allow_patterns=_HUB_FILES))
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"downloading {repo_id!r} from the Hugging Face Hub failed ({e}). {how}.") from e


# ---------------------------------------------------------------------- adapting weights
def _load_weights(net: VitPoseForPoseEstimation, checkpoint: _Checkpoint, schema: KeypointSchema) -> None:
    """Load ``checkpoint`` into ``net``, adapting experts, input size, keypoints; fail naming mismatches."""
    source_config = checkpoint.config
    state = dict(checkpoint.state_dict)
    target = net.state_dict()
    _adapt_experts(state, source_config, net.config, checkpoint.metadata.get("dataset_index", 0))
    _adapt_position_embeddings(state, source_config, net.config)
    if source_config.use_simple_decoder != net.config.use_simple_decoder:
        kind = "simple" if net.config.use_simple_decoder else "classic"
        logger.warning(
            "%s has the other head type: the %s head starts from random weights", checkpoint.origin, kind
        )
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
        state.update({k: v for k, v in target.items() if k.startswith("head.")})
    else:
        _adapt_final_layer(state, target, checkpoint.schema, schema, checkpoint.origin)

    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in target.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        parts = [
            f"{label}: {_short(items)}"
            for label, items in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("shape (checkpoint vs model)", wrong),
            )
            if items
        ]
        raise ModelError(
            f"the weights in {checkpoint.origin} do not fit this model ({'; '.join(parts)}). "
            "Pick the preset of the same size, or pass the checkpoint itself as --model"
        )
    net.load_state_dict(state, strict=True)


def _adapt_experts(state: dict, source: VitPoseConfig, target: VitPoseConfig, dataset_index: int) -> None:
    """Fold ViTPose++ experts into a plain MLP (exact for ``dataset_index``), or split a plain MLP into
    identical experts (exact for every index): the MoE MLP concatenates ``fc2`` and the selected expert."""
    src_experts = source.backbone_config.num_experts
    tgt_experts = target.backbone_config.num_experts
    if src_experts == tgt_experts:
        return
    for i in range(source.backbone_config.num_hidden_layers):
        prefix = f"backbone.encoder.layer.{i}.mlp."
        if prefix + "fc2.weight" not in state:
            return  # the shape check reports the difference in depth
        if tgt_experts == 1:
            for kind in ("weight", "bias"):
                state[prefix + f"fc2.{kind}"] = torch.cat(
                    [state[prefix + f"fc2.{kind}"], state[prefix + f"experts.{dataset_index}.{kind}"]]
                )
                for e in range(src_experts):
                    state.pop(prefix + f"experts.{e}.{kind}", None)
        elif src_experts == 1:
            shared = target.backbone_config.hidden_size - target.backbone_config.part_features
            for kind in ("weight", "bias"):
                full = state.pop(prefix + f"fc2.{kind}")
                state[prefix + f"fc2.{kind}"] = full[:shared].clone()
                for e in range(tgt_experts):
                    state[prefix + f"experts.{e}.{kind}"] = full[shared:].clone()
    logger.info("converted %d expert(s) to %d (ViTPose++ MLP)", src_experts, tgt_experts)


def _adapt_position_embeddings(state: dict, source: VitPoseConfig, target: VitPoseConfig) -> None:
    """Resize the patch position embeddings bicubically (as ViTPose does) when the input size changes."""
    key = "backbone.embeddings.position_embeddings"
    src_b, tgt_b = source.backbone_config, target.backbone_config
    src_grid = [s // p for s, p in zip(src_b.image_size, src_b.patch_size, strict=True)]
    tgt_grid = [s // p for s, p in zip(tgt_b.image_size, tgt_b.patch_size, strict=True)]
    if key not in state or src_grid == tgt_grid or state[key].shape[-1] != tgt_b.hidden_size:
        return
    pos = state[key]
    cls_pos, patch_pos = pos[:, :1], pos[:, 1:]
    grid = patch_pos.reshape(1, *src_grid, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=tuple(tgt_grid), mode="bicubic", align_corners=False).to(
        pos.dtype
    )
    state[key] = torch.cat([cls_pos, grid.permute(0, 2, 3, 1).reshape(1, -1, pos.shape[-1])], dim=1)
    logger.info("resized position embeddings from a %dx%d to a %dx%d patch grid", *src_grid, *tgt_grid)


def _adapt_final_layer(
    state: dict, target: dict, source_schema: KeypointSchema, schema: KeypointSchema, origin: str
) -> None:
    """Keep, reorder or re-initialise the output channels of ``head.conv`` by keypoint name."""
    src_names = [_norm(n) for n in source_schema.names]
    tgt_names = [_norm(n) for n in schema.names]
    if src_names == tgt_names or "head.conv.weight" not in state:
        return
    if len(src_names) == len(tgt_names) and not set(src_names) & set(tgt_names):
        logger.info(
            "%s: keypoint names differ from the checkpoint's; its %d output channels are kept in order",
            origin,
            len(tgt_names),
        )
        return
    index = {n: i for i, n in enumerate(src_names)}
    matches = [(t, index[n]) for t, n in enumerate(tgt_names) if n in index]
    for kind in ("weight", "bias"):
        key = f"head.conv.{kind}"
        new = target[key].clone()
        for t, s in matches:
            new[t] = state[key][s]
        state[key] = new
    logger.warning(
        "%s predicts %d keypoints, the model %d: kept the backbone and head, re-initialised the final layer "
        "(%d channel(s) copied by keypoint name)",
        origin,
        len(src_names),
        len(tgt_names),
        len(matches),
    )


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _short(items: list[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f" ... (+{len(items) - limit} more)" if len(items) > limit else "")
