"""Migrations and models agree, and an old store upgrades itself on open."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from shipyard.store import Store
from shipyard.store.engine import create_engines
from shipyard.store.migrate import current_revisions, schema_heads, upgrade_to
from shipyard.store.schema import metadata


def test_replaying_every_migration_gives_exactly_the_models(db_url: str) -> None:
    write, _ = create_engines(db_url)
    upgrade_to(write, "heads")
    with write.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    write.dispose()
    assert diff == []


def test_new_store_is_created_at_the_newest_revision(db_url: str) -> None:
    store = Store.open(db_url)
    with store.write_engine.connect() as connection:
        assert current_revisions(connection) == schema_heads()
        tables = set(inspect(connection).get_table_names())
    store.close()
    assert set(metadata.tables) <= tables


def test_store_at_first_revision_upgrades_on_open_and_keeps_its_rows(db_url: str) -> None:
    write, _ = create_engines(db_url)
    upgrade_to(write, "0001_foundation")
    with write.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO experiments (name, description, created_at) "
                "VALUES ('old', '', '2026-01-01 00:00:00+00:00')"
            )
        )
    write.dispose()

    store = Store.open(db_url)
    with store.write_engine.connect() as connection:
        assert current_revisions(connection) == schema_heads()
        names = connection.execute(text("SELECT name FROM experiments")).scalars().all()
    store.close()
    assert names == ["old"]


def test_heads_read_from_files_match_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "shipyard.store:migrations")
    assert schema_heads() == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_opening_an_up_to_date_store_does_not_import_alembic(tmp_path: object) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from shipyard.store import Store; "
        f"s = Store.open('sqlite:///{tmp_path}/x.db'); s.close(); "
        "s = Store.open('sqlite:///{tmp_path}/x.db'); "
        "print('alembic' in sys.modules)"
    ).replace("{tmp_path}", str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
