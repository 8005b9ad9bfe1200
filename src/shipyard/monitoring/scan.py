"""Drift of a Parquet window too large for memory: a chunked, bounded scan.

The reference stays in memory (it is a training snapshot or a profile); the
current window is read in Arrow record batches of ``chunk_rows`` rows, and each
batch only adds to fixed-size counters per column (``counts.py``):

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

``ChunkedDrift`` is the part shared with monitor runs over the prediction
log (``windowscan.py``): it fixes, from the reference, what every chunk
counts (``spec``), and turns the merged counters into a ``DriftReport``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from shipyard.errors import InvalidInput
from shipyard.monitoring import frames, stats
from shipyard.monitoring.counts import (
    MAX_GRID,
    CountSpec,
    NumericCounts,
    NumericGrid,
    TableCounts,
)
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

__all__ = ["DEFAULT_CHUNK_ROWS", "MAX_GRID", "ChunkedDrift", "drift_parquet"]


@dataclass
class ChunkedDrift:
    """Drift of a reference against a current table that is counted chunk by chunk.

    ``prepare`` decides, from the reference and the current table's schema,
    which columns are compared and how; ``spec`` is what each chunk counts;
    ``report`` turns the merged ``TableCounts`` into the ``DriftReport``.
    """

    ref: frames.Frame
    compared: list[str]
    kinds: dict[str, str]
    thresholds: dict[str, Thresholds]
    ref_sorted: dict[str, tuple[stats.FloatArray, int]]
    spec: CountSpec
    missing_in_current: tuple[str, ...]
    missing_in_reference: tuple[str, ...]
    unsupported: tuple[str, ...]

    @classmethod
    def prepare(
        cls,
        reference: Any,
        schema: pa.Schema,
        columns: Sequence[str] | None = None,
        thresholds: ThresholdsInput = None,
    ) -> ChunkedDrift:
        ref = frames.as_frame(reference, "reference")
        plan = plan_columns(frames.column_names(ref), list(schema.names), columns)
        kinds = {}
        for name in plan.compared:
            pair = {frames.column_kind(ref, name), frames.arrow_kind(schema.field(name).type)}
            kinds[name] = (
                "unsupported"
                if "unsupported" in pair
                else ("numeric" if pair == {"numeric"} else "categorical")
            )
        compared = [name for name in plan.compared if kinds[name] != "unsupported"]
        per_column = resolve_thresholds(thresholds, compared)
        ref_sorted = {
            name: frames.sorted_non_null(frames.numeric_values(ref, name))
            for name in compared
            if kinds[name] == "numeric"
        }
        spec = CountSpec(
            numeric={
                name: NumericGrid.from_sorted(values, per_column[name].bins)
                for name, (values, _) in ref_sorted.items()
            },
            categorical=tuple(name for name in compared if kinds[name] == "categorical"),
        )
        return cls(
            ref,
            compared,
            kinds,
            per_column,
            ref_sorted,
            spec,
            plan.missing_in_current,
            plan.missing_in_reference,
            tuple(name for name in plan.compared if kinds[name] == "unsupported"),
        )

    def report(self, counts: TableCounts) -> DriftReport:
        """The drift report of the merged counters of every chunk."""
        results: dict[str, ColumnDrift] = {}
        for name, (ref_sorted, ref_nulls) in self.ref_sorted.items():
            th, current = self.thresholds[name], counts.numeric[name]
            n_ref, n_cur = ref_sorted.size, current.n
            if n_ref == 0 or n_cur == 0:
                results[name] = no_data(
                    name, "numeric", th, (n_ref, n_cur), (ref_nulls, current.nulls)
                )
            else:
                grid = self.spec.numeric[name]
                stats_ = numeric_stats(ref_sorted, ref_nulls, grid, current)
                results[name] = numeric_result(name, stats_, th)
        for name in self.spec.categorical:
            ref_counts, ref_nulls = frames.category_counts(self.ref, name)
            found = counts.categorical[name]
            nulls = (ref_nulls, found.nulls)
            results[name] = categorical_result(
                name, ref_counts, found.counts, nulls, self.thresholds[name]
            )
        return DriftReport(
            columns=tuple(results[name] for name in self.compared),
            n_reference=frames.n_rows(self.ref),
            n_current=counts.rows,
            missing_in_current=self.missing_in_current,
            missing_in_reference=self.missing_in_reference,
            unsupported=self.unsupported,
        )


def numeric_stats(
    ref_sorted: stats.FloatArray, ref_nulls: int, grid: NumericGrid, counts: NumericCounts
) -> NumericStats:
    """The statistics from the counters (see the module docstring)."""
    n1, n2 = ref_sorted.size, counts.n
    points = grid.grid
    ref_cum = np.searchsorted(ref_sorted, points, side="right")
    before = np.concatenate([[0], ref_cum[:-1]])
    btw = np.cumsum(counts.between[:-1])
    eq = np.cumsum(counts.equal)
    eq_before = np.concatenate([[0], eq[:-1]])
    gaps = np.concatenate([ref_cum / n1 - (btw + eq) / n2, before / n1 - (btw + eq_before) / n2])
    ks = max(float(np.clip(-gaps.min(), 0, 1)), float(gaps.max()))
    std = float(np.std(ref_sorted))
    wasserstein = _wasserstein(points, counts, ref_cum / n1, (btw + eq) / n2, n2)
    ref_p = stats.proportions(stats.bin_counts(ref_sorted, grid.edges))
    cur_p = stats.proportions(counts.bins)
    note = "current scanned in chunks"
    if not grid.exact:
        note += f" against a {MAX_GRID}-point reference quantile grid (KS within ~2e-5)"
    return NumericStats(
        n_reference=n1,
        n_current=n2,
        null_reference=ref_nulls,
        null_current=counts.nulls,
        ks_statistic=ks,
        ks_p_value=stats.ks_asymptotic_pvalue(ks, n1, n2),
        psi=stats.psi(ref_p, cur_p),
        wasserstein=wasserstein / std if std > 0 else None,
        jensen_shannon=stats.js_distance(ref_p, cur_p),
        histogram=numeric_histogram(grid.edges, ref_p, cur_p),
        note=note if std > 0 else note + "; reference is constant (std 0)",
    )


def _wasserstein(
    grid: stats.FloatArray,
    counts: NumericCounts,
    ref_at: stats.FloatArray,
    cur_at: stats.FloatArray,
    n2: int,
) -> float:
    count, total = counts.between, counts.between_sum
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
    chunked = ChunkedDrift.prepare(ref, dataset.schema, columns, thresholds)
    counts = chunked.spec.zeros()
    # No read-ahead: Arrow's default (16 batches) would hold ~16 chunks in memory.
    batches = dataset.to_batches(
        columns=chunked.spec.columns,
        batch_size=chunk_rows,
        batch_readahead=0,
        fragment_readahead=1,
    )
    for batch in batches:
        counts.add(chunked.spec, batch)
    return chunked.report(counts)


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
