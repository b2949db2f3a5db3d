"""Files other tools read, written from :class:`~posekit.analysis.tracks.Tracks` (atomically).

- :func:`write_tables`: ``keypoints.csv`` (tidy: one row per keypoint of a person in a frame) and
  ``people.csv`` (wide: one row per person and frame, ``<name>_x``, ``_y``, ``_score``), plus the same as
  Parquet when pyarrow is installed.
- :func:`write_openpose`: one OpenPose JSON per frame (``people[].pose_keypoints_2d``, the 18-point
  COCO order of OpenPose and ControlNet; the neck is the shoulders' midpoint, as DWPose makes it).
- :func:`write_trc`: an OpenSim marker file (.trc): X right, Y up (image height - y), Z 0.
- :func:`write_sleap`: ``.slp`` (SLEAP; movement and DeepLabCut's converters read it) and ``.nwb`` (NWB
  ndx-pose) through sleap-io (the ``animal`` extra), whose readers load them back.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from pathlib import Path

import numpy as np

from posekit.analysis.tracks import Tracks
from posekit.errors import ConfigError
from posekit.fileio import atomic_save, atomic_write_json, atomic_write_text

#: OpenPose's 18-point COCO body order (used by ControlNet's OpenPose conditioning) in COCO-17 names;
#: "neck" is the mean of the shoulders.
OPENPOSE18 = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
)


def _rows(tracks: Tracks) -> list[tuple[int, int]]:
    """(person, frame) pairs present, frame-major."""
    present = np.isfinite(tracks.xy[..., 0]).any(axis=2)
    return [(p, t) for t in range(len(tracks.files)) for p in range(len(tracks.track_ids)) if present[p, t]]


def tidy_columns(tracks: Tracks) -> dict[str, list]:
    """The tidy table's columns: file, frame, time, track_id, keypoint, x, y, score, visible."""
    cols: dict[str, list] = {
        c: [] for c in ("file", "frame", "time", "track_id", "keypoint", "x", "y", "score", "visible")
    }
    times = tracks.times
    for p, t in _rows(tracks):
        for k, name in enumerate(tracks.names):
            values = (
                tracks.files[t],
                int(tracks.frames[t]),
                float(times[t]),
                int(tracks.track_ids[p]),
                name,
                float(tracks.xy[p, t, k, 0]),
                float(tracks.xy[p, t, k, 1]),
                float(tracks.scores[p, t, k]),
                int(tracks.visible[p, t, k]),
            )
            for column, value in zip(cols, values, strict=True):
                cols[column].append(value)
    return cols


def wide_columns(tracks: Tracks, extra: dict[str, np.ndarray] | None = None) -> dict[str, list]:
    """The wide table's columns: file, frame, time, track_id, then x, y, score per keypoint, then
    ``extra`` (name -> (P, T) values, e.g. angles)."""
    cols: dict[str, list] = {"file": [], "frame": [], "time": [], "track_id": []}
    for name in tracks.names:
        cols.update({f"{name}_x": [], f"{name}_y": [], f"{name}_score": []})
    cols.update({name: [] for name in extra or {}})
    times = tracks.times
    for p, t in _rows(tracks):
        values = [tracks.files[t], int(tracks.frames[t]), float(times[t]), int(tracks.track_ids[p])]
        for k in range(len(tracks.names)):
            values += [
                float(tracks.xy[p, t, k, 0]),
                float(tracks.xy[p, t, k, 1]),
                float(tracks.scores[p, t, k]),
            ]
        values += [float(v[p, t]) for v in (extra or {}).values()]
        for column, value in zip(cols, values, strict=True):
            cols[column].append(value)
    return cols


def write_table(columns: dict[str, list], path: str | Path) -> list[Path]:
    """Write ``columns`` as CSV (empty cells for NaN, 6 decimals) and, when pyarrow is installed, as
    Parquet beside it; returns the files written."""
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in zip(*columns.values(), strict=True):
        writer.writerow(
            [
                "" if isinstance(v, float) and math.isnan(v) else round(v, 6) if isinstance(v, float) else v
                for v in row
            ]
        )
    atomic_write_text(path, buffer.getvalue())
    written = [path]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return written
    parquet = path.with_suffix(".parquet")
    atomic_save(parquet, lambda tmp: pq.write_table(pa.table(columns), tmp))
    return [*written, parquet]


def write_openpose(tracks: Tracks, folder: str | Path) -> list[Path]:
    """One ``<image stem>_keypoints.json`` (``<video stem>_<frame, 12 digits>_keypoints.json``) per frame
    in ``folder``, as OpenPose names them; keypoints that are not visible, and those COCO-17 lacks, are
    ``0, 0, 0`` as OpenPose writes undetected ones."""
    if not all(n in tracks.names for n in OPENPOSE18 if n != "neck"):
        raise ConfigError("OpenPose JSON needs COCO-17 body keypoints; these predictions have other names")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths, per_file = [], Counter(tracks.files)
    for t, file in enumerate(tracks.files):
        people = []
        for p in range(len(tracks.track_ids)):
            if not np.isfinite(tracks.xy[p, t, :, 0]).any():
                continue
            flat: list[float] = []
            for name in OPENPOSE18:
                idx = [
                    tracks.index(n)
                    for n in (("left_shoulder", "right_shoulder") if name == "neck" else (name,))
                ]
                if tracks.visible[p, t, idx].all():
                    x, y = tracks.xy[p, t, idx].mean(axis=0)
                    flat += [
                        round(float(x), 4),
                        round(float(y), 4),
                        round(float(tracks.scores[p, t, idx].min()), 5),
                    ]
                else:
                    flat += [0.0, 0.0, 0.0]
            people.append(
                {
                    "person_id": [int(tracks.track_ids[p])],
                    "pose_keypoints_2d": flat,
                    "face_keypoints_2d": [],
                    "hand_left_keypoints_2d": [],
                    "hand_right_keypoints_2d": [],
                }
            )
        height, width = (int(v) for v in tracks.sizes[t])
        stem = Path(file).stem
        if per_file[file] > 1:  # a video's frames: OpenPose names them <video>_<12-digit frame>
            stem = f"{stem}_{int(tracks.frames[t]):012d}"
        path = folder / f"{stem}_keypoints.json"
        atomic_write_json(
            path, {"version": 1.3, "people": people, "canvas_width": width, "canvas_height": height}
        )
        paths.append(path)
    return paths


def write_trc(tracks: Tracks, person: int, path: str | Path, metres_per_pixel: float | None = None) -> Path:
    """OpenSim .trc markers of track ``person`` (frames without it, or a marker not visible, left empty):
    metres with ``metres_per_pixel``, else pixels (units "px"). Needs a video (fps)."""
    if not tracks.fps:
        raise ConfigError("a .trc file needs a frame rate: analyse a video's predictions (or give --fps)")
    scale, units = (metres_per_pixel, "m") if metres_per_pixel else (1.0, "px")
    names, frames = tracks.names, len(tracks.files)
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{Path(path).name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{tracks.fps:g}\t{tracks.fps:g}\t{frames}\t{len(names)}\t{units}\t{tracks.fps:g}\t1\t{frames}",
        "Frame#\tTime\t" + "\t\t\t".join(names) + "\t\t",
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, len(names) + 1)),
        "",
    ]
    for t in range(frames):
        cells = [str(t + 1), f"{tracks.times[t]:.6f}"]
        for k in range(len(names)):
            x, y = tracks.xy[person, t, k]
            if tracks.visible[person, t, k] and np.isfinite(x):
                cells += [f"{x * scale:.6f}", f"{(tracks.sizes[t, 0] - y) * scale:.6f}", "0"]
            else:
                cells += ["", "", ""]
        lines.append("\t".join(cells))
    atomic_write_text(path, "\n".join(lines) + "\n")
    return Path(path)


def sleap_labels(tracks: Tracks, video: str | Path, edges: list[tuple[int, int]] | None = None):
    """A sleap-io ``Labels`` of the tracks (points not visible are NaN, scores kept); ``video`` is the
    source file the labels refer to."""
    try:
        import sleap_io as sio
    except ImportError:
        raise ConfigError(
            "SLEAP, NWB and DeepLabCut files need sleap-io: pip install 'posekit[animal]'"
        ) from None
    arr = np.concatenate([tracks.xy, tracks.scores[..., None]], axis=-1).transpose(1, 0, 2, 3).copy()
    arr[~tracks.visible.transpose(1, 0, 2)] = np.nan
    skeleton = sio.Skeleton(
        name="posekit",
        nodes=list(tracks.names),
        edges=[(tracks.names[a], tracks.names[b]) for a, b in edges or []],
    )
    tracks_list = [sio.Track(name=str(i)) for i in tracks.track_ids]
    return sio.Labels.from_numpy(
        arr,
        videos=[sio.Video(filename=str(video))],
        skeletons=skeleton,
        tracks=tracks_list,
        return_confidence=True,
    )


def write_sleap(
    tracks: Tracks, folder: str | Path, video: str | Path, edges: list[tuple[int, int]] | None = None
) -> list[Path]:
    """``predictions.slp`` and ``predictions.nwb`` in ``folder``. (sleap-io's DeepLabCut CSV is left out:
    it drops the scores and its own reader finds no frames in it.)"""
    import sleap_io as sio

    labels = sleap_labels(tracks, video, edges)
    folder = Path(folder)
    out = [folder / "predictions.slp", folder / "predictions.nwb"]
    atomic_save(out[0], lambda tmp: sio.save_slp(labels, str(tmp)))
    atomic_save(out[1], lambda tmp: sio.save_nwb(labels, str(tmp)))
    return out
