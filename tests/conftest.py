"""Fixtures shared by every test: real stores in temp dirs, real PostgreSQL and Redis.

Service-backed tests skip with a reason when the service is unreachable,
except when ``SHIPYARD_REQUIRE_SERVICES=1`` or ``CI=true``: then they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.config import load_settings
from shipyard.workspace import Workspace

PG_URL = os.environ.get("SHIPYARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SHIPYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_KEEP_ENV = {"SHIPYARD_TEST_PG_URL", "SHIPYARD_TEST_REDIS_URL", "SHIPYARD_REQUIRE_SERVICES"}


SERVICES_REQUIRED = (
    os.environ.get("SHIPYARD_REQUIRE_SERVICES") == "1" or os.environ.get("CI", "").lower() == "true"
)


def unavailable(reason: str) -> None:
    """Skip the test, or fail it where services are mandatory."""
    if SERVICES_REQUIRED:
        pytest.fail(f"{reason} (services are mandatory under CI=true)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's SHIPYARD_* settings or writes to ~/.shipyard."""
    for name in list(os.environ):
        if name.startswith("SHIPYARD_") and name not in _KEEP_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "default-home"))


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL URL, after checking that the server answers."""
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        unavailable(f"PostgreSQL at {PG_URL} is unreachable: {exc.orig}")
    finally:
        engine.dispose()
    return PG_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(pg_server)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{pg_server}?options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on the machine's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'shipyard.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def make_workspace(tmp_path: Path, db_url: str | None = None) -> Workspace:
    overrides = {"home": str(tmp_path / "home")}
    if db_url:
        overrides["db_url"] = db_url
    return Workspace(load_settings(overrides, cwd=tmp_path, environ={}))


@pytest.fixture
def workspace_factory(tmp_path: Path) -> Iterator[object]:
    """Build extra workspaces (e.g. a second one on the same home); all closed afterwards."""
    made: list[Workspace] = []

    def factory(db_url: str | None = None, home: Path | None = None) -> Workspace:
        ws = make_workspace(home or tmp_path, db_url)
        made.append(ws)
        return ws

    yield factory
    for ws in made:
        ws.close()


@pytest.fixture
def workspace(tmp_path: Path, db_url: str) -> Iterator[Workspace]:
    """A workspace with real stores, once on SQLite and once on PostgreSQL."""
    with make_workspace(tmp_path, db_url) as ws:
        yield ws


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on the embedded default only (SQLite + local artifacts)."""
    with make_workspace(tmp_path) as ws:
        yield ws


@pytest.fixture(scope="session")
def redis_server() -> str:
    """The Redis URL, after checking that the server answers."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        unavailable(f"Redis at {REDIS_URL} is unreachable: {exc}")
    finally:
        client.close()
    return REDIS_URL
