"""Database engines for the metadata store: SQLite (embedded) or PostgreSQL.

SQLite is made safe for several writing processes: WAL journal, a busy
timeout, and write transactions that start with ``BEGIN IMMEDIATE`` so that
two writers queue on the lock instead of one failing when it upgrades a read
lock ("database is locked"). Readers use a plain deferred ``BEGIN`` and never
block writers under WAL.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from shipyard.errors import BackendUnavailable, ConfigError

SQLITE_BUSY_TIMEOUT_MS = 60_000


def redact(url: str) -> str:
    """The URL with any password replaced by ***, fit for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engines(url: str) -> tuple[Engine, Engine]:
    """(write engine, read engine) for ``url``; the same engine twice off SQLite."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"db_url {url!r} is not a database URL. Use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DB.",
            field="db_url",
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, immediate=True), _sqlite_engine(url, immediate=False)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
        return engine, engine
    raise ConfigError(
        f"db_url {redact(url)!r} uses '{parsed.get_backend_name()}'; shipyard supports "
        "sqlite and postgresql.",
        field="db_url",
    )


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailable(
                f"Cannot create the folder {folder} for the SQLite store {url!r}: {exc}",
                url=url,
            ) from exc
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def _use_wal(cursor: Any) -> None:
    """Turn the database to WAL, waiting while another connection is writing to it.

    The switch needs the database alone, and SQLite answers it "database is
    locked" at once, without its busy wait, while another connection holds a
    write lock (it would deadlock otherwise): several processes opening a new
    store together. Retried here for up to the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
