"""What the converters share: source defects raised as one message, counts of what was changed, image
files (size as posekit reads them, placing copies) and COCO people built from points and boxes."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.image_reader import image_header
from posekit.datasets.records import Issue
from posekit.errors import DataError
from posekit.fileio import atomic_write_json

_SHOWN_ISSUES = 10


class SourceIssues:
    """Defects found while reading one source, raised together as one :class:`DataError`."""

    def __init__(self, source: Path, fmt: str) -> None:
        self.source, self.fmt = source, fmt
        self.issues: list[Issue] = []

    def add(self, where: str | Path, message: str, fix: str, field: str | None = None) -> None:
        """Record a defect at ``where`` (``file``, ``file:line`` or ``file, task 3``)."""
        self.issues.append(Issue("error", str(where), None, None, field, message, fix))

    def extend(self, issues: Iterable[Issue]) -> None:
        self.issues.extend(i for i in issues if i.severity == "error")

    def raise_if_any(self) -> None:
        """Raise one :class:`DataError` listing the first defects (all of them in ``.issues``)."""
        if not self.issues:
            return
        lines = [f"{len(self.issues)} problem(s) in the {self.fmt} data {self.source}:"]
        lines += [f"  - {issue}" for issue in self.issues[:_SHOWN_ISSUES]]
        if len(self.issues) > _SHOWN_ISSUES:
            lines.append(
                f"  ... and {len(self.issues) - _SHOWN_ISSUES} more (`posekit check` lists them all)"
            )
        raise DataError("\n".join(lines), self.issues)


class Tally(Counter):
    """Counts of records a conversion changed or dropped, keyed by what happened (``"... dropped"``)."""

    def lines(self) -> list[str]:
        return [f"{count} {what}" for what, count in self.items() if count]


@dataclass
class ConversionReport:
    """What a conversion wrote (``output``: the data YAML), per split, and what it could not carry over."""

    source: str
    source_format: str
    output: str
    target_format: str
    splits: dict[str, dict[str, int]]
    lost: list[str]
    notes: list[str]

    def save(self, folder: Path) -> None:
        """Write the report as ``conversion.json`` in the output folder."""
        atomic_write_json(folder / "conversion.json", asdict(self))

    def __str__(self) -> str:
        lines = [f"Converted {self.source_format} data {self.source} to {self.target_format}: {self.output}"]
        for split, c in self.splits.items():
            crowd = f", {c['crowd']} crowd region(s)" if c.get("crowd") else ""
            lines.append(f"  {split}: {c['images']} image(s), {c['people']} people{crowd}")
        lines.append("Lost:" if self.lost else "Lost: nothing")
        lines += [f"  - {what}" for what in self.lost]
        if self.notes:
            lines.append("Notes:")
            lines += [f"  - {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass
class CocoSplit:
    """One split converted to COCO: the JSON dict, the folder its ``file_name`` entries are relative to,
    the source file and where each image and annotation came from (``file:line``...), for messages."""

    coco: dict[str, Any]
    image_root: Path
    source: str
    image_origins: dict[int, str] = field(default_factory=dict)
    annotation_origins: dict[int, str] = field(default_factory=dict)


@dataclass
class CocoConversion:
    """A source read as COCO: the splits (``"train"``/``"val"``, possibly the same one), the data YAML's
    ``schema:`` (what a COCO file cannot say, e.g. flip pairs), what is lost and what was changed."""

    splits: dict[str, CocoSplit]
    schema: dict[str, Any] | None
    lost: list[str]
    notes: list[str]


# ---------------------------------------------------------------------------------------------- images
def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file as posekit reads it (``image_reader.image_header``: EXIF
    orientations 5-8 swap the sides). Raises ``OSError`` when unreadable."""
    try:
        header = image_header(path)
    except DataError as error:
        raise OSError(str(error)) from None
    if header is None:
        raise OSError(f"{path} is not an image format posekit reads")
    return header.size


def image_sizes(paths: list[Path]) -> list[tuple[int, int] | str]:
    """:func:`image_size` of each path, or the reason it cannot be read (threads: PIL releases the GIL)."""

    def size(path: Path) -> tuple[int, int] | str:
        try:
            return image_size(path)
        except OSError as error:
            return str(error)

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(size, paths))


def place_image(src: Path, dst: Path) -> None:
    """Put ``src`` at ``dst``: a hard link (no copy, same file) when the file system allows, else a copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


# ---------------------------------------------------------------------------------------------- people
def box_around(keypoints: np.ndarray) -> list[float] | None:
    """The tight xywh box of the labelled (v > 0) keypoints, each side at least 1 pixel (centred); None
    when none is labelled. This is the box CVAT and Label Studio export for a skeleton without one."""
    labelled = keypoints[keypoints[:, 2] > 0, :2]
    if not len(labelled):
        return None
    (x0, y0), (x1, y1) = labelled.min(axis=0), labelled.max(axis=0)
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    return [float((x0 + x1 - w) / 2), float((y0 + y1 - h) / 2), float(w), float(h)]


def coco_person(
    ann_id: int,
    image_id: int,
    category_id: int,
    bbox: list[float],
    keypoints: np.ndarray,
    iscrowd: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A COCO keypoint annotation; unlabelled keypoints (v=0) are written 0, 0, 0; area = box area."""
    kps = np.array(keypoints, dtype=np.float64).reshape(-1, 3)
    kps[kps[:, 2] <= 0] = 0.0
    flat: list[float | int] = []
    for x, y, v in kps.tolist():
        flat += [x, y, int(v)]
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": [float(v) for v in bbox],
        "area": float(bbox[2] * bbox[3]),
        "iscrowd": int(iscrowd),
        "num_keypoints": int(np.count_nonzero(kps[:, 2] > 0)),
        "keypoints": flat,
        **(extra or {}),
    }


def coco_category(
    category_id: int, name: str, keypoints: list[str], skeleton: list[tuple[int, int]]
) -> dict[str, Any]:
    """A COCO keypoint category; ``skeleton`` pairs are 0-based here and written 1-based."""
    return {
        "id": category_id,
        "name": name,
        "supercategory": name,
        "keypoints": list(keypoints),
        "skeleton": [[a + 1, b + 1] for a, b in skeleton],
    }
