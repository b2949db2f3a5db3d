"""The Python API: one model object (posekit.load) and functions that take it, a path or a preset; typed
results; nothing printed unless verbose=True."""

from __future__ import annotations

import inspect
import types

import numpy as np
import pytest

import posekit
from posekit.errors import ConfigError


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return posekit.load(tiny_model_dir, device="cpu")


@pytest.mark.slow
def test_functions_take_the_model_object_or_its_path(model, tiny_model_dir, tiny_sample, tmp_path, capsys):
    common = dict(data=tiny_sample, project=tmp_path, worst=0, device="cpu")
    by_object = posekit.val(model=model, **common)
    by_method = model.val(**common)
    by_path = posekit.val(model=tiny_model_dir, **common)
    assert capsys.readouterr().out == ""  # quiet unless verbose=True
    assert by_object.ap == by_method.ap == by_path.ap and by_object.to_dict()["coco"]["AP"] == by_object.ap
    assert by_object.save_dir == tmp_path / "val" / "exp" and by_path.save_dir == tmp_path / "val" / "exp3"
    assert (by_object.save_dir / "metrics.json").is_file() and by_object.to_dict()["save_dir"]
    posekit.val(model=model, verbose=True, **common)
    assert "metrics.json" in capsys.readouterr().out


def test_predict_returns_a_list_or_with_stream_a_generator(model, capsys):
    image = np.random.default_rng(0).integers(0, 255, (96, 72, 3), dtype=np.uint8)
    box = np.array([[4.0, 4.0, 60.0, 88.0]])
    results = model.predict(image, boxes=box)
    assert isinstance(results, list) and len(results) == 1 and results[0].keypoints.shape == (1, 17, 2)
    stream = posekit.predict(image, model=model, boxes=box, stream=True)
    assert isinstance(stream, types.GeneratorType)
    np.testing.assert_array_equal(next(stream).keypoints, results[0].keypoints)
    assert capsys.readouterr().out == ""
    with pytest.raises(ConfigError, match="--model"):
        posekit.predict(image, boxes=box)


def test_audit_and_sigmas_exist_with_typed_results(model, tiny_sample, tmp_path):
    audit = posekit.audit(tiny_sample, project=tmp_path, gallery=0)
    assert audit.save_dir == tmp_path / "audit" / "exp" and (audit.save_dir / "findings.csv").is_file()
    assert set(audit.report.people) and isinstance(audit.report.findings, list)
    sigmas = posekit.sigmas("sample", out=tmp_path / "schema.json")
    assert sigmas.path.is_file() and len(sigmas.schema.sigmas) == 17
    assert callable(model.audit) and callable(model.export) and callable(model.train)


def test_the_api_names_the_command_options():
    """Every function forwards its command's options: no parameter is declared twice."""
    for name in ("check", "train", "val", "predict", "export", "audit", "sigmas", "convert"):
        parameters = inspect.signature(getattr(posekit, name)).parameters
        assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()), name
