"""Liveness and readiness: /readyz checks both stores and says which one fails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shipyard.server import create_app
from shipyard.workspace import Workspace


def test_healthz_and_readyz_answer_without_a_token(api: Any, workspace: Workspace) -> None:
    from shipyard.access import create_token

    create_token("ana", "viewer", workspace=workspace)
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["metadata_store"] == {"ok": True, "detail": workspace.store.dialect}
    assert checks["artifact_store"]["ok"] is True


def test_readyz_is_503_when_the_metadata_store_is_down(
    tmp_path: Path, make_api: Callable[[FastAPI], Any]
) -> None:
    from shipyard.config import load_settings

    settings = load_settings(
        {"home": str(tmp_path), "db_url": "postgresql+psycopg://nobody@127.0.0.1:1/nothing"},
        environ={},
    )
    with Workspace(settings) as workspace:
        api = make_api(create_app(workspace=workspace))
        assert api.get("/healthz").status_code == 200
        response = api.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["metadata_store"]["ok"] is False
        assert "127.0.0.1:1" in body["checks"]["metadata_store"]["detail"]
        assert body["checks"]["artifact_store"]["ok"] is True
        # An /api route says the same as JSON, not as a stack trace.
        api.error(api.get("/api/experiments"), 503, "BackendUnavailable")
