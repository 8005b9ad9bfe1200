"""Every executor gives the same caching, retry, timeout and lineage behaviour."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shipyard.pipelines import get_pipeline_run
from shipyard.pipelines.executors import make_executor
from shipyard.store.lineage import downstream
from shipyard.workspace import Workspace

from .conftest import Writer, load

FANOUT = """
import pathlib
import time
import shipyard as sy

COUNTER = pathlib.Path(__file__).with_name("attempts.txt")

@sy.step
def source(n: int) -> list[int]:
    return list(range(n))

@sy.step
def square(xs: list[int], k: int) -> int:
    return sum(x * x for x in xs) + k

@sy.step(retries=2)
def flaky(parts: list) -> int:
    seen = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(seen + 1))
    if seen < 2:
        raise RuntimeError("not yet")
    return sum(parts)

@sy.step(timeout=0.5)
def stuck(x: int) -> int:
    time.sleep(30)
    return x

@sy.pipeline
def fanout(n: int = 4):
    xs = source(n)
    return flaky([square(xs, k) for k in range(3)])

@sy.pipeline
def hangs():
    return stuck(1)
"""


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(params=["inprocess", "process", "dask"])
def executor(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "dask":
        made = make_executor("dask", client=request.getfixturevalue("dask_client"))
    else:
        made = make_executor(request.param, max_workers=2)
    yield made
    made.close()


def test_executor_runs_retries_caches_and_records_lineage(
    executor: Any, sqlite_workspace: Workspace, write_module: Writer
) -> None:
    flow = load(write_module("fan", FANOUT), "fanout")
    first = flow.run({"n": 4}, executor=executor, workspace=sqlite_workspace)
    assert first.ok, first.error
    assert first.output == 3 * 14 + 0 + 1 + 2
    info = get_pipeline_run(first.run_id, workspace=sqlite_workspace)
    assert info.executor == executor.name
    assert info.step("flaky").attempts == 3
    square = info.step("square-2")
    assert [e.dst[0] for e in downstream(sqlite_workspace.store, ("step_run", square.id))] == [
        "artifact"
    ]
    again = flow.run({"n": 4}, executor=executor, workspace=sqlite_workspace)
    assert {r.status for r in again.steps.values()} == {"cached"}


def test_executor_kills_a_step_over_its_timeout(
    executor: Any, sqlite_workspace: Workspace, write_module: Writer
) -> None:
    result = load(write_module("fan", FANOUT), "hangs").run(
        executor=executor, workspace=sqlite_workspace
    )
    assert result.status == "FAILED"
    assert result.steps["stuck"].status == "timed_out"


PAIRS = """
import shipyard as sy

@sy.step
def pair(n: int) -> tuple[list[int], int]:
    return list(range(n)), n

@sy.step(timeout=30)
def pair_in_child(n: int) -> tuple[list[int], int]:
    return list(range(n)), n

@sy.step
def use(a: tuple, b: tuple) -> int:
    return sum(a[0]) + a[1] + sum(b[0]) + b[1]

@sy.pipeline
def pairs(n: int = 3):
    return use(pair(n), pair_in_child(n))
"""


def test_a_step_may_return_a_tuple(
    executor: Any, sqlite_workspace: Workspace, write_module: Writer
) -> None:
    flow = load(write_module("pairs", PAIRS), "pairs")
    result = flow.run({"n": 3}, executor=executor, workspace=sqlite_workspace)
    assert result.ok, result.error
    assert result.output == 2 * (3 + 3)
