"""A running deployment: the loaded models, their batchers, routing, logging, readiness.

``DeploymentRuntime`` holds an immutable ``Routes`` snapshot (production,
canary, shadow). ``install(routes)`` warms every new model with one
prediction first and then replaces the snapshot in one assignment, so a
request sees either the old routes or the new ones, never a mix; requests
already in flight finish on the model they started with. Models that leave
the routes stay loaded (warm, with their batcher) for ``warm_seconds`` so
that a rollback is instant.

``predict`` is the hot path: route → validate → batch queue → model →
ids, metrics, one append to the prediction log; the shadow call is spawned
after the answer is ready.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from shipyard.errors import BackendUnavailable, NotFound, ShipyardError
from shipyard.serving.batching import MicroBatcher, Outputs
from shipyard.serving.metrics import ServingMetrics
from shipyard.serving.model import ServedModel, v2_outputs
from shipyard.serving.predlog import LoggedRequest, PredictionLog, new_ids
from shipyard.serving.routing import CANARY, PRODUCTION, SHADOW, Router, ShadowRunner
from shipyard.serving.spec import DeploymentSpec
from shipyard.serving.validation import validate

Columns = Mapping[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class Routes:
    """Which model version serves each route right now."""

    production: ServedModel
    canary: ServedModel | None = None
    shadow: ServedModel | None = None

    def by_route(self) -> dict[str, ServedModel]:
        found = {PRODUCTION: self.production, CANARY: self.canary, SHADOW: self.shadow}
        return {route: model for route, model in found.items() if model is not None}


Loader = Callable[[], Routes]


@dataclass
class Prediction:
    """What ``predict`` answers: one id per row, outputs, which model and route."""

    ids: list[str]
    outputs: Outputs
    model: ServedModel
    route: str


class DeploymentRuntime:
    """The live state of one deployment inside one server process."""

    def __init__(
        self,
        spec: DeploymentSpec,
        metrics: ServingMetrics,
        log: PredictionLog | None,
    ) -> None:
        self.spec = spec
        self.metrics = metrics
        self.log = log
        self.router = Router(spec.canary_percent)
        self.shadows = ShadowRunner(self._shadow_failed)
        self.routes: Routes | None = None
        self.reason = "loading: the model is not loaded yet"
        self.output_meta: dict[str, list[dict[str, Any]]] = {}
        self._batchers: dict[str, MicroBatcher] = {}
        self._warm: dict[str, tuple[ServedModel, float]] = {}  # key -> (model, retired at)

    @property
    def ready(self) -> bool:
        return self.routes is not None

    async def load(self, loader: Loader) -> None:
        """Load and install the routes; on failure stay not ready with the reason."""
        try:
            routes = await asyncio.to_thread(loader)
            await self.install(routes)
        except ShipyardError as exc:
            self.reason = f"{type(exc).__name__}: {exc.message}"
        except Exception as exc:  # a broken artifact must not kill the server: report it
            self.reason = f"the model failed to load or warm up: {type(exc).__name__}: {exc}"

    async def install(self, routes: Routes) -> None:
        """Warm new models, then swap the routes atomically."""
        for model in routes.by_route().values():
            if model.key not in self._batchers:
                sample = await asyncio.to_thread(model.run, model.example_columns())
                self.output_meta[model.key] = v2_outputs(sample)
                self._batchers[model.key] = MicroBatcher(
                    model.run,
                    self.spec.batching,
                    name=model.key,
                    on_batch=self._batch_observer(model.version),
                )
        previous = self.routes
        self.routes = routes
        self.reason = ""
        self._retire(previous, routes)

    def _batch_observer(self, version: str) -> Callable[[int], None]:
        return lambda rows: self.metrics.batch(version, rows)

    def _retire(self, previous: Routes | None, current: Routes) -> None:
        now = time.monotonic()
        live = {m.key for m in current.by_route().values()}
        if previous is not None:
            for model in previous.by_route().values():
                if model.key not in live:
                    self._warm[model.key] = (model, now)
        for key in list(self._warm):
            if key in live:
                del self._warm[key]
            elif now - self._warm[key][1] > self.spec.warm_seconds:
                del self._warm[key]
                batcher = self._batchers.pop(key, None)
                if batcher is not None:
                    asyncio.get_running_loop().create_task(batcher.close())

    def models(self) -> dict[str, ServedModel]:
        """Every loaded version (serving or warm), by version string."""
        found = {m.version: m for m, _ in self._warm.values()}
        if self.routes is not None:
            found.update({m.version: m for m in self.routes.by_route().values()})
        return found

    def current(self) -> Routes:
        if self.routes is None:
            raise BackendUnavailable(
                f"Deployment '{self.spec.name}' is not ready ({self.reason}). Check /readyz."
            )
        return self.routes

    def choose(self, routing_key: str | None, version: str | None) -> tuple[ServedModel, str]:
        """The model and route for a request (a pinned version wins over routing)."""
        routes = self.current()
        if version is None:
            route = self.router.route(routing_key, routes.canary is not None)
            model = routes.canary if route == CANARY and routes.canary else routes.production
            return model, route
        for route, model in routes.by_route().items():
            if model.version == version:
                return model, route
        warm = self.models().get(version)
        if warm is None:
            raise NotFound(
                f"Model '{routes.production.name}' has no loaded version {version!r}; loaded: "
                f"{sorted(self.models())}. See GET /v2/models/{routes.production.name}.",
                kind="model_version",
                name=version,
            )
        return warm, "pinned"

    async def predict(
        self,
        columns: Columns,
        *,
        started: float,
        endpoint: str,
        routing_key: str | None = None,
        version: str | None = None,
    ) -> Prediction:
        model, route = self.choose(routing_key, version)
        valid = validate(columns, model.schema)
        rows = len(next(iter(valid.values())))
        outputs = await self._batchers[model.key].submit(valid, rows)
        ids = new_ids(rows)
        seconds = time.perf_counter() - started
        self.metrics.served(model.version, route, endpoint, seconds)
        if self.log is not None:
            self.log.record(
                LoggedRequest(
                    self.spec.name,
                    model.name,
                    model.version,
                    route,
                    ids,
                    valid,
                    outputs,
                    seconds * 1000,
                )
            )
        shadow = self.routes.shadow if self.routes is not None else None
        if shadow is not None and version is None:
            self.shadows.spawn(lambda: self._shadow(shadow, columns, ids))
        return Prediction(ids, outputs, model, route)

    async def _shadow(self, model: ServedModel, columns: Columns, ids: list[str]) -> None:
        started = time.perf_counter()
        valid = validate(columns, model.schema)
        outputs = await self._batchers[model.key].submit(valid, len(ids))
        seconds = time.perf_counter() - started
        if self.log is not None:
            self.log.record(
                LoggedRequest(
                    self.spec.name,
                    model.name,
                    model.version,
                    SHADOW,
                    ids,
                    valid,
                    outputs,
                    seconds * 1000,
                )
            )

    def _shadow_failed(self, exc: BaseException) -> None:
        shadow = self.routes.shadow if self.routes is not None else None
        self.metrics.shadow_failed(shadow.version if shadow else "")

    async def close(self) -> None:
        """Finish shadow calls and queued batches, then flush the prediction log."""
        await self.shadows.drain()
        for batcher in list(self._batchers.values()):
            await batcher.close()
        self._batchers.clear()
        if self.log is not None:
            await asyncio.to_thread(self.log.close)
