"""The canonical form of a table, and the content hash computed over it.

Two tables hold "the same data" when they have the same column names, the same
canonical column types and the same values in the same row order. Column
order, the file format, Parquet row groups, Arrow chunking, integer widths and
timestamp units do not matter. The canonical form (also what a snapshot
stores) is:

==============================  ===========================  =====================
source type                     canonical type (name)        hashed as
==============================  ===========================  =====================
any signed int, uint8..uint64   ``int64``                    int64 little-endian
float16/32/64, decimal          ``float64``                  IEEE-754 double LE
bool                            ``bool``                     one byte, 0 or 1
string, large/view, dictionary  ``string``                   int64 length + UTF-8
timestamp (any unit, any zone)  ``timestamp`` (µs, UTC)      int64 µs since epoch
date32 / date64                 ``timestamp`` (midnight UTC) int64 µs since epoch
all-null column                 ``null``                     (nothing)
==============================  ===========================  =====================

Missing values are Arrow nulls; in float columns NaN is a null too, and -0.0
becomes 0.0. A naive timestamp is taken to be UTC; sub-microsecond precision
is truncated. Dates become timestamps at midnight UTC, because the same
day reads as a date from a CSV file but as a timestamp from a DataFrame.
Other types (binary, lists, structs, durations…) are refused.

The hash (``ContentHasher``): for each column, three SHA-256 streams over the
rows in order — values (nulls written as 0 / empty), the int64 row numbers of
the nulls, and for strings the int64 byte lengths. Every encoding is a plain
concatenation over rows, so any chunking gives the same digests. The content
hash is the SHA-256 of::

    b"shipyard-snapshot-v1\\n" + JSON([[name, type], …] sorted by name) + b"\\n"
    + row count (int64 LE)
    + for each column, sorted by name: values, nulls, lengths digests (32 bytes each)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import InvalidInput

HASH_PREFIX = b"shipyard-snapshot-v1\n"

INT64, FLOAT64, BOOL, STRING, TIMESTAMP, NULL = (
    "int64",
    "float64",
    "bool",
    "string",
    "timestamp",
    "null",
)
ARROW_TYPES: dict[str, pa.DataType] = {
    INT64: pa.int64(),
    FLOAT64: pa.float64(),
    BOOL: pa.bool_(),
    STRING: pa.large_string(),
    TIMESTAMP: pa.timestamp("us", tz="UTC"),
    NULL: pa.null(),
}
TYPE_NAMES = tuple(ARROW_TYPES)
NUMERIC_TYPES = frozenset({INT64, FLOAT64, TIMESTAMP})


def canonical_type(name: str, arrow_type: pa.DataType) -> str:
    """The canonical type name for a column of ``arrow_type``; refuses unsupported types."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return canonical_type(name, t.value_type)
    if pa.types.is_integer(t):
        return INT64
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return FLOAT64
    if pa.types.is_boolean(t):
        return BOOL
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return STRING
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return TIMESTAMP
    if pa.types.is_null(t):
        return NULL
    raise InvalidInput(
        f"Column '{name}' has type {t}, which a dataset snapshot cannot hold. Supported: "
        f"{', '.join(TYPE_NAMES)}. Convert the column (e.g. to string) before adding it.",
        field=name,
    )


def canonical_schema(schema: pa.Schema) -> pa.Schema:
    """The canonical Arrow schema: same names and order, canonical types, all nullable."""
    check_names(schema.names)
    return pa.schema(
        [pa.field(f.name, ARROW_TYPES[canonical_type(f.name, f.type)]) for f in schema]
    )


def check_names(names: Sequence[object]) -> None:
    """Column names must be non-empty strings, each used once."""
    if not names:
        raise InvalidInput(
            "The data has no columns; a dataset needs at least one.", field="columns"
        )
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidInput(
                f"Column name {name!r} is not a non-empty string; rename the column.",
                field="columns",
            )
        if name in seen:
            raise InvalidInput(
                f"Column name '{name}' appears more than once; column names must be unique. "
                "Rename or drop the duplicate.",
                field=name,
            )
        seen.add(name)


def normalize_array(array: pa.Array | pa.ChunkedArray, target: pa.DataType) -> pa.Array:
    """One column of a batch converted to its canonical type (see the module docstring)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_date(array.type):
        array = pc.cast(array, pa.timestamp("s"))  # midnight; date -> tz-aware has no cast
    if array.type != target:
        # Unsafe only so that ns -> µs truncates instead of failing (ints stay checked).
        safe = not pa.types.is_timestamp(target)
        array = pc.cast(array, target, safe=safe)
    if target == pa.float64():
        array = _normalize_floats(array)
    return array


def _normalize_floats(array: pa.Array) -> pa.Array:
    nan = pc.is_nan(array)
    if pc.any(nan).as_py():
        array = pc.if_else(nan, pa.scalar(None, pa.float64()), array)
    # -0.0 + 0.0 == +0.0 under IEEE round-to-nearest; other values are unchanged, so the
    # copy is only needed when there is a zero at all.
    if pc.any(pc.equal(array, pa.scalar(0.0))).as_py():
        array = pc.add(array, pa.scalar(0.0))
    return array


def normalize_column(field: pa.Field, column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``normalize_array`` for the column ``field`` names; a failure names the column."""
    try:
        return normalize_array(column, field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"Column '{field.name}' cannot be converted to {field.type}: {exc}. "
            "Fix or convert the column's values.",
            field=field.name,
        ) from exc


def normalize_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A record batch in the canonical ``schema`` (from ``canonical_schema``)."""
    columns = [
        normalize_column(field, column) for field, column in zip(schema, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


@dataclass
class _ColumnDigests:
    values: hashlib._Hash
    nulls: hashlib._Hash
    lengths: hashlib._Hash


class ContentHasher:
    """Feeds canonical batches in row order; ``hexdigest()`` is the content hash."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows = 0
        self._columns = {
            name: _ColumnDigests(hashlib.sha256(), hashlib.sha256(), hashlib.sha256())
            for name in schema.names
        }

    def update(self, batch: pa.RecordBatch) -> None:
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            _hash_column(self._columns[name], column, self.rows)
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        total = hashlib.sha256(HASH_PREFIX)
        total.update(json.dumps(schema_pairs(self.schema), separators=(",", ":")).encode())
        total.update(b"\n")
        total.update(np.int64(self.rows).astype("<i8").tobytes())
        for name in sorted(self._columns):
            digests = self._columns[name]
            for stream in (digests.values, digests.nulls, digests.lengths):
                total.update(stream.digest())
        return total.hexdigest()


def schema_pairs(schema: pa.Schema) -> list[list[str]]:
    """``[[name, canonical type], …]`` sorted by name: the schema part of the hash."""
    return sorted([f.name, canonical_type(f.name, f.type)] for f in schema)


def _hash_column(digests: _ColumnDigests, column: pa.Array, first_row: int) -> None:
    if column.null_count:
        rows = pc.indices_nonzero(column.is_null()).to_numpy().astype("<i8") + first_row
        digests.nulls.update(rows.data)
    if pa.types.is_null(column.type):
        return
    filled = column.fill_null(_zero(column.type)) if column.null_count else column
    if pa.types.is_large_string(filled.type):
        _hash_strings(digests, filled)
        return
    if pa.types.is_timestamp(filled.type):
        filled = filled.view(pa.int64())
    values = filled.to_numpy(zero_copy_only=False)
    little = values.astype(values.dtype.newbyteorder("<"), copy=False)
    digests.values.update(np.ascontiguousarray(little).data)


def _hash_strings(digests: _ColumnDigests, column: pa.Array) -> None:
    lengths = pc.binary_length(column).to_numpy().astype("<i8")
    digests.lengths.update(lengths.data)
    offsets = np.frombuffer(column.buffers()[1], dtype="<i8")
    start = int(offsets[column.offset])
    end = int(offsets[column.offset + len(column)])
    data = column.buffers()[2]
    if data is not None and end > start:
        digests.values.update(memoryview(data.slice(start, end - start)))


def _zero(arrow_type: pa.DataType) -> pa.Scalar:
    if pa.types.is_large_string(arrow_type):
        return pa.scalar("", arrow_type)
    if pa.types.is_boolean(arrow_type):
        return pa.scalar(False)
    if pa.types.is_timestamp(arrow_type):
        return pa.scalar(0, pa.int64()).cast(arrow_type)
    return pa.scalar(0, arrow_type)
