"""The content hash is canonical: same data, same hash, whatever the source or chunking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.data.ingest import ingest

# Computed once from the ``customers`` fixture; it must never change across processes,
# machines or library versions (a change would orphan every stored snapshot).
EXPECTED_HASH = "0d78813df7b8046dab2fe9f9a190504a72be4a32ff72a3ebcc05ad61ca4c9d4f"


def content_hash(data: object, tmp_path: Path) -> str:
    path = tmp_path / f"ingest-{len(list(tmp_path.iterdir()))}.parquet"
    return ingest(data, path).content_hash


def test_fixed_table_has_the_documented_hash(tmp_path: Path, customers: pd.DataFrame) -> None:
    assert content_hash(customers, tmp_path) == EXPECTED_HASH


@pytest.mark.parametrize("row_group_size", [1, 4, 1000])
def test_parquet_with_any_row_groups_hashes_like_the_dataframe(
    tmp_path: Path, row_group_size: int, customers: pd.DataFrame
) -> None:
    path = tmp_path / f"rg{row_group_size}.parquet"
    pq.write_table(pa.Table.from_pandas(customers), path, row_group_size=row_group_size)
    assert content_hash(path, tmp_path) == EXPECTED_HASH


def test_csv_hashes_like_the_dataframe(tmp_path: Path, customers: pd.DataFrame) -> None:
    path = tmp_path / "customers.csv"
    customers.to_csv(path, index=False)
    assert content_hash(path, tmp_path) == EXPECTED_HASH


def test_column_order_types_widths_and_units_do_not_matter(
    tmp_path: Path, customers: pd.DataFrame
) -> None:
    reordered = customers[["signup", "plan", "id", "active", "age"]].copy()
    reordered["id"] = reordered["id"].astype("int32")
    reordered["age"] = reordered["age"].astype("float32")
    reordered["plan"] = reordered["plan"].astype("category")
    reordered["signup"] = reordered["signup"].dt.tz_localize("UTC").astype("datetime64[s, UTC]")
    reordered.index = pd.Index([10, 11, 12, 13, 14, 15])  # the index is not part of the data
    assert content_hash(reordered, tmp_path) == EXPECTED_HASH
    chunked = pa.Table.from_batches(
        pa.Table.from_pandas(customers, preserve_index=False).to_batches(max_chunksize=2)
    )
    assert content_hash(chunked, tmp_path) == EXPECTED_HASH


def test_nan_is_null_and_negative_zero_is_zero(tmp_path: Path) -> None:
    with_nan = pd.DataFrame({"x": [float("nan"), -0.0, 1.0]})
    with_none = pa.table({"x": pa.array([None, 0.0, 1.0], pa.float64())})
    assert content_hash(with_nan, tmp_path) == content_hash(with_none, tmp_path)


CHANGES: list[Callable[[pd.DataFrame], pd.DataFrame]] = [
    lambda f: f.iloc[::-1],  # row order
    lambda f: f.assign(plan=f["plan"].fillna("")),  # an empty string is not a null
    lambda f: f.rename(columns={"age": "years"}),
    lambda f: f.assign(id=f["id"].astype("float64")),  # int vs float type
    lambda f: f.iloc[:5],
]


@pytest.mark.parametrize("change", CHANGES)
def test_any_change_of_data_changes_the_hash(
    tmp_path: Path, change: Callable[[pd.DataFrame], pd.DataFrame], customers: pd.DataFrame
) -> None:
    assert content_hash(change(customers), tmp_path) != EXPECTED_HASH


def test_strings_hash_by_value_not_by_boundaries(tmp_path: Path) -> None:
    a = pd.DataFrame({"s": ["ab", "c"]})
    b = pd.DataFrame({"s": ["a", "bc"]})
    assert content_hash(a, tmp_path) != content_hash(b, tmp_path)
