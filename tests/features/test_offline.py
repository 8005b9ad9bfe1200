"""Point-in-time retrieval: equals a brute-force reference and never leaks the future."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.features.conftest import CUSTOMER, T0, events, spend_view, write

from shipyard import features
from shipyard.errors import InvalidInput, NotFound
from shipyard.features import FeatureView
from shipyard.workspace import Workspace


def reference(entity: pd.DataFrame, feats: pd.DataFrame, lookback: pd.Timedelta) -> pd.DataFrame:
    """For each row: filter the key's rows at or before its time, take the latest."""
    out = []
    for _, row in entity.iterrows():
        rows = feats[
            (feats.customer_id == row.customer_id) & (feats.event_timestamp <= row.event_timestamp)
        ]
        if rows.empty:
            out.append((np.nan, np.nan, "not_found"))
            continue
        best = rows.sort_values(["event_timestamp", "created"]).iloc[-1]
        if row.event_timestamp - best.event_timestamp > lookback:
            out.append((np.nan, np.nan, "outside_lookback"))
        else:
            out.append((best.amount, best["count"], "present"))
    return pd.DataFrame(out, columns=["amount", "count", "spend__status"])


def entity_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            # keys 20..24 have no history at all
            "customer_id": rng.integers(0, 25, n),
            "event_timestamp": T0 + pd.to_timedelta(rng.integers(-5, 60, n), unit="h"),
            "label": rng.integers(0, 2, n),
        }
    )
    return pd.concat([frame, frame.iloc[:20]], ignore_index=True)  # duplicate rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_brute_force_reference_on_random_data(
    seed: int, tmp_path: Path, sqlite_workspace: Workspace
) -> None:
    feats = events(seed=seed)
    features.apply([spend_view(write(feats, tmp_path / "f.parquet"))], workspace=sqlite_workspace)
    entity = entity_rows(300, seed)
    got = features.get_historical(
        entity, ["spend:amount", "spend:count"], workspace=sqlite_workspace
    )
    want = reference(entity, feats, pd.Timedelta(hours=10))
    assert len(got) == len(entity)
    pd.testing.assert_frame_equal(got[["customer_id", "event_timestamp", "label"]], entity)
    assert (got["spend__status"].to_numpy() == want["spend__status"].to_numpy()).all()
    np.testing.assert_array_equal(got["amount"].to_numpy(float), want["amount"].to_numpy(float))
    np.testing.assert_array_equal(got["count"].to_numpy(float), want["count"].to_numpy(float))
    assert {"not_found", "outside_lookback", "present"} <= set(got["spend__status"])


def _one_key(tmp_path: Path, rows: list[tuple[str, str, float]], lookback: timedelta) -> Workspace:
    frame = pd.DataFrame(
        {
            "customer_id": 1,
            "event_timestamp": pd.to_datetime([r[0] for r in rows], utc=True, format="ISO8601"),
            "created": pd.to_datetime([r[1] for r in rows], utc=True, format="ISO8601"),
            "amount": [r[2] for r in rows],
            "count": 0,
        }
    )
    return write(frame, tmp_path / "one.parquet")  # type: ignore[return-value]


def test_leakage_traps(tmp_path: Path, sqlite_workspace: Workspace) -> None:
    source = _one_key(
        tmp_path,
        [
            ("2024-01-01 00:00:00", "2024-01-01 00:00:00", 1.0),
            ("2024-01-02 00:00:00", "2024-01-02 00:00:05", 2.0),  # same event time,
            ("2024-01-02 00:00:00", "2024-01-02 00:00:09", 3.0),  # created later: wins
            ("2024-01-02 00:00:00", "2024-01-02 00:00:01", 4.0),
            ("2024-01-03 00:00:00.000001", "2024-01-03 00:00:01", 5.0),  # 1 µs after a row
        ],
        timedelta(hours=30),
    )
    features.apply([spend_view(source, lookback=timedelta(hours=30))], workspace=sqlite_workspace)
    entity = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1],
            "event_timestamp": pd.to_datetime(
                [
                    "2024-01-03 00:00:00",  # the 1 µs-later row must not join
                    "2024-01-02 00:00:00",
                    "2024-01-05 00:00:00",  # newest row is 48h old: outside lookback
                    "2023-12-31 23:59:59.999999",
                ],
                utc=True,
                format="ISO8601",
            ),
        }
    )
    got = features.get_historical(entity, ["spend:amount"], workspace=sqlite_workspace)
    assert got["amount"].tolist()[:2] == [3.0, 3.0]
    assert np.isnan(got["amount"].iloc[2]) and np.isnan(got["amount"].iloc[3])
    assert got["spend__status"].tolist() == ["present", "present", "outside_lookback", "not_found"]


def test_naive_timestamps_are_utc_and_order_and_index_are_kept(
    spend: tuple[Workspace, pd.DataFrame],
) -> None:
    workspace, _ = spend
    aware = entity_rows(50, 9)
    naive = aware.assign(event_timestamp=aware.event_timestamp.dt.tz_localize(None))
    naive.index = naive.index[::-1]
    got_naive = features.get_historical(naive, ["spend:amount"], workspace=workspace)
    got_aware = features.get_historical(aware, ["spend:amount"], workspace=workspace)
    assert list(got_naive.index) == list(naive.index)
    np.testing.assert_array_equal(got_naive["amount"].to_numpy(), got_aware["amount"].to_numpy())
    assert str(got_naive["event_timestamp"].dt.tz) == "UTC"


def test_arrow_in_and_out(spend: tuple[Workspace, pd.DataFrame]) -> None:
    import pyarrow as pa

    workspace, _ = spend
    table = pa.Table.from_pandas(entity_rows(10, 4), preserve_index=False)
    got = features.get_historical(table, ["spend:*"], output="arrow", workspace=workspace)
    assert isinstance(got, pa.Table)
    assert got.num_rows == table.num_rows and {"amount", "count", "spend__status"} <= set(
        got.column_names
    )


def test_missing_timestamp_or_key_column_is_named(spend: tuple[Workspace, pd.DataFrame]) -> None:
    workspace, _ = spend
    rows = entity_rows(5, 1)
    with pytest.raises(InvalidInput, match="event_timestamp") as info:
        features.get_historical(
            rows.drop(columns="event_timestamp"), ["spend:amount"], workspace=workspace
        )
    assert info.value.field == "event_timestamp"
    with pytest.raises(InvalidInput, match="customer_id"):
        features.get_historical(
            rows.drop(columns="customer_id"), ["spend:amount"], workspace=workspace
        )


def test_unknown_feature_suggests_the_closest_name(spend: tuple[Workspace, pd.DataFrame]) -> None:
    workspace, _ = spend
    with pytest.raises(NotFound, match="Did you mean 'spend:amount'"):
        features.get_historical(entity_rows(5, 1), ["spend:amont"], workspace=workspace)
    with pytest.raises(NotFound, match="Did you mean 'spend:count'"):
        features.get_historical(entity_rows(5, 1), ["spnd:count"], workspace=workspace)


def test_mixed_aware_and_naive_timestamps_are_refused(
    spend: tuple[Workspace, pd.DataFrame],
) -> None:
    workspace, _ = spend
    rows = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "event_timestamp": [pd.Timestamp("2024-01-02", tz="UTC"), pd.Timestamp("2024-01-02")],
        },
    )
    rows["event_timestamp"] = rows["event_timestamp"].astype(object)
    with pytest.raises(InvalidInput, match="mixes tz-aware") as info:
        features.get_historical(rows, ["spend:amount"], workspace=workspace)
    assert info.value.field == "event_timestamp"


def test_source_types_must_match_declared_types(
    tmp_path: Path, sqlite_workspace: Workspace
) -> None:
    frame = events().assign(count=lambda f: f["count"].astype(str))
    view = spend_view(write(frame, tmp_path / "bad.parquet"))
    with pytest.raises(
        InvalidInput, match="'count' is declared int64 but the source column is VARCHAR"
    ):
        features.apply([view], workspace=sqlite_workspace)
    assert features.registry(sqlite_workspace).current().views == {}


def test_python_and_sql_transforms(tmp_path: Path, sqlite_workspace: Workspace) -> None:
    source = write(events(), tmp_path / "e.parquet")

    def doubled(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(amount2=frame["amount"] * 2)

    py = FeatureView(
        "py",
        entity=CUSTOMER,
        source=source,
        features={"amount2": "float64"},
        created_timestamp="created",
        transform=doubled,
    )
    sql = FeatureView(
        "sql",
        entity=CUSTOMER,
        source=source,
        features={"amount3": "float64"},
        created_timestamp="created",
        transform="SELECT *, amount * 3 AS amount3 FROM source",
    )
    base = spend_view(source, lookback=None)
    features.apply([py, sql, base], workspace=sqlite_workspace)
    got = features.get_historical(
        entity_rows(40, 3),
        ["py:amount2", "sql:amount3", "spend:amount"],
        workspace=sqlite_workspace,
    )
    np.testing.assert_allclose(got["amount2"], got["amount"] * 2)
    np.testing.assert_allclose(got["amount3"], got["amount"] * 3)


def test_snapshot_source_and_lineage(sqlite_workspace: Workspace) -> None:
    from shipyard import data
    from shipyard.features import SnapshotSource
    from shipyard.store.lineage import upstream

    snapshot = data.add(events(), name="spend_events", workspace=sqlite_workspace)
    view = FeatureView(
        "snap",
        entity=CUSTOMER,
        source=SnapshotSource(snapshot.ref),
        features={"amount": "float64"},
        created_timestamp="created",
    )
    features.apply([view], workspace=sqlite_workspace)
    got = features.get_historical(entity_rows(20, 5), ["snap:amount"], workspace=sqlite_workspace)
    assert (got["snap__status"] == "present").any()
    edges = upstream(sqlite_workspace.store, ("feature_view", "snap/v1"))
    assert any(e.src == ("snapshot", snapshot.ref) and e.relation == "source" for e in edges)


def test_rewritten_source_is_read_again(tmp_path: Path, sqlite_workspace: Workspace) -> None:
    """The in-memory sorted copy of a source follows the file: no stale values."""
    feats = events(seed=4)
    path = tmp_path / "f.parquet"
    features.apply([spend_view(write(feats, path))], workspace=sqlite_workspace)
    entity = entity_rows(100, 4)
    before = features.get_historical(entity, ["spend:amount"], workspace=sqlite_workspace)
    write(feats.assign(amount=feats.amount + 1000.0), path)
    after = features.get_historical(entity, ["spend:amount"], workspace=sqlite_workspace)
    np.testing.assert_allclose(
        after["amount"].to_numpy(float), before["amount"].to_numpy(float) + 1000.0
    )


def test_times_spanning_centuries_match_the_reference(
    tmp_path: Path, sqlite_workspace: Workspace
) -> None:
    """Event times too far apart to pack next to the key still resolve exactly."""
    feats = events(seed=5)
    far = feats.index % 7 == 0
    feats.loc[far, "event_timestamp"] -= pd.Timedelta(days=365 * 200)
    features.apply([spend_view(write(feats, tmp_path / "f.parquet"))], workspace=sqlite_workspace)
    entity = entity_rows(200, 5)
    entity.loc[entity.index % 5 == 0, "event_timestamp"] -= pd.Timedelta(days=365 * 150)
    got = features.get_historical(entity, ["spend:amount"], workspace=sqlite_workspace)
    want = reference(entity, feats, pd.Timedelta(hours=10))
    assert (got["spend__status"].to_numpy() == want["spend__status"].to_numpy()).all()
    np.testing.assert_array_equal(got["amount"].to_numpy(float), want["amount"].to_numpy(float))


def test_text_keys_and_a_key_of_the_wrong_type(tmp_path: Path, sqlite_workspace: Workspace) -> None:
    feats = events(seed=6).assign(customer_id=lambda f: "c" + f.customer_id.astype(str))
    features.apply([spend_view(write(feats, tmp_path / "f.parquet"))], workspace=sqlite_workspace)
    entity = entity_rows(100, 6)
    want = reference(entity, events(seed=6), pd.Timedelta(hours=10))
    text = entity.assign(customer_id="c" + entity.customer_id.astype(str))
    got = features.get_historical(text, ["spend:amount"], workspace=sqlite_workspace)
    np.testing.assert_array_equal(got["amount"].to_numpy(float), want["amount"].to_numpy(float))
    with pytest.raises(InvalidInput, match="Join key 'customer_id' is int64 in entity_df"):
        features.get_historical(entity, ["spend:amount"], workspace=sqlite_workspace)


def test_sub_second_entity_times_against_whole_second_features(
    tmp_path: Path, sqlite_workspace: Workspace
) -> None:
    """Feature times in whole seconds are packed per second; entity times between them floor."""
    feats = events(seed=7)
    assert (feats["event_timestamp"].dt.microsecond == 0).all()
    features.apply([spend_view(write(feats, tmp_path / "f.parquet"))], workspace=sqlite_workspace)
    rng = np.random.default_rng(7)
    picked = feats.sample(150, random_state=7)
    offsets = rng.choice([-1, 0, 1, 500_000, 999_999], len(picked))  # microseconds
    entity = pd.DataFrame(
        {
            "customer_id": picked["customer_id"].to_numpy(),
            "event_timestamp": picked["event_timestamp"].reset_index(drop=True)
            + pd.to_timedelta(offsets, unit="us"),
        }
    )
    got = features.get_historical(entity, ["spend:amount"], workspace=sqlite_workspace)
    want = reference(entity, feats, pd.Timedelta(hours=10))
    assert (got["spend__status"].to_numpy() == want["spend__status"].to_numpy()).all()
    np.testing.assert_array_equal(got["amount"].to_numpy(float), want["amount"].to_numpy(float))


def test_a_row_without_a_timestamp_still_gets_a_row(spend: tuple[Workspace, pd.DataFrame]) -> None:
    """Null entity times join nothing: nulls and not_found, order and count kept."""
    workspace, _ = spend
    entity = entity_rows(30, 8)
    want = reference(entity, spend[1], pd.Timedelta(hours=10))
    entity["event_timestamp"] = entity["event_timestamp"].astype(object)
    entity.loc[[0, 7], "event_timestamp"] = None
    got = features.get_historical(entity, ["spend:amount"], workspace=workspace)
    assert len(got) == len(entity)
    assert got["spend__status"].iloc[[0, 7]].tolist() == ["not_found", "not_found"]
    assert got["amount"].iloc[[0, 7]].isna().all()
    rest = ~entity.index.isin([0, 7])
    np.testing.assert_array_equal(
        got["amount"].to_numpy(float)[rest], want["amount"].to_numpy(float)[rest]
    )


def test_source_types_are_checked_again_at_retrieval(
    tmp_path: Path, sqlite_workspace: Workspace
) -> None:
    path = tmp_path / "f.parquet"
    features.apply([spend_view(write(events(), path))], workspace=sqlite_workspace)
    write(events().assign(count=lambda f: f["count"].astype(str)), path)  # rewritten, wrong type
    with pytest.raises(InvalidInput, match="'count' is declared int64") as info:
        features.get_historical(entity_rows(5, 1), ["spend:count"], workspace=sqlite_workspace)
    assert info.value.field == "count"
