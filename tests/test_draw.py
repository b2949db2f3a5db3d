"""Pose drawing: side colours, confidence threshold, boxes, track ids, any keypoint count, mosaics."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.datasets.schema import KeypointSchema, get_preset
from posekit.viz.draw import BOX_COLOUR, SIDE_COLOURS, draw_crops_grid, draw_pose, track_colour


def blank(h: int = 240, w: int = 320) -> np.ndarray:
    return np.zeros((h, w, 3), np.uint8)


def test_draw_pose_colours_keypoints_and_limbs_by_side_and_leaves_the_input_alone():
    schema = get_preset("coco17")
    image = blank()
    kps = np.zeros((1, 17, 2))
    kps[0, :, 0] = np.linspace(20, 300, 17)
    kps[0, :, 1] = 120
    out = draw_pose(image, kps, None, schema)
    assert out.shape == image.shape and out is not image and not image.any()
    for i in (0, 5, 6):  # nose (centre), left shoulder, right shoulder
        x, y = kps[0, i].round().astype(int)
        np.testing.assert_array_equal(out[y, x], SIDE_COLOURS[schema.side(i)])
    # left hip - left knee is a left limb: its midpoint has the left colour
    a, b = schema.names.index("left_hip"), schema.names.index("left_knee")
    assert (a, b) in schema.skeleton or (b, a) in schema.skeleton
    kps2 = np.array([[[100.0, 50.0]] * 17])
    kps2[0, a], kps2[0, b] = [100, 40], [100, 200]
    scores = np.zeros((1, 17))
    scores[0, [a, b]] = 1
    limb = draw_pose(image, kps2, scores, schema)
    pixel = limb[120, 97:104].max(axis=0)  # anti-aliased line: the brightest pixel across it
    assert pixel[1] > 150 and pixel[0] == pixel[2] == 0  # left colour (0, 220, 0)


def test_keypoints_below_conf_are_not_drawn():
    schema = get_preset("coco17")
    kps = np.random.default_rng(0).uniform(10, 230, (2, 17, 2))
    assert not draw_pose(blank(), kps, np.full((2, 17), 0.29), schema, conf=0.3).any()
    scores = np.full((2, 17), 0.1)
    scores[1, 3] = 0.9
    out = draw_pose(blank(), kps, scores, schema, conf=0.3, radius=3)
    changed = np.argwhere(out.any(axis=2))
    assert len(changed) > 0
    assert np.abs(changed[:, ::-1] - kps[1, 3]).max() <= 5  # only the one point, no limbs


def test_radius_scales_with_the_image():
    schema = KeypointSchema.from_names(["a"])
    small = draw_pose(blank(200, 200), np.array([[[100.0, 100.0]]]), None, schema)
    large = draw_pose(blank(2000, 2000), np.array([[[1000.0, 1000.0]]]), None, schema)
    assert large.any(axis=2).sum() > 10 * small.any(axis=2).sum()


def test_any_keypoint_count_without_skeleton_or_schema():
    schema = KeypointSchema.from_names([f"kp{i}" for i in range(68)])
    kps = np.random.default_rng(1).uniform(5, 235, (3, 68, 2))
    out = draw_pose(blank(), kps, None, schema)
    assert out.any()
    np.testing.assert_array_equal(
        out[int(round(kps[0, 5, 1])), int(round(kps[0, 5, 0]))], SIDE_COLOURS["center"]
    )
    np.testing.assert_array_equal(draw_pose(blank(), kps, None, None), out)
    single = draw_pose(blank(), kps[0], None, schema)  # (K, 2) for one person
    assert single.any()
    nan = kps.copy()
    nan[0, 0] = np.nan
    assert draw_pose(blank(), nan, None, schema).any()


def test_boxes_and_track_ids():
    schema = get_preset("coco17")
    kps = np.full((2, 17, 2), 150.0)
    boxes = np.array([[20.0, 30.0, 100.0, 150.0], [180.0, 40.0, 100.0, 150.0]])
    out = draw_pose(blank(), kps, np.zeros((2, 17)), schema, boxes=boxes)
    np.testing.assert_array_equal(out[100, 20], BOX_COLOUR)  # left edge of the first box
    tracked = draw_pose(blank(), kps, np.zeros((2, 17)), schema, boxes=boxes, track_ids=[3, 8])
    np.testing.assert_array_equal(tracked[100, 20], track_colour(3))
    np.testing.assert_array_equal(tracked[100, 280], track_colour(8))
    assert track_colour(3) != track_colour(8)
    # the id label sits on a filled patch of the track colour at the box's top-left
    patch = tracked[5:30, 20:40].reshape(-1, 3)
    assert (patch == track_colour(3)).all(axis=1).sum() > 20
    # without boxes the label goes to the drawn keypoints
    label_only = draw_pose(blank(), kps, np.ones((2, 17)), schema, track_ids=[1, 2])
    assert label_only.any()


def test_crops_grid_lays_out_tiles_and_draws_their_keypoints():
    schema = get_preset("coco17")
    rng = np.random.default_rng(2)
    images = [np.full((64, 48, 3), 60 * i, np.uint8) for i in range(5)]
    keypoints = [
        np.column_stack([rng.uniform(5, 40, 17), rng.uniform(5, 60, 17), np.full(17, 2.0)]) for _ in range(5)
    ]
    keypoints[4][:, 2] = 0  # visibility 0: nothing drawn on the last tile
    grid = draw_crops_grid(images, keypoints, schema=schema, cols=3, gap=2)
    assert grid.shape == (2 * 64 + 2, 3 * 48 + 4, 3)
    tile = grid[66:130, 50:98]  # second row, second column: image 4, flat 240
    assert np.all(tile == 240)
    assert (grid[:64, :48] != 0).any()  # first tile got keypoints drawn
    captioned = draw_crops_grid(images[:2], None, captions=["a", "OKS 0.12"], tile_size=(128, 96))
    assert captioned.shape == (128, 2 * 96 + 2, 3)
    assert (captioned[:20, 98:] != 60).any()  # caption patch on the second tile
    with pytest.raises(ValueError):
        draw_crops_grid([])
