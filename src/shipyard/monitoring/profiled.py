"""Drift against a reference *profile* (``shipyard.data.profiles.Profile``) instead of raw rows.

A profile keeps, per numeric column, its bin cut points and counts, and per
categorical column its top categories and an ``other`` count. So:

- PSI and Jensen–Shannon use the profile's own bins (same left-closed rule);
- KS is computed on the bin boundaries only: the largest gap between the
  reference and current CDFs at the cut points, a lower bound of the exact
  statistic; its p-value is Smirnov's asymptotic one;
- Wasserstein needs the raw reference and is ``None`` (with a note);
- categories outside the profile's top are pooled into ``(other)`` on both
  sides, and counted as new only when the profile lists every category.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from shipyard.monitoring import frames, stats
from shipyard.monitoring.results import ColumnDrift, DriftReport
from shipyard.monitoring.thresholds import Thresholds, ThresholdsInput, resolve_thresholds
from shipyard.monitoring.verdict import (
    NumericStats,
    categorical_result,
    no_data,
    numeric_histogram,
    numeric_result,
)

OTHER = "(other)"


def is_profile(value: Any) -> bool:
    # If the data layer was never imported, ``value`` cannot be one of its
    # profiles: checking so spares a frame-only caller importing it.
    module = sys.modules.get("shipyard.data.profiles")
    return module is not None and isinstance(value, module.Profile)


def drift_from_profile(
    profile: Any,
    current: Any,
    columns: Sequence[str] | None = None,
    thresholds: ThresholdsInput = None,
) -> DriftReport:
    from shipyard.monitoring.drift import plan_columns, require_rows

    cur = frames.as_frame(current, "current")
    require_rows(cur, "current")
    plan = plan_columns(list(profile.columns), frames.column_names(cur), columns)
    per_column = resolve_thresholds(thresholds, plan.compared)
    results = []
    for name in plan.compared:
        column = profile.columns[name]
        if column.kind == "numeric" and frames.column_kind(cur, name) == "numeric":
            results.append(_numeric(name, column, cur, per_column[name]))
        else:
            results.append(_categorical(name, column, cur, per_column[name]))
    return DriftReport(
        columns=tuple(results),
        n_reference=int(profile.rows),
        n_current=frames.n_rows(cur),
        missing_in_current=plan.missing_in_current,
        missing_in_reference=plan.missing_in_reference,
        reference_source="profile",
    )


def _numeric(name: str, column: Any, cur: frames.Frame, th: Thresholds) -> ColumnDrift:
    cur_sorted, cur_nulls = frames.sorted_non_null(frames.numeric_values(cur, name))
    n1, n2 = int(column.count), int(cur_sorted.size)
    if n1 == 0 or n2 == 0:
        return no_data(name, "numeric", th, (n1, n2), (int(column.nulls), cur_nulls))
    cuts = np.asarray(column.cuts, dtype=np.float64)
    ref_counts = np.asarray(column.bin_counts, dtype=np.int64)
    cur_counts = stats.bin_counts(cur_sorted, cuts)
    # CDFs just below each cut point: the only places a binned profile knows F_ref.
    ref_cdf = np.cumsum(ref_counts)[:-1] / n1
    cur_cdf = np.searchsorted(cur_sorted, cuts, side="left") / n2
    ks = float(np.max(np.abs(ref_cdf - cur_cdf))) if cuts.size else 0.0
    ref_p, cur_p = stats.proportions(ref_counts), stats.proportions(cur_counts)
    result = NumericStats(
        n_reference=n1,
        n_current=n2,
        null_reference=int(column.nulls),
        null_current=cur_nulls,
        ks_statistic=ks,
        ks_p_value=stats.ks_asymptotic_pvalue(ks, n1, n2),
        psi=stats.psi(ref_p, cur_p),
        wasserstein=None,
        jensen_shannon=stats.js_distance(ref_p, cur_p),
        histogram=numeric_histogram(cuts, ref_p, cur_p),
        note=f"reference is a profile: KS on its {cuts.size} cut points; no Wasserstein",
    )
    return numeric_result(name, result, th)


def _categorical(name: str, column: Any, cur: frames.Frame, th: Thresholds) -> ColumnDrift:
    current, cur_nulls = frames.category_counts(cur, name)
    if column.kind != "categorical":
        return no_data(name, "categorical", th, (0, sum(current.values())), (0, cur_nulls))
    reference = {str(value): int(count) for value, count in column.top}
    if column.other:
        # Categories beyond the profile's top are unknown: pool them on both sides.
        reference[OTHER] = int(column.other)
        pooled = {key: value for key, value in current.items() if key in reference}
        pooled[OTHER] = pooled.get(OTHER, 0) + sum(
            value for key, value in current.items() if key not in reference
        )
        current = pooled
    return categorical_result(name, reference, current, (int(column.nulls), cur_nulls), th)
