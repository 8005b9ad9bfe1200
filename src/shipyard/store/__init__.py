"""The metadata store: every node and edge of the lineage graph lives here.

``Store.open(url)`` connects to SQLite or PostgreSQL, upgrades the schema
in place if needed, and hands out short transactions::

    store = Store.open("sqlite:///shipyard.db")
    with store.write() as session:   # BEGIN IMMEDIATE on SQLite
        session.add(...)
    with store.read() as session:    # a plain read; never blocks writers
        session.scalars(...)

Layers keep their queries in their own modules and take a ``Store``; this
class only owns connections and transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shipyard.errors import BackendUnavailable
from shipyard.store.engine import create_engines, is_sqlite, redact
from shipyard.store.migrate import ensure_schema


class Store:
    """Connections and transactions to one metadata database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.write_engine, self.read_engine = create_engines(url)
        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to ``url``, check that it answers, and bring its schema up to date."""
        store = cls(url)
        try:
            ensure_schema(store.write_engine)
        except OperationalError as exc:
            store.close()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise BackendUnavailable(
                f"Cannot open the metadata store at {redact(url)}: {reason}. Check that "
                "the database server is running and the URL (SHIPYARD_DB_URL) is right.",
                url=redact(url),
            ) from exc
        return store

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on error."""
        with self._writer.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction."""
        with self._reader() as session:
            yield session

    def ping(self) -> None:
        """Raise ``BackendUnavailable`` unless the database answers."""
        try:
            with self.read_engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise BackendUnavailable(
                f"The metadata store at {redact(self.url)} does not answer: {exc.orig}",
                url=redact(self.url),
            ) from exc

    def close(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()

    def __repr__(self) -> str:
        return f"Store({redact(self.url)!r})"


__all__ = ["Store"]
