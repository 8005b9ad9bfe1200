"""Drift of a Parquet window too large for memory: a chunked, bounded scan.

The reference stays in memory (it is a training snapshot or a profile); the
current window is read in Arrow record batches of ``chunk_rows`` rows, and each
batch only adds to fixed-size counters per column:

- numeric: on a grid of the reference's distinct values (at most
  ``MAX_GRID`` of them; beyond, the reference's quantiles), the count of
  current values equal to each grid point, and the count and sum of the
  values strictly between two neighbours; plus the PSI bin counts.
- categorical: rows per category.

Memory is therefore O(chunk_rows × columns + grid × numeric columns),
whatever the window's length. From the counters the KS statistic is exact
(the two ECDFs are compared at every grid point and just before it, which is
where their largest gap can be), and so are PSI and Jensen–Shannon; the
Wasserstein area is exact unless the current CDF crosses the reference CDF
between two adjacent grid points. With a quantile grid (a reference of more
than ``MAX_GRID`` distinct values) KS and Wasserstein are within about
1/``MAX_GRID`` of the exact values. The KS p-value is Smirnov's asymptotic
one, as scipy's for samples above 10 000 rows. A window of at most
``chunk_rows`` rows is simply loaded and compared in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from shipyard.errors import InvalidInput
from shipyard.monitoring import frames, stats
from shipyard.monitoring.drift import drift, plan_columns
from shipyard.monitoring.results import ColumnDrift, DriftReport
from shipyard.monitoring.thresholds import Thresholds, ThresholdsInput, resolve_thresholds
from shipyard.monitoring.verdict import (
    NumericStats,
    categorical_result,
    no_data,
    numeric_histogram,
    numeric_result,
)

DEFAULT_CHUNK_ROWS = 262_144
MAX_GRID = 65_536


@dataclass
class NumericCounter:
    """The reference's grid and bins, and what the current chunks added so far."""

    ref_sorted: stats.FloatArray
    ref_nulls: int
    grid: stats.FloatArray
    edges: stats.FloatArray
    exact_grid: bool
    equal: stats.IntArray = field(init=False)
    between: stats.IntArray = field(init=False)
    between_sum: stats.FloatArray = field(init=False)
    bins: stats.IntArray = field(init=False)
    nulls: int = 0

    def __post_init__(self) -> None:
        size = self.grid.size
        self.equal = np.zeros(size, dtype=np.int64)
        self.between = np.zeros(size + 1, dtype=np.int64)
        self.between_sum = np.zeros(size + 1, dtype=np.float64)
        self.bins = np.zeros(self.edges.size + 1, dtype=np.int64)

    @classmethod
    def from_reference(cls, values: stats.FloatArray, bins: int) -> NumericCounter:
        ref_sorted, nulls = frames.sorted_non_null(values)
        grid = np.unique(ref_sorted)
        exact = grid.size <= MAX_GRID
        if not exact:
            grid = np.unique(stats.sorted_quantiles(ref_sorted, np.linspace(0, 1, MAX_GRID)))
        edges = stats.quantile_edges(ref_sorted, bins) if ref_sorted.size else np.empty(0)
        return cls(ref_sorted, nulls, grid, edges, exact)

    def add(self, values: stats.FloatArray) -> None:
        """Count one chunk of current values (NaN is null)."""
        missing = np.isnan(values)
        self.nulls += int(missing.sum())
        values = values[~missing]
        if values.size == 0 or self.grid.size == 0:
            self.bins[0] += values.size  # no reference: only the count matters
            return
        pos = np.searchsorted(self.grid, values, side="left")
        on_grid = self.grid[np.minimum(pos, self.grid.size - 1)] == values
        self.equal += np.bincount(pos[on_grid], minlength=self.grid.size)
        off = ~on_grid
        self.between += np.bincount(pos[off], minlength=self.grid.size + 1)
        self.between_sum += np.bincount(pos[off], weights=values[off], minlength=self.grid.size + 1)
        self.bins += np.bincount(
            np.searchsorted(self.edges, values, side="right"), minlength=self.edges.size + 1
        )

    def finish(self) -> NumericStats:
        """The statistics from the counters (see the module docstring)."""
        n1, n2 = self.ref_sorted.size, int(self.bins.sum())
        ref_cum = np.searchsorted(self.ref_sorted, self.grid, side="right")
        before = np.concatenate([[0], ref_cum[:-1]])
        btw = np.cumsum(self.between[:-1])
        eq = np.cumsum(self.equal)
        eq_before = np.concatenate([[0], eq[:-1]])
        gaps = np.concatenate(
            [ref_cum / n1 - (btw + eq) / n2, before / n1 - (btw + eq_before) / n2]
        )
        ks = max(float(np.clip(-gaps.min(), 0, 1)), float(gaps.max()))
        std = float(np.std(self.ref_sorted))
        wasserstein = self._wasserstein(ref_cum / n1, (btw + eq) / n2, n2)
        ref_p = stats.proportions(stats.bin_counts(self.ref_sorted, self.edges))
        cur_p = stats.proportions(self.bins)
        note = "current scanned in chunks"
        if not self.exact_grid:
            note += f" against a {MAX_GRID}-point reference quantile grid (KS within ~2e-5)"
        return NumericStats(
            n_reference=n1,
            n_current=n2,
            null_reference=self.ref_nulls,
            null_current=self.nulls,
            ks_statistic=ks,
            ks_p_value=stats.ks_asymptotic_pvalue(ks, n1, n2),
            psi=stats.psi(ref_p, cur_p),
            wasserstein=wasserstein / std if std > 0 else None,
            jensen_shannon=stats.js_distance(ref_p, cur_p),
            histogram=numeric_histogram(self.edges, ref_p, cur_p),
            note=note if std > 0 else note + "; reference is constant (std 0)",
        )

    def _wasserstein(self, ref_at: stats.FloatArray, cur_at: stats.FloatArray, n2: int) -> float:
        grid, count, total = self.grid, self.between, self.between_sum
        # Below the first grid point F_ref = 0; above the last, F_ref = 1.
        area = (count[0] * grid[0] - total[0]) / n2 + (total[-1] - count[-1] * grid[-1]) / n2
        width = np.diff(grid)
        # Inside gap j: ∫F_cur = F_cur(u_j-1)·Δ + Σ(u_j - x)/n2 over its current values.
        cur_area = cur_at[:-1] * width + (count[1:-1] * grid[1:] - total[1:-1]) / n2
        area += float(np.sum(np.abs(ref_at[:-1] * width - cur_area)))
        return float(area)


def drift_parquet(
    reference: Any,
    path: str | Path,
    columns: Sequence[str] | None = None,
    thresholds: ThresholdsInput = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> DriftReport:
    """``drift(reference, current)`` with ``current`` a Parquet file or directory."""
    dataset = _open(path)
    ref = frames.as_frame(reference, "reference")
    total = dataset.count_rows()
    if total <= chunk_rows:
        return drift(ref, dataset.to_table(), columns=columns, thresholds=thresholds)
    plan = plan_columns(frames.column_names(ref), list(dataset.schema.names), columns)
    kinds = {}
    for name in plan.compared:
        pair = {frames.column_kind(ref, name), frames.arrow_kind(dataset.schema.field(name).type)}
        kinds[name] = (
            "unsupported"
            if "unsupported" in pair
            else ("numeric" if pair == {"numeric"} else "categorical")
        )
    compared = [name for name in plan.compared if kinds[name] != "unsupported"]
    per_column = resolve_thresholds(thresholds, compared)
    results = _scan(ref, dataset, compared, kinds, per_column, chunk_rows)
    return DriftReport(
        columns=tuple(results[name] for name in compared),
        n_reference=frames.n_rows(ref),
        n_current=total,
        missing_in_current=plan.missing_in_current,
        missing_in_reference=plan.missing_in_reference,
        unsupported=tuple(name for name in plan.compared if kinds[name] == "unsupported"),
    )


def _scan(
    ref: frames.Frame,
    dataset: ds.Dataset,
    compared: list[str],
    kinds: dict[str, str],
    per_column: dict[str, Thresholds],
    chunk_rows: int,
) -> dict[str, ColumnDrift]:
    numeric = {
        name: NumericCounter.from_reference(frames.numeric_values(ref, name), per_column[name].bins)
        for name in compared
        if kinds[name] == "numeric"
    }
    categorical: dict[str, dict[str, int]] = {n: {} for n in compared if kinds[n] != "numeric"}
    cat_nulls = dict.fromkeys(categorical, 0)
    for batch in dataset.to_batches(columns=compared, batch_size=chunk_rows):
        table = pa.Table.from_batches([batch])
        for name, counter in numeric.items():
            counter.add(frames.numeric_values(table, name))
        for name, counts in categorical.items():
            chunk, nulls = frames.arrow_category_counts(table.column(name))
            cat_nulls[name] += nulls
            for key, value in chunk.items():
                counts[key] = counts.get(key, 0) + value
    results: dict[str, ColumnDrift] = {}
    for name, counter in numeric.items():
        th = per_column[name]
        n_ref, n_cur = counter.ref_sorted.size, int(counter.bins.sum())
        if n_ref == 0 or n_cur == 0:
            results[name] = no_data(
                name, "numeric", th, (n_ref, n_cur), (counter.ref_nulls, counter.nulls)
            )
        else:
            results[name] = numeric_result(name, counter.finish(), th)
    for name, counts in categorical.items():
        ref_counts, ref_nulls = frames.category_counts(ref, name)
        results[name] = categorical_result(
            name, ref_counts, counts, (ref_nulls, cat_nulls[name]), per_column[name]
        )
    return results


def _open(path: str | Path) -> ds.Dataset:
    if not Path(path).exists():
        raise InvalidInput(
            f"Parquet path {str(path)!r} does not exist; pass a Parquet file or a directory.",
            field="current",
        )
    try:
        return ds.dataset(str(path), format="parquet")
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(
            f"Could not read {str(path)!r} as Parquet ({exc}); pass a Parquet file or directory.",
            field="current",
        ) from exc
