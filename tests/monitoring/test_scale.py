"""Large windows: one bounded pass over the prediction log, in-process and on a Dask cluster.

A window above ``chunk_rows`` predictions is counted, never materialized. These
tests force that path on a small log (``chunk_rows=500``) and check it against
the in-memory comparison of the same window, and the Dask path against the
in-process one. The 10M-row measurement is ``bench/monitoring/bench_scale.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from distributed import LocalCluster
from tests.monitoring.ops_support import (
    DEPLOYMENT,
    T0,
    Setup,
    deploy,
    drifted,
    frame,
    hours,
    log_predictions,
)

from shipyard.monitoring.window import WindowSummary, evaluate_window
from shipyard.workspace import Workspace

START, END = T0 + hours(12), T0 + hours(36)  # two date= partitions
EXACT_IN_BOTH = ("ks_statistic", "psi", "jensen_shannon", "chi2_statistic", "chi2_p_value")


def _traffic(setup: Setup) -> None:
    """Calm traffic on the first day, drifted on the second; rows the window must ignore."""
    log_predictions(setup, frame(600, seed=20), T0 + hours(20))
    log_predictions(setup, frame(500, seed=21), T0 + hours(23))
    log_predictions(setup, drifted(700, seed=50), T0 + hours(26))
    log_predictions(setup, frame(300, seed=22), T0 + hours(27), route="shadow")
    log_predictions(setup, frame(200, seed=23), T0 + hours(28), version="2", route="canary")
    log_predictions(setup, drifted(400, seed=51), T0 + hours(40))  # after the window
    log_predictions(setup, drifted(400, seed=52), T0 - hours(2))  # before it


@pytest.fixture
def traffic(sqlite_workspace: Workspace) -> Workspace:
    _traffic(deploy(sqlite_workspace))
    return sqlite_workspace


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


def _evaluate(workspace: Workspace, chunk_rows: int) -> WindowSummary:
    return evaluate_window(workspace, DEPLOYMENT, START, END, chunk_rows=chunk_rows)


def test_a_streamed_window_gives_the_in_memory_numbers(traffic: Workspace) -> None:
    in_memory = _evaluate(traffic, chunk_rows=100_000)
    streamed = _evaluate(traffic, chunk_rows=500)
    assert streamed.n_predictions == in_memory.n_predictions == 2000
    assert streamed.versions == {"1": 1800, "2": 200}
    pairs = [
        (in_memory.drift, streamed.drift),
        (in_memory.prediction_drift, streamed.prediction_drift),
    ]
    for exact, counted in pairs:
        assert exact is not None and counted is not None
        assert counted.n_current == exact.n_current
        assert counted.drifted == exact.drifted
        for a, b in zip(exact, counted, strict=True):
            assert (a.column, a.kind, a.n_current) == (b.column, b.kind, b.n_current)
            assert a.null_current == b.null_current
            assert a.new_categories == b.new_categories
            for name in EXACT_IN_BOTH:
                _close(getattr(a, name), getattr(b, name), 1e-12, f"{a.column}.{name}")
            if a.wasserstein is not None and b.wasserstein is not None:
                # Exact unless the CDFs cross between two of the (400) reference values:
                # then the counters give a slightly smaller area (docs/monitoring.md).
                assert 0.98 * a.wasserstein <= b.wasserstein <= a.wasserstein + 1e-12
    assert streamed.drift is not None and streamed.prediction_drift is not None
    assert set(streamed.drift.drifted) == {"x1", "plan"}
    assert streamed.prediction_drift.n_current == 1800  # version 1's rows only
    # Quality is exact over every row on both paths (no sample).
    assert streamed.quality is not None and in_memory.quality is not None
    assert streamed.quality.to_dict() == in_memory.quality.to_dict()
    assert streamed.quality["plan"].unseen_categories == ("enterprise",)


def test_a_dask_cluster_gives_the_in_process_result(
    traffic: Workspace, cluster: LocalCluster
) -> None:
    in_process = _evaluate(traffic, chunk_rows=500)
    on_dask = replace(traffic.settings, dask_scheduler=cluster.scheduler_address)
    with Workspace(on_dask) as distributed:
        spread = _evaluate(distributed, chunk_rows=500)
    _same(spread.to_dict(), in_process.to_dict(), "summary")
    # The counting ran on the workers: one task per log file of the two days (six; the
    # file of the day before is never read).
    prefix = cluster.scheduler.task_prefixes["scan_unit"]
    assert prefix.state_counts["memory"] == 6 and prefix.all_durations["compute"] > 0


def _close(a: float | None, b: float | None, tolerance: float, what: str) -> None:
    if a is None or b is None:
        assert a is b, what
        return
    assert math.isclose(a, b, rel_tol=tolerance, abs_tol=1e-12), (what, a, b)


def _same(found: Any, expected: Any, where: str) -> None:
    """Equal, with floats equal up to summation order (partial sums merge in any order)."""
    if isinstance(expected, float) and isinstance(found, float):
        assert math.isclose(found, expected, rel_tol=1e-9, abs_tol=1e-12), (where, found, expected)
    elif isinstance(expected, dict):
        assert isinstance(found, dict) and found.keys() == expected.keys(), where
        for key in expected:
            _same(found[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert len(found) == len(expected), where
        for i, (a, b) in enumerate(zip(found, expected, strict=True)):
            _same(a, b, f"{where}[{i}]")
    else:
        assert found == expected, (where, found, expected)
