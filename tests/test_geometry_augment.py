"""Top-down geometry and augmentation: centre/scale, UDP warp (vs mmpose), inverses, flip, half-body."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from posekit.datasets.schema import KeypointSchema, get_preset
from posekit.topdown.affine import (
    compose,
    fix_aspect_ratio,
    hflip_matrix,
    invert_affine,
    transform_points,
    udp_warp_matrix,
    warp_image,
    warp_keypoints,
)
from posekit.topdown.augment import (
    AugmentConfig,
    ColourJitter,
    apply_colour_jitter,
    random_augment_params,
)
from posekit.topdown.processor import TopDownProcessor

INPUT = (256, 192)


def mmpose_udp_warp_matrix(center, scale, rot, output_size_wh):
    """mmpose's get_udp_warp_matrix, written out from its formula (reference)."""
    input_size = np.asarray(center) * 2
    r = math.radians(rot)
    sx, sy = (output_size_wh[0] - 1) / scale[0], (output_size_wh[1] - 1) / scale[1]
    m = np.zeros((2, 3))
    m[0, 0], m[0, 1] = math.cos(r) * sx, -math.sin(r) * sx
    m[0, 2] = sx * (-0.5 * input_size[0] * math.cos(r) + 0.5 * input_size[1] * math.sin(r) + 0.5 * scale[0])
    m[1, 0], m[1, 1] = math.sin(r) * sy, math.cos(r) * sy
    m[1, 2] = sy * (-0.5 * input_size[0] * math.sin(r) - 0.5 * input_size[1] * math.cos(r) + 0.5 * scale[1])
    return m


def test_box_centre_and_scale_pad_and_expand_the_short_side():
    processor = TopDownProcessor(input_size=INPUT)  # 3:4
    center, scale = processor.box_center_scale(np.array([10.0, 20.0, 30.0, 100.0]))
    np.testing.assert_allclose(center, [[25.0, 70.0]])
    np.testing.assert_allclose(scale, [[37.5, 125.0]])  # padded by 1.25, aspect not fixed yet
    np.testing.assert_allclose(processor.input_scale(scale), [[125 * 0.75, 125.0]])  # too narrow: widened
    wide = TopDownProcessor(input_size=INPUT, padding=1.0)
    _, scale = wide.box_center_scale(np.array([0.0, 0.0, 200.0, 100.0]))
    np.testing.assert_allclose(wide.input_scale(scale), [[200.0, 200 / 0.75]])  # too wide: taller
    centers, scales = processor.box_center_scale(np.array([[10.0, 20.0, 30.0, 100.0], [0, 0, 200, 100]]))
    assert centers.shape == scales.shape == (2, 2)
    np.testing.assert_allclose(
        processor.input_scale(scales)[:, 0] / processor.input_scale(scales)[:, 1], 0.75
    )
    np.testing.assert_allclose(fix_aspect_ratio(np.array([75.0, 100.0]), 0.75), [75.0, 100.0])


def test_ground_truth_boxes_are_clipped_to_the_image_as_mmpose_loads_them():
    """mmpose's COCO loader: x1 = clip(x, 0, w - 1), x2 = clip(x + bw, 0, w - 1) (same for y), float32."""
    processor = TopDownProcessor(input_size=INPUT, padding=1.0)
    boxes = np.array([[-10.5, 5.25, 120.0, 400.0], [30.0, 40.0, 50.0, 60.0], [600.3, -3.0, 100.0, 50.0]])
    sizes = np.array([[300, 640]] * 3)  # height, width
    centers, scales = processor.box_center_scale(boxes, sizes)
    x1, y1, x2, y2 = (
        np.float32(v)
        for v in ([0.0, 30.0, 600.3], [5.25, 40.0, 0.0], [109.5, 80.0, 639.0], [299.0, 100.0, 47.0])
    )
    np.testing.assert_allclose(centers, np.stack([(x1 + x2) / 2, (y1 + y2) / 2], 1), atol=1e-5)
    np.testing.assert_allclose(scales, np.stack([x2 - x1, y2 - y1], 1), atol=1e-5)
    unclipped_centers, _ = processor.box_center_scale(boxes)  # detections are not clipped
    np.testing.assert_allclose(unclipped_centers[0], [49.5, 205.25])


@pytest.mark.parametrize("rotation", [0.0, 17.0, -63.5])
def test_udp_warp_matrix_matches_mmpose(rotation):
    rng = np.random.default_rng(0)
    for _ in range(5):
        center, scale = rng.uniform(50, 500, 2), rng.uniform(20, 300, 2)
        ours = udp_warp_matrix(center, scale, rotation, INPUT)
        np.testing.assert_allclose(
            ours, mmpose_udp_warp_matrix(center, scale, rotation, INPUT[::-1]), atol=1e-9
        )


def test_udp_warp_maps_box_edges_to_pixel_centres_0_and_size_minus_1():
    center, scale = np.array([100.0, 80.0]), np.array([96.0, 128.0])
    m = udp_warp_matrix(center, scale, 0.0, INPUT)
    corners = transform_points(np.array([center - scale / 2, center + scale / 2, center]), m)
    np.testing.assert_allclose(corners, [[0, 0], [191, 255], [95.5, 127.5]], atol=1e-9)


def test_points_warp_then_inverse_is_identity():
    rng = np.random.default_rng(1)
    points = rng.uniform(-50, 700, size=(100, 2))
    for rotation in (0.0, 33.0, -170.0):
        m = udp_warp_matrix(rng.uniform(100, 400, 2), rng.uniform(50, 300, 2), rotation, INPUT)
        np.testing.assert_allclose(
            transform_points(transform_points(points, m), invert_affine(m)), points, atol=1e-9
        )
        flipped = compose(m, hflip_matrix(INPUT[1]))
        np.testing.assert_allclose(
            transform_points(transform_points(points, flipped), invert_affine(flipped)), points, atol=1e-9
        )


def smooth_image(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 127 + 100 * np.sin(x / 17.0) * np.cos(y / 23.0)
    g = 127 + 100 * np.cos((x + y) / 29.0)
    return np.dstack([r, g, 0.5 * x + 0.3 * y]).astype(np.float32)


def test_image_warp_then_inverse_warp_is_identity_on_a_smooth_image():
    image = smooth_image(300, 400)
    center, scale = np.array([210.0, 150.0]), np.array([120.0, 160.0])  # zoom in: no detail is lost
    m = udp_warp_matrix(center, scale, 25.0, INPUT)
    crop = warp_image(image, m, INPUT)
    back = warp_image(crop, invert_affine(m), image.shape[:2])
    # compare where the crop covered the image, away from its border
    y, x = np.mgrid[0:300, 0:400]
    inside = transform_points(np.stack([x, y], -1).reshape(-1, 2), m).reshape(300, 400, 2)
    mask = (inside[..., 0] > 2) & (inside[..., 0] < 189) & (inside[..., 1] > 2) & (inside[..., 1] < 253)
    assert mask.sum() > 5000
    assert np.abs(back[mask] - image[mask]).max() < 0.5  # values span ~0..400


def test_warp_samples_the_image_where_the_matrix_says():
    image = smooth_image(200, 300)  # channel 2 = 0.5 x + 0.3 y: bilinear sampling is exact on it
    m = udp_warp_matrix(np.array([150.0, 100.0]), np.array([90.0, 120.0]), 40.0, INPUT)
    crop = warp_image(image, m, INPUT)
    src = transform_points(np.array([[95.0, 127.0], [10.0, 30.0], [180.0, 240.0]]), invert_affine(m))
    expected = 0.5 * src[:, 0] + 0.3 * src[:, 1]
    np.testing.assert_allclose(crop[[127, 30, 240], [95, 10, 180], 2], expected, atol=2e-2)


def test_hflip_is_exact_in_pixel_space():
    image = smooth_image(256, 192)
    flipped = warp_image(image, hflip_matrix(192), INPUT)
    np.testing.assert_array_equal(flipped, image[:, ::-1])
    np.testing.assert_allclose(compose(hflip_matrix(192), hflip_matrix(192)), [[1, 0, 0], [0, 1, 0]])


def symmetric_person(schema: KeypointSchema, center_x: float = 200.0) -> np.ndarray:
    """A COCO-17 pose mirror-symmetric about x = center_x (left at +dx, right at -dx)."""
    rng = np.random.default_rng(5)
    kps = np.zeros((schema.num_keypoints, 3))
    kps[:, 2] = 2
    kps[:, 1] = 100 + 20 * np.arange(schema.num_keypoints)
    for a, b in schema.flip_pairs:
        dx = rng.uniform(10, 60)
        kps[a, 0], kps[b, 0] = center_x + dx, center_x - dx
        kps[b, 1] = kps[a, 1]
    unpaired = [i for i in range(schema.num_keypoints) if schema.side(i) == "center"]
    kps[unpaired, 0] = center_x
    return kps


def test_flip_swaps_left_and_right_labels():
    schema = get_preset("coco17")
    kps = symmetric_person(schema)
    center, scale = np.array([200.0, 260.0]), np.array([300.0, 400.0])
    processor = TopDownProcessor(input_size=INPUT)
    plain = processor.warp_matrix(center, scale)
    flipped = processor.warp_matrix(center, scale, flip=True)
    a = warp_keypoints(kps, plain)
    b = warp_keypoints(kps, flipped, schema.flip_index)
    # a mirror-symmetric person looks the same after a flip with the labels swapped
    np.testing.assert_allclose(b, a, atol=1e-9)
    # an asymmetric one: the flipped left shoulder sits where the mirrored right shoulder was
    kps[6, 0] += 25
    a = warp_keypoints(kps, plain)
    b = warp_keypoints(kps, flipped, schema.flip_index)
    left_shoulder, right_shoulder = schema.names.index("left_shoulder"), schema.names.index("right_shoulder")
    np.testing.assert_allclose(b[left_shoulder, 0], 191 - a[right_shoulder, 0], atol=1e-9)
    np.testing.assert_allclose(b[right_shoulder, 0], 191 - a[left_shoulder, 0], atol=1e-9)
    assert schema.side(left_shoulder) == "left"


def test_random_params_are_reproducible_and_follow_the_recipe():
    config = AugmentConfig(colour_prob=0.0)
    center, scale = np.array([100.0, 100.0]), np.array([75.0, 100.0])
    one = random_augment_params(np.random.default_rng((0, 1, 2)), config, center, scale)
    two = random_augment_params(np.random.default_rng((0, 1, 2)), config, center, scale)
    assert one.flip == two.flip and one.rotation == two.rotation
    np.testing.assert_array_equal(one.scale, two.scale)
    samples = [
        random_augment_params(np.random.default_rng((0, 0, i)), config, center, scale) for i in range(3000)
    ]
    flips = np.mean([s.flip for s in samples])
    rotations = np.array([s.rotation for s in samples])
    factors = np.array([s.scale[0] / 75.0 for s in samples])
    shifted = np.mean([not np.allclose(s.center, center) for s in samples])
    assert 0.45 < flips < 0.55
    assert 0.35 < np.mean(rotations == 0) < 0.45 and np.abs(rotations).max() <= 80
    assert np.abs(rotations).max() > 40  # rotation is N(0, 40) truncated at 2 sigma, as in ViTPose/mmpose
    assert factors.min() >= 0.5 and factors.max() <= 1.5 and factors.std() > 0.2
    assert 0.25 < shifted < 0.35
    assert all(s.colour is None for s in samples)


def test_disabled_augmentation_keeps_the_box():
    config = AugmentConfig(
        flip_prob=0, half_body_prob=0, shift_prob=0, scale_prob=0, rotation_prob=0, colour_prob=0
    )
    params = random_augment_params(
        np.random.default_rng(0), config, np.array([5.0, 6.0]), np.array([3.0, 4.0])
    )
    assert not params.flip and params.rotation == 0 and params.colour is None
    np.testing.assert_array_equal(params.center, [5, 6])
    np.testing.assert_array_equal(params.scale, [3, 4])


def test_half_body_crops_the_labelled_upper_or_lower_body():
    schema = get_preset("coco17")
    kps = symmetric_person(schema)
    config = AugmentConfig(half_body_prob=1.0, flip_prob=0, shift_prob=0, scale_prob=0, rotation_prob=0)
    center, scale = np.array([200.0, 260.0]), np.array([300.0, 400.0])
    seen = set()
    for i in range(60):
        p = random_augment_params(np.random.default_rng(i), config, center, scale, kps, schema)
        part = schema.upper_body if p.center[1] < center[1] else schema.lower_body
        pts = kps[part, :2]
        np.testing.assert_allclose(p.center, pts.mean(axis=0))
        np.testing.assert_allclose(p.scale, (pts.max(axis=0) - pts.min(axis=0)) * 1.5)
        seen.add(p.center[1] < center[1])
    assert seen == {True, False}
    few = kps.copy()
    few[:10, 2] = 0  # 7 labelled keypoints < 9 required
    p = random_augment_params(np.random.default_rng(0), config, center, scale, few, schema)
    np.testing.assert_array_equal(p.center, center)
    no_parts = KeypointSchema.from_names([f"kp{i}" for i in range(17)])  # no upper/lower body: never
    p = random_augment_params(np.random.default_rng(0), config, center, scale, kps, no_parts)
    np.testing.assert_array_equal(p.center, center)


def test_colour_jitter():
    rng = np.random.default_rng(0)
    image = rng.integers(40, 200, size=(64, 48, 3), dtype=np.uint8)
    np.testing.assert_array_equal(apply_colour_jitter(image, ColourJitter()), image)
    assert apply_colour_jitter(image, ColourJitter(brightness=1.3)).mean() > image.mean() * 1.2
    low = apply_colour_jitter(image, ColourJitter(contrast=0.5)).astype(float)
    assert low.std() < image.std() * 0.6
    grey = apply_colour_jitter(image, ColourJitter(saturation=0.0)).astype(int)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 1 and np.abs(grey[..., 1] - grey[..., 2]).max() <= 1
    shifted = apply_colour_jitter(image, ColourJitter(hue=0.25))
    assert np.abs(shifted.astype(int) - image).mean() > 10
    flat = np.full((8, 8, 3), 128, np.uint8)  # grey has no hue
    np.testing.assert_array_equal(apply_colour_jitter(flat, ColourJitter(hue=0.3)), flat)


def test_augment_config_validates():
    with pytest.raises(ValidationError):
        AugmentConfig(flip_prob=1.5)
    with pytest.raises(ValidationError):
        AugmentConfig(scale_factor=1.0)
    with pytest.raises(ValidationError):
        AugmentConfig(rotaton=30)  # typo: unknown field
