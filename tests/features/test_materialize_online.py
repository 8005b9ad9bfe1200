"""Materialize into each online store, then serve: values, statuses, expiry, on-demand."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.features.conftest import CUSTOMER, T0, events, spend_view, write

from shipyard import features
from shipyard.config import load_settings
from shipyard.errors import InvalidInput, NotFound
from shipyard.features import FeatureView, OnDemandFeatureView
from shipyard.store.lineage import downstream
from shipyard.workspace import Workspace


@pytest.fixture(params=["sqlite", "redis"])
def online_ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    overrides = {"home": str(tmp_path / "home")}
    prefix = f"test-{uuid.uuid4().hex}:"
    if request.param == "redis":
        overrides["online_store"] = f"{request.getfixturevalue('redis_server')}?prefix={prefix}"
    with Workspace(load_settings(overrides, cwd=tmp_path, environ={})) as ws:
        yield ws
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(request.getfixturevalue("redis_server"))
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def latest_per_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["event_timestamp", "created"]).groupby("customer_id").tail(1)


def test_materialize_then_serve_latest_values(online_ws: Workspace, tmp_path: Path) -> None:
    frame = events()
    features.apply([spend_view(write(frame, tmp_path / "e.parquet"))], workspace=online_ws)
    result = features.materialize(
        "spend", T0 - timedelta(days=1), T0 + timedelta(days=30), workspace=online_ws
    )
    assert result.rows == frame.customer_id.nunique()
    again = features.materialize(
        "spend", T0 - timedelta(days=1), T0 + timedelta(days=30), workspace=online_ws
    )
    assert again.rows == result.rows  # idempotent: same values rewritten
    want = latest_per_key(frame).set_index("customer_id")
    ids = [int(i) for i in want.index[:5]] + [999]
    got = features.get_online(
        [{"customer_id": i} for i in ids], ["spend:amount", "spend:count"], workspace=online_ws
    )
    for i, row, status in zip(ids[:5], got.rows, got.status, strict=False):
        expected = want.loc[i]
        assert row["count"] == expected["count"]
        assert (row["amount"] is None and np.isnan(expected.amount)) or row[
            "amount"
        ] == expected.amount
        assert status == {"amount": "present", "count": "present"}
    assert got.rows[-1] == {"amount": None, "count": None}
    assert got.status[-1] == {"amount": "missing", "count": "missing"}
    node = ("feature_view", "spend/v1")
    assert any(e.dst[0] == "materialization" for e in downstream(online_ws.store, node))


def test_expired_values_are_null_with_a_status(online_ws: Workspace, tmp_path: Path) -> None:
    view = FeatureView(
        "old",
        entity=CUSTOMER,
        source=write(events(), tmp_path / "e.parquet"),
        features={"amount": "float64"},
        created_timestamp="created",
        online_ttl=timedelta(days=1),
    )
    features.apply([view], workspace=online_ws)
    features.materialize("old", None, T0 + timedelta(days=30), workspace=online_ws)
    got = features.get_online({"customer_id": [1, 2]}, ["old:amount"], workspace=online_ws)
    assert got.rows == [{"amount": None}, {"amount": None}]
    assert got.status == [{"amount": "expired"}, {"amount": "expired"}]


def test_window_and_incremental_materialization(online_ws: Workspace, tmp_path: Path) -> None:
    frame = events()
    features.apply([spend_view(write(frame, tmp_path / "e.parquet"))], workspace=online_ws)
    cut = T0 + timedelta(hours=20)
    features.materialize("spend", None, cut, workspace=online_ws)
    early = latest_per_key(frame[frame.event_timestamp <= cut]).set_index("customer_id")
    key = int(early.index[0])
    got = features.get_online([{"customer_id": key}], ["spend:count"], workspace=online_ws)
    assert got.rows[0]["count"] == early.loc[key, "count"]
    result = features.materialize_incremental("spend", T0 + timedelta(days=5), workspace=online_ws)
    assert result.start == cut.to_pydatetime()
    late = latest_per_key(frame).set_index("customer_id")
    got = features.get_online([{"customer_id": key}], ["spend:count"], workspace=online_ws)
    assert got.rows[0]["count"] == late.loc[key, "count"]


def ratio(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"amount_per_item": frame["amount"] / frame["items"]})


def test_on_demand_features_match_offline_and_online(online_ws: Workspace, tmp_path: Path) -> None:
    spend = spend_view(write(events(), tmp_path / "e.parquet"), lookback=None)
    odfv = OnDemandFeatureView(
        "per_item",
        inputs=[spend],
        request={"items": "int64"},
        features={"amount_per_item": "float64"},
        fn=ratio,
    )
    features.apply([spend, odfv], workspace=online_ws)
    features.materialize("spend", None, T0 + timedelta(days=30), workspace=online_ws)
    ids = [0, 1, 2, 3]
    entity = pd.DataFrame(
        {"customer_id": ids, "event_timestamp": T0 + timedelta(days=30), "items": [1, 2, 3, 4]}
    )
    offline = features.get_historical(entity, ["per_item:amount_per_item"], workspace=online_ws)
    online = features.get_online(
        entity[["customer_id", "items"]], ["per_item:amount_per_item"], workspace=online_ws
    )
    np.testing.assert_allclose(
        offline["amount_per_item"].to_numpy(float),
        np.array([r["amount_per_item"] for r in online.rows], dtype=float),
    )
    with pytest.raises(InvalidInput, match="request column 'items'"):
        features.get_online([{"customer_id": 1}], ["per_item:amount_per_item"], workspace=online_ws)


def test_bad_online_requests(online_ws: Workspace, tmp_path: Path) -> None:
    features.apply([spend_view(write(events(), tmp_path / "e.parquet"))], workspace=online_ws)
    with pytest.raises(InvalidInput, match="join key 'customer_id'"):
        features.get_online([{"id": 1}], ["spend:amount"], workspace=online_ws)
    with pytest.raises(NotFound, match="Did you mean 'spend:count'"):
        features.get_online([{"customer_id": 1}], ["spend:cnt"], workspace=online_ws)
    with pytest.raises(NotFound, match="No feature view 'nope'"):
        features.materialize("nope", workspace=online_ws)
    with pytest.raises(NotFound, match="Did you mean 'spend'"):
        features.materialize("spnd", workspace=online_ws)
    with pytest.raises(InvalidInput, match="start"):
        features.materialize("spend", "tomorrow", workspace=online_ws)


def test_composite_keys_offline_and_online(online_ws: Workspace, tmp_path: Path) -> None:
    frame = events().assign(store=lambda f: np.where(f.customer_id % 2 == 0, "north", "south"))
    shop = features.Entity("customer_store", join_keys=["customer_id", "store"])
    view = FeatureView(
        "by_store",
        entity=shop,
        source=write(frame, tmp_path / "e.parquet"),
        features={"count": "int64"},
        created_timestamp="created",
    )
    features.apply([view], workspace=online_ws)
    features.materialize("by_store", None, T0 + timedelta(days=30), workspace=online_ws)
    latest = latest_per_key(frame).set_index("customer_id")
    rows = [{"customer_id": 4, "store": "north"}, {"customer_id": 4, "store": "south"}]
    got = features.get_online(rows, ["by_store:count"], workspace=online_ws)
    assert got.rows == [{"count": latest.loc[4, "count"]}, {"count": None}]
    entity = pd.DataFrame(rows).assign(event_timestamp=T0 + timedelta(days=30))
    offline = features.get_historical(entity, ["by_store:count"], workspace=online_ws)
    assert offline["count"].iloc[0] == latest.loc[4, "count"]
    assert offline["by_store__status"].tolist() == ["present", "not_found"]


def test_a_null_created_time_loses_ties_offline_and_online(
    online_ws: Workspace, tmp_path: Path
) -> None:
    """Training and serving pick the same row when a created time is missing (no skew)."""
    frame = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "event_timestamp": [T0] * 4,
            "created": [T0, pd.NaT, pd.NaT, T0],
            "amount": [1.0, 2.0, 3.0, 4.0],
            "count": 0,
        }
    )
    features.apply([spend_view(write(frame, tmp_path / "e.parquet"))], workspace=online_ws)
    features.materialize("spend", None, T0 + timedelta(days=1), workspace=online_ws)
    entity = pd.DataFrame({"customer_id": [1, 2], "event_timestamp": [T0, T0]})
    offline = features.get_historical(entity, ["spend:amount"], workspace=online_ws)
    online = features.get_online(entity[["customer_id"]], ["spend:amount"], workspace=online_ws)
    assert offline["amount"].tolist() == [1.0, 4.0]
    assert [r["amount"] for r in online.rows] == [1.0, 4.0]
    assert features.check_skew("spend", 10, threshold=0.0, workspace=online_ws).passed
