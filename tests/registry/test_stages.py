"""Stages, roles, rollback, aliases, the audit log, and concurrent promotions."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from shipyard import errors
from shipyard.access import create_token
from shipyard.config import load_settings
from shipyard.registry import load_model, promote, register_model, rollback
from shipyard.registry.models import get, history, set_alias
from shipyard.workspace import Workspace

NO_GATES: dict[str, Any] = {"stages": []}


def _versions(ws: Workspace, data: Any, model: Any, count: int) -> None:
    x, y = data
    for _ in range(count):
        register_model(model, "churn", input_example=x[:5], golden=(x, y), workspace=ws)


def _to_production(ws: Workspace, ref: str, **kw: Any) -> None:
    for stage in ("staging", "canary", "production"):
        promote(ref, stage, reason=f"to {stage}", gates_config=NO_GATES, workspace=ws, **kw)


def test_normal_path_archives_the_replaced_version_and_rollback_restores_it(
    workspace: Workspace, data: Any, pipeline: Any
) -> None:
    _versions(workspace, data, pipeline, 2)
    _to_production(workspace, "churn/1")
    _to_production(workspace, "churn/2")
    assert get("churn/1", workspace=workspace).stage == "archived"
    assert load_model("churn@production", workspace=workspace).ref == "churn/2"
    assert load_model("churn/1", workspace=workspace).predict(data[0][:3]).shape == (3,)
    done = rollback("churn", "bad p99", workspace=workspace)
    assert (done.version, done.to_stage, done.outcome) == (1, "production", "done")
    assert get("churn/2", workspace=workspace).stage == "archived"
    assert load_model("churn@production", workspace=workspace).ref == "churn/1"
    rows = [
        (t.version, t.from_stage, t.to_stage, t.outcome)
        for t in history("churn", workspace=workspace)
    ]
    assert rows[:3] == [
        (1, "none", "staging", "done"),
        (1, "staging", "canary", "done"),
        (1, "canary", "production", "done"),
    ]
    assert (2, "production", "archived", "done") in rows
    assert rows[-2][:3] == (1, "archived", "production")


def test_skipping_canary_needs_an_approver_and_a_reason(
    sqlite_workspace: Workspace, data: Any, pipeline: Any
) -> None:
    ws = sqlite_workspace
    _versions(ws, data, pipeline, 1)
    promote("churn/1", "staging", gates_config=NO_GATES, workspace=ws)
    with pytest.raises(errors.InvalidInput, match="through canary"):
        promote("churn/1", "production", workspace=ws)
    with pytest.raises(errors.InvalidInput, match="needs a --reason"):
        promote("churn/1", "production", skip_canary=True, workspace=ws)
    developer = create_token("dev", "developer", workspace=ws)
    with pytest.raises(errors.PermissionDenied, match="'approver' role") as caught:
        promote(
            "churn/1",
            "production",
            skip_canary=True,
            reason="hotfix",
            token=developer,
            workspace=ws,
        )
    assert caught.value.required_role == "approver"
    approver = create_token("boss", "approver", workspace=ws)
    done = promote(
        "churn/1", "production", skip_canary=True, reason="hotfix", token=approver, workspace=ws
    )
    assert (done.who, done.detail) == ("boss", "skip-canary")
    outcomes = [t.outcome for t in history("churn", workspace=ws)]
    assert outcomes == ["done", "refused", "refused", "denied", "done"]


def test_developer_promotes_to_canary_but_not_production(
    sqlite_workspace: Workspace, data: Any, pipeline: Any
) -> None:
    ws = sqlite_workspace
    _versions(ws, data, pipeline, 1)
    developer = create_token("dev", "developer", workspace=ws)
    promote("churn/1", "staging", token=developer, gates_config=NO_GATES, workspace=ws)
    promote("churn/1", "canary", token=developer, workspace=ws)
    with pytest.raises(errors.PermissionDenied):
        promote("churn/1", "production", token=developer, workspace=ws)
    with pytest.raises(errors.Unauthenticated):
        promote("churn/1", "production", workspace=ws)
    with pytest.raises(errors.PermissionDenied):
        rollback("churn", "x", token=developer, workspace=ws)
    assert get("churn/1", workspace=ws).stage == "canary"
    viewer = create_token("eve", "viewer", workspace=ws)
    with pytest.raises(errors.PermissionDenied, match="'developer' role"):
        register_model(pipeline, "churn", input_example=data[0][:5], token=viewer, workspace=ws)


def test_aliases_sit_beside_stages(sqlite_workspace: Workspace, data: Any, pipeline: Any) -> None:
    ws = sqlite_workspace
    _versions(ws, data, pipeline, 2)
    set_alias("churn/1", "champion", workspace=ws)
    set_alias("churn/2", "champion", workspace=ws)
    assert load_model("churn@champion", workspace=ws).ref == "churn/2"
    assert get("churn/2", workspace=ws).aliases == ["champion"]
    with pytest.raises(errors.InvalidInput, match="reserved"):
        set_alias("churn/1", "production", workspace=ws)


def _promote_in_child(
    db_url: str, home: str, ref: str, kw: dict[str, Any], barrier: Any, out: Any
) -> None:
    with Workspace(load_settings({"home": home, "db_url": db_url}, environ={})) as ws:
        barrier.wait()
        try:
            promote(ref, "production", workspace=ws, **kw)
            out.put((ref, "won"))
        except errors.Conflict:
            out.put((ref, "conflict"))


def test_concurrent_promotions_to_production_one_wins(
    workspace: Workspace, db_url: str, tmp_path: Path, data: Any, pipeline: Any
) -> None:
    _versions(workspace, data, pipeline, 2)
    promote("churn/1", "staging", gates_config=NO_GATES, workspace=workspace)
    promote("churn/1", "canary", workspace=workspace)
    promote("churn/2", "staging", gates_config=NO_GATES, workspace=workspace)
    # Gates on production make each attempt read, check for a while, then write.
    slow = {
        "stages": ["production"],
        "schema": {"enabled": False},
        "golden": {"enabled": False},
        "latency": {"repeats": 80},
    }
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(2), context.Queue()
    home = str(tmp_path / "home")
    jobs = [
        ("churn/1", {"gates_config": slow}),
        ("churn/2", {"gates_config": slow, "skip_canary": True, "reason": "race"}),
    ]
    procs = [
        context.Process(target=_promote_in_child, args=(db_url, home, ref, kw, barrier, out))
        for ref, kw in jobs
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    results = dict(out.get(timeout=5) for _ in procs)
    assert sorted(results.values()) == ["conflict", "won"]
    winner = next(ref for ref, result in results.items() if result == "won")
    assert load_model("churn@production", workspace=workspace).ref == winner
    attempts = [t for t in history("churn", workspace=workspace) if t.to_stage == "production"]
    assert sorted(t.outcome for t in attempts) == ["conflict", "done"]
