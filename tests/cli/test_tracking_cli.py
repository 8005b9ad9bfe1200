"""The CLI over tracking: init, config show, experiments, runs — tables, JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import shipyard as sy
from shipyard.cli import app
from shipyard.config import load_settings
from shipyard.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def two_runs(home: Path) -> list[str]:
    workspace = Workspace(load_settings({"home": str(home)}, environ={}))
    ids = []
    for c, auc in ((0.1, 0.8), (1.0, 0.9)):
        with sy.start_run("churn", workspace=workspace) as run:
            run.log_params({"C": c, "model": "lr"})
            run.log_metric("auc", auc)
        ids.append(run.id)
    workspace.close()
    return ids


def cli(home: Path, *args: str) -> object:
    return runner.invoke(app, ["--home", str(home), *args])


def test_init_creates_config_and_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPYARD_HOME")
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "shipyard.toml").exists()
    assert (tmp_path / ".shipyard" / "shipyard.db").exists()


def test_config_show_says_where_each_value_came_from(home: Path) -> None:
    result = cli(home, "config", "show", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["home"]["source"] == "flag"
    assert rows["db_url"]["source"] == "default"
    assert rows["db_url"]["value"].endswith("shipyard.db")


def test_experiments_and_runs_lists(home: Path, two_runs: list[str]) -> None:
    result = cli(home, "experiments", "list", "--json")
    assert json.loads(result.output)[0]["run_count"] == 2
    result = cli(home, "runs", "list", "-e", "churn", "-f", "metrics.auc > 0.85", "--json")
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.output)] == [two_runs[1]]
    table = cli(home, "runs", "list")
    assert table.exit_code == 0 and "churn" in table.output and "auc" in table.output


def test_runs_show_and_compare(home: Path, two_runs: list[str]) -> None:
    shown = cli(home, "runs", "show", two_runs[0][:6], "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["params"] == {"C": "0.1", "model": "lr"}
    assert data["status"] == "FINISHED"
    compared = cli(home, "runs", "compare", *two_runs)
    assert compared.exit_code == 0, compared.output
    assert "* params.C" in compared.output
    assert "  params.model" in compared.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "show", "0123456789abcdef"], "No run with id"),
        (["runs", "list", "-e", "nope"], "No experiment named 'nope'"),
        (["runs", "list", "-f", "metrics.auc >"], "Invalid filter at position"),
        (["runs", "compare", "abcd"], "at least two run ids"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    home: Path, two_runs: list[str], args: list[str], message: str
) -> None:
    result = cli(home, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_unreachable_database_exits_1(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/x?connect_timeout=2"
    result = runner.invoke(app, ["--db-url", url, "runs", "list"])
    assert result.exit_code == 1
    assert "Cannot open the metadata store" in result.output


def test_broken_config_file_exits_2_naming_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shipyard.toml").write_text("[shipyard\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert "line 1" in result.output


def test_error_messages_keep_their_brackets(home: Path) -> None:
    # Rich would read "[bold]" as markup and drop it from the message.
    result = cli(home, "runs", "show", "[bold]x")
    assert result.exit_code == 2
    assert "[bold]x" in result.output
