"""Helpers for feature-store tests: seeded event tables written as Parquet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import features
from shipyard.features import Entity, FeatureView
from shipyard.workspace import Workspace

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def events(n_keys: int = 20, n_rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Random feature rows with same-time ties (told apart by created time) and nulls."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": rng.integers(0, n_keys, n_rows),
            "event_timestamp": T0 + pd.to_timedelta(rng.integers(0, 50, n_rows), unit="h"),
            "created": T0 + pd.to_timedelta(rng.permutation(n_rows), unit="s"),
            "amount": rng.normal(size=n_rows).round(4),
            "count": rng.integers(0, 100, n_rows),
        }
    )
    frame.loc[rng.random(n_rows) < 0.1, "amount"] = np.nan
    return frame


def write(frame: pd.DataFrame, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return str(path)


CUSTOMER = Entity("customer", join_keys=["customer_id"])


def spend_view(source: str, lookback: timedelta | None = timedelta(hours=10)) -> FeatureView:
    return FeatureView(
        "spend",
        entity=CUSTOMER,
        source=source,
        features={"amount": "float64", "count": "int64"},
        created_timestamp="created",
        lookback=lookback,
        online_ttl=timedelta(days=3650),
    )


@pytest.fixture
def spend(sqlite_workspace: Workspace, tmp_path: Path) -> Iterator[tuple[Workspace, pd.DataFrame]]:
    """An applied 'spend' view over random events, on the embedded workspace."""
    frame = events()
    view = spend_view(write(frame, tmp_path / "data" / "spend.parquet"))
    features.apply([view], workspace=sqlite_workspace)
    yield sqlite_workspace, frame
