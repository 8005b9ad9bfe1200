"""The embedded online store: one SQLite file, one table, upserts that keep the newest."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from shipyard.errors import BackendUnavailable
from shipyard.features.online.base import OnlineStore, Record, Row

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS online_values ("
    "key TEXT PRIMARY KEY, event_ns INTEGER NOT NULL, written_ns INTEGER NOT NULL, "
    "payload BLOB NOT NULL) WITHOUT ROWID"
)
# The WHERE makes an older write a no-op: the newest event time always wins.
_UPSERT = (
    "INSERT INTO online_values (key, event_ns, written_ns, payload) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(key) DO UPDATE SET event_ns = excluded.event_ns, "
    "written_ns = excluded.written_ns, payload = excluded.payload "
    "WHERE excluded.event_ns >= online_values.event_ns"
)
_CHUNK = 900  # below SQLite's smallest host-parameter limit


class SQLiteOnlineStore(OnlineStore):
    """``sqlite:///PATH``; safe across threads (one connection, one lock) and processes (WAL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        path = Path(url.removeprefix("sqlite:///")).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=60
            )
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise BackendUnavailable(
                f"Cannot open the online store {url}: {exc}. Check the path "
                "(setting online_store).",
                url=url,
            ) from exc
        self._lock = threading.Lock()

    def write(self, rows: Sequence[Row]) -> int:
        now = time.time_ns()
        with self._lock:
            before = self._con.total_changes
            self._con.execute("BEGIN IMMEDIATE")
            try:
                self._con.executemany(_UPSERT, [(k, e, now, p) for k, e, p in rows])
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            return self._con.total_changes - before

    def read(self, keys: Sequence[str]) -> list[Record | None]:
        found: dict[str, Record] = {}
        with self._lock:
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                cursor = self._con.execute(
                    "SELECT key, event_ns, written_ns, payload FROM online_values "
                    f"WHERE key IN ({marks})",
                    chunk,
                )
                found.update({r[0]: Record(r[1], r[2], r[3]) for r in cursor.fetchall()})
        return [found.get(k) for k in keys]

    def delete(self, keys: Sequence[str]) -> None:
        with self._lock:
            self._con.executemany("DELETE FROM online_values WHERE key = ?", [(k,) for k in keys])

    def close(self) -> None:
        with self._lock:
            self._con.close()
