"""Each drift statistic against a hand-computed case and against scipy.stats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from shipyard.monitoring import pvalues, stats


def test_ks_statistic_by_hand() -> None:
    # ECDFs of {1,2,3,4} and {3,4,5,6}: at x=2 they are 0.5 and 0, the largest gap.
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    cur = np.array([3.0, 4.0, 5.0, 6.0])
    statistic, wasserstein = stats.ks_wasserstein(ref, cur)
    assert statistic == 0.5
    # Every value moved by 2: the area between the CDFs is 2.
    assert wasserstein == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("n1", "n2", "shift", "rounded"),
    [
        (40, 55, 0.3, False),  # exact p-value path, unequal sizes
        (500, 500, 0.0, True),  # many ties
        (9000, 12000, 0.05, False),  # asymptotic path
        (30000, 20000, 0.02, True),
    ],
)
def test_ks_equals_scipy(n1: int, n2: int, shift: float, rounded: bool) -> None:
    rng = np.random.default_rng(n1)
    ref, cur = rng.normal(size=n1), rng.normal(shift, size=n2)
    if rounded:
        ref, cur = np.round(ref, 1), np.round(cur, 1)
    expected = sps.ks_2samp(ref, cur)
    statistic, p_value, wasserstein = stats.ks_test(np.sort(ref), np.sort(cur))
    assert abs(statistic - expected.statistic) < 1e-9
    assert abs(p_value - expected.pvalue) < 1e-9
    assert wasserstein == pytest.approx(sps.wasserstein_distance(ref, cur), abs=1e-12)


def test_asymptotic_pvalue_is_scipys_for_large_samples() -> None:
    rng = np.random.default_rng(3)
    ref, cur = np.sort(rng.normal(size=20_000)), np.sort(rng.normal(0.03, size=15_000))
    statistic, _ = stats.ks_wasserstein(ref, cur)
    assert stats.ks_asymptotic_pvalue(statistic, ref.size, cur.size) == pytest.approx(
        sps.ks_2samp(ref, cur).pvalue, abs=1e-12
    )


def test_quantile_edges_and_bin_counts_by_hand() -> None:
    ref = np.arange(1.0, 11.0)  # 1..10
    edges = stats.quantile_edges(ref, 2)
    assert edges.tolist() == [5.5]  # the linear-interpolated median
    # Bins are (-inf, 5.5) and [5.5, +inf).
    assert stats.bin_counts(ref, edges).tolist() == [5, 5]
    assert stats.bin_counts(np.array([5.5, 6.0, 7.0]), edges).tolist() == [0, 3]
    # Left-closed bins: a value equal to an edge falls in the bin above it.
    assert stats.bin_counts(np.array([1.0, 2.0, 3.0]), np.array([2.0])).tolist() == [1, 2]


def test_quantile_edges_of_a_constant_reference_split_below_equal_above() -> None:
    edges = stats.quantile_edges(np.full(5, 3.0), 10)
    counts = stats.bin_counts(np.array([2.0, 3.0, 3.0, 4.0]), edges)
    assert counts.tolist() == [1, 2, 1]


def test_psi_by_hand() -> None:
    ref = np.array([0.5, 0.5])
    cur = np.array([0.25, 0.75])
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert stats.psi(ref, cur) == pytest.approx(expected)
    assert stats.psi(ref, ref) == 0.0


def test_psi_uses_the_documented_epsilon_for_empty_bins() -> None:
    ref = np.array([1.0, 0.0])
    cur = np.array([0.5, 0.5])
    eps = stats.PSI_EPSILON
    expected = (0.5 - 1.0) * math.log(0.5) + (0.5 - eps) * math.log(0.5 / eps)
    assert stats.psi(ref, cur) == pytest.approx(expected)


def test_js_distance_by_hand_and_against_scipy() -> None:
    # Disjoint supports: the divergence is 1 bit, so the distance is 1.
    assert stats.js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    p, q = np.array([0.1, 0.4, 0.5]), np.array([0.3, 0.3, 0.4])
    assert stats.js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2))
    # By hand: M = (p+q)/2, JS = sqrt((KL(p||M) + KL(q||M)) / 2) in bits.
    m = (p + q) / 2
    kl = lambda a, b: float(np.sum(a * np.log2(a / b)))  # noqa: E731
    assert stats.js_distance(p, q) == pytest.approx(math.sqrt((kl(p, m) + kl(q, m)) / 2))


def test_chi_square_against_scipy_and_by_hand() -> None:
    ref = np.array([30, 20, 50], dtype=np.int64)
    cur = np.array([40, 20, 40], dtype=np.int64)
    statistic, p_value = stats.chi_square(ref, cur)
    expected = sps.chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)
    # By hand: expected counts are the column means (35, 20, 45).
    by_hand = 2 * (5**2 / 35) + 0 + 2 * (5**2 / 45)
    assert statistic == pytest.approx(by_hand)
    assert p_value == pytest.approx(sps.chi2.sf(by_hand, df=2))


def test_chi_square_with_one_category_has_nothing_to_test() -> None:
    assert stats.chi_square(np.array([10]), np.array([7])) == (0.0, 1.0)
    # A category neither side has is dropped, not a division by zero.
    assert stats.chi_square(np.array([10, 0]), np.array([7, 0])) == (0.0, 1.0)


def test_sorted_quantiles_equal_numpy() -> None:
    rng = np.random.default_rng(0)
    values = np.sort(np.round(rng.normal(size=1001), 2))
    probabilities = np.linspace(0, 1, 37)
    np.testing.assert_array_equal(
        stats.sorted_quantiles(values, probabilities), np.quantile(values, probabilities)
    )


@pytest.mark.parametrize("n", [141, 5_000, 50_000, 100_001, 500_000])
def test_ks_survival_function_equals_scipys_kstwo(n: int) -> None:
    # n·x² spans every region scipy distinguishes: Pelz–Good (< 2.2), the
    # one-sided Smirnov sum (2.2 … 370), zero (>= 370), and x >= 0.5.
    for nxx in (0.02, 0.3, 1.0, 2.19, 2.21, 5.0, 40.0, 200.0, 369.0, 400.0):
        x = math.sqrt(nxx / n)
        assert pvalues.ks_sf(n, x) == pytest.approx(float(sps.kstwo.sf(x, n)), abs=1e-12)
    for x in (0.5, 0.75):
        assert pvalues.ks_sf(n, x) == pytest.approx(float(sps.kstwo.sf(x, n)), abs=1e-12)


def test_chi2_survival_function_equals_scipys() -> None:
    for df in (1, 2, 3, 7, 24, 60):
        for x in (0.001, 0.5, 1.0, 3.0, 10.0, 45.0, 120.0, 900.0):
            expected = float(sps.chi2.sf(x, df))
            assert pvalues.chi2_sf(df, x) == pytest.approx(expected, rel=1e-10, abs=1e-300)
    assert pvalues.chi2_sf(3, 0.0) == 1.0
