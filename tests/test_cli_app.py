"""The CLI entry point: a user mistake is one message on stderr, verbatim, and exit status 1."""

from __future__ import annotations

import sys

import pytest

from posekit.cli import app as cli
from posekit.errors import ConfigError


def test_error_is_printed_verbatim_without_traceback(monkeypatch, capsys) -> None:
    message = 'tracker needs pip install "posekit[track]"; annotations[3] field [bold]keypoints[/bold]'

    def fail() -> None:
        raise ConfigError(message)

    monkeypatch.setattr(cli, "app", fail)
    monkeypatch.setattr(sys, "argv", ["posekit"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert " ".join(err.split()) == f"Error: {message}"
    assert "Traceback" not in err
