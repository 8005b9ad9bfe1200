"""An in-process HTTP client for the real app (httpx over ASGI), and a few helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI

from shipyard.server import create_app
from shipyard.workspace import Workspace


class Api:
    """A synchronous face over ``httpx.AsyncClient`` + ``ASGITransport``."""

    def __init__(self, app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> None:
        self.app = app
        self.portal = portal
        # raise_app_exceptions=False: a bug must reach us as the 500 a client would see.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.token: str | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token and "authorization" not in {k.lower() for k in headers}:
            headers["Authorization"] = f"Bearer {self.token}"
        call = partial(self.client.request, method, url, headers=headers, **kwargs)
        response: httpx.Response = self.portal.call(call)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.portal.call(self.client.aclose)

    @staticmethod
    def error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
        """The JSON error body, after checking its status and class name."""
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        assert body["error"] == error, body
        assert body["message"]
        assert "Traceback" not in response.text
        return body


@pytest.fixture
def make_api() -> Iterator[Callable[[FastAPI], Api]]:
    """Build an ``Api`` for any app (closed at the end of the test)."""
    made: list[Api] = []
    with anyio.from_thread.start_blocking_portal() as portal:

        def factory(app: FastAPI) -> Api:
            made.append(Api(app, portal))
            return made[-1]

        yield factory
        for api in made:
            api.close()


@pytest.fixture
def api(workspace: Workspace, make_api: Callable[[FastAPI], Api]) -> Api:
    """The app over the ``workspace`` fixture (SQLite and PostgreSQL)."""
    return make_api(create_app(workspace=workspace))
