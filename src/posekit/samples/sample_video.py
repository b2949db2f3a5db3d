"""The built-in video sample: the still sample's people walking, with PoseTrack-style ground truth.

A short clip (default 100 frames of 640x480 at 25 fps) of 2-4 capsule figures
(:mod:`posekit.samples.figures`, the same looks as in the still sample, 0.4-0.8 of the image height like
its multi-person images) walking sideways over a static textured background. The pelvis moves at a
constant speed and bobs twice per gait cycle; the legs, arms and trunk swing with the gait and the face
turns slowly, so every joint moves smoothly (joint angles stay within the still sample's ranges). People
walk at different depths (nearer: lower, larger and drawn later), so when two cross, the joints of the
one behind that the other covers are labelled occluded (v=1); one or two striped objects (the still
sample's occluder) hide the joints of whoever passes behind them. Everyone turns round out of sight
beyond the image edges and comes back with the same ``track_id``; the first person does so within the
clip: it starts near an edge, walks out, is out of the image for a while (no annotation while no joint
is in the image; joints outside the image are v=0) and walks back in.

Output folder::

    frames/000001.jpg ...   the frames (JPEG, quality 92, as the still sample's images)
    video.mp4               the same frames (OpenCV VideoWriter, mp4v)
    annotations.json        COCO keypoints, PoseTrack 2018 style: images carry vid_id, frame_id (= id),
                            nframes, is_labeled; annotations track_id (0-based) and bbox_head (the head's
                            square, not clipped to the image)
    data.yaml               train: and val: both name annotations.json

Everything is drawn from ``np.random.default_rng(seed)``: the same arguments give the same files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posekit.errors import ConfigError, PosekitError
from posekit.fileio import atomic_write_json, atomic_write_text, build_once, encode_image, posekit_home
from posekit.samples import figures
from posekit.samples.figures import Body, Occluder, Pose
from posekit.samples.sample_images import coco_annotation, coco_document

#: Bump when the generator changes, so a cached sample is regenerated.
SAMPLE_VIDEO_VERSION = "sample-video-v1"
_TURN = 0.7  # people turn round this many of their heights beyond the image edge: out of sight
_STRIDE = 0.8  # pelvis travel per gait cycle, in heights


@dataclass(frozen=True)
class _Walker:
    """A person's look and walk; positions in pixels, speeds in pixels per frame."""

    track_id: int
    body: Body
    base: Pose  # the still-sample pose the walk's lean, head, face and bend directions come from
    depth: float  # 0 far .. 1 near
    x0: float  # pelvis x at frame 0
    rightwards: bool  # direction at frame 0
    speed: float
    ground: float  # pelvis y before the bob
    phase: float  # gait phase at frame 0 (radians)
    arm: tuple[float, float]  # mean spread, swing amplitude (degrees)
    leg: tuple[float, float]
    elbow: float  # mean bend (degrees)
    knee: float
    yaw_period: float  # frames
    yaw_phase: float


def generate_video(
    out_dir: str | Path,
    num_frames: int = 100,
    fps: float = 25.0,
    image_size: tuple[int, int] = (480, 640),
    num_people: int | None = None,
    seed: int = 0,
) -> Path:
    """Write ``frames/``, ``video.mp4``, ``annotations.json`` and ``data.yaml`` into ``out_dir``; return
    the path of ``data.yaml``. ``image_size`` is (height, width); ``num_people`` defaults to 2-4."""
    if num_frames < 1 or fps <= 0 or min(image_size) < 16 or (num_people is not None and num_people < 1):
        raise ConfigError(
            f"generate_video: num_frames={num_frames}, fps={fps}, image_size={image_size}, "
            f"num_people={num_people}; need at least 1 frame, fps > 0, images of 16 px or more and "
            "at least 1 person"
        )
    out = Path(out_dir)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    height, width = image_size
    scene = figures.random_background(rng, image_size)
    count = int(rng.integers(2, 5)) if num_people is None else num_people
    walkers = _walkers(rng, count, image_size, num_frames)
    occluders = _occluders(rng, walkers, image_size, num_frames)
    writer = cv2.VideoWriter(str(out / "video.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise PosekitError(f"OpenCV cannot write an mp4v video to {out / 'video.mp4'}; check that folder")
    vid_id = f"{seed:06d}"
    images, annotations = [], []
    try:
        for frame in range(num_frames):
            image = scene.copy()
            placed = [figures.place(w.body, *_pose(w, frame, width)) for w in walkers]
            ids, masks = figures.draw_people(image, placed)
            for occluder in occluders:
                figures.paint_occluder(occluder, image, ids)
            image_id = frame + 1
            name = f"frames/{image_id:06d}.jpg"
            (out / name).write_bytes(encode_image(image))
            writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            images.append(
                {
                    "id": image_id,
                    "file_name": name,
                    "height": height,
                    "width": width,
                    "vid_id": vid_id,
                    "frame_id": image_id,
                    "nframes": num_frames,
                    "is_labeled": True,
                }
            )
            labels = figures.label_people(placed, masks, ids, 1)
            for walker, fig, person in zip(walkers, placed, labels, strict=True):
                if person is None:
                    continue
                centre, radius = fig.head
                annotation = coco_annotation(len(annotations) + 1, image_id, *person)
                annotation["track_id"] = walker.track_id
                annotation["bbox_head"] = [
                    round(float(v), 2) for v in (*(centre - radius), 2 * radius, 2 * radius)
                ]
                annotations.append(annotation)
    finally:
        writer.release()
    description = f"posekit synthetic video sample ({SAMPLE_VIDEO_VERSION}, seed {seed})"
    atomic_write_json(out / "annotations.json", coco_document(images, annotations, description), indent=None)
    yaml_path = out / "data.yaml"
    atomic_write_text(
        yaml_path,
        f"# posekit built-in synthetic video sample (COCO-17, PoseTrack-style tracks), seed {seed}\n"
        "train: {json: annotations.json, images: .}\n"
        "val: {json: annotations.json, images: .}\n",
    )
    return yaml_path


def sample_video_path() -> Path:
    """The built-in video sample's data YAML, generated once under ``$POSEKIT_HOME`` (default
    ``~/.cache/posekit``) in ``sample-video-v1/`` and reused."""
    # generate_video looked up at call time (tests replace it with a smaller clip)
    folder = build_once(
        posekit_home() / SAMPLE_VIDEO_VERSION, generate_video, "data.yaml", "the built-in video sample"
    )
    return folder / "data.yaml"


# ---------------------------------------------------------------------------------------------- walks
def _walkers(rng: np.random.Generator, count: int, size: tuple[int, int], num_frames: int) -> list[_Walker]:
    """``count`` people, far to near (the drawing order). Person 0 leaves the image and comes back within
    ``num_frames``; the others start alternately on the left heading right and on the right heading left,
    so they cross."""
    h, w = size
    depths = (rng.permutation(count) + rng.uniform(0.1, 0.9, count)) / count  # one depth band each
    walkers = []
    for index, depth in enumerate(depths):
        height = h * (0.4 + 0.4 * depth)
        body, base = figures.random_person(rng, height)
        turn = _TURN * height
        if index == 0:
            rightwards = bool(rng.random() < 0.5)
            from_edge = rng.uniform(0.08, 0.25) * w
            x0 = w - from_edge if rightwards else from_edge
            speed = 2 * (from_edge + turn) / (rng.uniform(0.55, 0.75) * num_frames)  # back at x0 by then
        else:
            rightwards = index % 2 == 1
            x0 = rng.uniform(0.1, 0.4) * w if rightwards else rng.uniform(0.6, 0.9) * w
            speed = rng.uniform(0.015, 0.035) * height
        walkers.append(
            _Walker(
                track_id=index,
                body=body,
                base=base,
                depth=float(depth),
                x0=float(x0),
                rightwards=rightwards,
                speed=float(speed),
                ground=h * (0.78 + 0.2 * depth) - 0.44 * height,
                phase=rng.uniform(0, 2 * math.pi),
                arm=(rng.uniform(15, 40), rng.uniform(8, 20)),
                leg=(rng.uniform(8, 15), rng.uniform(6, 12)),
                elbow=rng.uniform(15, 60),
                knee=rng.uniform(3, 10),
                yaw_period=rng.uniform(40, 120),
                yaw_phase=rng.uniform(0, 2 * math.pi),
            )
        )
    return sorted(walkers, key=lambda walker: walker.depth)


def _pose(walker: _Walker, frame: int, width: int) -> tuple[Pose, np.ndarray]:
    """The walker's pose and pelvis position at ``frame``."""
    height = walker.body.height
    travelled = walker.speed * frame
    gait = walker.phase + 2 * math.pi * travelled / (_STRIDE * height)
    s, c = math.sin(gait), math.cos(gait)
    base = walker.base
    elbow_sign = [1.0 if bend >= 0 else -1.0 for bend in base.elbow]
    knee_sign = [1.0 if bend >= 0 else -1.0 for bend in base.knee]
    arm, swing = walker.arm
    leg, stride = walker.leg
    yaw = base.yaw + 0.2 * math.sin(2 * math.pi * frame / walker.yaw_period + walker.yaw_phase)
    pose = Pose(
        tilt=0.3 * base.tilt + 2.5 * s,
        head=0.5 * base.head + 2.0 * s,
        yaw=float(np.clip(yaw, -0.45, 0.45)),
        # both legs swing the same way in the image (stepping sideways), the arms against them
        arm_spread=(arm - swing * s, arm + swing * s),
        elbow=(elbow_sign[0] * (walker.elbow + 10 * s), elbow_sign[1] * (walker.elbow - 10 * s)),
        leg_spread=(leg + stride * s, leg - stride * s),
        knee=(knee_sign[0] * (walker.knee + 12 * (1 + c)), knee_sign[1] * (walker.knee + 12 * (1 - c))),
    )
    x = _shuttle(walker, travelled, width)
    return pose, np.array([x, walker.ground + 0.012 * height * math.cos(2 * gait)])


def _shuttle(walker: _Walker, travelled: float, width: int) -> float:
    """Pelvis x after walking ``travelled`` pixels from ``x0``, turning round ``_TURN`` heights beyond
    either image edge."""
    lo = -_TURN * walker.body.height
    length = width - 2 * lo
    start = walker.x0 - lo if walker.rightwards else 2 * length - (walker.x0 - lo)
    u = (start + travelled) % (2 * length)  # along a loop: [0, length] rightwards, then back
    return lo + (u if u <= length else 2 * length - u)


def _occluders(
    rng: np.random.Generator, walkers: list[_Walker], size: tuple[int, int], num_frames: int
) -> list[Occluder]:
    """One or two striped objects, each over a joint of a person at a frame where it is in the image."""
    h, w = size
    occluders = []
    for _ in range(int(rng.integers(1, 3))):
        walker = walkers[int(rng.integers(len(walkers)))]
        frames = [t for t in range(num_frames) if 0.1 * w <= _pose(walker, t, w)[1][0] <= 0.9 * w]
        if frames:
            frame = frames[int(rng.integers(len(frames)))]
            occluders.append(
                figures.random_occluder(rng, size, figures.place(walker.body, *_pose(walker, frame, w)))
            )
    return occluders
