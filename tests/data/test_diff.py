"""Diff: schema changes, row counts and statistic changes between two snapshots."""

from __future__ import annotations

import pandas as pd
import pytest

from shipyard import data as datasets
from shipyard.errors import InvalidInput
from shipyard.workspace import Workspace


def test_diff_reports_schema_rows_and_statistics(
    sqlite_workspace: Workspace, customers: pd.DataFrame
) -> None:
    datasets.add(customers, "customers", workspace=sqlite_workspace)
    changed = customers.drop(columns=["active"]).assign(
        id=customers["id"].astype("float64"), score=1.0, plan=["free", "team"] * 3
    )
    datasets.add(changed.iloc[:5], "customers", workspace=sqlite_workspace)

    result = datasets.diff("customers", workspace=sqlite_workspace)
    assert (result.a, result.b, result.rows_a, result.rows_b) == (
        "customers/v1",
        "customers/v2",
        6,
        5,
    )
    assert not result.same_content
    changes = {(c.column, c.change, c.a, c.b) for c in result.schema_changes}
    assert changes == {
        ("active", "removed", "bool", None),
        ("score", "added", None, "float64"),
        ("id", "type", "int64", "float64"),
    }
    stats = {(c.column, c.stat): c for c in result.stat_changes}
    assert stats["age", "count"].delta == -1
    assert stats["plan", "new_top_values"].b == ["team"]
    assert stats["plan", "dropped_top_values"].a == ["pro"]
    assert stats["id", "max"].delta == -1.0  # int64 -> float64 columns still compare
    assert ("signup", "mean") not in stats or stats["signup", "count"].delta == -1

    same = datasets.diff("customers/v1", "1", workspace=sqlite_workspace)
    assert same.same_content and same.stat_changes == () and same.schema_changes == ()
    assert datasets.diff("customers/v1", workspace=sqlite_workspace).b == "customers/v2"


def test_diff_of_a_single_version_says_what_to_do(
    sqlite_workspace: Workspace, customers: pd.DataFrame
) -> None:
    datasets.add(customers, "customers", workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match="has only v1"):
        datasets.diff("customers", workspace=sqlite_workspace)
