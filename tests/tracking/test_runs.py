"""Runs: lifecycle, params, metric series, artifacts, provenance — on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

import shipyard as sy
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.store.lineage import upstream
from shipyard.workspace import Workspace


def test_a_finished_run_keeps_everything_it_logged(workspace: Workspace) -> None:
    with sy.start_run("churn", name="baseline", workspace=workspace) as run:
        run.log_params({"C": 0.5, "model": "lr"})
        run.log_param("C", 0.5)  # same value again is fine
        for loss in (0.9, 0.5, 0.3):
            run.log_metric("loss", loss)
        run.log_metrics({"auc": np.float64(0.93), "acc": 1}, step=10)
        run.set_tags({"team": "risk"})
    record = sy.get_run(run.id, workspace=workspace)
    assert record.status == "FINISHED"
    assert record.name == "baseline"
    assert record.params == {"C": "0.5", "model": "lr"}
    assert record.metrics == {"loss": 0.3, "auc": 0.93, "acc": 1.0}
    assert record.tags == {"team": "risk"}
    assert record.duration_seconds is not None and record.duration_seconds >= 0
    history = sy.metric_history(run.id, "loss", workspace=workspace)
    assert [(p.step, p.value) for p in history] == [(0, 0.9), (1, 0.5), (2, 0.3)]


def test_environment_is_captured_once_and_linked(workspace: Workspace) -> None:
    with sy.start_run("env", workspace=workspace) as first:
        pass
    with sy.start_run("env", workspace=workspace) as second:
        pass
    a = sy.get_run(first.id, workspace=workspace)
    b = sy.get_run(second.id, workspace=workspace)
    assert a.environment_id and a.environment_id == b.environment_id
    from shipyard.store.schema.core import Environment

    with workspace.store.read() as session:
        env = session.get(Environment, a.environment_id)
        assert env is not None
        assert env.packages["sqlalchemy"]
        assert env.machine["cpu_count"] >= 1 and env.machine["ram_bytes"] > 0
    edges = upstream(workspace.store, ("run", first.id))
    assert any(e.src == ("environment", a.environment_id) for e in edges)


def test_failed_run_keeps_the_exception(workspace: Workspace) -> None:
    with pytest.raises(ZeroDivisionError), sy.start_run("x", workspace=workspace) as run:
        run.log_metric("before", 1.0)
        _ = 1 / 0
    record = sy.get_run(run.id, workspace=workspace)
    assert record.status == "FAILED"
    assert record.error and "ZeroDivisionError" in record.error
    assert record.metrics == {"before": 1.0}


def test_interrupted_run_is_killed(workspace: Workspace) -> None:
    with pytest.raises(KeyboardInterrupt), sy.start_run("x", workspace=workspace) as run:
        raise KeyboardInterrupt
    assert sy.get_run(run.id, workspace=workspace).status == "KILLED"


def test_param_conflict_is_refused_and_changes_nothing(workspace: Workspace) -> None:
    with sy.start_run("x", workspace=workspace) as run:
        run.log_param("lr", 0.1)
        with pytest.raises(Conflict, match=r"'lr'.*'0\.1'.*'0\.2'"):
            run.log_params({"depth": 3, "lr": 0.2})
    assert sy.get_run(run.id, workspace=workspace).params == {"lr": "0.1"}


def test_bad_metrics_are_refused(workspace: Workspace) -> None:
    with sy.start_run("x", workspace=workspace) as run:
        for bad in ("0.9", None, [1.0], True):
            with pytest.raises(InvalidInput, match="must be a number"):
                run.log_metric("auc", bad)
        with pytest.raises(InvalidInput, match="step"):
            run.log_metric("auc", 0.5, step=-1)
        with pytest.raises(InvalidInput, match="non-empty"):
            run.log_metric("", 0.5)
        run.log_metric("diverged", float("nan"))
        run.log_metric("big", float("inf"))
    record = sy.get_run(run.id, workspace=workspace)
    assert math.isnan(record.metrics["diverged"])
    assert record.metrics["big"] == math.inf
    assert "auc" not in record.metrics


def test_logging_after_the_end_is_an_error(workspace: Workspace) -> None:
    run = sy.start_run("x", workspace=workspace)
    run.end()
    with pytest.raises(InvalidInput, match="has ended"):
        run.log_metric("late", 1.0)
    with pytest.raises(InvalidInput, match="has ended"):
        run.log_param("late", 1)


def test_unknown_run_suggests_the_list_command(workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="shipyard runs list"):
        sy.get_run("f" * 32, workspace=workspace)


def test_run_ids_resolve_from_a_unique_prefix(workspace: Workspace) -> None:
    with sy.start_run("x", workspace=workspace) as run:
        pass
    assert sy.get_run(run.id[:8], workspace=workspace).id == run.id


def test_artifacts_files_and_folders(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    (folder / "plots").mkdir(parents=True)
    (folder / "summary.txt").write_text("ok")
    (folder / "plots" / "roc.svg").write_text("<svg/>")
    with sy.start_run("x", workspace=workspace) as run:
        logged = run.log_artifact(folder)
        run.log_text("hello", "notes/hello.txt")
        with pytest.raises(Conflict, match="immutable"):
            run.log_text("changed", "notes/hello.txt")
    artifacts = sy.list_artifacts(run.id, workspace=workspace)
    assert set(artifacts) == {"report/summary.txt", "report/plots/roc.svg", "notes/hello.txt"}
    assert logged["report/summary.txt"] == artifacts["report/summary.txt"][0]
    assert workspace.artifacts.get_bytes(artifacts["notes/hello.txt"][0]) == b"hello"


def test_git_commit_and_dirty_flag_are_recorded(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    git("init", "-q")
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "first",
    )
    monkeypatch.chdir(repo)
    with sy.start_run("git", workspace=workspace) as run:
        pass
    record = sy.get_run(run.id, workspace=workspace)
    assert record.git_commit == git("rev-parse", "HEAD")
    assert record.git_dirty is False
    edges = upstream(workspace.store, ("run", run.id))
    assert any(e.src == ("commit", record.git_commit) for e in edges)


def test_metrics_are_buffered_then_flushed(sqlite_workspace: Workspace) -> None:
    run = sy.start_run("bg", workspace=sqlite_workspace)
    run.log_metric("m", 1.0)
    assert sy.get_run(run.id, workspace=sqlite_workspace).metrics == {}  # still buffered
    run.flush()
    assert sy.get_run(run.id, workspace=sqlite_workspace).metrics == {"m": 1.0}
    run.end()


def test_metrics_reach_the_store_within_the_flush_interval(sqlite_workspace: Workspace) -> None:
    import time

    run = sy.start_run("bg", workspace=sqlite_workspace)
    run.log_metric("m", 2.0)
    deadline = time.monotonic() + 5
    while sy.get_run(run.id, workspace=sqlite_workspace).metrics != {"m": 2.0}:
        assert time.monotonic() < deadline, "buffered metric never written"
        time.sleep(0.1)
    run.end()


def test_experiments_are_listed_with_run_counts(workspace: Workspace) -> None:
    for _ in range(2):
        with sy.start_run("a", workspace=workspace):
            pass
    with sy.start_run("b", workspace=workspace):
        pass
    counts = {e.name: e.run_count for e in sy.list_experiments(workspace=workspace)}
    assert counts == {"a": 2, "b": 1}


def test_bad_experiment_names_are_refused(workspace: Workspace) -> None:
    for bad in ("", "   ", None, "x" * 300):
        with pytest.raises(InvalidInput, match="experiment"):
            sy.start_run(bad, workspace=workspace)  # type: ignore[arg-type]
