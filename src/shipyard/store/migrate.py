"""Bring a metadata store's schema to the newest version, safely and quickly.

A new, empty database gets every table at once from the models and is
stamped with the migration heads (fast: no replay of history). A database
at an older revision is upgraded in place by Alembic. Either way the work
happens under a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on
PostgreSQL), so that several processes opening a new store at the same
moment do not race each other.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from shipyard.store.schema import metadata

MIGRATIONS = "shipyard.store:migrations"
VERSION_TABLE = "alembic_version"
_PG_LOCK_KEY = 0x5A1B7A4D


def _alembic_config(connection: Connection) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


_REVISION = re.compile(r"^revision(?:: str)? = [\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?:: [^=]+)? = (.+)$", re.MULTILINE)


@cache
def schema_heads() -> frozenset[str]:
    """The newest revision of every migration branch.

    Read from the migration files' ``revision``/``down_revision`` lines rather
    than through Alembic, so that opening an up-to-date store never imports it.
    A test checks this against Alembic's own answer.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (Path(__file__).parent / "migrations" / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if found:
            revisions.add(found.group(1))
        down = _DOWN.search(text)
        if down:
            parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    return frozenset(revisions - parents)


def current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions stamped in the store (empty for a new database)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
    return frozenset(rows)


def ensure_schema(engine: Engine) -> None:
    """Create or upgrade the schema of the store behind ``engine`` (a write engine)."""
    with engine.connect() as connection:
        if current_revisions(connection) == schema_heads():
            return
        connection.rollback()
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                )
            _create_or_upgrade(connection)


def upgrade_to(engine: Engine, revision: str) -> None:
    """Run the migrations up to ``revision`` (used by tests of old stores)."""
    from alembic import command

    with engine.connect() as connection, connection.begin():
        command.upgrade(_alembic_config(connection), revision)  # type: ignore[arg-type]


def _create_or_upgrade(connection: Connection) -> None:
    current = current_revisions(connection)
    if current == schema_heads():
        return  # another process finished while we waited for the lock
    existing = set(inspect(connection).get_table_names()) & set(metadata.tables)
    if not current and not existing:
        metadata.create_all(connection)
        _stamp(connection, schema_heads())
    else:
        from alembic import command

        command.upgrade(_alembic_config(connection), "heads")  # type: ignore[arg-type]


def _stamp(connection: Connection, heads: frozenset[str]) -> None:
    # What ``alembic stamp heads`` writes, without importing Alembic.
    connection.execute(
        text(
            f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
            f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
        )
    )
    for head in sorted(heads):
        connection.execute(text(f"INSERT INTO {VERSION_TABLE} VALUES (:v)"), {"v": head})
