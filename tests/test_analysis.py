"""posekit.analysis and posekit analyze: angles against hand computation, reps and gait events against the
motion clips' truth, exports read back by their own libraries."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from posekit.analysis.angles import AngleDef, AngleSeries, angle_set, compute_angles, keypoint_sd
from posekit.analysis.exports import (
    OPENPOSE18,
    tidy_columns,
    write_openpose,
    write_sleap,
    write_table,
    write_trc,
)
from posekit.analysis.gait import gait_events
from posekit.analysis.reps import count_reps, preset, rep_signal
from posekit.analysis.tracks import read_predictions, tracks_from_frames
from posekit.cli.app import app
from posekit.samples.motion_clips import EXERCISES, generate_clip

SIZE = (240, 320)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """One small clip of each kind (ground truth as predictions): kind -> (folder, truth)."""
    root = tmp_path_factory.mktemp("clips")
    return {k: (root / k, generate_clip(root / k, k, seed=3, image_size=SIZE)) for k in (*EXERCISES, "walk")}


def _tracks(clips, kind):
    folder, truth = clips[kind]
    return read_predictions(folder / "annotations.json", fps=truth["fps"])


def _interior(a, b, c):
    """The angle at b, by the law of cosines (a different formula from the code's atan2)."""
    ab, cb, ac = math.dist(a, b), math.dist(c, b), math.dist(a, c)
    return math.degrees(math.acos((ab**2 + cb**2 - ac**2) / (2 * ab * cb)))


def test_angles_equal_hand_computed(clips):
    tracks = _tracks(clips, "squat")
    series = compute_angles(tracks, angle_set(tracks.names))
    xy = {n: tracks.xy[0, :, k] for k, n in enumerate(tracks.names)}
    for t in range(0, len(tracks.files), 7):
        p = {n: tuple(v[t]) for n, v in xy.items()}
        hip = tuple((np.array(p["left_hip"]) + p["right_hip"]) / 2)
        shoulder = tuple((np.array(p["left_shoulder"]) + p["right_shoulder"]) / 2)
        expected = {
            "left_knee": 180 - _interior(p["left_hip"], p["left_knee"], p["left_ankle"]),
            "right_elbow": 180 - _interior(p["right_shoulder"], p["right_elbow"], p["right_wrist"]),
            "left_shoulder": _interior(p["left_hip"], p["left_shoulder"], p["left_elbow"]),
            "neck": 180 - _interior(hip, shoulder, p["nose"]),
            # mid-hip to mid-shoulder against the upward vertical, anticlockwise on the screen positive
            "trunk_lean": math.degrees(math.atan2(-(shoulder[0] - hip[0]), -(shoulder[1] - hip[1]))),
        }
        for name, value in expected.items():
            assert series.values[0, t, series.names.index(name)] == pytest.approx(value, abs=1e-6)


def test_angle_sd_matches_monte_carlo():
    """The delta method's SD equals the spread of angles of noisy points (small noise: first order holds)."""
    rng = np.random.default_rng(0)
    base = np.array([[0.0, 0.0], [40.0, 10.0], [70.0, 50.0]])
    sd = np.array([0.5, 0.8, 0.3])
    noisy = base + rng.normal(size=(20000, 3, 2)) * sd[:, None]
    frames = [
        {
            "frame": i,
            "people": [{"keypoints": {n: [*pt, 1.0, True] for n, pt in zip("abc", pts, strict=True)}}],
        }
        for i, pts in enumerate(np.vstack([base[None], noisy]))
    ]
    tracks = tracks_from_frames(frames)
    defs = [AngleDef("b", (("a",), ("b",), ("c",))), AngleDef("ac", (("a",), ("c",)), "horizontal")]
    series = compute_angles(tracks, defs, np.broadcast_to(sd, tracks.xy.shape[:3]))
    for a in range(2):
        assert series.values[0, 1:, a].std() == pytest.approx(series.sd[0, 0, a], rel=0.03)


@pytest.mark.parametrize("kind", EXERCISES)
def test_reps_exact_on_ground_truth(clips, kind):
    tracks = _tracks(clips, kind)
    series = compute_angles(tracks, angle_set(tracks.names))
    chosen = preset(kind)
    reps = count_reps(rep_signal(series, 0, chosen.angles), chosen.min_range, rest_band=0)
    assert [[r.start, r.peak, r.end] for r in reps] == clips[kind][1]["reps"]
    assert all(r.range > chosen.min_range for r in reps)


def test_gait_events_exact_on_ground_truth(clips):
    tracks, truth = _tracks(clips, "walk"), clips["walk"][1]
    events = gait_events(tracks, 0)
    lo, hi = truth["cycle_frames"] // 4, truth["num_frames"] - truth["cycle_frames"] // 4
    for found, key in ((events.heel_strikes, "heel_strikes"), (events.toe_offs, "toe_offs")):
        for side in ("left", "right"):
            inside = [int(f) for f in found[side] if lo <= f < hi]
            assert inside == [f for f in truth[key][side] if lo <= f < hi]
            assert inside


def test_csv_and_parquet_round_trip(clips, tmp_path):
    tracks = _tracks(clips, "curl")
    written = write_table(tidy_columns(tracks), tmp_path / "keypoints.csv")
    with open(written[0], newline="") as f:
        rows = list(csv.DictReader(f))
    k = tracks.names.index("left_wrist")
    row = next(r for r in rows if r["keypoint"] == "left_wrist" and r["frame"] == "5")
    assert (
        abs(float(row["x"]) - tracks.xy[0, 5, k, 0]) < 1e-3
        and abs(float(row["y"]) - tracks.xy[0, 5, k, 1]) < 1e-3
    )
    assert row["file"] == "frames/000006.jpg" and len(rows) == len(tracks.files) * len(tracks.names)
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(tmp_path / "keypoints.parquet").to_pydict()
    assert np.allclose(table["x"][: len(tracks.names)], tracks.xy[0, 0, :, 0], atol=1e-3)


def test_openpose_json_order_and_neck(clips, tmp_path):
    tracks = _tracks(clips, "jumping_jack")
    paths = write_openpose(tracks, tmp_path)
    doc = json.loads(paths[10].read_text())
    assert (doc["canvas_width"], doc["canvas_height"]) == (SIZE[1], SIZE[0])
    points = np.array(doc["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    for i, name in enumerate(OPENPOSE18):
        if name == "neck":
            expected = tracks.xy[0, 10, [tracks.index("left_shoulder"), tracks.index("right_shoulder")]].mean(
                0
            )
        else:
            expected = tracks.xy[0, 10, tracks.index(name)]
        if points[i, 2] > 0:
            assert np.allclose(points[i, :2], expected, atol=1e-3)


def test_trc_read_by_opensim(clips, tmp_path):
    opensim = pytest.importorskip("opensim")
    tracks = _tracks(clips, "walk")
    path = write_trc(tracks, 0, tmp_path / "walk.trc")
    table = opensim.TimeSeriesTableVec3(str(path))
    assert table.getNumRows() == len(tracks.files) and list(table.getColumnLabels()) == tracks.names
    k, t = tracks.index("right_ankle"), 12
    marker = table.getRowAtIndex(t)[k]
    assert abs(marker[0] - tracks.xy[0, t, k, 0]) < 1e-3
    assert abs(SIZE[0] - marker[1] - tracks.xy[0, t, k, 1]) < 1e-3


@pytest.mark.slow
def test_sleap_and_nwb_read_by_sleap_io(clips, tmp_path):
    sio = pytest.importorskip("sleap_io")
    tracks = _tracks(clips, "squat")
    slp, nwb = write_sleap(tracks, tmp_path, "squat.mp4")
    for labels in (sio.load_slp(str(slp)), sio.load_nwb(str(nwb))):
        arr = labels.numpy()
        assert arr.shape == (len(tracks.files), 1, len(tracks.names), 2)
        assert np.nanmax(np.abs(arr[:, 0] - tracks.xy[0])) < 1e-3


@pytest.mark.slow
def test_analyze_cli_writes_the_run(clips, tmp_path):
    folder, truth = clips["squat"]
    args = [
        "analyze",
        str(folder / "annotations.json"),
        "--fps",
        str(truth["fps"]),
        "--exercise",
        "squat",
        "--export",
        "openpose",
        "--project",
        str(tmp_path),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"track 0: {len(truth['reps'])} reps" in result.output
    run = tmp_path / "analyze" / "exp"
    for name in ("keypoints.csv", "people.csv", "angles.csv", "reps.csv", "angles_track0.png", "report.html"):
        assert (run / name).is_file(), name
    assert len(list((run / "openpose").glob("*_keypoints.json"))) == truth["num_frames"]
    with open(run / "reps.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(truth["reps"])


def test_analyze_bad_source_is_one_message(tmp_path):
    from posekit.cli.app import main

    with pytest.raises(SystemExit) as stop:
        import sys

        sys.argv = ["posekit", "analyze", str(tmp_path / "missing")]
        main()
    assert stop.value.code == 1


def test_sd_grows_with_factor(clips):
    tracks = _tracks(clips, "curl")
    defs = angle_set(tracks.names)
    small, large = (compute_angles(tracks, defs, keypoint_sd(tracks, f)).sd for f in (0.1, 0.2))
    assert np.allclose(large[np.isfinite(large)], 2 * small[np.isfinite(small)])


def test_flip_gaps_give_the_keypoint_sd_where_recorded(clips):
    """predict --flip records each keypoint's flip gap fifth: the SD is FLIP_SD_FACTOR x gap there, the OKS
    model where a record has none; the report names the model used."""
    from posekit.analysis.angles import FLIP_SD_FACTOR
    from posekit.tasks.analyze import analyze

    tracks = _tracks(clips, "squat")
    frames, names = [], tracks.names
    for t in range(tracks.xy.shape[1]):
        gap = [[0.01 * (t + k)] if t % 2 else [] for k in range(len(names))]  # odd frames only
        keypoints = {n: [*tracks.xy[0, t, k], 1.0, True, *gap[k]] for k, n in enumerate(names)}
        person = {"track_id": 0, "box": tracks.boxes[0, t].tolist(), "keypoints": keypoints}
        frames.append({"frame": t, "people": [person]})
    got = analyze(frames, fps=25, save=False)
    sd = keypoint_sd(got.tracks)
    odd = np.arange(1, len(frames), 2)[:, None]
    assert np.allclose(sd[0, 1::2], FLIP_SD_FACTOR * 0.01 * (odd + np.arange(len(names))))
    assert np.allclose(sd[0, ::2], keypoint_sd(got.tracks, flip_factor=None)[0, ::2])
    assert np.isnan(got.tracks.flip_gaps[0, ::2]).all()
    assert got.sd_model.startswith(f"{FLIP_SD_FACTOR:g} x the flip test") and "OKS" in got.sd_model
    assert "--flip" in analyze(frames[::2], fps=25, save=False).sd_model


def test_clips_are_reproducible(tmp_path):
    a = generate_clip(tmp_path / "a", "walk", seed=5, image_size=SIZE, num_frames=20)
    b = generate_clip(tmp_path / "b", "walk", seed=5, image_size=SIZE, num_frames=20)
    assert a == b
    assert (tmp_path / "a" / "annotations.json").read_bytes() == (
        tmp_path / "b" / "annotations.json"
    ).read_bytes()


def test_gait_timing_survives_left_right_swaps(clips):
    """A model that swaps the ankles in a side view leaves the heel-strike and toe-off frames unchanged."""
    tracks = _tracks(clips, "walk")
    expected = gait_events(tracks, 0)
    left, right = tracks.index("left_ankle"), tracks.index("right_ankle")
    tracks.xy[0, 20:60, [left, right]] = tracks.xy[0, 20:60, [right, left]]
    swapped = gait_events(tracks, 0)
    for before, after in (
        (expected.heel_strikes, swapped.heel_strikes),
        (expected.toe_offs, swapped.toe_offs),
    ):
        assert sorted(np.concatenate(list(before.values()))) == sorted(np.concatenate(list(after.values())))


def test_gait_timing_survives_hips_that_wobble_with_the_stride(clips):
    """Hips that sway +-10 px with the legs (as a model's do) leave the events on the same frames."""
    tracks, truth = _tracks(clips, "walk"), clips["walk"][1]
    expected = gait_events(tracks, 0)
    left, right = tracks.index("left_ankle"), tracks.index("right_ankle")
    # the wobble follows the leading ankle, peaking a few frames after each heel strike
    lead = np.abs(tracks.xy[0, :, left, 0] - tracks.xy[0, :, right, 0])
    wobble = 10 * np.roll(lead / lead.max() - 0.5, truth["cycle_frames"] // 8)
    for hip in ("left_hip", "right_hip"):
        tracks.xy[0, :, tracks.index(hip), 0] += wobble
    wobbled = gait_events(tracks, 0)
    for before, after in (
        (expected.heel_strikes, wobbled.heel_strikes),
        (expected.toe_offs, wobbled.toe_offs),
    ):
        assert sorted(np.concatenate(list(before.values()))) == sorted(np.concatenate(list(after.values())))


def _bumps(tops: list[float], plateau: int = 0) -> np.ndarray:
    """Raised-cosine reps rising from 10 to ``tops`` (30 frames each, 10 of rest between); ``plateau``:
    frames the top is held with a 1-degree dip in its middle (two equal maxima)."""
    rest, parts = np.full(10, 10.0), []
    for top in tops:
        u = np.arange(31) / 30
        bump = 10 + (top - 10) * (1 - np.cos(2 * np.pi * u)) / 2
        held = np.full(plateau, float(top)) - np.sin(np.pi * np.arange(plateau) / max(plateau - 1, 1))
        parts += [rest, bump[:15], held, bump[15:]]
    return np.concatenate([*parts, rest])


def test_a_held_top_is_one_rep():
    """A rep held at its top, wavering between two equal maxima, counts once."""
    reps = count_reps(_bumps([100, 100, 100], plateau=12), 40)
    assert [r.peak for r in reps] == [25, 78, 131]
    assert len(count_reps(_bumps([100, 100, 100]), 40)) == 3


def test_reps_under_read_by_the_model_still_count():
    """A model that reads a 130-degree curl as 44 degrees: each rep counts (half the track's own spread);
    a still track's 10-degree noise does not (never under half of ``min_range``)."""
    assert len(count_reps(_bumps([54, 54, 54, 54]), 50)) == 4
    rng = np.random.default_rng(0)
    assert count_reps(10 + 10 * rng.random(200), 50) == []


def test_rep_signal_bridges_a_sides_gap():
    """One rep on the left elbow, unseen for a few frames at its top while the right elbow rests: one rep."""
    t = np.arange(60)
    left = 10 + 80 * (1 - np.cos(2 * np.pi * np.clip((t - 10) / 40, 0, 1))) / 2
    left[28:33] = np.nan
    values = np.stack([left, np.full(60, 10.0)], axis=1)[None]
    series = AngleSeries(
        ["left_elbow", "right_elbow"], ["flexion"] * 2, values, values * 0, values, values * 0
    )
    reps = count_reps(rep_signal(series, 0, ("left_elbow", "right_elbow")), 40)
    assert [(r.start, r.peak > 27, r.end) for r in reps] == [(13, True, 47)]


def test_read_predictions_files(tmp_path):
    """predictions.json (COCO results: COCO-17 names from the count) and predictions.jsonl (track ids kept,
    untracked people numbered by their place in the frame)."""
    points = np.arange(51, dtype=float).reshape(17, 3)
    results = [{"image_id": 7, "keypoints": points.ravel().tolist(), "score": 0.9, "bbox": [0, 0, 10, 20]}]
    (tmp_path / "predictions.json").write_text(json.dumps(results))
    tracks = read_predictions(tmp_path)
    assert tracks.names[:2] == ["nose", "left_eye"] and tracks.track_ids.tolist() == [-1]
    assert np.array_equal(tracks.xy[0, 0], points[:, :2]) and tracks.files == ["7"]
    person = {"box": [0, 0, 10, 20], "keypoints": {"a": [1.0, 2.0, 0.8, True], "b": [3.0, 4.0, 0.1, False]}}
    frames = [
        {"frame": 0, "name": "v", "height": 9, "width": 9, "people": [{**person, "track_id": 5}]},
        {"frame": 1, "name": "v", "height": 9, "width": 9, "people": [{**person, "track_id": -1}, person]},
    ]
    (tmp_path / "predictions.jsonl").write_text("\n".join(json.dumps(f) for f in frames))
    tracks = read_predictions(tmp_path, fps=10)
    assert tracks.track_ids.tolist() == [5, -1, -2] and tracks.visible[2, 1].tolist() == [True, False]
    assert np.isnan(tracks.xy[1, 0]).all() and tracks.times.tolist() == [0.0, 0.1]
    stills = [{"file": f"{i:06d}.jpg", "frame": 0, "people": [person]} for i in range(3)]
    assert tracks_from_frames(stills, fps=10).times.tolist() == [0.0, 0.1, 0.2]  # a video's frames as images
    assert tracks_from_frames(stills).frames.tolist() == [0, 0, 0]


def test_unknown_export_is_a_config_error(clips):
    from posekit.errors import ConfigError
    from posekit.tasks.analyze import analyze

    with pytest.raises(ConfigError, match="unknown export dlc"):
        analyze(clips["curl"][0] / "annotations.json", exports=["dlc"], save=False)


def test_openpose_names_video_frames(clips, tmp_path):
    """A video's frames share a file: OpenPose's <video>_<12-digit frame>_keypoints.json tells them apart."""
    tracks = _tracks(clips, "curl")
    tracks.files = ["clip.mp4"] * len(tracks.files)
    names = [p.name for p in write_openpose(tracks, tmp_path)]
    assert names[:2] == ["clip_000000000000_keypoints.json", "clip_000000000001_keypoints.json"]
    assert len(set(names)) == len(tracks.files)
