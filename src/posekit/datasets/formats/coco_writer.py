"""Write converted data as posekit's native format: one COCO keypoint JSON per split and a data YAML.

Every JSON written is read back with posekit's loader
(:func:`posekit.datasets.coco_keypoints.parse_coco`, the validator of ``posekit check``) before the
conversion counts as done; a defect it finds is reported at the source record it came from
(``labels/train/a.txt:3``, ``export.json, task 7``...), not at the written file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from posekit.datasets.coco_keypoints import parse_coco
from posekit.datasets.formats.common import CocoSplit, SourceIssues, place_image
from posekit.datasets.records import Issue
from posekit.fileio import atomic_write_json, atomic_write_text


def write_coco(
    splits: dict[str, CocoSplit],
    out: Path,
    header: str,
    schema: dict[str, Any] | None = None,
    copy_images: bool = False,
    relative_to: Path | None = None,
) -> dict[str, dict[str, int]]:
    """Write ``out/<split>.json`` per distinct split and ``out/data.yaml`` naming them; return per split
    the counts of images, people and crowd regions.

    ``splits`` maps ``"train"``/``"val"`` to a split; both may map to the same one (written once, used for
    both). ``schema``: the data YAML's ``schema:`` (fields the JSON cannot hold, e.g. flip pairs).
    ``copy_images``: place the images in ``out/images/<split>/`` (hard links when possible) instead of
    naming their folder, ``relative_to`` the folder the data YAML will end up in (absolute when None).
    Raises :class:`~posekit.errors.DataError` when posekit's validator finds a defect.
    """
    names: dict[int, str] = {}
    for name, split in splits.items():
        names.setdefault(id(split), name)
    entries: dict[str, dict[str, str]] = {}
    counts: dict[str, dict[str, int]] = {}
    issues = SourceIssues(Path(next(iter(splits.values())).source), "converted")
    for name, split in splits.items():
        first = names[id(split)]
        if first == name:
            root = _images(split, out / "images" / name) if copy_images else split.image_root
            json_path = out / f"{name}.json"
            atomic_write_json(json_path, split.coco, indent=None)
            issues.extend(_validate(json_path, root, split, schema))
            counts[name] = _counts(split.coco)
            if copy_images:
                folder = f"images/{name}"
            elif relative_to is not None:
                folder = os.path.relpath(root.resolve(), relative_to.resolve())
            else:
                folder = str(root.resolve())
            entries[name] = {"json": f"{name}.json", "images": Path(folder).as_posix()}
        else:
            counts[name] = counts[first]
            entries[name] = entries[first]
    issues.raise_if_any()
    config: dict[str, Any] = dict(entries)
    if schema:
        config["schema"] = schema
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=110)
    atomic_write_text(out / "data.yaml", "".join(f"# {line}\n" for line in header.splitlines()) + text)
    return counts


def _images(split: CocoSplit, folder: Path) -> Path:
    for image in split.coco["images"]:
        place_image(split.image_root / image["file_name"], folder / image["file_name"])
    return folder


def _validate(json_path: Path, root: Path, split: CocoSplit, schema: dict[str, Any] | None) -> list[Issue]:
    """posekit's loader's errors on the written file, each moved to the source record it came from."""
    _, found = parse_coco(json_path, images=root, schema=schema)
    moved = []
    for issue in found:
        if issue.severity != "error":
            continue
        origin = split.annotation_origins.get(issue.annotation_id) or split.image_origins.get(issue.image_id)
        where = origin or split.source
        moved.append(Issue("error", where, None, None, issue.field, issue.message, issue.fix))
    return moved


def _counts(coco: dict[str, Any]) -> dict[str, int]:
    crowd = sum(1 for a in coco["annotations"] if a.get("iscrowd"))
    return {"images": len(coco["images"]), "people": len(coco["annotations"]) - crowd, "crowd": crowd}
