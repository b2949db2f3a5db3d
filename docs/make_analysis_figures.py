"""The README's analysis pictures (docs/images/analysis_*.png), from the motion clips.

Each clip is analysed as ``posekit analyze`` does; with ``--model`` the keypoints are that model's
predictions in the clips' ground-truth boxes, without it the clips' labels stand in for predictions.

    python docs/make_analysis_figures.py --model runs/train/exp/weights/best
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np

from posekit.analysis.exports import OPENPOSE18
from posekit.samples.motion_clips import generate_clip
from posekit.tasks.analyze import analyze

OUT = Path(__file__).parent / "images"
#: ControlNet's OpenPose limbs (pairs in OPENPOSE18 order) and the colours it draws them in (RGB).
LIMBS = [
    (1, 2),
    (1, 5),
    (2, 3),
    (3, 4),
    (5, 6),
    (6, 7),
    (1, 8),
    (8, 9),
    (9, 10),
    (1, 11),
    (11, 12),
    (12, 13),
    (1, 0),
    (0, 14),
    (14, 16),
    (0, 15),
    (15, 17),
]
COLOURS = [
    (255, 0, 0),
    (255, 85, 0),
    (255, 170, 0),
    (255, 255, 0),
    (170, 255, 0),
    (85, 255, 0),
    (0, 255, 0),
    (0, 255, 85),
    (0, 255, 170),
    (0, 255, 255),
    (0, 170, 255),
    (0, 85, 255),
    (0, 0, 255),
    (85, 0, 255),
    (170, 0, 255),
    (255, 0, 255),
    (255, 0, 170),
    (255, 0, 85),
]


def _source(folder: Path, model) -> object:
    if model is None:
        return folder / "annotations.json"
    results = model.predict(
        str(folder / "frames"), boxes=str(folder / "annotations.json"), save=False, stream=False
    )
    return [r.to_dict() for r in results]


def _openpose_picture(json_path: Path, path: Path) -> None:
    """Draw an exported OpenPose JSON the way ControlNet's OpenPose conditioning images look."""
    doc = json.loads(json_path.read_text())
    canvas = np.zeros((doc["canvas_height"], doc["canvas_width"], 3), np.uint8)
    for person in doc["people"]:
        pts = np.array(person["pose_keypoints_2d"]).reshape(18, 3)
        for (a, b), colour in zip(LIMBS, COLOURS, strict=False):
            if pts[a, 2] > 0 and pts[b, 2] > 0:
                cv2.line(
                    canvas, tuple(int(v) for v in pts[a, :2]), tuple(int(v) for v in pts[b, :2]), colour, 4
                )
        for i, colour in enumerate(COLOURS[: len(OPENPOSE18)]):
            if pts[i, 2] > 0:
                cv2.circle(canvas, tuple(int(v) for v in pts[i, :2]), 4, colour, -1)
    cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default=None, help="a posekit model folder (default: labels as predictions)"
    )
    args = parser.parse_args()
    import posekit

    model = posekit.load(args.model, device="cpu") if args.model else None
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        for kind, options in (
            ("squat", {"exercise": "squat"}),
            ("walk", {"gait": True, "height": 1.75}),
            ("curl", {"exercise": "curl", "exports": ("openpose", "trc")}),
        ):
            folder = Path(tmp) / kind
            truth = generate_clip(folder, kind, seed=0)
            result = analyze(_source(folder, model), fps=truth["fps"], project=runs, name=kind, **options)
            png = next(result.save_dir.glob("angles_*.png"))
            OUT.joinpath(f"analysis_{kind}.png").write_bytes(png.read_bytes())
            if kind == "curl":
                frame = truth["reps"][0][1]
                _openpose_picture(
                    result.save_dir / "openpose" / f"{frame + 1:06d}_keypoints.json",
                    OUT / "analysis_openpose.png",
                )
    print(f"wrote {sorted(p.name for p in OUT.glob('analysis_*'))}")


if __name__ == "__main__":
    main()
