"""The drift report: one self-contained HTML page (or JSON), a few kilobytes.

The page holds the drift table and, per column, an inline SVG bar chart of
the reference and current shares in the bins PSI used (reference quantile
bins for numbers, categories for categories). No script and no external
asset: it opens offline and stays small, unlike reports that inline a
plotting library. JSON is ``DriftReport.to_dict()`` (plus quality).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.monitoring.quality import QualityReport
from shipyard.monitoring.results import ColumnDrift, DriftReport, Histogram

_WIDTH, _HEIGHT, _PAD = 360, 120, 4
_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:4px 8px;border-bottom:1px solid #ddd;
text-align:right}td:first-child,th:first-child{text-align:left}
.drift{color:#b00;font-weight:600}.warning{color:#b60}.ok{color:#070}.no_data{color:#888}
.charts{display:flex;flex-wrap:wrap;gap:1.5em}.chart h3{font-size:14px;margin:.2em 0}
.ref{fill:#8aa9d6}.cur{fill:#e39b4b}small{color:#666}
"""


def render_json(report: DriftReport, quality: QualityReport | None = None) -> str:
    document: dict[str, Any] = {"drift": report.to_dict()}
    if quality is not None:
        document["quality"] = quality.to_dict()
    return json.dumps(document, indent=2, sort_keys=False)


def render_html(
    report: DriftReport, quality: QualityReport | None = None, title: str = "Drift report"
) -> str:
    """The report as one HTML document (no script, SVG charts inline)."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
        f"<p>{report.n_reference} reference rows, {report.n_current} current rows; "
        f"<b>{len(report.drifted)}</b> of {len(report)} columns drifted"
        f"{': ' + _e(', '.join(report.drifted)) if report.drifted else ''}.</p>",
        _missing(report),
        _drift_table(report),
    ]
    if quality is not None:
        parts.append(_quality_table(quality))
    charts = "".join(_chart(r) for r in report if r.histogram is not None)
    parts.append(
        "<h2>Reference vs current</h2><p><small><svg width='10' height='10'>"
        "<rect class='ref' width='10' height='10'/></svg> reference "
        "<svg width='10' height='10'><rect class='cur' width='10' height='10'/></svg> current"
        f"</small></p><div class='charts'>{charts}</div></body></html>"
    )
    return "".join(parts)


def write_report(
    report: DriftReport,
    path: str | Path,
    quality: QualityReport | None = None,
    format: str | None = None,
    title: str = "Drift report",
) -> Path:
    """Write the report to ``path`` as HTML or JSON (by ``format`` or the suffix)."""
    target = Path(path)
    chosen = format or ("json" if target.suffix.lower() == ".json" else "html")
    if chosen not in ("html", "json"):
        raise InvalidInput(f"format must be 'html' or 'json', got {chosen!r}.", field="format")
    text = render_json(report, quality) if chosen == "json" else render_html(report, quality, title)
    target.write_text(text, encoding="utf-8")
    return target


def _drift_table(report: DriftReport) -> str:
    head = (
        "<table><tr><th>column</th><th>kind</th><th>status</th><th>drift</th><th>KS</th>"
        "<th>KS p</th><th>PSI</th><th>W/σ</th><th>JS</th><th>χ² p</th><th>new</th>"
        "<th>flags</th></tr>"
    )
    rows = "".join(_drift_row(r) for r in report)
    return f"<h2>Drift</h2>{head}{rows}</table>"


def _drift_row(r: ColumnDrift) -> str:
    cells = [
        _e(r.column),
        r.kind,
        f"<span class='{_css(r.status)}'>{r.status}</span>",
        "yes" if r.drift else "no",
        _num(r.ks_statistic),
        _num(r.ks_p_value),
        _num(r.psi),
        _num(r.wasserstein),
        _num(r.jensen_shannon),
        _num(r.chi2_p_value),
        _e(", ".join(r.new_categories[:5])),
        _e(", ".join(r.flags) or r.note),
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _quality_table(quality: QualityReport) -> str:
    rows = "".join(
        f"<tr><td>{_e(c.column)}</td><td>{c.null_rate:.2%}</td><td>{c.out_of_range}</td>"
        f"<td>{c.unseen}</td><td>{_e(', '.join(c.unseen_categories[:5]))}</td></tr>"
        for c in quality.columns
    )
    table = (
        "<table><tr><th>column</th><th>null rate</th><th>out of range</th><th>unseen</th>"
        f"<th>unseen categories</th></tr>{rows}</table>"
        if quality.columns
        else ""
    )
    return f"<h2>Data quality</h2>{table}{_rejected_table(quality)}"


def _rejected_table(quality: QualityReport) -> str:
    """The requests the server refused (monitor runs only), per column and reason."""
    rejected = quality.rejected
    if rejected is None:
        return ""
    if not rejected.rows:
        return "<p>No request was rejected in this window.</p>"
    rows = "".join(
        f"<tr><td>{_e(r.column or '(body)')}</td><td>{_e(r.reason)}</td>"
        f"<td>{_e(r.endpoint)}</td><td>{r.requests}</td></tr>"
        for r in rejected.rows
    )
    return (
        "<h3>Rejected requests</h3><p><small>Requests the server answered with a 4xx, per "
        "column and reason (a request failing on two columns counts under both).</small></p>"
        "<table><tr><th>column</th><th>reason</th><th>endpoint</th><th>requests</th></tr>"
        f"{rows}</table>"
    )


def _missing(report: DriftReport) -> str:
    notes = []
    if report.missing_in_current:
        notes.append("only in reference: " + ", ".join(report.missing_in_current))
    if report.missing_in_reference:
        notes.append("only in current: " + ", ".join(report.missing_in_reference))
    if report.unsupported:
        notes.append("not compared (type): " + ", ".join(report.unsupported))
    return f"<p><small>{_e('; '.join(notes))}</small></p>" if notes else ""


def _chart(result: ColumnDrift) -> str:
    histogram = result.histogram
    assert histogram is not None
    return (
        f"<div class='chart'><h3>{_e(result.column)} "
        f"<span class='{_css(result.status)}'>{result.status}</span></h3>{_svg(histogram)}</div>"
    )


def _svg(h: Histogram) -> str:
    """Side-by-side bars per bin, scaled to the largest share; labels as tooltips."""
    top = max([*h.reference, *h.current, 1e-12])
    slot = (_WIDTH - 2 * _PAD) / max(len(h.labels), 1)
    bar = max(slot / 2 - 1, 0.5)
    rects = []
    for i, label in enumerate(h.labels):
        x = _PAD + i * slot
        for offset, share, css in ((0.0, h.reference[i], "ref"), (bar, h.current[i], "cur")):
            height = (_HEIGHT - 2 * _PAD) * share / top
            rects.append(
                f"<rect class='{css}' x='{x + offset:.1f}' y='{_HEIGHT - _PAD - height:.1f}' "
                f"width='{bar:.1f}' height='{height:.1f}'><title>{_e(label)}: {css} "
                f"{share:.2%}</title></rect>"
            )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_WIDTH}' height='{_HEIGHT}' "
        f"role='img'>{''.join(rects)}</svg>"
    )


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _css(status: str) -> str:
    return "drift" if status in ("drift", "alert") else status


def _e(text: str) -> str:
    return html.escape(text, quote=True)
