"""Reference profiles are exact, chunking-independent, and bin new data the same way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard import data as datasets
from shipyard.data.profiles import QUANTILES, Profile
from shipyard.errors import InvalidInput


def test_numeric_statistics_match_numpy_exactly() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(50, 10, 10_001)
    profile = datasets.profile(pd.DataFrame({"x": values}))["x"]
    assert isinstance(profile, datasets.NumericProfile)
    assert profile.count == values.size and profile.nulls == 0
    assert profile.mean == float(values.mean())
    assert profile.std == pytest.approx(float(values.std(ddof=1)), rel=1e-12)
    assert (profile.min, profile.max) == (values.min(), values.max())
    expected = np.quantile(values, QUANTILES)
    assert list(profile.quantiles) == list(QUANTILES)
    assert np.allclose(list(profile.quantiles.values()), expected, rtol=1e-15, atol=0)
    ordered = np.sort(values)
    cuts = [ordered[(k * 10_000 + 9) // 10] for k in range(1, 10)]  # s[ceil(k(n-1)/10)]
    assert profile.bin_edges == (values.min(), *cuts, values.max())
    assert sum(profile.bin_counts) == values.size
    assert all(abs(c - 1000) <= 1 for c in profile.bin_counts)


def test_bins_of_new_data_use_the_reference_cut_points() -> None:
    profile = datasets.profile(pd.DataFrame({"x": np.arange(100.0)}))["x"]
    assert isinstance(profile, datasets.NumericProfile)
    assert profile.bin_edges == (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 99.0)
    assert profile.bin_counts == (10,) * 10
    # Below the reference minimum -> first bin; above the maximum -> last; NaN dropped.
    new = np.array([-5.0, 0.0, 9.99, 10.0, 50.0, 1000.0, np.nan])  # cuts 10, 20, … 90
    assert profile.bin_index(new).tolist() == [0, 0, 0, 1, 5, 9]
    assert profile.histogram(new).tolist() == [3, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert profile.histogram(pd.Series(np.arange(100.0))).tolist() == [10] * 10


def test_ties_collapse_bins_without_empty_reference_bins() -> None:
    frame = pd.DataFrame({"flag": [0] * 70 + [1] * 30, "const": [5.0] * 100})
    profile = datasets.profile(frame)
    flag, const = profile["flag"], profile["const"]
    assert isinstance(flag, datasets.NumericProfile)
    assert isinstance(const, datasets.NumericProfile)
    assert flag.bin_edges == (0.0, 1.0, 1.0) and flag.bin_counts == (70, 30)
    assert const.bin_edges == (5.0, 5.0) and const.bin_counts == (100,)


def test_categorical_top_values_and_other() -> None:
    values = ["b"] * 5 + ["a"] * 5 + ["c"] * 3 + ["d"] * 1 + [None] * 2
    profile = datasets.profile(pd.DataFrame({"c": values}), top=3)["c"]
    assert isinstance(profile, datasets.CategoricalProfile)
    assert profile.top == (("a", 5), ("b", 5), ("c", 3))  # ties by value
    assert (profile.other, profile.nulls, profile.distinct, profile.complete) == (1, 2, 4, False)
    assert profile.histogram(["a", "z", None, "c", "c"]).tolist() == [1, 0, 2, 1]


def test_profile_does_not_depend_on_chunking_and_round_trips_json() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.random(1000), "s": rng.choice(["u", "v"], 1000)})
    whole = datasets.profile(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=7))
    assert datasets.profile(chunked) == whole
    assert Profile.from_json(whole.to_json()) == whole


def test_bad_profile_options_and_unknown_columns() -> None:
    frame = pd.DataFrame({"x": [1.0]})
    with pytest.raises(InvalidInput, match="bins must be an integer >= 1, got 0"):
        datasets.profile(frame, bins=0)
    with pytest.raises(InvalidInput, match="top must be an integer >= 1, got -1"):
        datasets.profile(frame, top=-1)
    with pytest.raises(InvalidInput, match="no column 'y'"):
        datasets.profile(frame)["y"]
