"""CLI commands generated from the settings models: each field of a command's model in
:mod:`posekit.settings` is one option (``batch_size`` -> ``--batch-size``) with the field's type, default and
description, so an option is declared once. Options default to ``None`` ("not given") so that a
``--config`` YAML file can fill them and the options given win; the values are validated together by the
settings model (:func:`posekit.settings.build_settings`)."""

from __future__ import annotations

import dataclasses
import inspect
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import typer
from pydantic import BaseModel
from rich.markup import escape

from posekit.settings import flag

#: Other spellings of an option (Ultralytics' ``--imgsz``, short forms).
ALIASES = {"input_size": ("--imgsz",)}


def help_for(settings: type[BaseModel], field: str) -> str:
    """``--flag`` help: the field's description and its default (when it has a plain one)."""
    info = settings.model_fields[field]
    return _with_default(info.description or "", info.default)


def is_flag(settings: type[BaseModel], field: str) -> bool:
    """Whether ``field`` is a command-line option (not YAML/Python only)."""
    extra = settings.model_fields[field].json_schema_extra
    return not (isinstance(extra, dict) and extra.get("cli") is False)


def settings_command(
    settings: type[BaseModel],
    run: Callable[..., Any],
    *,
    doc: str,
    arguments: Sequence[str] = (),
    names: dict[str, tuple[str, ...]] | None = None,
    extra: Sequence[inspect.Parameter] = (),
) -> Callable[..., Any]:
    """A typer command whose parameters are ``settings``' fields (``arguments`` positional, the others
    options named by :func:`~posekit.settings.flag` or ``names``), then ``extra`` parameters and
    ``--config``; it calls ``run(config=..., **given)`` with the values given (nested settings such as
    ``one_euro`` gathered from their own options)."""
    names = {**{k: (flag(k), *v) for k, v in ALIASES.items()}, **(names or {})}
    params: list[inspect.Parameter] = []
    nested: dict[str, list[str]] = {}
    for name, info in settings.model_fields.items():
        if not is_flag(settings, name):
            continue
        kind = _plain(info.annotation)
        if dataclasses.is_dataclass(kind):
            nested[name] = [f.name for f in dataclasses.fields(kind)]
            hints = get_type_hints(kind)
            for sub in dataclasses.fields(kind):
                help_text = _with_default(sub.metadata.get("help", ""), sub.default)
                params.append(_option(sub.name, _cli_type(hints[sub.name]), help_text, (flag(sub.name),)))
            continue
        help_text = help_for(settings, name)
        if name in arguments:
            cli_type = _cli_type(info.annotation)
            required = info.is_required()
            argument = typer.Argument(help=escape(help_text), show_default=False)
            params.append(
                inspect.Parameter(
                    name,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    default=inspect.Parameter.empty if required else None,
                    annotation=Annotated[cli_type if required else cli_type | None, argument],
                )
            )
        else:
            cli_type = _cli_type(info.annotation)
            params.append(_option(name, cli_type, help_text, names.get(name, (flag(name),))))
    params += list(extra)
    params.append(
        _option(
            "config", Path, "YAML file of these settings (the fields' names as keys); options given win", ()
        )
    )

    def command(**given: Any) -> Any:
        for name, fields in nested.items():
            values = {f: given.pop(f) for f in fields}
            given[name] = {f: v for f, v in values.items() if v is not None} or None
        return run(**given)

    params.sort(key=lambda p: p.kind)  # arguments first, in their order, then the options
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = doc
    return command


def _option(name: str, cli_type: Any, help_text: str, names: tuple[str, ...]) -> inspect.Parameter:
    if cli_type is bool:
        names = (f"{names[0]}/--no-{names[0].removeprefix('--')}", *names[1:])
    # the help is rich markup: [track] is text
    option = typer.Option(*names, help=escape(help_text))
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[cli_type | None, option]
    )


def _with_default(description: str, default: Any) -> str:
    plain = default is not None and not isinstance(default, BaseModel) and not callable(default)
    plain = plain and not dataclasses.is_dataclass(default) and default is not dataclasses.MISSING
    return (
        f"{description} (default: {default})"
        if plain and repr(default) != "PydanticUndefined"
        else description
    )


def _plain(annotation: Any) -> Any:
    """``annotation`` without ``None`` and ``Annotated`` wrappers."""
    if get_origin(annotation) is Annotated:
        return _plain(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return _plain(members[0]) if len(members) == 1 else annotation
    return annotation


def _cli_type(annotation: Any) -> Any:
    """The type typer parses: bool, int, float, a list of strings, else text (checked by the model)."""
    kind = _plain(annotation)
    if kind in (bool, int, float):
        return kind
    if get_origin(kind) is Literal and all(
        isinstance(v, int) and not isinstance(v, bool) for v in get_args(kind)
    ):
        return int
    if get_origin(kind) is list:
        return list[str]
    return str
