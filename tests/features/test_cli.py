"""``shipyard features …`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from tests.features.conftest import events, write
from typer.testing import CliRunner

from shipyard.cli import app
from shipyard.config import load_settings
from shipyard.features.online import open_online_store
from shipyard.workspace import Workspace

runner = CliRunner()

DEFINITIONS = """
from datetime import timedelta
import shipyard as sy

customer = sy.Entity("customer", join_keys=["customer_id"])
spend = sy.FeatureView(
    "spend", entity=customer, source={source!r}, created_timestamp="created",
    features={{"amount": "float64", "count": "int64"}}, lookback=timedelta(days=2),
)
"""


def _setup(tmp_path: Path) -> tuple[list[str], Path]:
    source = write(events(), tmp_path / "data" / "e.parquet")
    path = tmp_path / "features.py"
    path.write_text(DEFINITIONS.format(source=source), encoding="utf-8")
    return ["--home", str(tmp_path / "home")], path


def test_apply_list_show(tmp_path: Path) -> None:
    home, path = _setup(tmp_path)
    shown = runner.invoke(app, [*home, "features", "apply", str(path)], input="n\n")
    assert shown.exit_code == 0 and "+ add" in shown.output and "Applied" not in shown.output
    done = runner.invoke(app, [*home, "features", "apply", str(path), "--yes"])
    assert done.exit_code == 0, done.output
    assert "feature_view:spend v1" in done.output
    again = runner.invoke(app, [*home, "features", "apply", str(path), "--yes"])
    assert "No changes" in again.output
    listed = runner.invoke(app, [*home, "features", "list", "--json"])
    assert json.loads(listed.output)["feature_views"][0]["name"] == "spend"
    shown = runner.invoke(app, [*home, "features", "show", "spend", "--json"])
    assert json.loads(shown.output)["versions"][0]["version"] == 1
    missing = runner.invoke(app, [*home, "features", "show", "nope"])
    assert missing.exit_code == 2 and "No feature view 'nope'" in missing.output


def test_materialize_and_skew(tmp_path: Path) -> None:
    home, path = _setup(tmp_path)
    runner.invoke(app, [*home, "features", "apply", str(path), "--yes"])
    done = runner.invoke(
        app, [*home, "features", "materialize", "spend", "--end", "2024-02-01", "--json"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["rows"] == 20
    clean = runner.invoke(app, [*home, "features", "skew", "spend", "--sample", "50"])
    assert clean.exit_code == 0, clean.output
    assert "passed" in clean.output

    # Serving computed "differently": overwrite one entity with a newer, wrong value.
    settings = load_settings({"home": str(tmp_path / "home")}, cwd=tmp_path, environ={})
    store = open_online_store(settings.online_store)
    store.write(
        [("spend:3", pd.Timestamp("2024-01-20", tz="UTC").value, '{"amount": 1e6, "count": 1}')]
    )
    store.close()
    skewed = runner.invoke(
        app, [*home, "features", "skew", "spend", "--sample", "50", "--threshold", "0", "--json"]
    )
    assert skewed.exit_code == 1
    report = json.loads(skewed.output)
    assert report["features"]["amount"]["mismatches"] == 1
    assert report["features"]["amount"]["examples"][0]["key"] == {"customer_id": 3}


def test_incremental_and_bad_input(tmp_path: Path) -> None:
    home, path = _setup(tmp_path)
    runner.invoke(app, [*home, "features", "apply", str(path), "--yes"])
    first = runner.invoke(
        app, [*home, "features", "materialize-incremental", "spend", "--end", "2024-01-02"]
    )
    assert first.exit_code == 0, first.output
    bad = runner.invoke(app, [*home, "features", "materialize", "spend", "--start", "yesterday"])
    assert bad.exit_code == 2 and "start" in bad.output
    none = runner.invoke(app, [*home, "features", "apply", str(tmp_path / "absent.py")])
    assert none.exit_code == 2
    with Workspace(
        settings=load_settings({"home": str(tmp_path / "home")}, cwd=tmp_path, environ={})
    ) as ws:
        assert ws.settings.online_store.startswith("sqlite:///")
