"""report.html: self-contained, every section there, the same page for a val run and an audit run, and,
where Chromium is installed, loaded in a real browser at phone and desktop widths without an error."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from browser import Chromium, find_chromium
from helpers import make_keypoint_set
from PIL import Image

from posekit.datasets.schema import get_preset
from posekit.label_audit.findings import Finding
from posekit.metrics.error_types import error_breakdown
from posekit.metrics.keypoint_metrics import evaluate_predictions
from posekit.report.html import MAX_FINDINGS, REPORT_HTML, render_html_report, write_html_report

SCHEMA = get_preset("coco17")
#: Attributes that load something: in a self-contained page they hold data: URIs or in-page anchors only.
LOADS = re.compile(r"""\b(?:src|href|srcset|poster|data)\s*=\s*["']?([^"'\s>]*)""", re.I)


def _external_references(page: str) -> list[str]:
    return [url for url in LOADS.findall(page) if not url.startswith(("data:", "#"))]


@pytest.fixture(scope="module")
def evaluated() -> tuple:
    gt, results = make_keypoint_set(40, seed=3)
    return evaluate_predictions(gt, results, SCHEMA, keypoint_ap=False), error_breakdown(gt, results, SCHEMA)


def test_val_page_is_self_contained_with_every_section(evaluated) -> None:
    report, errors = evaluated
    page = render_html_report("posekit val <b>&", evaluation=report, errors=errors)
    assert page.startswith("<!DOCTYPE html>") and '<meta name="viewport"' in page
    assert "<title>posekit val &lt;b&gt;&amp;</title>" in page  # text is escaped
    for anchor in ("metrics", "keypoints", "errors", "groups"):
        assert f'<section id="{anchor}">' in page and f'href="#{anchor}"' in page
    assert 'id="findings"' not in page and 'id="worst"' not in page
    assert _external_references(page) == [] and "<script" not in page
    assert page.count('<img class=chart alt="') == 4  # per keypoint, PR, AP fixed, error shares
    ap = report.metrics["coco"]["AP"]
    # one unit for AP: the cards, the tables and the charts show fractions 0-1 with three decimals
    assert f"<b>{ap:.3f}</b>" in page and "AP, AR and PCK are fractions 0-1" in page
    assert "OKS AP/AR, fractions 0-1" in page and "%)" not in page
    weakest = report.keypoints[0]
    assert f"<td>{weakest.pck:.3f}</td>" in page  # the per-keypoint table, as the chart labels its bars
    for label in ("jitter", "inversion", "swap", "miss", "<small>area 32²–96²</small>", "16-17 joints"):
        assert label in page


def test_audit_page_lists_findings_without_metrics(tmp_path) -> None:
    findings = [
        Finding(7, 3, "left_wrist", "swap", 9.5, "crossed <arms>", "exchange left and right", "val"),
        *(Finding(100 + i, 1, "", "duplicate", 5.0, "two labels", "delete one") for i in range(MAX_FINDINGS)),
    ]
    path = write_html_report(tmp_path, "posekit audit: sample", findings=findings, facts={"people (val)": 12})
    assert path == tmp_path / REPORT_HTML
    page = path.read_text()
    assert '<section id="findings">' in page and 'id="metrics"' not in page
    assert "<dt>people (val)</dt><dd>12</dd>" in page
    assert "crossed &lt;arms&gt;" in page and f"{len(findings)} likely annotation errors" in page
    assert f"The {MAX_FINDINGS} highest-scoring of {len(findings)}" in page
    assert "<td>duplicate</td><td>200</td>" in page  # counts by kind
    assert _external_references(page) == []
    assert "No likely annotation error" in render_html_report("audit", findings=[])


def test_audit_cli_writes_the_page(tiny_sample, tmp_path, run_cli) -> None:
    code, output = run_cli("audit", tiny_sample, "--project", tmp_path)
    assert code == 0, output
    page = (tmp_path / "audit" / "exp" / REPORT_HTML).read_text()
    assert '<section id="findings">' in page and f"<dd>{tiny_sample}</dd>" in page


@pytest.fixture(scope="module")
def val_run(tiny_sample: Path, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``posekit val`` (the real CLI entry point), tiny random model on the tiny sample: its run folder."""
    from posekit.cli.app import main

    project = tmp_path_factory.mktemp("runs")
    argv = [
        "posekit",
        "val",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(tiny_sample),
        "--project",
        str(project),
    ]
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(output):
        patch.setattr(sys, "argv", argv)
        with contextlib.suppress(SystemExit):
            main()
    run_dir = project / "val" / "exp"
    assert f"Report: {run_dir / REPORT_HTML}" in output.getvalue(), output.getvalue()
    return run_dir


def test_val_run_writes_the_page_and_the_error_breakdown(val_run: Path) -> None:
    metrics = json.loads((val_run / "metrics.json").read_text())
    errors = metrics["errors"]
    assert errors["AP"] == metrics["coco"]["AP"]  # the same COCO evaluation
    sizes = {g["name"]: g["AP"] for g in errors["by_size"]}
    assert sizes["medium"] in (None, metrics["coco"]["APm"]) and sizes["large"] in (
        None,
        metrics["coco"]["APl"],
    )
    assert set(errors["AP_fixed"]) == {"jitter", "inversion", "swap", "miss", "all"}
    assert sum(errors["counts"].values()) == errors["joints"] > 0
    page = (val_run / REPORT_HTML).read_text()
    assert '<section id="worst">' in page and "data:image/jpeg;base64," in page
    assert _external_references(page) == []


@pytest.mark.parametrize("width", [375, 1440])
def test_page_in_headless_chromium(val_run: Path, tmp_path: Path, width: int) -> None:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium on PATH (Debian: apt-get install chromium)")
    with Chromium(binary, tmp_path / "profile") as browser:
        page = browser.open_page((val_run / REPORT_HTML).as_uri(), width)
    assert page.problems == []  # no console error, exception or failed load
    assert page.scroll_width <= width  # nothing makes the page scroll sideways
    charts = [i for i in page.images if i["cls"] == "chart"]
    assert len(charts) == 4 and all(i["loaded"] for i in page.images)
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot)).convert("L"), dtype=np.float64)
    (tmp_path / f"report_{width}.png").write_bytes(page.screenshot)
    for chart in charts:
        assert (
            chart["x"] >= 0
            and chart["x"] + chart["width"] <= width
            and chart["width"] >= 0.8 * min(width, 560)
        )
        x, y, w, h = (round(chart[k]) for k in ("x", "y", "width", "height"))
        region = shot[y : y + h, x : x + w]
        assert region.shape[0] > 100 and region.std() > 20, chart  # drawn, not blank
