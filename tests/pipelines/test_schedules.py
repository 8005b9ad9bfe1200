"""Schedules: checked on creation, due runs coalesced, one scheduler per store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.pipelines.schedules import (
    acquire_lock,
    add_schedule,
    list_schedules,
    next_slot,
    pause_schedule,
    release_lock,
    remove_schedule,
    run_due,
    run_scheduler,
)
from shipyard.store.lineage import downstream
from shipyard.workspace import Workspace

from .conftest import CHAIN, Writer


def test_next_slot_follows_the_timezone() -> None:
    after = datetime(2026, 7, 6, 0, 0, tzinfo=UTC)  # a Monday, summer time in Madrid (UTC+2)
    assert next_slot("0 3 * * 1", "Europe/Madrid", after) == datetime(2026, 7, 6, 1, 0, tzinfo=UTC)


def test_schedules_run_when_due_coalescing_missed_slots(
    workspace: Workspace, write_module: Writer
) -> None:
    ref = f"{write_module('flow', CHAIN)}:chain"
    created = add_schedule("hourly", "0 * * * *", "UTC", ref, {"n": "2"}, workspace=workspace)
    assert created.next_run_at > datetime.now(UTC)
    later = datetime.now(UTC) + timedelta(hours=5)  # five missed slots
    started = run_due(now=later, workspace=workspace)
    assert len(started) == 1
    (info,) = list_schedules(workspace=workspace)
    assert info.last_run_id == started[0] and info.next_run_at > later
    assert [e.dst for e in downstream(workspace.store, ("schedule", "hourly"))] == [
        ("run", started[0])
    ]
    assert run_due(now=later, workspace=workspace) == []
    pause_schedule("hourly", workspace=workspace)
    assert run_due(now=later + timedelta(days=1), workspace=workspace) == []
    remove_schedule("hourly", workspace=workspace)
    assert list_schedules(workspace=workspace) == []


def test_bad_schedules_are_refused(sqlite_workspace: Workspace, write_module: Writer) -> None:
    ref = f"{write_module('flow', CHAIN)}:chain"
    with pytest.raises(InvalidInput, match="Invalid cron"):
        add_schedule("a", "every day", "UTC", ref, workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match="Unknown timezone 'Mars/Base'"):
        add_schedule("a", "0 3 * * *", "Mars/Base", ref, workspace=sqlite_workspace)
    with pytest.raises(InvalidInput, match="no parameter 'lr'"):
        add_schedule("a", "0 3 * * *", "UTC", ref, {"lr": "1"}, workspace=sqlite_workspace)
    with pytest.raises(NotFound):
        add_schedule("a", "0 3 * * *", "UTC", ref + "x", workspace=sqlite_workspace)
    add_schedule("a", "0 3 * * *", "UTC", ref, workspace=sqlite_workspace)
    with pytest.raises(AlreadyExists):
        add_schedule("a", "0 3 * * *", "UTC", ref, workspace=sqlite_workspace)
    with pytest.raises(NotFound, match="No schedule 'b'"):
        pause_schedule("b", workspace=sqlite_workspace)


def test_only_one_scheduler_holds_the_lock(workspace: Workspace) -> None:
    assert acquire_lock("first", workspace=workspace)
    assert not acquire_lock("second", workspace=workspace)
    with pytest.raises(Conflict, match="Another scheduler holds this store's lock: first"):
        run_scheduler(once=True, workspace=workspace)
    assert acquire_lock("second", ttl=0, workspace=workspace)  # the first went silent
    release_lock("second", workspace=workspace)
    assert run_scheduler(once=True, workspace=workspace) == []
