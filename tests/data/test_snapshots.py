"""Snapshots: versions, de-duplication, references, loading, lineage (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import shipyard as sy
from shipyard import data as datasets
from shipyard.errors import IntegrityError, InvalidInput, NotFound
from shipyard.store.lineage import downstream, upstream
from shipyard.tracking import start_run
from shipyard.workspace import Workspace


def test_add_get_list_and_load_round_trip(workspace: Workspace, customers: pd.DataFrame) -> None:
    first = datasets.add(customers, "customers", workspace=workspace)
    assert (first.ref, first.row_count, first.source) == ("customers/v1", 6, "dataframe")
    assert [c.name for c in first.columns] == list(customers.columns)
    assert first.byte_size > 0 and len(first.content_hash) == 64

    second = datasets.add(customers.iloc[:4], "customers", workspace=workspace)
    assert second.version == 2
    for ref in ("customers", "customers/v2", "customers/2"):
        assert datasets.get(ref, workspace=workspace) == second
    assert datasets.get("customers/v1", workspace=workspace) == first
    assert [s.version for s in datasets.list("customers", workspace=workspace)] == [1, 2]
    assert [s.ref for s in datasets.list(workspace=workspace)] == ["customers/v2"]

    loaded = datasets.load("customers/v1", workspace=workspace)
    assert list(loaded.columns) == list(customers.columns)
    assert loaded["id"].tolist() == customers["id"].tolist()
    assert loaded["plan"].isna().tolist() == customers["plan"].isna().tolist()
    assert str(loaded["signup"].dtype) == "datetime64[us, UTC]"
    assert datasets.load_arrow("customers", columns=["id"], workspace=workspace).num_rows == 4


def test_identical_content_returns_the_existing_version(
    workspace: Workspace, customers: pd.DataFrame, tmp_path: Path
) -> None:
    first = datasets.add(customers, "customers", workspace=workspace)
    path = tmp_path / "customers.csv"
    customers.to_csv(path, index=False)
    again = datasets.add(path, "customers", workspace=workspace)
    assert again == first
    assert len(datasets.list("customers", workspace=workspace)) == 1
    # The same content under another name is that dataset's own v1.
    other = datasets.add(customers, "other", workspace=workspace)
    assert other.ref == "other/v1" and other.content_hash == first.content_hash


def test_missing_names_and_versions_say_what_exists(
    workspace: Workspace, customers: pd.DataFrame
) -> None:
    with pytest.raises(NotFound, match="No dataset named 'nope'"):
        datasets.get("nope", workspace=workspace)
    datasets.add(customers, "customers", workspace=workspace)
    with pytest.raises(NotFound, match=r"has no version 7 \(latest is v1\)"):
        datasets.get("customers/v7", workspace=workspace)
    with pytest.raises(InvalidInput, match="NAME, NAME/v3 or NAME/3"):
        datasets.get("customers/vx", workspace=workspace)


def test_log_dataset_makes_the_snapshot_an_input_of_the_run(
    workspace: Workspace, customers: pd.DataFrame
) -> None:
    with start_run("churn", workspace=workspace) as run:
        snapshot = run.log_dataset(customers, name="customers")
    assert snapshot.run_id == run.id
    assert snapshot.node == ("snapshot", "customers/v1")
    edges = upstream(workspace.store, ("run", run.id))
    assert any(e.src == snapshot.node and e.relation == "input" for e in edges)

    with start_run("churn", workspace=workspace) as later:
        same = later.log_dataset(customers, name="customers")
    assert same.ref == "customers/v1" and same.run_id == run.id  # creator stays the first run
    fed = {e.dst for e in downstream(workspace.store, snapshot.node)}
    assert fed == {("run", run.id), ("run", later.id)}


def test_profile_is_stored_with_the_snapshot(workspace: Workspace, customers: pd.DataFrame) -> None:
    snapshot = datasets.add(customers, "customers", workspace=workspace)
    age = snapshot.profile["age"]
    assert isinstance(age, datasets.NumericProfile)
    assert (age.count, age.nulls, age.min, age.max) == (5, 1, 23.0, 51.5)
    plan = snapshot.profile["plan"]
    assert isinstance(plan, datasets.CategoricalProfile)
    assert plan.top == (("free", 3), ("pro", 2))


def test_a_modified_blob_refuses_to_load(
    sqlite_workspace: Workspace, customers: pd.DataFrame
) -> None:
    snapshot = datasets.add(customers, "customers", workspace=sqlite_workspace)
    path = sqlite_workspace.artifacts.local_path(snapshot.blob_sha256)
    assert path is not None
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(IntegrityError):
        datasets.load(snapshot.ref, workspace=sqlite_workspace)


def test_sy_datasets_is_the_data_api() -> None:
    assert sy.datasets.add is datasets.add
    assert "datasets" in sy.__all__
