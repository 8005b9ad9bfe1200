"""Column access over pandas DataFrames, Arrow tables and Parquet files, without row loops.

Monitoring takes any of the three; this module is the one place that knows
how to ask each for a column's kind, its numeric values (nulls as NaN) or its
category counts (nulls left out, categories compared as strings).

A ``ParquetColumns`` reads one column at a time from its file (column
projection), so comparing two Parquet files holds one column of each in
memory, never a whole table. pandas is imported only when a DataFrame is
passed (a caller that never imported pandas cannot hand one over), and Arrow
columns become NumPy through their buffers: ``Array.to_numpy`` would import
pandas, ~40 MiB for nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from shipyard.errors import InvalidInput
from shipyard.monitoring.stats import FloatArray

if TYPE_CHECKING:
    import pandas as pd

# A pandas DataFrame or a pyarrow Table (both untyped to mypy).
Frame: TypeAlias = Any
ColumnKind = Literal["numeric", "categorical", "unsupported"]


def _is_pandas(value: Any) -> bool:
    module = sys.modules.get("pandas")
    return module is not None and isinstance(value, module.DataFrame)


class ParquetColumns:
    """A Parquet file whose columns are read one at a time, on demand.

    Read through pyarrow's low-level reader (``pyarrow._parquet``, the engine
    under ``pyarrow.parquet.ParquetFile``) for two measured reasons: it can be
    given the system allocator, which hands a column's pages back as soon as
    it is freed (the default mimalloc pool keeps them, ~10 MiB per 100k rows
    over 20 columns), and it spares the import of ``pyarrow.parquet``'s
    Python layer (~8 MiB).
    """

    def __init__(self, path: str | Path, field: str) -> None:
        from pyarrow._parquet import ParquetReader

        if not Path(path).is_file():
            raise InvalidInput(
                f"{field} Parquet file {str(path)!r} does not exist; pass an existing "
                "Parquet file (or a DataFrame / Arrow table).",
                field=field,
            )
        self.path = str(path)
        try:
            probe = ParquetReader()
            probe.open(self.path)
            schema = probe.schema_arrow
            probe.close()
            strings = [
                f.name
                for f in schema
                if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
            ]
            # Strings as dictionaries: counting categories is a bincount of the codes.
            self.reader = ParquetReader(memory_pool=pa.system_memory_pool())
            self.reader.open(self.path, read_dictionary=strings, pre_buffer=False)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(
                f"Could not read {str(path)!r} as Parquet ({exc}); pass a Parquet file.",
                field=field,
            ) from exc
        self.schema = schema
        self.num_rows = int(self.reader.metadata.num_rows)

    def column(self, name: str) -> pa.ChunkedArray:
        index = self.reader.column_name_idx(name)
        table = self.reader.read_all(column_indices=[index], use_threads=False)
        return table.column(0)


def as_frame(value: Any, field: str) -> Frame:
    """``value`` if it is a DataFrame, Arrow table or Parquet source, else ``InvalidInput``."""
    if isinstance(value, (pa.Table, ParquetColumns)) or _is_pandas(value):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    raise InvalidInput(
        f"{field} must be a pandas DataFrame or a pyarrow Table, got {type(value).__name__}. "
        "Load Parquet with pandas.read_parquet() or pass the file path as current=.",
        field=field,
    )


def column_names(frame: Frame) -> list[str]:
    if _is_pandas(frame):
        return [str(name) for name in frame.columns]
    if isinstance(frame, ParquetColumns):
        return list(frame.schema.names)
    return list(frame.column_names)


def n_rows(frame: Frame) -> int:
    return len(frame) if _is_pandas(frame) else int(frame.num_rows)


def column_kind(frame: Frame, name: str) -> ColumnKind:
    """Numbers (not booleans) are numeric; strings, categories, booleans categorical."""
    if _is_pandas(frame):
        return arrow_kind(_pandas_arrow_type(frame[name]))
    return arrow_kind(frame.schema.field(name).type)


def arrow_kind(dtype: pa.DataType) -> ColumnKind:
    if pa.types.is_dictionary(dtype):
        return arrow_kind(dtype.value_type)
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numeric"
    if pa.types.is_null(dtype):
        return "numeric"
    if (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
        or pa.types.is_boolean(dtype)
    ):
        return "categorical"
    return "unsupported"


def _pandas_arrow_type(series: pd.Series) -> pa.DataType:
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return pa.string()
    if pd.api.types.is_bool_dtype(dtype):
        return pa.bool_()
    if pd.api.types.is_numeric_dtype(dtype):
        return pa.float64()
    if pd.api.types.is_string_dtype(dtype) or dtype is np.dtype(object):
        # Object columns of numbers are numbers; anything else is a category.
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in {"integer", "floating", "mixed-integer-float", "decimal"}:
            return pa.float64()
        if inferred == "empty":
            return pa.null()
        return pa.string()
    return pa.timestamp("us")


def numeric_values(frame: Frame, name: str) -> FloatArray:
    """The column as float64, nulls as NaN (a copy the caller may sort in place)."""
    if _is_pandas(frame):
        import pandas as pd

        series = frame[name]
        if series.dtype is np.dtype(object):
            series = pd.to_numeric(series, errors="coerce")
        return np.array(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    return arrow_floats(frame.column(name))


def arrow_floats(column: pa.ChunkedArray | pa.Array) -> FloatArray:
    """An Arrow numeric column as a new float64 array, nulls as NaN, read off its buffers."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out = np.empty(len(column), dtype=np.float64)
    start = 0
    for chunk in chunks:
        size = len(chunk)
        if not pa.types.is_float64(chunk.type):
            import pyarrow.compute as pc

            if pa.types.is_dictionary(chunk.type):
                chunk = chunk.cast(chunk.type.value_type)
            chunk = pc.cast(chunk, pa.float64(), safe=False)
        target = out[start : start + size]
        start += size
        if size == 0:
            continue
        if chunk.null_count == size:
            target[:] = np.nan
            continue
        data = chunk.buffers()[1]
        target[:] = np.frombuffer(data, dtype=np.float64, count=size, offset=chunk.offset * 8)
        if chunk.null_count:
            target[~_valid(chunk)] = np.nan
    return out


def _valid(chunk: pa.Array) -> npt.NDArray[np.bool_]:
    """The validity bitmap of ``chunk`` as booleans (True: a value, False: null)."""
    bits = np.frombuffer(chunk.buffers()[0], dtype=np.uint8)
    valid = np.unpackbits(bits, bitorder="little")[chunk.offset : chunk.offset + len(chunk)]
    return valid.astype(bool)


def sorted_non_null(values: FloatArray) -> tuple[FloatArray, int]:
    """The non-null values sorted, and how many nulls (NaN) were dropped."""
    values.sort()  # NaN sorts last
    n_null = int(np.count_nonzero(np.isnan(values)))
    return values[: values.size - n_null], n_null


def category_counts(frame: Frame, name: str) -> tuple[dict[str, int], int]:
    """Rows per category (as strings), and the number of null rows."""
    if _is_pandas(frame):
        series = frame[name]
        counts = series.value_counts(dropna=True, sort=False)
        nulls = int(series.isna().sum())
        return {str(key): int(value) for key, value in counts.items() if value > 0}, nulls
    return arrow_category_counts(frame.column(name))


def arrow_category_counts(column: pa.ChunkedArray | pa.Array) -> tuple[dict[str, int], int]:
    """Category counts of an Arrow column (dictionary, string or boolean)."""
    if pa.types.is_dictionary(column.type) and pa.types.is_integer(column.type.index_type):
        return _dictionary_counts(column)
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    nulls = int(column.null_count)
    structs = pc.value_counts(column.drop_null())
    # str() of the Python value, so that True/1.5 read the same as from pandas.
    values = structs.field("values").to_pylist()
    counts = structs.field("counts").to_pylist()
    return {str(value): int(count) for value, count in zip(values, counts, strict=True)}, nulls


def _dictionary_counts(column: pa.ChunkedArray | pa.Array) -> tuple[dict[str, int], int]:
    """Category counts of a dictionary column: a bincount of its codes per chunk."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    counts: dict[str, int] = {}
    nulls = 0
    for chunk in chunks:
        size = len(chunk)
        if size == 0:
            continue
        nulls += chunk.null_count
        if chunk.null_count == size:
            continue
        indices = chunk.indices
        sign = "i" if pa.types.is_signed_integer(indices.type) else "u"
        dtype = np.dtype(f"{sign}{indices.type.bit_width // 8}")
        codes = np.frombuffer(
            indices.buffers()[1], dtype=dtype, count=size, offset=indices.offset * dtype.itemsize
        )
        if chunk.null_count:
            codes = codes[_valid(chunk)]
        per_code = np.bincount(codes, minlength=len(chunk.dictionary))
        for key, value in zip(chunk.dictionary.to_pylist(), per_code.tolist(), strict=True):
            if value:
                label = str(key)
                counts[label] = counts.get(label, 0) + int(value)
    return counts, int(nulls)


def release_memory() -> None:
    """Hand freed heap pages back to the system (glibc only; elsewhere a no-op).

    Comparing Parquet files column by column allocates and frees column-sized
    arrays again and again; glibc keeps such freed blocks in its heap (its mmap
    threshold grows after the first free), so without this the peak RSS creeps
    up by about a column's working set per column.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl or another libc: nothing to do
        return
    trim(0)
