"""One streaming pass over the input: canonical batches are hashed and written to Parquet,
and the reference profile is computed alongside.

The work is spread over three threads, which all spend their time in Arrow,
NumPy or hashlib code that releases the GIL:

- the caller's thread reads canonical batches and writes them to the sink
  (normally ``ArtifactStore.writer()``, so the snapshot lands in the store
  without a copy), re-cut into row groups of exactly ``ROW_GROUP_ROWS`` rows
  so that the file's bytes depend only on the content, not on how the source
  was chunked;
- one worker feeds the same batches, in row order, to the ``ContentHasher``;
- one worker profiles the data a whole column at a time, from the source's own
  column reader (``Source.columns``: Parquet files, Arrow tables, DataFrames).

An input whose estimated size (``Source.nbytes``) is at most ``IN_MEMORY_BYTES``
is first read whole into one canonical table that serves all three, so it is
read and converted once. Larger inputs are streamed: memory stays bounded by a
few batches plus one column on the profiling side, which reads its columns
from the source again. A large CSV file cannot be read by column: then
``Ingested.profile`` is None and the caller profiles the written file
(``profile_file``, two columns at a time).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.artifacts import BlobWriter
from shipyard.data.canonical import ContentHasher
from shipyard.data.profiles import (
    DEFAULT_BINS,
    DEFAULT_TOP,
    ColumnProfile,
    Profile,
    check_profile_options,
    profile_column,
)
from shipyard.data.sources import Source, materialize, open_source
from shipyard.errors import InvalidInput

Sink = str | Path | IO[bytes] | BlobWriter
COMPRESSION = "snappy"
ROW_GROUP_ROWS = 131_072
IN_MEMORY_BYTES = 256 << 20
PROFILE_THREADS = 2


@dataclass(frozen=True)
class Ingested:
    """What ingesting an input produced: content hash, schema, rows and (usually) the profile.

    ``profile`` is None only for large sources without a column reader; profile
    the written file with ``profile_file`` then.
    """

    content_hash: str
    schema: pa.Schema
    rows: int
    source: str
    profile: Profile | None


def ingest(
    data: Any,
    sink: Sink,
    *,
    bins: int = DEFAULT_BINS,
    top: int = DEFAULT_TOP,
    in_memory_bytes: int = IN_MEMORY_BYTES,
) -> Ingested:
    """Stream ``data`` (or an opened ``Source``) to ``sink`` as canonical Parquet, hashing and
    profiling on the way; inputs up to ``in_memory_bytes`` are read whole first."""
    check_profile_options(bins, top)
    source = data if isinstance(data, Source) else open_source(data)
    if source.nbytes is not None and source.nbytes <= in_memory_bytes:
        source = materialize(source)  # read once, not once per reader
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shipyard-profile") as pool:
        profiling = (
            pool.submit(_profile_source, source, stop, bins, top) if source.columns else None
        )
        try:
            hasher = _write(source, sink)
        except BaseException:
            stop.set()  # the profile is not needed any more; let the worker stop early
            raise
        columns = profiling.result() if profiling is not None else None
    profile = None if columns is None else Profile(hasher.rows, columns, bins, top)
    return Ingested(hasher.hexdigest(), source.schema, hasher.rows, source.label, profile)


def _write(source: Source, sink: Sink) -> ContentHasher:
    """Write every batch to ``sink`` and hash it; returns the hasher."""
    hasher = ContentHasher(source.schema)
    # Dictionary encoding only where it pays (text, bools): on high-cardinality numbers
    # every row group would be dictionary-encoded in full before falling back.
    dictionary = [f.name for f in source.schema if not _is_numeric(f.type)]
    with (
        pq.ParquetWriter(
            sink, source.schema, compression=COMPRESSION, use_dictionary=dictionary
        ) as writer,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="shipyard-hash") as hashing,
    ):
        pending: Future[None] | None = None
        for group in _row_groups(_nonempty(source.batches), ROW_GROUP_ROWS):
            for batch in group.to_batches():
                # One worker, and waiting for the previous batch, keep the hash in row order.
                if pending is not None:
                    pending.result()
                pending = hashing.submit(hasher.update, batch)
            writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
        if pending is not None:
            pending.result()
    if hasher.rows == 0:
        raise InvalidInput(
            f"The data from {source.label} has no rows; a dataset snapshot needs at least one.",
            field="data",
        )
    return hasher


def _nonempty(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    return (batch for batch in batches if batch.num_rows)


def _row_groups(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """The batches re-cut into tables of exactly ``rows`` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            table = pa.Table.from_batches(pending)
            full = count - count % rows
            for start in range(0, full, rows):
                yield table.slice(start, rows)
            rest = table.slice(full)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)


def _profile_source(
    source: Source, stop: threading.Event, bins: int, top: int
) -> dict[str, ColumnProfile] | None:
    """Each column's profile, from the source's column reader; None if ``stop`` is set."""
    assert source.columns is not None
    profiles: dict[str, ColumnProfile] = {}
    for name, column in source.columns():
        if stop.is_set():
            return None
        profiles[name] = profile_column(name, column, bins, top)
    return profiles


def _is_numeric(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)) or bool(
        pa.types.is_timestamp(arrow_type)
    )


def profile_file(path: Path, *, bins: int = DEFAULT_BINS, top: int = DEFAULT_TOP) -> Profile:
    """The profile of a canonical Parquet file, one column at a time on each of two threads.

    Memory peaks at about two columns; NumPy's sort and Arrow's reader release the GIL.
    """
    check_profile_options(bins, top)
    metadata = pq.read_metadata(path)
    names = metadata.schema.to_arrow_schema().names

    def one(name: str) -> ColumnProfile:
        column = pq.read_table(path, columns=[name]).column(0)
        return profile_column(name, column, bins, top)

    with ThreadPoolExecutor(max_workers=PROFILE_THREADS) as pool:
        profiles = dict(zip(names, pool.map(one, names), strict=True))
    return Profile(metadata.num_rows, profiles, bins, top)
