"""Telling a dead run from a live one: a RUNNING run whose heartbeat stopped is CRASHED.

Tracking refreshes ``runs.heartbeat_at`` every 10 s while a run's process
lives (``tracking.buffer``). ``mark_crashed`` turns every RUNNING run whose
heartbeat is older than ``older_than`` seconds (default 60: six missed beats)
into CRASHED with the reason. ``shipyard pipeline show``, ``pipeline
resume`` and the scheduler call it, so a killed process never leaves a run
"running" forever.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update

from shipyard.store.schema.core import Run as RunRow
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

STALE_AFTER_SECONDS = 60.0


def mark_crashed(
    older_than: float = STALE_AFTER_SECONDS, *, workspace: Workspace | None = None
) -> list[str]:
    """Mark stale RUNNING runs as CRASHED; returns their ids."""
    from shipyard.tracking.runs import CRASHED, RUNNING

    workspace = workspace or current()
    now = utcnow()
    cutoff = now - timedelta(seconds=older_than)
    stale = (RunRow.status == RUNNING) & or_(
        RunRow.heartbeat_at < cutoff, RunRow.heartbeat_at.is_(None) & (RunRow.start_time < cutoff)
    )
    with workspace.store.write() as session:
        ids = list(session.scalars(select(RunRow.id).where(stale)))
        if ids:
            session.execute(
                update(RunRow)
                .where(RunRow.id.in_(ids), RunRow.status == RUNNING)
                .values(
                    status=CRASHED,
                    end_time=now,
                    error=f"No heartbeat for over {older_than:g} s: the process running it "
                    "died. Resume it with `shipyard pipeline resume RUN`.",
                )
            )
    return ids


__all__ = ["STALE_AFTER_SECONDS", "mark_crashed"]
