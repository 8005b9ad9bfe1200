"""Deployments in the metadata store (SQLite and PostgreSQL) and their CLI."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from shipyard.cli import app
from shipyard.errors import AlreadyExists, InvalidInput, NotFound
from shipyard.registry import register_model
from shipyard.serving.deployments import (
    create_deployment,
    delete_deployment,
    get_deployment,
    list_deployments,
    update_deployment,
)
from shipyard.serving.predlog import LoggedRequest, PredictionLog, new_ids
from shipyard.store.lineage import upstream
from shipyard.workspace import Workspace

from .conftest import Trained


@pytest.fixture
def registered(workspace: Workspace, trained: Trained) -> Workspace:
    register_model(
        trained.model, "cancer", input_example=trained.frame.iloc[:5], workspace=workspace
    )
    return workspace


def test_create_show_update_delete(registered: Workspace) -> None:
    spec = create_deployment(
        "cancer-api", "cancer", canary_percent=5, shadow="cancer@staging", workspace=registered
    )
    assert spec.created_at is not None and spec.batching.max_batch_size == 64
    assert get_deployment("cancer-api", workspace=registered) == spec
    edges = upstream(registered.store, ("deployment", "cancer-api"))
    assert [(e.src, e.relation) for e in edges] == [(("model", "cancer"), "serves")]
    changed = update_deployment(
        "cancer-api", canary_percent=20, shadow="", max_batch_size=8, workspace=registered
    )
    assert (changed.canary_percent, changed.shadow, changed.batching.max_batch_size) == (
        20,
        None,
        8,
    )
    assert [d.name for d in list_deployments(workspace=registered)] == ["cancer-api"]
    delete_deployment("cancer-api", workspace=registered)
    assert list_deployments(workspace=registered) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"name": "bad name!", "model": "cancer"}, InvalidInput, "name"),
        ({"name": "x", "model": "cancer", "canary_percent": 120}, InvalidInput, "canary_percent"),
        ({"name": "x", "model": "cancer", "shadow": "cancer"}, InvalidInput, "shadow"),
        ({"name": "x", "model": "nope"}, NotFound, ""),
    ],
)
def test_bad_values_store_nothing(
    registered: Workspace, kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as caught:
        create_deployment(**kwargs, workspace=registered)
    assert getattr(caught.value, "field", "") == field
    assert list_deployments(workspace=registered) == []


def test_duplicate_and_unknown_names(registered: Workspace) -> None:
    create_deployment("api", "cancer", workspace=registered)
    with pytest.raises(AlreadyExists, match="deployments update api"):
        create_deployment("api", "cancer", workspace=registered)
    with pytest.raises(NotFound, match="Did you mean api"):
        get_deployment("apu", workspace=registered)
    with pytest.raises(InvalidInput, match="max_batch_size"):
        update_deployment("api", max_batch_size=0, workspace=registered)
    with pytest.raises(InvalidInput, match="model"):
        update_deployment("api", model="other", workspace=registered)


def _cli(workspace: Workspace, *args: str) -> Any:
    home = str(workspace.settings.home)
    return CliRunner().invoke(app, ["--home", home, "--db-url", workspace.settings.db_url, *args])


def test_cli_deployments_and_predictions(registered: Workspace) -> None:
    created = _cli(registered, "deployments", "create", "api", "--model", "cancer", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["model"] == "cancer"
    assert "api" in _cli(registered, "deployments", "list").output
    shown = _cli(registered, "deployments", "show", "api", "--json")
    assert json.loads(shown.output)["batching"]["max_queue"] == 2048
    updated = _cli(registered, "deployments", "update", "api", "--canary-percent", "10", "--json")
    assert json.loads(updated.output)["canary_percent"] == 10
    bad = _cli(
        registered, "deployments", "create", "api2", "--model", "cancer", "--canary-percent", "-1"
    )
    assert bad.exit_code == 2 and "canary_percent" in bad.output
    assert _cli(registered, "deployments", "show", "nope").exit_code == 2

    log = PredictionLog(registered.settings.data_dir)
    log.record(
        LoggedRequest("api", "cancer", "1", "production", new_ids(3), {"x": np.arange(3)}, {}, 1.0)
    )
    log.close()
    tail = _cli(registered, "predictions", "tail", "api", "-n", "2", "--json")
    assert tail.exit_code == 0, tail.output
    assert len(json.loads(tail.output)) == 2
    counted = _cli(
        registered,
        "predictions",
        "query",
        "api",
        "--since",
        "1h",
        "--sql",
        "SELECT count(*) AS n FROM predictions",
        "--json",
    )
    assert json.loads(counted.output) == [{"n": 3}]
    assert _cli(registered, "predictions", "query", "api", "--since", "soon").exit_code == 2
    assert _cli(registered, "deployments", "delete", "api", "--yes").exit_code == 0
