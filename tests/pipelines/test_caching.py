"""Steps are cached by code, params, inputs and environment; lineage follows every output."""

from __future__ import annotations

import pytest

from shipyard.pipelines import CacheDisabledWarning, get_pipeline_run
from shipyard.store.lineage import downstream, upstream
from shipyard.tracking import get_run
from shipyard.workspace import Workspace

from .conftest import CHAIN, Writer, load


def statuses(result: object) -> dict[str, str]:
    return {name: rec.status for name, rec in result.steps.items()}  # type: ignore[attr-defined]


def test_a_pipeline_is_a_tracking_run_with_step_artifacts_and_lineage(
    workspace: Workspace, write_module: Writer
) -> None:
    chain = load(write_module("flow", CHAIN), "chain")
    result = chain.run({"n": "4"}, workspace=workspace)
    assert result.ok
    assert result.output == {"total": 12, "count": 4}
    run = get_run(result.run_id, workspace=workspace)
    assert run.status == "FINISHED"
    assert run.params == {"n": "4"}
    info = get_pipeline_run(result.run_id, workspace=workspace)
    assert sorted(s.name for s in info.steps) == ["count", "double", "load", "total"]
    double = info.step("double")
    load_step = info.step("load")
    assert double.output_sha256 and load_step.output_sha256
    assert workspace.artifacts.exists(double.output_sha256)
    # step run -> artifact -> consumer step run
    produced = downstream(workspace.store, ("step_run", load_step.id))
    assert [e.dst for e in produced] == [("artifact", load_step.output_sha256)]
    consumers = {
        e.dst[1] for e in downstream(workspace.store, ("artifact", load_step.output_sha256))
    }
    assert consumers == {double.id, info.step("count").id}
    assert ("run", result.run_id) in {
        e.src for e in upstream(workspace.store, ("step_run", double.id))
    }


def test_a_second_run_reuses_every_step_and_no_cache_reruns_them(
    workspace: Workspace, write_module: Writer
) -> None:
    chain = load(write_module("flow", CHAIN), "chain")
    first = chain.run({"n": 3}, workspace=workspace)
    second = chain.run({"n": 3}, workspace=workspace)
    assert set(statuses(second).values()) == {"cached"}
    assert second.output == first.output
    assert second.steps["total"].reused_from == first.steps["total"].id
    third = chain.run({"n": 3}, no_cache=True, workspace=workspace)
    assert set(statuses(third).values()) == {"succeeded"}
    other = chain.run({"n": 5}, workspace=workspace)
    assert set(statuses(other).values()) == {"succeeded"}


def test_editing_one_step_reruns_it_and_its_dependents_and_reverting_reuses(
    sqlite_workspace: Workspace, write_module: Writer
) -> None:
    path = write_module("flow", CHAIN)
    first = load(path, "chain").run({"n": 4}, workspace=sqlite_workspace)
    assert first.output == {"total": 12, "count": 4}
    path.write_text(CHAIN.replace("x * 2 for x in xs", "x * 3 for x in xs"))
    edited = load(path, "chain").run({"n": 4}, workspace=sqlite_workspace)
    assert statuses(edited) == {
        "load": "cached",
        "double": "succeeded",
        "total": "succeeded",
        "count": "cached",
    }
    assert edited.output == {"total": 18, "count": 4}
    path.write_text(CHAIN)
    reverted = load(path, "chain").run({"n": 4}, workspace=sqlite_workspace)
    assert set(statuses(reverted).values()) == {"cached"}
    assert reverted.steps["double"].reused_from == first.steps["double"].id
    assert reverted.output == first.output


def test_editing_a_local_module_a_step_imports_reruns_that_step(
    sqlite_workspace: Workspace, write_module: Writer
) -> None:
    write_module("helpers_mod", "def scale(x):\n    return x * 10\n")
    path = write_module(
        "flow2",
        """
        import sys, pathlib
        sys.path.insert(0, str(pathlib.Path(__file__).parent))
        import helpers_mod
        import shipyard as sy

        @sy.step
        def base() -> int:
            return 2

        @sy.step
        def scaled(x: int) -> int:
            return helpers_mod.scale(x)

        @sy.pipeline
        def flow():
            return scaled(base())
        """,
    )
    first = load(path, "flow").run(workspace=sqlite_workspace)
    assert first.output == 20
    import importlib
    import sys

    (path.parent / "helpers_mod.py").write_text("def scale(x):\n    return x * 100\n")
    importlib.reload(sys.modules["helpers_mod"])
    second = load(path, "flow").run(workspace=sqlite_workspace)
    assert statuses(second) == {"base": "cached", "scaled": "succeeded"}
    assert second.output == 200
    sys.modules.pop("helpers_mod")


def test_an_unhashable_argument_turns_caching_off_with_a_warning_naming_it(
    sqlite_workspace: Workspace, write_module: Writer
) -> None:
    path = write_module(
        "flow3",
        """
        import threading
        import shipyard as sy

        @sy.step
        def use(lock, n: int) -> int:
            return n + 1

        @sy.pipeline
        def flow(n: int = 1):
            return use(threading.Lock(), n)
        """,
    )
    flow = load(path, "flow")
    with pytest.warns(CacheDisabledWarning, match="argument 'lock'"):
        first = flow.run(workspace=sqlite_workspace)
    with pytest.warns(CacheDisabledWarning):
        second = flow.run(workspace=sqlite_workspace)
    assert first.steps["use"].cache_key is None
    assert second.steps["use"].status == "succeeded"
    assert second.output == 2


def test_a_step_with_cache_off_always_runs(
    sqlite_workspace: Workspace, write_module: Writer
) -> None:
    path = write_module(
        "flow4",
        """
        import shipyard as sy

        @sy.step(cache=False)
        def fresh(n: int) -> int:
            return n

        @sy.step
        def plus(n: int) -> int:
            return n + 1

        @sy.pipeline
        def flow():
            return plus(fresh(1))
        """,
    )
    flow = load(path, "flow")
    flow.run(workspace=sqlite_workspace)
    second = flow.run(workspace=sqlite_workspace)
    assert statuses(second) == {"fresh": "succeeded", "plus": "cached"}


def test_a_dataset_snapshot_argument_is_keyed_by_its_content(
    sqlite_workspace: Workspace, write_module: Writer
) -> None:
    import warnings

    import pandas as pd

    from shipyard.data import snapshots

    path = write_module(
        "flow5",
        """
        import shipyard as sy

        @sy.step
        def rows(data) -> int:
            return data.row_count

        @sy.pipeline
        def flow(data=None):
            return rows(data)
        """,
    )
    flow = load(path, "flow")
    first_snap = snapshots.add(pd.DataFrame({"a": [1, 2, 3]}), "d", workspace=sqlite_workspace)
    same_content = snapshots.add(pd.DataFrame({"a": [1, 2, 3]}), "e", workspace=sqlite_workspace)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheDisabledWarning)
        first = flow.run({"data": first_snap}, workspace=sqlite_workspace)
        again = flow.run({"data": same_content}, workspace=sqlite_workspace)
    assert first.steps["rows"].status == "succeeded" and first.steps["rows"].cache_key
    assert again.steps["rows"].status == "cached"
    step_id = first.steps["rows"].id
    assert ("snapshot", "d/v1") in {
        e.src for e in upstream(sqlite_workspace.store, ("step_run", step_id))
    }
    changed = snapshots.add(pd.DataFrame({"a": [1, 2]}), "d", workspace=sqlite_workspace)
    third = flow.run({"data": changed}, workspace=sqlite_workspace)
    assert third.steps["rows"].status == "succeeded" and third.output == 2
