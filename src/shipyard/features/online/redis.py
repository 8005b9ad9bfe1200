"""The Redis online store: one string per key, compare-and-set in a Lua script.

A value reads ``<event ns, 20 digits>|<written ns, 20 digits>|<record bytes>``; the
fixed-width prefix compares as text inside Lua (whose numbers are doubles and
would round nanoseconds). Reads are one ``MGET``. ``?prefix=`` in the URL
namespaces the keys (default ``shipyard:features:``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from shipyard.errors import BackendUnavailable
from shipyard.features.online.base import OnlineStore, Record, Row
from shipyard.store.engine import redact

_OFFSET = 10**19  # makes every int64 nanosecond count a positive 20-digit number
_CHUNK = 500
# Write each value unless the stored one has a newer event time.
_SET_IF_NEWER = """
local stored = 0
for i = 1, #KEYS do
  local new = ARGV[i]
  local old = redis.call('GET', KEYS[i])
  if (not old) or string.sub(old, 1, 20) <= string.sub(new, 1, 20) then
    redis.call('SET', KEYS[i], new)
    stored = stored + 1
  end
end
return stored
"""


def _split_prefix(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    prefix = query.pop("prefix", "shipyard:features:")
    return urlunsplit(parts._replace(query=urlencode(query))), prefix


class RedisOnlineStore(OnlineStore):
    """``redis://HOST:PORT/DB[?prefix=…]``."""

    def __init__(self, url: str) -> None:
        self.url = url
        address, self.prefix = _split_prefix(url)
        self._client = redis.Redis.from_url(address)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        try:
            self._script = self._client.register_script(_SET_IF_NEWER)
            self._client.ping()
        except redis.exceptions.RedisError as exc:
            raise BackendUnavailable(
                f"Cannot reach the Redis online store at {redact(url)}: {exc}. Start Redis or "
                "fix the setting online_store.",
                url=redact(url),
            ) from exc

    def write(self, rows: Sequence[Row]) -> int:
        now = time.time_ns() + _OFFSET
        stored = 0
        try:
            pipe = self._client.pipeline(transaction=False)
            for i in range(0, len(rows), _CHUNK):
                chunk = rows[i : i + _CHUNK]
                self._script(
                    keys=[self.prefix + k for k, _, _ in chunk],
                    args=[b"%020d|%020d|" % (e + _OFFSET, now) + p for _, e, p in chunk],
                    client=pipe,
                )
            stored = sum(int(n) for n in pipe.execute())
        except redis.exceptions.RedisError as exc:
            raise self._unavailable(exc) from exc
        return stored

    def read(self, keys: Sequence[str]) -> list[Record | None]:
        if not keys:
            return []
        names = [self.prefix + k for k in keys]
        try:
            values = self._mget(names)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            self._drop_connection()  # a stale socket: one retry on a fresh connection
            try:
                values = self._mget(names)
            except redis.exceptions.RedisError as exc:
                raise self._unavailable(exc) from exc
        except redis.exceptions.RedisError as exc:
            raise self._unavailable(exc) from exc
        return [None if v is None else _record(v) for v in values]

    def _mget(self, names: Sequence[str]) -> list[bytes | None]:
        # The hot path: one thread-owned connection, no pool checkout per call
        # (halves the client-side cost of a single-key lookup).
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._client.connection_pool.make_connection()
            connection.connect()  # type: ignore[no-untyped-call]
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        connection.send_command("MGET", *names)
        values: list[bytes | None] = connection.read_response()
        return values

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.disconnect()

    def delete(self, keys: Sequence[str]) -> None:
        if keys:
            self._client.delete(*[self.prefix + k for k in keys])

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.disconnect()
            self._connections.clear()
        self._client.close()

    def _unavailable(self, exc: Exception) -> BackendUnavailable:
        return BackendUnavailable(
            f"The Redis online store at {redact(self.url)} failed: {exc}", url=redact(self.url)
        )


def _record(value: bytes) -> Record:
    return Record(int(value[:20]) - _OFFSET, int(value[21:41]) - _OFFSET, value[42:])
