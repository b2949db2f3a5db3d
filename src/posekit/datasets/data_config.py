"""Where the data is: one COCO keypoint .json, an
Ultralytics-like data YAML, or an Ultralytics YOLO pose data YAML (it has ``kpt_shape``), converted once
to COCO in posekit's cache folder (see :mod:`posekit.datasets.formats.yolo`) and then used as any COCO data.

A data YAML (paths relative to the YAML's folder, or to ``path:`` when given)::

    path: ../datasets/mydata          # optional root for the paths below
    train: {json: annotations/train.json, images: images/train}
    val: annotations/val.json         # shorthand: images found next to the JSON
    wholebody: false                  # COCO-WholeBody: read all 133 keypoints
    outside_images: false             # allow file_name paths leaving the image folder ('..', absolute)
    schema:                           # optional: override the keypoint schema read from the file
      preset: coco17                  # or names: [...] (flip pairs inferred from left_/right_ names)
      sigmas: [0.026, ...]            # any KeypointSchema field; indices are 0-based
      flip_pairs: [[1, 2], [3, 4]]
"""

from __future__ import annotations

import difflib
import logging
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from posekit.datasets.coco_keypoints import load_coco, training_issues
from posekit.datasets.records import KeypointAnnotations, format_issues
from posekit.datasets.schema import PRESETS, KeypointSchema, describe_validation_error, get_preset
from posekit.datasets.yaml_file import load_yaml
from posekit.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

_USAGE = "pass 'sample', 'sample-video', a COCO keypoint .json or a data .yaml"


class SplitConfig(BaseModel):
    """One split: the annotation JSON and the folder its ``file_name`` entries are relative to."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    json_path: Path = Field(alias="json")
    images: Path | None = None


class SchemaConfig(BaseModel):
    """Overrides of the keypoint schema: a preset and/or any :class:`KeypointSchema` field."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    preset: str | None = None
    name: str | None = None
    names: list[str] | None = None
    skeleton: list[tuple[int, int]] | None = None
    flip_pairs: list[tuple[int, int]] | None = None
    sigmas: list[float] | None = None
    upper_body: list[int] | None = None
    lower_body: list[int] | None = None
    head: list[int] | None = None

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; choose one of {list(PRESETS)}")
        return value


class DataConfig(BaseModel):
    """Train/val splits, schema overrides and the COCO-WholeBody switch of a data set."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    path: Path | None = None
    train: SplitConfig | None = None
    val: SplitConfig | None = None
    keypoint_schema: SchemaConfig | None = Field(default=None, alias="schema")
    wholebody: bool = False
    outside_images: bool = False  # allow file_name paths leaving the image folder (absolute or '..')
    source: Path | None = Field(default=None, exclude=True)  # the YAML/JSON it came from, for messages

    @field_validator("train", "val", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"json": value} if isinstance(value, (str, Path)) else value

    def schema_overrides(self) -> KeypointSchema | dict[str, Any] | None:
        """A full schema (``preset`` or ``names`` given), a dict of fields overriding the file's, or None."""
        spec = self.keypoint_schema
        if spec is None:
            return None
        fields = spec.model_dump(exclude_none=True, exclude={"preset"})
        if spec.preset:
            return get_preset(spec.preset).override(**fields)
        if "names" in fields:
            return KeypointSchema.from_names(fields.pop("names"), **fields)
        return fields

    def load_split(self, split: str, require_images: bool = True) -> KeypointAnnotations:
        """Load and validate the ``"train"`` or ``"val"`` split (raises :class:`DataError` on bad data);
        ``require_images=False``: the image files need not be on disk (scoring a results file)."""
        if split not in ("train", "val"):
            raise ConfigError(f"unknown split {split!r}; choose 'train' or 'val'")
        spec = getattr(self, split)
        if spec is None:
            raise ConfigError(
                f"{self.source or 'the data config'} has no '{split}' split; add `{split}: ...`"
            )
        from_yaml = self.source is not None and self.source.suffix.lower() in (".yaml", ".yml")
        if from_yaml and spec.images is not None and not spec.images.is_dir():
            raise ConfigError(
                f"{_where(self.source, split)}: `{split}: images:` {spec.images} is not a folder; set it to "
                "the folder the JSON's file_name paths are relative to (relative to the YAML's folder or "
                "`path:`)"
            )
        try:
            schema = self.schema_overrides()
            dataset = load_coco(
                spec.json_path,
                spec.images,
                schema,
                self.wholebody,
                require_images=require_images,
                outside_images=self.outside_images,
            )
        except ConfigError as error:  # the schema override is the only setting load_coco refuses
            if not from_yaml or self.keypoint_schema is None:
                raise
            raise ConfigError(f"{_where(self.source, 'schema')}: `schema:` does not fit: {error}") from None
        issues = training_issues(dataset) if split == "train" else []
        if issues:
            raise DataError(format_issues(issues), issues)
        for issue in dataset.issues:
            if issue.field == "iscrowd":  # people dropped: said by every command that uses the split
                logger.warning("%s split: %s", split, issue)
        return dataset


def resolve_data(
    spec: str | Path | DataConfig, images: str | Path | None = None, wholebody: bool = False
) -> DataConfig:
    """Turn a COCO .json (used for train and val) or a data .yaml into a :class:`DataConfig` (the built-in
    samples' names are turned into their paths first, by :func:`posekit.samples.locate`).

    ``images`` (the image folder) applies to a .json only; a YAML names its own. A folder holding a
    ``data.yaml`` stands for that file.
    """
    if isinstance(spec, DataConfig):
        return spec
    path = Path(spec)
    if path.is_dir() and (path / "data.yaml").is_file():
        path = path / "data.yaml"
    if not path.exists():
        raise ConfigError(f"data {str(spec)!r} not found; {_USAGE}")
    suffix = path.suffix.lower()
    if images is not None and not Path(images).is_dir():
        raise ConfigError(f"--images {str(images)!r} is not a folder; pass the folder the file_names are in")
    if suffix == ".json":
        split = SplitConfig(json=path, images=Path(images) if images is not None else None)
        return DataConfig(train=split, val=split, wholebody=wholebody, source=path)
    if suffix not in (".yaml", ".yml"):
        raise ConfigError(f"data {str(spec)!r} is neither a .json nor a .yaml; {_USAGE}")
    if images is not None:
        raise ConfigError(f"--images applies to a .json only; set `images:` for each split in {path}")
    raw = load_yaml(path)
    from posekit.datasets.formats.yolo import converted_data_yaml, is_yolo_pose

    if is_yolo_pose(raw):
        if wholebody:
            raise ConfigError(f"--wholebody applies to COCO-WholeBody JSON, not to the YOLO pose data {path}")
        return _config(converted_data_yaml(path, raw)).model_copy(update={"source": path})
    config = _config(path, raw)
    if wholebody:
        config = config.model_copy(update={"wholebody": True})
    return config


def _config(path: Path, raw: Any = None) -> DataConfig:
    """The data YAML ``path`` (``raw``: its parsed content, read here when None) as a :class:`DataConfig`."""
    raw = load_yaml(path) if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a data YAML must be a mapping with 'train' and/or 'val' keys")
    try:
        config = DataConfig.model_validate(raw)
    except ValidationError as error:
        unknown = [e["loc"] for e in error.errors() if e["type"] == "extra_forbidden"]
        if unknown:
            raise ConfigError(_unknown_key(path, unknown[0])) from None
        raise ConfigError(
            f"{path}: {describe_validation_error(error)} (allowed keys: path, train, val, "
            "schema, wholebody, outside_images; a split is a .json path or {json: ..., images: ...})"
        ) from None
    if config.train is None and config.val is None:
        raise ConfigError(f"{path}: names no split; add `train:` and/or `val:` (COCO keypoint .json files)")
    root = path.parent / config.path if config.path is not None else path.parent

    def resolve(split: SplitConfig | None) -> SplitConfig | None:
        if split is None:
            return None
        return SplitConfig(
            json=root / split.json_path, images=root / split.images if split.images is not None else None
        )

    return config.model_copy(
        update={"train": resolve(config.train), "val": resolve(config.val), "path": root, "source": path}
    )


def _unknown_key(path: Path, loc: tuple[Any, ...]) -> str:
    """The message for an unknown key of a data YAML (``loc``: its place, e.g. ``("vall",)``), with the
    closest allowed key."""
    *parents, key = (str(part) for part in loc)
    model: type[BaseModel] = DataConfig
    if parents:
        model = SchemaConfig if parents[0] == "schema" else SplitConfig
    allowed = [field.alias or name for name, field in model.model_fields.items() if name != "source"]
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    inside = f" in `{'.'.join(parents)}:`" if parents else ""
    return f"{_where(path, key)}: unknown key '{key}'{inside}; {hint}allowed: {', '.join(allowed)}" + (
        "" if parents else " (a split is a .json path or {json: ..., images: ...})"
    )


def _where(path: Path, key: str) -> str:
    """``path`` with the line of the first ``key:`` in it (``data.yaml, line 3``), where it can be found
    (block or flow style: ``val: {json: a.json, images: x}``)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return str(path)
    pattern = re.compile(rf"(^|[\s{{,]){re.escape(key)}\s*:")
    for number, line in enumerate(lines, 1):
        if pattern.search(line.split("#", 1)[0]):
            return f"{path}, line {number}"
    return str(path)
