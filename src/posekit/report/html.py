"""report.html: the one page of a run a person reads. Self-contained (charts as SVG images and the
worst-people picture as a JPEG, all embedded; no script, no link to the network), readable on a phone
(375 px) as on a desktop screen. Every section is optional, so a val run (metrics, error breakdown,
worst people) and an audit run (findings, no metrics) write the same kind of page.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from posekit.fileio import atomic_write_text
from posekit.metrics.coco_eval import COCO_STAT_NAMES
from posekit.metrics.error_types import ERROR_TYPES, LABELS, ErrorBreakdown, GroupResult
from posekit.metrics.keypoint_metrics import CONFIDENCE_NOTE, EvaluationReport
from posekit.metrics.units import SCORE_UNIT, format_fraction
from posekit.report.console import format_number
from posekit.report.files import MAX_PLOTTED_KEYPOINTS, per_keypoint_chart, pr_chart
from posekit.viz.plots import ap_fixed_figure, label_shares_figure, svg_text

if TYPE_CHECKING:
    from posekit.label_audit.findings import Finding

REPORT_HTML = "report.html"
#: The findings table lists at most this many (highest score first); findings.csv has them all.
MAX_FINDINGS = 200


@dataclass
class Panel:
    """A section of charts (alt text, figure) and tables (header, rows of text) under a heading."""

    heading: str
    charts: Sequence[tuple[str, Figure]] = ()
    tables: Sequence[tuple[Sequence[str], Sequence[Sequence[str]]]] = ()
    notes: Sequence[str] = ()


def write_html_report(run_dir: str | Path, title: str, **sections: Any) -> Path:
    """Write ``run_dir/report.html`` atomically; ``sections`` are the keywords of
    :func:`render_html_report`. Returns the file's path."""
    path = Path(run_dir) / REPORT_HTML
    atomic_write_text(path, render_html_report(title, **sections))
    return path


def render_html_report(
    title: str,
    *,
    evaluation: EvaluationReport | None = None,
    errors: ErrorBreakdown | None = None,
    worst_people: str | Path | None = None,
    findings: Sequence[Finding] | None = None,
    facts: Mapping[str, Any] | None = None,
    panels: Sequence[Panel] = (),
) -> str:
    """The page: ``facts`` (label -> value) at the top, then the sections of what is given: the metrics
    of ``evaluation`` (COCO stats, PCK table, per-keypoint chart, PR curves), the ``errors`` breakdown
    with the AP by person size and by labelled joints, the ``worst_people`` picture (a JPEG file) and
    the audit ``findings`` (highest score first; an empty list says none was found), then ``panels``
    (charts and tables of other runs, e.g. analyze's angle curves and rep tables)."""
    facts = {**(_evaluation_facts(evaluation.metrics) if evaluation else {}), **(facts or {})}
    sections: list[tuple[str, str, str]] = []  # (anchor, heading, body)
    if evaluation is not None:
        sections += _evaluation_sections(evaluation)
    if errors is not None:
        sections += _error_sections(errors)
    if worst_people is not None:
        sections.append(("worst", "Worst people", _worst_people(Path(worst_people))))
    if findings is not None:
        sections.append(("findings", "Audit findings", _findings(findings)))
    for n, panel in enumerate(panels):
        content = "".join(f"<p>{_e(p)}</p>" for p in panel.notes) + "<div class=charts>"
        content += "".join(_chart(fig, alt) for alt, fig in panel.charts) + "</div>"
        content += "".join(_table(header, rows, numeric=True) for header, rows in panel.tables)
        sections.append((f"panel{n}", panel.heading, content))
    contents = "".join(f'<li><a href="#{anchor}">{_e(heading)}</a></li>' for anchor, heading, _ in sections)
    body = "".join(
        f'<section id="{anchor}"><h2>{_e(heading)}</h2>{content}</section>'
        for anchor, heading, content in sections
    )
    facts_html = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in facts.items())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_e(title)}</title><style>{_css()}</style></head>'
        f"<body><header><h1>{_e(title)}</h1><dl class=facts>{facts_html}</dl>"
        f"<nav><ul>{contents}</ul></nav></header><main>{body}</main>"
        "<footer>Written by posekit.</footer></body></html>\n"
    )


# ---------------------------------------------------------------------------------------------- evaluation
def _evaluation_facts(metrics: Mapping[str, Any]) -> dict[str, Any]:
    run = metrics.get("run", {})
    counts = metrics["counts"]
    facts = {
        "data": f"{run['data']} ({run['split']})" if "data" in run else None,
        "model": run.get("model"),
        "predictions": run.get("predictions_file"),
        "boxes": metrics["box_source"],
        "OKS sigmas": metrics["oks"]["sigmas_source"],
        "people": f"{counts['people']} in {counts['images']} images, {counts['missed_people']} not predicted",
        "predictions made": counts["predictions"],
    }
    return {k: v for k, v in facts.items() if v is not None}


def _evaluation_sections(report: EvaluationReport) -> list[tuple[str, str, str]]:
    mt = report.metrics
    coco = mt["coco"]
    cards = [(name, format_fraction(coco[name])) for name in ("AP", "AP50", "AP75", "AR")]
    cards += [
        ("PCK@0.1", format_fraction(mt["pck"].get("PCK@0.1"))),
        ("mean OKS", format_number(mt["mean_oks"])),
    ]
    summary = "<div class=cards>" + "".join(
        f"<div class=card><span>{_e(k)}</span><b>{_e(v)}</b></div>" for k, v in cards
    )
    summary += f"</div><p class=note>AP, AR and PCK are {SCORE_UNIT} throughout this report.</p>"
    stats = _table(COCO_STAT_NAMES, [[format_fraction(coco[n]) for n in COCO_STAT_NAMES]], numeric=True)
    notes = "".join(f"<p class=note>{_e(note)}</p>" for note in mt["coco_notes"])
    loc_rows = [
        [f"PCK@{t:g}", format_fraction(mt["pck"][f"PCK@{t:g}"]), mt["pck"]["normaliser"]]
        for t in mt["pck"]["thresholds"]
    ]
    if mt["pckh"].get("value") is not None:
        loc_rows.append(
            [
                f"PCKh@{mt['pckh']['threshold']:g}",
                format_fraction(mt["pckh"]["value"]),
                mt["pckh"]["normaliser"],
            ]
        )
    loc_rows += [
        ["AUC", format_fraction(mt["auc"]["value"]), mt["auc"]["normaliser"]],
        ["EPE", format_number(mt["epe"]["value"], " px"), "-"],
        ["NME", format_number(mt["nme"]["value"]), mt["nme"]["normaliser"]],
        ["mean OKS", format_number(mt["mean_oks"]), "missed people count 0"],
    ]
    metrics_html = (
        summary
        + f"<h3>COCO keypoints (OKS AP/AR, {SCORE_UNIT})</h3>"
        + stats
        + notes
        + f"<h3>Localisation of the matched people (PCK, AUC: {SCORE_UNIT})</h3>"
        + _table(["metric", "value", "normalised by"], loc_rows)
        + f"<p class=note>{_e(CONFIDENCE_NOTE)}</p>"
    )
    rows = [
        [
            str(i),
            r.name,
            format_fraction(r.ap),
            format_fraction(r.pck),
            format_number(r.oks_term),
            str(r.labelled),
        ]
        for i, r in enumerate(report.keypoints, 1)
    ]
    keypoints_html = (
        "<div class=charts>"
        + _chart(per_keypoint_chart(report), "per-keypoint accuracy, weakest first")
        + _chart(pr_chart(report), "precision-recall curves")
        + "</div><details><summary>Every keypoint</summary>"
        + _table(["rank", "keypoint", "AP", "PCK@0.1", "OKS term", "labelled"], rows, numeric=True)
        + "</details>"
    )
    return [
        ("metrics", "Metrics", metrics_html),
        ("keypoints", "Per keypoint and precision-recall", keypoints_html),
    ]


# ---------------------------------------------------------------------------------------------- errors
def _error_sections(errors: ErrorBreakdown) -> list[tuple[str, str, str]]:
    counts = errors.counts
    total = counts.sum(axis=0)
    joints = int(total.sum())
    rows = [["good", str(int(total[0])), _share(total[0], joints), format_fraction(errors.ap), "-"]]
    for t in ERROR_TYPES:
        i = LABELS.index(t)
        fixed = errors.ap_fixed[t]
        rows.append(
            [t, str(int(total[i])), _share(total[i], joints), format_fraction(fixed), _gain(fixed, errors.ap)]
        )
    rows.append(
        [
            "all four",
            str(joints - int(total[0])),
            _share(joints - total[0], joints),
            format_fraction(errors.ap_fixed["all"]),
            _gain(errors.ap_fixed["all"], errors.ap),
        ]
    )
    intro = (
        f"<p>{len(errors.errors.result_index)} predictions matched to a person at OKS &ge; 0.1, "
        f"{joints} labelled joints. Each joint is compared with every labelled point of its image "
        "(keypoint similarity ks): <b>good</b> ks &ge; 0.85 on its own point; <b>jitter</b> 0.5 &le; ks "
        "&lt; 0.85 on its own point; <b>inversion</b> on its own person's left/right partner; <b>swap</b> "
        "on another person's joint; <b>miss</b> near no labelled point. The AP columns give COCO AP after "
        "fixing that type alone (jitter moved to ks 0.85, miss to ks 0.5, inversion and swap onto their own "
        "point): the gain is what the type costs. Ronchi &amp; Perona, ICCV 2017.</p>"
    )
    order = np.argsort(counts[:, 0] / np.maximum(counts.sum(axis=1), 1), kind="stable")[
        :MAX_PLOTTED_KEYPOINTS
    ]
    order = order[counts[order].sum(axis=1) > 0]
    charts = "<div class=charts>" + _chart(
        ap_fixed_figure(errors.ap, errors.ap_fixed), "AP after fixing each error type"
    )
    if joints:
        names = ["all joints", *(errors.keypoint_names[i] for i in order)]
        shares = label_shares_figure(
            names, np.vstack([total, counts[order]]), LABELS, "Joints by error type, fewest good first"
        )
        charts += _chart(shares, "share of each error type per keypoint")
    charts += "</div>"
    groups = (
        "<h3>By person size (COCO area ranges)</h3>"
        + _groups(errors.by_size, _area_range)
        + "<h3>By number of labelled joints</h3>"
        + _groups(errors.by_visible, lambda _: "")
        + "<p class=note>AP of the people of a group, the others ignored as COCO ignores crowds; the error "
        "shares are those of the group's joints.</p>"
    )
    error_table = _table(["type", "joints", "share", "AP fixed", "AP gain"], rows, numeric=True)
    return [
        ("errors", "Error breakdown", intro + error_table + charts),
        ("groups", "Results by group", groups),
    ]


def _groups(groups: Sequence[GroupResult], describe: Callable[[GroupResult], str]) -> str:
    rows = []
    for g in groups:
        joints = int(g.counts.sum())
        shares = [_share(g.counts[LABELS.index(t)], joints) for t in ERROR_TYPES]
        detail = describe(g)
        name = f"<b>{_e(g.name)}</b>" + (f"<br><small>{_e(detail)}</small>" if detail else "")
        rows.append([name, str(g.people), _bar(g.ap), *shares])
    return _table(["group", "people", "AP", *ERROR_TYPES], rows, numeric=True, raw_columns={0, 2})


def _area_range(group: GroupResult) -> str:
    """COCO's area range as side lengths: "< 32²", "32²–96²", "≥ 96²"."""
    lo, hi = (round(float(np.sqrt(b))) for b in group.bounds)
    if lo == 0:
        return f"area < {hi}²"
    return f"area ≥ {lo}²" if group.bounds[1] >= 1e10 else f"area {lo}²–{hi}²"


# ---------------------------------------------------------------------------------------------- pictures
def _worst_people(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        "<p>The people with the lowest OKS, each as its model sees it (box padded 1.25): the ground truth "
        "left, the prediction right (confident keypoints only).</p>"
        f'<img class=photo alt="worst people" src="data:image/jpeg;base64,{data}">'
    )


def _findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return "<p>No likely annotation error.</p>"
    by_kind = Counter(f.kind for f in findings)
    kinds = _table(["kind", "findings"], [[k, str(n)] for k, n in by_kind.most_common()], numeric=True)
    shown = findings[:MAX_FINDINGS]
    rows = [
        [f"{f.score:.1f}", f.kind, f.split, str(f.annotation_id), str(f.image_id), f.joint, f.evidence, f.fix]
        for f in shown
    ]
    more = (
        f"<p class=note>The {len(shown)} highest-scoring of {len(findings)}; findings.csv lists all.</p>"
        if len(findings) > len(shown)
        else ""
    )
    return (
        f"<p>{len(findings)} likely annotation errors. Score: -log10 of the chance that a right label "
        "looks this wrong (4 = one in 10,000).</p>"
        + kinds
        + _table(
            ["score", "kind", "split", "annotation", "image", "joint", "evidence", "fix"], rows, wide=True
        )
        + more
    )


# ---------------------------------------------------------------------------------------------- pieces
def _chart(fig: Figure, alt: str) -> str:
    data = base64.b64encode(svg_text(fig).encode("utf-8")).decode("ascii")
    return f'<figure><img class=chart alt="{_e(alt)}" src="data:image/svg+xml;base64,{data}"></figure>'


def _table(
    header: Iterable[str],
    rows: Iterable[Sequence[str]],
    numeric: bool = False,
    wide: bool = False,
    raw_columns: Collection[int] = (),
) -> str:
    """A table in a horizontally scrolling box; ``raw_columns`` hold HTML, every other cell is escaped.
    A ``wide`` table (long text) turns into one card per row on a phone."""
    header = list(header)
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    labels = [f' data-label="{_e(h)}"' if wide else "" for h in header]  # a phone shows wide rows as cards
    body = "".join(
        "<tr>"
        + "".join(f"<td{labels[i]}>{c if i in raw_columns else _e(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    classes = " ".join(c for c, on in (("num", numeric), ("wide", wide)) if on)
    table = f'<table class="{classes}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return f"<div class=scroll>{table}</div>"


def _bar(value: float) -> str:
    """A fraction with a bar under it (empty where undefined)."""
    if not np.isfinite(value):
        return "-"
    return f'{format_fraction(value)}<span class=bar style="--v:{max(value, 0.0):.4f}"></span>'


def _share(count: float, total: int) -> str:
    return format_fraction(float(count) / total) if total else "-"


def _gain(fixed: float, ap: float) -> str:
    return f"+{fixed - ap:.3f}" if fixed >= 0 and ap >= 0 else "-"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


@cache
def _css() -> str:
    return resources.files("posekit.report").joinpath("report.css").read_text(encoding="utf-8")
