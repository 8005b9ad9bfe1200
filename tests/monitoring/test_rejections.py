"""Rejected requests: a real server counts its 4xx answers, a monitor run reports them."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from tests.monitoring.ops_support import DEPLOYMENT, deploy, frame, log_predictions
from tests.serving.conftest import ServerThread

from shipyard.errors import ValidationFailed
from shipyard.monitoring.runs import metric_series, run_monitor
from shipyard.serving.app import create_app
from shipyard.serving.deployments import get_deployment
from shipyard.serving.hotswap import RegistrySource
from shipyard.serving.rejections import REASONS, reason_of, rejections_dir
from shipyard.serving.validation import ColumnSpec, InputSchema, validate
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace


def _server(workspace: Workspace, **settings: Any) -> ServerThread:
    """The deployment's real app (its registered model, pinned to version 1) under uvicorn."""
    spec = get_deployment(DEPLOYMENT, workspace=workspace)
    source = RegistrySource(workspace, spec, "churn/1")
    app = create_app(replace(workspace.settings, **settings), spec, loader=source.load)
    return ServerThread(app).start()


def _record(x1: Any = 0.5, x2: Any = 5.0, plan: Any = "basic") -> dict[str, Any]:
    return {"x1": x1, "x2": x2, "plan": plan}


def _rejection_files(workspace: Workspace) -> list[Path]:
    folder = rejections_dir(workspace.settings.data_dir) / f"deployment={DEPLOYMENT}"
    return sorted(folder.glob("date=*/*.parquet"))


def _written(workspace: Workspace) -> int:
    """Rejection counts written so far (each request counts once per column and reason)."""
    files = _rejection_files(workspace)
    return (
        sum(pq.read_table(files, partitioning=None).column("requests").to_pylist()) if files else 0
    )


def test_bad_requests_to_a_real_server_show_in_the_monitor_run(workspace: Workspace) -> None:
    setup = deploy(workspace)
    log_predictions(setup, frame(200, seed=20), utcnow() - timedelta(minutes=10))
    server = _server(workspace, max_body_bytes=4000)
    url = f"{server.url}/predict"
    try:
        assert httpx.post(url, json={"records": [_record()]}).status_code == 200
        for _ in range(3):  # x2 missing from every record
            reply = httpx.post(url, json={"records": [{"x1": 1.0, "plan": "pro"}]})
            assert reply.status_code == 422
        for _ in range(2):  # text in a float column, and a null plan: two columns at once
            reply = httpx.post(url, json={"records": [_record(x1="abc", plan=None)]})
            assert reply.status_code == 422
        assert httpx.post(url, json={"records": [{**_record(), "x9": 1}]}).status_code == 422
        assert httpx.post(url, content=b'{"records": [').status_code == 400
        assert httpx.post(url, json={"rows": []}).status_code == 400
        big = {"records": [_record()] * 200}
        assert httpx.post(url, json=big).status_code == 413
    finally:
        server.stop()  # a clean shutdown writes the counters

    files = _rejection_files(workspace)
    assert files, "the rejections were not written on shutdown"
    table = pq.read_table(files, partitioning=None)
    assert table.column_names == [
        "timestamp",
        "deployment",
        "endpoint",
        "column",
        "reason",
        "requests",
    ]
    assert set(table.column("deployment").to_pylist()) == {DEPLOYMENT}

    run = run_monitor(DEPLOYMENT, "1h", now=utcnow() + timedelta(minutes=1), workspace=workspace)
    assert run.n_predictions == 201  # the logged 200 and the one good request
    rejected = {
        (r["column"], r["reason"]): r["requests"] for r in run.summary["quality"]["rejected"]
    }
    assert rejected == {
        ("x2", "missing"): 3,
        ("x1", "wrong_type"): 2,
        ("plan", "null"): 2,
        ("x9", "extra"): 1,
        ("", "malformed_json"): 1,
        ("", "malformed_request"): 1,
        ("", "too_large"): 1,
    }
    assert {r["endpoint"] for r in run.summary["quality"]["rejected"]} == {"predict"}
    series = metric_series(DEPLOYMENT, "rejected_requests", feature="x2", workspace=workspace)
    assert [p["value"] for p in series] == [3.0]
    page = Path(str(run.report_path)).read_text()
    assert "Rejected requests" in page and "malformed_json" in page


def test_rejections_are_flushed_while_serving_and_counted_without_predictions(
    workspace: Workspace,
) -> None:
    deploy(workspace)
    server = _server(workspace, prediction_log_flush_seconds=0.2)
    try:
        before = utcnow() - timedelta(seconds=1)
        for _ in range(4):
            reply = httpx.post(f"{server.url}/predict", json={"records": [{"x1": 1.0}]})
            assert reply.status_code == 422
        deadline = time.monotonic() + 10
        while _written(workspace) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _written(workspace) == 8, "not written within the flush interval"
        # No prediction in the window: the run says so, and still counts the rejections.
        run = run_monitor(
            DEPLOYMENT, start=before, end=utcnow() + timedelta(seconds=1), workspace=workspace
        )
    finally:
        server.stop()
    assert run.status == "no_data" and run.n_predictions == 0
    rejected = run.summary["quality"]["rejected"]
    assert {(r["column"], r["reason"], r["requests"]) for r in rejected} == {
        ("x2", "missing", 4),
        ("plan", "missing", 4),
    }
    assert any("rejected" in note for note in run.summary["notes"])
    # A window before any rejection has none (and no folder at all means none too).
    quiet = run_monitor(DEPLOYMENT, "1h", now=before, report=False, workspace=workspace)
    assert quiet.summary["quality"]["rejected"] == []


def _problems(columns: dict[str, Any], schema: InputSchema) -> list[dict[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        validate(columns, schema)
    report: list[dict[str, str]] = caught.value.report
    return report


def test_every_validation_problem_has_a_stable_reason() -> None:
    """Each sentence validation.py can write maps to a code other than 'invalid'."""
    schema = InputSchema(
        (
            ColumnSpec("f", "float64"),
            ColumnSpec("i", "int64"),
            ColumnSpec("b", "bool"),
            ColumnSpec("t", "datetime64[ns]"),
            ColumnSpec("s", "str"),
            ColumnSpec("c", "category", categories=("a", "b")),
        )
    )
    good: dict[str, Any] = {
        "f": np.array([1.0]),
        "i": np.array([1]),
        "b": np.array([True]),
        "t": np.array(["2025-01-01"], dtype=object),
        "s": np.array(["x"], dtype=object),
        "c": np.array(["a"], dtype=object),
    }
    cases = {
        "missing": {k: v for k, v in good.items() if k != "f"},
        "extra": {**good, "z": np.array([1.0])},
        "wrong_type": {**good, "f": np.array(["x"]), "i": np.array([1.5]), "b": np.array(["y"])},
        "null": {**good, "f": np.array([np.nan]), "s": np.array([None], dtype=object)},
        "infinite": {**good, "f": np.array([np.inf])},
        "unknown_category": {**good, "c": np.array(["zz"], dtype=object)},
        "empty_batch": {k: v[:0] for k, v in good.items()},
        "ragged": {**good, "f": np.array([1.0, 2.0])},
    }
    for expected, columns in cases.items():
        reasons = {reason_of(p["reason"]) for p in _problems(columns, schema)}
        assert reasons == {expected}, (expected, _problems(columns, schema))
    timestamps = {**good, "t": np.array(["not a time"], dtype=object)}
    assert {reason_of(p["reason"]) for p in _problems(timestamps, schema)} == {"wrong_type"}
    assert set(cases) <= set(REASONS) and reason_of("something new") == "invalid"
