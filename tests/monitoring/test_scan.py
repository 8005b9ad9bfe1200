"""drift() with a Parquet window: the chunked scan gives the in-memory numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import shipyard as sy
from shipyard.errors import InvalidInput
from shipyard.monitoring.scan import drift_parquet

STATS = ["ks_statistic", "ks_p_value", "psi", "wasserstein", "jensen_shannon", "chi2_statistic"]


def window(tmp_path: Path, n: int = 30_000) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    rng = np.random.default_rng(4)
    ref = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "ties": np.round(rng.normal(size=n), 1),
            "city": rng.choice(["a", "b", "c"], size=n),
        }
    )
    cur = pd.DataFrame(
        {
            "x": rng.normal(0.1, 1.2, size=n),
            "ties": np.round(rng.normal(size=n), 1),
            "city": rng.choice(["a", "b", "c", "d"], size=n),
        }
    )
    cur.loc[cur.index[:50], "x"] = np.nan
    path = tmp_path / "window.parquet"
    cur.to_parquet(path, row_group_size=5000)
    return ref, cur, path


def test_chunked_scan_equals_in_memory(tmp_path: Path) -> None:
    ref, cur, path = window(tmp_path)
    in_memory = sy.monitor.drift(ref, cur).to_frame()
    chunked = drift_parquet(ref, path, chunk_rows=4096).to_frame()
    for name in STATS:
        expected, found = in_memory[name].to_numpy(), chunked[name].to_numpy()
        # Wasserstein is exact unless the CDFs cross between two grid points.
        tolerance = 1e-6 if name == "wasserstein" else 1e-12
        np.testing.assert_allclose(found, expected, rtol=tolerance, atol=1e-12, err_msg=name)
    assert chunked.loc["x", "null_current"] == 50
    assert list(chunked["drift"]) == list(in_memory["drift"])


def test_a_path_as_current_goes_through_the_scan(tmp_path: Path) -> None:
    ref, _, path = window(tmp_path, n=2000)
    report = sy.monitor.drift(ref, str(path))
    assert report.n_current == 2000 and report["city"].new_categories == ("d",)


def test_a_reference_with_more_distinct_values_than_the_grid(tmp_path: Path) -> None:
    from shipyard.monitoring import scan

    rng = np.random.default_rng(8)
    ref = pd.DataFrame({"x": rng.normal(size=scan.MAX_GRID + 5000)})
    cur = pd.DataFrame({"x": rng.normal(0.02, size=40_000)})
    cur.to_parquet(tmp_path / "c.parquet")
    exact = sy.monitor.drift(ref, cur)["x"]
    coarse = drift_parquet(ref, tmp_path / "c.parquet", chunk_rows=10_000)["x"]
    assert coarse.ks_statistic == pytest.approx(exact.ks_statistic, abs=5e-5)
    assert coarse.wasserstein == pytest.approx(exact.wasserstein, abs=1e-3)
    assert "quantile grid" in coarse.note


def test_missing_or_broken_parquet_is_invalid_input(tmp_path: Path) -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(InvalidInput, match="does not exist") as caught:
        sy.monitor.drift(ref, tmp_path / "nope.parquet")
    assert caught.value.field == "current"
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(InvalidInput, match="Parquet"):
        sy.monitor.drift(ref, broken)


def test_an_empty_parquet_window_is_invalid_input(tmp_path: Path) -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0]})
    ref.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(InvalidInput, match="current has 0 rows"):
        sy.monitor.drift(ref, tmp_path / "empty.parquet")
