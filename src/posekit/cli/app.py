"""Entry point of the ``posekit`` command. Each verb lives in its own module of this package."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from posekit.cli.audit import audit_command
from posekit.cli.check import check_command
from posekit.cli.convert import convert_command
from posekit.cli.examples import epilog, overview
from posekit.cli.export import export_command
from posekit.cli.predict import predict_command
from posekit.cli.sigmas import sigmas_command
from posekit.cli.train import train_command
from posekit.cli.val import val_command
from posekit.errors import PosekitError

app = typer.Typer(
    name="posekit",
    help="Train, evaluate and run ViTPose keypoint models on COCO keypoint data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog=overview(),
)
for _name, _command in (
    ("check", check_command),
    ("train", train_command),
    ("val", val_command),
    ("predict", predict_command),
    ("export", export_command),
    ("convert", convert_command),
    ("audit", audit_command),
    ("sigmas", sigmas_command),
):
    app.command(_name, epilog=epilog(_name))(_command)


def main() -> None:
    """Run the CLI; a :class:`PosekitError` is printed as one message and exits with status 1."""
    try:
        app()
    except PosekitError as error:
        # escaped: messages quote user text and names such as posekit[track] that rich would read as markup
        message = f"[bold red]Error:[/] {escape(str(error))}"
        Console(stderr=True).print(message, highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        Console(stderr=True).print("Interrupted.")
        sys.exit(130)


if __name__ == "__main__":
    main()
