"""Where the images of a COCO file are: the folder its ``file_name`` entries are relative to."""

from __future__ import annotations

from pathlib import Path

#: How many of the first image names are looked up in each candidate folder.
_ROOT_SAMPLE = 50


def image_root_candidates(json_path: Path) -> list[Path]:
    """The folders a COCO file's ``file_name`` entries may be relative to, in order (see the module doc)."""
    d = json_path.parent
    candidates = [d, d / "images", d.parent, d.parent / "images"]
    if "_" in json_path.stem:  # person_keypoints_val2017.json -> val2017/
        split = json_path.stem.rsplit("_", 1)[1]
        candidates += [d.parent / split, d.parent / "images" / split]
    return candidates + [d.parent.parent]


def find_image_root(candidates: list[Path], names: list[str]) -> Path:
    """The first of ``candidates`` holding the most of the first 50 image ``names`` (the first when none)."""
    sample = names[:_ROOT_SAMPLE]
    best, best_hits = candidates[0], 0
    for c in candidates:
        hits = sum((c / n).is_file() for n in sample)
        if hits > best_hits:
            best, best_hits = c, hits
        if hits == len(sample):
            break
    return best
