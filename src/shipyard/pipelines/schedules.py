"""Schedules: run a pipeline on a cron expression in a timezone; one scheduler per store.

``add_schedule("nightly", "0 3 * * 1", "Europe/Madrid", "train.py:train", {"lr": "0.1"})``
checks the cron expression, the timezone, the pipeline reference and its
params at once (a bad schedule is refused, not discovered at 3 am).

``run_scheduler()`` takes the store's scheduler lock (a row in
``scheduler_locks``, refreshed every tick and taken over only when its
holder has been silent for ``LOCK_TTL_SECONDS``), marks dead runs CRASHED,
and runs the schedules that are due.

**Missed runs** (the scheduler was down, or a run outlasted the next slot)
are coalesced: a schedule that missed one or more slots runs *once* when the
scheduler next looks, and its next slot is the first one after that moment.
Nothing is replayed in a burst.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.store.lineage import Edge, add_edges
from shipyard.store.schema.pipelines import Schedule, SchedulerLock
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

LOCK_NAME = "scheduler"
LOCK_TTL_SECONDS = 120.0
TICK_SECONDS = 30.0


@dataclass(frozen=True)
class ScheduleInfo:
    name: str
    cron: str
    timezone: str
    ref: str
    params: dict[str, Any]
    executor: str
    paused: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_run_id: str | None

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["next_run_at"] = self.next_run_at.isoformat()
        data["last_run_at"] = self.last_run_at.isoformat() if self.last_run_at else None
        return data


def next_slot(cron: str, timezone: str, after: datetime) -> datetime:
    """The first time after ``after`` the cron expression fires in ``timezone`` (as UTC)."""
    from croniter import croniter  # type: ignore[import-untyped]

    zone = _zone(timezone)
    moment: datetime = croniter(cron, after.astimezone(zone)).get_next(datetime)
    return moment.astimezone(ZoneInfo("UTC"))


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"Unknown timezone {timezone!r}; use an IANA name like 'Europe/Madrid' or 'UTC'.",
            field="timezone",
        ) from exc


def _check_cron(cron: str) -> None:
    from croniter import croniter

    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise InvalidInput(
            f"Invalid cron expression {cron!r}; use five fields, e.g. '0 3 * * 1' "
            "(03:00 every Monday).",
            field="cron",
        )


def add_schedule(
    name: str,
    cron: str,
    timezone: str,
    ref: str,
    params: Mapping[str, Any] | None = None,
    *,
    executor: str = "inprocess",
    workspace: Workspace | None = None,
) -> ScheduleInfo:
    """Create a schedule after checking every part of it."""
    from shipyard.pipelines.executors import EXECUTORS
    from shipyard.pipelines.loader import load_pipeline

    workspace = workspace or current()
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise InvalidInput(f"Schedule name {name!r} must be 1-255 characters.", field="name")
    _check_cron(cron)
    if executor not in EXECUTORS:
        raise InvalidInput(
            f"Unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}.", field="executor"
        )
    load_pipeline(ref).bind_params(params or {})
    row = Schedule(
        name=name,
        cron=cron,
        timezone=timezone,
        ref=ref,
        params=dict(params or {}),
        executor=executor,
        paused=False,
        next_run_at=next_slot(cron, timezone, utcnow()),
        created_at=utcnow(),
    )
    try:
        with workspace.store.write() as session:
            if session.scalar(select(Schedule.id).where(Schedule.name == name)) is not None:
                raise AlreadyExists(
                    f"Schedule '{name}' exists; remove it first or pick another name.",
                    kind="schedule",
                    name=name,
                )
            session.add(row)
    except SqlIntegrityError as exc:
        raise AlreadyExists(f"Schedule '{name}' exists.", kind="schedule", name=name) from exc
    return _info(row)


def list_schedules(*, workspace: Workspace | None = None) -> list[ScheduleInfo]:
    workspace = workspace or current()
    with workspace.store.read() as session:
        return [_info(r) for r in session.scalars(select(Schedule).order_by(Schedule.name))]


def pause_schedule(
    name: str, paused: bool = True, *, workspace: Workspace | None = None
) -> ScheduleInfo:
    """Pause (or with ``paused=False`` resume) a schedule; resuming recomputes its next slot."""
    workspace = workspace or current()
    with workspace.store.write() as session:
        row = _get(session, name)
        row.paused = paused
        if not paused:
            row.next_run_at = next_slot(row.cron, row.timezone, utcnow())
        return _info(row)


def remove_schedule(name: str, *, workspace: Workspace | None = None) -> None:
    workspace = workspace or current()
    with workspace.store.write() as session:
        _get(session, name)
        session.execute(delete(Schedule).where(Schedule.name == name))


def _get(session: Any, name: str) -> Schedule:
    row: Schedule | None = session.scalars(select(Schedule).where(Schedule.name == name)).first()
    if row is None:
        raise NotFound(
            f"No schedule '{name}'. See `shipyard schedules list`.", kind="schedule", name=name
        )
    return row


def _info(row: Schedule) -> ScheduleInfo:
    return ScheduleInfo(
        row.name,
        row.cron,
        row.timezone,
        row.ref,
        row.params,
        row.executor,
        row.paused,
        row.next_run_at,
        row.last_run_at,
        row.last_run_id,
    )


# -- the scheduler ------------------------------------------------------------
def scheduler_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire_lock(
    owner: str, *, ttl: float = LOCK_TTL_SECONDS, workspace: Workspace | None = None
) -> bool:
    """Take or refresh the store's scheduler lock; False when another live scheduler holds it."""
    workspace = workspace or current()
    now = utcnow()
    try:
        with workspace.store.write() as session:
            row = session.scalars(
                select(SchedulerLock).where(SchedulerLock.name == LOCK_NAME).with_for_update()
            ).first()
            if row is None:
                session.add(
                    SchedulerLock(name=LOCK_NAME, owner=owner, acquired_at=now, heartbeat_at=now)
                )
                return True
            if row.owner != owner and row.heartbeat_at > now - timedelta(seconds=ttl):
                return False
            if row.owner != owner:
                row.owner, row.acquired_at = owner, now
            row.heartbeat_at = now
            return True
    except SqlIntegrityError:
        return False  # another scheduler inserted the lock first


def lock_holder(*, workspace: Workspace | None = None) -> tuple[str, datetime] | None:
    workspace = workspace or current()
    with workspace.store.read() as session:
        row = session.get(SchedulerLock, LOCK_NAME)
        return (row.owner, row.heartbeat_at) if row else None


def release_lock(owner: str, *, workspace: Workspace | None = None) -> None:
    workspace = workspace or current()
    with workspace.store.write() as session:
        session.execute(
            delete(SchedulerLock).where(
                SchedulerLock.name == LOCK_NAME, SchedulerLock.owner == owner
            )
        )


def run_due(*, now: datetime | None = None, workspace: Workspace | None = None) -> list[str]:
    """Run every unpaused schedule whose slot has come (missed slots coalesce to one run)."""
    from shipyard.pipelines.loader import load_pipeline
    from shipyard.pipelines.runner import RunOptions, run_pipeline

    workspace = workspace or current()
    now = now or utcnow()
    with workspace.store.read() as session:
        due = list(
            session.scalars(
                select(Schedule)
                .where(Schedule.paused.is_(False), Schedule.next_run_at <= now)
                .order_by(Schedule.name)
            )
        )
    started: list[str] = []
    for row in due:
        with workspace.store.write() as session:  # claim the slot before running
            fresh = _get(session, row.name)
            fresh.next_run_at = next_slot(row.cron, row.timezone, now)
        pipeline = load_pipeline(row.ref)
        options = RunOptions(executor=row.executor, tags={"shipyard.schedule": row.name})
        result = run_pipeline(
            pipeline, pipeline.bind_params(row.params), options, workspace=workspace
        )
        add_edges(
            workspace.store, [Edge(("schedule", row.name), ("run", result.run_id), "scheduled")]
        )
        with workspace.store.write() as session:
            fresh = _get(session, row.name)
            fresh.last_run_at, fresh.last_run_id = now, result.run_id
        started.append(result.run_id)
    return started


def run_scheduler(
    *,
    tick: float = TICK_SECONDS,
    once: bool = False,
    stop: threading.Event | None = None,
    workspace: Workspace | None = None,
) -> list[str]:
    """Hold the lock and run due schedules every ``tick`` seconds (or once); returns run ids."""
    from shipyard.pipelines.heartbeat import mark_crashed

    workspace = workspace or current()
    owner = scheduler_owner()
    if not acquire_lock(owner, workspace=workspace):
        holder = lock_holder(workspace=workspace)
        who = f"{holder[0]} (last seen {holder[1]:%Y-%m-%d %H:%M:%S} UTC)" if holder else "?"
        raise Conflict(
            f"Another scheduler holds this store's lock: {who}. Only one runs per store; "
            f"stop it, or wait {LOCK_TTL_SECONDS:g} s after it died.",
            kind="scheduler",
            name=LOCK_NAME,
        )
    stop = stop or threading.Event()
    started: list[str] = []
    try:
        while True:
            mark_crashed(workspace=workspace)
            started += run_due(workspace=workspace)
            started += _retrain_tick(workspace)
            if once or stop.wait(tick) or not acquire_lock(owner, workspace=workspace):
                break
    finally:
        release_lock(owner, workspace=workspace)
    return started


def _retrain_tick(workspace: Workspace) -> list[str]:
    """Ask for retrains (alerts, cron slots), then run the requests people approved."""
    from shipyard.pipelines.retrain import run_approved, scan

    scan(workspace=workspace)
    return [r.run_id for r in run_approved(workspace=workspace) if r.run_id]


__all__ = [
    "ScheduleInfo",
    "acquire_lock",
    "add_schedule",
    "list_schedules",
    "next_slot",
    "pause_schedule",
    "release_lock",
    "remove_schedule",
    "run_due",
    "run_scheduler",
]
