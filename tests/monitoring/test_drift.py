"""drift() on two frames: verdicts, results API, thresholds and edge cases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats as sps

import shipyard as sy
from shipyard.errors import InvalidInput, NotFound
from shipyard.monitoring import Thresholds


def frames(n: int = 5000, shift: float = 0.0, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.normal(10, 2, size=n),
            "city": rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]),
        }
    )
    cur = pd.DataFrame(
        {
            "x": rng.normal(shift, size=n),
            "y": rng.normal(10, 2, size=n),
            "city": rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]),
        }
    )
    return ref, cur


def test_a_shifted_column_drifts_and_the_others_do_not() -> None:
    ref, cur = frames(shift=0.5)
    report = sy.monitor.drift(ref, cur)
    assert report.drifted == ["x"]
    x = report["x"]
    assert x.kind == "numeric" and x.drift and "ks" in x.flags
    expected = sps.ks_2samp(ref["x"], cur["x"])
    assert abs(x.ks_statistic - expected.statistic) < 1e-9  # type: ignore[operator]
    assert abs(x.ks_p_value - expected.pvalue) < 1e-9  # type: ignore[operator]
    normalized = sps.wasserstein_distance(ref["x"], cur["x"]) / np.std(ref["x"])
    assert x.wasserstein == pytest.approx(normalized)
    assert report["city"].kind == "categorical" and not report["city"].drift


def test_to_frame_and_to_dict_carry_every_statistic() -> None:
    ref, cur = frames(shift=0.5)
    table = sy.monitor.drift(ref, cur).to_frame()
    assert list(table.index) == ["x", "y", "city"]
    for name in ("kind", "drift", "status", "ks_statistic", "ks_p_value", "psi", "wasserstein"):
        assert name in table.columns
    assert {"jensen_shannon", "chi2_statistic", "chi2_p_value", "threshold_psi_drift"} <= set(
        table.columns
    )
    assert bool(table.loc["x", "drift"]) is True
    document = json.loads(json.dumps(sy.monitor.drift(ref, cur).to_dict()))
    assert document["drifted"] == ["x"]
    assert document["columns"][2]["chi2_p_value"] is not None


def test_arrow_tables_give_the_same_result_as_pandas() -> None:
    ref, cur = frames(shift=0.3)
    from_pandas = sy.monitor.drift(ref, cur).to_dict()
    from_arrow = sy.monitor.drift(pa.Table.from_pandas(ref), pa.Table.from_pandas(cur)).to_dict()
    assert from_arrow == from_pandas


def test_unshifted_data_is_silent() -> None:
    ref, cur = frames(n=10_000, seed=5)
    report = sy.monitor.drift(ref, cur)
    assert report.drifted == []
    assert all(result.status == "ok" for result in report)


def test_a_new_category_is_reported_and_flagged() -> None:
    ref, cur = frames()
    cur.loc[cur.index[:500], "city"] = "z"  # 10% of rows in a category never seen
    city = sy.monitor.drift(ref, cur)["city"]
    assert city.new_categories == ("z",)
    assert city.new_category_share == pytest.approx(0.1)
    assert city.drift and "new_categories" in city.flags
    table = np.array([[sum(ref.city == c) for c in "abcz"], [sum(cur.city == c) for c in "abcz"]])
    expected = sps.chi2_contingency(table, correction=False)
    assert city.chi2_statistic == pytest.approx(expected.statistic)


def test_a_vanished_category_is_reported() -> None:
    ref, cur = frames()
    cur["city"] = cur["city"].replace({"c": "a"})
    city = sy.monitor.drift(ref, cur)["city"]
    assert city.vanished_categories == ("c",)
    assert city.drift


def test_per_column_thresholds_change_the_verdict() -> None:
    ref, cur = frames(shift=0.5)
    loose = {"x": {"ks_statistic": 0.9, "psi_drift": 5, "psi_alert": 5, "wasserstein": 9}}
    loose["x"]["jensen_shannon"] = 1
    report = sy.monitor.drift(ref, cur, thresholds=loose)
    assert report.drifted == []
    assert report["x"].thresholds.ks_statistic == 0.9
    assert report["y"].thresholds == Thresholds()
    strict = sy.monitor.drift(ref, cur, thresholds=Thresholds(ks_statistic=0.0, p_value=1.0))
    assert "y" in strict.drifted


@pytest.mark.parametrize(
    ("thresholds", "field"),
    [
        ({"nope": {"psi_drift": 1}}, "thresholds"),
        ({"x": {"psi_drfit": 1}}, "psi_drfit"),
        ({"*": {"p_value": 2}}, "p_value"),
        ({"x": {"psi_warning": 0.5}}, "psi_drift"),
        ({"x": {"bins": 1}}, "bins"),
        ({"x": {"ks_statistic": "high"}}, "ks_statistic"),
        ("strict", "thresholds"),
    ],
)
def test_bad_thresholds_name_the_field(thresholds: object, field: str) -> None:
    ref, cur = frames(n=100)
    with pytest.raises(InvalidInput) as caught:
        sy.monitor.drift(ref, cur, thresholds=thresholds)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_different_columns_are_listed_not_compared() -> None:
    ref, cur = frames(n=200)
    ref["only_ref"] = 1.0
    cur["only_cur"] = "x"
    report = sy.monitor.drift(ref, cur)
    assert [r.column for r in report] == ["x", "y", "city"]
    assert report.missing_in_current == ("only_ref",)
    assert report.missing_in_reference == ("only_cur",)
    with pytest.raises(NotFound):
        report["only_ref"]


def test_columns_limit_the_comparison_and_unknown_ones_are_refused() -> None:
    ref, cur = frames(n=200)
    assert [r.column for r in sy.monitor.drift(ref, cur, columns=["y"])] == ["y"]
    with pytest.raises(InvalidInput, match="'nope' is in neither frame") as caught:
        sy.monitor.drift(ref, cur, columns=["nope"])
    assert caught.value.field == "columns"
    with pytest.raises(InvalidInput):
        sy.monitor.drift(ref, cur, columns="x")  # type: ignore[arg-type]


def test_all_null_column_is_no_data() -> None:
    ref, cur = frames(n=200)
    cur["x"] = np.nan
    cur["city"] = None
    report = sy.monitor.drift(ref, cur)
    for name in ("x", "city"):
        assert report[name].status == "no_data"
        assert not report[name].drift
        assert "null in current" in report[name].note
    assert report["x"].null_current == 200


def test_nulls_are_left_out_and_counted() -> None:
    ref, cur = frames(n=1000)
    cur.loc[cur.index[:100], "x"] = np.nan
    x = sy.monitor.drift(ref, cur)["x"]
    assert (x.n_current, x.null_current) == (900, 100)
    expected = sps.ks_2samp(ref["x"], cur["x"].dropna())
    assert x.ks_statistic == pytest.approx(expected.statistic)


def test_constant_reference_column() -> None:
    ref = pd.DataFrame({"c": np.ones(1000)})
    same = sy.monitor.drift(ref, pd.DataFrame({"c": np.ones(1000)}))["c"]
    assert not same.drift and same.psi == 0 and same.ks_statistic == 0
    assert same.wasserstein is None and "constant" in same.note
    moved = sy.monitor.drift(ref, pd.DataFrame({"c": np.full(1000, 2.0)}))["c"]
    assert moved.drift and moved.ks_statistic == 1.0
    assert moved.psi is not None and moved.psi > 0.25


def test_a_single_category_on_both_sides_is_no_drift() -> None:
    ref = pd.DataFrame({"k": ["a"] * 100})
    result = sy.monitor.drift(ref, pd.DataFrame({"k": ["a"] * 50}))["k"]
    assert not result.drift and result.chi2_p_value == 1.0 and result.psi == 0.0
    assert "one category" in result.note


def test_empty_frames_are_invalid_input() -> None:
    ref, cur = frames(n=100)
    with pytest.raises(InvalidInput, match="current has 0 rows") as caught:
        sy.monitor.drift(ref, cur.iloc[:0])
    assert caught.value.field == "current"
    with pytest.raises(InvalidInput, match="reference has 0 rows"):
        sy.monitor.drift(ref.iloc[:0], cur)


def test_not_a_frame_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="pandas DataFrame or a pyarrow Table") as caught:
        sy.monitor.drift([1, 2, 3], pd.DataFrame({"x": [1.0]}))
    assert caught.value.field == "reference"


def test_timestamp_columns_are_listed_as_unsupported() -> None:
    ref, cur = frames(n=100)
    ref["at"] = pd.Timestamp("2024-01-01")
    cur["at"] = pd.Timestamp("2024-02-01")
    report = sy.monitor.drift(ref, cur)
    assert report.unsupported == ("at",)
    assert "at" not in [r.column for r in report]


def test_booleans_and_integers() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"flag": rng.random(2000) < 0.5, "count": rng.poisson(3, 2000)})
    cur = pd.DataFrame({"flag": rng.random(2000) < 0.9, "count": rng.poisson(3, 2000)})
    report = sy.monitor.drift(ref, cur)
    assert report["flag"].kind == "categorical" and report["flag"].drift
    assert report["count"].kind == "numeric" and not report["count"].drift


def test_a_reference_profile_works_like_a_reference_frame() -> None:
    import pyarrow as pa

    from shipyard.data.profiles import profile_table

    ref, cur = frames(n=10_000, shift=0.5)
    profile = profile_table(pa.Table.from_pandas(ref, preserve_index=False))
    report = sy.monitor.drift(profile, cur)
    assert report.reference_source == "profile"
    assert report.drifted == ["x"]
    x = report["x"]
    assert x.wasserstein is None and "profile" in x.note
    # The binned KS is a lower bound of the exact statistic.
    exact = sps.ks_2samp(ref["x"], cur["x"]).statistic
    assert 0.1 < x.ks_statistic <= exact + 1e-12  # type: ignore[operator]
    cur.loc[cur.index[:1000], "city"] = "new"
    city = sy.monitor.drift(profile, cur)["city"]
    assert city.new_categories == ("new",) and city.drift


def mixed_frames(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Floats with nulls, integers, strings with nulls, booleans; x and city drifted."""
    rng = np.random.default_rng(11)

    def side(shift: float, new: bool) -> pd.DataFrame:
        x = rng.normal(shift, 1, size=n)
        x[rng.random(n) < 0.05] = np.nan
        city = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]).astype(object)
        if new:
            city[rng.random(n) < 0.1] = "z"
        city[rng.random(n) < 0.02] = None
        return pd.DataFrame(
            {
                "x": x,
                "rounded": np.round(rng.normal(5, 2, size=n), 1),
                "count": rng.poisson(3, size=n),
                "city": city,
                "flag": rng.random(n) < 0.5,
            }
        )

    return side(0.0, False), side(0.4, True)


@pytest.mark.parametrize("n", [3_000, 30_000])
def test_two_parquet_files_give_the_in_memory_result(tmp_path: Path, n: int) -> None:
    ref, cur = mixed_frames(n)
    ref.to_parquet(tmp_path / "ref.parquet", row_group_size=n // 3)
    cur.drop(columns=["flag"]).assign(extra=1.0).to_parquet(tmp_path / "cur.parquet")
    in_memory = sy.monitor.drift(ref, cur.drop(columns=["flag"]).assign(extra=1.0))
    from_files = sy.monitor.drift(tmp_path / "ref.parquet", str(tmp_path / "cur.parquet"))
    assert from_files.to_dict() == in_memory.to_dict()
    assert from_files.drifted == ["x", "city"]
    assert from_files.missing_in_current == ("flag",)
    assert from_files.missing_in_reference == ("extra",)
    assert from_files["city"].null_current > 0 and from_files["x"].null_reference > 0


def test_a_parquet_reference_against_a_frame(tmp_path: Path) -> None:
    ref, cur = mixed_frames(2_000)
    ref.to_parquet(tmp_path / "ref.parquet")
    assert (
        sy.monitor.drift(tmp_path / "ref.parquet", cur).to_dict()
        == sy.monitor.drift(ref, cur).to_dict()
    )


def test_a_missing_or_broken_reference_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist") as caught:
        sy.monitor.drift(tmp_path / "nope.parquet", tmp_path / "nope.parquet")
    assert caught.value.field == "reference"
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(InvalidInput, match="as Parquet") as caught:
        sy.monitor.drift(tmp_path / "bad.parquet", pd.DataFrame({"x": [1.0]}))
    assert caught.value.field == "reference"


def test_comparing_two_files_imports_neither_pandas_nor_scipy(tmp_path: Path) -> None:
    # What keeps a monitor job's memory small: see docs/monitoring.md, "Memory".
    ref, cur = frames(n=20_000, shift=0.5)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    script = (
        "import sys, shipyard as sy\n"
        f"r = sy.monitor.drift({str(tmp_path / 'ref.parquet')!r}, "
        f"{str(tmp_path / 'cur.parquet')!r})\n"
        "assert r.drifted == ['x'], r.drifted\n"
        "print(sorted(m for m in ('pandas', 'scipy', 'sqlalchemy') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
