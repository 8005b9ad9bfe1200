"""The metric write path: buffered in memory, written in batches.

``log_metric`` only appends a tuple under a lock. A background thread writes
every pending point of every live run in one transaction each
``metrics_flush_seconds`` (default 1 s); a run's end and interpreter exit
flush too. A failed write keeps the points for the next attempt, so a busy
database delays metrics but does not lose them. The same thread refreshes
the heartbeat of live runs, which is how a run whose process died is told
apart from one still going.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, insert, literal_column, or_, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shipyard.store.schema.core import LatestMetric, Metric
from shipyard.store.schema.core import Run as RunRow
from shipyard.store.sql import upsert
from shipyard.store.types import utcnow

if TYPE_CHECKING:
    from shipyard.workspace import Workspace

HEARTBEAT_SECONDS = 10.0

# (run_id, key, value, step, timestamp_ms)
Point = tuple[str, str, float | None, int, int]


class MetricBuffer:
    """Pending metric points of one run, with its per-key step counters."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._lock = threading.Lock()
        self._points: list[Point] = []
        self._next_step: dict[str, int] = {}

    def add(self, key: str, value: float, step: int | None, timestamp_ms: int) -> None:
        stored = None if math.isnan(value) else value
        with self._lock:
            if step is None:
                step = self._next_step.get(key, 0)
            self._next_step[key] = max(self._next_step.get(key, 0), step + 1)
            self._points.append((self.run_id, key, stored, step, timestamp_ms))

    def take(self) -> list[Point]:
        with self._lock:
            points, self._points = self._points, []
        return points

    def give_back(self, points: list[Point]) -> None:
        with self._lock:
            self._points[:0] = points


class MetricFlusher:
    """Writes the buffers of a workspace's live runs, in the background and on demand."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._interval = workspace.settings.metrics_flush_seconds
        self._buffers: dict[str, MetricBuffer] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_heartbeat = time.monotonic()

    def register(self, buffer: MetricBuffer) -> None:
        with self._lock:
            self._buffers[buffer.run_id] = buffer
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="shipyard-metric-flusher", daemon=True
                )
                self._thread.start()

    def finish(self, run_id: str, last_write: Callable[[Session], object]) -> None:
        """Write a run's pending points and ``last_write`` in one transaction, then forget it."""
        with self._write_lock:
            with self._lock:
                buffer = self._buffers.get(run_id)
            points = buffer.take() if buffer is not None else []
            try:
                with self._workspace.store.write() as session:
                    write_points_in(session, points)
                    last_write(session)
            except Exception:
                if buffer is not None:
                    buffer.give_back(points)
                raise
            with self._lock:
                self._buffers.pop(run_id, None)

    def flush(self, run_ids: Iterable[str] | None = None) -> None:
        """Write pending points now (of the given runs, or of all); raise if the write fails."""
        with self._lock:
            wanted = list(self._buffers) if run_ids is None else list(run_ids)
            buffers = [self._buffers[r] for r in wanted if r in self._buffers]
        with self._write_lock:  # taken under the lock so that finish() never overtakes us
            points = [p for b in buffers for p in b.take()]
            if not points:
                return
            try:
                write_points(self._workspace, points)
            except Exception:
                by_run: dict[str, list[Point]] = {}
                for point in points:
                    by_run.setdefault(point[0], []).append(point)
                for buffer in buffers:
                    buffer.give_back(by_run.get(buffer.run_id, []))
                raise

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
                self._heartbeat()
            except OperationalError:
                continue  # kept in the buffers; the next tick tries again

    def _heartbeat(self) -> None:
        if time.monotonic() - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = time.monotonic()
        with self._lock:
            live = list(self._buffers)
        if live:
            with self._workspace.store.write() as session:
                session.execute(
                    update(RunRow).where(RunRow.id.in_(live)).values(heartbeat_at=utcnow())
                )


def write_points(workspace: Workspace, points: list[Point]) -> None:
    """Insert metric points and move each series' latest value forward, in one transaction."""
    with workspace.store.write() as session:
        write_points_in(session, points)


def write_points_in(session: Session, points: list[Point]) -> None:
    """``write_points`` inside a transaction the caller holds."""
    if not points:
        return
    latest: dict[tuple[str, str], Point] = {}
    for point in points:
        seen = latest.get((point[0], point[1]))
        if seen is None or (point[3], point[4]) >= (seen[3], seen[4]):
            latest[(point[0], point[1])] = point
    table = LatestMetric.__table__
    incoming_step: ColumnElement[int] = literal_column("excluded.step")
    newer = or_(
        table.c.step < incoming_step,
        and_(
            table.c.step == incoming_step,
            table.c.timestamp_ms <= literal_column("excluded.timestamp_ms"),
        ),
    )
    session.execute(insert(Metric), _as_rows(points))
    upsert(
        session,
        table,  # type: ignore[arg-type]
        _as_rows(list(latest.values())),
        keys=["run_id", "key"],
        update=["value", "step", "timestamp_ms"],
        where=newer,
    )


def _as_rows(points: list[Point]) -> list[dict[str, object]]:
    return [
        {"run_id": r, "key": k, "value": v, "step": s, "timestamp_ms": t}
        for r, k, v, s, t in points
    ]
