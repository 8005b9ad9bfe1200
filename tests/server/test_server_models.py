"""The model registry over HTTP: list, show, versions by number or stage, history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from shipyard.server import create_app
from shipyard.workspace import Workspace

versions = pytest.importorskip("shipyard.registry.versions")


@pytest.fixture
def models_api(workspace: Workspace, make_api: Callable[[FastAPI], Any]) -> Any:
    return make_api(create_app(workspace=workspace))


@pytest.fixture
def churn(workspace: Workspace) -> list[int]:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"age": [20.0, 30.0, 40.0, 50.0], "calls": [1.0, 5.0, 2.0, 8.0]})
    y = [0, 1, 0, 1]
    made = []
    for c in (0.5, 1.0):
        model = LogisticRegression(C=c).fit(x, y)
        info = versions.register_model(model, "churn", input_example=x[:2], workspace=workspace)
        made.append(info.version)
    return made


def test_list_show_and_versions(models_api: Any, churn: list[int]) -> None:
    listed = models_api.get("/api/models").json()
    assert [(m["name"], m["latest_version"]) for m in listed] == [("churn", 2)]
    shown = models_api.get("/api/models/churn").json()
    assert [v["version"] for v in shown["versions"]] == [2, 1]
    one = models_api.get("/api/models/churn/versions/1").json()
    assert one["ref"] == "churn/1" and one["flavor"] == "sklearn"
    assert [c["name"] for c in one["signature"]["inputs"]] == ["age", "calls"]
    assert models_api.get("/api/models/churn/history").json() == []
    # Unknown names and versions are 404 with the next step.
    body = models_api.error(models_api.get("/api/models/churm"), 404, "NotFound")
    assert "churn" in body["message"]
    body = models_api.error(models_api.get("/api/models/churn/versions/9"), 404, "NotFound")
    assert "2" in body["message"]


def _promote(api: Any, ref: str, to: str, **extra: Any) -> Any:
    name, version = ref.split("/")
    return api.post(f"/api/models/{name}/versions/{version}/promote", json={"to": to, **extra})


def test_promotion_path_roles_and_rollback(
    models_api: Any, churn: list[int], workspace: Workspace
) -> None:
    from shipyard.access import create_token

    body = models_api.error(_promote(models_api, "churn/1", "prod"), 422, "InvalidInput")
    assert body["field"] == "to"
    models_api.error(_promote(models_api, "churn/7", "staging"), 404, "NotFound")
    models_api.error(_promote(models_api, "ghost/1", "staging"), 404, "NotFound")
    assert models_api.get("/api/models").json()[0]["stages"] == {}  # refused: nothing moved

    developer = create_token("dev", "developer", workspace=workspace)
    approver = create_token("boss", "approver", workspace=workspace)
    body = models_api.error(_promote(models_api, "churn/1", "staging"), 401, "Unauthenticated")
    assert body["required_role"] == "developer"

    models_api.token = developer
    for to in ("staging", "canary"):
        done = _promote(models_api, "churn/1", to)
        assert done.status_code == 200, done.text
        assert (done.json()["to_stage"], done.json()["who"]) == (to, "dev")
    body = models_api.error(_promote(models_api, "churn/1", "production"), 403, "PermissionDenied")
    assert body["required_role"] == "approver" and "'approver' role" in body["message"]

    models_api.token = approver
    assert _promote(models_api, "churn/1", "production").status_code == 200
    body = models_api.error(_promote(models_api, "churn/2", "production"), 422, "InvalidInput")
    assert "canary" in body["message"]
    skipped = _promote(models_api, "churn/2", "production", skip_canary=True, reason="hotfix")
    assert skipped.status_code == 200, skipped.text
    assert models_api.get("/api/models/churn/versions/production").json()["version"] == 2

    models_api.token = developer
    body = models_api.error(
        models_api.post("/api/models/churn/rollback", json={}), 403, "PermissionDenied"
    )
    assert body["required_role"] == "approver"
    models_api.token = approver
    back = models_api.post("/api/models/churn/rollback", json={"reason": "bad canary"})
    assert back.status_code == 200, back.text
    assert models_api.get("/api/models/churn/versions/production").json()["version"] == 1

    history = models_api.get("/api/models/churn/history").json()
    outcomes = [(t["who"], t["version"], t["to_stage"], t["outcome"]) for t in history]
    assert ("dev", 1, "production", "denied") in outcomes
    assert ("boss", 2, "production", "refused") in outcomes
    [back_row] = [t for t in history if "rollback" in t["detail"]]
    assert (back_row["version"], back_row["to_stage"], back_row["reason"]) == (
        1,
        "production",
        "bad canary",
    )


def test_check_and_lineage(models_api: Any, churn: list[int]) -> None:
    report = models_api.post("/api/models/churn/versions/2/check", json={"stage": "staging"})
    assert report.status_code == 200, report.text
    assert "passed" in report.json() or "checks" in report.json()
    graph = models_api.get("/api/models/churn/versions/2/lineage").json()
    assert graph["ref"] == "churn/2"
