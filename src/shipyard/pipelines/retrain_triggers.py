"""What asks for a retrain: open drift alerts on a model's deployments, and cron slots.

Alerts are read from the monitoring tables (``alerts``, ``monitor_results``)
and deployments from ``deployments``; an alert asks once (a request keeps its
id as ``trigger_ref``). Its evidence is what a person needs to decide: the
alert's metric, feature, value and threshold, the statistics the monitor run
recorded, the window, the model version that served it and the report path.

A schedule policy asks once per cron slot: a scan asks for the latest slot
that has passed, so missed slots (no scan ran while they passed) coalesce
into one request, like pipeline schedules; the first scan after the policy
is added asks for the latest slot at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from shipyard.pipelines.retrain_policies import SEVERITIES, RetrainPolicy
from shipyard.store.schema.monitoring import Alert, MonitorResult
from shipyard.store.schema.retrain import RetrainRequest
from shipyard.store.schema.serving import Deployment
from shipyard.workspace import Workspace


def alert_evidence(workspace: Workspace, policy: RetrainPolicy) -> list[tuple[str, dict[str, Any]]]:
    """(alert id, evidence) for each open alert of the policy's model not yet asked for."""
    lowest = SEVERITIES.index(policy.severity)
    severities = list(SEVERITIES[lowest:])
    with workspace.store.read() as session:
        deployments = select(Deployment.name).where(Deployment.model == policy.model)
        asked = select(RetrainRequest.trigger_ref).where(
            RetrainRequest.policy == policy.name, RetrainRequest.trigger == "drift"
        )
        query = (
            select(Alert, MonitorResult)
            .outerjoin(MonitorResult, MonitorResult.id == Alert.result_id)
            .where(
                Alert.deployment.in_(deployments),
                Alert.status == "open",
                Alert.severity.in_(severities),
                Alert.id.not_in(asked),
            )
            .order_by(Alert.first_at)
        )
        if policy.metrics:
            query = query.where(Alert.metric.in_(list(policy.metrics)))
        return [(alert.id, _evidence(alert, result)) for alert, result in session.execute(query)]


def _evidence(alert: Alert, result: MonitorResult | None) -> dict[str, Any]:
    stored = dict(alert.evidence or {})
    window = stored.get("window")
    if result is not None:
        window = {"start": result.window_start.isoformat(), "end": result.window_end.isoformat()}
    return {
        "alert": {
            "id": alert.id,
            "deployment": alert.deployment,
            "rule": alert.rule,
            "metric": alert.metric,
            "feature": alert.feature,
            "severity": alert.severity,
            "value": alert.value,
            "threshold": alert.threshold,
            "direction": alert.direction,
            "occurrences": alert.occurrences,
            "first_at": alert.first_at.isoformat(),
        },
        "window": window,
        "report_path": (result.report_path if result is not None else None) or stored.get("report"),
        "monitor_result": alert.result_id,
        "model_version": (result.model_version if result is not None else None)
        or stored.get("model_version"),
        "statistics": stored.get("points", []),
    }


def due_slot(workspace: Workspace, policy: RetrainPolicy, now: datetime) -> str | None:
    """The latest cron slot at or before ``now`` if no request has it yet (ISO, UTC)."""
    from croniter import croniter  # type: ignore[import-untyped]

    from shipyard.pipelines.schedules import _zone

    assert policy.cron is not None
    zone = _zone(policy.timezone)
    latest: datetime = croniter(policy.cron, now.astimezone(zone)).get_prev(datetime)
    slot = latest.astimezone(UTC).isoformat()
    with workspace.store.read() as session:
        last = session.scalar(
            select(RetrainRequest.trigger_ref)
            .where(RetrainRequest.policy == policy.name, RetrainRequest.trigger == "schedule")
            .order_by(RetrainRequest.created_at.desc())
            .limit(1)
        )
    if last is not None and datetime.fromisoformat(last) >= latest:
        return None
    return slot


__all__ = ["alert_evidence", "due_slot"]
