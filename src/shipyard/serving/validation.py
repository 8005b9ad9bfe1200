"""Validate a decoded batch against a model's input signature, column by column.

A batch is a mapping of column name -> 1-D NumPy array (all the same length),
whatever surface it came from (``/predict`` records or columns, V2 tensors).
``validate`` checks every column at once with vectorized NumPy operations
(no per-row Python loops) and reports *every* failing column together:
missing and extra columns, wrong types, NaN/null where the column is not
nullable, infinities, unknown categories. It returns the columns cast to the
dtypes the model expects, ready to become a DataFrame.

The signature is described by ``InputSchema`` / ``ColumnSpec`` here, a small
structure that a registry signature maps onto (``InputSchema.from_signature``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import ValidationFailed

Columns = Mapping[str, npt.NDArray[Any]]


class MatrixColumns(Mapping[str, npt.NDArray[Any]]):
    """Columns that are views of one 2-D float matrix (``.matrix``), made on demand.

    An all-numeric batch stays one block from the V2 tensor (or the validated
    records) to the model: no per-column re-stacking on the hot path, and no
    column view is made unless someone asks for that column.
    """

    __slots__ = ("_index", "matrix", "names")

    def __init__(self, matrix: npt.NDArray[Any], names: list[str]) -> None:
        self.matrix = matrix
        self.names = names
        self._index: dict[str, int] | None = None

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        if self._index is None:
            self._index = {n: j for j, n in enumerate(self.names)}
        return self.matrix[:, self._index[name]]  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def rows(self) -> int:
        return int(self.matrix.shape[0])


def row_count(columns: Columns) -> int:
    """How many rows validated (same-length) columns hold; 0 for no columns."""
    if isinstance(columns, MatrixColumns):
        return columns.rows()
    for values in columns.values():
        return len(values)
    return 0


# What a column's declared dtype means for validation.
FLOAT, INT, BOOL, STRING, DATETIME = "float", "int", "bool", "string", "datetime"


_REGISTRY_TYPES = {
    "integer": INT,
    "float": FLOAT,
    "boolean": BOOL,
    "string": STRING,
    "category": STRING,
    "datetime": DATETIME,
}


def kind_of(dtype: str) -> str:
    """The validation kind of a declared dtype name ("float64", "int32", "category"…)."""
    text = dtype.lower()
    if text in {"category", "string", "str", "object", "bytes"}:
        return STRING
    try:
        numpy_kind = np.dtype(text).kind
    except TypeError:
        return STRING
    return {"f": FLOAT, "i": INT, "u": INT, "b": BOOL, "M": DATETIME}.get(numpy_kind, STRING)


@dataclass(frozen=True)
class ColumnSpec:
    """One input column: its name, declared dtype, nullability and allowed categories."""

    name: str
    dtype: str = "float64"
    nullable: bool = False
    categories: tuple[Any, ...] | None = None
    type: str = ""  # the registry's column type ("integer", "category"…), when known

    @property
    def kind(self) -> str:
        return _REGISTRY_TYPES.get(self.type) or kind_of(self.dtype)

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        """The NumPy dtype values are cast to (pandas-only dtypes fall back by kind)."""
        try:
            dtype = np.dtype(self.dtype.lower())
        except TypeError:
            dtype = np.dtype(object)
        fallback = {FLOAT: "float64", INT: "int64", BOOL: "bool", STRING: "O"}
        if self.kind in fallback and dtype.kind != np.dtype(fallback[self.kind]).kind:
            return np.dtype(fallback[self.kind])
        return dtype


@dataclass(frozen=True)
class InputSchema:
    """The columns a model takes, in the order it takes them."""

    columns: tuple[ColumnSpec, ...]
    allow_extra: bool = False
    _by_name: dict[str, ColumnSpec] = field(init=False, repr=False, compare=False)
    _names: list[str] = field(init=False, repr=False, compare=False)
    all_float: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})
        object.__setattr__(self, "_names", [c.name for c in self.columns])
        floats = all(c.kind == FLOAT and c.numpy_dtype == np.float64 for c in self.columns)
        object.__setattr__(self, "all_float", floats)

    @property
    def names(self) -> list[str]:
        return self._names

    def get(self, name: str) -> ColumnSpec | None:
        return self._by_name.get(name)

    @classmethod
    def from_signature(cls, signature: Any) -> InputSchema:
        """Map a registry signature (``.inputs`` of objects or dicts with name, dtype,
        nullable, categories) onto an ``InputSchema``."""
        raw_inputs = getattr(signature, "inputs", signature)
        return cls(tuple(_column_spec(item) for item in raw_inputs))


def _column_spec(item: Any) -> ColumnSpec:
    def get(key: str, default: Any = None) -> Any:
        if isinstance(item, Mapping):
            return item.get(key, default)
        return getattr(item, key, default)

    categories = get("categories")
    return ColumnSpec(
        name=str(get("name")),
        dtype=str(get("dtype", "float64")),
        nullable=bool(get("nullable", False)),
        categories=tuple(categories) if categories else None,
        type=str(get("type", "") or ""),
    )


@dataclass(frozen=True)
class Problem:
    """One failing column and why."""

    column: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"column": self.column, "reason": self.reason}


def validate(columns: Mapping[str, npt.NDArray[Any]], schema: InputSchema) -> Columns:
    """The batch cast to the schema's dtypes, or ``ValidationFailed`` listing every problem."""
    if isinstance(columns, MatrixColumns) and columns.names == schema.names and columns.rows():
        fast = _all_numeric_fast_path(columns, schema)  # a V2 tensor: no per-column checks
        if fast is not None:
            return fast
    problems: list[Problem] = []
    rows = _row_count(columns, problems)
    if rows == 0 and not problems:
        raise failure([Problem("*", "the batch is empty; send at least one row")])
    names = set(columns)
    problems += [Problem(c.name, "missing column") for c in schema.columns if c.name not in names]
    if not schema.allow_extra:
        problems += [
            Problem(name, f"unexpected column; this model takes {schema.names}")
            for name in columns
            if schema.get(name) is None
        ]
    if not problems:
        fast = _all_numeric_fast_path(columns, schema)
        if fast is not None:
            return fast
    out: dict[str, npt.NDArray[Any]] = {}
    for spec in schema.columns:
        values = columns.get(spec.name)
        if values is None:
            continue
        cast, reason = _check_column(values, spec)
        if reason:
            problems.append(Problem(spec.name, reason))
        else:
            out[spec.name] = cast
    if problems:
        raise failure(problems)
    return out


def _all_numeric_fast_path(
    columns: Mapping[str, npt.NDArray[Any]], schema: InputSchema
) -> Columns | None:
    """All-numeric signatures (the common case): one matrix, one NaN/inf check for all.

    ``None`` sends the batch to the per-column path, which also explains failures.
    """
    if not schema.all_float:
        return None
    names = schema.names
    if isinstance(columns, MatrixColumns) and columns.names == names:
        matrix = columns.matrix
        if matrix.dtype.kind not in "biuf":
            return None
    else:
        arrays = [columns[name] for name in names]
        if any(a.dtype.kind not in "biuf" for a in arrays):
            return None
        matrix = np.column_stack(arrays)
    matrix = matrix.astype(np.float64, copy=False)
    if not np.isfinite(matrix).all():
        return None
    if isinstance(columns, MatrixColumns) and matrix is columns.matrix:
        return columns  # already one finite float64 block
    return MatrixColumns(matrix, names)


def failure(problems: Sequence[Problem]) -> ValidationFailed:
    """A ``ValidationFailed`` whose message names each bad column and whose report lists them."""
    text = "; ".join(f"'{p.column}': {p.reason}" for p in problems)
    return ValidationFailed(
        f"The input failed validation: {text}.",
        report=[p.to_dict() for p in problems],
        field=problems[0].column,
    )


def _row_count(columns: Mapping[str, npt.NDArray[Any]], problems: list[Problem]) -> int:
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        problems.append(Problem("*", f"columns have different lengths {sorted(lengths)}"))
    return max(lengths, default=0)


def _check_column(values: npt.NDArray[Any], spec: ColumnSpec) -> tuple[Any, str]:
    values = _natural(values)
    kind = spec.kind
    if kind in (FLOAT, INT):
        return _numeric(values, spec)
    if kind == BOOL:
        return _boolean(values, spec)
    if kind == DATETIME:
        return _datetime(values, spec)
    return _string(values, spec)


def _natural(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Object arrays without nulls re-inferred to their natural dtype (one C-level pass)."""
    if values.dtype.kind != "O" or not len(values):
        return values
    if _is_none(values).any():
        return values
    try:
        natural = np.asarray(values.tolist())
    except ValueError:
        return values
    if natural.dtype.kind == "S":
        return np.char.decode(natural, "utf-8")
    return natural if natural.ndim == 1 else values


def _is_none(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    # One elementwise ufunc pass over an object array.
    mask: npt.NDArray[np.bool_] = np.equal(values, np.array(None, dtype=object)).astype(bool)
    return mask


def _null_mask(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    if values.dtype.kind == "O":
        return _is_none(values)
    if values.dtype.kind == "f":
        nan: npt.NDArray[np.bool_] = np.isnan(values)
        return nan
    return np.zeros(len(values), dtype=bool)


def _numeric(values: npt.NDArray[Any], spec: ColumnSpec) -> tuple[Any, str]:
    nulls = _null_mask(values)
    if values.dtype.kind == "O":
        present = _natural(values[~nulls])
        if present.dtype.kind not in "biuf" and len(present):
            return None, f"expected {spec.dtype}, got {_describe(present)}"
        values = np.full(len(values), np.nan)
        values[~nulls] = present.astype(float) if len(present) else []
    elif values.dtype.kind not in "biuf":
        return None, f"expected {spec.dtype}, got {_describe(values)}"
    if nulls.any() and not spec.nullable:
        return None, f"{int(nulls.sum())} NaN/null value(s) but the column is not nullable"
    if values.dtype.kind == "f":
        if np.isinf(values).any():
            return None, f"{int(np.isinf(values).sum())} infinite value(s)"
        if spec.kind == INT and not nulls.any():
            if not np.equal(np.mod(values, 1), 0).all():
                return None, f"expected {spec.dtype}, got non-integer numbers"
            return values.astype(spec.numpy_dtype, copy=False), ""
        return values.astype(float if spec.kind == INT else spec.numpy_dtype, copy=False), ""
    return values.astype(spec.numpy_dtype, copy=False), ""


def _boolean(values: npt.NDArray[Any], spec: ColumnSpec) -> tuple[Any, str]:
    if values.dtype.kind == "b":
        return values, ""
    if values.dtype.kind in "iu" and np.isin(values, (0, 1)).all():
        return values.astype(bool), ""
    if values.dtype.kind == "O" and _null_mask(values).any():
        if not spec.nullable:
            return None, "null value(s) but the column is not nullable"
        return values, ""
    return None, f"expected bool, got {_describe(values)}"


def _datetime(values: npt.NDArray[Any], spec: ColumnSpec) -> tuple[Any, str]:
    try:
        parsed = values.astype("datetime64[ns]")
    except (ValueError, TypeError):
        return None, f"expected ISO-8601 timestamps, got {_describe(values)}"
    if np.isnat(parsed).any() and not spec.nullable:
        return None, "null timestamp(s) but the column is not nullable"
    return parsed, ""


def _string(values: npt.NDArray[Any], spec: ColumnSpec) -> tuple[Any, str]:
    nulls = _null_mask(values)
    if nulls.any() and not spec.nullable:
        return None, f"{int(nulls.sum())} null value(s) but the column is not nullable"
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8")
    if spec.categories is not None:
        present = values[~nulls]
        known = np.isin(present, np.asarray(spec.categories, dtype=object))
        if not known.all():
            unknown = _first(present[~known], 5)
            return None, f"unknown categories {unknown}; allowed: {list(spec.categories)}"
    elif values.dtype.kind in "biuf":
        return None, f"expected {spec.dtype} (text), got {_describe(values)}"
    return values.astype(object), ""


def _describe(values: npt.NDArray[Any]) -> str:
    kind = values.dtype.kind
    names = {"U": "text", "S": "bytes", "b": "booleans", "i": "integers", "u": "integers"}
    if kind == "f":
        return "numbers"
    if kind == "O":
        return f"mixed values such as {_examples(values)}"
    return f"{names.get(kind, str(values.dtype))} such as {_examples(values)}"


def _examples(values: npt.NDArray[Any]) -> str:
    """Up to three distinct values as plain Python literals: ``'large', 3``."""
    return ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in _first(values, 3))


def _first(values: Iterable[Any], n: int) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
        if len(out) == n:
            break
    return out
