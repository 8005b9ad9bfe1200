"""``shipyard datasets …`` through the real CLI app, with its exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from shipyard.cli import app

runner = CliRunner()


def invoke(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "datasets", *args])
    # Rich wraps long messages at the terminal width: compare them unwrapped.
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_add_list_show_diff(tmp_path: Path, customers: pd.DataFrame) -> None:
    path = tmp_path / "customers.parquet"
    customers.to_parquet(path)
    code, out, _ = invoke(tmp_path, "add", str(path), "--name", "customers")
    assert code == 0 and "added customers/v1" in out
    code, out, _ = invoke(tmp_path, "add", str(path), "--name", "customers")
    assert code == 0 and "unchanged: same content as customers/v1" in out
    smaller = tmp_path / "smaller.csv"
    customers.iloc[:3].to_csv(smaller, index=False)
    code, out, _ = invoke(tmp_path, "add", str(smaller), "--name", "customers", "--json")
    assert code == 0 and json.loads(out)["ref"] == "customers/v2" and json.loads(out)["new"]

    code, out, _ = invoke(tmp_path, "list", "--json")
    assert code == 0 and [s["ref"] for s in json.loads(out)] == ["customers/v2"]
    code, out, _ = invoke(tmp_path, "list", "customers")
    assert code == 0 and "customers/v1" in out and "customers/v2" in out

    code, out, _ = invoke(tmp_path, "show", "customers/1", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["row_count"] == 6 and shown["profile"]["rows"] == 6
    code, out, _ = invoke(tmp_path, "show", "customers")
    assert code == 0 and "Numeric columns" in out and "free=" in out

    code, out, _ = invoke(tmp_path, "diff", "customers/v1", "v2", "--json")
    assert code == 0 and json.loads(out)["rows_b"] == 3
    code, out, _ = invoke(tmp_path, "diff", "customers")
    assert code == 0 and "rows 6 → 3" in out


def test_validate_exit_codes(tmp_path: Path, customers: pd.DataFrame) -> None:
    schema = tmp_path / "schema.toml"
    schema.write_text('[columns.age]\ntype = "float64"\nmin = 30\n\n[columns.id]\ntype = "int64"\n')
    data = tmp_path / "c.csv"
    customers[["id", "age"]].to_csv(data, index=False)
    code, out, err = invoke(tmp_path, "validate", str(data), "--schema", str(schema), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["failures"][0]["check"] == "range" and report["failures"][0]["failing_rows"] == 2
    assert "age: range (2 rows)" in err
    good = tmp_path / "good.csv"
    customers[["id", "age"]].dropna().query("age >= 30").to_csv(good, index=False)
    code, out, _ = invoke(tmp_path, "validate", str(good), "--schema", str(schema))
    assert code == 0 and "Validation passed" in out


def test_bad_input_exits_2_with_a_message(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    code, _, err = invoke(tmp_path, "add", str(ragged), "--name", "x")
    assert code == 2 and "line 3" in err
    code, _, err = invoke(tmp_path, "add", str(tmp_path / "missing.csv"), "--name", "x")
    assert code == 2 and "No file at" in err
    code, _, err = invoke(tmp_path, "show", "nope")
    assert code == 2 and "No dataset named 'nope'" in err
    code, out, _ = invoke(tmp_path, "list", "--json")
    assert code == 0 and json.loads(out) == []
