"""Monitoring settings read from ``shipyard.toml`` (checked once, errors name the key).

```toml
[models.churn.monitoring]
features = ["age", "plan"]     # override the top-k by importance
top_k = 15                     # how many features by importance (default 15)
reference = "customers/v3"     # a snapshot, or "window:2025-01-01/2025-02-01"
task = "classification"        # or "regression" (default: from the signature)
positive = "1"                 # the positive class for precision/recall/F1/ROC AUC

[monitoring.deployments.churn-api]
key = "customer_id"            # the business key labels may join on

[monitoring.proxy_metrics]
positive_rate = "SELECT avg(CAST(json_extract(outputs, '$.predict') AS INT)) FROM predictions"
mean_score = "mypackage.metrics:mean_score"   # a function(DataFrame) -> float
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.errors import ConfigError
from shipyard.workspace import Workspace

DEFAULT_TOP_K = 15
TASKS = ("classification", "regression")
_MODEL_KEYS = {"features", "top_k", "reference", "task", "positive"}


@dataclass(frozen=True)
class ModelOptions:
    """The ``[models.NAME.monitoring]`` table of one model."""

    features: tuple[str, ...] | None = None
    top_k: int = DEFAULT_TOP_K
    reference: str | None = None
    task: str | None = None
    positive: str | None = None


def _where(workspace: Workspace) -> str:
    return str(workspace.settings.config_file or "shipyard.toml")


def model_options(workspace: Workspace, model: str) -> ModelOptions:
    table = workspace.settings.section("models", model, "monitoring")
    where = f"{_where(workspace)} [models.{model}.monitoring]"
    unknown = sorted(set(table) - _MODEL_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; known keys are {sorted(_MODEL_KEYS)}.",
            field=unknown[0],
        )
    features = table.get("features")
    if features is not None and (
        not isinstance(features, list) or not all(isinstance(f, str) for f in features)
    ):
        raise ConfigError(
            f"{where}: features must be a list of column names, got {features!r}.",
            field="features",
        )
    top_k = table.get("top_k", DEFAULT_TOP_K)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ConfigError(f"{where}: top_k must be an integer >= 1, got {top_k!r}.", field="top_k")
    task = table.get("task")
    if task is not None and task not in TASKS:
        raise ConfigError(f"{where}: task must be one of {TASKS}, got {task!r}.", field="task")
    reference = table.get("reference")
    if reference is not None and (not isinstance(reference, str) or not reference.strip()):
        raise ConfigError(
            f"{where}: reference must be a snapshot name or 'window:START/END', got {reference!r}.",
            field="reference",
        )
    positive = table.get("positive")
    return ModelOptions(
        features=tuple(features) if features is not None else None,
        top_k=top_k,
        reference=reference,
        task=task,
        positive=None if positive is None else str(positive),
    )


def deployment_key(workspace: Workspace, deployment: str) -> str | None:
    """The business key declared for ``deployment``, if any."""
    table = workspace.settings.section("monitoring", "deployments", deployment)
    key = table.get("key")
    if key is not None and (not isinstance(key, str) or not key):
        raise ConfigError(
            f"{_where(workspace)} [monitoring.deployments.{deployment}]: key must be a column "
            f"name, got {key!r}.",
            field="key",
        )
    return key


def proxy_metrics(workspace: Workspace) -> dict[str, str]:
    """The ``[monitoring.proxy_metrics]`` table: name -> SQL or ``module:function``."""
    table: Mapping[str, Any] = workspace.settings.section("monitoring", "proxy_metrics")
    for name, value in table.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"{_where(workspace)} [monitoring.proxy_metrics]: {name} must be a SQL query "
                f"or 'module:function', got {value!r}.",
                field=name,
            )
    return {str(name): str(value) for name, value in table.items()}
