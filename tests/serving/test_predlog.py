"""The prediction log: queued off the response path, Parquet partitions, DuckDB queries."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from shipyard.errors import InvalidInput
from shipyard.serving.predlog import LoggedRequest, PredictionLog, new_ids, query
from shipyard.workspace import Workspace


def _request(deployment: str = "churn", route: str = "production", rows: int = 2) -> LoggedRequest:
    return LoggedRequest(
        deployment=deployment,
        model="churn",
        model_version="3",
        route=route,
        ids=new_ids(rows),
        inputs={"age": np.arange(rows), "income": np.array([np.nan] + [1.5] * (rows - 1))},
        outputs={"predict": np.ones(rows, dtype=int)},
        latency_ms=1.25,
    )


def test_close_flushes_everything_into_partitions(sqlite_workspace: Workspace) -> None:
    log = PredictionLog(sqlite_workspace.settings.data_dir, flush_seconds=60)
    first, second = _request(), _request(route="canary", rows=3)
    log.record(first)
    log.record(second)
    log.record(_request(deployment="other"))
    log.close()
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    folder = sqlite_workspace.settings.data_dir / "predictions" / "deployment=churn"
    assert list(folder.glob(f"date={day}/part-*.parquet"))
    frame = query("churn", workspace=sqlite_workspace)
    assert len(frame) == 5
    assert set(frame["prediction_id"]) == set(first.ids + second.ids)
    row = frame.set_index("prediction_id").loc[first.ids[0]]
    assert json.loads(row["inputs"]) == {"age": 0, "income": None}
    assert json.loads(row["outputs"]) == {"predict": 1}
    assert row["model_version"] == "3" and len(row["input_hash"]) == 32


def test_background_writer_flushes_within_the_window(sqlite_workspace: Workspace) -> None:
    log = PredictionLog(sqlite_workspace.settings.data_dir, flush_seconds=0.1)
    log.record(_request())
    deadline = time.monotonic() + 5
    while log.rows_written < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(query("churn", workspace=sqlite_workspace)) == 2
    log.close()


def test_same_inputs_hash_the_same(sqlite_workspace: Workspace) -> None:
    log = PredictionLog(sqlite_workspace.settings.data_dir)
    log.record(_request())
    log.record(_request())
    log.close()
    frame = query("churn", workspace=sqlite_workspace)
    assert frame["input_hash"].nunique() == 2  # two distinct rows, each seen twice


def test_query_window_and_sql(sqlite_workspace: Workspace) -> None:
    log = PredictionLog(sqlite_workspace.settings.data_dir)
    log.record(_request(rows=4))
    log.record(_request(route="canary", rows=1))
    log.close()
    now = datetime.now(UTC)
    assert len(query("churn", start=now + timedelta(hours=1), workspace=sqlite_workspace)) == 0
    counts = query(
        "churn",
        start=now - timedelta(hours=1),
        end=now + timedelta(hours=1),
        sql="SELECT route, count(*) AS n FROM predictions GROUP BY route ORDER BY route",
        workspace=sqlite_workspace,
    )
    assert counts.to_dict("records") == [
        {"route": "canary", "n": 1},
        {"route": "production", "n": 4},
    ]
    with pytest.raises(InvalidInput, match="predictions"):
        query("churn", sql="SELECT nope FROM predictions", workspace=sqlite_workspace)


def test_unknown_deployment_has_no_predictions(sqlite_workspace: Workspace) -> None:
    assert query("nobody", workspace=sqlite_workspace).empty


def test_flush_window_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="prediction_log_flush_seconds"):
        PredictionLog(tmp_path, flush_seconds=0)


def test_matrix_and_plain_columns_log_the_same_text(sqlite_workspace: Workspace) -> None:
    from shipyard.serving.validation import MatrixColumns

    matrix = np.array([[0.1, 2.0, 1e-20], [3.5, -1.0, 7.0]])
    names = ["b", "a%", 'c"q']
    log = PredictionLog(sqlite_workspace.settings.data_dir)
    for columns in (
        MatrixColumns(matrix, names),
        {n: matrix[:, j].copy() for j, n in enumerate(names)},
    ):
        log.record(LoggedRequest("m", "m", "1", "production", new_ids(2), columns, {}, 1.0))
    log.close()
    frame = query("m", workspace=sqlite_workspace)
    assert frame["inputs"].nunique() == 2 and frame["input_hash"].nunique() == 2
    assert {json.loads(t)["a%"] for t in frame["inputs"]} == {2.0, -1.0}
