"""One table maps error classes to HTTP status; bodies are JSON, never tracebacks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from shipyard import errors
from shipyard.config import load_settings
from shipyard.server import create_app
from shipyard.server.errors import status_for
from shipyard.workspace import Workspace


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NotFound("x", kind="model", name="churn"), 404),
        (errors.AlreadyExists("x"), 409),
        (errors.Conflict("x"), 409),
        (errors.InvalidInput("x", field="f"), 422),
        (errors.ValidationFailed("x"), 422),
        (errors.ConfigError("x"), 500),
        (errors.GateFailed("x"), 409),
        (errors.PermissionDenied("x", required_role="approver"), 403),
        (errors.Unauthenticated("x"), 401),
        (errors.BackendUnavailable("x"), 503),
        (errors.IntegrityError("x", expected="a", found="b"), 500),
        (errors.ShipyardError("x"), 500),
    ],
)
def test_every_error_class_has_its_status(error: errors.ShipyardError, status: int) -> None:
    assert status_for(error) == status


@pytest.fixture
def app_with_failures(tmp_path: Path) -> FastAPI:
    workspace = Workspace(load_settings({"home": str(tmp_path)}, environ={}))
    app = create_app(workspace=workspace)

    def integrity() -> None:
        raise errors.IntegrityError(
            "Blob abc is corrupt: expected sha256 abc, found def.", expected="abc", found="def"
        )

    def gate() -> None:
        raise errors.GateFailed("golden gate failed", report={"golden": {"accuracy": 0.92}})

    def bug() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app.add_api_route("/test/integrity", integrity)
    app.add_api_route("/test/gate", gate)
    app.add_api_route("/test/bug", bug)
    return app


def test_integrity_error_is_500_with_both_hashes(
    app_with_failures: FastAPI, make_api: Callable[[FastAPI], Any]
) -> None:
    api = make_api(app_with_failures)
    body = api.error(api.get("/test/integrity"), 500, "IntegrityError")
    assert (body["expected"], body["found"]) == ("abc", "def")


def test_gate_report_travels_in_the_body(
    app_with_failures: FastAPI, make_api: Callable[[FastAPI], Any]
) -> None:
    api = make_api(app_with_failures)
    body = api.error(api.get("/test/gate"), 409, "GateFailed")
    assert body["report"] == {"golden": {"accuracy": 0.92}}


def test_a_bug_is_a_bare_500_without_internals(
    app_with_failures: FastAPI, make_api: Callable[[FastAPI], Any]
) -> None:
    api = make_api(app_with_failures)
    response = api.get("/test/bug")
    body = api.error(response, 500, "InternalError")
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert set(body) == {"error", "message"}


def test_unknown_path_and_wrong_method_are_json(sqlite_workspace: Workspace, make_api: Any) -> None:
    api = make_api(create_app(workspace=sqlite_workspace))
    api.error(api.get("/api/nothing-here"), 404, "NotFound")
    api.error(api.delete("/api/experiments"), 405, "MethodNotAllowed")
