"""The runner: executes a pipeline's graph as one tracking run, step by step.

For each step whose inputs are ready it computes the cache key (see
``cache``), reuses a stored result when the key is known (or, on resume, the
result of the run being resumed), and otherwise hands the step to the
executor. A finished step's output artifact is stored at once; its step run
row and lineage edges are buffered and written every ``FLUSH_SECONDS`` (1 s)
and at the end, so a crash loses at most the last second of step records
(their outputs stay stored) and ``resume`` recomputes only those. A failed step fails its dependents
(``upstream_failed``); a skipped step (a gate outcome) skips them with the
reason, and the run still finishes.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shipyard.pipelines import serialize
from shipyard.pipelines.attempt import (
    FAILED,
    SKIPPED,
    SUCCEEDED,
    Outcome,
    StepContext,
    StepTask,
)
from shipyard.pipelines.cache import (
    CacheDisabledWarning,
    Unhashable,
    code_hasher,
    step_key,
    value_digest,
)
from shipyard.pipelines.executors import make_executor
from shipyard.pipelines.graph import Node, building, replace_handles
from shipyard.pipelines.records import (
    CACHED,
    REUSABLE,
    UPSTREAM_FAILED,
    CacheHit,
    StepRecord,
    as_hit,
    cache_index,
    record_steps,
)
from shipyard.store.lineage import Edge
from shipyard.store.schema.pipelines import PipelineRun
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    from shipyard.notify import Sink
    from shipyard.pipelines.executors.base import Executor
    from shipyard.pipelines.pipeline import Pipeline
    from shipyard.tracking.runs import Run

_DONE = (SUCCEEDED, CACHED)
FLUSH_SECONDS = 1.0
_BLOCKING = (FAILED, "timed_out", UPSTREAM_FAILED)


@dataclass(frozen=True)
class RunOptions:
    no_cache: bool = False
    executor: str | Executor = "inprocess"
    scheduler: str = ""
    notify: Sequence[Sink] | None = None
    resume_from: str | None = None
    previous: dict[str, StepRecord] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _ArtifactRef:
    """Stands for an upstream result in a cache key: its content hash."""

    sha256: str


@dataclass
class _State:
    status: str
    sha256: str | None = None
    fmt: str | None = None
    reason: str | None = None


class PipelineResult:
    """The outcome of a pipeline run: status, step records, and the returned value."""

    def __init__(
        self,
        run_id: str,
        status: str,
        error: str | None,
        steps: list[StepRecord],
        returned: Any,
        execution: _Execution,
    ) -> None:
        self.run_id = run_id
        self.status = status
        self.error = error
        self.steps = {s.name: s for s in steps}
        self._returned = returned
        self._execution = execution

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED"

    @property
    def output(self) -> Any:
        """What the pipeline function returned, with step results loaded (None if not run)."""
        return replace_handles(self._returned, self._execution.value_or_none)

    def __getitem__(self, step_name: str) -> Any:
        """The output value of one step."""
        for node in self._execution.nodes:
            if node.name == step_name:
                return self._execution.value_or_none(node)
        raise KeyError(step_name)

    def __repr__(self) -> str:
        return f"PipelineResult(run_id={self.run_id!r}, status={self.status!r})"


def run_pipeline(
    pipeline: Pipeline,
    params: dict[str, Any],
    options: RunOptions,
    *,
    workspace: Workspace | None = None,
) -> PipelineResult:
    """Build the graph (bad graphs fail here, storing nothing), then run and record it."""
    from shipyard.tracking.runs import FAILED as RUN_FAILED
    from shipyard.tracking.runs import FINISHED, start_run

    workspace = workspace or current()
    with building() as builder:
        returned = pipeline.fn(**params)
    nodes = builder.close()
    with ExitStack() as stack:
        executor = options.executor
        if isinstance(executor, str):
            executor = make_executor(executor, scheduler=options.scheduler)
            stack.callback(executor.close)
        tags = {"shipyard.pipeline": pipeline.name, **options.tags}
        if options.resume_from:
            tags["shipyard.resumed_from"] = options.resume_from
        run = start_run(pipeline.experiment, tags=tags, workspace=workspace)
        try:
            run.log_params(params)
            _record_pipeline_run(workspace, run, pipeline, params, executor.name, options)
            execution = _Execution(workspace, run, nodes, executor, options)
            execution.run()
        except BaseException as exc:
            run.__exit__(type(exc), exc, exc.__traceback__)
            raise
    error = execution.failure()
    run.end(RUN_FAILED if error else FINISHED, error)
    status = run.status
    _notify(workspace, pipeline, run.id, execution, error, options)
    return PipelineResult(run.id, status, error, execution.records, returned, execution)


def _record_pipeline_run(
    workspace: Workspace,
    run: Run,
    pipeline: Pipeline,
    params: dict[str, Any],
    executor: str,
    options: RunOptions,
) -> None:
    edges = []
    if options.resume_from:
        edges.append(Edge(("run", options.resume_from), ("run", run.id), "resumed"))
    from shipyard.store.lineage import insert_edges

    with workspace.store.write() as session:
        session.add(
            PipelineRun(
                run_id=run.id,
                pipeline=pipeline.name,
                ref=pipeline.ref,
                params=params,
                executor=executor,
                no_cache=options.no_cache,
                resumed_from=options.resume_from,
            )
        )
        insert_edges(session, edges)


class _Execution:
    """The state of one graph being executed."""

    def __init__(
        self,
        workspace: Workspace,
        run: Run,
        nodes: list[Node],
        executor: Executor,
        options: RunOptions,
    ) -> None:
        from shipyard.tracking.environment import current_environment

        self.workspace = workspace
        self.run_id = run.id
        self.nodes = nodes
        self.executor = executor
        self.options = options
        self.environment_id = current_environment().id
        self.hasher = code_hasher(workspace)
        self.states: dict[int, _State] = {}
        self.values: dict[str, Any] = {}
        self.records: list[StepRecord] = []
        # At most one read for the whole graph instead of one lookup per step (CacheIndex).
        self.cache = cache_index(workspace)
        if not options.no_cache and any(n.step.options.cache for n in nodes):
            self.cache.load({n.step.qualname for n in nodes if n.step.options.cache})
        self._rows: list[dict[str, Any]] = []
        self._edges_pending: list[Edge] = []
        self._flushed_at = time.monotonic()

    # -- the loop ----------------------------------------------------------
    def run(self) -> None:
        try:
            self._loop()
        finally:
            self.flush()

    def _loop(self) -> None:
        pending = list(self.nodes)
        running: dict[Future[Outcome], tuple[Node, str | None, float]] = {}
        while pending or running:
            ready = [n for n in pending if self._ready(n)]
            for node in ready:
                pending.remove(node)
                settled, key = self._prepare(node)
                if not settled:
                    task = self._task(node)
                    started = time.time()
                    running[self.executor.submit(task)] = (node, key, started)
            if not running:
                if ready:
                    continue  # settled without running (cache, upstream): look again
                if pending:  # cannot happen with a topological order; guard against a hang
                    raise RuntimeError(f"steps never became ready: {[n.name for n in pending]}")
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                node, key, started = running.pop(future)
                self._finish(node, key, started, _outcome(future))

    def _ready(self, node: Node) -> bool:
        return all(id(dep) in self.states for dep in node.deps)

    def failure(self) -> str | None:
        for record in self.records:
            if record.status in (FAILED, "timed_out"):
                tail = (record.traceback or "").strip().splitlines()[-1:] or [""]
                return (
                    f"Step '{record.name}' {record.status.replace('_', ' ')} after "
                    f"{record.attempts} attempt(s): {tail[0]}"
                )
        return None

    # -- before a step runs --------------------------------------------------
    def _prepare(self, node: Node) -> tuple[bool, str | None]:
        """(settled already?, cache key or None when the step cannot be cached)."""
        for dep in node.deps:
            state = self.states[id(dep)]
            if state.status in _BLOCKING:
                self._settle(
                    node,
                    UPSTREAM_FAILED,
                    None,
                    f"upstream step '{dep.name}' {state.status.replace('_', ' ')}",
                )
                return True, None
            if state.status == SKIPPED:
                self._settle(
                    node, SKIPPED, None, f"upstream step '{dep.name}' was skipped: {state.reason}"
                )
                return True, None
        key = self._key(node)
        reuse = self._reusable(node, key)
        if reuse is not None:
            self._reuse(node, key, reuse)
            return True, key
        return False, key

    def _key(self, node: Node) -> str | None:
        caching = node.step.options.cache and not self.options.no_cache
        params: dict[str, str] = {}
        for name, value in node.arguments.items():
            try:
                params[name] = value_digest(replace_handles(value, self._ref))
            except Unhashable as exc:
                if caching:
                    warnings.warn(
                        f"Step '{node.name}': argument '{name}' ({exc}) cannot be hashed "
                        "deterministically, so caching is off for this step. Pass plain data, "
                        "or set cache=False on the step to silence this.",
                        CacheDisabledWarning,
                        stacklevel=2,
                    )
                return None
        return step_key(node.step.code_fingerprint(self.hasher), params, {}, self.environment_id)

    def _ref(self, node: Node) -> _ArtifactRef:
        sha = self.states[id(node)].sha256
        return _ArtifactRef(sha or "")

    def _reusable(self, node: Node, key: str | None) -> CacheHit | None:
        previous = self.options.previous.get(node.name)
        if previous is not None and (key is None or previous.cache_key == key):
            return as_hit(previous)
        if key is None or self.options.no_cache or not node.step.options.cache:
            return None
        found = self.cache.get(key)
        sha = found.output_sha256 if found is not None else None
        if sha and not self.workspace.artifacts.exists(sha):
            return None  # the output was deleted: run the step again
        return found

    def _task(self, node: Node) -> StepTask:
        opts = node.step.options
        return StepTask(
            name=node.name,
            fn=node.step.fn,
            arguments=replace_handles(node.arguments, self.value),
            retries=opts.retries,
            backoff=opts.backoff,
            timeout=opts.timeout,
            context=StepContext(self.run_id, self.workspace.settings),
        )

    # -- values ------------------------------------------------------------
    def value(self, node: Node) -> Any:
        state = self.states[id(node)]
        if state.sha256 is None or state.fmt is None:
            return None
        if state.sha256 not in self.values:
            data = self.workspace.artifacts.get_bytes(state.sha256)
            self.values[state.sha256] = serialize.loads(data, state.fmt)
        return self.values[state.sha256]

    def value_or_none(self, node: Node) -> Any:
        return self.value(node) if id(node) in self.states else None

    # -- recording ---------------------------------------------------------
    def _settle(self, node: Node, status: str, key: str | None, reason: str) -> None:
        now = datetime.now(UTC)
        self.states[id(node)] = _State(status, reason=reason)
        self._store(
            node,
            {
                "status": status,
                "reason": reason,
                "cache_key": key,
                "started_at": now,
                "ended_at": now,
            },
        )

    def _reuse(self, node: Node, key: str | None, previous: CacheHit) -> None:
        now = datetime.now(UTC)
        status = SKIPPED if previous.status == SKIPPED else CACHED
        self.states[id(node)] = _State(
            status, previous.output_sha256, previous.output_format, previous.reason
        )
        self._store(
            node,
            {
                "status": status,
                "reason": previous.reason,
                "cache_key": key,
                "started_at": now,
                "ended_at": now,
                "output_sha256": previous.output_sha256,
                "output_format": previous.output_format,
                "reused_from": previous.id,
            },
        )

    def _finish(self, node: Node, key: str | None, started: float, outcome: Outcome) -> None:
        sha = None
        if outcome.status == SUCCEEDED and outcome.output is not None:
            sha = self.workspace.artifacts.put_bytes(outcome.output).sha256
            if outcome.has_value:
                self.values[sha] = outcome.value
        self.states[id(node)] = _State(outcome.status, sha, outcome.output_format, outcome.reason)
        first = outcome.attempts[0].started if outcome.attempts else started
        last = outcome.attempts[-1].ended if outcome.attempts else time.time()
        self._store(
            node,
            {
                "status": outcome.status,
                "reason": outcome.reason,
                "cache_key": key if outcome.status in (SUCCEEDED, SKIPPED) else None,
                "attempts": len(outcome.attempts),
                "attempt_log": [a.to_dict() for a in outcome.attempts],
                "started_at": datetime.fromtimestamp(first, UTC),
                "ended_at": datetime.fromtimestamp(last, UTC),
                "traceback": outcome.traceback,
                "output_sha256": sha,
                "output_format": outcome.output_format if sha else None,
            },
        )

    def _store(self, node: Node, fields: dict[str, Any]) -> None:
        step_id = uuid.uuid4().hex
        row: dict[str, Any] = {
            "id": step_id,
            "run_id": self.run_id,
            "name": node.name,
            "function": node.step.qualname,
            "reason": None,
            "attempts": 0,
            "attempt_log": [],
            "traceback": None,
            "cache_key": None,
            "output_sha256": None,
            "output_format": None,
            "reused_from": None,
            **fields,
        }
        row["duration_seconds"] = (row["ended_at"] - row["started_at"]).total_seconds()
        self._rows.append(row)
        self._edges_pending += self._edges(node, step_id, row)
        record = StepRecord(**row)
        self.records.append(record)
        if record.cache_key and record.status in REUSABLE and record.reused_from is None:
            self.cache.add(record)  # this process's later runs (and this graph) reuse it
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write buffered step runs: one transaction per second of work, not one per step."""
        rows, edges = self._rows, self._edges_pending
        self._rows, self._edges_pending = [], []
        self._flushed_at = time.monotonic()
        record_steps(self.workspace, rows, edges)

    def _edges(self, node: Node, step_id: str, row: dict[str, Any]) -> list[Edge]:
        me = ("step_run", step_id)
        edges = [Edge(("run", self.run_id), me, "step")]
        for dep in node.deps:
            sha = self.states[id(dep)].sha256
            if sha:
                edges.append(Edge(("artifact", sha), me, "input"))
        for value in node.arguments.values():
            node_of = getattr(value, "node", None)
            if type(value).__name__ == "Snapshot" and isinstance(node_of, tuple):
                edges.append(Edge(node_of, me, "input"))
        sha = row["output_sha256"]
        if sha and row["status"] == SUCCEEDED:
            edges.append(Edge(me, ("artifact", sha), "produced"))
        elif sha:
            edges.append(Edge(("artifact", sha), me, "reused"))
        return edges


def _outcome(future: Future[Outcome]) -> Outcome:
    error = future.exception()
    if error is None:
        return future.result()
    now = time.time()
    from shipyard.pipelines.attempt import Attempt

    text = f"The executor failed to run the step: {type(error).__name__}: {error}"
    return Outcome(FAILED, [Attempt(1, now, now, FAILED, text)], traceback=text)


def _notify(
    workspace: Workspace,
    pipeline: Pipeline,
    run_id: str,
    execution: _Execution,
    error: str | None,
    options: RunOptions,
) -> None:
    from shipyard.notify import Notification, send
    from shipyard.pipelines.sinks import pipeline_sinks

    sinks = list(options.notify) if options.notify is not None else pipeline_sinks(workspace)
    if not sinks:
        return
    command = f"shipyard pipeline show {run_id}"
    events = []
    if error:
        events.append(Notification("pipeline_failed", pipeline.name, run_id, error, command))
    for record in execution.records:
        if record.status == SKIPPED and not (record.reason or "").startswith("upstream step"):
            events.append(
                Notification(
                    "step_skipped",
                    pipeline.name,
                    run_id,
                    f"step '{record.name}' skipped: {record.reason}",
                    command,
                )
            )
    for event in events:
        send(sinks, event)


__all__ = ["PipelineResult", "RunOptions", "run_pipeline"]
