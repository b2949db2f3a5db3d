"""UDP heatmap codec: encode vs mmpose's generator, exact round trip, DARK decode vs a plain reference."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import torch

from posekit.datasets.schema import get_preset
from posekit.topdown.affine import invert_affine, transform_points, udp_warp_matrix
from posekit.topdown.heatmap_codec import UDPHeatmapCodec, flip_heatmaps, input_to_image


def reference_encode(keypoints_hm, visible, size_hw, sigma):
    """mmpose 1.x ``generate_udp_gaussian_heatmaps`` for one person, line by line (keypoints in heatmap
    pixels): the nearest pixel truncates towards zero, and the window test is mmpose's."""
    h, w = size_hw
    heatmaps = np.zeros((len(keypoints_hm), h, w), np.float32)
    weights = (np.asarray(visible) > 0).astype(np.float32)
    radius = sigma * 3
    size = 2 * radius + 1
    x = np.arange(0, size, 1, dtype=np.float32)
    y = x[:, None]
    for k, point in enumerate(keypoints_hm):
        if visible[k] < 0.5:
            continue
        mu = (point + 0.5).astype(np.int64)
        left, top = (mu - radius).astype(np.int64)
        right, bottom = (mu + radius + 1).astype(np.int64)
        if left >= w or top >= h or right < 0 or bottom < 0:
            weights[k] = 0
            continue
        x0 = y0 = size // 2
        x0 += point[0] - mu[0]
        y0 += point[1] - mu[1]
        g = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))
        gx1, gx2, gy1, gy2 = max(0, -left), min(w, right) - left, max(0, -top), min(h, bottom) - top
        hx1, hx2, hy1, hy2 = max(0, left), min(w, right), max(0, top), min(h, bottom)
        heatmaps[k, hy1:hy2, hx1:hx2] = np.maximum(heatmaps[k, hy1:hy2, hx1:hx2], g[gy1:gy2, gx1:gx2])
    return heatmaps, weights


def reference_decode(heatmaps, kernel):
    """mmpose 1.x ``UDPHeatmap.decode`` for one person, line by line: ``get_heatmap_maximum``, then
    ``refine_keypoints_dark_udp`` (``gaussian_blur`` map by map, clip, log, edge pad, flat indexing,
    ``inv(H + eps I)``); returns heatmap pixels and scores."""
    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    y_locs, x_locs = np.unravel_index(np.argmax(flat, axis=1), shape=(h, w))
    locs = np.stack((x_locs, y_locs), axis=-1).astype(np.float32)
    scores = np.amax(flat, axis=1)
    locs[scores <= 0.0] = -1
    maps = heatmaps.copy()
    border = (kernel - 1) // 2
    for i in range(k):
        origin_max = np.max(maps[i])
        dr = np.zeros((h + 2 * border, w + 2 * border), dtype=np.float32)
        dr[border:-border, border:-border] = maps[i].copy()
        dr = cv2.GaussianBlur(dr, (kernel, kernel), 0)
        maps[i] = dr[border:-border, border:-border].copy()
        with np.errstate(invalid="ignore", divide="ignore"):  # a map without a peak becomes NaN, as in mmpose
            maps[i] *= origin_max / np.max(maps[i])
    np.clip(maps, 1e-3, 50.0, maps)
    np.log(maps, maps)
    pad = np.pad(maps, ((0, 0), (1, 1), (1, 1)), mode="edge").flatten()
    index = locs[:, 0] + 1 + (locs[:, 1] + 1) * (w + 2)
    index += (w + 2) * (h + 2) * np.arange(0, k)
    index = index.astype(int).reshape(-1, 1)
    i_, ix1, iy1 = pad[index], pad[index + 1], pad[index + w + 2]
    ix1y1, ix1_y1_, ix1_, iy1_ = pad[index + w + 3], pad[index - w - 3], pad[index - 1], pad[index - 2 - w]
    derivative = np.concatenate([0.5 * (ix1 - ix1_), 0.5 * (iy1 - iy1_)], axis=1).reshape(k, 2, 1)
    dxx, dyy = ix1 - 2 * i_ + ix1_, iy1 - 2 * i_ + iy1_
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
    hessian = np.linalg.inv(
        np.concatenate([dxx, dxy, dxy, dyy], axis=1).reshape(k, 2, 2) + np.finfo(np.float32).eps * np.eye(2)
    )
    locs -= np.einsum("imn,ink->imk", hessian, derivative).squeeze()
    return locs, scores


CASES = [
    ((256, 192), (64, 48), 2.0),
    ((384, 288), (96, 72), 3.0),
    ((256, 256), (64, 64), 1.5),
    ((128, 96), (32, 24), 1.0),
]


@pytest.mark.parametrize(("input_size", "heatmap_size", "sigma"), CASES)
def test_encode_then_decode_returns_in_bounds_keypoints(input_size, heatmap_size, sigma):
    codec = UDPHeatmapCodec(input_size, heatmap_size, sigma, decode="posekit")  # exact up to the borders
    rng = np.random.default_rng(0)
    # anywhere in the input, borders included
    points = rng.uniform([0, 0], [input_size[1] - 1, input_size[0] - 1], size=(400, 2))
    points[:4] = [[0, 0], [input_size[1] - 1, input_size[0] - 1], [0.3, 100.7], [input_size[1] - 1.2, 3.3]]
    heatmaps, weights = codec.encode(points, np.full(len(points), 2))
    assert heatmaps.shape == (len(points), *heatmap_size) and weights.dtype == np.float32
    assert np.all(weights == 1)
    decoded, scores = codec.decode(heatmaps[None])
    error = np.abs(decoded[0] - points) * codec.to_heatmap  # in heatmap pixels
    assert error.max() < 0.05
    assert np.all(scores > 0.7)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_encode_matches_mmpose_udp_gaussian(sigma):
    codec = UDPHeatmapCodec((256, 192), (64, 48), sigma)
    rng = np.random.default_rng(1)
    points = np.concatenate(
        [
            rng.uniform([-40, -40], [230, 300], size=(60, 2)),  # some outside the input
            [[-30.0, 10.0], [-10.0, 20.0], [200.0, 270.0], [191.0, 255.0]],
        ]
    )
    visible = rng.integers(0, 3, size=len(points))
    ours, our_weights = codec.encode(points, visible)
    ref, ref_weights = reference_encode(points * codec.to_heatmap, visible, (64, 48), sigma)
    np.testing.assert_array_equal(our_weights, ref_weights)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_target_weights_zero_for_unlabelled_and_far_outside_points():
    codec = UDPHeatmapCodec()
    points = np.array(
        [[50.0, 50.0], [50.0, 50.0], [-100.0, 50.0], [50.0, 400.0], [-4.0, 50.0], [np.nan, 1.0]]
    )
    heatmaps, weights = codec.encode(points, np.array([2, 0, 2, 1, 1, 2]))
    np.testing.assert_array_equal(weights, [1, 0, 0, 0, 1, 0])
    assert heatmaps[0].max() > 0.9
    assert np.all(heatmaps[[1, 2, 3, 5]] == 0)
    # just outside the input: a cut Gaussian on the border that still carries weight (as mmpose)
    assert 0 < heatmaps[4].max() < 1 and heatmaps[4][:, 0].max() == heatmaps[4].max()
    # mmpose keeps weight 1 (and an empty target) for a window ending up to a pixel before the map:
    # x = -7.3 -> mu = trunc(-6.8) = -6, window [-12, 1) reaches pixel 0; x = -8 -> mu = -7, window
    # [-13, 0) is empty but keeps weight 1; x = -9 -> mu = -8, window [-14, -1): weight 0
    far = np.array([[-7.3, 50.0], [-8.0, 50.0], [-9.0, 50.0]]) / codec.to_heatmap
    far_maps, far_weights = codec.encode(far, np.array([2, 2, 2]))
    np.testing.assert_array_equal(far_weights, [1, 1, 0])
    assert far_maps[0, :, 0].max() == pytest.approx(np.exp(-(7.3**2) / 8), rel=1e-5)
    assert np.all(far_maps[1:] == 0)


def realistic_heatmaps(rng, n, k, h, w):
    """Blurry, noisy, sometimes two-peaked maps with the peak away from the border."""
    y, x = np.mgrid[0:h, 0:w]
    maps = np.zeros((n, k, h, w), np.float32)
    for i, j in itertools.product(range(n), range(k)):
        cx, cy = rng.uniform(8, w - 9), rng.uniform(8, h - 9)
        s = rng.uniform(1.5, 3.0)
        maps[i, j] = rng.uniform(0.3, 1.0) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
        if rng.random() < 0.3:
            maps[i, j] += 0.3 * np.exp(-((x - cx - 6) ** 2 + (y - cy + 4) ** 2) / 8.0)
    return maps + rng.normal(0, 0.01, maps.shape).astype(np.float32)


def test_decode_matches_mmpose_away_from_the_borders():
    codec = UDPHeatmapCodec()
    heatmaps = realistic_heatmaps(np.random.default_rng(2), 6, 17, 64, 48)
    keypoints, scores = codec.decode(heatmaps)
    assert keypoints.shape == (6, 17, 2) and scores.shape == (6, 17)
    for person in range(6):
        ref, ref_scores = reference_decode(heatmaps[person], codec.blur_kernel_size)
        np.testing.assert_allclose(keypoints[person] * codec.to_heatmap, ref, atol=1e-4)
        np.testing.assert_allclose(scores[person], ref_scores, rtol=1e-6)


def border_heatmaps(rng, n, k, h, w):
    """Peaks anywhere, the borders and just outside included, some flat or noisy maps."""
    y, x = np.mgrid[0:h, 0:w]
    centres = rng.uniform([-2, -2], [w + 1, h + 1], size=(n, k, 2))
    centres[0, :4] = [[0, 0], [w - 1, h - 1], [0.4, h / 2], [w - 1.3, 2.6]]
    sigma = rng.uniform(1.5, 3.0, size=(n, k, 1, 1))
    maps = np.exp(
        -((x - centres[..., 0, None, None]) ** 2 + (y - centres[..., 1, None, None]) ** 2) / (2 * sigma**2)
    )
    maps = (maps * rng.uniform(0.2, 1.0, size=(n, k, 1, 1))).astype(np.float32)
    if n > 1:
        maps[1, :3] += rng.normal(0, 0.05, (3, h, w)).astype(np.float32)
        maps[1, 3] = 0.0
    return maps, centres


@pytest.mark.parametrize(("heatmap_size", "sigma"), [((64, 48), 2.0), ((96, 72), 3.0), ((32, 24), 1.0)])
def test_reference_decode_equals_mmpose_everywhere(heatmap_size, sigma):
    h, w = heatmap_size
    codec = UDPHeatmapCodec((h * 4, w * 4), heatmap_size, sigma, decode="reference")
    rng = np.random.default_rng(7)
    heatmaps, _ = border_heatmaps(rng, 4, 17, h, w)
    # and the maps of an untrained model: noise, flat, nearly singular log-maps (where the decoder takes
    # mmpose's whole-map path instead of blurring the stencil alone)
    noise = rng.normal(rng.uniform(-0.1, 0.5, (2, 17, 1, 1)), 0.1, (2, 17, h, w)).astype(np.float32)
    heatmaps = np.concatenate([heatmaps, noise])
    keypoints, scores = codec.decode(heatmaps)
    for person in range(len(heatmaps)):
        ref, ref_scores = reference_decode(heatmaps[person], codec.blur_kernel_size)
        ok = ref_scores > 0  # mmpose reads another map's memory for a map without a positive peak
        error = np.abs(keypoints[person] * codec.to_heatmap - ref)[ok] / codec.to_heatmap  # input pixels
        assert error.max() < 1e-3
        np.testing.assert_array_equal(scores[person], ref_scores)


def test_posekit_decode_is_closer_to_true_border_peaks_than_the_reference():
    codec, reference = UDPHeatmapCodec(decode="posekit"), UDPHeatmapCodec(decode="reference")
    heatmaps, centres = border_heatmaps(np.random.default_rng(8), 1, 40, 64, 48)
    near = (centres[0, :, 0] < 6) | (centres[0, :, 0] > 41) | (centres[0, :, 1] < 6) | (centres[0, :, 1] > 57)
    inside = (
        (centres[0, :, 0] >= 0)
        & (centres[0, :, 0] <= 47)
        & (centres[0, :, 1] >= 0)
        & (centres[0, :, 1] <= 63)
    )
    chosen = near & inside
    assert chosen.sum() >= 5
    ours = np.linalg.norm(codec.decode(heatmaps)[0][0] * codec.to_heatmap - centres[0], axis=1)[chosen]
    ref = np.linalg.norm(reference.decode(heatmaps)[0][0] * codec.to_heatmap - centres[0], axis=1)[chosen]
    assert ours.mean() < ref.mean() and ours.max() < 0.3


def test_decode_accepts_single_person_and_torch_and_degenerate_maps():
    codec = UDPHeatmapCodec()
    heatmaps = realistic_heatmaps(np.random.default_rng(3), 2, 5, 64, 48)
    batch, batch_scores = codec.decode(heatmaps)
    single, single_scores = codec.decode(heatmaps[1])
    np.testing.assert_allclose(single, batch[1])
    from_torch, _ = codec.decode(torch.from_numpy(heatmaps))
    np.testing.assert_allclose(from_torch, batch)
    flat, flat_scores = codec.decode(np.zeros((1, 2, 64, 48), np.float32))
    assert np.all(np.isfinite(flat)) and np.all(flat_scores == 0)
    noise, _ = codec.decode(np.random.default_rng(4).random((3, 4, 64, 48)).astype(np.float32))
    assert np.all(np.isfinite(noise))


def test_flip_heatmaps_undoes_a_horizontal_input_flip():
    schema = get_preset("coco17")
    codec = UDPHeatmapCodec()
    rng = np.random.default_rng(5)
    points = rng.uniform([5, 5], [186, 250], size=(17, 2))
    original, _ = codec.encode(points, np.ones(17))
    mirrored = points.copy()
    mirrored[:, 0] = 191 - mirrored[:, 0]  # the input image flipped: x -> (w - 1) - x
    flipped_input, _ = codec.encode(mirrored[schema.flip_index], np.ones(17))  # what the model predicts
    back = flip_heatmaps(torch.from_numpy(flipped_input[None]), schema.flip_index)
    np.testing.assert_allclose(back[0].numpy(), original, atol=1e-6)


def test_input_to_image_inverts_the_udp_warp():
    rng = np.random.default_rng(6)
    centers, scales = rng.uniform(100, 500, (4, 2)), rng.uniform(50, 300, (4, 2))
    points = rng.uniform(0, 191, (4, 17, 2))
    ours = input_to_image(points, centers, scales, (256, 192))
    for i in range(4):
        inverse = invert_affine(udp_warp_matrix(centers[i], scales[i], 0.0, (256, 192)))
        np.testing.assert_allclose(ours[i], transform_points(points[i], inverse), atol=1e-9)
    corners = input_to_image(np.array([[[0.0, 0.0], [191.0, 255.0]]]), centers[:1], scales[:1], (256, 192))
    np.testing.assert_allclose(corners[0], [centers[0] - scales[0] / 2, centers[0] + scales[0] / 2])


def test_flip_heatmaps_is_the_same_for_numpy_and_torch() -> None:
    heatmaps = np.random.default_rng(0).random((2, 3, 4, 5)).astype(np.float32)
    flip_index = [0, 2, 1]
    expected = flip_heatmaps(torch.from_numpy(heatmaps), flip_index).numpy()
    np.testing.assert_array_equal(flip_heatmaps(heatmaps, flip_index), expected)
    np.testing.assert_array_equal(expected[:, 1, :, 0], heatmaps[:, 2, :, -1])
