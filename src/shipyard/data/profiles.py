"""Reference profiles: the exact statistics a snapshot is compared against later.

A ``Profile`` holds one ``NumericProfile`` (int64, float64, timestamp, date)
or ``CategoricalProfile`` (string, bool, null) per column. It is computed one
column at a time over the whole column, so every number is exact and does not
depend on how the data was chunked; memory is bounded by one column.

Numeric (int64, float64, and timestamps as µs since epoch; all as float64), over
the non-null values ``x`` (n = count):

- mean = sum(x)/n; std = sqrt(sum((x − mean)²)/(n − 1)), the sample standard
  deviation (ddof=1; 0.0 when n = 1)
- with ``s`` the sorted values (0-based) and h = q·(n−1): quantile q in
  ``QUANTILES`` = s[⌊h⌋] + (h − ⌊h⌋)·(s[⌈h⌉] − s[⌊h⌋]) (linear, Hyndman & Fan
  type 7, as NumPy's default)
- cut points: ``unique(s[⌈k·(n−1)/B⌉] for k = 1 … B−1)`` — data values, so no
  reference bin is empty — keeping only those > min(x), for B = ``bins``
  (default 10); ``bin_edges`` are
  ``[min, *cuts, max]`` and bin i holds ``cuts[i-1] <= v < cuts[i]``, the first
  bin everything below ``cuts[0]`` and the last everything at or above
  ``cuts[-1]`` — so values outside the reference range still land in a bin.
  ``bin_index`` / ``histogram`` apply exactly this rule to new data (PSI).

Categorical: frequencies of the ``top`` (default 20) most frequent values,
ties broken by value ascending, plus ``other`` = count of every other value.
Nulls (and NaN) are counted in ``nulls``, never in a bin.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.data.canonical import (
    ARROW_TYPES,
    NULL,
    NUMERIC_TYPES,
    TIMESTAMP,
    canonical_type,
    normalize_array,
)
from shipyard.errors import InvalidInput

DEFAULT_BINS = 10
DEFAULT_TOP = 20
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
PROFILE_FORMAT = 1


@dataclass(frozen=True)
class NumericProfile:
    """Statistics of a numeric or timestamp column; see the module docstring for formulas."""

    name: str
    type: str
    count: int
    nulls: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    quantiles: dict[float, float] = field(default_factory=dict)
    bin_edges: tuple[float, ...] = ()
    bin_counts: tuple[int, ...] = ()
    kind: ClassVar[str] = "numeric"

    @property
    def null_fraction(self) -> float:
        total = self.count + self.nulls
        return self.nulls / total if total else 0.0

    @property
    def cuts(self) -> np.ndarray:
        """The interior bin edges: the only ones that decide which bin a value is in."""
        return np.asarray(self.bin_edges[1:-1], dtype=np.float64)

    def bin_index(self, values: Any) -> np.ndarray:
        """The bin of each non-null value of ``values`` (nulls and NaN are dropped)."""
        return np.searchsorted(self.cuts, numeric_values(values, self.type), side="right")

    def histogram(self, values: Any) -> np.ndarray:
        """Counts of ``values`` in this profile's bins (same length as ``bin_counts``)."""
        return np.bincount(self.bin_index(values), minlength=len(self.bin_counts))

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k != "quantiles"}
        data["quantiles"] = [[q, v] for q, v in self.quantiles.items()]
        data["bin_edges"] = list(self.bin_edges)
        data["bin_counts"] = list(self.bin_counts)
        return {"kind": self.kind, **data}


@dataclass(frozen=True)
class CategoricalProfile:
    """Frequencies of a string or bool column: the top values and the rest as ``other``."""

    name: str
    type: str
    count: int
    nulls: int
    distinct: int
    top: tuple[tuple[Any, int], ...] = ()
    other: int = 0
    kind: ClassVar[str] = "categorical"

    @property
    def null_fraction(self) -> float:
        total = self.count + self.nulls
        return self.nulls / total if total else 0.0

    @property
    def categories(self) -> tuple[Any, ...]:
        return tuple(value for value, _ in self.top)

    @property
    def complete(self) -> bool:
        """True when ``top`` lists every value seen (nothing fell into ``other``)."""
        return self.other == 0

    def histogram(self, values: Any) -> np.ndarray:
        """Counts of non-null ``values`` per category of ``top``, then one for every other."""
        array = _arrow(values, self.type).drop_null()
        known = pa.array(self.categories, ARROW_TYPES[self.type])
        positions = pc.index_in(array, value_set=known).fill_null(len(known))
        return np.bincount(positions.to_numpy(), minlength=len(known) + 1)

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["top"] = [[value, count] for value, count in self.top]
        return {"kind": self.kind, **data}


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class Profile:
    """The reference profile of a table: row count and one profile per column."""

    rows: int
    columns: dict[str, ColumnProfile]
    bins: int = DEFAULT_BINS
    top: int = DEFAULT_TOP

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            raise InvalidInput(
                f"The profile has no column '{name}'; columns: {', '.join(self.columns)}.",
                field=name,
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "rows": self.rows,
            "bins": self.bins,
            "top": self.top,
            "columns": [column.to_dict() for column in self.columns.values()],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        columns: dict[str, ColumnProfile] = {}
        for raw in data["columns"]:
            item = {k: v for k, v in raw.items() if k != "kind"}
            if raw["kind"] == NumericProfile.kind:
                item["quantiles"] = {float(q): v for q, v in item["quantiles"]}
                item["bin_edges"] = tuple(item["bin_edges"])
                item["bin_counts"] = tuple(item["bin_counts"])
                columns[item["name"]] = NumericProfile(**item)
            else:
                item["top"] = tuple((value, count) for value, count in item["top"])
                columns[item["name"]] = CategoricalProfile(**item)
        return cls(data["rows"], columns, data["bins"], data["top"])

    @classmethod
    def from_json(cls, text: str | bytes) -> Profile:
        return cls.from_dict(json.loads(text))


def profile_columns(
    columns: Iterable[tuple[str, pa.ChunkedArray]],
    rows: int,
    *,
    bins: int = DEFAULT_BINS,
    top: int = DEFAULT_TOP,
) -> Profile:
    """Profile canonical columns given one at a time (so only one is in memory)."""
    check_profile_options(bins, top)
    profiles = {name: profile_column(name, column, bins, top) for name, column in columns}
    return Profile(rows, profiles, bins, top)


def check_profile_options(bins: int, top: int) -> None:
    """``bins`` and ``top`` must be positive integers."""
    for field_name, value in (("bins", bins), ("top", top)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInput(
                f"{field_name} must be an integer >= 1, got {value!r}; the defaults are "
                f"bins={DEFAULT_BINS} and top={DEFAULT_TOP}.",
                field=field_name,
            )


def profile_column(
    name: str, column: pa.Array | pa.ChunkedArray, bins: int, top: int
) -> ColumnProfile:
    """The profile of one canonical column."""
    kind = canonical_type(name, column.type)
    if kind in NUMERIC_TYPES:
        return _numeric(name, kind, column, bins)
    return _categorical(name, kind, column, top)


def profile_table(table: pa.Table, *, bins: int = DEFAULT_BINS, top: int = DEFAULT_TOP) -> Profile:
    """Profile a canonical Arrow table held in memory."""
    pairs = zip(table.column_names, table.columns, strict=True)
    return profile_columns(pairs, table.num_rows, bins=bins, top=top)


def _numeric(name: str, kind: str, column: pa.Array | pa.ChunkedArray, bins: int) -> NumericProfile:
    values = _float_values(column, kind)
    nulls = len(column) - values.size
    if values.size == 0:
        return NumericProfile(name, kind, 0, nulls, None, None, None, None)
    n = values.size
    mean = float(values.mean())
    deviations = values - mean
    # sum of squared deviations by a dot product: one temporary instead of np.std's three
    std = math.sqrt(float(np.dot(deviations, deviations)) / (n - 1)) if n > 1 else 0.0
    del deviations
    # SIMD sort (faster than a multi-rank selection), in place when the array is our own copy
    ordered = values if values.flags.owndata and values.flags.writeable else values.copy()
    ordered.sort()
    positions = [q * (n - 1) for q in QUANTILES]
    cut_ranks = [-(-k * (n - 1) // bins) for k in range(1, bins)]  # ceil, in integers
    low, high = float(ordered[0]), float(ordered[n - 1])
    cuts = np.unique(ordered[cut_ranks]) if cut_ranks else np.empty(0)
    cuts = cuts[cuts > low]
    below = np.searchsorted(ordered, cuts, side="left")  # values < each cut
    counts = np.diff(np.concatenate(([0], below, [n])))
    return NumericProfile(
        name=name,
        type=kind,
        count=int(n),
        nulls=int(nulls),
        mean=mean,
        std=std,
        min=low,
        max=high,
        quantiles={q: _linear(ordered, h) for q, h in zip(QUANTILES, positions, strict=True)},
        bin_edges=(low, *(float(c) for c in cuts), high),
        bin_counts=tuple(int(c) for c in counts),
    )


def _linear(ordered: np.ndarray, h: float) -> float:
    """Type-7 quantile at position ``h`` of the sorted values."""
    lo, hi = math.floor(h), math.ceil(h)
    a, b = float(ordered[lo]), float(ordered[hi])
    return a + (h - lo) * (b - a)


def _categorical(
    name: str, kind: str, column: pa.Array | pa.ChunkedArray, top: int
) -> CategoricalProfile:
    nulls = column.null_count
    count = len(column) - nulls
    if kind == NULL or count == 0:
        return CategoricalProfile(name, kind, 0, len(column), 0)
    counted = pc.value_counts(column.drop_null())
    frequencies = pa.table({"value": counted.field("values"), "count": counted.field("counts")})
    ordered = frequencies.sort_by([("count", "descending"), ("value", "ascending")])
    head = ordered.slice(0, top).to_pylist()
    pairs = tuple((row["value"], int(row["count"])) for row in head)
    return CategoricalProfile(
        name=name,
        type=kind,
        count=count,
        nulls=nulls,
        distinct=len(counted),
        top=pairs,
        other=count - sum(c for _, c in pairs),
    )


def _float_values(column: pa.ChunkedArray | pa.Array, kind: str) -> np.ndarray:
    present = column.drop_null()
    if kind == TIMESTAMP:
        present = present.cast(pa.int64())
    values: np.ndarray = present.to_numpy().astype(np.float64, copy=False)
    return values


def _arrow(values: Any, kind: str) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        array = values
    else:
        array = pa.array(values, from_pandas=True)
    return normalize_array(array, ARROW_TYPES[kind])


def numeric_values(values: Any, kind: str = "float64") -> np.ndarray:
    """``values`` (NumPy, pandas, Arrow, list) as float64 without nulls or NaN."""
    return _float_values(_arrow(values, kind), kind)
