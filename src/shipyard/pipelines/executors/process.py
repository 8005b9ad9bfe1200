"""A process pool: independent steps run in parallel worker processes.

Tasks travel as cloudpickle bytes, so steps defined in a file loaded by
path (``shipyard pipeline run train.py:train``) reach the workers by value.
Workers come from a ``forkserver``. A step with a timeout runs each attempt
in a child of the worker, killed when the time is up.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor

from shipyard.pipelines.attempt import Outcome, StepTask, execute_payload


class ProcessExecutor:
    name = "process"
    parallel = True

    def __init__(self, max_workers: int | None = None) -> None:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        self._pool = ProcessPoolExecutor(max_workers=max_workers, mp_context=context)

    def submit(self, task: StepTask) -> Future[Outcome]:
        import pickle

        import cloudpickle

        outcome: Future[Outcome] = Future()
        remote = self._pool.submit(execute_payload, cloudpickle.dumps(task))

        def done(finished: Future[bytes]) -> None:
            error = finished.exception()
            if error is not None:
                outcome.set_exception(error)
            else:
                outcome.set_result(pickle.loads(finished.result()))

        remote.add_done_callback(done)
        return outcome

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["ProcessExecutor"]
