"""Read views of runs: what ``get_run``, ``search_runs`` and the CLI return."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.errors import InvalidInput, NotFound
from shipyard.store.schema.core import Experiment, LatestMetric, Metric, Param, RunArtifact, Tag
from shipyard.store.schema.core import Run as RunRow
from shipyard.workspace import Workspace, current

_IN_CHUNK = 5000
MIN_PREFIX = 4


@dataclass(frozen=True)
class MetricPoint:
    value: float
    step: int
    timestamp_ms: int


@dataclass(frozen=True)
class RunRecord:
    """A run as stored: attributes, params, latest metric values and tags."""

    id: str
    experiment: str
    name: str
    status: str
    start_time: datetime
    end_time: datetime | None
    user: str
    git_commit: str | None
    git_dirty: bool | None
    entry_point: str | None
    environment_id: str | None
    error: str | None
    parent_run_id: str | None = None  # the pipeline run a notebook step's run belongs to
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float | None:
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start_time"] = self.start_time.isoformat()
        data["end_time"] = self.end_time.isoformat() if self.end_time else None
        data["duration_seconds"] = self.duration_seconds
        data["metrics"] = {k: _json_float(v) for k, v in self.metrics.items()}
        return data


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


_COLUMNS = (
    RunRow.id,
    Experiment.name,
    RunRow.name,
    RunRow.status,
    RunRow.start_time,
    RunRow.end_time,
    RunRow.user,
    RunRow.git_commit,
    RunRow.git_dirty,
    RunRow.entry_point,
    RunRow.environment_id,
    RunRow.error,
    RunRow.parent_run_id,
)


def base_query() -> Any:
    """SELECT of the run attributes a ``RunRecord`` needs, joined to its experiment."""
    return select(*_COLUMNS).join(Experiment, Experiment.id == RunRow.experiment_id)


def load_records(workspace: Workspace, rows: Sequence[Any]) -> list[RunRecord]:
    """Turn attribute rows into full records, fetching params, metrics and tags in bulk."""
    ids = [row[0] for row in rows]
    with workspace.store.read() as session:
        params = _key_values(session, Param, ids)
        tags = _key_values(session, Tag, ids)
        metrics = _key_values(session, LatestMetric, ids)
    return [
        RunRecord(
            *row,  # type: ignore[misc]
            params=params.get(row[0], {}),
            metrics={k: (math.nan if v is None else v) for k, v in metrics.get(row[0], {}).items()},
            tags=tags.get(row[0], {}),
        )
        for row in rows
    ]


def _key_values(session: Session, table: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        query = select(table.run_id, table.key, table.value).where(table.run_id.in_(chunk))
        for run_id, key, value in session.execute(query):
            found.setdefault(run_id, {})[key] = value
    return found


def resolve_run_id(workspace: Workspace, run_id: str) -> str:
    """The full id of a run given its id or a unique prefix of at least 4 characters."""
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidInput("run id must be a non-empty string.", field="run_id")
    run_id = run_id.strip().lower()
    with workspace.store.read() as session:
        if session.scalar(select(RunRow.id).where(RunRow.id == run_id)):
            return run_id
        matches: list[str] = []
        if len(run_id) >= MIN_PREFIX:
            matches = list(
                session.scalars(select(RunRow.id).where(RunRow.id.startswith(run_id)).limit(3))
            )
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise InvalidInput(
            f"Run id prefix '{run_id}' matches several runs ({', '.join(matches)}…); "
            "give more characters.",
            field="run_id",
        )
    raise NotFound(
        f"No run with id '{run_id}'. See `shipyard runs list` for run ids.",
        kind="run",
        name=run_id,
    )


def get_run(run_id: str, *, workspace: Workspace | None = None) -> RunRecord:
    """The run with this id (or unique id prefix)."""
    workspace = workspace or current()
    full_id = resolve_run_id(workspace, run_id)
    with workspace.store.read() as session:
        row = session.execute(base_query().where(RunRow.id == full_id)).one()
    return load_records(workspace, [row])[0]


def metric_history(
    run_id: str, key: str, *, workspace: Workspace | None = None
) -> list[MetricPoint]:
    """Every logged point of one metric series, by step then time."""
    workspace = workspace or current()
    full_id = resolve_run_id(workspace, run_id)
    query = (
        select(Metric.value, Metric.step, Metric.timestamp_ms)
        .where(Metric.run_id == full_id, Metric.key == key)
        .order_by(Metric.step, Metric.timestamp_ms, Metric.id)
    )
    with workspace.store.read() as session:
        points = [
            MetricPoint(math.nan if v is None else v, s, t) for v, s, t in session.execute(query)
        ]
    return points


def list_artifacts(
    run_id: str, *, workspace: Workspace | None = None
) -> dict[str, tuple[str, int]]:
    """The run's artifact paths, each with (SHA-256, size)."""
    workspace = workspace or current()
    full_id = resolve_run_id(workspace, run_id)
    query = (
        select(RunArtifact.path, RunArtifact.sha256, RunArtifact.size)
        .where(RunArtifact.run_id == full_id)
        .order_by(RunArtifact.path)
    )
    with workspace.store.read() as session:
        return {path: (sha, size) for path, sha, size in session.execute(query)}
