"""A notebook can be a pipeline step: typed parameters, nested run, cached by notebook content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import shipyard as sy
from shipyard.errors import InvalidInput
from shipyard.pipelines import Pipeline, get_pipeline_run
from shipyard.pipelines.executors import make_executor
from shipyard.pipelines.notebook import NotebookResult
from shipyard.tracking import get_run, list_artifacts, search_runs
from shipyard.workspace import Workspace

from .test_notebook import make_notebook

LOGS = "shipyard_run.log_metric('score', C * rows)"


def nightly(notebook: Path, **options: Any) -> Pipeline:
    train = sy.notebook_step(notebook, **options)

    @sy.step
    def count_rows(n: int) -> int:
        return n * 10

    @sy.step
    def summarize(result: NotebookResult) -> str:
        return result.run_id

    @sy.pipeline
    def flow(C: float = 0.5, n: int = 3) -> Any:
        return summarize(train(C=C, rows=count_rows(n)))

    return flow


def calling(step: Any, *args: Any, **kwargs: Any) -> Pipeline:
    """A pipeline whose one step call is ``step(*args, **kwargs)``."""

    @sy.pipeline
    def flow() -> Any:
        return step(*args, **kwargs)

    return flow


def notebook_runs(workspace: Workspace) -> list[Any]:
    return [r for r in search_runs(workspace=workspace) if "shipyard.notebook" in r.tags]


def test_a_notebook_step_runs_nested_in_the_pipeline_run_with_upstream_values(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    notebook = make_notebook(tmp_path / "train.ipynb", LOGS, parameters="C = 1.0\nrows = 0")
    result = nightly(notebook).run({"C": 0.5}, workspace=sqlite_workspace)
    assert result.ok, result.error
    inner = get_run(result.output, workspace=sqlite_workspace)
    assert inner.parent_run_id == result.run_id
    assert inner.status == "FINISHED"
    assert inner.params == {"C": "0.5", "rows": "30"}
    assert inner.metrics == {"score": 15.0}
    assert "notebook/train.ipynb" in list_artifacts(inner.id, workspace=sqlite_workspace)
    step = get_pipeline_run(result.run_id, workspace=sqlite_workspace).step("train")
    assert step.status == "succeeded" and step.function == f"notebook:{notebook.resolve()}"


def test_an_unchanged_notebook_is_reused_and_an_edited_one_runs_again(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    notebook = make_notebook(tmp_path / "train.ipynb", LOGS, parameters="C = 1.0\nrows = 0")
    original = notebook.read_bytes()
    first = nightly(notebook).run(workspace=sqlite_workspace)
    again = nightly(notebook).run(workspace=sqlite_workspace)
    assert again.steps["train"].status == "cached"
    assert again.output == first.output  # the earlier notebook run, not a new one
    assert len(notebook_runs(sqlite_workspace)) == 1

    make_notebook(notebook, LOGS.replace("rows", "rows + 1"), parameters="C = 1.0\nrows = 0")
    edited = nightly(notebook).run(workspace=sqlite_workspace)
    assert edited.steps["train"].status == "succeeded"
    assert edited.steps["count_rows"].status == "cached"
    assert len(notebook_runs(sqlite_workspace)) == 2

    notebook.write_bytes(original)
    reverted = nightly(notebook).run(workspace=sqlite_workspace)
    assert reverted.steps["train"].status == "cached"
    assert reverted.output == first.output


def test_a_literal_given_as_text_is_typed_before_it_reaches_the_cache_key(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    notebook = make_notebook(tmp_path / "nb.ipynb", "pass", parameters="C = 1.0")
    train = sy.notebook_step(notebook)
    first = calling(train, C="0.5").run(workspace=sqlite_workspace)
    assert first.ok, first.error
    assert first.output.params == {"C": 0.5}
    assert calling(train, C=0.5).run(workspace=sqlite_workspace).steps["nb"].status == "cached"


def test_a_failing_notebook_fails_the_step_after_its_retries_and_names_the_cell(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    notebook = make_notebook(
        tmp_path / "bad.ipynb", "raise ValueError('no rows')", parameters="C = 1.0\nrows = 0"
    )
    result = nightly(notebook, retries=1).run(workspace=sqlite_workspace)
    assert not result.ok
    step = get_pipeline_run(result.run_id, workspace=sqlite_workspace).step("bad")
    assert step.status == "failed" and step.attempts == 2
    assert "NotebookFailed" in (step.traceback or "")
    assert "Cell 2 failed: ValueError: no rows" in (step.traceback or "")
    failed = notebook_runs(sqlite_workspace)
    assert [r.status for r in failed] == ["FAILED", "FAILED"]
    assert {r.parent_run_id for r in failed} == {result.run_id}
    assert result.steps["summarize"].status == "upstream_failed"


def test_bad_notebook_step_arguments_are_refused_before_anything_runs(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    notebook = make_notebook(tmp_path / "nb.ipynb", "pass", parameters="C = 1.0")
    train = sy.notebook_step(notebook)
    with pytest.raises(InvalidInput, match="gamma"):
        calling(train, gamma=2).run(workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match=r"'C' of nb\.ipynb must be a float"):
        calling(train, C="high").run(workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match=r"by name \(C\), e\.g\. nb\(C=0\.5\)"):
        calling(train, 0.5).run(workspace=sqlite_workspace)
    with pytest.raises(sy.errors.NotFound, match="No notebook"):
        sy.notebook_step(tmp_path / "missing.ipynb")
    with pytest.raises(InvalidInput, match="timeout"):
        sy.notebook_step(notebook, timeout=0)
    with pytest.raises(InvalidInput, match="model_variable must be a Python variable name"):
        sy.notebook_step(notebook, register="churn", model_variable="my model")
    with pytest.raises(InvalidInput, match="register"):
        sy.notebook_step(notebook, register=" ")
    assert search_runs(workspace=sqlite_workspace) == []


def test_a_notebook_step_in_a_process_pool_logs_to_the_pipeline_store(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    notebook = make_notebook(tmp_path / "train.ipynb", LOGS, parameters="C = 1.0\nrows = 0")
    executor = make_executor("process", max_workers=1)
    try:
        result = nightly(notebook).run(executor=executor, workspace=sqlite_workspace)
    finally:
        executor.close()
    assert result.ok, result.error
    inner = get_run(result.output, workspace=sqlite_workspace)
    assert inner.parent_run_id == result.run_id and inner.metrics == {"score": 15.0}
