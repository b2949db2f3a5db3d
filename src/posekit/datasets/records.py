"""The records a validated keypoint file is read into: images, people, the whole annotation set, and
the issues (defects and advice) found while reading it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.schema import KeypointSchema

#: How far (pixels) a point may lie beyond an image (or a box) and still count as in it: the one "outside
#: the image" rule of the loader's check, ``posekit check``'s count and YOLO labels read in (written YOLO
#: labels keep that format's own bounds, 0 to 1). 1 px,
#: not 0: annotation tools put points on the far edge (x = width, YOLO's 1.0) and round half pixels outward,
#: and a point there is in the image; a wider margin would pass points the frame truly cut off (those are
#: allowed only inside the person's box, see :mod:`posekit.datasets.coco_keypoints`). The audit's
#: ``outside_box`` finding asks another question (a point unusually far from its own box: 10% of its size)
#: and the sample generator labels the joints it drew on a pixel (its own data, unchanged).
OUTSIDE_TOLERANCE = 1.0


def outside(points: np.ndarray, box: Any) -> np.ndarray:
    """Which ``points`` (N, >= 2) lie more than :data:`OUTSIDE_TOLERANCE` pixels outside the xywh ``box``
    (an image is the box ``(0, 0, width, height)``)."""
    x, y, w, h = box
    tol = OUTSIDE_TOLERANCE
    return (
        (points[:, 0] < x - tol)
        | (points[:, 1] < y - tol)
        | (points[:, 0] > x + w + tol)
        | (points[:, 1] > y + h + tol)
    )


@dataclass(frozen=True)
class Issue:
    """One defect (``severity="error"``) or piece of advice (``"warning"``) found in a data set."""

    severity: str
    file: str
    image_id: int | None
    annotation_id: int | None
    field: str | None
    message: str
    fix: str

    @property
    def where(self) -> str:
        parts = [self.file]
        if self.annotation_id is not None:
            parts.append(f"annotation {self.annotation_id}")
        if self.image_id is not None:
            parts.append(f"image {self.image_id}")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}. Fix: {self.fix}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_issues(issues: list[Issue], limit: int = 10) -> str:
    """One message listing the errors among ``issues`` (at most ``limit``, then a count of the rest)."""
    errors = [i for i in issues if i.severity == "error"]
    files = sorted({i.file for i in errors})
    head = f"{len(errors)} error(s) in {', '.join(files)}:"
    lines = [head] + [f"  - {issue}" for issue in errors[:limit]]
    if len(errors) > limit:
        lines.append(
            f"  ... and {len(errors) - limit} more; run `posekit check` on the data to list them all."
        )
    return "\n".join(lines)


@dataclass
class ImageInfo:
    """An image: ``path`` = image root / ``file_name``; ``extra`` keeps other fields (``frame_id`` ...)."""

    id: int
    file_name: str
    width: int
    height: int
    path: Path
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PersonAnnotation:
    """A person or crowd region; unlabelled keypoints (v=0) have x = y = 0; ``num_keypoints`` counts v>0."""

    id: int
    image_id: int
    bbox: np.ndarray  # (4,) xywh float64
    keypoints: np.ndarray  # (K, 3) float64: x, y, v
    num_keypoints: int
    iscrowd: bool
    area: float
    category_id: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class KeypointAnnotations:
    """A validated COCO keypoint file: images, people (crowd regions included) and the keypoint schema."""

    json_path: Path
    image_root: Path
    schema: KeypointSchema
    images: dict[int, ImageInfo]
    annotations: list[PersonAnnotation]
    category_id: int
    category_name: str = "person"
    issues: list[Issue] = field(default_factory=list)  # warnings found while loading

    def by_image(self) -> dict[int, list[PersonAnnotation]]:
        """Annotations grouped by image id; every image appears, with an empty list when it has none."""
        groups: dict[int, list[PersonAnnotation]] = {image_id: [] for image_id in self.images}
        for ann in self.annotations:
            groups[ann.image_id].append(ann)
        return groups

    def to_coco_dict(self) -> dict[str, Any]:
        """A clean COCO ground-truth dict (one category; every annotation moved into it) that
        pycocotools and faster-coco-eval accept as is."""
        images = [
            {"id": i.id, "file_name": i.file_name, "width": i.width, "height": i.height}
            for i in self.images.values()
        ]
        annotations = []
        for a in self.annotations:
            flat = [[float(x), float(y), int(v)] for x, y, v in a.keypoints.tolist()]
            annotations.append(
                {
                    "id": a.id,
                    "image_id": a.image_id,
                    "category_id": self.category_id,
                    "bbox": [float(v) for v in a.bbox],
                    "area": float(a.area),
                    "iscrowd": int(a.iscrowd),
                    "num_keypoints": int(a.num_keypoints),
                    "keypoints": [v for kp in flat for v in kp],
                    **({"bbox_head": a.extra["bbox_head"]} if "bbox_head" in a.extra else {}),
                }
            )
        category = {
            "id": self.category_id,
            "name": self.category_name,
            "supercategory": self.category_name,
            "keypoints": list(self.schema.names),
            "skeleton": [[a + 1, b + 1] for a, b in self.schema.skeleton],
        }
        return {
            "info": {"description": f"posekit: {self.json_path.name}"},
            "images": images,
            "annotations": annotations,
            "categories": [category],
        }
