"""The prediction log: queued off the response path, Parquet partitions, DuckDB queries."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
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


def _canonical(row: dict[str, object]) -> str:
    plain = {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}
    return json.dumps(plain, separators=(",", ":"), sort_keys=True)


@pytest.mark.parametrize("with_text", [True, False], ids=["mixed", "numeric-only"])
def test_logged_rows_are_canonical_json_of_every_kind(
    sqlite_workspace: Workspace, with_text: bool
) -> None:
    """Numeric-only rows take a faster formatter; both must write json.dumps's text."""
    import hashlib

    floats = [0.0, -0.0, 2.0, -3.5, 1e15, 1e16, 1e-5, 1e-4, 5e-324, 0.1, 1 / 3, 123456.789]
    floats += [float("nan"), float("inf"), float("-inf"), 2.0**60, 1.7976931348623157e308]
    floats += [-9.999e-5, 9999999999999998.0, 0.00012, -2.5e-7]
    floats += [1e-9, 9.99e-10, -3e-6, 1e-10, 1.5e-300, 1e22]
    rows = len(floats)
    inputs = {
        "x": np.array(floats),
        "n": np.arange(rows) - 5,
        "flag": np.arange(rows) % 2 == 0,
        "u%s": np.uint64(2**64 - 1) - np.arange(rows, dtype=np.uint64),
        "f32": np.where(np.abs(floats) < 3e38, floats, 1.5).astype(np.float32),
    }
    if with_text:
        inputs["city"] = np.array([f"c-{i}é" for i in range(rows)], dtype=object)
    outputs = {"predict": np.arange(rows) % 2, "predict_proba": np.column_stack([floats, floats])}
    log = PredictionLog(sqlite_workspace.settings.data_dir)
    ids = new_ids(rows)
    log.record(LoggedRequest("kinds", "m", "1", "production", ids, inputs, outputs, 2.0))
    log.close()
    frame = query("kinds", workspace=sqlite_workspace).set_index("prediction_id")
    for i, prediction_id in enumerate(ids):
        logged = frame.loc[prediction_id]
        row = {name: values.tolist()[i] for name, values in inputs.items()}
        assert logged["inputs"] == _canonical(row)
        assert logged["input_hash"] == hashlib.sha256(logged["inputs"].encode()).hexdigest()[:32]
        proba = [None if v != v else v for v in (floats[i], floats[i])]
        expected = {"predict": i % 2, "predict_proba": proba}
        assert logged["outputs"] == json.dumps(expected, separators=(",", ":"), sort_keys=True)


def test_one_flush_keeps_each_requests_own_fields(sqlite_workspace: Workspace) -> None:
    from shipyard.serving.validation import MatrixColumns

    names = ["b", "a"]
    log = PredictionLog(sqlite_workspace.settings.data_dir, flush_seconds=60)
    wide = LoggedRequest(
        "mix", "m", "2", "canary", new_ids(3), MatrixColumns(np.ones((3, 2)), names), {}, 7.0
    )
    single = LoggedRequest("mix", "m", "1", "production", new_ids(1), {"a": np.array([4])}, {}, 1.0)
    looked_up = LoggedRequest(
        "mix",
        "m",
        "1",
        "shadow",
        new_ids(2),
        {"a": np.array([5, 6])},
        {},
        3.0,
        features={"spend": np.array([1.5, np.nan])},
    )
    for request in (wide, single, looked_up):
        log.record(request)
    log.close()
    frame = query("mix", workspace=sqlite_workspace).set_index("prediction_id")
    assert len(frame) == 6
    for request in (wide, single, looked_up):
        part = frame.loc[request.ids]
        assert set(part["route"]) == {request.route}
        assert set(part["model_version"]) == {request.model_version}
        assert set(part["latency_ms"]) == {request.latency_ms}
    assert frame.loc[wide.ids[0], "inputs"] == '{"a":1.0,"b":1.0}'
    assert pd.isna(frame.loc[single.ids[0], "features"])
    spends = [json.loads(frame.loc[i, "features"])["spend"] for i in looked_up.ids]
    assert spends == [1.5, None]


def test_a_request_that_cannot_be_encoded_is_counted_not_fatal(
    sqlite_workspace: Workspace,
) -> None:
    log = PredictionLog(sqlite_workspace.settings.data_dir, flush_seconds=60)
    broken = LoggedRequest("bad", "m", "1", "production", new_ids(2), {"a": np.arange(3)}, {}, 1.0)
    good = _request(deployment="bad")
    log.record(broken)
    log.record(good)
    log.close()
    assert log.write_errors == 1
    assert set(query("bad", workspace=sqlite_workspace)["prediction_id"]) == set(good.ids)


def test_a_long_window_of_differently_typed_requests_logs_each_row_as_sent(
    sqlite_workspace: Workspace,
) -> None:
    """Thousands of requests in one flush, in runs that share names but not dtypes:
    each row keeps its own types (an int stays an int) and its canonical text."""
    from shipyard.serving.validation import MatrixColumns

    rng = np.random.default_rng(7)
    log = PredictionLog(sqlite_workspace.settings.data_dir, flush_seconds=60)
    expected: dict[str, tuple[dict[str, object], dict[str, object]]] = {}
    for i in range(5_000):
        kind = (i // 700) % 3  # runs long enough to cross the formatter's chunks
        values = rng.normal(size=(1, 2)) * 10.0 ** rng.integers(-12, 12)
        if kind == 0:
            inputs: Any = MatrixColumns(values, ["x", "y"])
            proba = rng.random((1, 2))
        elif kind == 1:
            inputs = {"x": np.array([i]), "y": np.array([i % 2 == 0])}
            proba = rng.random((1, 2))
        else:  # the names of kind 1, other dtypes
            inputs = {"x": values[:, 0], "y": values[:, 1].astype(np.float32)}
            proba = rng.random((1, 2))
        outputs = {"predict": np.array([i % 3]), "predict_proba": proba}
        ids = new_ids(1)
        log.record(LoggedRequest("long", "m", "1", "production", ids, inputs, outputs, 1.0))
        row = {name: inputs[name].tolist()[0] for name in ("x", "y")}
        expected[ids[0]] = (row, {"predict": i % 3, "predict_proba": proba[0].tolist()})
    log.close()
    frame = query("long", workspace=sqlite_workspace).set_index("prediction_id")
    assert len(frame) == len(expected)
    for prediction_id, (row, outputs) in expected.items():
        assert frame.loc[prediction_id, "inputs"] == _canonical(row)
        assert frame.loc[prediction_id, "outputs"] == json.dumps(
            outputs, separators=(",", ":"), sort_keys=True
        )
