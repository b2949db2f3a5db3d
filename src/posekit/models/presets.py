"""Named ViTPose architectures and their training recipe (drop path, layer-wise lr decay), with the hub
weights each starts from by default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from transformers import VitPoseBackboneConfig, VitPoseConfig

#: Input size (height, width) of a preset built without weights.
DEFAULT_INPUT_SIZE = (256, 192)


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


def head_kind(config: VitPoseConfig) -> Literal["classic", "simple"]:
    """The heatmap head of ``config``: ``simple`` (bilinear upsampling and a conv) or ``classic``
    (two deconvolutions), as ``--head`` names them."""
    return "simple" if config.use_simple_decoder else "classic"


def suggest_preset(name: str) -> str:
    """" Did you mean 'vitpose-t'?" for a mistyped preset name (difflib's closest), else ""."""
    import difflib

    close = difflib.get_close_matches(str(name), list(PRESETS), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def recipe_for(hidden_size: int) -> Preset:
    """The recipe (drop path, layer decay) of the preset size with this width, else ViTPose-B's."""
    for preset in PRESETS.values():
        if preset.hidden_size == hidden_size:
            return preset
    return PRESETS["vitpose-b"]
