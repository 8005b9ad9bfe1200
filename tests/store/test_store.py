"""Opening metadata stores: clear errors for bad or unreachable URLs."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from shipyard.errors import BackendUnavailable, ConfigError
from shipyard.store import Store
from shipyard.store.engine import _sqlite_engine


def test_unreachable_postgres_names_the_url_and_hides_the_password() -> None:
    url = "postgresql+psycopg://bob:secret@127.0.0.1:1/nowhere?connect_timeout=2"
    with pytest.raises(BackendUnavailable) as caught:
        Store.open(url)
    assert "127.0.0.1:1" in caught.value.message
    assert "secret" not in caught.value.message
    assert "SHIPYARD_DB_URL" in caught.value.message


def test_unsupported_and_malformed_urls_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="supports sqlite and postgresql"):
        Store("mysql://root@localhost/db")
    with pytest.raises(ConfigError, match="not a database URL"):
        Store("definitely not a url")


def test_sqlite_store_creates_its_folder_and_answers(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'deep' / 'er' / 'meta.db'}")
    store.ping()
    assert store.is_sqlite
    store.close()
    assert (tmp_path / "deep" / "er" / "meta.db").exists()


def test_two_opens_of_a_new_store_do_not_race(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url = f"sqlite:///{tmp_path / 'race.db'}"
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Store.open(url), range(4)))
    for store in stores:
        store.ping()
        store.close()


def test_a_store_opened_while_another_connection_writes_waits_for_it(tmp_path: Path) -> None:
    # Turning a database to WAL needs it alone; SQLite answers "database is locked"
    # at once (no busy wait) while another connection is writing, as when several
    # processes open a new store together.
    path = tmp_path / "shared.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.5, holder.execute, args=("COMMIT",))
    release.start()
    try:
        engine = _sqlite_engine(f"sqlite:///{path}", immediate=True)
        with engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        engine.dispose()
    finally:
        release.join()
        holder.close()
    assert mode == "wal"
