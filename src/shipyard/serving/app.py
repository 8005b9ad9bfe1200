"""The prediction server: ``create_app(settings, deployment, loader=...)`` → a Starlette app.

Endpoints (documented in ``/openapi.json``; the two prediction routes are
answered by ``shipyard.serving.fastpath`` ahead of Starlette's router):

- ``POST /predict``: ``{"records": [...]}`` or ``{"columns": [...], "data": [[...]]}``
- Open Inference Protocol V2: ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``,
  ``GET /v2/models/{name}[/versions/{v}]``, ``…/ready``, ``POST …/infer`` (JSON and
  binary tensor data)
- ``GET /healthz`` (alive), ``GET /readyz`` (loaded and warmed; else 503 and why),
  ``GET /metrics`` (Prometheus)

Errors map to HTTP status by class in ``STATUS`` (one table, never string
matching); the body is ``{"error": "..."}`` (plus ``"problems"`` for a 422 on
``/predict``). A client error is never a 500, and no response carries a
stack trace. Models load in the background after startup, so ``/healthz``
answers at once and ``/readyz`` says when predictions can be served.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shipyard import errors
from shipyard.config import Settings
from shipyard.serving import jsontext
from shipyard.serving import protocol_v2 as v2
from shipyard.serving.batching import Overloaded
from shipyard.serving.fastpath import Answer, ClientGone, Handler, Incoming, PredictionRoutes
from shipyard.serving.metrics import ServingMetrics
from shipyard.serving.openapi import openapi_document
from shipyard.serving.predlog import PredictionLog
from shipyard.serving.records import records_to_columns
from shipyard.serving.runtime import DeploymentRuntime, Loader, Prediction
from shipyard.serving.spec import DeploymentSpec

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
_HEADER_LENGTH = v2.HEADER_LENGTH.encode()
# How long a request waits for a (re)starting worker to load its model before a 503.
FIRST_LOAD_WAIT_SECONDS = 30.0
Endpoint = Callable[[Request], Awaitable[Response]]


class PayloadTooLarge(errors.InvalidInput):
    """The request body is above ``max_body_bytes``."""


# Most specific first: the first class an error is an instance of decides.
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (PayloadTooLarge, 413),
    (errors.ValidationFailed, 422),
    (errors.ConfigError, 500),
    (errors.InvalidInput, 400),
    (errors.NotFound, 404),
    (Overloaded, 503),
    (errors.BackendUnavailable, 503),
    (errors.IntegrityError, 500),
    (errors.ShipyardError, 400),
)


def status_for(error: Exception) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = jsontext.dumps(data, default=str)
    return Response(body, status, headers, media_type="application/json")


_JSON_HEADERS = [(b"content-type", b"application/json")]


def _answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    """``_json`` for the prediction routes: status, body and ASGI header pairs."""
    return status, jsontext.dumps(data, default=str), [*_JSON_HEADERS, *_header_pairs(headers)]


def _header_pairs(headers: dict[str, str] | None) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]


class PredictionServer:
    """The state behind the routes of one app: runtime, metrics, log, settings."""

    def __init__(
        self,
        settings: Settings,
        spec: DeploymentSpec,
        loader: Loader,
        metrics_dir: Path | None,
        watch: Callable[[], Hashable] | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        self.settings = settings
        self.spec = spec
        self.loader = loader
        self.watch = watch
        self.poll_seconds = poll_seconds
        self.swap_error = ""
        self.max_body = int(settings.max_body_bytes)
        self.metrics = ServingMetrics(spec.name, metrics_dir)
        log = (
            PredictionLog(settings.data_dir, settings.prediction_log_flush_seconds)
            if spec.log_predictions
            else None
        )
        self.runtime = DeploymentRuntime(spec, self.metrics, log)
        self.first_load = asyncio.Event()
        from shipyard.serving.rejections import RejectionLog

        # 4xx counts per column and reason, for monitoring's data quality (off the response path).
        self.rejections = RejectionLog(
            settings.data_dir, spec.name, settings.prediction_log_flush_seconds
        )

    # -- plumbing ---------------------------------------------------------

    def guard(self, name: str, endpoint: Endpoint) -> Endpoint:
        """Wrap an endpoint: errors become status + ``{"error": ...}``, counted by class."""

        async def guarded(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Exception as exc:
                return self.error_response(name, exc)

        return guarded

    def fast_guard(self, name: str, handler: Handler) -> Handler:
        """``guard`` for a prediction route answered by ``PredictionRoutes``."""

        async def guarded(incoming: Incoming) -> Answer:
            try:
                return await handler(incoming)
            except ClientGone:
                raise
            except Exception as exc:
                return _answer(*self.failure(name, exc))

        return guarded

    def error_response(self, endpoint: str, exc: Exception) -> Response:
        return _json(*self.failure(endpoint, exc))

    def failure(
        self, endpoint: str, exc: Exception
    ) -> tuple[dict[str, Any], int, dict[str, str] | None]:
        """Count a failed request; its body, status and headers."""
        status = status_for(exc)
        name = type(exc).__name__
        self.metrics.failed(endpoint, name, status)
        if 400 <= status < 500:
            self.rejections.record(endpoint, exc, status)
        if isinstance(exc, errors.ShipyardError):
            body: dict[str, Any] = {"error": exc.message}
            if isinstance(exc, errors.ValidationFailed) and endpoint == "predict":
                body["problems"] = exc.report
        else:  # a bug or a model failure: the trace goes to the server log, not the client
            logging.getLogger(__name__).error(
                "%s failed on %s", endpoint, self.spec.name, exc_info=exc
            )
            body = {
                "error": f"Internal error while serving the request ({name}). See the "
                "server log; the request can be retried."
            }
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Overloaded) else None
        return body, status, headers

    def _too_large(self, size: int) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"The request body has {size} bytes, above max_body_bytes={self.max_body}. Send "
            "smaller batches or raise SHIPYARD_MAX_BODY_BYTES.",
            field="body",
        )

    async def until_loaded(self) -> None:
        """Hold a request while this process loads its first model.

        Worker processes share one listening socket, so a worker restarted
        after a crash takes connections before its model is loaded; waiting
        here (bounded) turns what would be 503s into slightly slower answers.
        """
        if not self.first_load.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.first_load.wait(), FIRST_LOAD_WAIT_SECONDS)

    # -- health -----------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return _json({"status": "alive", "deployment": self.spec.name})

    async def readyz(self, request: Request) -> Response:
        runtime = self.runtime
        if not runtime.ready:
            return _json({"ready": False, "reason": runtime.reason}, 503)
        routes = runtime.current()
        versions = {route: m.version for route, m in routes.by_route().items()}
        body = {"ready": True, "deployment": self.spec.name, "versions": versions}
        if self.swap_error:
            body["last_swap_error"] = self.swap_error
        return _json(body)

    async def metrics_endpoint(self, request: Request) -> Response:
        body, content_type = self.metrics.render()
        return Response(body, headers={"content-type": content_type})

    async def openapi(self, request: Request) -> Response:
        return _json(openapi_document(self.spec.name))

    # -- /predict ---------------------------------------------------------

    async def predict(self, incoming: Incoming) -> Answer:
        started = time.perf_counter()
        body = await incoming.body(self.max_body, self._too_large)
        document = _parse_json(body)
        columns = records_to_columns(document)
        key = incoming.header(b"x-routing-key") or _routing_key(document)
        await self.until_loaded()
        result = await self.runtime.predict(
            columns, started=started, endpoint="predict", routing_key=key
        )
        return _answer(_predict_body(self.spec.name, result))

    # -- Open Inference Protocol V2 ---------------------------------------

    async def v2_server(self, request: Request) -> Response:
        return _json({"name": "shipyard", "version": "0.1.0", "extensions": ["binary_tensor_data"]})

    async def v2_live(self, request: Request) -> Response:
        return _json({"live": True})

    async def v2_ready(self, request: Request) -> Response:
        ready = self.runtime.ready
        return _json({"ready": ready}, 200 if ready else 503)

    def _v2_model(self, path_params: dict[str, Any]) -> tuple[Any, str | None]:
        name = path_params["name"]
        version = path_params.get("version")
        routes = self.runtime.current()
        if name not in (routes.production.name, self.spec.name):
            raise errors.NotFound(
                f"Unknown model {name!r}; this server serves '{routes.production.name}' "
                f"(deployment '{self.spec.name}').",
                kind="model",
                name=name,
            )
        model, _ = self.runtime.choose(None, version)
        return model, version

    async def v2_model_metadata(self, request: Request) -> Response:
        model, _ = self._v2_model(request.path_params)
        return _json(
            {
                "name": model.name,
                "versions": sorted(self.runtime.models()),
                "platform": model.flavor or "shipyard",
                "inputs": model.v2_inputs(),
                "outputs": self.runtime.output_meta.get(model.key, []),
            }
        )

    async def v2_model_ready(self, request: Request) -> Response:
        self._v2_model(request.path_params)
        return _json({"name": request.path_params["name"], "ready": True})

    async def v2_infer(self, incoming: Incoming) -> Answer:
        started = time.perf_counter()
        await self.until_loaded()
        model, version = self._v2_model(incoming.path_params)
        body = await incoming.body(self.max_body, self._too_large)
        header = incoming.header(_HEADER_LENGTH)
        length = int(header) if header is not None and header.isdigit() else None
        if header is not None and length is None:
            raise errors.InvalidInput(
                f"Inference-Header-Content-Length must be an integer, got {header!r}.",
                field="Inference-Header-Content-Length",
            )
        infer = v2.decode_request(body, length)
        columns = v2.to_columns(infer, model.schema.names)
        key = incoming.header(b"x-routing-key") or _str_or_none(infer.parameters.get("routing_key"))
        result = await self.runtime.predict(
            columns, started=started, endpoint="infer", routing_key=key, version=version
        )
        outputs = {**result.outputs, "prediction_id": np.asarray(result.ids, dtype=object)}
        content, headers = v2.encode_response(
            infer,
            result.model.name,
            result.model.version,
            outputs,
            {"route": result.route, "deployment": self.spec.name},
        )
        return 200, content, _header_pairs(headers)

    # -- app ----------------------------------------------------------------

    def prediction_handlers(self) -> dict[str, Handler]:
        """The prediction routes, for ``PredictionRoutes`` (keys as ``fastpath.match``)."""
        return {
            "predict": self.fast_guard("predict", self.predict),
            "infer": self.fast_guard("infer", self.v2_infer),
        }

    def routes(self) -> list[Route]:
        """Every route but the prediction routes (``prediction_handlers``)."""
        g = self.guard
        model = "/v2/models/{name}"
        versioned = "/v2/models/{name}/versions/{version}"
        return [
            Route("/healthz", g("healthz", self.healthz)),
            Route("/readyz", g("readyz", self.readyz)),
            Route("/metrics", g("metrics", self.metrics_endpoint)),
            Route("/openapi.json", g("openapi", self.openapi)),
            Route("/v2", g("v2", self.v2_server)),
            Route("/v2/health/live", g("v2_live", self.v2_live)),
            Route("/v2/health/ready", g("v2_ready", self.v2_ready)),
            Route(model, g("metadata", self.v2_model_metadata)),
            Route(versioned, g("metadata", self.v2_model_metadata)),
            Route(f"{model}/ready", g("model_ready", self.v2_model_ready)),
            Route(f"{versioned}/ready", g("model_ready", self.v2_model_ready)),
        ]

    async def follow(self) -> None:
        """Load, then (with ``watch``) poll the registry and swap on every change."""
        last = await self._fingerprint()
        try:
            await self.runtime.load(self.loader)
        finally:
            self.first_load.set()
        # The model, its libraries and the app are loaded for good: move them out of the
        # collector's reach, or every full collection under load walks them (~200 ms
        # pauses every ~2 s, measured in bench/serving).
        gc.freeze()
        if self.watch is None:
            return
        while True:
            await asyncio.sleep(self.poll_seconds)
            current = await self._fingerprint()
            if current is None or (current == last and self.runtime.ready):
                continue
            try:
                await self.runtime.install(await asyncio.to_thread(self.loader))
            except Exception as exc:  # keep serving what is loaded; say why in /readyz
                self.swap_error = f"{type(exc).__name__}: {exc}"
                if not self.runtime.ready:
                    self.runtime.reason = self.swap_error
                continue
            last, self.swap_error = current, ""

    async def _fingerprint(self) -> Hashable | None:
        if self.watch is None:
            return None
        try:
            return await asyncio.to_thread(self.watch)
        except Exception as exc:
            self.swap_error = f"cannot read the registry: {type(exc).__name__}: {exc}"
            return None

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        loading = asyncio.create_task(self.follow())
        app.state.loading = loading
        try:
            yield
        finally:
            if not loading.done():
                loading.cancel()
            await self.runtime.close()
            await asyncio.to_thread(self.rejections.close)


def _parse_json(body: bytes) -> Any:
    try:
        return jsontext.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.InvalidInput(
            f"The request body is not valid JSON: {exc}. Send "
            '{"records": [{...}]} or {"columns": [...], "data": [[...]]}.',
            field="body",
        ) from exc


def _routing_key(document: Any) -> str | None:
    return _str_or_none(document.get("routing_key")) if isinstance(document, dict) else None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _predict_body(deployment: str, result: Prediction) -> dict[str, Any]:
    body: dict[str, Any] = {
        "predictions": result.outputs["predict"],
        "prediction_ids": result.ids,
        "model": result.model.name,
        "model_version": result.model.version,
        "route": result.route,
        "deployment": deployment,
    }
    proba = result.outputs.get("predict_proba")
    if proba is not None:
        body["probabilities"] = proba
    return body


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if exc.status_code != 404 else f"No route {request.url.path!r}."
    return _json({"error": detail}, exc.status_code)


def create_app(
    settings: Settings,
    deployment: DeploymentSpec,
    *,
    loader: Loader,
    metrics_dir: Path | None = None,
    watch: Callable[[], Hashable] | None = None,
    poll_seconds: float = 1.0,
) -> Starlette:
    """The ASGI app serving ``deployment``.

    ``loader`` returns its ``Routes`` (blocking; run in a thread). With
    ``watch`` (a cheap fingerprint of the routes, e.g.
    ``RegistrySource.fingerprint``) the app polls every ``poll_seconds`` and
    reloads and swaps atomically when the fingerprint changes.
    """
    server = PredictionServer(
        settings, deployment, loader, metrics_dir, watch=watch, poll_seconds=poll_seconds
    )
    server.runtime.configure(settings)  # feature store and Redis cache locations
    app = Starlette(
        routes=server.routes(),
        middleware=[Middleware(PredictionRoutes, handlers=server.prediction_handlers())],
        lifespan=server.lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.server = server
    return app
