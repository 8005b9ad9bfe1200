"""Reading what a user hands us — a DataFrame, an Arrow table, a Parquet or CSV file.

Every source becomes a ``Source``: its canonical schema and an iterator of
canonical record batches (see ``canonical``). Files are streamed batch by
batch, so a file larger than memory never has to fit in it. Sources that can
be read a column at a time (Arrow tables, DataFrames, Parquet files) also
offer ``columns``, so the profile can be computed alongside the snapshot. Bad input is
refused here, before anything is stored, with a message naming the column,
line or file and what to do.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shipyard.data.canonical import (
    canonical_schema,
    check_names,
    normalize_batch,
    normalize_column,
)
from shipyard.errors import InvalidInput, NotFound

BATCH_ROWS = 131_072
CSV_BLOCK_BYTES = 16 << 20
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")


Columns = Callable[[], Iterator[tuple[str, pa.Array | pa.ChunkedArray]]]


@dataclass
class Source:
    """Canonical batches from one input, and where they came from.

    ``columns``, when set, starts a second, independent read of the same data
    that yields each whole canonical column in turn (one in memory at a time).
    ``nbytes`` estimates the data's size in memory (None: unknown). ``load``,
    when set, reads the whole input as one canonical table faster than the
    batches would (Parquet decodes columns in parallel); use it or ``batches``.
    """

    label: str
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    rows: int | None = None
    columns: Columns | None = None
    nbytes: int | None = None
    load: Callable[[], pa.Table] | None = None


def materialize(source: Source) -> Source:
    """``source`` read once into one canonical table in memory, which serves both readers."""
    if source.load is not None:
        table = source.load()
    else:
        table = pa.Table.from_batches(list(source.batches), schema=source.schema)

    def columns() -> Iterator[tuple[str, pa.ChunkedArray]]:
        yield from zip(table.column_names, table.columns, strict=True)

    return Source(
        source.label, source.schema, iter(table.to_batches()), table.num_rows, columns, table.nbytes
    )


def open_source(data: Any, *, allow_empty: bool = False) -> Source:
    """A ``Source`` over a DataFrame, Arrow table/batch, or a Parquet/CSV file path.

    Data without rows is refused unless ``allow_empty`` (validation accepts it).
    """
    if isinstance(data, (str, Path)):
        return _from_path(Path(data), allow_empty)
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        table = pa.table(data) if isinstance(data, pa.RecordBatch) else data
        return _from_arrow(table, "arrow", allow_empty)
    if _is_dataframe(data):
        return _from_arrow(dataframe_to_arrow(data, allow_empty), "dataframe", allow_empty)
    raise InvalidInput(
        f"Cannot make a dataset from a {type(data).__name__}. Pass a pandas DataFrame, a "
        "pyarrow Table, or the path of a Parquet or CSV file.",
        field="data",
    )


def read_table(data: Any) -> pa.Table:
    """The whole input as one canonical Arrow table (for in-memory work like validation);
    unlike a snapshot, it may have no rows."""
    source = open_source(data, allow_empty=True)
    table = pa.Table.from_batches(list(source.batches), schema=source.schema)
    return table


def _is_dataframe(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns")


def _check_rows(rows: int, label: str) -> None:
    if rows == 0:
        raise InvalidInput(
            f"The data from {label} has no rows; a dataset snapshot needs at least one row.",
            field="data",
        )


def _from_arrow(table: pa.Table, label: str, allow_empty: bool = False) -> Source:
    schema = canonical_schema(table.schema)
    if not allow_empty:
        _check_rows(table.num_rows, label)
    batches = (
        normalize_batch(batch, schema) for batch in table.to_batches(max_chunksize=BATCH_ROWS)
    )

    def columns() -> Iterator[tuple[str, pa.Array | pa.ChunkedArray]]:
        for field, column in zip(schema, table.columns, strict=True):
            yield field.name, normalize_column(field, column)

    def load() -> pa.Table:
        return normalize_table(table, schema)

    return Source(label, schema, batches, table.num_rows, columns, table.nbytes, load)


def normalize_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in the canonical ``schema``, chunk by chunk (no column is concatenated)."""
    columns = [
        pa.chunked_array([normalize_column(field, chunk) for chunk in column.chunks], field.type)
        for field, column in zip(schema, table.columns, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def dataframe_to_arrow(frame: Any, allow_empty: bool = False) -> pa.Table:
    """A pandas DataFrame as Arrow, column by column so that errors name the column."""
    names = [str(name) for name in frame.columns]
    check_names(names)
    if len(frame.index) == 0 and not allow_empty:
        _check_rows(0, "the DataFrame")
    arrays = []
    for position, name in enumerate(names):
        series = frame.iloc[:, position]
        try:
            array = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise _mixed_types_error(name, series, exc) from exc
        if _coerced_mixed_types(series, array):
            raise _mixed_types_error(name, series, None)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=names)


def _coerced_mixed_types(series: Any, array: pa.Array) -> bool:
    """Whether Arrow silently coerced an object column of mixed types (``[1.5, True]`` to
    doubles, ``[datetime, 5]`` to timestamps, ``[date, datetime]`` to dates).

    Text is skipped: Arrow refuses a non-string there itself. ``infer_dtype`` runs in C;
    ints mixed with floats (``mixed-integer-float``) are numbers and read as float64.
    """
    if series.dtype != object or pa.types.is_string(array.type):
        return False
    from pandas.api.types import infer_dtype  # a DataFrame was given: pandas is loaded

    if infer_dtype(series, skipna=True) not in ("mixed", "mixed-integer", "date"):
        return False
    kinds = series.dropna().map(type)  # Python per row, only on these rare columns
    return bool(len(kinds)) and bool((kinds != kinds.iloc[0]).any())


def _mixed_types_error(name: str, series: Any, exc: Exception | None) -> InvalidInput:
    values = series.dropna()
    kinds = values.map(type)  # Python per row, but only on this error path
    if len(values) and (kinds != kinds.iloc[0]).any():
        first = values.iloc[0]
        other = values[kinds != kinds.iloc[0]].iloc[0]
        return InvalidInput(
            f"Column '{name}' mixes types: {first!r} ({type(first).__name__}) and {other!r} "
            f"({type(other).__name__}). Give it one type, e.g. df['{name}'].astype(str).",
            field=name,
        )
    return InvalidInput(
        f"Column '{name}' cannot be converted to a table column: {exc}. Convert it to numbers, "
        "strings, booleans or timestamps.",
        field=name,
    )


def _from_path(path: Path, allow_empty: bool = False) -> Source:
    if not path.exists():
        raise NotFound(
            f"No file at {path}. Check the path (it is relative to the working directory).",
            kind="file",
            name=str(path),
        )
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; give one Parquet or CSV file.", field="path")
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES) or _has_parquet_magic(path):
        return _from_parquet(path, allow_empty)
    if name.endswith(CSV_SUFFIXES):
        return _from_csv(path)
    raise InvalidInput(
        f"{path} is neither Parquet nor CSV (by its name or content). Supported: "
        f"{', '.join(PARQUET_SUFFIXES + CSV_SUFFIXES)}.",
        field="path",
    )


def _has_parquet_magic(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


def _corrupt_parquet(path: Path, exc: Exception) -> InvalidInput:
    return InvalidInput(
        f"{path} is not a readable Parquet file ({exc}). It may be truncated or corrupt: "
        "write it again or check the download.",
        field="path",
    )


def _from_parquet(path: Path, allow_empty: bool = False) -> Source:
    try:
        # No pre-buffering: it keeps the read-ahead of every row group in memory
        # (about the file's size at 10M rows); plain reads stream one row group at a time.
        parquet = pq.ParquetFile(path, pre_buffer=False)
        metadata = parquet.metadata
        rows = metadata.num_rows
        schema = canonical_schema(parquet.schema_arrow)
        nbytes = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    except (pa.ArrowException, OSError) as exc:
        raise _corrupt_parquet(path, exc) from exc
    if not allow_empty:
        _check_rows(rows, str(path))

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                yield normalize_batch(batch, schema)
        except (pa.ArrowException, OSError) as exc:
            raise _corrupt_parquet(path, exc) from exc
        finally:
            parquet.close()

    def columns() -> Iterator[tuple[str, pa.Array | pa.ChunkedArray]]:
        try:
            with pq.ParquetFile(path, pre_buffer=False) as reader:
                for field in schema:
                    column = reader.read(columns=[field.name]).column(0)
                    yield field.name, normalize_column(field, column)
        except (pa.ArrowException, OSError) as exc:
            raise _corrupt_parquet(path, exc) from exc

    def load() -> pa.Table:
        try:
            with parquet:
                return normalize_table(parquet.read(), schema)
        except (pa.ArrowException, OSError) as exc:
            raise _corrupt_parquet(path, exc) from exc

    return Source(str(path), schema, batches(), rows, columns, nbytes, load)


def _from_csv(path: Path) -> Source:
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
        schema = canonical_schema(reader.schema)
    except (pa.ArrowException, OSError) as exc:
        raise _csv_error(path, delimiter, exc) from exc

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in reader:
                yield normalize_batch(batch, schema)
        except (pa.ArrowException, OSError) as exc:
            raise _csv_error(path, delimiter, exc) from exc
        finally:
            reader.close()

    # Parsed, a short field can take several times its text (``1,`` -> 8 bytes): 4x as a guess.
    nbytes = None if path.name.lower().endswith(".gz") else 4 * path.stat().st_size
    return Source(str(path), schema, batches(), nbytes=nbytes)


_RAGGED = re.compile(r"Expected (\d+) columns, got (\d+)")


def _csv_error(path: Path, delimiter: str, exc: Exception) -> InvalidInput:
    text = str(exc)
    if "Empty CSV file" in text:
        return InvalidInput(f"{path} is empty; a dataset needs a header and rows.", field="path")
    match = _RAGGED.search(text)
    if match:
        line = _ragged_line(path, delimiter, int(match.group(1)))
        where = f"{path}, line {line}" if line else str(path)
        return InvalidInput(
            f"{where}: expected {match.group(1)} fields like the header, found "
            f"{match.group(2)}. Fix that row (a missing or extra separator, or an "
            "unquoted comma).",
            field="path",
        )
    return InvalidInput(
        f"{path} could not be read as CSV: {text}. If a column changes type after the first "
        f"{CSV_BLOCK_BYTES >> 20} MB, convert the file to Parquet or pass a DataFrame.",
        field="path",
    )


def _ragged_line(path: Path, delimiter: str, expected: int) -> int | None:
    """The 1-based line of the first row whose field count differs from the header's."""
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for row in reader:
            if len(row) != expected and row:
                return reader.line_num
    return None


def _open_text(path: Path) -> IO[str]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")
