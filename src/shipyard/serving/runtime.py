"""A running deployment: the loaded models, their batchers, routing, logging, readiness.

``DeploymentRuntime`` holds an immutable ``Routes`` snapshot (production,
canary, shadow). ``install(routes)`` warms every new model with one
prediction first and then replaces the snapshot in one assignment, so a
request sees either the old routes or the new ones, never a mix; requests
already in flight finish on the model they started with. Models that leave
the routes stay loaded (warm, with their batcher) for ``warm_seconds`` so
that a rollback is instant.

``predict`` is the hot path: route → (feature lookup) → validate →
(inference cache) → batch queue → model → ids, metrics, one append to the
prediction log; the shadow call is spawned after the answer is ready.

A deployment with a ``feature_service`` looks its features up in a worker
thread (``shipyard.serving.lookup``) and joins them to the request's
columns before validation; the log's inputs then hold the looked-up values
(and the entity keys), its ``features`` column the looked-up values alone.
With a cache (``shipyard.serving.cache``) rows seen before skip the model;
every row still gets an id, metrics and a log row. Both are opened by
``install`` from the spec and the settings given to ``configure``; with
neither, the hot path is the same as without them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

from shipyard.errors import BackendUnavailable, ConfigError, NotFound, ShipyardError
from shipyard.serving.batching import CallObserver, MicroBatcher, Outputs
from shipyard.serving.cache import CachedInference, OutputLayout, open_cache
from shipyard.serving.metrics import ServingMetrics
from shipyard.serving.model import ServedModel, v2_outputs
from shipyard.serving.predlog import LoggedRequest, PredictionLog, new_ids
from shipyard.serving.routing import CANARY, PRODUCTION, SHADOW, Router, ShadowRunner
from shipyard.serving.spec import DeploymentSpec
from shipyard.serving.validation import row_count, validate

if TYPE_CHECKING:
    from shipyard.config import Settings
    from shipyard.serving.lookup import FeatureLookup, LookedUp

Columns = Mapping[str, npt.NDArray[Any]]
# What a logged request tells the batcher: its prediction ids, route and start time.
_Note = tuple[list[str], str, float]


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
        self.settings: Settings | None = None
        self.features: FeatureLookup | None = None
        self.cache: CachedInference | None = None
        self._layouts: dict[str, OutputLayout] = {}

    def configure(self, settings: Settings) -> None:
        """The server's settings: where the feature store and a Redis cache live."""
        self.settings = settings

    @property
    def ready(self) -> bool:
        return self.routes is not None

    async def _open_extras(self) -> None:
        """Open the feature lookup and the cache the spec asks for (once)."""
        spec = self.spec
        if spec.feature_service is not None and self.features is None:
            from shipyard.serving.lookup import open_lookup

            settings = self._settings("feature_service")
            self.features = await asyncio.to_thread(open_lookup, settings, spec.feature_service)
        if spec.cache.enabled and self.cache is None:
            online = self.settings.online_store if self.settings is not None else ""
            backend = open_cache(spec.cache, online, self.metrics.cache_failed)
            if backend is not None:
                self.cache = CachedInference(backend, self.metrics.cached)

    def _settings(self, needed_by: str) -> Settings:
        if self.settings is None:
            raise ConfigError(
                f"Deployment '{self.spec.name}' has a {needed_by} but the runtime has no "
                "settings; build it with create_app(settings, ...).",
                field=needed_by,
            )
        return self.settings

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
        await self._open_extras()
        for model in routes.by_route().values():
            if model.key not in self._batchers:
                sample = await asyncio.to_thread(model.run, model.example_columns())
                self.output_meta[model.key] = v2_outputs(sample)
                self._layouts[model.key] = OutputLayout.of(sample)
                self._batchers[model.key] = MicroBatcher(
                    model.run,
                    self.spec.batching,
                    name=model.key,
                    on_batch=self._batch_observer(model.version),
                    on_call=self._call_logger(model),
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
        looked_up = None
        if self.features is not None:
            looked_up = await asyncio.to_thread(self.features.fetch, columns)
        valid = self._model_input(model, columns, looked_up)
        ids = new_ids(row_count(valid))
        note = (ids, route, started) if self._logs_per_call(looked_up) else None
        outputs = await self._outputs(model, valid, note)
        seconds = time.perf_counter() - started
        self.metrics.served(model.version, route, endpoint, seconds)
        if self.log is not None and note is None:
            self._record(model, route, ids, columns, valid, outputs, seconds, looked_up)
        shadow = self.routes.shadow if self.routes is not None else None
        if shadow is not None and version is None:
            self.shadows.spawn(lambda: self._shadow(shadow, columns, ids, looked_up))
        return Prediction(ids, outputs, model, route)

    def _logs_per_call(self, looked_up: LookedUp | None) -> bool:
        """Whether the batcher logs the request with the model call that serves it.

        It does unless the log must hold more than the model's input (looked-up
        features) or some rows never reach the model (cache hits): then the
        request is logged on its own, after the call.
        """
        return self.log is not None and looked_up is None and self.cache is None

    def _model_input(
        self, model: ServedModel, columns: Columns, looked_up: LookedUp | None
    ) -> Columns:
        """The request's columns (with looked-up features), validated for ``model``."""
        if looked_up is not None:
            columns = looked_up.model_input(columns, model.schema)
        return validate(columns, model.schema)

    async def _outputs(self, model: ServedModel, valid: Columns, note: _Note | None) -> Outputs:
        """The model's outputs for validated rows: from the cache, else the batcher."""
        batcher = self._batchers[model.key]
        if self.cache is None:
            return await batcher.submit(valid, row_count(valid), note)
        layout = self._layouts[model.key]
        return await self.cache.run(model, layout, valid, batcher.submit)

    def _call_logger(self, model: ServedModel) -> CallObserver | None:
        """Logs one model call (every request it served) as one entry of the log."""
        log = self.log
        if log is None:
            return None
        deployment, name, version = self.spec.name, model.name, model.version

        def record(inputs: Columns, outputs: Outputs, notes: list[_Note]) -> None:
            now = time.perf_counter()
            ids = notes[0][0] if len(notes) == 1 else list(chain.from_iterable(n[0] for n in notes))
            log.record_batch(
                deployment,
                name,
                version,
                ids=ids,
                inputs=inputs,
                outputs=outputs,
                routes=[n[1] for n in notes],
                latencies_ms=[(now - n[2]) * 1000 for n in notes],
                rows=[len(n[0]) for n in notes],
            )

        return record

    def _record(
        self,
        model: ServedModel,
        route: str,
        ids: list[str],
        request: Columns,
        valid: Columns,
        outputs: Outputs,
        seconds: float,
        looked_up: LookedUp | None,
    ) -> None:
        assert self.log is not None
        inputs, features = valid, None
        if looked_up is not None:
            inputs, features = looked_up.log_inputs(request, valid), looked_up.features
        self.log.record(
            LoggedRequest(
                self.spec.name,
                model.name,
                model.version,
                route,
                ids,
                inputs,
                outputs,
                seconds * 1000,
                features=features,
            )
        )

    async def _shadow(
        self, model: ServedModel, columns: Columns, ids: list[str], looked_up: LookedUp | None
    ) -> None:
        started = time.perf_counter()
        valid = self._model_input(model, columns, looked_up)
        note = (ids, SHADOW, started) if self._logs_per_call(looked_up) else None
        outputs = await self._outputs(model, valid, note)
        seconds = time.perf_counter() - started
        if self.log is not None and note is None:
            self._record(model, SHADOW, ids, columns, valid, outputs, seconds, looked_up)

    def _shadow_failed(self, exc: BaseException) -> None:
        shadow = self.routes.shadow if self.routes is not None else None
        self.metrics.shadow_failed(shadow.version if shadow else "")

    async def close(self) -> None:
        """Finish shadow calls and queued batches, flush the log, close lookup and cache."""
        await self.shadows.drain()
        for batcher in list(self._batchers.values()):
            await batcher.close()
        self._batchers.clear()
        if self.cache is not None:
            await self.cache.close()
            self.cache = None
        if self.features is not None:
            await asyncio.to_thread(self.features.close)
            self.features = None
        if self.log is not None:
            await asyncio.to_thread(self.log.close)
