"""Data drift between two frames: ``drift(reference, current)`` → ``DriftReport``.

Each compared column is handled whole and vectorized (a sort, a merge, a few
searchsorted calls; value counts for categories), never row by row. Columns
only one side has are listed in the report, not compared. An empty frame is an
``InvalidInput`` (there is nothing to compare, and a silent "no drift" would
hide a broken pipeline); an all-null column is a ``no_data`` row.

Either side may also be a Parquet file path. Two Parquet files are compared
exactly, one column at a time (only one column of each side is in memory); a
Parquet ``current`` against an in-memory reference is scanned in chunks with
bounded memory, see ``scan.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from shipyard.errors import InvalidInput
from shipyard.monitoring import frames, stats
from shipyard.monitoring.profiled import drift_from_profile, is_profile
from shipyard.monitoring.results import ColumnDrift, DriftReport
from shipyard.monitoring.thresholds import Thresholds, ThresholdsInput, resolve_thresholds
from shipyard.monitoring.verdict import (
    NumericStats,
    categorical_result,
    no_data,
    numeric_histogram,
    numeric_result,
)

# From this many rows a compared file's freed column pages go back to the system.
TRIM_ROWS = 262_144


def drift(
    reference: Any,
    current: Any,
    columns: Sequence[str] | None = None,
    thresholds: ThresholdsInput = None,
) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column.

    ``reference`` and ``current`` are pandas DataFrames or pyarrow Tables, and
    ``reference`` may be a ``shipyard.data`` reference profile (see ``profiled``).
    Both may be Parquet file paths: two paths are compared exactly, one column
    at a time; a Parquet ``current`` against a frame is scanned in chunks. ``columns``
    limits the comparison (default: every column both sides have).
    ``thresholds`` is a ``Thresholds`` or a per-column mapping (see
    ``shipyard.monitoring.thresholds``).
    """
    if isinstance(reference, (str, Path)):
        reference = frames.ParquetColumns(reference, "reference")
    if isinstance(current, (str, Path)):
        if isinstance(reference, frames.ParquetColumns) and Path(current).is_file():
            current = frames.ParquetColumns(current, "current")
        else:
            from shipyard.monitoring.scan import drift_parquet

            return drift_parquet(reference, current, columns=columns, thresholds=thresholds)
    if is_profile(reference):
        return drift_from_profile(reference, current, columns=columns, thresholds=thresholds)
    ref = frames.as_frame(reference, "reference")
    cur = frames.as_frame(current, "current")
    require_rows(ref, "reference")
    require_rows(cur, "current")
    plan = plan_columns(frames.column_names(ref), frames.column_names(cur), columns)
    kinds = {name: _pair_kind(ref, cur, name) for name in plan.compared}
    supported = [name for name in plan.compared if kinds[name] != "unsupported"]
    per_column = resolve_thresholds(thresholds, supported)

    from_files = isinstance(ref, frames.ParquetColumns) or isinstance(cur, frames.ParquetColumns)
    results = compare_columns(supported, kinds, ref, cur, per_column, from_files)
    return DriftReport(
        columns=results,
        n_reference=frames.n_rows(ref),
        n_current=frames.n_rows(cur),
        missing_in_current=plan.missing_in_current,
        missing_in_reference=plan.missing_in_reference,
        unsupported=tuple(name for name in plan.compared if kinds[name] == "unsupported"),
    )


class ColumnPlan:
    """Which columns are compared, and which only one side has."""

    def __init__(
        self, compared: list[str], missing_in_current: list[str], missing_in_reference: list[str]
    ) -> None:
        self.compared = compared
        self.missing_in_current = tuple(missing_in_current)
        self.missing_in_reference = tuple(missing_in_reference)


def plan_columns(
    reference: list[str], current: list[str], columns: Sequence[str] | None
) -> ColumnPlan:
    """Intersect the two sides' columns (in the reference's order) and list the rest."""
    if columns is not None:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise InvalidInput(
                f"columns must be a list of column names, got {columns!r}.", field="columns"
            )
        unknown = [c for c in columns if c not in reference and c not in current]
        if unknown:
            raise InvalidInput(
                f"Column {unknown[0]!r} is in neither frame; reference has {reference}.",
                field="columns",
            )
        wanted = list(dict.fromkeys(columns))
    else:
        wanted = list(dict.fromkeys([*reference, *current]))
    in_ref, in_cur = set(reference), set(current)
    return ColumnPlan(
        compared=[c for c in wanted if c in in_ref and c in in_cur],
        missing_in_current=[c for c in wanted if c in in_ref and c not in in_cur],
        missing_in_reference=[c for c in wanted if c in in_cur and c not in in_ref],
    )


def compare_columns(
    names: Sequence[str],
    kinds: dict[str, frames.ColumnKind],
    ref: frames.Frame,
    cur: frames.Frame,
    per_column: dict[str, Thresholds],
    from_files: bool,
) -> tuple[ColumnDrift, ...]:
    """Each column's result, in ``names`` order, one column at a time.

    A numeric column's reference side is sorted on a helper thread while this
    one reads and sorts the current side (NumPy's sort and Parquet decoding
    release the GIL), so both cores work. The helper only sorts in place: every
    array is allocated here, so memory stays at one column's working set.
    """
    # Small columns' pages are reused by the next column; trimming them only costs faults.
    trim = from_files and max(frames.n_rows(ref), frames.n_rows(cur)) >= TRIM_ROWS
    results: list[ColumnDrift] = []
    with ThreadPoolExecutor(1, thread_name_prefix="shipyard-drift") as helper:
        for name in names:
            if kinds[name] == "numeric":
                result = numeric_drift(name, ref, cur, per_column[name], helper)
            else:
                result = categorical_drift(name, ref, cur, per_column[name])
            if trim:
                # The column's arrays are garbage now: keep the peak at one column's.
                frames.release_memory()
            results.append(result)
    return tuple(results)


def numeric_drift(
    name: str,
    ref: frames.Frame,
    cur: frames.Frame,
    th: Thresholds,
    helper: ThreadPoolExecutor | None = None,
) -> ColumnDrift:
    """One numeric column's result; with ``helper``, the reference is sorted on it."""
    ref_values = frames.numeric_values(ref, name)
    if helper is None:
        ref_sorted, ref_nulls = frames.sorted_non_null(ref_values)
    else:
        ref_side = helper.submit(frames.sorted_non_null, ref_values)
    cur_sorted, cur_nulls = frames.sorted_non_null(frames.numeric_values(cur, name))
    if helper is not None:
        ref_sorted, ref_nulls = ref_side.result()
    if ref_sorted.size == 0 or cur_sorted.size == 0:
        return no_data(
            name, "numeric", th, (ref_sorted.size, cur_sorted.size), (ref_nulls, cur_nulls)
        )
    return numeric_result(
        name, numeric_stats(ref_sorted, cur_sorted, (ref_nulls, cur_nulls), th.bins), th
    )


def numeric_stats(
    ref_sorted: stats.FloatArray,
    cur_sorted: stats.FloatArray,
    nulls: tuple[int, int],
    bins: int,
) -> NumericStats:
    """Every numeric statistic of two sorted, non-empty, null-free samples."""
    ks, p_value, wasserstein = stats.ks_test(ref_sorted, cur_sorted)
    edges = stats.quantile_edges(ref_sorted, bins)
    ref_p = stats.proportions(stats.bin_counts(ref_sorted, edges))
    cur_p = stats.proportions(stats.bin_counts(cur_sorted, edges))
    std = float(np.std(ref_sorted))
    note = ""
    normalized: float | None = wasserstein / std if std > 0 else None
    if normalized is None:
        note = "reference is constant (std 0): Wasserstein cannot be normalized"
    return NumericStats(
        n_reference=ref_sorted.size,
        n_current=cur_sorted.size,
        null_reference=nulls[0],
        null_current=nulls[1],
        ks_statistic=ks,
        ks_p_value=p_value,
        psi=stats.psi(ref_p, cur_p),
        wasserstein=normalized,
        jensen_shannon=stats.js_distance(ref_p, cur_p),
        histogram=numeric_histogram(edges, ref_p, cur_p),
        note=note,
    )


def categorical_drift(
    name: str, ref: frames.Frame, cur: frames.Frame, th: Thresholds
) -> ColumnDrift:
    ref_counts, ref_nulls = frames.category_counts(ref, name)
    cur_counts, cur_nulls = frames.category_counts(cur, name)
    return categorical_result(name, ref_counts, cur_counts, (ref_nulls, cur_nulls), th)


def _pair_kind(ref: frames.Frame, cur: frames.Frame, name: str) -> frames.ColumnKind:
    """Both sides numeric: numeric; otherwise compare as categories (or refuse)."""
    kinds = {frames.column_kind(ref, name), frames.column_kind(cur, name)}
    if "unsupported" in kinds:
        return "unsupported"
    return "numeric" if kinds == {"numeric"} else "categorical"


def require_rows(frame: frames.Frame, field: str) -> None:
    if frames.n_rows(frame) == 0:
        raise InvalidInput(
            f"{field} has 0 rows: there is nothing to compare. Pass a frame with data "
            "(for a monitor window, widen --window or check that predictions are logged).",
            field=field,
        )
