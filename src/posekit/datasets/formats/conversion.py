"""``posekit.convert``: from one labelling format to another, through COCO keypoints (posekit's own).

Sources: ``coco`` ("sample", a COCO keypoint .json or a posekit data YAML), ``yolo`` (an Ultralytics pose
data YAML), ``cvat`` (CVAT's "COCO Keypoints 1.0" .json, a folder of them, or "CVAT for images 1.1" XML)
and ``label-studio`` (a Label Studio JSON export). Targets: ``coco`` and ``yolo``. The output folder
gets a ``data.yaml`` (posekit's or Ultralytics'), the annotation files and ``conversion.json``, the report
of what was written and lost.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from posekit.datasets.data_config import resolve_data
from posekit.datasets.formats import cvat, label_studio, yolo
from posekit.datasets.formats.coco_writer import write_coco
from posekit.datasets.formats.common import CocoConversion, CocoSplit, ConversionReport
from posekit.datasets.records import KeypointAnnotations
from posekit.datasets.yaml_file import load_yaml
from posekit.errors import ConfigError
from posekit.fileio import atomic_path, refuse_overwriting_inputs

SOURCES = ("coco", "yolo", "cvat", "label-studio")
TARGETS = ("coco", "yolo")
_ALIASES = {
    "ultralytics": "yolo",
    "labelstudio": "label-studio",
    "label_studio": "label-studio",
    "ls": "label-studio",
}


def convert(
    src: str | Path,
    dst: str | Path,
    from_format: str,
    to_format: str = "coco",
    *,
    images: str | Path | None = None,
    kpt_dims: int = 3,
    copy_images: bool = False,
    overwrite: bool = False,
    label_config: str | Path | None = None,
) -> ConversionReport:
    """Convert the ``from_format`` data ``src`` into the folder ``dst`` in ``to_format``; return the report.

    ``images``: the image folder (a COCO .json, CVAT and Label Studio exports; default: found beside the
    file). ``kpt_dims``: values per keypoint in YOLO rows (3 keeps visibility). ``copy_images``: COCO
    output holds its images (hard links when possible) instead of naming the source folder (YOLO output
    always holds them: Ultralytics finds labels from image paths). ``overwrite``: replace a ``dst`` written
    by an earlier conversion. ``label_config``: Label Studio's labelling config (XML), whose ``model_index``
    attributes give the keypoint order.
    """
    source, target = _format(from_format, SOURCES, "--from"), _format(to_format, TARGETS, "--to")
    if source == target:
        raise ConfigError(f"--from and --to are both {source}: nothing to convert")
    src_path, dst = Path(src), Path(dst)
    if source != "coco" and not src_path.exists():
        raise ConfigError(f"{src} not found; pass the {source} data to convert")
    with _output(dst, overwrite) as out:
        if target == "coco":
            conversion = read_as_coco(source, src_path, images, label_config)
            _refuse_output_over_input(dst, [src_path, *_split_inputs(conversion.splits.values())])
            counts = write_coco(
                conversion.splits,
                out,
                f"posekit data YAML converted by `posekit convert` from the {source} data {src}",
                schema=conversion.schema,
                copy_images=copy_images,
                relative_to=dst,
            )
            lost, notes = conversion.lost, conversion.notes
        else:
            with tempfile.TemporaryDirectory(prefix="posekit-convert-") as tmp:
                datasets, read_lost, read_notes, inputs = _datasets(
                    source, src, images, label_config, Path(tmp)
                )
                _refuse_output_over_input(dst, [src_path, *inputs])
                counts, lost, notes = yolo.write_yolo(datasets, out, kpt_dims)
            lost, notes = read_lost + lost, read_notes + notes
        report = ConversionReport(str(src), source, str(dst / "data.yaml"), target, counts, lost, notes)
        report.save(out)
    return report


def read_as_coco(
    source: str, src: Path, images: str | Path | None, label_config: str | Path | None
) -> CocoConversion:
    """A ``yolo``, ``cvat`` or ``label-studio`` source read as COCO splits."""
    image_dir = Path(images) if images is not None else None
    if image_dir is not None and source == "yolo":
        raise ConfigError("--images does not apply to YOLO data: its YAML names the image folders")
    if label_config is not None and source != "label-studio":
        raise ConfigError("--label-config applies to Label Studio exports only")
    if image_dir is not None and not image_dir.is_dir():
        raise ConfigError(f"--images {images} is not a folder")
    if source == "yolo":
        raw = load_yaml(src) if src.is_file() else None
        if not yolo.is_yolo_pose(raw):
            raise ConfigError(f"{src} is not an Ultralytics pose data YAML (it has no `kpt_shape:`)")
        return yolo.to_coco(yolo.read_spec(src.resolve(), raw))
    if source == "cvat":
        return cvat.read(src, image_dir)
    return label_studio.read(src, image_dir, Path(label_config) if label_config is not None else None)


def _datasets(
    source: str, src: str | Path, images: str | Path | None, label_config: str | Path | None, tmp: Path
) -> tuple[dict[str, KeypointAnnotations], list[str], list[str], list[Path]]:
    """The source's splits loaded by posekit's loader (non-COCO sources through COCO files in ``tmp``),
    what was lost and changed, and the files and folders read."""
    lost: list[str] = []
    notes: list[str] = []
    inputs: list[Path] = []
    if source == "coco":
        path = Path(src)
        if path.suffix.lower() in (".yaml", ".yml") and path.is_file() and yolo.is_yolo_pose(load_yaml(path)):
            raise ConfigError(f"{src} is an Ultralytics YOLO pose data YAML; pass --from yolo")
        config = resolve_data(src, images=images)
    else:
        conversion = read_as_coco(source, Path(src), images, label_config)
        inputs = _split_inputs(conversion.splits.values())
        header = f"COCO copy of the {source} data {src}"
        write_coco(conversion.splits, tmp, header, schema=conversion.schema)
        config = resolve_data(tmp / "data.yaml")
        lost, notes = conversion.lost, conversion.notes
    loaded: dict[tuple, KeypointAnnotations] = {}
    datasets = {}
    for split in ("train", "val"):
        spec = getattr(config, split)
        if spec is not None:
            key = (spec.json_path, spec.images)
            if key not in loaded:
                loaded[key] = config.load_split(split)
            datasets[split] = loaded[key]
            inputs += [loaded[key].json_path, loaded[key].image_root]
    return datasets, lost, notes, inputs


def _split_inputs(splits: Iterable[CocoSplit]) -> list[Path]:
    """What a conversion reads of each split: its source file, its image folder and (YOLO) label folder."""
    inputs = []
    for split in splits:
        inputs += [Path(split.source), split.image_root, yolo.label_path(split.image_root / "x").parent]
    return inputs


def _refuse_output_over_input(dst: Path, inputs: list[Path]) -> None:
    """Refuse an output folder that is or holds something the conversion reads: replacing it
    (``--overwrite``) would delete the source."""
    refuse_overwriting_inputs(dst, inputs, "choose an output folder outside the source data")


@contextmanager
def _output(dst: Path, overwrite: bool) -> Iterator[Path]:
    """An empty folder that becomes ``dst`` when the conversion succeeds (nothing half-written is left)."""
    if dst.exists() and not dst.is_dir():
        raise ConfigError(f"{dst} is a file; pass a folder for the converted data")
    if dst.is_dir() and any(dst.iterdir()):
        if not overwrite:
            raise ConfigError(
                f"{dst} exists and is not empty; choose a new folder (or --overwrite an earlier conversion)"
            )
        if not (dst / "conversion.json").is_file():
            raise ConfigError(
                f"--overwrite replaces only a folder written by `posekit convert` (it holds "
                f"conversion.json); {dst} is not one: choose a new folder"
            )
    with atomic_path(dst, sync_all=True) as out:  # YOLO output holds an image and a label per image
        out.mkdir()
        yield out


def _format(name: str, allowed: tuple[str, ...], option: str) -> str:
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in allowed:
        extra = (
            " (CVAT and Label Studio are read only: import posekit's COCO output there)"
            if option == "--to"
            else ""
        )
        raise ConfigError(f"{option} {name!r} is not one of {', '.join(allowed)}{extra}")
    return key
