"""The validator behind ``posekit check``: validate a data set and summarise it (images, people, labels
per joint, box sizes).

The defects come from the loader itself (:func:`posekit.datasets.coco_keypoints.parse_coco`), so training and
evaluation refuse bad data with the very messages printed here. On top of those, this module reads
every image file's header (size, format) and, for small data sets, decodes the whole file to catch
truncated images; and it adds advice from the field as warnings.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.datasets.coco_keypoints import parse_coco, training_issues
from posekit.datasets.data_config import DataConfig, resolve_data
from posekit.datasets.image_reader import image_header, read_image, size_mismatch
from posekit.datasets.records import ImageInfo, Issue, KeypointAnnotations, format_issues, outside
from posekit.errors import ConfigError, DataError

__all__ = ["CheckReport", "Issue", "format_issues", "validate"]

#: Fine-tuning a pose model usually needs at least this many labelled people.
MIN_PEOPLE = 500
#: A joint labelled on fewer than this fraction of the labelled people gets a warning.
RARE_JOINT_FRACTION = 0.02
#: Data sets with at most this many images are decoded in full (catches truncated files); larger ones
#: only have their headers read, which is ~100x faster.
FULL_DECODE_MAX_IMAGES = 2000
_BOX_PERCENTILES = (0, 5, 25, 50, 75, 95, 100)


@dataclass
class CheckReport:
    """``summary``: ``{"data": spec, "files": [per-file statistics]}``; ``issues``: errors and warnings."""

    summary: dict[str, Any]
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "summary": self.summary,
            "issues": [i.to_dict() for i in self.issues],
        }

    def __str__(self) -> str:
        if self.ok:
            return f"{len(self.warnings)} warning(s), no errors"
        return format_issues(self.issues)


def validate(
    data: str | Path, images: str | Path | None = None, wholebody: bool = False, check_images: bool = True
) -> CheckReport:
    """Check ``data`` (a COCO keypoint .json or a data .yaml) and return every issue found.

    Bad data never raises: it is reported. A data YAML that cannot be read is reported as one error; the
    defects of a YOLO pose data set (converted on the way in) are reported at their label file and line.
    """
    summary: dict[str, Any] = {"data": str(data), "files": []}
    try:
        config = resolve_data(data, images=images, wholebody=wholebody)
    except DataError as error:
        return CheckReport(summary, error.issues)
    except ConfigError as error:
        return CheckReport(
            summary,
            [
                Issue(
                    "error", str(data), None, None, None, str(error), "fix the data argument or the data YAML"
                )
            ],
        )
    issues: list[Issue] = []
    for json_path, image_root, splits in _files(config):
        try:
            dataset, found = parse_coco(
                json_path,
                image_root,
                config.schema_overrides(),
                config.wholebody,
                outside_images=config.outside_images,
            )
        except ConfigError as error:  # a schema override that does not fit this file
            where = str(config.source or json_path)
            fix = "fix `schema:` in the data YAML"
            issues.append(Issue("error", where, None, None, "schema", str(error), fix))
            continue
        issues += found
        if dataset is None:
            continue
        if "train" in splits:
            issues += training_issues(dataset)
        if check_images:
            issues += check_image_files(dataset)
        stats = statistics(dataset)
        stats["splits"] = splits
        summary["files"].append(stats)
        issues += advice(dataset, stats, train="train" in splits)
    return CheckReport(summary, sorted(issues, key=lambda i: i.severity != "error"))


def _files(config: DataConfig) -> list[tuple[Path, Path | None, list[str]]]:
    """Distinct (json, image root) pairs of the splits, with the split names using each."""
    files: dict[tuple[Path, Path | None], list[str]] = {}
    for name in ("train", "val"):
        split = getattr(config, name)
        if split is not None:
            files.setdefault((split.json_path, split.images), []).append(name)
    return [(j, i, s) for (j, i), s in files.items()]


# ---------------------------------------------------------------------------------------------- images
def check_image_files(dataset: KeypointAnnotations) -> list[Issue]:
    """Read each image's header (all images) or whole file (small sets) with posekit's one image reader
    (:mod:`posekit.datasets.image_reader`, which train, val, audit and predict use): unreadable, truncated,
    too large, or of another size than the JSON says."""
    decode = len(dataset.images) <= FULL_DECODE_MAX_IMAGES
    infos = [info for info in dataset.images.values() if info.path.is_file()]  # missing: the loader says
    # Threads: OpenCV and PIL release the GIL while reading and decoding.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        problems = list(pool.map(lambda info: _image_problem(info, decode), infos))
    return [
        Issue("error", str(dataset.json_path), info.id, None, field, message, fix)
        for info, (field, message, fix) in zip(infos, problems, strict=True)
        if message
    ]


def _image_problem(info: ImageInfo, decode: bool) -> tuple[str, str | None, str]:
    """(field, message or None, fix) for one image, as posekit's image reader sees it."""
    try:
        header = image_header(info.path)
        if header is not None and (problem := size_mismatch(info.path, header, info.width, info.height)):
            return "width/height", problem, "the boxes and keypoints must refer to the image as it is read"
        if decode or header is None:
            read_image(info.path)
    except DataError as error:
        return (
            "file_name",
            str(error),
            "replace the file with a valid JPEG/PNG, or remove the image and its annotations",
        )
    return "file_name", None, ""


# ---------------------------------------------------------------------------------------------- summary
def statistics(dataset: KeypointAnnotations) -> dict[str, Any]:
    """Counts, labels per joint by visibility, box-size spread and people per image of one file."""
    people = [a for a in dataset.annotations if not a.iscrowd]
    crowd = len(dataset.annotations) - len(people)
    names = dataset.schema.names
    vis = np.stack([a.keypoints[:, 2] for a in people]) if people else np.zeros((0, len(names)))
    labelled_people = int(np.count_nonzero((vis > 0).any(axis=1)))
    per_joint = {
        n: {
            "v0": int(np.sum(vis[:, j] == 0)),
            "v1": int(np.sum(vis[:, j] == 1)),
            "v2": int(np.sum(vis[:, j] == 2)),
        }
        for j, n in enumerate(names)
    }
    sizes = np.sqrt([a.bbox[2] * a.bbox[3] for a in people]) if people else np.zeros(0)
    box = {f"p{p}": round(float(np.percentile(sizes, p)), 1) for p in _BOX_PERCENTILES} if people else {}
    areas = np.array([a.area for a in people])
    counts = np.bincount([len([a for a in anns if not a.iscrowd]) for anns in dataset.by_image().values()])
    per_image = {str(n): int(c) for n, c in enumerate(counts[:10]) if c}
    if len(counts) > 10:
        per_image["10+"] = int(counts[10:].sum())
    outside = sum(
        int(np.count_nonzero((a.keypoints[:, 2] > 0) & _outside_image(a.keypoints, dataset, a.image_id)))
        for a in people
    )
    return {
        "file": str(dataset.json_path),
        "image_root": str(dataset.image_root),
        "schema": dataset.schema.name,
        "num_keypoints": dataset.schema.num_keypoints,
        "images": len(dataset.images),
        "images_without_people": int(counts[0]) if len(counts) else 0,
        "people": len(people),
        "labelled_people": labelled_people,
        "people_without_keypoints": len(people) - labelled_people,
        "crowd": crowd,
        "labelled_keypoints": int(np.count_nonzero(vis > 0)),
        "keypoints_outside_image": outside,
        "keypoints_per_joint": per_joint,
        "box_size_px": box,  # percentiles of sqrt(box width x height)
        "coco_size": {
            "small": int(np.sum(areas < 32**2)),
            "medium": int(np.sum((areas >= 32**2) & (areas < 96**2))),
            "large": int(np.sum(areas >= 96**2)),
        },
        "people_per_image": per_image,
        "wholebody_fields": dataset.schema.num_keypoints != 133
        and any("face_kpts" in a.extra for a in dataset.annotations),
    }


def _outside_image(kps: np.ndarray, dataset: KeypointAnnotations, image_id: int) -> np.ndarray:
    info = dataset.images[image_id]
    return outside(kps, (0.0, 0.0, info.width, info.height))


def advice(dataset: KeypointAnnotations, stats: dict[str, Any], train: bool) -> list[Issue]:
    """Warnings from the field: too few people to fine-tune on, joints that are (almost) never labelled."""
    file = str(dataset.json_path)
    issues = []
    n = stats["labelled_people"]
    if train and n < MIN_PEOPLE:
        issues.append(
            Issue(
                "warning",
                file,
                None,
                None,
                None,
                f"only {n} labelled people; fine-tuning usually needs >= {MIN_PEOPLE} labelled people",
                "label more people, start from COCO-pretrained weights, and keep augmentation on",
            )
        )
    if n:
        rare = [
            (name, c["v1"] + c["v2"])
            for name, c in stats["keypoints_per_joint"].items()
            if c["v1"] + c["v2"] < RARE_JOINT_FRACTION * n
        ]
        if rare:
            listed = ", ".join(f"'{name}' ({count})" for name, count in rare[:10])
            issues.append(
                Issue(
                    "warning",
                    file,
                    None,
                    None,
                    "keypoints",
                    f"{len(rare)} joint(s) are labelled on almost none of the {n} labelled people: "
                    f"{listed}{' ...' if len(rare) > 10 else ''}",
                    "label them, or drop them from the schema: the model cannot learn them and "
                    "their AP will be meaningless",
                )
            )
    return issues
