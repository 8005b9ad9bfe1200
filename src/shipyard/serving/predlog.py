"""The prediction log: every prediction, off the response path, to Parquet.

The request path only appends one tuple (ids, validated input arrays,
outputs…: strings, numbers and NumPy arrays, which the cyclic GC does not
track) to an in-memory deque: O(1), no I/O, no per-row work. Under load it is
one tuple per model call, not per request: the batcher hands over a call's
stacked inputs and outputs with the requests' ids, routes and latencies
(``record_batch``), so coalesced requests share one entry. A background
thread wakes every ``prediction_log_flush_seconds`` (default 1 s), builds one
Arrow table per deployment and day column by column (the rows' JSON text is
formatted from the stacked arrays in a few C passes, byte-identical to
``json.dumps``) and writes it, one file and row group per window, to::

    DATA_DIR/predictions/deployment=NAME/date=YYYY-MM-DD/part-<ns>-<pid>-<rand>.parquet

Files are written under a temporary name and renamed, so readers never see a
half-written file. ``close()`` (a clean shutdown) flushes everything; a crash
loses at most one flush window. ``query`` reads the files with DuckDB.

Row columns: ``prediction_id`` (the key ground truth joins on), ``timestamp``
(UTC), ``deployment``, ``model``, ``model_version``, ``route``
(production / canary / shadow), ``input_hash`` (SHA-256 of the row's canonical
JSON, first 32 hex digits), ``inputs``, ``features`` and ``outputs`` (JSON
text), ``latency_ms``. ``input_hash`` is not stored: every reader here
(``query``, the monitoring views) derives it from ``inputs``; reading the files
with another tool, compute ``left(sha256(inputs), 32)``.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.workspace import Workspace

Columns = Mapping[str, npt.NDArray[Any]]
COLUMNS = (
    "prediction_id",
    "timestamp",
    "deployment",
    "model",
    "model_version",
    "route",
    "input_hash",
    "inputs",
    "features",
    "outputs",
    "latency_ms",
)


@dataclass
class LoggedRequest:
    """One request's predictions, as the hot path hands them over."""

    deployment: str
    model: str
    model_version: str
    route: str
    ids: list[str]
    inputs: Columns
    outputs: Columns
    latency_ms: float
    timestamp: float = field(default_factory=time.time)
    features: Columns | None = None


# Every column is stored but ``input_hash``, which readers derive from ``inputs``
# (DuckDB's SHA-256 of the text): hashing costs the server nothing.
INPUT_HASH_SQL = "left(sha256(inputs), 32)"


def select_list() -> str:
    """The SQL select list of the log's columns over its files, in ``COLUMNS`` order."""
    return ", ".join(f"{INPUT_HASH_SQL} AS input_hash" if c == "input_hash" else c for c in COLUMNS)


def new_ids(count: int) -> list[str]:
    """``count`` random 32-hex-digit prediction ids (one urandom call for all)."""
    raw = os.urandom(16 * count).hex()
    return [raw[i : i + 32] for i in range(0, 32 * count, 32)]


def predictions_dir(data_dir: Path) -> Path:
    return data_dir / "predictions"


class PredictionLog:
    """An in-memory queue of predictions and the thread that writes it to Parquet."""

    def __init__(self, data_dir: Path, flush_seconds: float = 1.0) -> None:
        if flush_seconds <= 0:
            raise InvalidInput(
                f"prediction_log_flush_seconds must be > 0, got {flush_seconds!r}.",
                field="prediction_log_flush_seconds",
            )
        self.root = predictions_dir(data_dir)
        self.flush_seconds = flush_seconds
        self._pending: deque[_Entry] = deque()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rows_written = 0
        self.write_errors = 0

    def record(self, request: LoggedRequest) -> None:
        """Queue a request's predictions (called on the response path: no I/O)."""
        self._pending.append(_entry(request))
        if self._thread is None:
            self.start()

    def record_batch(
        self,
        deployment: str,
        model: str,
        model_version: str,
        *,
        ids: Sequence[str],
        inputs: Columns,
        outputs: Columns,
        routes: Sequence[str],
        latencies_ms: Sequence[float],
        rows: Sequence[int],
    ) -> None:
        """Queue the predictions of one model call that served several requests.

        ``inputs``, ``outputs`` and ``ids`` hold every row of the call, request after
        request; ``routes``, ``latencies_ms`` and ``rows`` hold one value per request.
        One entry for the whole call: under load, a batch of requests costs the
        response path (and the writer) about what one request does.
        """
        entry = (
            deployment,
            model,
            model_version,
            time.time(),
            tuple(routes),
            tuple(latencies_ms),
            tuple(rows),
            tuple(ids),
            _freeze(inputs),
            _freeze(outputs),
            None,
        )
        self._pending.append(entry)
        if self._thread is None:
            self.start()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="prediction-log", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # OSError: kept queued, retried next window; else counted
                self.write_errors += 1

    def flush(self) -> int:
        """Write everything queued so far; the number of rows written."""
        with self._write_lock:
            taken: list[_Entry] = []
            while self._pending:
                taken.append(self._pending.popleft())
            return self._write(taken) if taken else 0

    def _write(self, entries: list[_Entry]) -> int:
        """One file per (deployment, UTC day) per window: few, large row groups.

        A partition that cannot be written (OSError: disk full, permissions) goes back
        to the queue for the next window, and the error is raised once the others are
        written; a request whose columns cannot be encoded is dropped and counted.
        """
        import pyarrow.parquet as pq

        partitions: dict[tuple[str, int], list[_Entry]] = {}
        for entry in entries:
            if entry[7]:  # it has rows
                partitions.setdefault((entry[0], int(entry[3] // 86400)), []).append(entry)
        total = 0
        failure: OSError | None = None
        for (deployment, day_number), group in partitions.items():
            table = self._encode(group)
            if table is None:
                continue
            day = datetime.fromtimestamp(day_number * 86400, UTC).strftime("%Y-%m-%d")
            folder = self.root / f"deployment={deployment}" / f"date={day}"
            name = f"part-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                temporary = folder / f".{name}.tmp"
                pq.write_table(table, temporary, **_PARQUET_OPTIONS)
                temporary.replace(folder / name)
            except OSError as exc:
                self._pending.extendleft(reversed(group))
                failure = exc
                continue
            total += table.num_rows
        self.rows_written += total
        if failure is not None:
            raise failure
        return total

    def _encode(self, group: list[_Entry]) -> Any:
        """The group's table; a request that cannot be encoded is left out and counted."""
        try:
            return _table(group)
        except (ValueError, TypeError):  # Arrow's errors subclass these
            tables = []
            for entry in group:
                try:
                    tables.append(_table([entry]))
                except (ValueError, TypeError):
                    self.write_errors += 1
            if not tables:
                return None
            import pyarrow as pa

            return pa.concat_tables(tables)

    def close(self) -> None:
        """Stop the writer thread and flush what is left (a clean shutdown loses nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()


# Dictionaries and min/max statistics only where they pay: the few-valued columns and
# the timestamp (DuckDB skips row groups outside a query's window by it). On the
# unique text columns they cost write time for nothing; zstd writes half the bytes of
# snappy, faster.
_SMALL_COLUMNS = ["deployment", "model", "model_version", "route"]
_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": _SMALL_COLUMNS,
    "write_statistics": [*_SMALL_COLUMNS, "timestamp", "latency_ms"],
}


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("prediction_id", pa.string()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("deployment", pa.string()),
            ("model", pa.string()),
            ("model_version", pa.string()),
            ("route", pa.string()),
            ("inputs", pa.string()),
            ("features", pa.string()),
            ("outputs", pa.string()),
            ("latency_ms", pa.float64()),
        ]
    )


# What the queue holds per request: plain tuples of strings, numbers and arrays.
# The GC does not track such tuples, so a second of queued requests adds nothing to
# the cyclic collector's full passes (dataclasses, dicts and lists would, every time).
_Frozen = tuple[str, tuple[str, ...], Any] | None  # ("m", names, matrix) | ("c", names, arrays)
# One model call: deployment, model, version, time; then per request: routes, latencies
# and row counts; then per row: ids, inputs, outputs, features.
_Entry = tuple[
    str,
    str,
    str,
    float,
    tuple[str, ...],
    tuple[float, ...],
    tuple[int, ...],
    tuple[str, ...],
    _Frozen,
    _Frozen,
    _Frozen,
]


def _entry(r: LoggedRequest) -> _Entry:
    return (
        r.deployment,
        r.model,
        r.model_version,
        r.timestamp,
        (r.route,),
        (r.latency_ms,),
        (len(r.ids),),
        tuple(r.ids),
        _freeze(r.inputs),
        _freeze(r.outputs),
        _freeze(r.features),
    )


def _freeze(columns: Columns | None) -> _Frozen:
    if not columns:
        return None
    matrix = getattr(columns, "matrix", None)
    if isinstance(matrix, np.ndarray):
        return ("m", tuple(columns), matrix)
    arrays = tuple(v if isinstance(v, np.ndarray) else np.asarray(v) for v in columns.values())
    return ("c", tuple(columns), arrays)


def _table(entries: list[_Entry]) -> Any:
    """One Arrow table for many requests: column-wise, no per-row Python but the hash."""
    import pyarrow as pa

    # Transposed once: one tuple per field; everything after is per column.
    (deployments, models, versions, seconds, routes, latencies, counts, ids, inputs, outputs,
     features) = zip(*entries, strict=True)  # fmt: skip
    chain = itertools.chain.from_iterable
    per_request = np.fromiter(chain(counts), dtype=np.int64)
    per_entry = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    if int(per_request.sum()) != int(per_entry.sum()):
        raise ValueError("an entry's row counts do not add up to its ids")
    by_entry, by_request = _Repeater(per_entry), _Repeater(per_request)
    micros = np.round(np.array(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    columns = {
        "prediction_id": _strings(list(chain(ids))),
        "timestamp": by_entry(pa.array(micros, pa.timestamp("us", tz="UTC"))),
        "deployment": by_entry(pa.array(deployments, pa.string())),
        "model": by_entry(pa.array(models, pa.string())),
        "model_version": by_entry(pa.array(versions, pa.string())),
        "route": by_request(pa.array(list(chain(routes)), pa.string())),
        "inputs": _json_rows(inputs, by_entry, empty="{}"),
        "features": _json_rows(features, by_entry, empty=None),
        "outputs": _json_rows(outputs, by_entry, empty="{}"),
        "latency_ms": by_request(pa.array(np.fromiter(chain(latencies), dtype=np.float64))),
    }
    return pa.table(columns, schema=_schema())


class _Repeater:
    """Spreads one value per request over that request's rows (Arrow ``take``)."""

    def __init__(self, counts: npt.NDArray[np.int64]) -> None:
        self.counts = counts
        self.single = bool((counts == 1).all())  # the common case: one row per request
        self._index: Any = None

    def __call__(self, values: Any) -> Any:
        if self.single:
            return values
        if self._index is None:
            import pyarrow as pa

            self._index = pa.array(np.repeat(np.arange(len(self.counts)), self.counts))
        return values.take(self._index)

    def rows(self, start: int, end: int) -> int:
        return int(self.counts[start:end].sum())


def _strings(texts: list[str]) -> Any:
    """A string array of ``texts``; one join and no per-value Arrow work when all are
    as long as the first (prediction ids: 32 hex digits each)."""
    import pyarrow as pa

    width = len(texts[0]) if texts else 0
    joined = "".join(texts)
    if width == 0 or len(joined) != width * len(texts) or not joined.isascii():
        return pa.array(texts, pa.string())
    return _fixed_width(joined.encode(), width, len(texts))


def _fixed_width(data: bytes, width: int, count: int) -> Any:
    import pyarrow as pa

    offsets = np.arange(0, width * (count + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def _signature(frozen: _Frozen) -> Hashable:
    """What must match for two requests' columns to be concatenated (names, dtypes, widths)."""
    if frozen is None:
        return None
    kind, names, data = frozen
    if kind == "m":
        return (names, data.dtype)
    return (names, *[(a.dtype, a.shape[1:]) for a in data])


def _json_rows(batches: Sequence[_Frozen], repeat: _Repeater, empty: str | None) -> Any:
    """Each row of each request as canonical JSON text (sorted keys, NaN as null).

    Consecutive requests with the same columns are concatenated and formatted
    together, column by column: the text is byte-identical to
    ``json.dumps(row, separators=(",", ":"))`` with sorted keys (so input hashes
    stay stable), at a fraction of the cost.
    """
    import pyarrow as pa

    pieces = []
    for start, end in _runs(batches):
        rows = repeat.rows(start, end)
        if batches[start] is None:
            pieces.append(pa.nulls(rows, pa.string()) if empty is None else pa.repeat(empty, rows))
        else:
            pieces.append(_object_text(batches[start:end], rows))
    if not pieces:
        return pa.array([], pa.string())
    return pa.concat_arrays(pieces) if len(pieces) > 1 else pieces[0]


def _runs(batches: Sequence[_Frozen]) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of consecutive requests whose columns concatenate.

    Kind and names are compared request by request; dtypes and widths column by
    column over a whole run, which costs far less than a signature per request
    (a window holds thousands of one-row requests of the same model).
    """
    runs: list[tuple[int, int]] = []
    start = 0
    for _, group in itertools.groupby(batches, key=_kind_and_names):
        end = start + len(list(group))
        if end - start > 1 and batches[start] is not None and not _uniform(batches[start:end]):
            runs += _runs_by_signature(batches, start, end)
        else:
            runs.append((start, end))
        start = end
    return runs


def _kind_and_names(frozen: _Frozen) -> Hashable:
    return None if frozen is None else frozen[:2]


def _uniform(run: Sequence[_Frozen]) -> bool:
    """Whether every request of a same-names run has the first one's dtypes and widths."""
    kind, names, first = run[0]  # type: ignore[misc]
    if kind == "m":  # a matrix's width is its names'
        return _same_dtype_and_width([f[2] for f in run], first, widths=False)  # type: ignore[index]
    return all(
        _same_dtype_and_width([f[2][j] for f in run], first[j])  # type: ignore[index]
        for j in range(len(names))
    )


def _same_dtype_and_width(
    arrays: list[npt.NDArray[Any]], first: npt.NDArray[Any], widths: bool = True
) -> bool:
    # C-level maps and counts: this runs over every request of a window.
    if list(map(_dtype_of, arrays)).count(first.dtype) != len(arrays):
        return False
    if not widths:
        return True
    if list(map(_ndim_of, arrays)).count(first.ndim) != len(arrays):
        return False
    return first.ndim == 1 or all(a.shape[1:] == first.shape[1:] for a in arrays)


_dtype_of = operator.attrgetter("dtype")
_ndim_of = operator.attrgetter("ndim")


def _runs_by_signature(batches: Sequence[_Frozen], start: int, end: int) -> list[tuple[int, int]]:
    runs = []
    for _, group in itertools.groupby(range(start, end), key=lambda i: _signature(batches[i])):
        indexes = list(group)
        runs.append((indexes[0], indexes[-1] + 1))
    return runs


def _object_text(run: Sequence[_Frozen], rows: int) -> Any:
    """The JSON objects of the rows of requests that share their columns."""
    import pyarrow.compute as pc

    names = run[0][1]  # type: ignore[index]
    columns = _run_columns(run)
    fast = _numeric_objects(names, columns)
    if fast is not None:
        return fast
    texts = [_value_text(array, rows) for array in columns]
    parts: list[Any] = []
    for index, j in enumerate(sorted(range(len(names)), key=names.__getitem__)):
        parts += [("{" if index == 0 else ",") + json.dumps(names[j]) + ":", texts[j]]
    return pc.binary_join_element_wise(*parts, "}", "")


def _run_columns(run: Sequence[_Frozen]) -> list[npt.NDArray[Any]]:
    """The columns of a run of same-shaped requests, concatenated (a matrix as one block)."""
    kind, names, first = run[0]  # type: ignore[misc]
    if kind == "m":
        block = np.concatenate([f[2] for f in run]) if len(run) > 1 else first  # type: ignore[index]
        return [block[:, j] for j in range(len(names))]
    if len(run) > 1:
        return [np.concatenate([f[2][j] for f in run]) for j in range(len(names))]  # type: ignore[index]
    return list(first)


# Rows per formatting pass of ``_numeric_objects``: each pass is a few C calls that hold
# the GIL, so a window's backlog is cut into passes short enough (about a millisecond)
# not to stall the event loop, and far below Arrow's 2 GiB string-array limit.
_CHUNK_ROWS = 2_048


def _numeric_objects(names: Sequence[str], columns: list[npt.NDArray[Any]]) -> Any:
    """The rows' JSON objects when every column is numeric (else ``None``): the fast path.

    ``columns`` is one array per name (1-D: a scalar per row, 2-D: a list per
    row). orjson writes all values in one pass (its float text is Python's
    ``repr`` except for infinities and ``1e-9 <= |x| < 1e-4``, which are redone
    with ``repr``); the comma between two values becomes a ``%s`` and one
    ``%`` puts the keys and brackets in. The text is ``json.dumps``'s, sorted
    keys and NaN as ``null``.
    """
    import pyarrow as pa

    if not columns or any(c.ndim not in (1, 2) or c.dtype.kind not in "biuf" for c in columns):
        return None
    order = sorted(range(len(names)), key=names.__getitem__)
    columns = [columns[j] for j in order]
    keys = [json.dumps(names[j]).encode() for j in order]
    separators = _separators(keys, [None if c.ndim == 1 else c.shape[1] for c in columns])
    rows = len(columns[0])
    if len(separators) == 1:  # no values at all: only empty lists
        return pa.repeat(separators[0].decode(), rows)
    pieces = [
        _format_rows(separators, [c[start : start + _CHUNK_ROWS] for c in columns])
        for start in range(0, rows, _CHUNK_ROWS)
    ]
    if len(pieces) == 1:
        return pieces[0]
    return pa.concat_arrays(pieces) if pieces else pa.array([], pa.string())


def _separators(keys: Sequence[bytes], widths: Sequence[int | None]) -> list[bytes]:
    """The text before each value of a row, and after its last: keys, brackets, commas.

    ``widths`` is ``None`` for a scalar column, else the length of its lists.
    """
    separators: list[bytes] = []
    pending = b"{"
    for index, (key, width) in enumerate(zip(keys, widths, strict=True)):
        pending += (b"," if index else b"") + key + b":"
        if width is None:
            separators.append(pending)
            pending = b""
            continue
        pending += b"["
        for slot in range(width):
            separators.append(pending if slot == 0 else b",")
            pending = b""
        pending += b"]"
    separators.append(pending + b"}")
    return separators


def _format_rows(separators: list[bytes], columns: list[npt.NDArray[Any]]) -> Any:
    import pyarrow as pa

    rows = len(columns[0])
    first, last = separators[0], separators[-1]
    # A NUL ends each row: JSON text never holds a raw one, so it marks the offsets.
    between = (*separators[1:-1], last + b"\0" + first)
    template = b"%s" + _values_text(columns, rows).replace(b",", b"%s") + b"%s"
    text = (template % ((first, *between * rows)))[: -len(first)]
    ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 0)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    offsets[1:] = ends - np.arange(rows)
    data = text.replace(b"\0", b"")
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))


def _values_text(columns: list[npt.NDArray[Any]], rows: int) -> bytes:
    """Every value's JSON text, row by row, comma-separated."""
    if all(c.dtype.kind == "f" for c in columns):
        flat = np.hstack([c.reshape(rows, -1) for c in columns]).astype(np.float64, copy=False)
        return _float_text_of(flat.ravel())
    grid = np.empty((rows, sum(1 if c.ndim == 1 else c.shape[1] for c in columns)), object)
    at = 0
    for column in columns:
        width = 1 if column.ndim == 1 else column.shape[1]
        if column.dtype.kind == "f":
            texts = _float_values(column.astype(np.float64, copy=False).ravel())
        else:
            texts = _orjson_text(column.ravel()).split(b",")
        grid[:, at : at + width] = np.array(texts, dtype=object).reshape(rows, width)
        at += width
    return b",".join(grid.ravel().tolist())


def _orjson_text(flat: npt.NDArray[Any]) -> bytes:
    """The values' JSON text, comma-separated (integers and booleans: ``json.dumps``'s)."""
    import orjson

    text = orjson.dumps(np.ascontiguousarray(flat), option=orjson.OPT_SERIALIZE_NUMPY)
    return text[1:-1]


def _needs_repr(flat: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Where orjson's float text is not ``repr``'s: infinities (it writes ``null``), and
    ``1e-9 <= |x| < 1e-4``, where it writes ``0.00001`` and ``1e-7`` for ``1e-05`` and
    ``1e-07`` (the bound is taken a decade wider; redoing a value that agreed is harmless)."""
    with np.errstate(invalid="ignore"):
        magnitude = np.abs(flat)
        return np.isinf(flat) | ((magnitude >= 1e-10) & (magnitude < 1e-4))  # type: ignore[no-any-return]


def _float_text_of(flat: npt.NDArray[np.float64]) -> bytes:
    """The floats' ``json.dumps`` text (NaN as ``null``), comma-separated."""
    if not len(flat):
        return b""
    if not _needs_repr(flat).any():
        return _orjson_text(flat)
    return b",".join(_float_values(flat))


def _float_values(flat: npt.NDArray[np.float64]) -> list[bytes]:
    """Each float's ``json.dumps`` text (NaN as ``null``): orjson, ``repr`` where they differ."""
    if not len(flat):
        return []
    values = _orjson_text(flat).split(b",")
    for index in np.flatnonzero(_needs_repr(flat)).tolist():
        values[index] = _json_float(float(flat[index])).encode()
    return values


def _json_float(value: float) -> str:
    """``json.dumps(value)`` of a float, NaN as ``null``."""
    if value != value:
        return "null"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _value_text(values: npt.NDArray[Any], rows: int) -> Any:
    """The JSON text of each row's value of one column (a scalar, or a list for 2-D)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.dtype.kind
    if values.ndim == 1 and kind in "fiub":
        return _scalar_text(values)
    if values.ndim == 2 and kind in "fiub":
        width = values.shape[1]
        if width == 0:
            return pa.repeat("[]", rows)
        parts: list[Any] = []
        for j in range(width):
            parts += ["[" if j == 0 else ",", _scalar_text(values[:, j])]
        return pc.binary_join_element_wise(*parts, "]", "")
    return pa.array([_dumps(v) for v in _plain(values)], pa.string())


def _scalar_text(values: npt.NDArray[Any]) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.dtype.kind
    if kind == "b":
        return pc.if_else(pa.array(values), "true", "false")
    if kind in "iu":
        return pc.cast(pa.array(values), pa.string())
    return _float_text(values.astype(np.float64, copy=False))


def _float_text(values: npt.NDArray[np.float64]) -> Any:
    """Python's ``repr`` of each float (``json.dumps``'s form), NaN as ``null``."""
    import pyarrow as pa

    count = len(values)
    body = _float_text_of(values)
    # The values are comma-separated: cut the text there instead of making one object each.
    commas = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == ord(","))
    offsets = np.empty(count + 1, dtype=np.int32)
    offsets[0] = 0
    offsets[1:count] = commas + 1 - np.arange(1, count)
    offsets[count] = len(body) - max(count - 1, 0)
    data = body.replace(b",", b"")
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _plain(values: Any) -> list[Any]:
    array = np.asarray(values)
    if array.dtype.kind == "f" and np.isnan(array).any():
        as_object = array.astype(object)
        as_object[np.isnan(array)] = None
        return as_object.tolist()  # type: ignore[no-any-return]
    if array.dtype.kind == "M":
        return [str(v) for v in array.astype("datetime64[us]").tolist()]
    return array.tolist()  # type: ignore[no-any-return]


def query(
    deployment: str,
    start: datetime | None = None,
    end: datetime | None = None,
    sql: str | None = None,
    *,
    limit: int | None = None,
    workspace: Workspace | None = None,
) -> pd.DataFrame:
    """Logged predictions of a deployment in ``[start, end)``, newest first, as a DataFrame.

    ``sql`` runs against a view named ``predictions`` already restricted to the
    deployment and window, e.g. ``"SELECT route, count(*) FROM predictions GROUP BY 1"``.
    """
    import duckdb
    import pandas as pd

    from shipyard.workspace import current

    workspace = workspace or current()
    folder = predictions_dir(workspace.settings.data_dir) / f"deployment={deployment}"
    if not any(folder.glob("date=*/part-*.parquet")):
        return pd.DataFrame(columns=list(COLUMNS))
    where = ["TRUE"]
    if start is not None:
        where.append(f"timestamp >= TIMESTAMPTZ '{_utc(start, 'start')}'")
    if end is not None:
        where.append(f"timestamp < TIMESTAMPTZ '{_utc(end, 'end')}'")
    source = (folder / "date=*" / "part-*.parquet").as_posix()
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(
            f"CREATE TEMP VIEW predictions AS SELECT {select_list()} FROM "
            f"read_parquet('{_quote(source)}', hive_partitioning = false) "
            f"WHERE {' AND '.join(where)}"
        )
        text = sql or "SELECT * FROM predictions ORDER BY timestamp DESC, prediction_id"
        if limit is not None and sql is None:
            text += f" LIMIT {int(limit)}"
        try:
            frame: pd.DataFrame = connection.sql(text).to_arrow_table().to_pandas()
        except duckdb.Error as exc:
            raise InvalidInput(
                f"The SQL failed: {exc}. Query the view 'predictions' with columns "
                f"{', '.join(COLUMNS)}.",
                field="sql",
            ) from exc
        return frame
    finally:
        connection.close()


def _utc(moment: datetime, name: str) -> str:
    if not isinstance(moment, datetime):
        raise InvalidInput(f"{name} must be a datetime, got {moment!r}.", field=name)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive times are taken as UTC
    return moment.astimezone(UTC).isoformat()


def _quote(text: str) -> str:
    return text.replace("'", "''")
