"""What a deployment is: a name bound to a model, a canary share, a shadow, batching,
an optional feature service (requests then carry entity keys) and an inference cache.

A ``DeploymentSpec`` is a plain value: stored as a row of ``deployments`` by
``shipyard.serving.deployments`` and handed to ``create_app``. Every field
is checked here, so that bad values are refused the same way from Python,
the CLI and HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.serving.batching import BatchingConfig
from shipyard.serving.cache import CacheConfig

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
DEFAULT_WARM_SECONDS = 7 * 24 * 3600


def check_deployment_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"Deployment name {name!r} is not valid: use 1-128 letters, digits, '_', '-' or "
            "'.', starting with a letter or digit (e.g. 'churn-api').",
            field="name",
        )
    return name


@dataclass(frozen=True)
class DeploymentSpec:
    """A named serving endpoint: production version of ``model``, canary share, shadow."""

    name: str
    model: str
    canary_percent: float = 0.0
    shadow: str | None = None
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    log_predictions: bool = True
    warm_seconds: float = DEFAULT_WARM_SECONDS
    feature_service: str | None = None
    cache: CacheConfig = field(default_factory=CacheConfig)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        check_deployment_name(self.name)
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInput(
                "A deployment needs --model NAME (a registered model, e.g. 'churn').",
                field="model",
            )
        percent = self.canary_percent
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise InvalidInput(
                f"canary_percent must be a number from 0 to 100, got {percent!r}.",
                field="canary_percent",
            )
        if not 0 <= percent <= 100:
            raise InvalidInput(
                f"canary_percent must be from 0 to 100, got {percent!r}.", field="canary_percent"
            )
        if self.shadow is not None and ("@" not in self.shadow and "/" not in self.shadow):
            raise InvalidInput(
                f"shadow {self.shadow!r} is not a model reference; use NAME@STAGE "
                "(churn@staging) or NAME/VERSION (churn/4).",
                field="shadow",
            )
        if self.warm_seconds < 0:
            raise InvalidInput(
                f"warm_seconds must be >= 0, got {self.warm_seconds!r}.", field="warm_seconds"
            )
        service = self.feature_service
        if service is not None and (not isinstance(service, str) or not service.strip()):
            raise InvalidInput(
                f"feature_service must be the name of an applied feature service, got "
                f"{service!r}. See `shipyard features list`.",
                field="feature_service",
            )

    def with_changes(self, **changes: Any) -> DeploymentSpec:
        """A copy with ``changes``: spec fields, batching fields, or ``cache*`` settings."""
        batching = {k: changes.pop(k) for k in list(changes) if k in _BATCHING_FIELDS}
        if batching:
            changes["batching"] = BatchingConfig(**{**self.batching.to_dict(), **batching})
        cache = {
            _CACHE_FIELDS[k]: changes.pop(k)
            for k in list(changes)
            if k in _CACHE_FIELDS and not isinstance(changes[k], CacheConfig)
        }
        if cache:
            changes["cache"] = CacheConfig(**{**self.cache.to_dict(), **cache})
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "canary_percent": self.canary_percent,
            "shadow": self.shadow,
            "batching": self.batching.to_dict(),
            "log_predictions": self.log_predictions,
            "warm_seconds": self.warm_seconds,
            "feature_service": self.feature_service,
            "cache": self.cache.to_dict(),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


_BATCHING_FIELDS = ("enabled", "max_batch_size", "max_wait_ms", "max_queue")
# Keyword (Python API and CLI) -> CacheConfig field.
_CACHE_FIELDS = {
    "cache": "mode",
    "cache_size": "max_entries",
    "cache_ttl_seconds": "ttl_seconds",
    "cache_url": "url",
}
