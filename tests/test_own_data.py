"""benchmarks/own_data.py: the generated sets unlike the built-in sample (quadruped, hand) load as valid
COCO keypoint data, with their own keypoint counts, labels inside the images, and the same files from the
same seed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from posekit.datasets.data_config import resolve_data

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def own_data() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "posekit_bench_own_data", REPO / "benchmarks" / "own_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("kind", "keypoints", "flip_pairs"), [("quadruped", 9, [(5, 6), (7, 8)]), ("hand", 21, [])]
)
def test_sets_load_with_their_skeleton(
    own_data: ModuleType, tmp_path: Path, kind: str, keypoints: int, flip_pairs: list
) -> None:
    path = own_data.generate(kind, tmp_path, seed=0, splits={"train": 12, "val": 4})
    data = resolve_data(path)
    train, val = data.load_split("train"), data.load_split("val")
    assert (len(train.images), len(val.images)) == (12, 4)
    assert train.schema.num_keypoints == keypoints and list(train.schema.flip_pairs) == flip_pairs
    assert train.schema.sigmas == own_data.SKELETONS[kind].sigmas
    # 1-3 objects an image, each with at least 4 labelled keypoints, all inside its image
    assert 12 <= len(train.annotations) <= 36
    for split in (train, val):
        for person in split.annotations:
            image = split.images[person.image_id]
            labelled = person.keypoints[person.keypoints[:, 2] > 0]
            assert len(labelled) >= 4
            assert (labelled[:, 0] >= 0).all() and (labelled[:, 0] < image.width).all()
            assert (labelled[:, 1] >= 0).all() and (labelled[:, 1] < image.height).all()


def test_same_seed_same_files_other_seed_other_files(own_data: ModuleType, tmp_path: Path) -> None:
    splits = {"train": 3, "val": 1}
    a, b, c = (own_data.generate("hand", tmp_path / name, seed=s, splits=splits) for name, s in
               (("a", 4), ("b", 4), ("c", 5)))  # fmt: skip
    assert json.loads((a.parent / "train.json").read_text()) == json.loads(
        (b.parent / "train.json").read_text()
    )
    first = (a.parent / "images" / "train" / "000001.jpg").read_bytes()
    assert first == (b.parent / "images" / "train" / "000001.jpg").read_bytes()
    assert first != (c.parent / "images" / "train" / "000001.jpg").read_bytes()


def test_objects_are_freely_rotated(own_data: ModuleType) -> None:
    """The nose-to-tail direction of the quadrupeds covers every quadrant, not only upright poses."""
    angles = []
    for i in range(40):
        _, objects = own_data.render(np.random.default_rng((9, i)), "quadruped")
        for keypoints, _ in objects:
            nose, tail = keypoints[0], keypoints[3]
            if nose[2] and tail[2]:
                angles.append(np.arctan2(nose[1] - tail[1], nose[0] - tail[0]))
    quadrants = np.histogram(angles, bins=4, range=(-np.pi, np.pi))[0]
    assert len(angles) > 40 and (quadrants >= 0.1 * len(angles)).all()


def test_unknown_kind_is_refused(own_data: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quadruped, hand"):
        own_data.generate("octopus", tmp_path)


@pytest.mark.slow
def test_a_generated_set_trains_end_to_end_with_the_default_recipe(
    own_data: ModuleType, tmp_path: Path
) -> None:
    import posekit

    path = own_data.generate("quadruped", tmp_path / "data", seed=0, splits={"train": 8, "val": 4})
    settings = {"input_size": "48x64", "epochs": 1, "workers": 0, "device": "cpu"}  # boxes are landscape
    summary = posekit.train(data=str(path), model="vitpose-t", project=str(tmp_path), **settings)
    args = (summary.run_dir / "args.yaml").read_text()
    assert "optimizer: muon" in args and "pretrained: auto" in args  # the from-scratch recipe
    assert "head: simple" in args and "rotation: 90.0" in args  # rotated labels: the simple head
    config = json.loads((summary.run_dir / "weights" / "last" / "config.json").read_text())
    assert config["use_simple_decoder"] is True
    assert summary.epochs == 1 and 0 <= summary.final_ap <= 1
