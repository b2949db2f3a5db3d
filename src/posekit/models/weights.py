"""Reading weights from every source (posekit or transformers directory, hub id, official ``.pth``) and
adapting them to the model being built: ViTPose++ experts, input size, keypoint set, head type."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers import VitPoseConfig, VitPoseForPoseEstimation

from posekit.datasets.json_file import load_json
from posekit.datasets.schema import KeypointSchema, get_preset
from posekit.errors import ConfigError, ModelError
from posekit.models.hub import download, looks_like_hub_id
from posekit.models.official_checkpoint import (
    config_from_state_dict,
    convert_official_state_dict,
    is_official_state_dict,
    read_official_checkpoint,
)
from posekit.models.presets import PRESETS, head_kind, suggest_preset
from posekit.topdown.processor import TopDownProcessor

logger = logging.getLogger(__name__)

#: posekit's own file in a model directory: the keypoint schema, the processor settings and the recipe.
METADATA_FILE = "posekit.json"


@dataclass
class Checkpoint:
    config: VitPoseConfig
    state_dict: dict[str, torch.Tensor]
    schema: KeypointSchema
    metadata: dict[str, Any]
    origin: str
    processor: TopDownProcessor | None = None  # from a model directory's processor files


def read_checkpoint(source: str | Path, input_size: tuple[int, int] | None) -> Checkpoint:
    """Read weights and config from a local directory, an official ``.pth`` or a hub id."""
    path = Path(source).expanduser()
    if path.is_file():
        state = read_official_checkpoint(path)
        if is_official_state_dict(state):
            state = convert_official_state_dict(state)
        config = config_from_state_dict(state, input_size, {p.hidden_size: p.heads for p in PRESETS.values()})
        return Checkpoint(config, state, _schema_from_config(config), {}, str(path))
    if path.is_dir():
        return _read_directory(path, str(path))
    if looks_like_hub_id(str(source)):
        return _read_directory(download(str(source)), str(source))
    raise ModelError(
        f"model {str(source)!r} is not a preset, an existing file or directory, or a hub id (owner/name). "
        f"Presets: {', '.join(PRESETS)}.{suggest_preset(str(source))}"
    )


def _read_directory(directory: Path, origin: str) -> Checkpoint:
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise ModelError(
            f"{directory}: no config.json; a model directory is one saved by posekit or transformers"
        )
    raw_config = load_json(config_file, "model config", ModelError)
    try:
        config = VitPoseConfig.from_dict(raw_config)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ModelError(f"{config_file}: not a ViTPose config ({e})") from e
    if getattr(config, "model_type", None) != "vitpose":
        raise ModelError(f"{config_file}: model_type is {config.model_type!r}, expected 'vitpose'")
    state = _read_weights(directory)
    meta_file = directory / METADATA_FILE
    metadata = _read_metadata(meta_file) if meta_file.is_file() else {}
    schema = KeypointSchema.from_dict(metadata["schema"]) if metadata else _schema_from_config(config)
    # posekit.json version 1 kept the box padding at its top level (mean/std were in both files)
    fields = metadata.get("processor", {"padding": metadata["padding"]} if "padding" in metadata else {})
    processor = TopDownProcessor.from_pretrained(directory, fields)
    return Checkpoint(config, state, schema, metadata, origin, processor)


def _read_metadata(path: Path) -> dict[str, Any]:
    """``posekit.json``, checked: a schema that builds, processor settings as an object, numeric recipe."""
    metadata = load_json(path, "posekit metadata", ModelError)
    try:
        if not isinstance(metadata, dict) or not isinstance(metadata.get("processor", {}), dict):
            raise TypeError("expected an object with 'schema' and 'processor' objects")
        KeypointSchema.from_dict(metadata["schema"])
        numbers = {
            k: metadata[k] for k in ("dataset_index", "drop_path", "layer_decay", "padding") if k in metadata
        }
        if not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in numbers.values()
        ):
            raise TypeError(f"expected non-negative numbers, got {numbers}")
    except (ValueError, KeyError, TypeError, ConfigError) as e:
        raise ModelError(
            f"{path}: unreadable posekit metadata ({e}); delete it or re-save the model"
        ) from None
    return metadata


def _read_weights(directory: Path) -> dict[str, torch.Tensor]:
    single, index = directory / "model.safetensors", directory / "model.safetensors.index.json"
    if single.is_file():
        return _read_safetensors(single)
    if index.is_file():
        weight_map = load_json(index, "weights index", ModelError)
        weight_map = weight_map.get("weight_map") if isinstance(weight_map, dict) else None
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise ModelError(f"{index}: no 'weight_map' of tensor names to file names; re-save the model")
        shards = sorted(set(weight_map.values()))
        return {k: v for shard in shards for k, v in _read_safetensors(directory / shard).items()}
    bin_file = directory / "pytorch_model.bin"
    if bin_file.is_file():
        return read_official_checkpoint(bin_file)
    raise ModelError(f"{directory}: no model.safetensors (or pytorch_model.bin) with the weights")


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; one :class:`ModelError` when it is missing, truncated or damaged."""
    try:
        return load_file(path)
    except SafetensorError as e:
        raise ModelError(
            f"{path}: damaged weights file, not readable as safetensors ({e}); it is probably truncated (an "
            "interrupted copy or download): copy or download the model again, or re-save it"
        ) from None
    except OSError as e:
        raise ModelError(
            f"{path}: cannot be read ({e.strerror or e}); check the file's permissions"
        ) from None


def _schema_from_config(config: VitPoseConfig) -> KeypointSchema:
    """COCO-17 for 17 keypoints, else the ``id2label`` names (``kp{i}`` when transformers made them up)."""
    k = config.num_labels
    if k == 17:
        return get_preset("coco17")
    names = [str(config.id2label.get(i, f"kp{i}")) for i in range(k)]
    if all(re.fullmatch(r"LABEL_\d+", n) for n in names):
        names = [f"kp{i}" for i in range(k)]
    return KeypointSchema.from_names(names)


def load_weights(net: VitPoseForPoseEstimation, checkpoint: Checkpoint, schema: KeypointSchema) -> None:
    """Load ``checkpoint`` into ``net``, adapting experts, input size, keypoints; fail naming mismatches."""
    source_config = checkpoint.config
    state = dict(checkpoint.state_dict)
    target = net.state_dict()
    _adapt_experts(state, source_config, net.config, checkpoint.metadata.get("dataset_index", 0))
    _adapt_position_embeddings(state, source_config, net.config)
    if source_config.use_simple_decoder != net.config.use_simple_decoder:
        logger.warning(
            "%s has the other head type: the %s head starts from random weights",
            checkpoint.origin,
            head_kind(net.config),
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
