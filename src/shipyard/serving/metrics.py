"""Prometheus metrics of one prediction server, on a registry of its own.

Each app gets its own ``CollectorRegistry`` (no global default-registry state
leaking between apps or tests). With several worker processes (``shipyard
serve --workers N``) the values live in ``PROMETHEUS_MULTIPROC_DIR`` and
``render`` aggregates every worker's files with a ``MultiProcessCollector``.

Series (labels in brackets):

- ``shipyard_requests_total`` [deployment, version, route, endpoint, status]
- ``shipyard_errors_total`` [deployment, endpoint, error_class]
- ``shipyard_request_latency_seconds`` histogram [deployment, version, route]
- ``shipyard_batch_size`` histogram of rows per model call [deployment, version]
- ``shipyard_overloaded_total`` [deployment]: requests answered 503 + Retry-After
- ``shipyard_shadow_errors_total`` [deployment, version]
- ``shipyard_cache_hits_total`` / ``shipyard_cache_misses_total`` [deployment, version]:
  rows answered from the inference cache / by the model (hit rate = hits / both)
- ``shipyard_cache_errors_total`` [deployment]: Redis cache calls that failed

Children are cached per label tuple so that the hot path does one dict lookup
and one increment per series.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    """The counters and histograms of one deployment's server."""

    def __init__(self, deployment: str, multiprocess_dir: Path | None = None) -> None:
        self.deployment = deployment
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "shipyard_requests",
            "Requests answered.",
            ["deployment", "version", "route", "endpoint", "status"],
            registry=r,
        )
        self.errors = Counter(
            "shipyard_errors",
            "Requests that failed, by error class.",
            ["deployment", "endpoint", "error_class"],
            registry=r,
        )
        self.latency = Histogram(
            "shipyard_request_latency_seconds",
            "Time from request to response for predictions.",
            ["deployment", "version", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "shipyard_batch_size",
            "Rows per model call (micro-batching at work).",
            ["deployment", "version"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.overloaded = Counter(
            "shipyard_overloaded",
            "Requests answered 503 because the batch queue was full.",
            ["deployment"],
            registry=r,
        )
        self.shadow_errors = Counter(
            "shipyard_shadow_errors",
            "Shadow calls that failed (never seen by callers).",
            ["deployment", "version"],
            registry=r,
        )
        self.cache_hits = Counter(
            "shipyard_cache_hits",
            "Rows answered from the inference cache.",
            ["deployment", "version"],
            registry=r,
        )
        self.cache_misses = Counter(
            "shipyard_cache_misses",
            "Rows looked up in the inference cache and answered by the model.",
            ["deployment", "version"],
            registry=r,
        )
        self.cache_errors = Counter(
            "shipyard_cache_errors",
            "Inference cache calls that failed (the rows were answered by the model).",
            ["deployment"],
            registry=r,
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(self.deployment, *labels)
        return child

    def served(self, version: str, route: str, endpoint: str, seconds: float) -> None:
        self._child(self.requests, version, route, endpoint, "200").inc()
        self._child(self.latency, version, route).observe(seconds)

    def failed(self, endpoint: str, error_class: str, status: int) -> None:
        self._child(self.requests, "", "", endpoint, str(status)).inc()
        self._child(self.errors, endpoint, error_class).inc()
        if status == 503 and error_class == "Overloaded":
            self._child(self.overloaded).inc()

    def batch(self, version: str, rows: int) -> None:
        self._child(self.batch_size, version).observe(rows)

    def shadow_failed(self, version: str) -> None:
        self._child(self.shadow_errors, version).inc()

    def cached(self, version: str, hits: int, misses: int) -> None:
        """Rows of one request found in the inference cache, and not found."""
        self._child(self.cache_hits, version).inc(hits)
        self._child(self.cache_misses, version).inc(misses)

    def cache_failed(self, exc: BaseException) -> None:
        self._child(self.cache_errors).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text (every worker's values in multi-process mode)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            registry, path=str(self.multiprocess_dir)
        )
        return generate_latest(registry), CONTENT_TYPE_LATEST
