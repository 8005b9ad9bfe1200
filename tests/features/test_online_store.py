"""The conformance suite every online store backend passes: SQLite and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.errors import ConfigError
from shipyard.features.online import OnlineStore, open_online_store


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        backend = open_online_store(f"sqlite:///{tmp_path / 'online.db'}")
        yield backend
        backend.close()
        return
    url = request.getfixturevalue("redis_server")
    prefix = f"test-{uuid.uuid4().hex}:"
    backend = open_online_store(f"{url}?prefix={prefix}")
    yield backend
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
    backend.close()


def test_round_trip_many_keys_in_order_with_none_for_missing(store: OnlineStore) -> None:
    assert store.write([("v:1", 10, b'{"a": 1}'), ("v:2", 20, b'{"a": 2}')]) == 2
    got = store.read(["v:2", "v:nope", "v:1"])
    assert [r.payload if r else None for r in got] == [b'{"a": 2}', None, b'{"a": 1}']
    assert got[0] is not None and got[0].event_ns == 20 and got[0].written_ns > 0


def test_an_older_write_never_replaces_a_newer_one(store: OnlineStore) -> None:
    store.write([("v:1", 200, b'{"a": "new"}')])
    assert store.write([("v:1", 100, b'{"a": "old"}')]) == 0
    record = store.read(["v:1"])[0]
    assert record is not None and (record.event_ns, record.payload) == (200, b'{"a": "new"}')


def test_same_or_newer_event_time_replaces(store: OnlineStore) -> None:
    store.write([("v:1", 100, b'{"a": 1}')])
    store.write([("v:1", 100, b'{"a": 2}')])
    store.write([("v:1", 101, b'{"a": 3}')])
    record = store.read(["v:1"])[0]
    assert record is not None and record.payload == b'{"a": 3}'


def test_negative_and_large_timestamps_compare_right(store: OnlineStore) -> None:
    store.write([("v:1", -5, b'{"a": 1}')])
    store.write([("v:1", 1_700_000_000_000_000_001, b'{"a": 2}')])
    store.write([("v:1", 1_700_000_000_000_000_000, b'{"a": 3}')])
    record = store.read(["v:1"])[0]
    assert record is not None and record.event_ns == 1_700_000_000_000_000_001


def test_batches_larger_than_one_chunk(store: OnlineStore) -> None:
    rows = [(f"v:{i}", i, b'{"i": %d}' % i) for i in range(2500)]
    assert store.write(rows) == 2500
    got = store.read([k for k, _, _ in rows])
    assert all(r is not None and r.event_ns == i for i, r in enumerate(got))


def test_delete(store: OnlineStore) -> None:
    store.write([("v:1", 1, b"{}")])
    store.delete(["v:1", "v:absent"])
    assert store.read(["v:1"]) == [None]


def test_unknown_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="online_store"):
        open_online_store("memcached://x")
