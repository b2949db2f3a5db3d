"""Where person boxes come from: a detector, a COCO detections/annotations file, the full image, or given."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posekit.distributed import Shard
from posekit.errors import ConfigError, PosekitError
from posekit.inference.sources import Frame

logger = logging.getLogger(__name__)

#: ``None``/"detector", "full", a JSON path, an (N, 4|5) array (one image), a list of arrays (one per
#: image, in order) or a dict {image_id or name: array}. Arrays are xywh with an optional score column.
BoxesLike = None | str | Path | np.ndarray | Sequence[np.ndarray] | Mapping[Any, np.ndarray]


class BoxProvider:
    """Person boxes ``(xywh (N, 4), scores (N,))`` for frames, from anything but the detector.

    ``kind`` is ``"detector"`` (the predictor runs its detector), ``"full"``, ``"file"`` or ``"given"``;
    ``ground_truth`` is true for the boxes of a COCO annotations file (clipped to the image as in evaluation).
    """

    def __init__(self, boxes: BoxesLike, det_conf: float = 0.5) -> None:
        self.det_conf = det_conf
        self._table: dict[Any, np.ndarray] | None = None
        self._list: list[np.ndarray] | None = None
        self.ground_truth = False
        if boxes is None or (isinstance(boxes, str) and boxes == "detector"):
            self.kind = "detector"
        elif isinstance(boxes, str) and boxes == "full":
            self.kind = "full"
        elif isinstance(boxes, (str, Path)):
            self.kind = "file"
            self._table, self.ground_truth = _load_box_file(Path(boxes), det_conf)
        elif isinstance(boxes, np.ndarray):
            self.kind, self._list = "given", [_as_boxes(boxes, "boxes")]
        elif isinstance(boxes, Mapping):
            self.kind = "given"
            self._table = {key: _as_boxes(value, f"boxes[{key!r}]") for key, value in boxes.items()}
        elif isinstance(boxes, Sequence):
            self.kind, self._list = "given", [_as_boxes(b, f"boxes[{i}]") for i, b in enumerate(boxes)]
        else:
            raise ConfigError(
                f"boxes={type(boxes).__name__} is not understood; pass 'detector', 'full', a COCO detections "
                "JSON path, an (N, 4) xywh array, a list of arrays (one per image) or a dict {image: array}"
            )
        self._matched: Counter[str] = Counter()  # frames that found boxes, by how they were matched
        self._unmatched = 0
        self._outside = 0  # boxes wholly outside their image, left out

    def __call__(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "full":
            h, w = frame.image.shape[:2]
            return np.array([[0.0, 0.0, w, h]]), np.ones(1)
        if self._list is not None:
            if frame.index >= len(self._list):
                raise ConfigError(
                    f"boxes were given for {len(self._list)} image(s) but the source has more "
                    f"(image {frame.index}, {frame.name}); pass one array per image"
                )
            found, how = self._list[frame.index], "position"
        else:
            found, how = self._lookup(frame)
            if found is None:
                self._unmatched += 1
                return np.zeros((0, 4)), np.zeros(0)
        self._matched[how] += 1
        h, w = frame.image.shape[:2]
        inside = _clipped(found, w, h)
        self._outside += len(found) - len(inside)
        return inside[:, :4], inside[:, 4]

    def _lookup(self, frame: Frame) -> tuple[np.ndarray | None, str]:
        """The frame's boxes in the table, by image id (never a mere position in a folder) or by file name
        (its stem, or a ``file_name`` its path ends with), and how they were found."""
        assert self._table is not None
        if not frame.positional_id and frame.image_id in self._table:
            return self._table[frame.image_id], "image id"
        if frame.name in self._table:
            return self._table[frame.name], "file name"
        if frame.path is not None:
            path = frame.path.as_posix()
            for key, value in self._table.items():
                if isinstance(key, str) and (path == key or path.endswith("/" + key.lstrip("/"))):
                    return value, "file name"
        return None, "nothing"

    def check_matched(self, num_frames: int, shard: Shard = Shard()) -> None:
        """After a run (of every process of ``shard``): a boxes file or dict matching no frame at all is a
        mistake, not an empty result."""
        if self.kind not in ("file", "given") or self._table is None:
            return
        total = shard.total(num_frames)
        matched = {how: shard.total(self._matched[how]) for how in ("image id", "file name")}
        if total and not sum(matched.values()):
            raise PosekitError(
                f"none of the {total} image(s)/frame(s) has boxes in the boxes given. Detections are "
                "matched by image id: the numeric file name (000000000785.jpg -> 785) or, for a video, the "
                "frame index, never by an image's place in a folder; a COCO annotations file (with 'images') "
                "is matched by file name"
            )
        unmatched, outside = shard.total(self._unmatched), shard.total(self._outside)
        if shard.is_main:
            ways = ", ".join(f"{count} by {how}" for how, count in matched.items() if count)
            nothing = f"; {unmatched} matched nothing (no person predicted there)" if unmatched else ""
            nothing += f"; {outside} box(es) wholly outside their image left out" if outside else ""
            logger.warning(
                "boxes matched to %d of %d image(s)/frame(s): %s%s", total - unmatched, total, ways, nothing
            )


def _clipped(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """xywh(+score) boxes cut to the image; those with nothing inside it are dropped (a box far outside
    would be cropped from padding and give people at impossible coordinates)."""
    x0, y0 = np.clip(boxes[:, 0], 0, width), np.clip(boxes[:, 1], 0, height)
    x1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, width)
    y1 = np.clip(boxes[:, 1] + boxes[:, 3], 0, height)
    keep = (x1 > x0) & (y1 > y0)
    return np.column_stack([x0, y0, x1 - x0, y1 - y0, boxes[:, 4]])[keep]


def _as_boxes(value: Any, where: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 1 and array.size in (0, 4, 5):
        array = array.reshape(-1, array.size or 4)
    if array.ndim != 2 or array.shape[1] not in (4, 5) or not np.isfinite(array).all():
        raise ConfigError(
            f"{where} has shape {array.shape}; pass finite (N, 4) xywh boxes or (N, 5) with scores"
        )
    if array.shape[1] == 4:
        array = np.concatenate([array, np.ones((len(array), 1))], axis=1)
    return array


def _load_box_file(path: Path, det_conf: float) -> tuple[dict[Any, np.ndarray], bool]:
    """{image_id: boxes} from COCO detection results, or {file_name: boxes} from a COCO annotations file
    (its people's boxes, crowds excluded; a frame matches when its path ends with the file_name), and
    whether they are ground-truth boxes (an annotations file)."""
    from posekit.datasets.json_file import load_json
    from posekit.datasets.results_file import annotation_boxes, load_detections

    if not path.is_file():
        raise PosekitError(
            f"boxes file {path} does not exist; pass a COCO detections JSON, 'detector' or 'full'"
        )
    data = load_json(path, "boxes file", PosekitError)
    if isinstance(data, dict) and "annotations" in data and "images" in data:
        table = annotation_boxes(path, data)
    else:
        table = {}
        for box in load_detections(path, category_id=1, score_threshold=det_conf).boxes:
            table.setdefault(box["image_id"], []).append([*box["bbox"], box["score"]])
    ground_truth = isinstance(data, dict)
    return {key: np.asarray(rows, dtype=np.float64) for key, rows in table.items()}, ground_truth
