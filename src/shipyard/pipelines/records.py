"""Pipeline runs and step runs in the metadata store: writes, cache lookups, read views.

Each finished step is one write transaction: its ``step_runs`` row and its
lineage edges — ``("run", run) -> ("step_run", id)`` (``step``),
``("artifact", sha) -> ("step_run", id)`` for each input (``input``),
``("step_run", id) -> ("artifact", sha)`` for a produced output
(``produced``) or ``("artifact", sha) -> ("step_run", id)`` (``reused``)
for a cache hit, and ``("snapshot", ref) -> ("step_run", id)`` for a dataset
snapshot argument.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shipyard.errors import NotFound
from shipyard.store.lineage import Edge, insert_edges
from shipyard.store.schema.core import Run as RunRow
from shipyard.store.schema.pipelines import PipelineRun, StepRun
from shipyard.store.types import utcnow
from shipyard.tracking.records import resolve_run_id
from shipyard.workspace import Workspace, current

CACHED, UPSTREAM_FAILED = "cached", "upstream_failed"
REUSABLE = ("succeeded", "skipped")


@dataclass(frozen=True)
class StepRecord:
    """A step run as stored."""

    id: str
    run_id: str
    name: str
    function: str
    status: str
    reason: str | None
    attempts: int
    attempt_log: list[dict[str, Any]]
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    traceback: str | None
    cache_key: str | None
    output_sha256: str | None
    output_format: str | None
    reused_from: str | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = self.ended_at.isoformat()
        return data


@dataclass(frozen=True)
class PipelineRunInfo:
    """A pipeline run: its tracking run's status and its steps in execution order."""

    run_id: str
    pipeline: str
    ref: str
    params: dict[str, Any]
    executor: str
    status: str
    error: str | None
    resumed_from: str | None
    start_time: datetime
    end_time: datetime | None
    steps: list[StepRecord] = field(default_factory=list)

    def step(self, name: str) -> StepRecord:
        for record in self.steps:
            if record.name == name:
                return record
        known = ", ".join(s.name for s in self.steps) or "none"
        raise NotFound(
            f"Run {self.run_id} has no step '{name}' (steps: {known}).", kind="step", name=name
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start_time"] = self.start_time.isoformat()
        data["end_time"] = self.end_time.isoformat() if self.end_time else None
        data["steps"] = [s.to_dict() for s in self.steps]
        return data


def record_steps(workspace: Workspace, rows: list[dict[str, Any]], edges: list[Edge]) -> None:
    """Store finished steps and their lineage edges in one transaction."""
    if not rows:
        return
    with workspace.store.write() as session:
        session.execute(insert(StepRun), [{"created_at": utcnow(), **row} for row in rows])
        insert_edges(session, edges)


def find_cached(
    workspace: Workspace, key: str, session: Session | None = None
) -> StepRecord | None:
    """The newest reusable step run with this cache key whose output still exists.

    Pipeline runs go through ``CacheIndex``, which calls this only for keys it lacks.

    ``session``: a read session the caller keeps open across many lookups (a pipeline
    run does), which saves opening one per step.
    """
    query = (
        select(StepRun)
        .where(StepRun.cache_key == key, StepRun.status.in_(REUSABLE))
        .order_by(StepRun.created_at.desc())
        .limit(1)
    )
    if session is not None:
        row = session.scalars(query).first()
    else:
        with workspace.store.read() as own:
            row = own.scalars(query).first()
    if row is None:
        return None
    if row.output_sha256 and not workspace.artifacts.exists(row.output_sha256):
        return None
    return _record(row)


@dataclass(frozen=True)
class CacheHit:
    """What reusing a step result needs: the execution it came from and its output."""

    id: str
    status: str
    reason: str | None
    cache_key: str
    output_sha256: str | None
    output_format: str | None


class CacheIndex:
    """Reusable step results by cache key, kept per workspace (a workspace service).

    The first pipeline run that uses a step function reads the stored results of
    that function in one query; later hits cost no query at all, and results
    this process writes are added as they are made. A key the index does not
    know is still looked up in the store (another process may have made it),
    so the index only ever saves reads, never misses a result. That is what
    makes a fully cached rerun cheaper than running its steps.
    """

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._hits: dict[str, CacheHit] = {}
        self._loaded: set[str] = set()
        self._lock = threading.Lock()

    def load(self, functions: Collection[str]) -> None:
        """Read the results of step functions not read yet, in one query."""
        with self._lock:
            new = sorted(set(functions) - self._loaded)
            if not new:
                return
            query = (
                select(*_HIT_COLUMNS)
                .where(
                    StepRun.function.in_(new),
                    StepRun.status.in_(REUSABLE),
                    StepRun.cache_key.is_not(None),
                    StepRun.reused_from.is_(None),  # a cache hit's row points at its source
                )
                .order_by(StepRun.created_at)
            )
            with self._workspace.store.read() as session:
                for step_id, status, reason, key, sha, fmt in session.execute(query):
                    # ascending order: the newest result of a key wins
                    self._hits[str(key)] = CacheHit(step_id, status, reason, str(key), sha, fmt)
            self._loaded.update(new)

    def get(self, key: str) -> CacheHit | None:
        with self._lock:
            known = self._hits.get(key)
        if known is not None:
            return known
        found = find_cached(self._workspace, key)
        return None if found is None else self.add(found)

    def add(self, record: StepRecord | CacheHit) -> CacheHit:
        hit = record if isinstance(record, CacheHit) else as_hit(record)
        with self._lock:
            self._hits[hit.cache_key] = hit
        return hit

    def close(self) -> None:
        with self._lock:
            self._hits.clear()
            self._loaded.clear()


_HIT_COLUMNS = (
    StepRun.id,
    StepRun.status,
    StepRun.reason,
    StepRun.cache_key,
    StepRun.output_sha256,
    StepRun.output_format,
)


def as_hit(record: StepRecord) -> CacheHit:
    return CacheHit(
        record.reused_from or record.id,
        record.status,
        record.reason,
        record.cache_key or "",
        record.output_sha256,
        record.output_format,
    )


def cache_index(workspace: Workspace) -> CacheIndex:
    return workspace.service("pipelines.cache_index", CacheIndex)


def steps_of(workspace: Workspace, run_id: str) -> list[StepRecord]:
    with workspace.store.read() as session:
        rows = session.scalars(
            select(StepRun).where(StepRun.run_id == run_id).order_by(StepRun.created_at)
        ).all()
    return [_record(r) for r in rows]


def get_pipeline_run(run_id: str, *, workspace: Workspace | None = None) -> PipelineRunInfo:
    """A pipeline run and its steps, by run id or unique prefix."""
    workspace = workspace or current()
    full_id = resolve_run_id(workspace, run_id)
    with workspace.store.read() as session:
        found = session.execute(
            select(PipelineRun, RunRow)
            .join(RunRow, RunRow.id == PipelineRun.run_id)
            .where(PipelineRun.run_id == full_id)
        ).first()
    if found is None:
        raise NotFound(
            f"Run {full_id} is not a pipeline run. See `shipyard runs list` for its details.",
            kind="pipeline_run",
            name=full_id,
        )
    meta, run = found
    return PipelineRunInfo(
        run_id=full_id,
        pipeline=meta.pipeline,
        ref=meta.ref,
        params=meta.params,
        executor=meta.executor,
        status=run.status,
        error=run.error,
        resumed_from=meta.resumed_from,
        start_time=run.start_time,
        end_time=run.end_time,
        steps=steps_of(workspace, full_id),
    )


def _record(row: StepRun) -> StepRecord:
    return StepRecord(
        id=row.id,
        run_id=row.run_id,
        name=row.name,
        function=row.function,
        status=row.status,
        reason=row.reason,
        attempts=row.attempts,
        attempt_log=row.attempt_log,
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_seconds=row.duration_seconds,
        traceback=row.traceback,
        cache_key=row.cache_key,
        output_sha256=row.output_sha256,
        output_format=row.output_format,
        reused_from=row.reused_from,
    )


__all__ = [
    "CACHED",
    "UPSTREAM_FAILED",
    "CacheHit",
    "CacheIndex",
    "PipelineRunInfo",
    "StepRecord",
    "cache_index",
    "find_cached",
    "get_pipeline_run",
    "record_steps",
    "steps_of",
]
