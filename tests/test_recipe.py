"""The training recipe follows what is loaded (pretrained weights -> fine-tuning, none -> from scratch), for
the sample and any data alike; the banner says which and why, with the data's size against the guidance;
validation images that are training images are warned about."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY_TRAIN

from posekit.datasets.data_config import resolve_data
from posekit.device import cpu_has_fast_bf16
from posekit.engine.recipe import (
    banner,
    box_aspect,
    choose_recipe,
    fit_epochs,
    no_weights_reason,
    rotation_spread,
    same_images_warning,
)
from posekit.engine.train import Trainer
from posekit.errors import ConfigError, ModelError
from posekit.settings import FINETUNE_RECIPE, SCRATCH_RECIPE, SCRATCH_ROTATED, build_config
from posekit.tasks.train import run_folder


def test_weights_loaded_means_fine_tuning_none_means_from_scratch() -> None:
    tuned = choose_recipe("usyd-community/vitpose-base", "")
    assert (tuned.kind, tuned.settings) == ("fine-tuning", FINETUNE_RECIPE)
    assert tuned.reason == "pretrained weights loaded from usyd-community/vitpose-base"
    scratch = choose_recipe(None, "vitpose-t has no pretrained weights")
    assert (scratch.kind, scratch.settings, scratch.min_people) == ("from scratch", SCRATCH_RECIPE, 2000)
    assert no_weights_reason("vitpose-t", "auto") == "vitpose-t has no pretrained weights"
    assert no_weights_reason("vitpose-b", "none") == "--pretrained none"
    offline = no_weights_reason("vitpose-b", "auto", ModelError("the Hub is unreachable"))
    assert offline == "the pretrained weights of vitpose-b could not be loaded (the Hub is unreachable)"


def _rotated(angles_deg: np.ndarray) -> np.ndarray:
    """Three keypoints (0, 0), (0, 10), (2, 5) turned by each angle, all labelled: (N, 3, 3)."""
    base = np.array([[0.0, 0.0], [0.0, 10.0], [2.0, 5.0]])
    t = np.radians(angles_deg)[:, None]
    x = np.cos(t) * base[:, 0] - np.sin(t) * base[:, 1]
    y = np.sin(t) * base[:, 0] + np.cos(t) * base[:, 1]
    return np.stack([x, y, np.full_like(x, 2.0)], axis=-1)


def test_rotation_spread_of_the_labels() -> None:
    assert rotation_spread(_rotated(np.zeros(50))) == pytest.approx(0.0, abs=1e-3)  # all upright
    wobble = rotation_spread(_rotated(np.tile([-10.0, 10.0], 25)))  # +-10 degrees
    assert wobble == pytest.approx(np.degrees(np.sqrt(-2 * np.log(np.cos(np.radians(10))))), rel=1e-6)
    assert rotation_spread(_rotated(np.arange(0, 360, 10.0))) > 150  # every direction
    rare = _rotated(np.arange(0, 360, 10.0))
    rare[: len(rare) // 2 + 1, 1, 2] = 0  # keypoint 1 labelled on under half: only the short pair counts
    assert rotation_spread(rare) > 150
    rare[:, 2, 2] = 0
    assert rotation_spread(rare) == 0.0  # no pair labelled together on half the objects
    assert box_aspect(np.array([[0, 0, 30, 60], [0, 0, 40, 40], [0, 0, 50, 50], [0, 0, 5, 0]])) == 1.0


def test_scratch_recipe_fits_the_input_and_rotation_to_the_data(sample_data: Path) -> None:
    upright = resolve_data(sample_data).load_split("train")  # people: portrait boxes, upright labels
    recipe = choose_recipe(None, "", upright)
    assert recipe.settings == {**SCRATCH_RECIPE, "input_size": (128, 96)}
    recipe.fill(build_config(data="x.json"))
    assert "rotation augmentation" not in recipe.fitted_note and "input 128x96" in recipe.fitted_note
    turned = [
        replace(p, bbox=np.array([0, 0, 50, 50.0]), keypoints=k)
        for p, k in zip(
            upright.annotations, _rotated(np.linspace(0, 360, len(upright.annotations))), strict=True
        )
    ]
    recipe = choose_recipe(None, "", replace(upright, annotations=turned))
    assert (
        recipe.settings["input_size"] == (128, 128) and recipe.settings["epochs"] == SCRATCH_ROTATED["epochs"]
    )
    assert recipe.settings["augment"] == {**SCRATCH_RECIPE["augment"], **SCRATCH_ROTATED["augment"]}
    recipe.fill(build_config(data="x.json", input_size="160x160"))  # given: not the recipe's to explain
    note = recipe.fitted_note
    assert note.startswith("labels rotated 1") and note.endswith(
        f", > 45: rotation augmentation up to 180 deg, {SCRATCH_ROTATED['epochs']} epochs, the simple head "
        "(half the time a step)"
    )
    assert "input_size" not in recipe.applied and {"augment", "epochs", "head"} <= recipe.applied
    recipe = choose_recipe(None, "", replace(upright, annotations=turned))
    recipe.fill(build_config(data="x.json", head="classic"))  # given: kept, and not explained
    assert "head" not in recipe.fitted_note and "head" not in recipe.applied
    recipe = choose_recipe(None, "", replace(upright, annotations=turned))
    recipe.fill(build_config(data="x.json"))
    assert recipe.fitted_note.startswith("input 128x128 for boxes 1.00 wide per high, labels rotated")
    wide = [replace(p, bbox=np.array([0, 0, 80, 50.0])) for p in upright.annotations]
    assert choose_recipe(None, "", replace(upright, annotations=wide)).settings["input_size"] == (96, 128)


def test_recipe_fills_only_what_was_not_given() -> None:
    cfg = build_config(data="x.json", lr=0.01, augment={"rotation": 10.0})
    choose_recipe(None, "").fill(cfg)
    assert cfg.lr == 0.01  # given: kept
    assert (cfg.optimizer, cfg.epochs, cfg.input_size) == (
        SCRATCH_RECIPE["optimizer"],
        SCRATCH_RECIPE["epochs"],
        SCRATCH_RECIPE["input_size"],
    )
    assert cfg.augment == {**SCRATCH_RECIPE["augment"], "rotation": 10.0}  # over the recipe's


def test_banner_names_the_recipe_and_warns_below_the_guidance() -> None:
    cfg = build_config(data="x.json")
    scratch = choose_recipe(None, "vitpose-t has no pretrained weights")
    scratch.fill(cfg)
    recipe_line, small = banner(scratch, cfg, 616)
    assert recipe_line.startswith("Recipe: from scratch (vitpose-t has no pretrained weights): muon lr 0.002")
    assert "Warning" in small and "616 training people" in small and "2,000+ to train from scratch" in small
    assert "--model vitpose-b" in small
    assert "Warning" not in banner(scratch, cfg, 2500)[1]
    tuned_cfg = build_config(data="x.json", lr=1e-4, layer_decay=0.75)
    tuned = choose_recipe("some/model", "")
    tuned.fill(tuned_cfg)
    line, enough = banner(tuned, tuned_cfg, 600)
    assert line.startswith("Recipe: fine-tuning (pretrained weights loaded from some/model): adamw lr 0.0001")
    assert "Warning" not in enough and "500+ labelled people to fine-tune" in enough
    assert "Warning" in banner(tuned, tuned_cfg, 499)[1]


def test_one_json_as_train_and_val_is_warned(sample_data: Path) -> None:
    data = resolve_data(sample_data)
    train, val = data.load_split("train"), data.load_split("val")
    assert same_images_warning(train, val) is None
    warning = same_images_warning(train, train)
    assert (
        warning is not None and f"{len(train.images)} of the {len(train.images)} validation images" in warning
    )


def _trainer(sample_data: Path, tmp_path: Path, **settings) -> Trainer:
    tiny = {k: v for k, v in TINY_TRAIN.items() if k not in settings}
    cfg = build_config(data=str(sample_data), project=str(tmp_path), **tiny, **settings)
    return Trainer(cfg, run_folder=run_folder)


def test_trainer_picks_the_recipe_from_what_it_loaded(sample_data: Path, tmp_path: Path) -> None:
    scratch = _trainer(sample_data, tmp_path, pretrained="auto")  # vitpose-t-simple: no hub weights
    assert scratch.recipe.kind == "from scratch"
    assert scratch.recipe.reason == "vitpose-t-simple has no pretrained weights"
    assert (scratch.cfg.optimizer, scratch.cfg.lr) == (SCRATCH_RECIPE["optimizer"], SCRATCH_RECIPE["lr"])
    assert scratch.loaded == "random weights"  # the start line's "from ...", not the asked-for "auto"
    assert scratch.cfg.amp == ("bf16" if cpu_has_fast_bf16() else "no")  # the hardware's rule, on CPU
    saved = scratch.unwrapped.save(tmp_path / "weights")
    tuned = _trainer(sample_data, tmp_path, pretrained=str(saved))
    assert tuned.recipe.kind == "fine-tuning" and str(saved) in tuned.recipe.reason
    assert tuned.loaded == f"weights {saved}"
    assert (tuned.cfg.optimizer, tuned.cfg.epochs, tuned.cfg.val_every) == ("adamw", 1, 1)  # epochs given
    assert tuned.cfg.lr == pytest.approx(5e-4 * 4 / 512)  # the seed's rule for batch 4
    assert scratch.cfg.head == tuned.cfg.head == "simple"  # the model's head, recorded in args.yaml
    classic = _trainer(sample_data, tmp_path, pretrained=str(saved), head="classic")
    assert not classic.unwrapped.config.use_simple_decoder and classic.cfg.head == "classic"
    assert classic.unwrapped.heatmap_size == scratch.unwrapped.heatmap_size  # both heads upsample x4
    trained, built = scratch.unwrapped.net.state_dict(), classic.unwrapped.net.state_dict()
    assert all(torch.equal(v, built[k]) for k, v in trained.items() if k.startswith("backbone."))
    assert "head.deconv1.weight" in built and "head.deconv1.weight" not in trained  # a fresh classic head


def test_preset_weights_that_cannot_be_had_mean_from_scratch(
    sample_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(repo_id: str) -> Path:
        raise ModelError(f"cannot download {repo_id!r}: the Hugging Face Hub is unreachable")

    monkeypatch.setattr("posekit.models.weights.download", offline)
    trainer = _trainer(sample_data, tmp_path, model="vitpose-s-simple", pretrained="auto")
    assert trainer.recipe.kind == "from scratch"
    assert "could not be loaded (cannot download 'usyd-community/vitpose-plus-small'" in trainer.recipe.reason
    with pytest.raises(ModelError, match="unreachable"):  # weights asked for by name are not replaced
        _trainer(sample_data, tmp_path, model="vitpose-s-simple", pretrained="org/weights")


def test_time_budget_fits_the_epochs() -> None:
    # 100 steps of 0.1 s an epoch, 60 val people at batch 4 validated every epoch: 10 s + 1 s an epoch
    assert fit_epochs(2.0, 0.1, 100, 4, 60, 1) == 10  # 120 s // 11 s
    assert fit_epochs(2.0, 0.1, 100, 4, 60, 5) == 11  # validations every 5 epochs: 10.2 s an epoch
    assert fit_epochs(0.01, 0.1, 100, 4, 60, 1) == 1  # at least one epoch


def test_time_and_epochs_together_are_refused(sample_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="drop --epochs or --time"):
        _trainer(sample_data, tmp_path, time=5, epochs=3)


def test_time_budget_sets_the_epochs_of_a_run(sample_data: Path, tmp_path: Path) -> None:
    trainer = _trainer(sample_data, tmp_path, time=0.02, epochs=None)
    assert trainer.cfg.time == 0.02 and trainer.cfg.epochs >= 1
    assert trainer.cfg.warmup == min(500, trainer.cfg.epochs * trainer.steps_per_epoch // 10)  # after fitting
