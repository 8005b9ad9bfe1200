"""``shipyard pipeline run|show|resume`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shipyard.cli import app

from .conftest import CHAIN, CYCLIC, Writer

runner = CliRunner()


def invoke(home: Path, *args: str) -> object:
    return runner.invoke(app, ["--home", str(home), *args])


def test_run_show_and_resume_from_the_cli(tmp_path: Path, write_module: Writer) -> None:
    home = tmp_path / "home"
    path = write_module("flow", CHAIN.replace("return sum(xs)", "raise ValueError('bad')"))
    failed = invoke(home, "pipeline", "run", f"{path}:chain", "-p", "n=3", "--json")
    assert failed.exit_code == 1, failed.output  # type: ignore[attr-defined]
    data = json.loads(failed.output)  # type: ignore[attr-defined]
    assert data["status"] == "FAILED" and data["params"] == {"n": 3}
    path.write_text(CHAIN)
    resumed = invoke(home, "pipeline", "resume", data["run_id"][:8], "--json")
    assert resumed.exit_code == 0, resumed.output  # type: ignore[attr-defined]
    steps = {s["name"]: s["status"] for s in json.loads(resumed.output)["steps"]}  # type: ignore[attr-defined]
    assert steps["total"] == "succeeded" and steps["load"] == "cached"
    shown = invoke(home, "pipeline", "show", data["run_id"])
    assert shown.exit_code == 0
    assert "ValueError: bad" in shown.output  # type: ignore[attr-defined]


def test_cli_bad_inputs_exit_2_with_the_reason(tmp_path: Path, write_module: Writer) -> None:
    home = tmp_path / "home"
    path = write_module("flow", CHAIN)
    cyclic = write_module("cyclic", CYCLIC)
    cases = {
        ("pipeline", "run", f"{path}:nope"): "found there: chain",
        ("pipeline", "run", f"{path}:chain", "-p", "lr=1"): "no parameter 'lr'",
        ("pipeline", "run", f"{path}:chain", "-p", "n"): "NAME=VALUE",
        ("pipeline", "run", f"{path}:chain", "--executor", "spark"): "Unknown executor",
        ("pipeline", "run", "missing.py:chain"): "No pipeline file",
        (
            "pipeline",
            "run",
            f"{path}:chain",
            "-p",
            "n=four",
        ): "'n' of pipeline 'chain' must be an int",
        ("pipeline", "run", f"{cyclic}:flow"): "cyclic dependency: first -> second -> first",
        ("pipeline", "show", "abcdef12"): "No run",
    }
    for args, message in cases.items():
        result = invoke(home, *args)
        assert result.exit_code == 2, (args, result.output)  # type: ignore[attr-defined]
        assert message in " ".join(result.output.split()), (args, result.output)  # type: ignore[attr-defined]


def test_schedules_and_scheduler_from_the_cli(tmp_path: Path, write_module: Writer) -> None:
    home = tmp_path / "home"
    ref = f"{write_module('flow', CHAIN)}:chain"
    added = invoke(
        home,
        "schedules",
        "add",
        "nightly",
        "--cron",
        "0 3 * * 1",
        "--timezone",
        "Europe/Madrid",
        "--pipeline",
        ref,
        "-p",
        "n=2",
    )
    assert added.exit_code == 0, added.output  # type: ignore[attr-defined]
    listed = json.loads(invoke(home, "schedules", "list", "--json").output)  # type: ignore[attr-defined]
    assert [s["name"] for s in listed] == ["nightly"] and listed[0]["params"] == {"n": "2"}
    assert invoke(home, "schedules", "pause", "nightly").exit_code == 0
    assert json.loads(invoke(home, "schedules", "list", "--json").output)[0]["paused"]  # type: ignore[attr-defined]
    once = invoke(home, "scheduler", "--once")
    assert once.exit_code == 0 and "Started 0 run(s)" in once.output  # type: ignore[attr-defined]
    assert invoke(home, "schedules", "remove", "nightly").exit_code == 0
    bad = invoke(home, "schedules", "add", "x", "--cron", "nope", "--pipeline", ref)
    assert bad.exit_code == 2 and "Invalid cron" in bad.output  # type: ignore[attr-defined]


def test_notebook_without_parameters_cell_refuses_parameters(tmp_path: Path) -> None:
    import nbformat

    path = tmp_path / "nb.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("x = 1"))
    nbformat.write(notebook, str(path))
    result = invoke(tmp_path / "home", "notebook", "run", str(path), "-p", "C=0.5")
    assert result.exit_code == 2
    assert "no cell tagged 'parameters'" in result.output  # type: ignore[attr-defined]
