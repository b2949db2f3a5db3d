"""Help text of CLI flags from the settings models (one description and one default per setting)."""

from __future__ import annotations

from pydantic import BaseModel


def help_for(settings: type[BaseModel], field: str) -> str:
    """``--flag`` help: the field's description and its default (when it has a plain one)."""
    info = settings.model_fields[field]
    default = info.default
    shown = (
        ""
        if default is None or isinstance(default, BaseModel) or callable(default)
        else f" (default: {default})"
    )
    return f"{info.description}{shown}"
