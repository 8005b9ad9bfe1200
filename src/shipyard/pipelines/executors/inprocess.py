"""The default executor: steps run one after another in the calling thread.

Outputs stay in memory for the steps that consume them (they are also
stored as artifacts). A step with a timeout runs each attempt in a child
process that is killed when the time is up (see ``attempt``).
"""

from __future__ import annotations

from concurrent.futures import Future

from shipyard.pipelines.attempt import Outcome, StepTask, execute


class InProcessExecutor:
    name = "inprocess"
    parallel = False

    def submit(self, task: StepTask) -> Future[Outcome]:
        task.keep_value = True
        future: Future[Outcome] = Future()
        future.set_result(execute(task))
        return future

    def close(self) -> None:
        return None


__all__ = ["InProcessExecutor"]
