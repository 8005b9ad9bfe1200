"""Runs: one execution of training code, with everything it logs.

``with start_run(experiment="churn") as run:`` records the environment and
git state, and ends the run as FINISHED, FAILED (keeping the exception) or
KILLED (Ctrl-C) by itself. Params are write-once; metrics are step series,
buffered and written in batches (see ``buffer``); artifacts go to the
content-addressed store; inputs become lineage edges.
"""

from __future__ import annotations

import getpass
import math
import numbers
import time
import traceback
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from shipyard.errors import Conflict, InvalidInput
from shipyard.store.lineage import Edge, add_edges, insert_edges
from shipyard.store.schema.core import Environment, Param, RunArtifact, Tag
from shipyard.store.schema.core import Run as RunRow
from shipyard.store.sql import insert_ignore, upsert
from shipyard.store.types import utcnow
from shipyard.tracking import environment
from shipyard.tracking.buffer import MetricBuffer, MetricFlusher
from shipyard.tracking.experiments import check_name, get_or_create
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    from shipyard.data.snapshots import Snapshot
    from shipyard.registry.catalog import ModelVersionInfo

RUNNING, FINISHED, FAILED, KILLED, CRASHED = "RUNNING", "FINISHED", "FAILED", "KILLED", "CRASHED"
MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 64_000


def flusher(workspace: Workspace) -> MetricFlusher:
    return workspace.service("tracking.metric_flusher", MetricFlusher)


class Run:
    """A live run. Use as a context manager, or call ``end()`` yourself."""

    def __init__(self, workspace: Workspace, run_id: str, experiment: str, name: str) -> None:
        self.workspace = workspace
        self.id = run_id
        self.experiment = experiment
        self.name = name
        self.status = RUNNING
        self._params: dict[str, str] = {}
        self._buffer = MetricBuffer(run_id)
        flusher(workspace).register(self._buffer)

    # -- params and tags -------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters; logging a key again with a different value is a ``Conflict``."""
        self._check_live()
        if not isinstance(params, Mapping):
            raise InvalidInput(f"params must be a mapping, got {type(params).__name__}.", "params")
        new = {_check_key(k, "param"): _param_text(k, v) for k, v in params.items()}
        self._raise_on_conflicts(new, self._params)
        todo = {k: v for k, v in new.items() if k not in self._params}
        if not todo:
            return
        # This object created the run, so self._params already holds every stored param.
        with self.workspace.store.write() as session:
            rows = [{"run_id": self.id, "key": k, "value": v} for k, v in todo.items()]
            insert_ignore(session, Param.__table__, rows, keys=["run_id", "key"])  # type: ignore[arg-type]
        self._params.update(todo)

    def _raise_on_conflicts(self, new: Mapping[str, str], old: Mapping[str, str]) -> None:
        for key, value in new.items():
            if key in old and old[key] != value:
                raise Conflict(
                    f"Param '{key}' of run {self.id} is already '{old[key]}'; it cannot become "
                    f"'{value}'. Params are write-once: start a new run to try another value.",
                    kind="param",
                    name=key,
                )

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set free-form labels (unlike params, tags may be overwritten)."""
        rows = [
            {"run_id": self.id, "key": _check_key(k, "tag"), "value": str(v)}
            for k, v in tags.items()
        ]
        with self.workspace.store.write() as session:
            upsert(session, Tag.__table__, rows, keys=["run_id", "key"], update=["value"])  # type: ignore[arg-type]

    # -- metrics ----------------------------------------------------------
    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        """Add a point to a metric series; ``step`` defaults to the series' next step."""
        if self.status != RUNNING:
            self._check_live()
        self._buffer.add(
            _check_key(key, "metric"),
            _metric_value(key, value),
            _check_step(step),
            int(time.time() * 1000),
        )

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if not isinstance(metrics, Mapping):
            raise InvalidInput(
                f"metrics must be a mapping, got {type(metrics).__name__}.", field="metrics"
            )
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def flush(self) -> None:
        """Write buffered metrics now (they are also written every second and at the end)."""
        flusher(self.workspace).flush([self.id])

    # -- artifacts and inputs -------------------------------------------------
    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> dict[str, str]:
        """Store a file, or every file of a folder, under the run; returns path → SHA-256."""
        self._check_live()
        source = Path(path)
        if not source.exists():
            raise InvalidInput(f"No file or folder at {source}.", field="path")
        prefix = (artifact_path or source.name).strip("/")
        files = (
            [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        )
        logged: dict[str, str] = {}
        rows = []
        for file in files:
            name = prefix if source.is_file() else f"{prefix}/{file.relative_to(source).as_posix()}"
            blob = self.workspace.artifacts.put_file(file)
            logged[name] = blob.sha256
            rows.append({"path": name, "sha256": blob.sha256, "size": blob.size})
        self._record_artifacts(rows)
        return logged

    def log_text(self, text: str, artifact_path: str) -> str:
        """Store a string as a UTF-8 artifact; returns its SHA-256."""
        self._check_live()
        blob = self.workspace.artifacts.put_bytes(text.encode("utf-8"))
        self._record_artifacts([{"path": artifact_path, "sha256": blob.sha256, "size": blob.size}])
        return blob.sha256

    def _record_artifacts(self, rows: list[dict[str, Any]]) -> None:
        with self.workspace.store.write() as session:
            paths = [r["path"] for r in rows]
            stored = dict(
                session.execute(
                    select(RunArtifact.path, RunArtifact.sha256).where(
                        RunArtifact.run_id == self.id, RunArtifact.path.in_(paths)
                    )
                ).all()
            )
            for row in rows:
                if stored.get(row["path"], row["sha256"]) != row["sha256"]:
                    raise Conflict(
                        f"Run {self.id} already has a different artifact at '{row['path']}'; "
                        "artifacts are immutable. Log it under another artifact_path.",
                        kind="artifact",
                        name=row["path"],
                    )
            new = [{"run_id": self.id, "created_at": utcnow(), **r} for r in rows]
            insert_ignore(session, RunArtifact.__table__, new, keys=["run_id", "path"])  # type: ignore[arg-type]

    def log_dataset(self, data: Any, name: str) -> Snapshot:
        """Snapshot a DataFrame, Arrow table or Parquet/CSV file as an input dataset ``name``."""
        self._check_live()
        from shipyard.data.snapshots import log_dataset  # lazy: tracking never loads pandas

        return log_dataset(self, data, name)

    def log_model(
        self,
        model: Any,
        name: str,
        *,
        input_example: Any = None,
        golden: Any = None,
        description: str = "",
        token: str | None = None,
    ) -> ModelVersionInfo:
        """Register ``model`` as the next version of ``name``, produced by this run."""
        from shipyard.registry.versions import log_model  # lazy: tracking never loads the registry

        return log_model(
            self,
            model,
            name,
            input_example=input_example,
            golden=golden,
            description=description,
            token=token,
        )

    def add_input(self, kind: str, node_id: str, relation: str = "input") -> None:
        """Record a lineage edge ``kind:node_id → this run`` (datasets, feature views…)."""
        add_edges(self.workspace.store, [Edge((kind, node_id), ("run", self.id), relation)])

    # -- lifecycle -----------------------------------------------------------
    def end(self, status: str = FINISHED, error: str | None = None) -> None:
        """Flush metrics and record the final status, in one transaction (idempotent)."""
        if self.status != RUNNING:
            return
        final = update(RunRow).where(RunRow.id == self.id)
        final = final.values(status=status, end_time=utcnow(), error=error)
        flusher(self.workspace).finish(self.id, lambda session: session.execute(final))
        self.status = status

    def _check_live(self) -> None:
        if self.status != RUNNING:
            raise InvalidInput(
                f"Run {self.id} has ended ({self.status}); start a new run to log more.",
                field="run",
            )

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.end(FINISHED)
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end(KILLED, "KeyboardInterrupt")
        else:
            text = "".join(traceback.format_exception(exc_type, exc, tb)[-20:])
            self.end(FAILED, text)

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, experiment={self.experiment!r}, status={self.status!r})"


def start_run(
    experiment: str = "default",
    *,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    workspace: Workspace | None = None,
) -> Run:
    """Start a run in ``experiment`` (created if new). Use it as a context manager."""
    workspace = workspace or current()
    experiment = check_name(experiment)
    experiment_id = get_or_create(workspace, experiment)
    env = environment.current_environment()
    git = environment.git_info()
    run_id = uuid.uuid4().hex
    run_name = name or f"{experiment}-{run_id[:8]}"
    now = utcnow()
    stored_environments = workspace.service("tracking.environments", lambda _: set[str]())
    with workspace.store.write() as session:
        if env.id not in stored_environments:
            _store_environment(session, env)
        session.execute(
            insert(RunRow).values(
                id=run_id,
                experiment_id=experiment_id,
                name=check_name(run_name, "name"),
                status=RUNNING,
                start_time=now,
                heartbeat_at=now,
                user=_user(),
                git_commit=git.commit if git else None,
                git_dirty=git.dirty if git else None,
                entry_point=environment.entry_point(),
                environment_id=env.id,
                parent_run_id=parent_run_id,
            )
        )
        insert_edges(session, _origin_edges(run_id, env.id, git))
    stored_environments.add(env.id)
    run = Run(workspace, run_id, experiment, run_name)
    if tags:
        run.set_tags(tags)
    return run


def _store_environment(session: Any, env: environment.EnvironmentInfo) -> None:
    insert_ignore(
        session,
        Environment.__table__,  # type: ignore[arg-type]
        [
            {
                "id": env.id,
                "python": env.python,
                "platform": env.platform,
                "packages": env.packages,
                "machine": env.machine,
                "created_at": utcnow(),
            }
        ],
        keys=["id"],
    )


def _origin_edges(run_id: str, env_id: str, git: environment.GitInfo | None) -> list[Edge]:
    edges = [Edge(("environment", env_id), ("run", run_id), "environment")]
    if git:
        edges.append(Edge(("commit", git.commit), ("run", run_id), "code"))
    return edges


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _check_key(key: object, what: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput(f"{what} name must be a non-empty string, got {key!r}.", field=what)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{what} name '{key[:40]}…' is {len(key)} characters; the limit is {MAX_KEY_LENGTH}.",
            field=what,
        )
    return key


def _param_text(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_LENGTH:
        raise InvalidInput(
            f"Param '{key}' is {len(text)} characters long; the limit is {MAX_PARAM_LENGTH}. "
            "Log long values as an artifact (run.log_text).",
            field=key,
        )
    return text


def _metric_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(
            f"Metric '{key}' must be a number, got {type(value).__name__} {value!r}.",
            field=key,
        )
    number = float(value)
    return number if not math.isnan(number) else math.nan


def _check_step(step: int | None) -> int | None:
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise InvalidInput(
            f"step must be a non-negative integer, got {step!r}.",
            field="step",
        )
    return int(step)
