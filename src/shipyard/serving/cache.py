"""The inference cache: a model version's answers for rows it has already seen.

Off by default; a deployment turns it on with ``cache="memory"`` (an LRU in
the server process, ``max_entries`` rows) or ``cache="redis"`` (shared by
every worker and server, entries expire after ``ttl_seconds``).

A row's key is the model's tag — ``NAME/VERSION`` and the artifact's SHA-256,
so a cached answer can only come from the very same artifact — plus a
BLAKE2b-128 hash of the row's canonical values: the validated (schema-typed)
columns, in signature order, as raw bytes. For numeric, boolean and
timestamp columns those bytes come out of NumPy in one block (no per-row
Python); text and object columns use the ``repr`` of each row's values. The
column dtypes are mixed into the hash key, so equal bytes of different types
never collide.

``CachedInference.run`` looks every row up, sends only the misses through
the batcher (one model call, as without a cache), stores their answers and
puts hits and misses back together in request order. The cache is a memo of
a pure function, so an entry never goes stale; ``ttl_seconds`` (0 = never)
and ``max_entries`` only bound memory. A Redis error never fails a request:
the rows count as misses, the error is counted, and the cache is skipped for
``REDIS_BACKOFF_SECONDS``. Writes to Redis happen off the response path.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import math
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt

from shipyard.errors import ConfigError, InvalidInput
from shipyard.serving.model import ServedModel
from shipyard.serving.validation import MatrixColumns

Columns = Mapping[str, npt.NDArray[Any]]
Outputs = dict[str, npt.NDArray[Any]]
CachedRow = tuple[Any, ...]  # one plain value (or list) per output, in layout order
Submit = Callable[[Columns, int], Awaitable[Outputs]]

CACHE_MODES = ("off", "memory", "redis")
DEFAULT_CACHE_ENTRIES = 10_000
DEFAULT_CACHE_TTL_SECONDS = 3600.0
REDIS_PREFIX = "shipyard:cache:"
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_BACKOFF_SECONDS = 5.0
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class CacheConfig:
    """Whether and where a deployment caches answers."""

    mode: str = "off"
    max_entries: int = DEFAULT_CACHE_ENTRIES
    ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS
    url: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in CACHE_MODES:
            raise InvalidInput(
                f"cache must be one of {', '.join(CACHE_MODES)}, got {self.mode!r}.", field="cache"
            )
        entries = self.max_entries
        if isinstance(entries, bool) or not isinstance(entries, int) or entries < 1:
            raise InvalidInput(
                f"cache_size must be an integer >= 1, got {entries!r}.", field="cache_size"
            )
        ttl = self.ttl_seconds
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 <= ttl < math.inf:
            raise InvalidInput(
                f"cache_ttl_seconds must be a number >= 0 (0 = never expires), got {ttl!r}.",
                field="cache_ttl_seconds",
            )
        if self.url is not None and not self.url.startswith(_REDIS_SCHEMES):
            raise InvalidInput(
                f"cache_url {self.url!r} is not a Redis URL; use redis://HOST:PORT/DB.",
                field="cache_url",
            )

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "max_entries": self.max_entries,
            "ttl_seconds": self.ttl_seconds,
            "url": self.url,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CacheConfig:
        return cls(**dict(data)) if data else cls()


# -- keys --------------------------------------------------------------------------


def row_digests(tag: str, columns: Columns, names: Sequence[str]) -> list[bytes]:
    """One 16-byte key per row: BLAKE2b of its canonical values, keyed by model and dtypes."""
    layout, rows = _canonical_rows(columns, names)
    salt = _salt(tag, layout)
    blake2b = hashlib.blake2b
    return [blake2b(row, digest_size=16, key=salt).digest() for row in rows]


def _canonical_rows(columns: Columns, names: Sequence[str]) -> tuple[str, list[bytes]]:
    matrix = getattr(columns, "matrix", None)
    if matrix is not None and list(columns) == list(names):
        # The same bytes and layout as the per-column path below: one row, one key.
        block = np.ascontiguousarray(matrix)
        return ",".join([block.dtype.str] * block.shape[1]), _split_rows(block)
    arrays = [np.asarray(columns[name]) for name in names]
    layout = ",".join(a.dtype.str for a in arrays)
    if all(a.dtype.kind in "biufmM" for a in arrays):
        parts = [np.ascontiguousarray(a).view(np.uint8).reshape(len(a), -1) for a in arrays]
        return layout, _split_rows(np.concatenate(parts, axis=1))
    # Text and objects have no fixed width: the repr of each row's plain values.
    return f"repr:{layout}", [
        repr(row).encode() for row in zip(*(a.tolist() for a in arrays), strict=True)
    ]


def _split_rows(block: npt.NDArray[Any]) -> list[bytes]:
    rows = block.shape[0]
    if rows == 0:
        return []
    data = block.tobytes()
    width = len(data) // rows
    return [data[at : at + width] for at in range(0, len(data), width)]


@functools.lru_cache(maxsize=1024)
def _salt(tag: str, layout: str) -> bytes:
    # A pure function of few distinct values (models x column layouts): cached.
    return hashlib.blake2b(f"{tag}|{layout}".encode()).digest()


# -- backends ----------------------------------------------------------------------


class InferenceCache(ABC):
    """Cached rows by (model tag, row digest)."""

    @abstractmethod
    async def get(self, tag: str, digests: Sequence[bytes]) -> list[CachedRow | None]:
        """The cached rows, ``None`` where absent or expired."""

    @abstractmethod
    async def put(self, tag: str, digests: Sequence[bytes], rows: Sequence[CachedRow]) -> None:
        """Remember ``rows`` (in order of ``digests``)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections and finish pending writes."""


class MemoryCache(InferenceCache):
    """An LRU of at most ``max_entries`` rows in this process (used from the event loop only)."""

    def __init__(
        self,
        max_entries: int = DEFAULT_CACHE_ENTRIES,
        ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, CachedRow]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, tag: str, digests: Sequence[bytes]) -> list[CachedRow | None]:
        # The digests are keyed by the model tag already: no need to store the tag.
        entries, now = self._entries, self._clock()
        found: list[CachedRow | None] = []
        for digest in digests:
            entry = entries.get(digest)
            if entry is None:
                found.append(None)
            elif entry[0] < now:
                del entries[digest]
                found.append(None)
            else:
                entries.move_to_end(digest)
                found.append(entry[1])
        return found

    async def put(self, tag: str, digests: Sequence[bytes], rows: Sequence[CachedRow]) -> None:
        expires = self._clock() + self.ttl_seconds if self.ttl_seconds else math.inf
        entries = self._entries
        entries.update(zip(digests, [(expires, row) for row in rows], strict=True))
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()


class RedisCache(InferenceCache):
    """Rows as JSON under ``PREFIX + tag + ':' + hex digest``, with ``EX ttl_seconds``."""

    def __init__(
        self,
        url: str,
        ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        import redis.asyncio

        address, self.prefix = _split_prefix(url)
        self.ttl = max(1, math.ceil(ttl_seconds)) if ttl_seconds else None
        self._client = redis.asyncio.Redis.from_url(
            address,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._on_error = on_error
        self._down_until = 0.0
        self._writes: set[asyncio.Task[None]] = set()

    def _keys(self, tag: str, digests: Sequence[bytes]) -> list[str]:
        head = f"{self.prefix}{tag}:"
        return [head + digest.hex() for digest in digests]

    async def get(self, tag: str, digests: Sequence[bytes]) -> list[CachedRow | None]:
        if time.monotonic() < self._down_until:
            return [None] * len(digests)
        try:
            values = await self._client.mget(self._keys(tag, digests))
        except Exception as exc:  # Redis down or slow: answer from the model instead
            self._failed(exc)
            return [None] * len(digests)
        return [None if value is None else _decode(value) for value in values]

    async def put(self, tag: str, digests: Sequence[bytes], rows: Sequence[CachedRow]) -> None:
        if time.monotonic() < self._down_until:
            return
        items = [
            (key, text)
            for key, text in zip(self._keys(tag, digests), map(_encode, rows), strict=True)
            if text is not None
        ]
        if items:
            task = asyncio.get_running_loop().create_task(self._write(items))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write(self, items: list[tuple[str, str]]) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, text in items:
                    pipe.set(key, text, ex=self.ttl)
                await pipe.execute()
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + REDIS_BACKOFF_SECONDS
        if self._on_error is not None:
            self._on_error(exc)

    async def close(self) -> None:
        if self._writes:
            await asyncio.wait(list(self._writes), timeout=5)
        await self._client.aclose()


def _encode(row: CachedRow) -> str | None:
    try:
        return json.dumps(row, separators=(",", ":"))
    except (TypeError, ValueError):  # an output JSON cannot hold exactly: not cached
        return None


def _decode(value: bytes | str) -> CachedRow | None:
    try:
        row = json.loads(value)
    except ValueError:
        return None
    return tuple(row) if isinstance(row, list) else None


def _split_prefix(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    prefix = query.pop("prefix", REDIS_PREFIX)
    return urlunsplit(parts._replace(query=urlencode(query))), prefix


def redis_url(config: CacheConfig, online_store: str) -> str:
    """The Redis URL of a ``redis`` cache: its own ``url``, else the online store's server."""
    if config.url:
        return config.url
    if online_store.startswith(_REDIS_SCHEMES):
        address, _ = _split_prefix(online_store)  # not the feature store's key prefix
        return address
    raise ConfigError(
        "cache 'redis' needs a Redis server: give the deployment --cache-url "
        "redis://HOST:PORT/DB, or set SHIPYARD_ONLINE_STORE to a Redis URL.",
        field="cache_url",
    )


def open_cache(
    config: CacheConfig, online_store: str, on_error: Callable[[BaseException], None]
) -> InferenceCache | None:
    """The backend ``config`` asks for (``None`` when the cache is off)."""
    if config.mode == "memory":
        return MemoryCache(config.max_entries, config.ttl_seconds)
    if config.mode == "redis":
        return RedisCache(redis_url(config, online_store), config.ttl_seconds, on_error)
    return None


# -- answering from the cache ------------------------------------------------------


@dataclass(frozen=True)
class OutputLayout:
    """A model's output names and dtypes (from its warm-up prediction)."""

    names: tuple[str, ...]
    dtypes: tuple[np.dtype[Any], ...]

    @classmethod
    def of(cls, sample: Mapping[str, npt.NDArray[Any]]) -> OutputLayout:
        return cls(tuple(sample), tuple(np.asarray(a).dtype for a in sample.values()))

    def rows(self, outputs: Mapping[str, npt.NDArray[Any]]) -> list[CachedRow]:
        """Outputs split into one tuple of plain values per row."""
        return list(zip(*(outputs[name].tolist() for name in self.names), strict=True))

    def outputs(self, rows: Sequence[CachedRow]) -> Outputs:
        """Rows put back together as output arrays."""
        columns = zip(*rows, strict=True)
        return {
            name: np.asarray(list(values), dtype=dtype)
            for name, dtype, values in zip(self.names, self.dtypes, columns, strict=True)
        }


def take_rows(columns: Columns, index: npt.NDArray[np.intp]) -> Columns:
    """The rows at ``index`` of a batch (one block stays one block)."""
    if isinstance(columns, MatrixColumns):
        return MatrixColumns(columns.matrix[index], list(columns))
    return {name: values[index] for name, values in columns.items()}


class CachedInference:
    """Answers rows from the cache, and the rest from the model through ``submit``."""

    def __init__(
        self, cache: InferenceCache, counted: Callable[[str, int, int], None] | None = None
    ) -> None:
        self.cache = cache
        self._counted = counted

    async def run(
        self, model: ServedModel, layout: OutputLayout, valid: Columns, submit: Submit
    ) -> Outputs:
        """The outputs for every row of ``valid`` (validated columns), in order."""
        tag = model.tag
        digests = row_digests(tag, valid, model.schema.names)
        found = await self.cache.get(tag, digests)
        width = len(layout.names)
        hits = [i for i, row in enumerate(found) if row is not None and len(row) == width]
        hit_rows = [cast(CachedRow, found[i]) for i in hits]
        rows = len(digests)
        if self._counted is not None:
            self._counted(model.version, len(hits), rows - len(hits))
        if len(hits) == rows:
            return layout.outputs(hit_rows)
        if not hits:
            outputs = await submit(valid, rows)
            await self.cache.put(tag, digests, layout.rows(outputs))
            return outputs
        return await self._mixed(tag, layout, valid, digests, hits, hit_rows, submit)

    async def _mixed(
        self,
        tag: str,
        layout: OutputLayout,
        valid: Columns,
        digests: list[bytes],
        hits: list[int],
        hit_rows: list[CachedRow],
        submit: Submit,
    ) -> Outputs:
        hit_index = np.asarray(hits, dtype=np.intp)
        missing = np.ones(len(digests), dtype=bool)
        missing[hit_index] = False
        miss_index = np.flatnonzero(missing)
        computed = await submit(take_rows(valid, miss_index), len(miss_index))
        await self.cache.put(tag, [digests[i] for i in miss_index], layout.rows(computed))
        cached = layout.outputs(hit_rows)
        outputs: Outputs = {}
        for name, fresh in computed.items():
            merged = np.empty((len(digests), *fresh.shape[1:]), dtype=fresh.dtype)
            merged[miss_index] = fresh
            merged[hit_index] = cached[name]
            outputs[name] = merged
        return outputs

    async def close(self) -> None:
        await self.cache.close()
