"""Official ViTPose / ViTPose++ checkpoints (``.pth`` from ViTAE-Transformer/ViTPose, mmpose 0.x key names)
to transformers' ``VitPoseForPoseEstimation`` names and config.

Key facts (ViTPose ``vit.py`` / ``vit_moe.py`` and transformers' ``convert_vitpose_to_hf.py``): the fused
``attn.qkv`` projection is split into query/key/value; ``pos_embed`` keeps the extra class-token position,
which both implementations add to every patch, so it is copied as is; ViTPose++ experts map one to one;
the unused ``backbone.cls_token`` and ViTPose++'s ``associate_keypoint_heads`` (heads of the other
training data sets) are skipped. Every other key must be converted, or the load fails naming it.
"""

from __future__ import annotations

import codecs
import logging
import math
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from transformers import VitPoseBackboneConfig, VitPoseConfig

from posekit.errors import ModelError

logger = logging.getLogger(__name__)

_LAYER = r"backbone\.blocks\.(\d+)\."
_HF_LAYER = r"backbone.encoder.layer.\1."
#: (official key regex, transformers key template); matched against the whole key.
_RENAMES: list[tuple[str, str]] = [
    (r"backbone\.patch_embed\.proj\.(weight|bias)", r"backbone.embeddings.patch_embeddings.projection.\1"),
    (r"backbone\.pos_embed", "backbone.embeddings.position_embeddings"),
    (_LAYER + r"norm1\.(weight|bias)", _HF_LAYER + r"layernorm_before.\2"),
    (_LAYER + r"attn\.proj\.(weight|bias)", _HF_LAYER + r"attention.output.dense.\2"),
    (_LAYER + r"norm2\.(weight|bias)", _HF_LAYER + r"layernorm_after.\2"),
    (_LAYER + r"mlp\.(fc1|fc2)\.(weight|bias)", _HF_LAYER + r"mlp.\2.\3"),
    (_LAYER + r"mlp\.experts\.(\d+)\.(weight|bias)", _HF_LAYER + r"mlp.experts.\2.\3"),
    (r"backbone\.last_norm\.(weight|bias)", r"backbone.layernorm.\1"),
    (r"keypoint_head\.deconv_layers\.0\.weight", "head.deconv1.weight"),
    (r"keypoint_head\.deconv_layers\.1\.(\w+)", r"head.batchnorm1.\1"),
    (r"keypoint_head\.deconv_layers\.3\.weight", "head.deconv2.weight"),
    (r"keypoint_head\.deconv_layers\.4\.(\w+)", r"head.batchnorm2.\1"),
    (r"keypoint_head\.final_layer\.(weight|bias)", r"head.conv.\1"),
]
_QKV = re.compile(_LAYER + r"attn\.qkv\.(weight|bias)")
_SKIPPED = re.compile(r"backbone\.cls_token|associate_keypoint_heads?\..*")


def load_torch_file(path: str | Path, what: str = "checkpoint") -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; one :class:`ModelError` when the file is refused
    for safety (it holds Python objects that unpickling would run) or is damaged (truncated, not PyTorch)."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "global" not in str(e).lower():  # "Unsupported operand": damaged bytes, not a refused object
            raise _damaged(path, what, e) from None
        raise ModelError(refused_for_safety(path, what)) from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a folder, not a {what} file") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    except (RuntimeError, EOFError, KeyError, ValueError, AttributeError, IndexError) as e:
        # torch reports a truncated zip as RuntimeError, an empty file as EOFError, other bytes as KeyError
        raise _damaged(path, what, e) from None


def _damaged(path: Path, what: str, error: Exception) -> ModelError:
    """A file torch cannot read: named for what it is when its bytes say (text, an image...), else damaged."""
    kind = file_kind(path)
    if kind is not None:
        return ModelError(
            f"{path}: is {kind}, not a PyTorch {what}; pass the model's folder or its weights file "
            "(.pth, .safetensors)"
        )
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = next((line for line in lines if line.startswith("Unsupported")), lines[0] if lines else "")
    return ModelError(
        f"{path}: damaged {what}, not readable by PyTorch ({type(error).__name__}: {reason[:120]}); it is "
        "probably truncated (an interrupted copy or download): copy it again"
    )


def refused_for_safety(path: str | Path, what: str) -> str:
    """The message for weights that hold pickled Python objects, which posekit never unpickles."""
    return (
        f"{path}: {what} refused for safety: it holds Python objects besides tensors, and unpickling "
        "them could run any code, so posekit loads tensors only (torch.load weights_only=True). If you "
        "trust the file, re-save only its weights: "
        "torch.save(torch.load(path, weights_only=False)['state_dict'], 'weights.pth')"
    )


#: Leading bytes of files mistaken for weights, and what they are.
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive (unpack it first)"),
    (b"7z\xbc\xaf", "a 7-Zip archive (unpack it first)"),
    (b"%PDF", "a PDF document"),
    (b"version https://git-lfs", "a Git LFS pointer, not the file itself (run `git lfs pull`)"),
)


def file_kind(path: Path) -> str | None:
    """What a file that is not a PyTorch checkpoint is, from its first bytes: an image, an archive, a web
    page (a failed download), JSON or other text; None when it may be a damaged checkpoint (empty, zip,
    pickle, unknown bytes)."""
    with open(path, "rb") as f:
        head = f.read(512)
    kind = next((words for magic, words in _MAGIC if head.startswith(magic)), None)
    if kind is not None or not head:
        return kind
    try:  # incremental: a character cut at byte 512 is not an error
        text = codecs.getincrementaldecoder("utf-8")().decode(head).lstrip("\ufeff \t\r\n")
    except UnicodeDecodeError:
        return None
    if not all(c.isprintable() or c in "\t\r\n" for c in text):
        return None
    if text[:15].lower().startswith(("<!doctype html", "<html")):
        return "a web page (HTML), probably a failed download"
    if text.startswith(("{", "[")):
        return "a JSON file"
    first = text.splitlines()[0][:60] if text.splitlines() else ""
    return f"a text file (it starts with {first!r})"


def read_official_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Load the ``state_dict`` of an official checkpoint with ``torch.load(weights_only=True)``."""
    checkpoint = load_torch_file(path)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path}: expected a dict of tensors or a dict with a 'state_dict' entry")
    return {str(k).removeprefix("module."): v for k, v in state.items()}


def is_official_state_dict(state_dict: dict[str, torch.Tensor]) -> bool:
    return "backbone.pos_embed" in state_dict or any(k.startswith("backbone.blocks.") for k in state_dict)


def convert_official_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename official keys to transformers' keys; raise ``ModelError`` naming every key it cannot place."""
    converted: dict[str, torch.Tensor] = {}
    skipped, unknown = [], []
    for key, value in state_dict.items():
        if _SKIPPED.fullmatch(key):
            skipped.append(key)
            continue
        qkv = _QKV.fullmatch(key)
        if qkv:
            prefix = f"backbone.encoder.layer.{qkv.group(1)}.attention.attention"
            for name, part in zip(("query", "key", "value"), value.chunk(3, dim=0), strict=True):
                converted[f"{prefix}.{name}.{qkv.group(2)}"] = part.clone()
            continue
        for pattern, template in _RENAMES:
            match = re.fullmatch(pattern, key)
            if match:
                converted[match.expand(template)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ModelError(
            f"{len(unknown)} checkpoint tensor(s) have no place in a ViTPose model: {_names(unknown)}. "
            "posekit reads official ViTPose/ViTPose++ checkpoints (backbone.blocks.N..., keypoint_head...)"
        )
    if skipped:
        logger.info(
            "official checkpoint: skipped %d tensor(s) not used for inference: %s",
            len(skipped),
            _names(skipped),
        )
    return converted


def config_from_state_dict(
    state_dict: dict[str, torch.Tensor],
    image_size: tuple[int, int] | None = None,
    heads_by_width: dict[int, int] | None = None,
) -> VitPoseConfig:
    """Infer the architecture of converted (transformers-named) weights from their shapes.

    The input size is taken from ``image_size`` when its patch grid matches the position embedding,
    else a 4:3 (height:width) or square grid. Tensor shapes do not tell the number of attention heads:
    it comes from ``heads_by_width`` (width -> heads of the known models), else width / 64.
    """
    try:
        pos = state_dict["backbone.embeddings.position_embeddings"]
        proj = state_dict["backbone.embeddings.patch_embeddings.projection.weight"]
        final = state_dict["head.conv.weight"]
    except KeyError as e:
        raise ModelError(f"the checkpoint lacks the tensor {e.args[0]} that every ViTPose model has") from e
    hidden, patch = pos.shape[-1], tuple(proj.shape[-2:])
    depth = 1 + max(
        int(m.group(1)) for k in state_dict if (m := re.match(r"backbone\.encoder\.layer\.(\d+)\.", k))
    )
    experts = {
        int(m.group(1)) for k in state_dict if (m := re.search(r"\.layer\.0\.mlp\.experts\.(\d+)\.", k))
    }
    part = state_dict["backbone.encoder.layer.0.mlp.experts.0.weight"].shape[0] if experts else 0
    backbone = VitPoseBackboneConfig(
        image_size=_grid_size(pos.shape[1] - 1, patch, image_size),
        patch_size=patch,
        hidden_size=hidden,
        num_hidden_layers=depth,
        num_attention_heads=(heads_by_width or {}).get(hidden, max(1, hidden // 64)),
        mlp_ratio=state_dict["backbone.encoder.layer.0.mlp.fc1.weight"].shape[0] // hidden,
        num_experts=max(1, len(experts)),
        part_features=part,
        layer_norm_eps=1e-6,
        qkv_bias="backbone.encoder.layer.0.attention.attention.query.bias" in state_dict,
        out_indices=[depth],
    )
    return VitPoseConfig(
        backbone_config=backbone,
        num_labels=final.shape[0],
        use_simple_decoder="head.deconv1.weight" not in state_dict,
    )


def _grid_size(num_patches: int, patch: tuple[int, int], hint: tuple[int, int] | None) -> tuple[int, int]:
    if hint and (hint[0] // patch[0]) * (hint[1] // patch[1]) == num_patches:
        return tuple(hint)
    for aspect_h, aspect_w in ((4, 3), (1, 1)):
        w = math.isqrt(num_patches * aspect_w // aspect_h)
        h = num_patches // w if w else 0
        if h * w == num_patches and h * aspect_w == w * aspect_h:
            return (h * patch[0], w * patch[1])
    raise ModelError(
        f"cannot tell the input size of a checkpoint with {num_patches} patches; pass the size it was "
        "trained at (--input-size HxW / input_size=(h, w))"
    )


def _names(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" ... (+{len(keys) - limit} more)" if len(keys) > limit else "")
