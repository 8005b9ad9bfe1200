"""Mergeable per-chunk counters: what one chunk of a large window adds to the drift statistics.

A window too large for memory is read in chunks, and every chunk only adds
to fixed-size counters. Counters of two chunks *merge* by addition, so the
chunks may be counted in any order, in one process or on the workers of a
Dask cluster, and the merged counters are the same (integer counts exactly;
the sums of values up to float rounding in the last bits).

- ``NumericGrid``: what the reference fixes for a numeric column — the grid
  of its distinct values (at most ``MAX_GRID``; beyond, its quantiles) and
  its PSI bin edges. Small and picklable: it travels to the workers.
- ``NumericCounts``: per grid point, the current values equal to it; per gap
  between neighbours, the count and sum of the values inside; the PSI bin
  counts; nulls.
- ``CategoryCounts``: rows per category (as text), nulls.
- ``TableCounts``: the counters of every column of one table and its rows.

``scan.py`` turns merged counters into the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from shipyard.monitoring import frames, stats

MAX_GRID = 65_536


@dataclass(frozen=True)
class NumericGrid:
    """The reference's grid of values and PSI edges for one numeric column."""

    grid: stats.FloatArray
    edges: stats.FloatArray
    exact: bool

    @classmethod
    def from_sorted(cls, ref_sorted: stats.FloatArray, bins: int) -> NumericGrid:
        """The grid of a sorted, non-null reference (empty when it has no value)."""
        grid = np.unique(ref_sorted)
        exact = grid.size <= MAX_GRID
        if not exact:
            grid = np.unique(stats.sorted_quantiles(ref_sorted, np.linspace(0, 1, MAX_GRID)))
        edges = stats.quantile_edges(ref_sorted, bins) if ref_sorted.size else np.empty(0)
        return cls(grid, edges, exact)

    @property
    def observed_range(self) -> tuple[float, float] | None:
        """The reference's min and max (the grid's ends), ``None`` without a value."""
        return (float(self.grid[0]), float(self.grid[-1])) if self.grid.size else None


@dataclass
class NumericCounts:
    """What the current values counted so far add up to, on one ``NumericGrid``."""

    equal: stats.IntArray
    between: stats.IntArray
    between_sum: stats.FloatArray
    bins: stats.IntArray
    nulls: int = 0

    @classmethod
    def zeros(cls, grid: NumericGrid) -> NumericCounts:
        size = grid.grid.size
        return cls(
            np.zeros(size, dtype=np.int64),
            np.zeros(size + 1, dtype=np.int64),
            np.zeros(size + 1, dtype=np.float64),
            np.zeros(grid.edges.size + 1, dtype=np.int64),
        )

    @property
    def n(self) -> int:
        """Non-null values counted."""
        return int(self.bins.sum())

    def add(self, grid: NumericGrid, values: stats.FloatArray) -> None:
        """Count one chunk of current values (NaN is null)."""
        missing = np.isnan(values)
        self.nulls += int(missing.sum())
        values = values[~missing]
        if values.size == 0 or grid.grid.size == 0:
            self.bins[0] += values.size  # no reference: only the count matters
            return
        values.sort()
        if not (np.isfinite(values[0]) and np.isfinite(values[-1])):
            self._add_unsorted(grid, values)
            return
        # Sorted chunk: where each grid point and edge falls in it (binary searches of the
        # small grid into the chunk, ~3x faster than placing every value on the grid).
        n, points = values.size, grid.grid
        left = np.searchsorted(values, points, side="left")
        right = np.searchsorted(values, points, side="right")
        self.equal += right - left
        # Gap k holds values[right[k-1]:left[k]] (gap 0 starts at 0, the last ends at n).
        start, stop = np.concatenate([[0], right]), np.concatenate([left, [n]])
        self.between += stop - start
        cumulative = np.concatenate([[0.0], np.cumsum(values)])
        self.between_sum += cumulative[stop] - cumulative[start]
        below = np.searchsorted(values, grid.edges, side="left")
        self.bins += np.diff(np.concatenate([[0], below, [n]]))

    def _add_unsorted(self, grid: NumericGrid, values: stats.FloatArray) -> None:
        """Each value placed on the grid: safe with infinities (a running sum is not)."""
        points = grid.grid
        pos = np.searchsorted(points, values, side="left")
        on_grid = points[np.minimum(pos, points.size - 1)] == values
        self.equal += np.bincount(pos[on_grid], minlength=points.size)
        off = ~on_grid
        self.between += np.bincount(pos[off], minlength=points.size + 1)
        self.between_sum += np.bincount(pos[off], weights=values[off], minlength=points.size + 1)
        self.bins += np.bincount(
            np.searchsorted(grid.edges, values, side="right"), minlength=grid.edges.size + 1
        )

    def merge(self, other: NumericCounts) -> None:
        self.equal += other.equal
        self.between += other.between
        self.between_sum += other.between_sum
        self.bins += other.bins
        self.nulls += other.nulls

    def outside(self) -> int:
        """Values strictly below the grid's first point or above its last (out of range)."""
        return int(self.between[0] + self.between[-1]) if self.equal.size else 0


@dataclass
class CategoryCounts:
    """Rows per category (as text) and null rows."""

    counts: dict[str, int] = field(default_factory=dict)
    nulls: int = 0

    def add(self, column: pa.ChunkedArray | pa.Array) -> None:
        found, nulls = frames.arrow_category_counts(column)
        self.nulls += nulls
        for key, value in found.items():
            self.counts[key] = self.counts.get(key, 0) + value

    def merge(self, other: CategoryCounts) -> None:
        self.nulls += other.nulls
        for key, value in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + value


@dataclass(frozen=True)
class CountSpec:
    """Which columns of a table are counted, and how: on a numeric grid or by category."""

    numeric: dict[str, NumericGrid]
    categorical: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys([*self.numeric, *self.categorical]))

    def zeros(self) -> TableCounts:
        return TableCounts(
            numeric={name: NumericCounts.zeros(g) for name, g in self.numeric.items()},
            categorical={name: CategoryCounts() for name in self.categorical},
        )


@dataclass
class TableCounts:
    """The counters of every counted column of one table, and its rows."""

    numeric: dict[str, NumericCounts]
    categorical: dict[str, CategoryCounts]
    rows: int = 0

    def add(self, spec: CountSpec, table: pa.Table | pa.RecordBatch) -> None:
        """Count one chunk (a table or record batch holding every counted column)."""
        self.rows += table.num_rows
        for name, counts in self.numeric.items():
            counts.add(spec.numeric[name], frames.arrow_floats(_column(table, name)))
        for name, categories in self.categorical.items():
            categories.add(_column(table, name))

    def merge(self, other: TableCounts) -> TableCounts:
        self.rows += other.rows
        for name, counts in self.numeric.items():
            counts.merge(other.numeric[name])
        for name, categories in self.categorical.items():
            categories.merge(other.categorical[name])
        return self


def _column(table: pa.Table | pa.RecordBatch, name: str) -> Any:
    return table.column(name)
