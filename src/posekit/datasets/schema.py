"""Keypoint schema: what the K keypoints are (names, skeleton, flip pairs, OKS sigmas, body parts).

Skeleton pairs and all indices are 0-based here; COCO files store skeletons 1-based and
:func:`KeypointSchema.from_coco_category` converts them.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from posekit.errors import ConfigError

#: OKS sigma for a keypoint whose name no preset knows (the median of COCO-17's sigmas is 0.072;
#: mmpose and xtcocotools also default custom data sets to a single constant). Keypoints named like
#: a preset's (``left_eye``, ``right_knee``, ``thumb1`` ...) get that preset's sigma (default_sigmas).
DEFAULT_SIGMA = 0.05

_SIDE_PATTERNS = [  # (regex for a left name, the right word, whether it comes first)
    (re.compile(r"^left(?P<sep>[_\-. ]?)(?P<rest>.+)$", re.I), "right", True),  # left_eye, leftEye
    (re.compile(r"^l(?P<sep>[_\-. ])(?P<rest>.+)$", re.I), "r", True),  # l_knee, L.hand
    (re.compile(r"^L(?P<sep>)(?P<rest>[A-Z][a-z].*)$"), "R", True),  # OpenPose: LShoulder, LBigToe
    (re.compile(r"^(?P<rest>.+?)(?P<sep>[_\-. ]?)left$", re.I), "right", False),  # eye_left, EyeLeft
    (re.compile(r"^(?P<rest>.+?)(?P<sep>[_\-. ])l$", re.I), "r", False),  # knee_l, hand.L
    (re.compile(r"^(?P<rest>.*[a-z])(?P<sep>)L$"), "R", False),  # shoulderL
]
_RIGHT_PATTERNS = [  # names of a right-side keypoint, in the same styles
    re.compile(r"^right([_\-. ]?).+$|^r[_\-. ].+$|^.+?([_\-. ]?)right$|^.+[_\-. ]r$", re.I),
    re.compile(r"^R[A-Z][a-z].*$|^.*[a-z]R$"),
]


class KeypointSchema(BaseModel):
    """Names, skeleton, flip pairs, OKS sigmas and body parts of a keypoint set (all 0-based)."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    name: str = "custom"
    names: list[str]
    skeleton: list[tuple[int, int]] = []
    flip_pairs: list[tuple[int, int]] = []
    sigmas: list[float] = []
    upper_body: list[int] = []
    lower_body: list[int] = []
    head: list[int] = []

    @model_validator(mode="before")
    @classmethod
    def _fill_sigmas(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("sigmas") and data.get("names"):
            data = {**data, "sigmas": default_sigmas(data["names"])}
        return data

    @model_validator(mode="after")
    def _check(self) -> KeypointSchema:
        k = len(self.names)
        if k == 0:
            raise ValueError("a keypoint schema needs at least one keypoint")
        if len(set(self.names)) != k:
            dup = sorted({n for n in self.names if self.names.count(n) > 1})
            raise ValueError(f"keypoint names must be unique; repeated: {dup}")
        if len(self.sigmas) != k:
            raise ValueError(f"sigmas has {len(self.sigmas)} values but there are {k} keypoints")
        if any(not (s > 0) for s in self.sigmas):
            raise ValueError("every OKS sigma must be > 0")
        for field in ("skeleton", "flip_pairs"):
            for a, b in getattr(self, field):
                if not (0 <= a < k and 0 <= b < k):
                    raise ValueError(f"{field} pair ({a}, {b}) is out of range for {k} keypoints (0-based)")
        partner: dict[int, tuple[int, int]] = {}
        for pair in self.flip_pairs:  # a flip must be a permutation that undoes itself
            for i in set(pair):
                if i in partner and set(partner[i]) != set(pair):
                    raise ValueError(
                        f"flip_pairs: keypoint {i} ({self.names[i]}) is in two pairs, {list(partner[i])} and "
                        f"{list(pair)}; each keypoint has at most one mirror partner"
                    )
                partner[i] = pair
        for field in ("upper_body", "lower_body", "head"):
            bad = [i for i in getattr(self, field) if not 0 <= i < k]
            if bad:
                raise ValueError(f"{field} indices {bad} are out of range for {k} keypoints")
        return self

    # ------------------------------------------------------------------ derived views
    @property
    def num_keypoints(self) -> int:
        return len(self.names)

    @property
    def flip_index(self) -> np.ndarray:
        """Permutation ``p`` with ``flipped[i] = original[p[i]]`` (left and right swapped)."""
        index = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            index[a], index[b] = b, a
        return index

    @property
    def sigmas_array(self) -> np.ndarray:
        return np.asarray(self.sigmas, dtype=np.float64)

    def side(self, i: int) -> str:
        """``"left"``, ``"right"`` or ``"center"`` for keypoint ``i`` (by flip pair membership and name)."""
        for a, b in self.flip_pairs:
            if i in (a, b):
                name = self.names[i].lower()
                if name.startswith(("right", "r_")) or name.endswith(("right", "_r")):
                    return "right"
                if name.startswith(("left", "l_")) or name.endswith(("left", "_l")):
                    return "left"
                return "left" if i == min(a, b) else "right"
        return "center"

    # ------------------------------------------------------------------ construction
    def override(self, **fields: Any) -> KeypointSchema:
        """A copy with some fields replaced (validated again)."""
        unknown = set(fields) - set(type(self).model_fields)
        if unknown:
            raise ConfigError(
                f"unknown schema field(s) {sorted(unknown)}; allowed: {sorted(type(self).model_fields)}"
            )
        return type(self).from_dict({**self.model_dump(), **fields})

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeypointSchema:
        """Validate a schema dict; an invalid one raises :class:`ConfigError` naming the field."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise ConfigError(f"invalid keypoint schema: {describe_validation_error(error)}") from None

    @classmethod
    def from_names(cls, names: list[str], name: str = "custom", **fields: Any) -> KeypointSchema:
        """Build a schema from keypoint names, inferring flip pairs from left/right naming."""
        fields.setdefault("flip_pairs", infer_flip_pairs(names))
        fields.setdefault("sigmas", default_sigmas(names))
        return cls.from_dict({"name": name, "names": list(names), **fields})

    @classmethod
    def from_coco_category(cls, category: dict[str, Any], num_keypoints: int | None = None) -> KeypointSchema:
        """Build from a COCO ``categories`` entry (``keypoints`` names, 1-based ``skeleton``).

        A category matching a preset (same names) returns that preset, so COCO-17 files get the
        official sigmas. When the category lists no names, ``kp0 ... kp{K-1}`` are invented from
        ``num_keypoints`` (taken from the annotations) and, when K is the count of a standard layout
        (17 COCO body, 21 hand, 68 face as in 300-W, 133 COCO-WholeBody), that layout's flip pairs,
        sigmas, skeleton and body parts are assumed (see :func:`standard_layout`).
        """
        names = list(category.get("keypoints") or [])
        skeleton = [(int(a) - 1, int(b) - 1) for a, b in (category.get("skeleton") or [])]
        if not names:
            if not num_keypoints:
                raise ConfigError("the category lists no keypoint names and the keypoint count is unknown")
            names = [f"kp{i}" for i in range(num_keypoints)]
            standard = standard_layout(num_keypoints)
            if standard is not None:
                return standard.override(names=names, skeleton=skeleton or standard.skeleton)
        for preset_name in PRESETS:
            preset = get_preset(preset_name)
            if [n.lower() for n in preset.names] == [n.lower() for n in names]:
                return preset
        return cls.from_names(names, name=str(category.get("name", "custom")), skeleton=skeleton)


def infer_flip_pairs(names: list[str]) -> list[tuple[int, int]]:
    """Pairs of (left, right) indices from names such as ``left_eye``/``right_eye``, ``l_knee``/``r_knee``,
    ``eye_left``/``eye_right`` (case-insensitive), OpenPose's ``LShoulder``/``RShoulder`` and
    ``shoulderL``/``shoulderR``, ``hand.L``/``hand.R``."""
    lower = {n.lower(): i for i, n in enumerate(names)}
    pairs: list[tuple[int, int]] = []
    for i, name in enumerate(names):
        for pattern, right_word, left_first in _SIDE_PATTERNS:
            m = pattern.match(name)
            if not m:
                continue
            rest, sep = m.group("rest"), m.group("sep")
            candidate = f"{right_word}{sep}{rest}" if left_first else f"{rest}{sep}{right_word}"
            j = lower.get(candidate.lower())
            if j is not None and j != i:
                pairs.append((i, j))
                break
    return pairs


def unpaired_sides(schema: KeypointSchema) -> list[str]:
    """Names of keypoints that name a side (``left_wrist``, ``RShoulder``...) but have no flip partner:
    a mirrored image would keep their labels on the wrong side."""
    paired = {i for pair in schema.flip_pairs for i in pair}
    return [
        name
        for i, name in enumerate(schema.names)
        if i not in paired
        and (
            any(pattern.match(name) for pattern, _, _ in _SIDE_PATTERNS)
            or any(pattern.match(name) for pattern in _RIGHT_PATTERNS)
        )
    ]


# ---------------------------------------------------------------------- presets
PRESETS = ("coco17", "hand21", "face68", "wholebody133")


@cache
def get_preset(name: str) -> KeypointSchema:
    """A built-in schema: ``coco17``, ``hand21``, ``face68`` (300-W) or ``wholebody133``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown keypoint schema preset {name!r}; choose one of {list(PRESETS)}")
    text = resources.files("posekit.datasets").joinpath("presets", f"{name}.json").read_text()
    return KeypointSchema.from_dict(json.loads(text))


def standard_layout(num_keypoints: int) -> KeypointSchema | None:
    """The preset with ``num_keypoints`` keypoints (17, 21, 68, 133), assumed for files that name none."""
    for preset_name in PRESETS:
        preset = get_preset(preset_name)
        if preset.num_keypoints == num_keypoints:
            return preset
    return None


@cache
def _known_sigmas() -> dict[str, float]:
    known: dict[str, float] = {}
    for preset_name in PRESETS:
        preset = get_preset(preset_name)
        for n, s in zip(preset.names, preset.sigmas, strict=True):
            known.setdefault(n.lower(), s)
    return known


def default_sigmas(names: list[str]) -> list[float]:
    """OKS sigmas for ``names``: a preset's sigma for a name it knows (case-insensitive), else
    :data:`DEFAULT_SIGMA`. E.g. PoseTrack's ``left_ear`` gets COCO's 0.035, ``head_top`` the default."""
    known = _known_sigmas()
    return [known.get(str(n).lower(), DEFAULT_SIGMA) for n in names]


def describe_validation_error(error: ValidationError) -> str:
    """A one-line summary of a pydantic error: ``field.path: message; ...``."""
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"])
        parts.append(f"{where}: {e['msg']}" if where else e["msg"])
    return "; ".join(parts)
