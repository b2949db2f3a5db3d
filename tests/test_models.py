"""ViTPose models: parity with transformers, save/load, official checkpoints, custom keypoints, drop path."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from transformers import VitPoseForPoseEstimation

from posekit.datasets.schema import KeypointSchema, get_preset
from posekit.errors import ConfigError, ModelError
from posekit.models.vitpose import PRESETS, PoseModel, load_model

SIZE = (64, 48)  # 4x3 patches: small and fast, same code paths as 256x192


def _pixels(n: int = 2, size: tuple[int, int] = SIZE, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, *size, generator=torch.Generator().manual_seed(seed))


def _randomise(model: PoseModel, seed: int = 0) -> PoseModel:
    """Non-trivial values everywhere (BatchNorm statistics included) so that any misplaced tensor shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.net.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=gen)
            if "running_var" in name:
                tensor.copy_(0.5 + noise.abs())
            elif "norm" in name and name.endswith("weight"):
                tensor.copy_(1 + 0.1 * noise)
            else:
                tensor.copy_(0.1 * noise)
    return model


@pytest.fixture(scope="module", params=["vitpose-t", "vitpose-t-simple"])
def tiny(request) -> PoseModel:
    return _randomise(load_model(request.param, pretrained="none", input_size=SIZE)).eval()


@pytest.fixture(scope="module")
def coco_dir(tmp_path_factory) -> tuple[PoseModel, object]:
    """A randomised COCO-17 tiny model and its saved directory (read-only for the tests)."""
    model = _randomise(load_model("vitpose-t", pretrained="none", input_size=SIZE)).eval()
    return model, model.save(tmp_path_factory.mktemp("models") / "coco")


@torch.no_grad()
def test_heatmaps_equal_transformers(tiny: PoseModel) -> None:
    reference = VitPoseForPoseEstimation(tiny.net.config).eval()
    reference.load_state_dict(tiny.net.state_dict())
    x = _pixels()
    heatmaps = tiny(x)
    assert heatmaps.shape == (2, 17, *tiny.heatmap_size) == (2, 17, 16, 12)
    assert (heatmaps - reference(x).heatmaps).abs().max() < 1e-5


def test_gflops_leaves_the_model_as_it_was(tiny: PoseModel) -> None:
    tiny.train()
    before = {k: v.clone() for k, v in tiny.net.state_dict().items()}
    try:
        flops = tiny.gflops()
        assert tiny.training and tiny.net.backbone.config._attn_implementation == "sdpa"
    finally:
        tiny.eval()
    assert all(torch.equal(v, before[k]) for k, v in tiny.net.state_dict().items())  # batch norm untouched
    # the 6 transformer layers alone: 12 tokens x (4 + 8) x 128^2 multiply-adds for qkv/proj/MLP, x2 FLOPs
    assert flops > 6 * 2 * 12 * 12 * 128**2 / 1e9


@torch.no_grad()
def test_sdpa_and_eager_attention_agree() -> None:
    sdpa = _randomise(load_model("vitpose-t", pretrained="none", input_size=SIZE)).eval()
    eager = load_model("vitpose-t", pretrained="none", input_size=SIZE, attn_implementation="eager").eval()
    eager.net.load_state_dict(sdpa.net.state_dict())
    assert eager.net.backbone.config._attn_implementation == "eager"
    assert sdpa.net.backbone.config._attn_implementation == "sdpa"
    torch.testing.assert_close(sdpa(_pixels()), eager(_pixels()), rtol=1e-4, atol=1e-5)


@torch.no_grad()
def test_vitpose_plus_routes_dataset_index() -> None:
    model = _randomise(load_model("vitpose-t", pretrained="none", input_size=SIZE))
    plus = load_model("vitpose-plus-t", pretrained="none", input_size=SIZE).eval()
    assert plus.num_experts == 6 and plus.config.backbone_config.part_features == 32
    _randomise(plus)
    x = _pixels()
    default, coco, other = plus(x), plus(x, dataset_index=0), plus(x, dataset_index=torch.tensor([3, 3]))
    assert torch.equal(default, coco)
    assert not torch.allclose(coco, other)
    assert model.num_experts == 1


@torch.no_grad()
def test_save_load_round_trip(tiny: PoseModel, tmp_path) -> None:
    schema = get_preset("coco17")
    directory = tiny.save(tmp_path / "model")
    meta = json.loads((directory / "posekit.json").read_text())
    assert KeypointSchema.from_dict(meta["schema"]) == schema and meta["version"] == 2
    assert meta["processor"]["padding"] == 1.25 and "image_mean" not in meta["processor"]

    x = _pixels()
    expected = tiny(x)
    again = load_model(directory)
    assert again.schema == schema and again.input_size == SIZE and again.processor == tiny.processor
    assert torch.equal(again(x), expected)

    plain = VitPoseForPoseEstimation.from_pretrained(directory).eval()
    assert plain.config.id2label[0] == "nose" and plain.config.num_labels == 17
    assert torch.equal(plain(x).heatmaps, expected)
    processor = json.loads((directory / "preprocessor_config.json").read_text())
    assert processor["size"] == {"height": SIZE[0], "width": SIZE[1]}
    assert processor["image_mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_processor_settings_travel_with_the_model_and_transformers_reads_its_part(tmp_path) -> None:
    from transformers import AutoImageProcessor

    model = load_model("vitpose-t", pretrained="none", input_size=SIZE)
    model.processor = model.processor.updated(
        padding=1.4,
        sigma=3.0,
        blur_kernel_size=15,
        decode="reference",
        flip_test=False,
        keypoint_threshold=0.35,
        image_mean=(0.5, 0.4, 0.3),
        image_std=(0.2, 0.25, 0.3),
    )
    directory = model.save(tmp_path / "custom")
    again = load_model(directory)
    assert again.processor == model.processor  # every field, flip index included, read back exactly
    assert again.processor.heatmap_size == model.heatmap_size and again.processor.codec.sigma == 3.0
    hf = AutoImageProcessor.from_pretrained(directory)
    assert (hf.size["height"], hf.size["width"]) == SIZE
    assert list(hf.image_mean) == [0.5, 0.4, 0.3] and list(hf.image_std) == [0.2, 0.25, 0.3]
    # a resized model keeps the settings and takes the new sizes
    bigger = load_model(directory, input_size=(128, 96))
    assert bigger.processor.input_size == (128, 96) and bigger.processor.heatmap_size == (32, 24)
    assert bigger.processor.padding == 1.4 and bigger.processor.decode == "reference"


def test_version_1_model_folders_still_load(tiny: PoseModel, tmp_path) -> None:
    """posekit 0.1 wrote the padding (and 0-255 mean/std) at the top level of posekit.json."""
    directory = tiny.save(tmp_path / "old")
    meta = json.loads((directory / "posekit.json").read_text())
    del meta["processor"]
    meta |= {"version": 1, "input_size": list(SIZE), "padding": 1.5, "mean": [123.675, 116.28, 103.53]}
    (directory / "posekit.json").write_text(json.dumps(meta))
    again = load_model(directory)
    assert again.processor.padding == 1.5 and again.processor.image_mean == (0.485, 0.456, 0.406)


@torch.no_grad()
def test_plain_transformers_directory_is_coco17_and_custom_schema_round_trips(tmp_path) -> None:
    model = _randomise(load_model("vitpose-t", pretrained="none", input_size=SIZE)).eval()
    model.net.config.id2label = {i: f"LABEL_{i}" for i in range(17)}
    model.net.save_pretrained(tmp_path / "hf")
    assert load_model(tmp_path / "hf").schema == get_preset("coco17")

    schema = KeypointSchema.from_names(
        ["tail", "left_paw", "right_paw"], name="critter", sigmas=[0.1, 0.2, 0.3]
    )
    custom = load_model("vitpose-t-simple", pretrained="none", schema=schema, input_size=SIZE)
    custom.save(tmp_path / "critter")
    again = load_model(tmp_path / "critter")
    assert again.schema == schema and again.schema.flip_pairs == [(1, 2)]
    assert torch.equal(again(_pixels()), custom(_pixels()))


# ---------------------------------------------------------------------- official checkpoints
def _official_state_dict(model: PoseModel) -> dict[str, torch.Tensor]:
    """The same weights under the documented official ViTPose / ViTPose++ key layout."""
    hf = model.net.state_dict()
    depth = model.config.backbone_config.num_hidden_layers
    official = {
        "backbone.cls_token": torch.zeros(1, 1, model.config.backbone_config.hidden_size),
        "backbone.pos_embed": hf["backbone.embeddings.position_embeddings"],
        "backbone.patch_embed.proj.weight": hf["backbone.embeddings.patch_embeddings.projection.weight"],
        "backbone.patch_embed.proj.bias": hf["backbone.embeddings.patch_embeddings.projection.bias"],
        "backbone.last_norm.weight": hf["backbone.layernorm.weight"],
        "backbone.last_norm.bias": hf["backbone.layernorm.bias"],
        "keypoint_head.final_layer.weight": hf["head.conv.weight"],
        "keypoint_head.final_layer.bias": hf["head.conv.bias"],
    }
    for i in range(depth):
        block, layer = f"backbone.blocks.{i}", f"backbone.encoder.layer.{i}"
        for kind in ("weight", "bias"):
            official[f"{block}.attn.qkv.{kind}"] = torch.cat(
                [hf[f"{layer}.attention.attention.{n}.{kind}"] for n in ("query", "key", "value")]
            )
            for old, new in [
                ("norm1", "layernorm_before"),
                ("norm2", "layernorm_after"),
                ("attn.proj", "attention.output.dense"),
                ("mlp.fc1", "mlp.fc1"),
                ("mlp.fc2", "mlp.fc2"),
            ]:
                official[f"{block}.{old}.{kind}"] = hf[f"{layer}.{new}.{kind}"]
            for e in range(model.num_experts if model.num_experts > 1 else 0):
                official[f"{block}.mlp.experts.{e}.{kind}"] = hf[f"{layer}.mlp.experts.{e}.{kind}"]
    if not model.config.use_simple_decoder:
        for idx, (deconv, bn) in enumerate([("deconv1", "batchnorm1"), ("deconv2", "batchnorm2")]):
            official[f"keypoint_head.deconv_layers.{3 * idx}.weight"] = hf[f"head.{deconv}.weight"]
            for kind in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                official[f"keypoint_head.deconv_layers.{3 * idx + 1}.{kind}"] = hf[f"head.{bn}.{kind}"]
    return official


@torch.no_grad()
@pytest.mark.parametrize("preset", ["vitpose-t", "vitpose-t-simple", "vitpose-plus-t"])
def test_official_checkpoint_loads_every_key(preset: str, tmp_path) -> None:
    size = SIZE
    model = _randomise(load_model(preset, pretrained="none", input_size=size)).eval()
    official = _official_state_dict(model)
    if model.num_experts > 1:  # ViTPose++ checkpoints also carry the heads of the other data sets
        official["associate_keypoint_heads.0.final_layer.weight"] = torch.randn(14, 256, 1, 1)
    hf_keys = set(model.net.state_dict())
    path = tmp_path / "official.pth"
    torch.save({"state_dict": official, "meta": {"epoch": 210}}, path)

    loaded = load_model(path, input_size=size)
    assert set(loaded.net.state_dict()) == hf_keys
    for key, value in model.net.state_dict().items():  # every parameter filled from the checkpoint
        assert torch.equal(loaded.net.state_dict()[key], value), key
    assert loaded.num_experts == model.num_experts and loaded.schema == get_preset("coco17")
    x = _pixels(size=size)
    assert (loaded(x) - model(x)).abs().max() < 1e-6

    # the same file as the weights of a preset
    via_preset = load_model(preset, pretrained=str(path), input_size=size)
    assert torch.equal(via_preset(x), loaded(x))
    assert loaded.config.backbone_config.num_attention_heads == PRESETS[preset].heads


def test_official_checkpoint_reports_unknown_and_missing_keys(tmp_path) -> None:
    official = _official_state_dict(load_model("vitpose-t", pretrained="none", input_size=SIZE))
    official["backbone.blocks.0.attn.rel_pos_h"] = torch.zeros(3)
    torch.save({"state_dict": official}, tmp_path / "extra.pth")
    with pytest.raises(ModelError, match=r"backbone\.blocks\.0\.attn\.rel_pos_h"):
        load_model(tmp_path / "extra.pth")

    del official["backbone.blocks.0.attn.rel_pos_h"], official["backbone.blocks.2.norm2.weight"]
    torch.save({"state_dict": official}, tmp_path / "missing.pth")
    with pytest.raises(ModelError, match=r"missing: backbone\.encoder\.layer\.2\.layernorm_after\.weight"):
        load_model("vitpose-t", pretrained=str(tmp_path / "missing.pth"), input_size=SIZE)


def test_checkpoint_with_pickled_objects_is_refused(tmp_path) -> None:
    torch.save({"state_dict": {}, "meta": {"obj": object()}}, tmp_path / "unsafe.pth")
    with pytest.raises(ModelError, match="refused for safety"):
        load_model(tmp_path / "unsafe.pth")


# ---------------------------------------------------------------------- custom keypoints
def _backbone(model: PoseModel) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.net.state_dict().items() if not k.startswith("head.conv.")}


@pytest.mark.parametrize("num_keypoints", [21, 68])
def test_head_reinit_keeps_backbone_and_head_hidden_layers(num_keypoints: int, coco_dir, caplog) -> None:
    source, directory = coco_dir
    with caplog.at_level(logging.WARNING):
        target = load_model("vitpose-t", pretrained=str(directory), num_keypoints=num_keypoints)
    assert "re-initialised the final layer" in caplog.text
    assert target.schema.num_keypoints == num_keypoints
    assert target.net.state_dict()["head.conv.weight"].shape[0] == num_keypoints
    kept = _backbone(target)
    for key, value in _backbone(source).items():  # backbone, deconvolutions, batch norms
        assert torch.equal(kept[key], value), key
    assert target(_pixels()).shape == (2, num_keypoints, 16, 12)


def test_matching_keypoint_names_keep_their_channels(tmp_path) -> None:
    coco = get_preset("coco17")
    source = _randomise(load_model("vitpose-t-simple", pretrained="none", input_size=SIZE))
    source.save(tmp_path / "coco")
    w = source.net.state_dict()["head.conv.weight"]

    # superset (COCO body inside a body + feet set, in another order)
    feet = ["left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel"]
    names = list(reversed(coco.names)) + feet
    bigger = load_model(
        "vitpose-t-simple",
        pretrained=str(tmp_path / "coco"),
        input_size=SIZE,
        schema=KeypointSchema.from_names(names),
    )
    new_w = bigger.net.state_dict()["head.conv.weight"]
    for t, name in enumerate(names[:17]):
        assert torch.equal(new_w[t], w[coco.names.index(name)])
    assert not any(torch.equal(new_w[17 + i], w[j]) for i in range(6) for j in range(17))

    # subset (the reverse direction): the 23-keypoint model back to COCO-17
    bigger.save(tmp_path / "feet")
    back = load_model(tmp_path / "feet", schema=coco)
    assert torch.equal(back.net.state_dict()["head.conv.weight"], w)
    assert torch.equal(back(_pixels()), source(_pixels()))


def test_coco_body_channels_carry_into_wholebody(coco_dir) -> None:
    source, directory = coco_dir
    whole = load_model("vitpose-t", pretrained=str(directory), schema=get_preset("wholebody133"))
    head = {k: v for k, v in whole.net.state_dict().items() if k.startswith("head.conv.")}
    assert head["head.conv.weight"].shape[0] == 133
    for key, value in head.items():
        assert torch.equal(value[:17], source.net.state_dict()[key])


@torch.no_grad()
def test_input_size_change_resizes_position_embeddings(coco_dir) -> None:
    source, directory = coco_dir
    bigger = load_model(directory, input_size=(128, 96))
    pos = bigger.net.state_dict()["backbone.embeddings.position_embeddings"]
    assert pos.shape == (1, 1 + 8 * 6, 128)
    assert torch.equal(pos[:, 0], source.net.state_dict()["backbone.embeddings.position_embeddings"][:, 0])
    assert bigger(_pixels(size=(128, 96))).shape == (2, 17, 32, 24)
    with pytest.raises(ConfigError, match="multiples of the patch size"):
        load_model("vitpose-t", pretrained="none", input_size=(100, 75))


@torch.no_grad()
def test_vitpose_plus_experts_fold_into_plain_model_exactly(tmp_path) -> None:
    plus = _randomise(load_model("vitpose-plus-t", pretrained="none", input_size=SIZE)).eval()
    plus.save(tmp_path / "plus")
    plain = load_model("vitpose-t", pretrained=str(tmp_path / "plus")).eval()
    assert plain.num_experts == 1
    x = _pixels()
    assert (plain(x) - plus(x, dataset_index=0)).abs().max() < 1e-5
    # and back: a plain model split into identical experts is exact for every data set
    plain.save(tmp_path / "plain")
    again = load_model("vitpose-plus-t", pretrained=str(tmp_path / "plain")).eval()
    assert (again(x, dataset_index=5) - plain(x)).abs().max() < 1e-5


def test_wrong_architecture_is_reported_by_name(coco_dir) -> None:
    _, directory = coco_dir
    with pytest.raises(ModelError, match=r"do not fit this model.*shape"):
        load_model("vitpose-s", pretrained=str(directory))
    with pytest.raises(ModelError, match="not a preset"):
        load_model("vitpose-xl")
    with pytest.raises(ConfigError, match="preset names only"):
        load_model(directory, pretrained="usyd-community/vitpose-base")


# ---------------------------------------------------------------------- drop path
def test_drop_path_zero_is_the_plain_model_and_positive_is_stochastic_in_training() -> None:
    model = _randomise(load_model("vitpose-t", pretrained="none", input_size=SIZE, drop_path=0.0))
    reference = VitPoseForPoseEstimation(model.net.config)
    reference.load_state_dict(model.net.state_dict())
    x = _pixels()
    model.train(), reference.train()
    assert torch.equal(model(x), reference(x).heatmaps)

    model.drop_path = 0.5
    rates = [layer.drop_path.p for layer in model.net.backbone.encoder.layer]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.5) and rates == sorted(rates)
    torch.manual_seed(0)
    first = model(x)
    second = model(x)
    assert not torch.allclose(first, second)
    first.sum().backward()  # gradients flow through the hooked branches
    assert model.net.backbone.encoder.layer[-1].mlp.fc1.weight.grad is not None
    reference.load_state_dict(model.net.state_dict())  # the batch norm statistics moved in training
    model.eval(), reference.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        assert torch.equal(model(x), reference(x).heatmaps)
    assert set(model.net.state_dict()) == set(reference.state_dict())


def test_drop_path_defaults_follow_the_recipe(tmp_path) -> None:
    assert PRESETS["vitpose-b"].drop_path == 0.3 and PRESETS["vitpose-h"].layer_decay == 0.85
    model = load_model("vitpose-t", pretrained="none", input_size=SIZE, drop_path=0.2)
    assert model.drop_path == 0.2
    model.save(tmp_path / "m")
    assert load_model(tmp_path / "m").drop_path == 0.2
    assert load_model(tmp_path / "m", drop_path=0.0).drop_path == 0.0


# ---------------------------------------------------------------------- hub
def test_unreachable_hub_gives_one_clear_error_fast(monkeypatch) -> None:
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    calls = []

    def not_cached(*args, **kwargs):
        calls.append(kwargs.get("local_files_only"))
        raise LocalEntryNotFoundError("not cached")

    def unreachable(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", not_cached)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", unreachable)
    with pytest.raises(ModelError) as info:
        load_model("vitpose-b-simple")
    message = str(info.value)
    assert "usyd-community/vitpose-base-simple" in message and "--pretrained none" in message
    assert "--local-dir" in message
    assert calls == [True]  # only the cache was tried; no retried download

    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE"):
        load_model("someone/some-vitpose")
