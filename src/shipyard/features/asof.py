"""The as-of match behind point-in-time retrieval: a view's rows, sorted once, searched in bulk.

DuckDB reads, transforms and type-checks a view's source and hands its rows
over as Arrow. They are then sorted by (entity, event time, created time) and
each entity key is given a dense integer code, so that "the latest row of this
key at or before t" becomes one ``numpy.searchsorted`` over a single sorted
int64 array: ``code * span + time``. That is O((n + m) log n) vectorized work,
with no Python loop over rows, and no sort of the entity rows (so the output
keeps their order for free). On this benchmark's 200k × 100k rows it is ~10×
cheaper than a DuckDB ``ASOF JOIN``, which sorts both sides on every call.

The sorted rows are kept per view on the workspace (``SortedCache``), keyed by
the parts of the definition that shape them (source, timestamps, keys,
features, transformation) and by the size and modification time of every
source file: a rewritten file, a new file matching a glob or a re-applied
definition rebuilds them on the next call. A source whose files cannot be
listed (a SQL query reading paths of its own) is rebuilt on every call. A
Python transformation is taken to be a pure function of the source rows.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput
from shipyard.features.definitions import FeatureView, spec_hash
from shipyard.features.sources import Source, quote
from shipyard.workspace import Workspace

Ints = np.ndarray[Any, np.dtype[np.int64]]
_WINDOW_FIELDS = ("lookback_seconds", "online_ttl_seconds", "description", "tags")


@dataclass(frozen=True)
class SortedRows:
    """A view's feature rows sorted by (entity code, event ns, created ns)."""

    table: pa.Table  # the features and ``__ts``, in sorted order
    key_types: dict[str, str]  # join key -> DuckDB type (for messages)
    uniques: list[pa.Array]  # per join key: its distinct values (codes index them)
    steps: list[Ints]  # keys 2..n: sorted distinct combined codes
    codes: Ints  # per row: the dense entity code
    stamps: Ints  # per row: event time, UTC ns
    sorted_keys: Ints  # per row: code * span + time position (non-decreasing)
    span: int
    origin: int  # direct scheme: time position = (ns - origin) // unit + 1
    times: Ints | None  # rank scheme: the distinct event times
    unit: int = 1  # direct scheme: ns per time step (every event time is a multiple of it)


def _codes(columns: Sequence[pa.Array]) -> tuple[list[pa.Array], list[Ints], Ints]:
    """Dense codes of the (multi-column) keys; all keys are non-null."""
    uniques = [pc.unique(c) for c in columns]
    code: Ints = pc.index_in(columns[0], value_set=uniques[0]).to_numpy().astype(np.int64)
    steps: list[Ints] = []
    for column, unique in zip(columns[1:], uniques[1:], strict=True):
        part = pc.index_in(column, value_set=unique).to_numpy().astype(np.int64)
        distinct, code = np.unique(code * len(unique) + part, return_inverse=True)
        steps.append(distinct.astype(np.int64))
    return uniques, steps, code.astype(np.int64)


def build(con: duckdb.DuckDBPyConnection, view: FeatureView, alias: str) -> SortedRows:
    """Sort the rows of the registered relation ``alias`` (see ``feature_relation``)."""
    keys = list(view.entity.join_keys)
    described = con.sql(f"DESCRIBE SELECT * FROM {alias}").fetchall()
    key_types = {str(r[0]): str(r[1]) for r in described if str(r[0]) in keys}
    not_null = " AND ".join(f"{quote(k)} IS NOT NULL" for k in keys)
    table = con.sql(f"SELECT * FROM {alias} WHERE {not_null}").to_arrow_table()
    uniques, steps, codes = _codes([table.column(k).combine_chunks() for k in keys])
    stamps = table.column("__ts").to_numpy().astype(np.int64)
    created = table.column("__created").to_numpy().astype(np.int64)
    count = int(codes.max()) + 1 if len(codes) else 1
    origin = int(stamps.min()) if len(stamps) else 0
    unit = _time_unit(stamps)
    span = (int(stamps.max()) - origin) // unit + 2 if len(stamps) else 2
    times: Ints | None = None
    if count * span >= 2**62:  # the time range is too wide to pack: rank the times instead
        times = np.unique(stamps)
        span, unit = len(times) + 1, 1
        position = np.searchsorted(times, stamps) + 1
    else:
        position = (stamps - origin) // unit + 1
    packed = codes * span + position
    order = _sort_order(packed, created)
    table = table.drop_columns([*keys, "__created"]).take(pa.array(order))
    codes, stamps, sorted_keys = codes[order], stamps[order], packed[order]
    return SortedRows(
        table, key_types, uniques, steps, codes, stamps, sorted_keys, span, origin, times, unit
    )


def _sort_order(packed: Ints, created: Ints) -> Ints:
    """Row order by (packed key, created time, source position).

    One unstable argsort of the packed (code, time) key, then only the rows
    that share a key are re-sorted by created time and source position: on
    10M rows that is several times cheaper than a three-key ``lexsort``.
    """
    order: Ints = np.argsort(packed)
    ranked = packed[order]
    ties = np.flatnonzero(ranked[1:] == ranked[:-1])
    if ties.size:
        members = np.union1d(ties, ties + 1)  # positions (in sorted order) of tied rows
        rows = order[members]
        order[members] = rows[np.lexsort((rows, created[rows], ranked[members]))]
    return order


def _time_unit(stamps: Ints) -> int:
    """The coarsest of s, ms, µs, ns that every event time is a whole multiple of.

    Event times usually have whole seconds or microseconds; packing positions in
    that unit keeps ``code × span`` within int64 for long histories, where the
    rank scheme would cost a hash-unique and a search over all rows.
    """
    for unit in (10**9, 10**6, 10**3):
        if len(stamps) and not np.any(stamps % unit):
            return unit
    return 1


# -- entity side -------------------------------------------------------------------------
def _family(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    return str(arrow_type)


def _aligned(entity: pa.Array, unique: pa.Array, key: str, rows: SortedRows) -> pa.Array:
    """Both sides' key values in one type, the way SQL compares them; else an error."""
    mine, theirs = _family(entity.type), _family(unique.type)
    numbers = {"integer", "float"}
    try:
        if mine in numbers and theirs in numbers:
            target = pa.int64() if mine == theirs == "integer" else pa.float64()
        elif mine == theirs == "text":
            target = pa.large_string()
        elif mine == theirs or mine == "null":
            target = unique.type
        else:
            raise pa.ArrowInvalid("different kinds")
        return pc.index_in(entity.cast(target), value_set=unique.cast(target))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"Join key '{key}' is {entity.type} in entity_df but {rows.key_types[key]} in the "
            "feature view. Convert the entity_df column.",
            field=key,
        ) from exc


def entity_codes(rows: SortedRows, keys: dict[str, pa.Array]) -> Ints:
    """Each entity row's code in ``rows`` (-1: a key the view has never seen)."""
    parts = []
    for (key, array), unique in zip(keys.items(), rows.uniques, strict=True):
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        found = _aligned(array, unique, key, rows)
        parts.append(found.fill_null(-1).to_numpy().astype(np.int64))
    code: Ints = parts[0]
    for part, unique, distinct in zip(parts[1:], rows.uniques[1:], rows.steps, strict=True):
        if not len(distinct):
            return np.full(len(code), -1, dtype=np.int64)
        combined = code * len(unique) + part
        at = np.minimum(np.searchsorted(distinct, combined), len(distinct) - 1)
        code = np.where((code >= 0) & (part >= 0) & (distinct[at] == combined), at, -1)
    return code


def latest(rows: SortedRows, codes: Ints, stamps: Ints) -> Ints:
    """Per entity row: the sorted row index of its key's latest row at or before its time.

    -1 where the key has no such row. Among rows with the same key and event
    time the last in sort order wins, i.e. the latest created one.
    """
    if not len(rows.codes):
        return np.full(len(codes), -1, dtype=np.int64)
    if rows.times is not None:
        position = np.searchsorted(rows.times, stamps, side="right")
    else:
        unit = rows.unit
        clipped = np.clip(stamps, rows.origin - unit, rows.origin + (rows.span - 2) * unit)
        # Flooring is exact: every stored time is a multiple of unit, so s <= t iff
        # s <= the multiple of unit at or below t.
        position = (clipped - rows.origin) // unit + 1
    wanted = np.where(codes >= 0, codes, 0) * rows.span + position
    # Searching in query order is ~3x faster than in random order (cache, branches).
    order = np.argsort(wanted)
    at = np.empty(len(wanted), dtype=np.int64)
    at[order] = np.searchsorted(rows.sorted_keys, wanted[order], side="right") - 1
    safe = np.maximum(at, 0)
    hit = (codes >= 0) & (at >= 0) & (rows.codes[safe] == codes)
    found: Ints = np.where(hit, at, -1)
    return found


# -- the cache ---------------------------------------------------------------------------
def _identity(view: FeatureView, source: Source, workspace: Workspace) -> tuple[Any, ...] | None:
    files = source.files(workspace)
    if files is None:
        return None
    spec = {k: v for k, v in view.spec().items() if k not in _WINDOW_FIELDS}
    stats = []
    for path in files:
        info = os.stat(path)
        stats.append((path, info.st_mtime_ns, info.st_size))
    return (spec_hash(spec), tuple(stats))


class SortedCache:
    """Per view: the sorted rows of its current source files (one entry per view name)."""

    def __init__(self, workspace: Workspace | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[tuple[Any, ...], SortedRows]] = {}

    def get(self, view: FeatureView, workspace: Workspace, make: Any) -> SortedRows:
        """The cached rows of ``view``, or ``make()``'s (kept when the source is known)."""
        assert isinstance(view.source, Source)
        identity = _identity(view, view.source, workspace)
        with self._lock:
            entry = self._entries.get(view.name)
        if identity is not None and entry is not None and entry[0] == identity:
            return entry[1]
        rows: SortedRows = make()
        if identity is not None:
            with self._lock:
                self._entries[view.name] = (identity, rows)
        return rows

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
