"""The app factory: no app at import time, optional routers, a complete OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

import shipyard.server.app as app_module
from shipyard.server import create_app
from shipyard.server.app import RouterSpec, available_routers, module_exists
from shipyard.workspace import Workspace


def test_module_does_not_build_an_app_at_import() -> None:
    from fastapi import FastAPI

    assert not [v for v in vars(app_module).values() if isinstance(v, FastAPI)]


def test_module_exists_checks_every_package_on_the_way() -> None:
    assert module_exists("shipyard.server.routes.health")
    assert not module_exists("shipyard.no_such_layer.http")
    assert not module_exists("shipyard.server.no_such_module")


def test_routers_of_missing_layers_are_skipped(sqlite_workspace: Workspace) -> None:
    specs = (
        RouterSpec("shipyard.server.routes.health"),
        RouterSpec("shipyard.server.routes.tracking", needs="shipyard.no_such_layer"),
        RouterSpec("shipyard.no_such_layer.http", needs="shipyard.no_such_layer.http"),
    )
    routers = available_routers(sqlite_workspace, specs)
    assert [r.routes[0].path for r in routers] == ["/healthz"]  # type: ignore[attr-defined]
    paths = set(create_app(workspace=sqlite_workspace).openapi()["paths"])
    assert {"/healthz", "/readyz", "/api/runs", "/api/tokens"} <= paths


# The tags of this package's routers; other layers' routers are their own tests' business.
OUR_TAGS = {"health", "tokens", "tracking", "datasets", "models"}


def test_every_route_is_documented(sqlite_workspace: Workspace) -> None:
    document = create_app(workspace=sqlite_workspace).openapi()
    checked = 0
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if not OUR_TAGS & set(operation.get("tags", [])):
                continue
            checked += 1
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), f"{where} has no summary"
            assert operation.get("description"), f"{where} has no description"
            ok = [s for s in operation["responses"] if s.startswith("2")]
            assert ok, f"{where} documents no success response"
    assert checked >= 25


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_docs_are_served(sqlite_workspace: Workspace, make_api: Any, path: str) -> None:
    api = make_api(create_app(workspace=sqlite_workspace))
    response = api.get(path)
    assert response.status_code == 200
    assert "shipyard" in response.text
