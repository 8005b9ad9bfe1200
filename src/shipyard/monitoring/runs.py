"""Monitor runs: evaluate a window, store it as time series, fire alerts, write the report.

``run_monitor("churn-api", window="1d")`` (``shipyard monitor run churn-api
--window 1d``; or ``start=``/``end=``) evaluates ``[end - window, end)`` with
``window.evaluate_window``, then in one write transaction:

- stores a ``monitor_results`` row (the lineage node ``("monitor_result", ID)``
  with the edge ``("deployment", NAME) -monitored-> …``) and one
  ``monitor_metrics`` point per metric, feature, version and route — the time
  series ``metric_series`` reads back;
- evaluates the alert rules on those points and opens or updates alerts
  (``("monitor_result", ID) -raised-> ("alert", ID)``), de-duplicated;

and after the commit writes the HTML report under ``HOME/reports/NAME/`` and
sends the alerts due a notification. ``MonitorRun.fired`` is true when a rule
was breached in this window (also when de-duplication held the notification
back): the CLI then exits 1, so cron or the scheduler sees it.

A window without predictions is stored too (status ``no_data``, message
"no predictions between … and …"), so the time series shows the gap.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from shipyard.errors import InvalidInput, NotFound
from shipyard.monitoring.alerts import (
    AlertInfo,
    MetricPoint,
    deliver,
    evaluate,
    load_rules,
    parse_duration,
    record_alerts,
)
from shipyard.monitoring.logs import utc
from shipyard.monitoring.window import WindowSummary, evaluate_window
from shipyard.store.lineage import Edge, insert_edges
from shipyard.store.schema.monitoring import MonitorMetric, MonitorResult
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

DRIFT_METRICS = ("psi", "ks_statistic", "wasserstein", "jensen_shannon", "chi2_statistic")


@dataclass(frozen=True)
class MonitorRun:
    """One stored monitor run: its window, status, summary, alerts and report."""

    id: str
    deployment: str
    start: datetime
    end: datetime
    status: str
    message: str
    model_version: str | None
    n_predictions: int
    n_labelled: int
    summary: dict[str, Any]
    report_path: str | None
    created_at: datetime
    alerts: tuple[AlertInfo, ...] = field(default=())

    @property
    def fired(self) -> bool:
        return bool(self.alerts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deployment": self.deployment,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "status": self.status,
            "message": self.message,
            "model_version": self.model_version,
            "n_predictions": self.n_predictions,
            "n_labelled": self.n_labelled,
            "report_path": self.report_path,
            "created_at": self.created_at.isoformat(),
            "alerts": [a.to_dict() for a in self.alerts],
            "summary": self.summary,
        }


def window_bounds(
    window: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """``[start, end)`` from ``--window`` and/or ``--from``/``--to`` (default: the last day)."""
    end = utc(end, "end") if end is not None else utc(now or utcnow(), "now")
    if start is not None:
        start = utc(start, "start")
        if window is not None:
            raise InvalidInput(
                "Give --window or --from, not both (--window counts back from --to).",
                field="window",
            )
    else:
        start = end - parse_duration("1d" if window is None else window, "window")
    if start >= end:
        raise InvalidInput(
            f"The window starts at {start.isoformat()}, not before its end {end.isoformat()}; "
            "swap --from and --to.",
            field="start",
        )
    return start, end


def run_monitor(
    deployment: str,
    window: str | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    report: bool = True,
    workspace: Workspace | None = None,
) -> MonitorRun:
    """Evaluate, store and alert on one window of ``deployment``."""
    workspace = workspace or current()
    rules = load_rules(workspace)
    begin, finish = window_bounds(window, start, end, now)
    summary = evaluate_window(
        workspace, deployment, begin, finish, bucket=report_bucket(begin, finish)
    )
    result_id = uuid.uuid4().hex
    stamp = utcnow()
    report_path = _report_path(workspace, deployment, stamp, result_id) if report else None
    points = metric_points(summary)
    breaches, quiet = evaluate(rules, points, deployment)
    status = "no_data" if summary.n_predictions == 0 else ("alert" if breaches else "ok")
    evidence = {
        "window": {"start": begin.isoformat(), "end": finish.isoformat()},
        "report": str(report_path) if report_path else None,
        "result_id": result_id,
        "model_version": summary.model_version,
        "n_predictions": summary.n_predictions,
    }
    with workspace.store.write() as session:
        session.add(
            MonitorResult(
                id=result_id,
                deployment=deployment,
                window_start=begin,
                window_end=finish,
                status=status,
                message=summary.message,
                model_version=summary.model_version,
                n_predictions=summary.n_predictions,
                n_labelled=summary.n_labelled,
                summary=_json_safe(summary.to_dict()),
                report_path=str(report_path) if report_path else None,
                created_at=stamp,
            )
        )
        session.flush()
        session.add_all(
            MonitorMetric(
                result_id=result_id,
                deployment=deployment,
                window_end=finish,
                metric=p.metric,
                feature=p.feature,
                model_version=p.model_version,
                route=p.route,
                value=p.value,
            )
            for p in points
        )
        insert_edges(
            session, [Edge(("deployment", deployment), ("monitor_result", result_id), "monitored")]
        )
        alerts = record_alerts(session, deployment, result_id, breaches, quiet, evidence, stamp)
    if report_path is not None:
        from shipyard.monitoring.run_report import write_window_report

        write_window_report(summary, report_path, alerts=alerts)
    deliver(workspace, alerts, rules)
    return get_result(result_id, workspace=workspace, alerts=tuple(alerts))


def report_bucket(start: datetime, end: datetime) -> str:
    """Performance-over-time buckets: hours for windows up to two days, else days."""
    return "1 hour" if (end - start).total_seconds() <= 2 * 86400 else "1 day"


def _report_path(workspace: Workspace, deployment: str, stamp: datetime, result_id: str) -> Path:
    folder = workspace.settings.home / "reports" / deployment
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{stamp.strftime('%Y%m%dT%H%M%SZ')}-{result_id[:8]}.html"


def metric_points(summary: WindowSummary) -> list[MetricPoint]:
    """Every number of a window as (metric, feature, version, route, value) points."""
    points = [MetricPoint("prediction_count", float(summary.n_predictions))]
    version = summary.model_version or ""
    if summary.drift is not None:
        points.append(MetricPoint("share_drifted", summary.drift.share_drifted, "", version))
        for column in summary.drift:
            points.append(MetricPoint("drift", float(column.drift), column.column, version))
            for name in DRIFT_METRICS:
                points.append(
                    MetricPoint(name, _value(getattr(column, name)), column.column, version)
                )
            points.append(
                MetricPoint("ks_p_value", _value(column.ks_p_value), column.column, version)
            )
            points.append(
                MetricPoint(
                    "new_category_share", _value(column.new_category_share), column.column, version
                )
            )
    if summary.prediction_drift is not None:
        for column in summary.prediction_drift:
            points.append(
                MetricPoint("prediction_drift", float(column.drift), column.column, version)
            )
            points.append(MetricPoint("prediction_psi", _value(column.psi), column.column, version))
    if summary.quality is not None:
        for quality in summary.quality.columns:
            for name in ("null_rate", "out_of_range_rate", "unseen_rate"):
                points.append(MetricPoint(name, getattr(quality, name), quality.column, version))
        rejected = summary.quality.rejected
        for name, count in (rejected.by_column() if rejected is not None else {}).items():
            points.append(MetricPoint("rejected_requests", float(count), name, version))
    if summary.performance is not None:
        points.extend(_performance_points(summary))
    return points


def _performance_points(summary: WindowSummary) -> list[MetricPoint]:
    assert summary.performance is not None
    points = []
    for row in summary.performance.rows:
        version, route = row.model_version, row.route
        points.append(MetricPoint("labelled_count", float(row.labelled), "", version, route))
        for name, value in row.metrics.items():
            points.append(MetricPoint(name, value, "", version, route))
    return points


def _value(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# --- reading ---------------------------------------------------------------------------------


def get_result(
    result_id: str, *, workspace: Workspace | None = None, alerts: tuple[AlertInfo, ...] = ()
) -> MonitorRun:
    workspace = workspace or current()
    with workspace.store.read() as session:
        row = session.get(MonitorResult, result_id)
        if row is None:
            raise NotFound(
                f"No monitor result {result_id!r}. See `shipyard monitor history DEPLOYMENT`.",
                kind="monitor_result",
                name=result_id,
            )
        return _run(row, alerts)


def list_results(
    deployment: str, *, limit: int = 50, workspace: Workspace | None = None
) -> list[MonitorRun]:
    """A deployment's monitor runs, newest window first."""
    workspace = workspace or current()
    query = (
        select(MonitorResult)
        .where(MonitorResult.deployment == deployment)
        .order_by(MonitorResult.window_end.desc(), MonitorResult.created_at.desc())
        .limit(limit)
    )
    with workspace.store.read() as session:
        return [_run(row, ()) for row in session.scalars(query)]


def metric_series(
    deployment: str,
    metric: str,
    *,
    feature: str | None = None,
    workspace: Workspace | None = None,
) -> list[dict[str, Any]]:
    """The stored time series of ``metric`` (optionally of one feature), oldest first."""
    workspace = workspace or current()
    query = (
        select(MonitorMetric)
        .where(MonitorMetric.deployment == deployment, MonitorMetric.metric == metric)
        .order_by(MonitorMetric.window_end, MonitorMetric.id)
    )
    if feature is not None:
        query = query.where(MonitorMetric.feature == feature)
    with workspace.store.read() as session:
        return [
            {
                "window_end": row.window_end,
                "feature": row.feature,
                "model_version": row.model_version,
                "route": row.route,
                "value": row.value,
                "result_id": row.result_id,
            }
            for row in session.scalars(query)
        ]


def _run(row: MonitorResult, alerts: tuple[AlertInfo, ...]) -> MonitorRun:
    return MonitorRun(
        id=row.id,
        deployment=row.deployment,
        start=row.window_start,
        end=row.window_end,
        status=row.status,
        message=row.message,
        model_version=row.model_version,
        n_predictions=row.n_predictions,
        n_labelled=row.n_labelled,
        summary=row.summary,
        report_path=row.report_path,
        created_at=row.created_at,
        alerts=alerts,
    )
