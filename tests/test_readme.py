"""README's opening commands stay true: the main job is the sample training whose recipe README states,
and CI runs the test command exactly as README writes it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from posekit.models.presets import PRESETS
from posekit.samples.sample_images import generate_sample
from posekit.settings import DEFAULT_MODEL, SCRATCH_RECIPE

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _readme_commands() -> list[str]:
    return [
        line.strip() for line in README.splitlines() if line.strip().startswith("pip install torch==2.13.0")
    ]


def test_the_main_job_is_the_sample_training_readme_describes() -> None:
    main_job = _readme_commands()[0]
    assert main_job.endswith("&& posekit train"), "README's first command installs and runs `posekit train`"
    # what `posekit train` with no flags trains: the default model, which has no pretrained weights, so
    # the from-scratch recipe
    assert PRESETS[DEFAULT_MODEL].hub_id is None
    text = README[README.index(main_job) :][:600]
    epochs, height, width = map(int, re.search(r"for (\d+) epochs at (\d+)x(\d+)", text).groups())
    assert (epochs, (height, width)) == (SCRATCH_RECIPE["epochs"], SCRATCH_RECIPE["input_size"])
    model = re.search(r"trains (ViTPose-\w+)", text).group(1)
    assert DEFAULT_MODEL == "vitpose-" + model.split("-")[1].lower()
    defaults = inspect.signature(generate_sample).parameters
    train_images, val_images = map(
        int, re.search(r"(\d+) training images.*?(\d+) validation", text, re.S).groups()
    )
    assert (train_images, val_images) == (defaults["num_train"].default, defaults["num_val"].default)


def test_ci_runs_readme_test_command() -> None:
    tests = _readme_commands()[1]
    assert '".[dev]"' in tests and tests.endswith("pytest -q")
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert tests in [line.strip() for line in ci]


def test_the_python_example_calls_the_api_with_its_option_names() -> None:
    """Each call of README's Python example exists and passes only its command's option names (running it
    needs a data set and hub weights, so the calls are checked, not run)."""
    import ast

    import posekit
    from posekit.settings import CheckConfig, ExportConfig, PredictConfig, TrainConfig, ValConfig

    code = README.split("```python\n", 1)[1].split("```", 1)[0]
    options = {
        "check": CheckConfig,
        "train": TrainConfig,
        "val": ValConfig,
        "predict": PredictConfig,
        "export": ExportConfig,
        "load": None,
    }
    calls = [
        node
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    ]
    names = {call.func.attr for call in calls}
    assert {"check", "train", "load", "val", "predict", "export"} <= names
    for call in calls:
        name = call.func.attr
        assert name in options and hasattr(posekit, name)
        if name not in ("check", "load"):  # the model object has the model's commands
            assert hasattr(posekit.ViTPose, name)
        if options[name] is not None:
            assert {k.arg for k in call.keywords} <= set(options[name].model_fields), name
