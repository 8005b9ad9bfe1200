"""Tracking over HTTP: experiments, run search with the filter language, one run."""

from __future__ import annotations

from typing import Any

import pytest

import shipyard as sy
from shipyard.workspace import Workspace


@pytest.fixture
def runs(workspace: Workspace) -> dict[str, str]:
    ids = {}
    for model, auc in (("lr", 0.91), ("rf", 0.85), ("lr", 0.70)):
        with sy.start_run("churn", workspace=workspace) as run:
            run.log_params({"model": model})
            for step, value in enumerate((auc - 0.1, auc)):
                run.log_metric("auc", value, step=step)
            run.log_text("hello", "notes/readme.txt")
        ids[f"{model}-{auc}"] = run.id
    with sy.start_run("other", workspace=workspace) as run:
        run.log_metric("auc", 0.99)
    return ids


def test_experiments_list_with_run_counts(api: Any, runs: dict[str, str]) -> None:
    response = api.get("/api/experiments")
    assert response.status_code == 200
    counts = {e["name"]: e["run_count"] for e in response.json()}
    assert counts == {"churn": 3, "other": 1}


def test_search_with_filter_and_order(api: Any, runs: dict[str, str]) -> None:
    response = api.get(
        "/api/runs",
        params={
            "experiment": "churn",
            "filter": "metrics.auc > 0.8 and params.model = 'lr'",
            "order_by": "metrics.auc desc",
        },
    )
    assert response.status_code == 200, response.text
    found = response.json()
    assert [r["id"] for r in found] == [runs["lr-0.91"]]
    assert found[0]["metrics"]["auc"] == pytest.approx(0.91)
    assert found[0]["params"] == {"model": "lr"}
    assert found[0]["status"] == "FINISHED"


def test_search_by_json_body_spans_experiments(api: Any, runs: dict[str, str]) -> None:
    response = api.post(
        "/api/runs/search",
        json={"filter": "metrics.auc >= 0.85", "order_by": ["metrics.auc desc"]},
    )
    assert response.status_code == 200, response.text
    assert [r["experiment"] for r in response.json()] == ["other", "churn", "churn"]


def test_get_run_by_prefix_with_artifacts_and_history(api: Any, runs: dict[str, str]) -> None:
    run_id = runs["rf-0.85"]
    run = api.get(f"/api/runs/{run_id[:8]}").json()
    assert run["id"] == run_id
    artifacts = api.get(f"/api/runs/{run_id}/artifacts").json()
    assert [a["path"] for a in artifacts] == ["notes/readme.txt"]
    assert artifacts[0]["size"] == 5
    history = api.get(f"/api/runs/{run_id}/metrics/auc").json()
    assert [p["step"] for p in history] == [0, 1]
    assert history[1]["value"] == pytest.approx(0.85)


def test_unknown_run_is_404_naming_it(api: Any, runs: dict[str, str]) -> None:
    body = api.error(api.get("/api/runs/deadbeef00"), 404, "NotFound")
    assert body["kind"] == "run"
    assert body["name"] == "deadbeef00"
    assert "deadbeef00" in body["message"]


def test_unknown_experiment_is_404_with_a_suggestion(api: Any, runs: dict[str, str]) -> None:
    body = api.error(api.get("/api/runs", params={"experiment": "churm"}), 404, "NotFound")
    assert "churn" in body["message"]


def test_bad_filter_is_422_pointing_at_the_problem(api: Any, runs: dict[str, str]) -> None:
    body = api.error(api.get("/api/runs", params={"filter": "metrics.auc >"}), 422, "InvalidInput")
    assert body["field"] == "filter"
    assert "position" in body["message"]


def test_out_of_range_max_results_is_422(api: Any) -> None:
    body = api.error(api.post("/api/runs/search", json={"max_results": 0}), 422, "InvalidInput")
    assert body["field"] == "max_results"


def test_wrong_type_in_body_is_422_naming_the_field(api: Any) -> None:
    response = api.post("/api/runs/search", json={"filter": ["not", "a", "string"]})
    body = api.error(response, 422, "InvalidInput")
    assert body["field"] == "filter"


def test_malformed_json_is_400_with_a_json_body(api: Any) -> None:
    response = api.post(
        "/api/runs/search", content=b'{"filter": ', headers={"content-type": "application/json"}
    )
    body = api.error(response, 400, "InvalidInput")
    assert "not valid JSON" in body["message"]
