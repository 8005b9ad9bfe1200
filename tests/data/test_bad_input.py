"""Bad input gets a clear error naming the column, line or file, and stores nothing
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard import data as datasets
from shipyard.errors import InvalidInput, NotFound
from shipyard.workspace import Workspace


def assert_nothing_stored(workspace: Workspace) -> None:
    assert datasets.list(workspace=workspace) == []
    blobs = Path(workspace.settings.artifacts_url) / "sha256"
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


def test_empty_frame_is_refused(workspace: Workspace) -> None:
    with pytest.raises(InvalidInput, match="no rows"):
        datasets.add(pd.DataFrame({"a": []}), "empty", workspace=workspace)
    with pytest.raises(InvalidInput, match="no columns"):
        datasets.add(pd.DataFrame(), "empty", workspace=workspace)
    assert_nothing_stored(workspace)


def test_duplicate_column_names_are_named(workspace: Workspace) -> None:
    frame = pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"])
    with pytest.raises(InvalidInput, match="'a' appears more than once") as caught:
        datasets.add(frame, "dups", workspace=workspace)
    assert caught.value.field == "a"
    assert_nothing_stored(workspace)


def test_mixed_type_object_column_names_column_and_two_values(
    workspace: Workspace,
) -> None:
    frame = pd.DataFrame({"ok": [1, 2, 3], "mixed": pd.Series([1, "two", 3], dtype=object)})
    with pytest.raises(InvalidInput) as caught:
        datasets.add(frame, "mixed", workspace=workspace)
    message = caught.value.message
    assert "'mixed'" in message and "1 (int)" in message and "'two' (str)" in message
    assert caught.value.field == "mixed"
    assert_nothing_stored(workspace)


@pytest.mark.parametrize(
    ("values", "first", "other"),
    [
        ([1.5, True], "1.5 (float)", "True (bool)"),  # Arrow alone would read True as 1.0
        ([datetime(2024, 1, 1), 5], "(datetime)", "5 (int)"),  # ... and 5 as 5 µs
        ([date(2024, 1, 1), datetime(2024, 1, 2, 15, 30)], "(date)", "(datetime)"),  # ... a date
    ],
)
def test_mixed_types_arrow_would_coerce_are_refused(
    workspace: Workspace, values: list[object], first: str, other: str
) -> None:
    frame = pd.DataFrame({"mixed": pd.Series(values, dtype=object)})
    with pytest.raises(InvalidInput, match="Column 'mixed' mixes types") as caught:
        datasets.add(frame, "mixed", workspace=workspace)
    assert first in caught.value.message and other in caught.value.message
    assert_nothing_stored(workspace)


def test_ints_mixed_with_floats_are_numbers(workspace: Workspace) -> None:
    frame = pd.DataFrame({"x": pd.Series([1, 2.5, None], dtype=object)})
    snapshot = datasets.add(frame, "numbers", workspace=workspace)
    assert snapshot.columns[0].type == "float64"


def test_missing_file_is_not_found(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="No file at"):
        datasets.add(tmp_path / "nope.parquet", "x", workspace=workspace)


def test_truncated_parquet_is_refused(
    workspace: Workspace, tmp_path: Path, customers: pd.DataFrame
) -> None:
    good = tmp_path / "good.parquet"
    customers.to_parquet(good)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InvalidInput, match="truncated or corrupt"):
        datasets.add(truncated, "x", workspace=workspace)
    assert_nothing_stored(workspace)


def test_corrupt_parquet_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1" + b"\x00garbage" * 50 + b"PAR1")
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        datasets.add(corrupt, "x", workspace=workspace)
    assert_nothing_stored(workspace)


def test_ragged_csv_names_the_line(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n7,8\n9,10,11\n")
    with pytest.raises(InvalidInput, match=r"line 4: expected 3 fields like the header, found 2"):
        datasets.add(path, "x", workspace=workspace)
    assert_nothing_stored(workspace)


def test_header_only_csv_is_empty(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b\n")
    with pytest.raises(InvalidInput, match="no rows"):
        datasets.add(path, "x", workspace=workspace)
    assert_nothing_stored(workspace)


def test_unsupported_column_type_is_named(workspace: Workspace) -> None:
    table = pa.table({"tags": pa.array([["a"], ["b"]])})
    with pytest.raises(InvalidInput, match="Column 'tags' has type list"):
        datasets.add(table, "x", workspace=workspace)


def test_unknown_file_kind_and_bad_names(workspace: Workspace, tmp_path: Path) -> None:
    other = tmp_path / "data.json"
    other.write_text("{}")
    with pytest.raises(InvalidInput, match="neither Parquet nor CSV"):
        datasets.add(other, "x", workspace=workspace)
    with pytest.raises(InvalidInput, match="Dataset name 'a/b' is not valid"):
        datasets.add(pd.DataFrame({"a": [1]}), "a/b", workspace=workspace)
    with pytest.raises(InvalidInput, match="Cannot make a dataset from a dict"):
        datasets.add({"a": [1]}, "x", workspace=workspace)


def test_parquet_written_by_pyarrow_with_bad_column_is_named(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"u": pa.array([2**64 - 1], pa.uint64())}), path)
    with pytest.raises(InvalidInput, match="Column 'u' cannot be converted"):
        datasets.add(path, "x", workspace=workspace)
    assert_nothing_stored(workspace)
