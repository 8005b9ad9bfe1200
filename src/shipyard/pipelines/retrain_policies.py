"""Retrain policies: which pipeline retrains which model, and what may trigger it.

Declared per policy in shipyard.toml::

    [retrain.churn]
    pipeline = "flows/train.py:train"   # FILE.py:FUNCTION or package.module:FUNCTION
    model = "churn"                     # default: the policy name
    mode = "drift"                      # drift | schedule | manual (default manual)
    params = { C = 0.5 }                # pipeline parameters
    severity = "warning"                # drift: lowest alert severity that asks (default warning)
    metrics = ["drift"]                 # drift: only alerts on these metrics (default: any)
    cron = "0 3 * * 1"                  # schedule: when to ask
    timezone = "Europe/Madrid"          # schedule: the cron's zone (default UTC)
    promote_to = "canary"               # staging | canary: where candidates go (default canary)

Every mode may be started by hand (``shipyard retrain start NAME``); ``drift``
and ``schedule`` add their trigger on top. A relative pipeline path is read
from the project folder (where shipyard.toml is).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import ConfigError, NotFound
from shipyard.workspace import Workspace

MODES = ("drift", "schedule", "manual")
SEVERITIES = ("info", "warning", "critical")
PROMOTE_TO = ("staging", "canary")
_KEYS = {
    "pipeline",
    "model",
    "mode",
    "params",
    "severity",
    "metrics",
    "cron",
    "timezone",
    "promote_to",
}


@dataclass(frozen=True)
class RetrainPolicy:
    """One ``[retrain.NAME]`` table, checked."""

    name: str
    model: str
    pipeline: str
    mode: str = "manual"
    params: dict[str, Any] = field(default_factory=dict)
    severity: str = "warning"
    metrics: tuple[str, ...] = ()
    cron: str | None = None
    timezone: str = "UTC"
    promote_to: str = "canary"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "pipeline": self.pipeline,
            "mode": self.mode,
            "params": self.params,
            "severity": self.severity,
            "metrics": list(self.metrics),
            "cron": self.cron,
            "timezone": self.timezone,
            "promote_to": self.promote_to,
        }


def parse_policy(name: str, table: Any, project_dir: Path | None = None) -> RetrainPolicy:
    """A policy from its table; every wrong key or value names itself and the fix."""
    where = f"[retrain.{name}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f'{where} must be a table with at least pipeline = "FILE.py:FUNC".')
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where} has unknown key {unknown[0]!r}; known keys: {', '.join(sorted(_KEYS))}.",
            field=unknown[0],
        )
    pipeline = table.get("pipeline")
    if not isinstance(pipeline, str) or ":" not in pipeline:
        raise ConfigError(
            f"{where} pipeline = {pipeline!r}: give FILE.py:FUNCTION or module:FUNCTION.",
            field="pipeline",
        )
    mode = _choice(where, table, "mode", "manual", MODES)
    params = table.get("params", {})
    if not isinstance(params, Mapping):
        raise ConfigError(
            f"{where} params must be a table, e.g. params = {{ C = 0.5 }}.", field="params"
        )
    metrics = table.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise ConfigError(f"{where} metrics must be a list of metric names.", field="metrics")
    cron = table.get("cron")
    if mode == "schedule":
        from shipyard.pipelines.schedules import _check_cron, _zone

        if cron is None:
            raise ConfigError(f'{where} mode = "schedule" needs cron = "0 3 * * 1".', field="cron")
        _check_cron(cron)
        _zone(str(table.get("timezone", "UTC")))
    return RetrainPolicy(
        name=name,
        model=str(table.get("model", name)),
        pipeline=_resolve(pipeline, project_dir),
        mode=mode,
        params=dict(params),
        severity=_choice(where, table, "severity", "warning", SEVERITIES),
        metrics=tuple(metrics),
        cron=str(cron) if cron is not None else None,
        timezone=str(table.get("timezone", "UTC")),
        promote_to=_choice(where, table, "promote_to", "canary", PROMOTE_TO),
    )


def _choice(
    where: str, table: Mapping[str, Any], key: str, default: str, allowed: tuple[str, ...]
) -> str:
    value = table.get(key, default)
    if value not in allowed:
        raise ConfigError(f"{where} {key} = {value!r}; use one of {', '.join(allowed)}.", field=key)
    return str(value)


def _resolve(ref: str, project_dir: Path | None) -> str:
    target, _, function = ref.rpartition(":")
    if project_dir is not None and target.endswith(".py") and not Path(target).is_absolute():
        return f"{project_dir / target}:{function}"
    return ref


def load_policies(workspace: Workspace) -> dict[str, RetrainPolicy]:
    """Every ``[retrain.NAME]`` table of shipyard.toml, by name."""
    section = workspace.settings.section("retrain")
    project = workspace.settings.project_dir
    return {name: parse_policy(name, table, project) for name, table in section.items()}


def get_policy(workspace: Workspace, name: str) -> RetrainPolicy:
    policies = load_policies(workspace)
    if name not in policies:
        known = ", ".join(sorted(policies)) or "none"
        raise NotFound(
            f"No retrain policy '{name}' (policies: {known}). Add a [retrain.{name}] table "
            'with pipeline = "FILE.py:FUNCTION" to shipyard.toml.',
            kind="retrain_policy",
            name=name,
        )
    return policies[name]


__all__ = ["MODES", "RetrainPolicy", "get_policy", "load_policies", "parse_policy"]
