"""Tokens and roles over HTTP: laptop mode, 401 without a token, 403 naming the role."""

from __future__ import annotations

from typing import Any

from shipyard.access import create_token, revoke_token
from shipyard.workspace import Workspace


def test_laptop_mode_needs_no_token(api: Any) -> None:
    assert api.get("/api/experiments").status_code == 200
    created = api.post("/api/tokens", json={"name": "ana", "role": "viewer"})
    assert created.status_code == 201, created.text
    assert created.json()["created_by"].startswith("local")


def test_missing_token_is_401_naming_the_role(api: Any, workspace: Workspace) -> None:
    create_token("ana", "viewer", workspace=workspace)
    response = api.get("/api/runs")
    body = api.error(response, 401, "Unauthenticated")
    assert body["required_role"] == "viewer"
    assert "'viewer' role" in body["message"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_and_revoked_tokens_are_401(api: Any, workspace: Workspace) -> None:
    token = create_token("ana", "viewer", workspace=workspace)
    api.token = token
    assert api.get("/api/runs").status_code == 200
    revoke_token(token[:10], workspace=workspace)
    body = api.error(api.get("/api/runs"), 401, "Unauthenticated")
    assert "revoked" in body["message"]
    api.token = "sy_not-a-real-token"
    api.error(api.get("/api/runs"), 401, "Unauthenticated")


def test_wrong_role_is_403_naming_the_role_needed(api: Any, workspace: Workspace) -> None:
    api.token = create_token("dev", "developer", workspace=workspace)
    response = api.post("/api/tokens", json={"name": "eve", "role": "approver"})
    body = api.error(response, 403, "PermissionDenied")
    assert body["required_role"] == "approver"
    assert "'approver' role" in body["message"] and "dev" in body["message"]
    # Refused means nothing was stored.
    api.token = create_token("boss", "approver", workspace=workspace)
    assert [t["name"] for t in api.get("/api/tokens").json()] == ["dev", "boss"]


def test_approver_manages_tokens_over_http(api: Any, workspace: Workspace) -> None:
    api.token = create_token("boss", "approver", workspace=workspace)
    created = api.post("/api/tokens", json={"name": "ci", "role": "developer"}).json()
    assert created["token"].startswith("sy_") and created["created_by"] == "boss"
    prefix = created["token"][:10]
    assert api.delete(f"/api/tokens/{prefix}").status_code == 204
    listed = {t["name"]: t for t in api.get("/api/tokens").json()}
    assert listed["ci"]["revoked"] is True
    assert "token" not in listed["ci"]
    api.error(api.delete("/api/tokens/sy_zzzzzzz"), 404, "NotFound")


def test_bad_role_in_body_is_422_and_stores_nothing(api: Any) -> None:
    body = api.error(
        api.post("/api/tokens", json={"name": "x", "role": "root"}), 422, "InvalidInput"
    )
    assert body["field"] == "role"
    assert api.get("/api/tokens").json() == []
