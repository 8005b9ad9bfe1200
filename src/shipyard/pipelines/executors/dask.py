"""Dask distributed: steps run on the workers of a Dask cluster.

``DaskExecutor("tcp://HOST:8786")`` connects to a running scheduler;
``DaskExecutor("local")`` starts a ``LocalCluster`` for the run and closes it
afterwards; ``DaskExecutor(client=...)`` reuses a client you own. Tasks
travel as cloudpickle bytes, outcomes come back the same way, and the
runner records everything, so caching, retries and lineage match the other
executors. A step with a timeout runs each attempt in a child process of
the worker, killed when the time is up (Dask itself cannot stop a running
task).
"""

from __future__ import annotations

import pickle
from concurrent.futures import Future
from typing import Any

from shipyard.errors import BackendUnavailable
from shipyard.pipelines.attempt import Outcome, StepTask, execute_payload


class DaskExecutor:
    name = "dask"
    parallel = True

    def __init__(self, scheduler: str = "local", *, client: Any = None) -> None:
        from distributed import Client, LocalCluster

        self._cluster: Any = None
        self._owns_client = client is None
        if client is not None:
            self.client = client
            return
        try:
            if scheduler in ("", "local"):
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
                )
                self.client = Client(self._cluster)  # type: ignore[no-untyped-call]
            else:
                self.client = Client(scheduler, timeout=10)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise BackendUnavailable(
                f"Cannot reach the Dask scheduler at {scheduler!r}: {exc}. Start it "
                "(`dask scheduler`) or use --scheduler local.",
                url=scheduler,
            ) from exc

    def submit(self, task: StepTask) -> Future[Outcome]:
        import cloudpickle

        outcome: Future[Outcome] = Future()
        remote = self.client.submit(
            execute_payload, cloudpickle.dumps(task), pure=False, key=f"step-{task.name}-{id(task)}"
        )

        def done(finished: Any) -> None:
            try:
                outcome.set_result(pickle.loads(finished.result()))
            except Exception as exc:  # the worker or the connection failed, not the step
                outcome.set_exception(exc)

        remote.add_done_callback(done)
        return outcome

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()


__all__ = ["DaskExecutor"]
