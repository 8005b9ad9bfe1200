"""Notebooks run headless as one run: typed parameters, timeout, dead kernels, stored output."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from shipyard.errors import InvalidInput
from shipyard.pipelines.notebook import run_notebook
from shipyard.tracking import get_run, list_artifacts, metric_history
from shipyard.workspace import Workspace


def make_notebook(path: Path, *cells: str, parameters: str | None = "C = 1.0\nname = 'x'") -> Path:
    notebook = nbformat.v4.new_notebook()
    if parameters is not None:
        notebook.cells.append(
            nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})
        )
    notebook.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(notebook, str(path))
    return path


def test_a_notebook_logs_into_its_run_with_typed_parameters(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    path = make_notebook(
        tmp_path / "train.ipynb",
        "shipyard_run.log_metric('double_c', C * 2)\nshipyard_run.log_param('seen', name)",
    )
    result = run_notebook(path, {"C": "0.5", "name": "churn"}, workspace=sqlite_workspace)
    assert result.ok, result.error
    assert result.params == {"C": 0.5, "name": "churn"}
    run = get_run(result.run_id, workspace=sqlite_workspace)
    assert run.params == {"C": "0.5", "name": "churn", "seen": "churn"}
    assert [
        p.value for p in metric_history(result.run_id, "double_c", workspace=sqlite_workspace)
    ] == [1.0]
    stored = list_artifacts(result.run_id, workspace=sqlite_workspace)
    assert stored["notebook/train.ipynb"][0] == result.notebook_sha256


def test_a_failing_notebook_is_stored_and_names_the_cell(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    path = make_notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('no data')")
    result = run_notebook(path, workspace=sqlite_workspace)
    assert result.status == "FAILED"
    # cells: parameters(0), injected(1), x = 1 (2), raise (3)
    assert result.failed_cell == 3
    assert "Cell 3 failed: ValueError: no data" in (result.error or "")
    executed = nbformat.reads(
        sqlite_workspace.artifacts.get_bytes(result.notebook_sha256).decode(), as_version=4
    )
    assert executed.cells[3].outputs[0]["ename"] == "ValueError"
    assert get_run(result.run_id, workspace=sqlite_workspace).status == "FAILED"


def test_a_dead_kernel_and_a_timeout_end_the_run_without_hanging(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    dies = make_notebook(tmp_path / "dies.ipynb", "import os\nos._exit(1)")
    died = run_notebook(dies, workspace=sqlite_workspace, timeout=60)
    assert died.status == "FAILED" and "kernel died" in (died.error or "")
    slow = make_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    late = run_notebook(slow, workspace=sqlite_workspace, timeout=8)
    assert late.status == "FAILED" and "timeout of 8 s" in (late.error or "")
    assert late.failed_cell == 2


def test_bad_notebook_parameters_are_errors_and_start_no_run(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    from shipyard.tracking import search_runs

    path = make_notebook(tmp_path / "nb.ipynb", "pass")
    with pytest.raises(
        InvalidInput, match=r"no parameter 'gamma'; its parameters cell declares: C, name"
    ):
        run_notebook(path, {"gamma": 1}, workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match=r"'C' of nb\.ipynb must be a float"):
        run_notebook(path, {"C": "high"}, workspace=sqlite_workspace)
    bare = make_notebook(tmp_path / "bare.ipynb", "pass", parameters=None)
    with pytest.raises(InvalidInput, match="no cell tagged 'parameters'"):
        run_notebook(bare, {"C": 1}, workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match="model_variable must be a Python variable name"):
        run_notebook(path, register="churn", model_variable="1x", workspace=sqlite_workspace)
    assert search_runs(workspace=sqlite_workspace) == []
