"""The per-deployment report of a window: the drift report plus predictions, alerts and performance.

The page is ``report.render_html`` (drift table, quality table, reference vs
current bar charts for each monitored feature) with three sections added
before its end: prediction drift (rendered by the same renderer), the alerts
of the run, and performance over time (a table per time bucket, version and
route, and an inline SVG line per version). No script, no external asset: it
stays a few tens of kilobytes. ``--format json`` is ``WindowSummary.to_dict()``
plus the alerts.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.monitoring.alerts import AlertInfo
from shipyard.monitoring.performance import PerformanceReport
from shipyard.monitoring.report import render_html
from shipyard.monitoring.results import DriftReport
from shipyard.monitoring.window import WindowSummary

_W, _H, _PAD = 480, 140, 24
_COLOURS = ("#1f77b4", "#e377c2", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def render_window_html(summary: WindowSummary, alerts: Sequence[AlertInfo] = ()) -> str:
    title = f"Monitoring report: {summary.deployment}"
    drift = summary.drift or DriftReport(columns=(), n_reference=0, n_current=summary.n_predictions)
    page = render_html(drift, summary.quality, title=title)
    head = (
        f"<p><b>{_e(summary.message)}</b>. Model version {_e(summary.model_version or '-')}; "
        f"reference: {_e(summary.reference or '-')}; monitored features: "
        f"{_e(', '.join(summary.targets.features) if summary.targets else '-')}.</p>"
    )
    notes = "".join(f"<p><small>{_e(n)}</small></p>" for n in summary.notes)
    page = page.replace("</h1>", f"</h1>{head}{notes}", 1)
    extra = [_alerts(alerts), _prediction_drift(summary.prediction_drift)]
    extra.append(_performance(summary.performance, summary.performance_over_time))
    return page.replace("</body></html>", "".join(extra) + "</body></html>")


def render_window_json(summary: WindowSummary, alerts: Sequence[AlertInfo] = ()) -> str:
    document = {**summary.to_dict(), "alerts": [a.to_dict() for a in alerts]}
    return json.dumps(_finite(document), indent=2, default=str)


def write_window_report(
    summary: WindowSummary,
    path: str | Path,
    *,
    format: str | None = None,
    alerts: Sequence[AlertInfo] = (),
) -> Path:
    """Write the report as HTML or JSON (by ``format``, else by the file's suffix)."""
    target = Path(path)
    chosen = format or ("json" if target.suffix.lower() == ".json" else "html")
    if chosen not in ("html", "json"):
        raise InvalidInput(f"format must be 'html' or 'json', got {chosen!r}.", field="format")
    text = (
        render_window_json(summary, alerts)
        if chosen == "json"
        else render_window_html(summary, alerts)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def _alerts(alerts: Sequence[AlertInfo]) -> str:
    if not alerts:
        return "<h2>Alerts</h2><p>No alert rule fired in this window.</p>"
    rows = "".join(
        f"<tr><td>{_e(a.id[:12])}</td><td class='drift'>{_e(a.severity)}</td>"
        f"<td>{_e(a.rule)}</td><td>{_e(a.metric)}</td><td>{_e(a.feature)}</td>"
        f"<td>{_num(a.value)}</td><td>{_e(a.direction)} {a.threshold:g}</td>"
        f"<td>{a.occurrences}</td></tr>"
        for a in alerts
    )
    return (
        "<h2>Alerts</h2><table><tr><th>id</th><th>severity</th><th>rule</th><th>metric</th>"
        f"<th>feature</th><th>value</th><th>threshold</th><th>seen</th></tr>{rows}</table>"
    )


def _prediction_drift(report: DriftReport | None) -> str:
    if report is None:
        return "<h2>Prediction drift</h2><p>Not computed (see the notes above).</p>"
    page = render_html(report, None, title="Prediction drift")
    body = page[page.index("<body>") + len("<body>") : page.rindex("</body>")]
    return body.replace("<h1>", "<h2>").replace("</h1>", "</h2>").replace("<h2>Drift</h2>", "")


def _performance(whole: PerformanceReport | None, over_time: PerformanceReport | None) -> str:
    if whole is None or not whole.rows:
        return "<h2>Performance</h2><p>No predictions in the window.</p>"
    names = list(whole.rows[0].metrics)
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><td>{_e(r.model_version)}</td><td>{_e(r.route)}</td><td>{r.predictions}</td>"
        f"<td>{r.labelled}</td>"
        + "".join(f"<td>{_num(r.metrics.get(n))}</td>" for n in names)
        + "</tr>"
        for r in whole.rows
    )
    parts = [
        f"<h2>Performance ({_e(whole.task.kind)}, from ground truth)</h2><table><tr>"
        f"<th>version</th><th>route</th><th>predictions</th><th>labelled</th>{head}</tr>"
        f"{rows}</table>"
    ]
    if over_time is not None and over_time.rows:
        parts.append(_over_time(over_time))
    return "".join(parts)


def _over_time(report: PerformanceReport) -> str:
    metric = "accuracy" if report.task.kind == "classification" else "rmse"
    rows = "".join(
        f"<tr><td>{r.bucket.isoformat() if r.bucket else ''}</td><td>{_e(r.model_version)}</td>"
        f"<td>{_e(r.route)}</td><td>{r.predictions}</td><td>{r.labelled}</td>"
        f"<td>{_num(r.metrics.get(metric))}</td></tr>"
        for r in report.rows
    )
    return (
        f"<h3>{metric} over time</h3>{_line_chart(report, metric)}<table><tr><th>bucket</th>"
        f"<th>version</th><th>route</th><th>predictions</th><th>labelled</th><th>{metric}</th>"
        f"</tr>{rows}</table>"
    )


def _line_chart(report: PerformanceReport, metric: str) -> str:
    """One polyline per version and route over the buckets (no script)."""
    series: dict[str, list[tuple[float, float]]] = {}
    times = [r.bucket.timestamp() for r in report.rows if r.bucket is not None]
    values = [r.metrics.get(metric) for r in report.rows]
    finite = [v for v in values if v is not None]
    if not times or not finite:
        return "<p><small>No labelled predictions yet.</small></p>"
    t0, t1 = min(times), max(times) or 1.0
    v0, v1 = min(finite), max(finite)
    span_t, span_v = (t1 - t0) or 1.0, (v1 - v0) or 1.0
    for row in report.rows:
        value = row.metrics.get(metric)
        if row.bucket is None or value is None:
            continue
        x = _PAD + (row.bucket.timestamp() - t0) / span_t * (_W - 2 * _PAD)
        y = _H - _PAD - (value - v0) / span_v * (_H - 2 * _PAD)
        series.setdefault(f"v{row.model_version} {row.route}", []).append((x, y))
    lines, legend = [], []
    for i, (name, pts) in enumerate(sorted(series.items())):
        colour = _COLOURS[i % len(_COLOURS)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        lines.append(
            f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{path}'>"
            f"<title>{_e(name)}</title></polyline>"
        )
        legend.append(f"<span style='color:{colour}'>■ {_e(name)}</span>")
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_W}' height='{_H}' role='img'>"
        f"<text x='2' y='12' font-size='10'>{v1:.3g}</text>"
        f"<text x='2' y='{_H - 4}' font-size='10'>{v0:.3g}</text>{''.join(lines)}</svg>"
        f"<p><small>{' '.join(legend)}</small></p>"
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
