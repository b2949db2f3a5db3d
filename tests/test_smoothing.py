"""Temporal smoothing: One-Euro behaviour, offline gap filling + Savitzky-Golay, and the jitter measure."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.signal import savgol_filter

from posekit.errors import ConfigError
from posekit.inference.smoothing import (
    OneEuroFilter,
    OneEuroParams,
    SavgolParams,
    jitter,
    jitter_report,
    savgol_smooth,
    smooth_offline,
    smooth_online,
    window_note,
)

FPS = 30.0


def noisy_walk(num_frames=90, num_people=2, k=5, noise=3.0, speed=1.0, seed=0):
    """Per frame: track ids, noisy keypoints, scores, boxes (100x200); and the clean keypoints.
    ``speed`` scales the smooth motion (0: people standing still)."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None, None, None]
    base = rng.uniform(50, 400, (1, num_people, k, 2))
    clean = base + speed * (np.array([1.5, 0.3]) * t + 8 * np.sin(t / 15.0))  # (T, P, K, 2)
    noisy = clean + rng.normal(0, noise, clean.shape)
    ids = [np.arange(1, num_people + 1) for _ in range(num_frames)]
    scores = [np.full((num_people, k), 0.9) for _ in range(num_frames)]
    boxes = [np.tile([0.0, 0.0, 100.0, 200.0], (num_people, 1)) for _ in range(num_frames)]
    return ids, list(noisy), scores, boxes, clean


def test_one_euro_first_sample_passes_and_still_points_are_smoothed():
    f = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.0))
    x0 = np.array([[10.0, 20.0]])
    np.testing.assert_array_equal(f(x0, 0.0), x0)
    rng = np.random.default_rng(1)
    raw = x0 + rng.normal(0, 2.0, (300, 1, 2))
    out = np.stack([f(r, (i + 1) / FPS) for i, r in enumerate(raw)])
    assert np.abs(np.diff(out, axis=0)).mean() < 0.25 * np.abs(np.diff(raw, axis=0)).mean()


def test_one_euro_equals_first_order_low_pass_when_beta_is_zero():
    """With beta = 0 the cutoff is fixed: x_hat = x_hat + alpha (x - x_hat), alpha = 1 / (1 + tau / dt)."""
    f = OneEuroFilter(OneEuroParams(min_cutoff=2.0, beta=0.0))
    xs = np.random.default_rng(2).normal(size=(20, 1, 2))
    alpha = 1 / (1 + (1 / (2 * np.pi * 2.0)) * FPS)
    expected = xs[0].copy()
    f(xs[0], 0.0)
    for i, x in enumerate(xs[1:], start=1):
        expected = expected + alpha * (x - expected)
        np.testing.assert_allclose(f(x, i / FPS), expected, rtol=1e-12, atol=1e-12)


def test_one_euro_speed_opens_the_cutoff_so_fast_motion_lags_less():
    ramp = np.arange(60)[:, None, None] * np.array([10.0, 0.0])  # 300 px/s
    lag = {}
    for beta in (0.0, 80.0):
        f = OneEuroFilter(OneEuroParams(min_cutoff=0.05, beta=beta))
        out = [f(x, i / FPS, scale=100.0) for i, x in enumerate(ramp)]
        lag[beta] = float(np.abs(ramp[-1] - out[-1]).max())
    assert lag[80.0] < 0.1 * lag[0.0]
    assert lag[80.0] < 10.0  # under one frame of motion


def test_one_euro_is_scale_invariant():
    """The cutoff follows speed in object sizes per second: the same motion 10x larger filters the same."""
    xs = np.cumsum(np.random.default_rng(3).normal(0, 2, (40, 3, 2)), axis=0)
    small, large = OneEuroFilter(), OneEuroFilter()
    for i, x in enumerate(xs):
        np.testing.assert_allclose(
            large(10 * x, i / FPS, scale=500.0), 10 * small(x, i / FPS, scale=50.0), rtol=1e-9
        )


def test_savgol_smooth_matches_scipy_on_a_complete_track():
    points = np.random.default_rng(4).normal(size=(30, 3, 2))
    out = savgol_smooth(points, np.ones((30, 3), bool), SavgolParams(window=7, polyorder=2))
    np.testing.assert_allclose(out, savgol_filter(points, 7, 2, axis=0))


def test_savgol_fills_short_gaps_only():
    t = np.arange(40, dtype=float)
    points = np.stack([t, 2 * t], axis=-1)[:, None, :]  # a straight line: interpolation and SG are exact
    valid = np.ones((40, 1), bool)
    valid[10:14] = False  # 4-frame gap: filled
    valid[20:35] = False  # 15-frame gap: kept raw
    points[20:35] = -1.0
    out = savgol_smooth(points, valid, SavgolParams(window=5, polyorder=2, max_gap=10))
    np.testing.assert_allclose(out[10:14, 0], np.stack([t[10:14], 2 * t[10:14]], -1), atol=1e-9)
    np.testing.assert_array_equal(out[20:35], -1.0)
    np.testing.assert_allclose(out[:20, 0], np.stack([t[:20], 2 * t[:20]], -1), atol=1e-9)


def test_smoothing_lowers_jitter_of_still_people():
    ids, noisy, scores, boxes, _ = noisy_walk(speed=0.0)
    report = jitter_report(ids, noisy, scores, boxes, FPS)
    assert report["raw"].shape == (5,)
    assert (report["online"] < 0.3 * report["raw"]).all()
    assert (report["offline"] < 0.5 * report["raw"]).all()


def test_smoothing_keeps_real_motion_and_offline_lowers_error():
    ids, noisy, scores, boxes, clean = noisy_walk()
    report = jitter_report(ids, noisy, scores, boxes, FPS)
    true_jitter = jitter(ids, list(clean), [s > 0 for s in scores])
    assert (report["offline"] < 0.75 * report["raw"]).all()
    assert (report["offline"] > 0.8 * true_jitter).all()  # the walk itself is kept
    offline = np.stack(smooth_offline(ids, noisy, scores))
    online = np.stack(smooth_online(ids, noisy, boxes, FPS))
    raw_error = np.abs(np.stack(noisy) - clean).mean()
    assert np.abs(offline - clean).mean() < 0.6 * raw_error
    assert np.abs(online - clean).mean() < 1.1 * raw_error  # no lag worth the name


def test_untracked_and_low_score_people_are_left_alone():
    ids, noisy, scores, boxes, _ = noisy_walk(num_frames=20)
    ids = [np.array([1, -1]) for _ in ids]
    offline = smooth_offline(ids, noisy, scores)
    online = smooth_online(ids, noisy, boxes, FPS)
    for f in range(20):
        np.testing.assert_array_equal(offline[f][1], noisy[f][1])
        np.testing.assert_array_equal(online[f][1], noisy[f][1])
    low = [np.zeros_like(s) for s in scores]  # nothing above the threshold: nothing to trust, raw kept
    np.testing.assert_array_equal(np.stack(smooth_offline(ids, noisy, low)), np.stack(noisy))


def test_jitter_counts_only_consecutive_valid_pairs():
    ids = [np.array([1])] * 4
    kps = [
        np.array([[[0.0, 0.0]]]),
        np.array([[[3.0, 4.0]]]),
        np.array([[[100.0, 0.0]]]),
        np.array([[[103.0, 4.0]]]),
    ]
    valid = [np.array([[True]]), np.array([[True]]), np.array([[False]]), np.array([[True]])]
    np.testing.assert_allclose(jitter(ids, kps, valid), [5.0])
    assert np.isnan(jitter(ids, kps, [np.array([[False]])] * 4)[0])


def test_bad_savgol_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="odd"):
        SavgolParams(window=8)
    with pytest.raises(ConfigError, match="polyorder"):
        SavgolParams(window=5, polyorder=5)


def test_a_window_longer_than_the_clip_is_fitted_to_it_and_said():
    """9 frames asked on a 5-frame clip: the 5-frame window is used (as scipy computes it), and said."""
    ids, noisy, scores, _, _ = noisy_walk(num_frames=5, num_people=1, k=2, speed=0.0)
    said = r"5 frames, fewer than the Savitzky-Golay window of 9; a 5-frame window is used \(polyorder 2\)"
    params = SavgolParams(window=9, polyorder=2)
    assert re.search(said + r"\. Pass --window 5", window_note(params, 5))
    assert window_note(params, 9) is None
    smoothed = smooth_offline(ids, noisy, scores, 0.3, params)
    np.testing.assert_allclose(np.stack(smoothed)[:, 0], savgol_filter(np.stack(noisy)[:, 0], 5, 2, axis=0))
    still = [np.ones(len(i), dtype=bool)[:, None].repeat(2, 1) for i in ids]
    assert (jitter(ids, smoothed, still) < jitter(ids, noisy, still)).all()  # still people: less jitter
    assert re.search("2 frames, .* too short to smooth: keypoints kept", window_note(params, 2))
    kept = smooth_offline(ids[:2], noisy[:2], scores[:2], 0.3, params)
    np.testing.assert_array_equal(np.stack(kept), np.stack(noisy[:2]))
