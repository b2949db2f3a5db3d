"""README's two opening commands stay true: CI runs the test command exactly as README writes it."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    lines = (REPO / "README.md").read_text().splitlines()
    return [line.strip() for line in lines if line.strip().startswith("pip install torch==2.13.0")]


def test_readme_opens_with_main_job_and_test_commands() -> None:
    commands = _readme_commands()
    assert len(commands) >= 2, "README must start with the install+train and install+test commands"
    main_job, tests = commands[:2]
    assert main_job.endswith("posekit train")
    assert '".[dev]"' in tests and tests.endswith("pytest -q")


def test_ci_runs_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert _readme_commands()[1] in [line.strip() for line in ci]
