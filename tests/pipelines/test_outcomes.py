"""Retries, timeouts, gates, resume, heartbeat, and the bad inputs the issue lists."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from shipyard.errors import InvalidInput, NotFound
from shipyard.pipelines import get_pipeline_run, mark_crashed, resume
from shipyard.tracking import get_run
from shipyard.workspace import Workspace

from .conftest import CHAIN, CYCLIC, Writer, load

FLAKY = """
import pathlib
import time
from typing import Any
import shipyard as sy

COUNTER = pathlib.Path(__file__).with_name("attempts.txt")

@sy.step(retries=2, backoff=0.01)
def flaky() -> int:
    seen = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(seen + 1))
    if seen < 2:
        raise RuntimeError(f"boom {seen}")
    return 7

@sy.step(timeout=0.5)
def slow(x: int) -> int:
    time.sleep(30)
    return x

@sy.step
def after(x: int) -> int:
    return x + 1

@sy.pipeline
def retrying():
    return after(flaky())

@sy.pipeline
def too_slow():
    return after(slow(flaky()))
"""


def test_a_step_failing_twice_then_passing_has_three_attempts(
    workspace: Workspace, write_module: Writer
) -> None:
    result = load(write_module("flaky", FLAKY), "retrying").run(workspace=workspace)
    assert result.ok and result.output == 8
    record = get_pipeline_run(result.run_id, workspace=workspace).step("flaky")
    assert record.status == "succeeded"
    assert record.attempts == 3
    assert [a["status"] for a in record.attempt_log] == ["failed", "failed", "succeeded"]
    assert "boom 0" in (record.attempt_log[0]["error"] or "")


def test_a_step_over_its_timeout_is_killed_and_recorded(
    sqlite_workspace: Workspace, write_module: Writer
) -> None:
    started = time.monotonic()
    result = load(write_module("flaky", FLAKY), "too_slow").run(workspace=sqlite_workspace)
    assert time.monotonic() - started < 15
    assert result.status == "FAILED"
    info = get_pipeline_run(result.run_id, workspace=sqlite_workspace)
    assert info.step("slow").status == "timed_out"
    assert "timeout of 0.5 s" in (info.step("slow").traceback or "")
    assert info.step("after").status == "upstream_failed"
    assert "slow" in (result.error or "")


def test_resume_reruns_from_the_failed_step_reusing_the_others(
    sqlite_workspace: Workspace, write_module: Writer
) -> None:
    source = CHAIN.replace("return sum(xs)", "raise ValueError('bad total')")
    path = write_module("flow", source)
    failed = load(path, "chain").run({"n": 4}, workspace=sqlite_workspace)
    assert failed.status == "FAILED"
    assert failed.steps["total"].status == "failed"
    assert "bad total" in (failed.steps["total"].traceback or "")
    path.write_text(CHAIN)  # the fix
    resumed = resume(failed.run_id[:8], workspace=sqlite_workspace)
    assert resumed.ok
    assert {n: r.status for n, r in resumed.steps.items()} == {
        "load": "cached",
        "double": "cached",
        "count": "cached",
        "total": "succeeded",
    }
    assert resumed.output == {"total": 12, "count": 4}
    assert get_run(resumed.run_id, workspace=sqlite_workspace).tags["shipyard.resumed_from"] == (
        failed.run_id
    )
    with pytest.raises(InvalidInput, match="nothing to resume"):
        resume(resumed.run_id, workspace=sqlite_workspace)


def test_a_gate_skip_skips_dependents_without_failing_the_run(
    workspace: Workspace, write_module: Writer
) -> None:
    path = write_module(
        "gate",
        """
        import shipyard as sy

        @sy.step
        def score() -> float:
            return 0.7

        @sy.step
        def gate(auc: float):
            if auc < 0.8:
                return sy.Skipped("new model below production on golden set")
            return auc

        @sy.step
        def register(auc: float) -> str:
            return "registered"

        @sy.pipeline
        def flow():
            return register(gate(score()))
        """,
    )
    result = load(path, "flow").run(workspace=workspace)
    assert result.ok
    assert result.steps["gate"].status == "skipped"
    assert result.steps["gate"].reason == "new model below production on golden set"
    assert result.steps["register"].status == "skipped"
    assert "upstream step 'gate' was skipped" in (result.steps["register"].reason or "")
    assert result.output is None


def test_a_run_whose_process_died_is_marked_crashed(
    sqlite_workspace: Workspace, write_module: Writer, tmp_path: Path
) -> None:
    path = write_module(
        "dies",
        """
        import os
        import shipyard as sy

        @sy.step
        def die() -> int:
            os._exit(3)

        @sy.pipeline
        def flow():
            return die()
        """,
    )
    db_url = sqlite_workspace.settings.db_url
    code = (
        "import shipyard as sy, sys; from shipyard.pipelines import load_pipeline;"
        f"ws = sy.connect(home={str(tmp_path / 'home')!r}, db_url={db_url!r});"
        f"load_pipeline({str(path) + ':flow'!r}).run(workspace=ws)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert mark_crashed(older_than=3600, workspace=sqlite_workspace) == []
    time.sleep(0.2)
    crashed = mark_crashed(older_than=0.1, workspace=sqlite_workspace)
    assert len(crashed) == 1
    run = get_run(crashed[0], workspace=sqlite_workspace)
    assert run.status == "CRASHED"
    assert "heartbeat" in (run.error or "")


def test_bad_inputs_are_named_and_store_nothing(
    sqlite_workspace: Workspace, write_module: Writer, tmp_path: Path
) -> None:
    from shipyard.pipelines import load_pipeline

    path = write_module("flow", CHAIN)
    with pytest.raises(NotFound, match="No pipeline file"):
        load_pipeline(f"{tmp_path / 'nope.py'}:chain")
    with pytest.raises(NotFound, match="found there: chain, count, double, load, total"):
        load_pipeline(f"{path}:train")
    with pytest.raises(InvalidInput, match=r"not a @sy\.pipeline"):
        load_pipeline(f"{path}:load")
    chain = load(path, "chain")
    with pytest.raises(InvalidInput, match="no parameter 'lr'"):
        chain.run({"lr": 0.1}, workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match="'n' of pipeline 'chain' must be an int"):
        chain.run({"n": "four"}, workspace=sqlite_workspace)
    cyclic = write_module("cyclic", CYCLIC)
    with pytest.raises(InvalidInput, match="cyclic dependency: first -> second -> first"):
        load(cyclic, "flow").run(workspace=sqlite_workspace)
    from shipyard.tracking import search_runs

    assert search_runs(workspace=sqlite_workspace) == []


class _Collect:
    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, notification: object) -> None:
        self.sent.append(notification)


class _Broken:
    def send(self, notification: object) -> None:
        raise OSError("hook down")


def test_failure_and_gate_skip_notify_with_reason_and_command(
    workspace: Workspace, write_module: Writer, caplog: pytest.LogCaptureFixture
) -> None:
    from shipyard.notify import LogSink

    path = write_module(
        "notified",
        """
        import shipyard as sy

        @sy.step
        def gate() -> int:
            return sy.Skipped("below production")

        @sy.step
        def after(x: int) -> int:
            return x

        @sy.step
        def broken() -> int:
            raise ValueError("no rows")

        @sy.pipeline
        def skips():
            return after(gate())

        @sy.pipeline
        def fails():
            return broken()
        """,
    )
    sink = _Collect()
    skipped = load(path, "skips").run(notify=[_Broken(), sink], workspace=workspace)
    assert skipped.ok  # a broken sink never fails the pipeline
    (note,) = sink.sent  # the gate, not the dependent it skipped
    assert note.kind == "step_skipped" and "below production" in note.reason  # type: ignore[attr-defined]
    assert note.command == f"shipyard pipeline show {skipped.run_id}"  # type: ignore[attr-defined]
    with caplog.at_level("WARNING", logger="shipyard.notify"):
        failed = load(path, "fails").run(notify=[sink, LogSink()], workspace=workspace)
    assert failed.status == "FAILED"
    assert sink.sent[-1].kind == "pipeline_failed"  # type: ignore[attr-defined]
    assert "no rows" in sink.sent[-1].reason  # type: ignore[attr-defined]
    assert f"[pipeline_failed] pipeline fails run {failed.run_id}" in caplog.text


def test_without_pipeline_sinks_notifications_go_to_the_alert_sinks(
    tmp_path: Path, write_module: Writer, workspace_factory: Any
) -> None:
    import json

    out = tmp_path / "notes.jsonl"
    (tmp_path / "shipyard.toml").write_text(
        f"[monitoring]\nsinks = [\"command:sh -c 'cat >> {out}; echo >> {out}'\"]\n"
    )
    path = write_module(
        "fails",
        """
        import shipyard as sy

        @sy.step
        def broken() -> int:
            raise ValueError("no rows")

        @sy.pipeline
        def fails():
            return broken()
        """,
    )
    failed = load(path, "fails").run(workspace=workspace_factory())
    assert failed.status == "FAILED"
    (note,) = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert note["kind"] == "pipeline_failed" and note["run_id"] == failed.run_id
    assert "no rows" in note["reason"]
