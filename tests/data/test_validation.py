"""Validation reports every failing check; strict mode raises with the report attached."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from shipyard import data as datasets
from shipyard.data import Column, Schema
from shipyard.errors import ConfigError, InvalidInput, NotFound, ValidationFailed
from shipyard.workspace import Workspace

SCHEMA = Schema(
    (
        Column("id", type="int64", nullable=False, unique=True),
        Column("age", type="float64", min=18, max=99),
        Column("plan", type="string", categories=("free", "pro")),
        Column("country", type="string"),
    )
)


def bad_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 2, None, 5],
            "age": [17.0, 30.0, 120.0, 45.0, None],
            "plan": ["free", "gold", "pro", "gold", None],
            "extra": [1, 2, 3, 4, 5],
        }
    )


def test_every_failure_is_reported_with_counts_and_examples() -> None:
    report = datasets.validate(bad_frame(), SCHEMA)
    found = {(f.column, f.check): f for f in report.failures}
    assert set(found) == {
        ("id", "type"),  # a null turned the ints into floats
        ("age", "range"),
        ("plan", "category"),
        ("country", "required"),
        ("extra", "extra_column"),
    }
    assert found["age", "range"].failing_rows == 2
    assert found["age", "range"].examples == (17.0, 120.0)
    assert found["plan", "category"].failing_rows == 2
    assert found["plan", "category"].examples == ("gold",)
    assert not report.ok and report.rows == 5


def test_null_and_unique_checks_give_row_numbers_and_values() -> None:
    frame = pd.DataFrame({"id": pd.array([1, 2, 2, None, 5, 5, 5], dtype="Int64")})
    report = datasets.validate(
        frame, Schema((Column("id", type="int64", nullable=False, unique=True),))
    )
    found = {f.check: f for f in report.failures}
    assert found["null"].failing_rows == 1 and found["null"].examples == (3,)
    assert found["unique"].failing_rows == 5
    assert set(found["unique"].examples) == {2, 5}


def test_strict_raises_validation_failed_carrying_the_report() -> None:
    with pytest.raises(ValidationFailed) as caught:
        datasets.validate(bad_frame(), SCHEMA, strict=True)
    report = caught.value.report
    assert isinstance(report, datasets.ValidationReport) and len(report.failures) == 5
    assert "age: range (2 rows)" in caught.value.message


def test_a_frame_without_rows_can_be_validated(tmp_path: Path) -> None:
    # Only a snapshot needs rows: an empty batch is still checked for its columns.
    empty = pd.DataFrame(
        {"id": pd.Series([], dtype="int64"), "age": pd.Series([], dtype="float64")}
    )
    report = datasets.validate(empty, SCHEMA)
    assert report.rows == 0
    assert {(f.column, f.check) for f in report.failures} == {
        ("plan", "required"),
        ("country", "required"),
    }
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,age,plan,country\n")
    assert datasets.validate(header_only, SCHEMA).ok
    with pytest.raises(InvalidInput, match="no columns"):
        datasets.validate(pd.DataFrame(), SCHEMA)


def test_passing_frame_and_readable_table() -> None:
    good = pd.DataFrame(
        {"id": [1, 2], "age": [20.0, 30.0], "plan": ["pro", None], "country": ["x", "y"]}
    )
    assert datasets.validate(good, SCHEMA, strict=True).ok
    console = Console(width=200, record=True)
    console.print(datasets.validate(bad_frame(), SCHEMA).to_table())
    text = console.export_text()
    assert "Validation failed: 5 check(s)" in text and "'gold'" in text


def test_schema_files_in_toml_and_json_and_errors(tmp_path: Path) -> None:
    toml = tmp_path / "schema.toml"
    toml.write_text(SCHEMA.to_toml())
    assert Schema.load(toml) == SCHEMA
    as_json = tmp_path / "schema.json"
    as_json.write_text(json.dumps(SCHEMA.to_dict()))
    assert Schema.load(as_json) == SCHEMA

    bad = tmp_path / "bad.toml"
    bad.write_text('[columns.age]\ntype = "integer"\n')
    with pytest.raises(ConfigError, match="type 'integer' is not one of"):
        Schema.load(bad)
    bad.write_text("[columns.age]\nmaximum = 3\n")
    with pytest.raises(ConfigError, match=r"unknown rule\(s\) \['maximum'\]"):
        Schema.load(bad)
    bad.write_text("columns = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Schema.load(bad)
    with pytest.raises(NotFound):
        Schema.load(tmp_path / "missing.toml")
    with pytest.raises(InvalidInput, match="min 5 is above max 1"):
        Column("x", min=5, max=1)


def test_schema_declared_in_shipyard_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shipyard.toml").write_text(
        '[datasets.schemas.customers]\n[datasets.schemas.customers.columns.id]\ntype = "int64"\n'
    )
    monkeypatch.chdir(tmp_path)
    schema = Schema.from_config("customers")
    assert schema == Schema((Column("id", type="int64"),))
    with pytest.raises(NotFound, match="No schema 'other'"):
        Schema.from_config("other")


def test_inferred_schema_accepts_its_own_data_and_catches_new_values(
    customers: pd.DataFrame,
) -> None:
    schema = datasets.infer_schema(customers)
    assert schema["plan"].categories == ("free", "pro")
    assert (schema["age"].min, schema["age"].max, schema["age"].nullable) == (23.0, 51.5, True)
    assert schema["id"].nullable is False and schema["id"].categories is None
    assert datasets.validate(customers, schema).ok
    changed = customers.assign(plan=["free", "gold", None, "free", "free", "pro"])
    assert [f.check for f in datasets.validate(changed, schema).failures] == ["category"]


def test_distribution_checks_against_a_reference_snapshot(
    workspace: Workspace, customers: pd.DataFrame
) -> None:
    reference = datasets.add(customers, "customers", workspace=workspace)
    schema = Schema((), allow_extra_columns=True, reference=reference.ref)
    assert datasets.validate(customers, schema, workspace=workspace).ok
    drifted = customers.assign(
        age=[None, None, None, 23.0, 45.0, 90.0],
        plan=["free", "pro", "team", "free", "free", "pro"],
    )
    report = datasets.validate(drifted, schema, workspace=workspace)
    checks = {(f.column, f.check) for f in report.failures}
    assert checks == {
        ("age", "null_share"),
        ("age", "out_of_reference_range"),
        ("plan", "unseen_category"),
    }
