"""The prediction routes answered ahead of Starlette: matching, methods, bodies, disconnects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shipyard.serving.fastpath import Incoming, PredictionRoutes, match
from shipyard.serving.spec import DeploymentSpec

from .conftest import ServerThread, StartServer, Trained, routes_of


@pytest.fixture
def server(start_server: StartServer, trained: Trained) -> ServerThread:
    return start_server(DeploymentSpec("cancer-api", "cancer"), routes_of(trained.served("3")))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/predict", ("predict", {})),
        ("/v2/models/cancer/infer", ("infer", {"name": "cancer"})),
        ("/v2/models/cancer/versions/3/infer", ("infer", {"name": "cancer", "version": "3"})),
        ("/v2/models//infer", None),
        ("/v2/models/cancer/versions//infer", None),
        ("/v2/models/cancer/3/infer", None),
        ("/v2/models/a/versions/3/extra/infer", None),
        ("/predict/", None),
        ("/v2/models/cancer", None),
        ("/v2/models/cancer/ready", None),
    ],
)
def test_only_the_prediction_routes_are_taken(
    path: str, expected: tuple[str, dict[str, str]] | None
) -> None:
    assert match(path) == expected


def test_other_methods_on_a_prediction_route_get_405_with_allow(server: ServerThread) -> None:
    for path in ("/predict", "/v2/models/cancer/infer"):
        reply = httpx.get(f"{server.url}{path}")
        assert reply.status_code == 405, reply.text
        assert reply.headers["allow"] == "POST"
        assert "POST" in reply.json()["error"]


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_streamed_body_is_read_whole_and_bounded(server: ServerThread, trained: Trained) -> None:
    record = trained.frame.iloc[:2].to_dict("records")
    body = json.dumps({"records": record}).encode()
    # No content-length: httpx sends it chunked, in pieces smaller than the body.
    reply = httpx.post(f"{server.url}/predict", content=_chunks(body, 100))
    assert reply.status_code == 200, reply.text
    assert len(reply.json()["prediction_ids"]) == 2
    huge = b"[" + b"1," * (6 * 1024 * 1024) + b"1]"
    too_big = httpx.post(f"{server.url}/predict", content=_chunks(huge, 1 << 20), timeout=30)
    assert too_big.status_code == 413 and "max_body_bytes" in too_big.json()["error"]
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_client_gone_mid_body_gets_no_answer() -> None:
    sent: list[dict[str, Any]] = []
    reached: list[str] = []

    async def handler(incoming: Incoming) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        reached.append("handler")
        await incoming.body(1 << 20, lambda size: ValueError(size))
        reached.append("after body")
        return 200, b"{}", []

    async def starlette_side(scope: Any, receive: Any, send: Any) -> None:
        reached.append("inner app")

    messages = iter(
        [
            {"type": "http.request", "body": b'{"rec', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    routes = PredictionRoutes(starlette_side, {"predict": handler, "infer": handler})
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}
    asyncio.run(routes(scope, receive, send))
    assert reached == ["handler"] and sent == []
    asyncio.run(routes({**scope, "path": "/healthz"}, receive, send))
    assert reached == ["handler", "inner app"]
    # Mounted below a prefix, the route is found under it.
    messages = iter([{"type": "http.request", "body": b"{}", "more_body": False}])
    asyncio.run(routes({**scope, "path": "/api/predict", "root_path": "/api"}, receive, send))
    assert reached[-2:] == ["handler", "after body"] and sent[0]["status"] == 200
