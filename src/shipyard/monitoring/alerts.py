"""Alert rules, de-duplication and cooldown, the sinks, and ``shipyard alerts list|show|ack``.

Rules live in shipyard.toml::

    [monitoring]
    sinks = ["log", "webhook:https://ops.example/hook"]   # default ["log"]

    [[monitoring.alerts]]
    name = "feature-drift"     # default: METRIC or METRIC:FEATURE
    metric = "psi"             # any metric a monitor run records (see docs)
    feature = "any"            # a feature name, "any" (any of the top-k), or absent
    threshold = 0.25
    direction = "above"        # or "below" (accuracy, labelled_count…)
    severity = "critical"      # info | warning | critical
    cooldown = "6h"            # no repeated notification sooner (default 1h)
    deployment = "churn-api"   # default: every deployment
    route = "production"       # default: every route
    sinks = ["slack:https://hooks.slack.com/services/…"]   # default: [monitoring] sinks

Without any ``[[monitoring.alerts]]`` the defaults apply: any monitored
feature drifting by the engine's verdict (``drift`` above 0.5: significant test
*and* an effect size over its threshold) is ``critical``; drifting
predictions are a ``warning``.

A rule fires when at least one matching point of the run crosses its
threshold. Its alert is keyed by a fingerprint (deployment, rule, feature):
while an alert is open, later breaches update it (``occurrences``, value,
evidence) instead of opening another, and notify again only once ``cooldown``
has passed since the last notification. An acknowledged alert stays closed; a
later breach opens a new one. A run in which the rule was evaluated and not
breached marks its open alert ``resolved``.

Sinks are those of the pipelines' notifications (log, webhook, command),
with ``slack:URL`` sending Slack's ``{"text": …}`` shape. A failing sink is
logged and never fails the monitor run.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.errors import ConfigError, InvalidInput, NotFound
from shipyard.notify import (
    LogSink,
    Notification,
    Sink,
    WebhookSink,
    parse_sink,
    send,
)
from shipyard.store.lineage import Edge, insert_edges
from shipyard.store.schema.monitoring import Alert
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

SEVERITIES = ("info", "warning", "critical")
DIRECTIONS = ("above", "below")
STATUSES = ("open", "acked", "resolved")
DEFAULT_COOLDOWN = timedelta(hours=1)
ANY = "any"
_RULE_KEYS = {
    "name",
    "metric",
    "feature",
    "threshold",
    "direction",
    "severity",
    "cooldown",
    "deployment",
    "route",
    "sinks",
}


@dataclass(frozen=True)
class MetricPoint:
    """One value a monitor run recorded: metric, feature, version, route."""

    metric: str
    value: float | None
    feature: str = ""
    model_version: str = ""
    route: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "feature": self.feature,
            "model_version": self.model_version,
            "route": self.route,
            "value": self.value,
        }


@dataclass(frozen=True)
class AlertRule:
    """When to alert: a metric (of a feature, or any), a threshold, a direction, a severity."""

    metric: str
    threshold: float
    name: str = ""
    feature: str | None = None
    direction: str = "above"
    severity: str = "warning"
    cooldown: timedelta = DEFAULT_COOLDOWN
    deployment: str | None = None
    route: str | None = None
    sinks: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        return self.name or (f"{self.metric}:{self.feature}" if self.feature else self.metric)

    def matches(self, point: MetricPoint) -> bool:
        if point.metric != self.metric or point.value is None:
            return False
        if self.feature not in (None, ANY) and point.feature != self.feature:
            return False
        return self.route is None or point.route == self.route

    def breached(self, value: float) -> bool:
        return value > self.threshold if self.direction == "above" else value < self.threshold


DEFAULT_RULES = (
    AlertRule("drift", 0.5, name="feature-drift", feature=ANY, severity="critical"),
    AlertRule("prediction_drift", 0.5, name="prediction-drift", feature=ANY, severity="warning"),
)


@dataclass(frozen=True)
class AlertInfo:
    """An alert as users see it."""

    id: str
    deployment: str
    rule: str
    metric: str
    feature: str
    severity: str
    status: str
    value: float | None
    threshold: float
    direction: str
    occurrences: int
    result_id: str
    evidence: dict[str, Any]
    first_at: datetime
    last_at: datetime
    notified_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    note: str = ""
    notify: bool = field(default=False, compare=False)

    @property
    def summary(self) -> str:
        where = f" of {self.feature}" if self.feature else ""
        return (
            f"[{self.severity}] {self.deployment}: {self.rule} — {self.metric}{where} = "
            f"{_fmt(self.value)} ({self.direction} {self.threshold:g})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deployment": self.deployment,
            "rule": self.rule,
            "metric": self.metric,
            "feature": self.feature,
            "severity": self.severity,
            "status": self.status,
            "value": self.value,
            "threshold": self.threshold,
            "direction": self.direction,
            "occurrences": self.occurrences,
            "result_id": self.result_id,
            "evidence": self.evidence,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "notified_at": self.notified_at.isoformat() if self.notified_at else None,
            "acked_by": self.acked_by,
            "acked_at": self.acked_at.isoformat() if self.acked_at else None,
            "note": self.note,
        }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


# --- rules -------------------------------------------------------------------------------


def load_rules(workspace: Workspace) -> list[AlertRule]:
    """The ``[[monitoring.alerts]]`` rules of shipyard.toml, or the defaults."""
    listed = workspace.settings.section("monitoring").get("alerts")
    if listed is None:
        return list(DEFAULT_RULES)
    if not isinstance(listed, list):
        raise ConfigError(
            "monitoring.alerts must be an array of tables ([[monitoring.alerts]]).",
            field="alerts",
        )
    return [parse_rule(item, index) for index, item in enumerate(listed)]


def parse_rule(item: Any, index: int = 0) -> AlertRule:
    """One rule from a mapping; errors name the rule and the key."""
    where = f"[[monitoring.alerts]] #{index + 1}"
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where} must be a table, got {item!r}.", field="alerts")
    unknown = sorted(set(item) - _RULE_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; known keys are {sorted(_RULE_KEYS)}.",
            field=unknown[0],
        )
    metric = item.get("metric")
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f'{where}: metric is required (e.g. metric = "psi").', field="metric")
    threshold = item.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ConfigError(
            f"{where}: threshold must be a number, got {threshold!r}.", field="threshold"
        )
    direction = item.get("direction", "above")
    if direction not in DIRECTIONS:
        raise ConfigError(
            f"{where}: direction must be one of {DIRECTIONS}, got {direction!r}.",
            field="direction",
        )
    severity = item.get("severity", "warning")
    if severity not in SEVERITIES:
        raise ConfigError(
            f"{where}: severity must be one of {SEVERITIES}, got {severity!r}.", field="severity"
        )
    sinks = item.get("sinks")
    if sinks is not None:
        if isinstance(sinks, str):
            sinks = [sinks]
        if not isinstance(sinks, list) or not all(isinstance(s, str) for s in sinks):
            raise ConfigError(f"{where}: sinks must be a list of strings.", field="sinks")
        for text in sinks:
            parse_alert_sink(text)
    return AlertRule(
        metric=metric,
        threshold=float(threshold),
        name=str(item.get("name", "")),
        feature=_optional_str(item, "feature", where),
        direction=direction,
        severity=severity,
        cooldown=parse_duration(item.get("cooldown", "1h"), f"{where}: cooldown"),
        deployment=_optional_str(item, "deployment", where),
        route=_optional_str(item, "route", where),
        sinks=tuple(sinks) if sinks is not None else None,
    )


def _optional_str(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{where}: {key} must be a non-empty string, got {value!r}.", field=key)
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: Any, field: str = "window") -> timedelta:
    """``30s``, ``15m``, ``6h``, ``1d``, ``2w`` as a timedelta."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise InvalidInput(
            f"{field} must be a positive duration like 30m, 6h, 1d or 2w, got {text!r}.",
            field=field.rsplit(" ", 1)[-1],
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


# --- evaluation and storage ----------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    """A rule that fired in a run: the worst point and every breaching point."""

    rule: AlertRule
    value: float
    feature: str
    points: tuple[MetricPoint, ...]


def evaluate(
    rules: Sequence[AlertRule], points: Sequence[MetricPoint], deployment: str
) -> tuple[list[Breach], list[AlertRule]]:
    """The breaches, and the rules that were evaluated (had matching points) without one."""
    breaches, quiet = [], []
    for rule in rules:
        if rule.deployment is not None and rule.deployment != deployment:
            continue
        matching = [p for p in points if rule.matches(p)]
        bad = [p for p in matching if p.value is not None and rule.breached(p.value)]
        if not bad:
            if matching:
                quiet.append(rule)
            continue
        values = [p.value for p in bad if p.value is not None]
        worst = max(values) if rule.direction == "above" else min(values)
        # "any": the alert names every feature that crossed, e.g. "x1,plan".
        feature = rule.feature if rule.feature not in (None, ANY) else ""
        if rule.feature == ANY:
            feature = ",".join(sorted({p.feature for p in bad if p.feature}))[:255]
        breaches.append(Breach(rule, worst, feature or "", tuple(bad)))
    return breaches, quiet


def fingerprint(deployment: str, rule: AlertRule) -> str:
    text = f"{deployment}\x1f{rule.label}\x1f{rule.feature or ''}"
    return hashlib.sha256(text.encode()).hexdigest()


def record_alerts(
    session: Session,
    deployment: str,
    result_id: str,
    breaches: Sequence[Breach],
    quiet: Sequence[AlertRule],
    evidence: Mapping[str, Any],
    now: datetime,
) -> list[AlertInfo]:
    """Open or update an alert per breach (de-duplicated), resolve quiet rules' alerts."""
    found = []
    for breach in breaches:
        row, notify = _upsert(session, deployment, result_id, breach, evidence, now)
        found.append(replace(_info(row), notify=notify))
    for rule in quiet:
        for row in session.scalars(
            select(Alert).where(
                Alert.fingerprint == fingerprint(deployment, rule), Alert.status == "open"
            )
        ):
            row.status = "resolved"
            row.last_at = now
    insert_edges(
        session,
        [Edge(("monitor_result", result_id), ("alert", a.id), "raised") for a in found],
    )
    return found


def _upsert(
    session: Session,
    deployment: str,
    result_id: str,
    breach: Breach,
    evidence: Mapping[str, Any],
    now: datetime,
) -> tuple[Alert, bool]:
    rule = breach.rule
    key = fingerprint(deployment, rule)
    full = {**evidence, "points": [p.to_dict() for p in breach.points]}
    latest = session.scalar(
        select(Alert).where(Alert.fingerprint == key).order_by(Alert.last_at.desc()).limit(1)
    )
    if latest is not None and latest.status == "open":
        latest.occurrences += 1
        latest.value, latest.result_id, latest.evidence, latest.last_at = (
            breach.value,
            result_id,
            full,
            now,
        )
        notify = latest.notified_at is None or now - latest.notified_at >= rule.cooldown
        if notify:
            latest.notified_at = now
        return latest, notify
    cooling = (
        latest is not None
        and latest.notified_at is not None
        and now - latest.notified_at < rule.cooldown
    )
    row = Alert(
        id=uuid.uuid4().hex,
        deployment=deployment,
        rule=rule.label,
        fingerprint=key,
        metric=rule.metric,
        feature=breach.feature,
        severity=rule.severity,
        status="open",
        value=breach.value,
        threshold=rule.threshold,
        direction=rule.direction,
        occurrences=1,
        result_id=result_id,
        evidence=full,
        first_at=now,
        last_at=now,
        notified_at=None if cooling else now,
        note="",
    )
    session.add(row)
    return row, not cooling


# --- sinks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertNotification(Notification):
    """A pipelines ``Notification`` carrying an alert: the sinks send ``to_dict()``."""

    payload: dict[str, Any] = field(default_factory=dict)
    slack: bool = False

    def to_dict(self) -> dict[str, Any]:
        if self.slack:
            return {"text": f"{self.reason}\n`{self.command}`"}
        return dict(self.payload)

    def text(self) -> str:
        return f"{self.reason} (see `{self.command}`)"


class SlackSink:
    """A webhook that posts Slack's incoming-webhook shape (``{"text": …}``)."""

    def __init__(self, url: str) -> None:
        self.webhook = WebhookSink(url)

    def send(self, notification: Notification) -> None:
        if isinstance(notification, AlertNotification):
            notification = replace(notification, slack=True)
        self.webhook.send(notification)


def parse_alert_sink(text: str) -> Sink:
    """``log``, ``webhook:URL``, ``slack:URL`` or ``command:CMD ARGS``."""
    if text.startswith("slack:"):
        return SlackSink(text.removeprefix("slack:"))
    return parse_sink(text)


def configured_sinks(workspace: Workspace, rule_sinks: Iterable[str] | None) -> list[Sink]:
    listed: Any = rule_sinks
    if listed is None:
        listed = workspace.settings.section("monitoring").get("sinks", ["log"])
    if isinstance(listed, str):
        listed = [listed]
    if not isinstance(listed, list | tuple):
        raise ConfigError("[monitoring] sinks must be a list of strings.", field="sinks")
    return [parse_alert_sink(str(item)) for item in listed] or [LogSink()]


def notification(alert: AlertInfo) -> AlertNotification:
    command = f"shipyard alerts show {alert.id}"
    payload = {"type": "shipyard.alert", **alert.to_dict(), "summary": alert.summary}
    payload["command"] = command
    return AlertNotification(
        kind=f"alert:{alert.severity}",
        pipeline=alert.deployment,
        run_id=alert.result_id,
        reason=alert.summary,
        command=command,
        payload=payload,
    )


def deliver(workspace: Workspace, alerts: Sequence[AlertInfo], rules: Sequence[AlertRule]) -> None:
    """Send each alert marked ``notify`` to its rule's sinks (failures are logged)."""
    by_label = {rule.label: rule for rule in rules}
    for alert in alerts:
        if not alert.notify:
            continue
        rule = by_label.get(alert.rule)
        send(configured_sinks(workspace, rule.sinks if rule else None), notification(alert))


# --- reading and acknowledging -------------------------------------------------------------


def list_alerts(
    deployment: str | None = None,
    *,
    status: str | None = None,
    limit: int = 100,
    workspace: Workspace | None = None,
) -> list[AlertInfo]:
    """Alerts, most recent first; ``status`` is open, acked or resolved."""
    workspace = workspace or current()
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {STATUSES}, got {status!r}.", field="status")
    query = select(Alert).order_by(Alert.last_at.desc(), Alert.id).limit(limit)
    if deployment is not None:
        query = query.where(Alert.deployment == deployment)
    if status is not None:
        query = query.where(Alert.status == status)
    with workspace.store.read() as session:
        return [_info(row) for row in session.scalars(query)]


def get_alert(alert_id: str, *, workspace: Workspace | None = None) -> AlertInfo:
    """One alert by id (or a unique prefix of at least 6 characters)."""
    workspace = workspace or current()
    with workspace.store.read() as session:
        return _info(_row(session, alert_id))


def ack_alert(
    alert_id: str, *, by: str = "", note: str = "", workspace: Workspace | None = None
) -> AlertInfo:
    """Acknowledge an alert: it stops being open; a later breach opens a new one."""
    workspace = workspace or current()
    with workspace.store.write() as session:
        row = _row(session, alert_id)
        row.status = "acked"
        row.acked_by = by or "local"
        row.acked_at = utcnow()
        row.note = note
        return _info(row)


def _row(session: Session, alert_id: str) -> Alert:
    if not isinstance(alert_id, str) or len(alert_id) < 6:
        raise InvalidInput(
            f"Alert id {alert_id!r} is too short; give at least 6 characters "
            "(see `shipyard alerts list`).",
            field="alert_id",
        )
    rows = list(session.scalars(select(Alert).where(Alert.id.startswith(alert_id)).limit(2)))
    if not rows:
        raise NotFound(
            f"No alert with id {alert_id!r}. See `shipyard alerts list`.",
            kind="alert",
            name=alert_id,
        )
    if len(rows) > 1:
        raise InvalidInput(
            f"Alert id prefix {alert_id!r} matches several alerts; give more characters.",
            field="alert_id",
        )
    return rows[0]


def _info(row: Alert) -> AlertInfo:
    return AlertInfo(
        id=row.id,
        deployment=row.deployment,
        rule=row.rule,
        metric=row.metric,
        feature=row.feature,
        severity=row.severity,
        status=row.status,
        value=row.value,
        threshold=row.threshold,
        direction=row.direction,
        occurrences=row.occurrences,
        result_id=row.result_id,
        evidence=row.evidence,
        first_at=row.first_at,
        last_at=row.last_at,
        notified_at=row.notified_at,
        acked_by=row.acked_by,
        acked_at=row.acked_at,
        note=row.note,
    )
