"""Executors: in-process (default), a process pool, Dask distributed."""

from __future__ import annotations

from typing import Any

from shipyard.errors import InvalidInput
from shipyard.pipelines.executors.base import Executor

EXECUTORS = ("inprocess", "process", "dask")


def make_executor(name: str = "inprocess", *, scheduler: str = "", **options: Any) -> Executor:
    """An executor by name: ``inprocess``, ``process`` or ``dask`` (with ``scheduler``)."""
    if name == "inprocess":
        from shipyard.pipelines.executors.inprocess import InProcessExecutor

        return InProcessExecutor()
    if name == "process":
        from shipyard.pipelines.executors.process import ProcessExecutor

        return ProcessExecutor(options.get("max_workers"))
    if name == "dask":
        from shipyard.pipelines.executors.dask import DaskExecutor

        return DaskExecutor(scheduler or "local", client=options.get("client"))
    raise InvalidInput(
        f"Unknown executor {name!r}; use one of {', '.join(EXECUTORS)}.", field="executor"
    )


__all__ = ["EXECUTORS", "Executor", "make_executor"]
