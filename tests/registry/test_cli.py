"""``shipyard models …`` through Typer's CliRunner, on a real store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shipyard.cli import app
from shipyard.config import load_settings
from shipyard.registry import register_model
from shipyard.tracking import start_run
from shipyard.workspace import Workspace


@pytest.fixture
def home(tmp_path: Path, data: Any, pipeline: Any, dummy: Any) -> str:
    folder = str(tmp_path / "cli-home")
    x, y = data
    with Workspace(load_settings({"home": folder}, environ={})) as ws:
        with start_run("churn", workspace=ws) as run:
            run.log_model(pipeline, "churn", input_example=x[:5], golden=(x, y))
        register_model(dummy, "churn", input_example=x[:5], workspace=ws)
    return folder


def _run(home: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["--home", home, "models", *args])


def test_promote_history_lineage_and_rollback(home: str) -> None:
    for stage in ("staging", "canary", "production"):
        result = _run(home, "promote", "churn/1", "--to", stage, "--reason", "good")
        assert result.exit_code == 0, result.output
    listed = json.loads(_run(home, "list", "--json").output)
    assert listed[0]["stages"] == {"production": 1}
    shown = json.loads(_run(home, "show", "churn@production", "--json").output)
    assert shown["ref"] == "churn/1" and shown["signature"]["inputs"][0]["name"] == "age"
    history = json.loads(_run(home, "history", "churn", "--json").output)
    assert [h["to_stage"] for h in history] == ["staging", "canary", "production"]
    graph = json.loads(_run(home, "lineage", "churn/1", "--json").output)
    assert "run" in {n["kind"] for n in graph["nodes"]}
    assert "upstream" in _run(home, "lineage", "churn/1").output
    assert _run(home, "rollback", "churn").exit_code == 2  # nothing to roll back to
    assert "churn@champion" in _run(home, "alias", "churn/1", "champion").output


def test_failing_gate_exits_1_and_names_the_check(home: str) -> None:
    for stage in ("staging", "canary", "production"):
        _run(home, "promote", "churn/1", "--to", stage)
    result = _run(home, "check", "churn/2")
    assert result.exit_code == 1
    assert "golden/accuracy" in result.output
    blocked = _run(home, "promote", "churn/2", "--to", "staging")
    assert blocked.exit_code == 1 and "did not pass the gates" in blocked.output


def test_bad_input_exits_2_with_the_next_step(home: str) -> None:
    missing = _run(home, "show", "churn/9")
    assert missing.exit_code == 2 and "latest is 2" in missing.output
    skipping = _run(home, "promote", "churn/1", "--to", "production")
    assert skipping.exit_code == 2 and "--skip-canary" in skipping.output
    assert _run(home, "promote", "churn/1", "--to", "prod").exit_code == 2
