"""Ground truth: joined by id or business key, idempotent, bad rows named and nothing stored."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.monitoring.ops_support import (
    DEPLOYMENT,
    T0,
    configured_workspace,
    deploy,
    frame,
    hours,
    log_predictions,
    target,
)

from shipyard.errors import InvalidInput, NotFound, ValidationFailed
from shipyard.monitoring.ground_truth import list_batches, log_ground_truth
from shipyard.monitoring.logs import labels_dir, open_logs
from shipyard.store.lineage import downstream
from shipyard.workspace import Workspace


def _labels(workspace: Workspace) -> pd.DataFrame:
    connection = open_logs(workspace, DEPLOYMENT)
    try:
        result: pd.DataFrame = (
            connection.sql("SELECT * FROM labels ORDER BY row").to_arrow_table().to_pandas()
        )
    finally:
        connection.close()
    return result


def test_labels_by_prediction_id_are_stored_once_with_lineage(workspace: Workspace) -> None:
    setup = deploy(workspace)
    data = frame(30, seed=2)
    ids = log_predictions(setup, data, T0)
    rows = pd.DataFrame({"prediction_id": ids, "label": target(data)})
    batch = log_ground_truth(DEPLOYMENT, rows, workspace=workspace)
    assert (batch.rows, batch.accepted, batch.rejected, batch.duplicate) == (30, 30, 0, False)
    again = log_ground_truth(DEPLOYMENT, rows, workspace=workspace)
    assert again.duplicate and again.id == batch.id
    assert len(list_batches(DEPLOYMENT, workspace=workspace)) == 1
    assert len(list(labels_dir(workspace.settings.data_dir, DEPLOYMENT).glob("*.parquet"))) == 1
    stored = _labels(workspace)
    assert list(stored["prediction_id"]) == ids
    assert list(stored["label"]) == [str(v) for v in target(data)]
    edges = downstream(workspace.store, ("deployment", DEPLOYMENT))
    assert any(e.dst == ("ground_truth", batch.id) and e.relation == "labels" for e in edges)


def test_a_later_label_corrects_an_earlier_one(workspace: Workspace) -> None:
    setup = deploy(workspace)
    ids = log_predictions(setup, frame(3, seed=2), T0)
    log_ground_truth(DEPLOYMENT, [{"prediction_id": ids[0], "label": 0}], workspace=workspace)
    log_ground_truth(DEPLOYMENT, [{"prediction_id": ids[0], "label": 1}], workspace=workspace)
    assert list(_labels(workspace)["label"]) == ["1"]


def test_business_key_joins_the_latest_prediction_before_the_label(workspace: Workspace) -> None:
    setup = deploy(workspace)
    data = frame(2, seed=3)
    first = log_predictions(setup, data, T0)
    second = log_predictions(setup, data, T0 + hours(10))
    rows = pd.DataFrame(
        {
            "customer_id": list(data["customer_id"]),
            "label": [1, 0],
            "time": [(T0 + hours(5)).isoformat(), (T0 + hours(12)).isoformat()],
        }
    )
    batch = log_ground_truth(DEPLOYMENT, rows, key="customer_id", workspace=workspace)
    assert batch.key == "customer_id"
    stored = _labels(workspace)
    assert list(stored["prediction_id"]) == [first[0], second[1]]
    assert list(stored["key"]) == list(data["customer_id"])


def test_declared_business_key_comes_from_shipyard_toml(tmp_path: Path) -> None:
    toml = f'[monitoring.deployments.{DEPLOYMENT}]\nkey = "customer_id"\n'
    with configured_workspace(tmp_path / "p", toml) as workspace:
        setup = deploy(workspace)
        data = frame(4, seed=4)
        ids = log_predictions(setup, data, T0)
        rows = pd.DataFrame({"customer_id": data["customer_id"], "label": target(data)})
        batch = log_ground_truth(DEPLOYMENT, rows, workspace=workspace)
        assert batch.key == "customer_id"
        assert sorted(_labels(workspace)["prediction_id"]) == sorted(ids)


def test_bad_rows_are_named_and_nothing_is_stored(workspace: Workspace) -> None:
    setup = deploy(workspace)
    ids = log_predictions(setup, frame(5, seed=5), T0)
    rows = pd.DataFrame(
        {
            "prediction_id": [ids[0], "not-a-logged-id", ids[2], None, ids[4]],
            "label": [1, 0, None, 1, 0],
            "time": ["2025-03-02", "2025-03-02", "2025-03-02", "2025-03-02", "yesterday-ish"],
        }
    )
    with pytest.raises(ValidationFailed) as caught:
        log_ground_truth(DEPLOYMENT, rows, workspace=workspace)
    message = caught.value.message
    assert "4 of 5 label rows" in message
    assert "row 1 ('not-a-logged-id')" in message and "no prediction_id" in message
    assert "row 2" in message and "no label" in message and "row 4" in message
    assert [r["row"] for r in caught.value.report] == [1, 2, 3, 4]
    assert list_batches(DEPLOYMENT, workspace=workspace) == []
    assert not labels_dir(workspace.settings.data_dir, DEPLOYMENT).exists() or not list(
        labels_dir(workspace.settings.data_dir, DEPLOYMENT).glob("*.parquet")
    )
    kept = log_ground_truth(DEPLOYMENT, rows, skip_bad=True, workspace=workspace)
    assert (kept.accepted, kept.rejected) == (1, 4)
    assert [b.row for b in kept.bad_rows] == [1, 2, 3, 4]


def test_files_csv_and_parquet_and_their_errors(workspace: Workspace, tmp_path: Path) -> None:
    setup = deploy(workspace)
    data = frame(6, seed=6)
    ids = log_predictions(setup, data, T0)
    csv = tmp_path / "labels.csv"
    pd.DataFrame({"prediction_id": ids[:3], "outcome": [1.0, 0.0, 1.0]}).to_csv(csv, index=False)
    batch = log_ground_truth(DEPLOYMENT, csv, label_column="outcome", workspace=workspace)
    assert batch.accepted == 3
    parquet = tmp_path / "labels.parquet"
    pd.DataFrame({"prediction_id": ids[3:], "label": ["1", "0", "1"]}).to_parquet(parquet)
    assert log_ground_truth(DEPLOYMENT, parquet, workspace=workspace).accepted == 3
    with pytest.raises(InvalidInput, match="does not exist"):
        log_ground_truth(DEPLOYMENT, tmp_path / "nope.csv", workspace=workspace)
    (tmp_path / "labels.xlsx").write_text("x")
    with pytest.raises(InvalidInput, match=r"\.csv or \.parquet"):
        log_ground_truth(DEPLOYMENT, tmp_path / "labels.xlsx", workspace=workspace)
    with pytest.raises(InvalidInput, match="no 'label' column"):
        log_ground_truth(DEPLOYMENT, csv, workspace=workspace)
    with pytest.raises(InvalidInput, match="no 'prediction_id' column"):
        log_ground_truth(DEPLOYMENT, [{"id": "x", "label": 1}], workspace=workspace)
    with pytest.raises(InvalidInput, match="no rows"):
        log_ground_truth(DEPLOYMENT, pd.DataFrame(), workspace=workspace)
    with pytest.raises(NotFound, match="No deployment named 'nope'"):
        log_ground_truth("nope", csv, workspace=workspace)
