"""Entry point of the ``posekit`` command. Each verb lives in its own module of this package."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from posekit.cli.analyze import analyze_command
from posekit.cli.commands import COMMANDS
from posekit.cli.examples import epilog, overview
from posekit.errors import PosekitError

app = typer.Typer(
    name="posekit",
    help="Train, evaluate and run ViTPose keypoint models on COCO keypoint data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog=overview(),
)


class _Stopped(Exception):
    """Ctrl-C inside a command, carried past typer (which turns a KeyboardInterrupt into a silent exit)."""


def _interruptible(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt as interrupt:  # posekit.errors.Interrupted says how to go on
            raise _Stopped(str(interrupt)) from None

    return run


for _name, _command in {**COMMANDS, "analyze": analyze_command}.items():
    app.command(_name, epilog=epilog(_name))(_interruptible(_command))


def main() -> None:
    """Run the CLI; a :class:`PosekitError` is printed as one message and exits with status 1, Ctrl-C
    prints "Interrupted" (and how to resume, for training) and exits with status 130."""
    try:
        app()
    except PosekitError as error:
        # escaped: messages quote user text and names such as posekit[track] that rich would read as markup
        message = f"[bold red]Error:[/] {escape(str(error))}"
        Console(stderr=True).print(message, highlight=False, soft_wrap=True)
        sys.exit(1)
    except (_Stopped, KeyboardInterrupt) as interrupt:
        Console(stderr=True).print(
            f"Interrupted. {escape(str(interrupt))}".strip(), highlight=False, soft_wrap=True
        )
        sys.exit(130)


if __name__ == "__main__":
    main()
