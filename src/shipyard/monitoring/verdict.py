"""From statistics to a verdict: flags, status and the ``ColumnDrift`` row.

Shared by the in-memory path (``drift.py``) and the chunked Parquet scan
(``scan.py``) so that both decide identically. The rule, per column: the test
(KS for numbers, chi-square for categories) must be significant at
``p_value``, and then every effect size above its threshold is a flag; a
column with at least one flag drifts. PSI grades the status.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from shipyard.monitoring import stats
from shipyard.monitoring.results import ColumnDrift, Histogram, Status
from shipyard.monitoring.thresholds import Thresholds

_ORDER: tuple[Status, ...] = ("ok", "warning", "drift", "alert")
# At most this many categories are drawn; the rest are summed into "(other)".
MAX_DRAWN_CATEGORIES = 20


@dataclass(frozen=True)
class NumericStats:
    """The statistics of one numeric column, however they were computed."""

    n_reference: int
    n_current: int
    null_reference: int
    null_current: int
    ks_statistic: float
    ks_p_value: float
    psi: float
    wasserstein: float | None
    jensen_shannon: float
    histogram: Histogram
    note: str = ""


def psi_status(psi: float, thresholds: Thresholds) -> Status:
    if psi > thresholds.psi_alert:
        return "alert"
    if psi > thresholds.psi_drift:
        return "drift"
    if psi > thresholds.psi_warning:
        return "warning"
    return "ok"


def decide(psi: float, significant: bool, flags: list[str], th: Thresholds) -> tuple[Status, bool]:
    """The status and drift flag from PSI, the test's significance and the flags."""
    status = psi_status(psi, th)
    if not significant:
        # An insignificant difference is at most a warning, whatever PSI says.
        return (status if status in ("ok", "warning") else "warning"), False
    drift = bool(flags)
    if drift and _ORDER.index(status) < _ORDER.index("drift"):
        status = "drift"
    return status, drift


def numeric_result(column: str, s: NumericStats, th: Thresholds) -> ColumnDrift:
    significant = s.ks_p_value < th.p_value
    flags: list[str] = []
    if significant:
        if s.ks_statistic > th.ks_statistic:
            flags.append("ks")
        if s.psi > th.psi_drift:
            flags.append("psi")
        if s.wasserstein is not None and s.wasserstein > th.wasserstein:
            flags.append("wasserstein")
        if s.jensen_shannon > th.jensen_shannon:
            flags.append("jensen_shannon")
    status, drift = decide(s.psi, significant, flags, th)
    return ColumnDrift(
        column=column,
        kind="numeric",
        status=status,
        drift=drift,
        thresholds=th,
        n_reference=s.n_reference,
        n_current=s.n_current,
        null_reference=s.null_reference,
        null_current=s.null_current,
        ks_statistic=s.ks_statistic,
        ks_p_value=s.ks_p_value,
        psi=s.psi,
        wasserstein=s.wasserstein,
        jensen_shannon=s.jensen_shannon,
        flags=tuple(flags),
        histogram=s.histogram,
        note=s.note,
    )


def categorical_result(
    column: str,
    reference: dict[str, int],
    current: dict[str, int],
    nulls: tuple[int, int],
    th: Thresholds,
) -> ColumnDrift:
    """Compare category counts: PSI, Jensen–Shannon, chi-square, new and vanished."""
    # Reference categories by frequency, then the new ones by their current frequency.
    order = sorted(reference, key=lambda key: -reference[key])
    new = sorted((key for key in current if key not in reference), key=lambda key: -current[key])
    labels = order + new
    ref_counts = np.array([reference.get(key, 0) for key in labels], dtype=np.int64)
    cur_counts = np.array([current.get(key, 0) for key in labels], dtype=np.int64)
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    if n_ref == 0 or n_cur == 0:
        return no_data(column, "categorical", th, (n_ref, n_cur), nulls)
    ref_p, cur_p = stats.proportions(ref_counts), stats.proportions(cur_counts)
    psi = stats.psi(ref_p, cur_p)
    js = stats.js_distance(ref_p, cur_p)
    chi2, p_value = stats.chi_square(ref_counts, cur_counts)
    new_share = float(cur_counts[len(order) :].sum()) / n_cur
    vanished = tuple(key for key in order if current.get(key, 0) == 0)
    significant = p_value < th.p_value
    flags: list[str] = []
    if significant:
        if psi > th.psi_drift:
            flags.append("psi")
        if js > th.jensen_shannon:
            flags.append("jensen_shannon")
        if new_share > th.new_category_share:
            flags.append("new_categories")
    status, drift = decide(psi, significant, flags, th)
    return ColumnDrift(
        column=column,
        kind="categorical",
        status=status,
        drift=drift,
        thresholds=th,
        n_reference=n_ref,
        n_current=n_cur,
        null_reference=nulls[0],
        null_current=nulls[1],
        psi=psi,
        jensen_shannon=js,
        chi2_statistic=chi2,
        chi2_p_value=p_value,
        new_categories=tuple(new),
        vanished_categories=vanished,
        new_category_share=new_share,
        flags=tuple(flags),
        histogram=_category_histogram(labels, ref_p, cur_p),
        note="only one category on either side" if len(labels) == 1 else "",
    )


def no_data(
    column: str,
    kind: str,
    th: Thresholds,
    counts: tuple[int, int],
    nulls: tuple[int, int],
) -> ColumnDrift:
    """The result of a column with no non-null value on one side."""
    sides = [name for name, n in zip(("reference", "current"), counts, strict=True) if n == 0]
    return ColumnDrift(
        column=column,
        kind="numeric" if kind == "numeric" else "categorical",
        status="no_data",
        drift=False,
        thresholds=th,
        n_reference=counts[0],
        n_current=counts[1],
        null_reference=nulls[0],
        null_current=nulls[1],
        note=f"all values are null in {' and '.join(sides)}; nothing to compare",
    )


def _category_histogram(
    labels: list[str], reference: stats.FloatArray, current: stats.FloatArray
) -> Histogram:
    if len(labels) <= MAX_DRAWN_CATEGORIES:
        return Histogram(tuple(labels), tuple(reference.tolist()), tuple(current.tolist()))
    top = np.argsort(-np.maximum(reference, current), kind="stable")[: MAX_DRAWN_CATEGORIES - 1]
    top.sort()
    rest = np.ones(len(labels), dtype=bool)
    rest[top] = False
    return Histogram(
        (*(labels[i] for i in top), "(other)"),
        (*reference[top].tolist(), float(reference[rest].sum())),
        (*current[top].tolist(), float(current[rest].sum())),
    )


def numeric_histogram(
    edges: stats.FloatArray, reference: stats.FloatArray, current: stats.FloatArray
) -> Histogram:
    """The PSI bins of a numeric column, labelled by their edges."""
    bounds = ["-inf", *(f"{edge:.4g}" for edge in edges), "+inf"]
    labels = tuple(f"[{lo}, {hi})" for lo, hi in itertools.pairwise(bounds))
    return Histogram(
        labels, tuple(reference.tolist()), tuple(current.tolist()), tuple(edges.tolist())
    )
