"""The top findings of an audit as one picture (``findings.jpg``): per finding the label as written and,
when a model was run, its prediction, side by side on the person's crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.label_audit.api import AuditReport
from posekit.report.person_gallery import GalleryPerson, labelled, save_person_gallery


def save_findings_gallery(
    report: AuditReport,
    path: str | Path,
    limit: int = 16,
    conf: float = 0.3,
    tile_size: tuple[int, int] = (256, 192),
) -> Path | None:
    """Draw the ``limit`` highest-scoring findings (the label captioned with score, kind and joint; the
    model's points drawn where its confidence reaches ``conf``). None when there is no finding."""
    rows = {
        label: {int(a): i for i, a in enumerate(split.people.annotation_ids.tolist())}
        for label, split in report.splits.items()
    }
    gallery = []
    for f in report.findings[:limit]:
        split = report.splits[f.split]
        i = rows[f.split][f.annotation_id]
        poses = [(labelled(split.people.keypoints[i]), f"{f.score:.1f} {f.kind} {f.joint}".rstrip())]
        output = split.output
        if output is not None:
            predicted = not np.isnan(output.scores[i]).all()
            pose = np.column_stack([output.keypoints[i], output.scores[i]]) if predicted else None
            poses.append((pose, "model" if predicted else "not predicted"))
        gallery.append(GalleryPerson(split.dataset.images[f.image_id], split.people.boxes[i], poses))
    return save_person_gallery(gallery, report.schema, path, conf, tile_size)
