"""Resuming a pipeline run that failed or crashed, reusing the steps that succeeded.

``resume(run_id)`` loads the pipeline by the reference its run recorded,
with the same params, and starts a new run (tagged
``shipyard.resumed_from`` and linked by a ``resumed`` lineage edge). A step
of the old run that succeeded (or was reused) is reused again when its cache
key is unchanged — or, for a step whose inputs cannot be hashed, when its
name matches — so the work restarts at the failed step. The old run is left
as it ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from shipyard.errors import Conflict, InvalidInput
from shipyard.pipelines.heartbeat import mark_crashed
from shipyard.pipelines.loader import load_pipeline
from shipyard.pipelines.records import CACHED, get_pipeline_run
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    from shipyard.notify import Sink
    from shipyard.pipelines.executors.base import Executor
    from shipyard.pipelines.runner import PipelineResult

_REUSABLE = ("succeeded", CACHED, "skipped")


def resume(
    run_id: str,
    *,
    executor: str | Executor | None = None,
    scheduler: str = "",
    notify: Sequence[Sink] | None = None,
    workspace: Workspace | None = None,
) -> PipelineResult:
    """Rerun a FAILED, CRASHED or KILLED pipeline run from its first unfinished step."""
    from shipyard.pipelines.runner import RunOptions, run_pipeline

    workspace = workspace or current()
    mark_crashed(workspace=workspace)
    info = get_pipeline_run(run_id, workspace=workspace)
    if info.status == "RUNNING":
        raise Conflict(
            f"Run {info.run_id} is still running (its heartbeat is fresh). Wait for it, or "
            "resume it once it has ended.",
            kind="run",
            name=info.run_id,
        )
    if info.status == "FINISHED":
        raise InvalidInput(
            f"Run {info.run_id} finished; there is nothing to resume. Run the pipeline again "
            f"with `shipyard pipeline run {info.ref}`.",
            field="run_id",
        )
    pipeline = load_pipeline(info.ref)
    previous = {s.name: s for s in info.steps if s.status in _REUSABLE}
    options = RunOptions(
        executor=executor or info.executor,
        scheduler=scheduler,
        notify=notify,
        resume_from=info.run_id,
        previous=previous,
    )
    return run_pipeline(pipeline, pipeline.bind_params(info.params), options, workspace=workspace)


__all__ = ["resume"]
