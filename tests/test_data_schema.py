"""Keypoint schema presets (17/21/68/133), flip-pair inference for the usual naming styles, sigmas by
name, schemas built from COCO categories and clear errors for bad overrides."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.datasets.schema import (
    DEFAULT_SIGMA,
    PRESETS,
    KeypointSchema,
    default_sigmas,
    get_preset,
    infer_flip_pairs,
)
from posekit.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "k"), [("coco17", 17), ("hand21", 21), ("face68", 68), ("wholebody133", 133)]
)
def test_presets(name: str, k: int) -> None:
    s = get_preset(name)
    assert s.name == name and s.num_keypoints == k and len(s.sigmas) == k
    assert all(0 < v < 0.2 for v in s.sigmas)
    index = s.flip_index
    np.testing.assert_array_equal(index[index], np.arange(k))  # flipping twice is the identity
    flat = [i for pair in s.flip_pairs for i in pair]
    assert len(flat) == len(set(flat))  # a keypoint is in at most one pair
    for a, b in s.flip_pairs:
        assert {s.side(a), s.side(b)} == {"left", "right"} or name == "face68"
    assert all(0 <= a < k and 0 <= b < k for a, b in s.skeleton)


def test_preset_facts() -> None:
    coco, hand, face, whole = (get_preset(n) for n in PRESETS)
    assert whole.names[:17] == coco.names and whole.sigmas[:17] == coco.sigmas
    assert whole.names[17:23] == [
        "left_big_toe",
        "left_small_toe",
        "left_heel",
        "right_big_toe",
        "right_small_toe",
        "right_heel",
    ]
    assert whole.sigmas[23:91] == face.sigmas and whole.sigmas[91:112] == hand.sigmas
    assert whole.names[91] == "left_hand_root" and whole.names[112] == "right_hand_root"
    assert whole.flip_index[91] == 112 and whole.flip_index[23] == 39  # face-0 <-> face-16
    assert face.flip_index[36] == 45 and face.flip_index[8] == 8  # eye corners swap, chin stays
    assert hand.flip_pairs == [] and hand.names[0] == "wrist"
    assert sorted(whole.upper_body + whole.lower_body) == list(range(133))


@pytest.mark.parametrize(
    ("names", "pairs"),
    [
        (["nose", "left_eye", "right_eye"], [(1, 2)]),
        (["l_knee", "r_knee", "neck"], [(0, 1)]),
        (["knee_left", "knee_right"], [(0, 1)]),
        (["LEFT_Hand", "right_hand"], [(0, 1)]),
        (["L_Foot", "R_Foot"], [(0, 1)]),
        (["LeftEye", "RightEye"], [(0, 1)]),
        (["eye-L", "eye-R"], [(0, 1)]),
        (["left_paw", "right_tail", "middle"], []),
    ],
)
def test_flip_pair_inference(names: list[str], pairs: list[tuple[int, int]]) -> None:
    assert infer_flip_pairs(names) == pairs


def test_sigmas_by_name_and_from_category() -> None:
    assert default_sigmas(["Left_Eye", "neck", "thumb1"]) == [0.025, DEFAULT_SIGMA, 0.022]
    cat = {
        "id": 1,
        "name": "dog",
        "keypoints": ["nose", "left_ear", "right_ear", "tail"],
        "skeleton": [[1, 2], [1, 3]],
    }
    s = KeypointSchema.from_coco_category(cat)
    assert s.name == "dog" and s.skeleton == [(0, 1), (0, 2)] and s.flip_pairs == [(1, 2)]
    assert s.sigmas == [0.026, 0.035, 0.035, DEFAULT_SIGMA]
    coco = KeypointSchema.from_coco_category({"keypoints": [n.upper() for n in get_preset("coco17").names]})
    assert coco == get_preset("coco17")
    unnamed = KeypointSchema.from_coco_category({"keypoints": []}, 21)
    assert unnamed.names[-1] == "kp20" and unnamed.sigmas == get_preset("hand21").sigmas
    odd = KeypointSchema.from_coco_category({"keypoints": []}, 5)
    assert odd.names == ["kp0", "kp1", "kp2", "kp3", "kp4"] and odd.flip_pairs == []


def test_overrides_and_errors() -> None:
    coco = get_preset("coco17")
    assert coco.override(sigmas=[0.1] * 17).sigmas_array.tolist() == [0.1] * 17
    with pytest.raises(ConfigError, match="unknown schema field"):
        coco.override(colour="red")
    with pytest.raises(ConfigError, match="sigmas has 2 values but there are 17 keypoints"):
        coco.override(sigmas=[0.1, 0.1])
    with pytest.raises(ConfigError, match="out of range"):
        coco.override(flip_pairs=[(1, 40)])
    with pytest.raises(ConfigError, match="unknown keypoint schema preset"):
        get_preset("coco18")
    roundtrip = KeypointSchema.from_dict(coco.to_dict())
    assert roundtrip == coco
