"""The executor interface: run a step task somewhere, hand back a future outcome.

An executor only decides *where* a step runs. Attempts, retries and
timeouts live in ``attempt.execute``, which every executor calls, and the
runner does all caching and recording, so every executor has the same
caching, retry and lineage behaviour.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Protocol

from shipyard.pipelines.attempt import Outcome, StepTask


class Executor(Protocol):
    """Where steps run. ``parallel`` executors get every ready step at once."""

    name: str
    parallel: bool

    def submit(self, task: StepTask) -> Future[Outcome]: ...

    def close(self) -> None: ...


__all__ = ["Executor"]
