"""Portable statements that SQLAlchemy spells per dialect: upsert and insert-or-ignore.

Statements are built once per (dialect, table, keys) and reused: building an
``ON CONFLICT`` clause costs more than executing it on a hot path.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.orm import Session


def dialect_insert(dialect: str, table: Table) -> Any:
    """``INSERT`` for ``table`` in the dialect that supports ``ON CONFLICT``."""
    module = importlib.import_module(
        "sqlalchemy.dialects.postgresql"
        if dialect == "postgresql"
        else "sqlalchemy.dialects.sqlite"
    )
    return module.insert(table)


@lru_cache(maxsize=256)
def _ignore_statement(dialect: str, table: Table, keys: tuple[str, ...]) -> Any:
    return dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=list(keys))


@lru_cache(maxsize=256)
def _upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], update: tuple[str, ...]
) -> Any:
    statement = dialect_insert(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: statement.excluded[name] for name in update}
    )


def insert_ignore(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert ``rows``, skipping any whose ``keys`` already exist."""
    if rows:
        dialect = session.get_bind().dialect.name
        session.execute(_ignore_statement(dialect, table, tuple(keys)), list(rows))


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str],
    where: ColumnElement[bool] | None = None,
) -> None:
    """Insert ``rows``; on a key clash, overwrite ``update`` columns (when ``where`` holds)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if where is None:
        statement = _upsert_statement(dialect, table, tuple(keys), tuple(update))
    else:
        insert = dialect_insert(dialect, table)
        statement = insert.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: insert.excluded[name] for name in update},
            where=where,
        )
    session.execute(statement, list(rows))
