"""The drift statistics themselves: pure functions over NumPy arrays.

Nothing here knows about frames, columns or thresholds; ``drift.py`` feeds
these functions one column at a time (the work inside each is vectorized over
rows). Every formula is written out in ``docs/monitoring.md``:

- ``ks_wasserstein``: the two-sample Kolmogorov–Smirnov statistic and the
  first Wasserstein distance, both from one merge of the two sorted samples;
  ``ks_test`` adds the p-value exactly as ``scipy.stats.ks_2samp`` gives it
  (exact up to 10 000 rows, Smirnov's asymptotic distribution above).
- ``quantile_edges`` / ``bin_counts``: the reference-quantile bins.
- ``psi``: population stability index over proportions, with ``PSI_EPSILON``
  standing in for empty bins.
- ``js_distance``: Jensen–Shannon distance, base 2 (between 0 and 1).
- ``chi_square``: the chi-square test of homogeneity over a 2×K count table.

Only NumPy is imported: the p-values come from ``pvalues`` (scipy's
formulas, without the ~75 MiB import of ``scipy.stats``), which only small
samples (exact KS) still delegate to scipy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.monitoring.pvalues import chi2_sf, ks_sf

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# A bin with no rows counts as this share of rows in PSI, so that ln(c/r) stays
# finite; the same value Evidently and most PSI write-ups use.
PSI_EPSILON = 1e-4

# scipy.stats.ks_2samp computes an exact p-value up to this many rows per sample.
KS_EXACT_MAX_N = 10_000


def ks_wasserstein(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """The KS statistic and the Wasserstein-1 distance of two *sorted* samples.

    Both are read off the two empirical CDFs evaluated at every distinct
    observed value of the pooled sample: KS is the largest gap, Wasserstein the
    area between them. Same counts divided the same way as scipy, so the
    statistic agrees with ``ks_2samp`` to the last bit in its asymptotic mode.
    """
    n1, n2 = reference.size, current.size
    pooled = np.concatenate([reference, current])
    # Two sorted runs: a stable sort merges them in about linear time.
    order = np.argsort(pooled, kind="stable")
    pooled = pooled[order]
    # int32 counts: half the memory of int64 whenever they fit.
    counts = np.dtype(np.int32 if n1 + n2 < 2**31 else np.int64)
    ref_seen: npt.NDArray[np.signedinteger[Any]] = np.cumsum(order < n1, dtype=counts)
    del order
    cur_seen: npt.NDArray[np.signedinteger[Any]] = np.arange(1, n1 + n2 + 1, dtype=counts)
    np.subtract(cur_seen, ref_seen, out=cur_seen)
    # Evaluate each CDF after the last copy of a tied value (right-continuous).
    last = np.empty(pooled.size, dtype=bool)
    np.not_equal(pooled[1:], pooled[:-1], out=last[:-1])
    last[-1] = True
    if not last.all():  # ties: keep one point per distinct value
        pooled, ref_seen, cur_seen = pooled[last], ref_seen[last], cur_seen[last]
    del last
    # Same operations as scipy (count / n, then the difference): the same bits.
    gaps = ref_seen / n1
    del ref_seen
    gaps -= cur_seen / n2
    del cur_seen
    statistic = max(float(np.clip(-gaps.min(), 0, 1)), float(gaps.max()))
    np.abs(gaps, out=gaps)
    # Multiply and sum as scipy does, not a BLAS dot: OpenBLAS's threads spin after
    # each call and take the core the other column's thread is sorting on.
    wasserstein = float(np.multiply(gaps[:-1], np.diff(pooled)).sum())
    return statistic, wasserstein


def ks_test(reference: FloatArray, current: FloatArray) -> tuple[float, float, float]:
    """KS statistic, its two-sided p-value and Wasserstein-1, of two sorted samples.

    The p-value is the one ``scipy.stats.ks_2samp(method="auto")`` gives: up to
    10 000 rows per sample scipy's exact path is called as is (it also rounds
    the statistic to a multiple of 1/lcm(n, m)); above, Smirnov's limiting
    distribution ``kstwo`` with the effective size ``round(n·m / (n + m))``.
    """
    statistic, wasserstein = ks_wasserstein(reference, current)
    if max(reference.size, current.size) <= KS_EXACT_MAX_N:
        from scipy import stats as sps  # small samples only: the import is the cost

        result = sps.ks_2samp(reference, current, method="auto")
        return float(result.statistic), float(result.pvalue), wasserstein
    return statistic, ks_asymptotic_pvalue(statistic, reference.size, current.size), wasserstein


def ks_asymptotic_pvalue(statistic: float, n_reference: int, n_current: int) -> float:
    """Smirnov's two-sided p-value for large samples, exactly as scipy computes it."""
    m, n = sorted([float(n_reference), float(n_current)], reverse=True)
    effective = m * n / (m + n)
    return ks_sf(int(np.round(effective)), statistic)


def quantile_edges(sorted_reference: FloatArray, bins: int) -> FloatArray:
    """The interior bin edges: the reference's 1/bins … (bins-1)/bins quantiles.

    Quantiles use linear interpolation (NumPy's default). Repeated edges (ties)
    collapse, so a column may end up with fewer bins; a constant column gets
    the three bins below / equal to / above its value.
    """
    probabilities = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges = np.unique(sorted_quantiles(sorted_reference, probabilities))
    if sorted_reference[0] == sorted_reference[-1]:
        # A constant reference c: bins below c, exactly c, above c, so that a
        # move off the constant shows in PSI.
        edges = np.array([edges[0], np.nextafter(edges[0], np.inf)])
    return edges


def sorted_quantiles(sorted_values: FloatArray, probabilities: FloatArray) -> FloatArray:
    """``np.quantile(..., method="linear")`` of an already sorted sample, without a partition."""
    position = probabilities * (sorted_values.size - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, sorted_values.size - 1)
    fraction = position - below
    low, high = sorted_values[below], sorted_values[above]
    # NumPy's lerp: exact at both ends, so a constant sample gives its value back.
    return np.where(
        fraction >= 0.5, high - (high - low) * (1 - fraction), low + (high - low) * fraction
    )


def bin_counts(sorted_values: FloatArray, edges: FloatArray) -> IntArray:
    """Counts per bin ``(-inf, e1), [e1, e2), …, [ek, +inf)`` of a sorted sample."""
    below = np.searchsorted(sorted_values, edges, side="left")
    cumulative = np.concatenate([[0], below, [sorted_values.size]])
    return np.diff(cumulative).astype(np.int64)


def proportions(counts: npt.NDArray[np.int64] | FloatArray) -> FloatArray:
    """Counts divided by their total (all zeros when the total is zero)."""
    total = float(np.sum(counts))
    if total == 0:
        return np.zeros(len(counts), dtype=np.float64)
    return np.asarray(counts, dtype=np.float64) / total


def psi(reference: FloatArray, current: FloatArray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index: sum over bins of (c - r) * ln(c / r).

    ``reference`` and ``current`` are proportions over the same bins. A zero
    proportion is replaced by ``epsilon`` (no renormalization), see
    ``PSI_EPSILON``.
    """
    r = np.where(reference == 0, epsilon, reference)
    c = np.where(current == 0, epsilon, current)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(reference: FloatArray, current: FloatArray) -> float:
    """Jensen–Shannon distance (square root of the divergence), base 2: 0 … 1."""
    if reference.sum() == 0 or current.sum() == 0:
        return 0.0
    # scipy.spatial.distance.jensenshannon's steps: normalize, average, KL in bits.
    p = reference / reference.sum()
    q = current / current.sum()
    m = (p + q) / 2.0
    divergence = (_kl_bits(p, m) + _kl_bits(q, m)) / 2.0
    value = math.sqrt(max(divergence, 0.0))
    # Clamp float noise.
    return min(value, 1.0)


def _kl_bits(p: FloatArray, m: FloatArray) -> float:
    """Σ p·log2(p/m) over p > 0 (0·log 0 = 0, as scipy's ``rel_entr``)."""
    seen = p > 0
    return float(np.sum(p[seen] * np.log(p[seen] / m[seen])) / math.log(2.0))


def chi_square(
    reference_counts: npt.NDArray[np.int64], current_counts: npt.NDArray[np.int64]
) -> tuple[float, float]:
    """Chi-square test of homogeneity over the 2×K table (no Yates correction).

    Categories seen in neither sample must be dropped beforehand. With fewer
    than two categories there is nothing to test: statistic 0, p-value 1.
    """
    table = np.vstack([reference_counts, current_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    # Expected counts under homogeneity: row total × column total / grand total.
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, chi2_sf(table.shape[1] - 1, statistic)
