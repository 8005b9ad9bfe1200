"""P-values of the drift tests without importing ``scipy.stats`` (~75 MiB of RSS).

Monitoring must stay light enough to run next to a model server, and
``scipy.stats`` alone weighs more than a million-row column. So the two
distributions drift needs are computed here with NumPy and ``math``:

- ``ks_sf(n, x)``: the two-sided Kolmogorov–Smirnov survival function
  P(D_n >= x), following scipy's ``kstwo.sf`` (Simard & L'Ecuyer's choice of
  method per region): 0 beyond n·x² >= 370, twice the one-sided Smirnov
  probability above n·x² >= 2.2 (``smirnov_sf``, the exact Birnbaum–Tingey
  sum, evaluated with Loader's saddle-point binomial terms), else one minus
  the Pelz–Good expansion of the CDF. The rare regions scipy handles with
  other algorithms (n <= 140, n above a million, and the Durbin-matrix
  region n <= 100 000 with n·x^1.5 <= 1.4) are delegated to ``scipy.stats.kstwo`` itself.
- ``chi2_sf(df, x)``: the chi-square survival function, the regularized upper
  incomplete gamma Q(df/2, x/2) by its series or continued fraction.

Tests check the KS p-value against scipy to 1e-12 (absolute) in every region,
and the chi-square one to 1e-10 (relative).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_PI_SQUARED = math.pi**2
_PI_FOUR = math.pi**4
_PI_SIX = math.pi**6
_SQRT2PI = math.sqrt(2 * math.pi)
_LOG_SQRT2PI = 0.5 * math.log(2 * math.pi)
_MIN_LOG = -708
# scipy's own thresholds (scipy.stats._ksstats._kolmogn), kept identical so
# that each statistic is evaluated by the same formula.
_SF_ZERO_NXX = 370.0
_SF_SMIRNOV_NXX = 2.2
_SMALL_N = 140
_DMTW_MAX_N = 100_000
_SMIRNOV_MAX_N = 1_000_000


def ks_sf(n: int, x: float) -> float:
    """P(D_n >= x) for the two-sided one-sample KS statistic with ``n`` points."""
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    t = n * x
    nxx = t * x
    if n <= _SMALL_N or t <= 1.0 or t >= n - 1 or n > _SMIRNOV_MAX_N:
        return _scipy_ks_sf(n, x)
    if x >= 0.5:
        return _clip(2 * smirnov_sf(n, x))
    if nxx >= _SF_ZERO_NXX:
        return 0.0
    if nxx >= _SF_SMIRNOV_NXX:
        return _clip(2 * smirnov_sf(n, x))
    if n <= _DMTW_MAX_N and n * x**1.5 <= 1.4:
        return _scipy_ks_sf(n, x)  # scipy uses the Durbin matrix here (large p-values)
    return _clip(1.0 - _pelz_good_cdf(n, x))


def _scipy_ks_sf(n: int, x: float) -> float:
    from scipy import stats as sps

    return float(np.clip(sps.kstwo.sf(x, n), 0, 1))


def _clip(p: float) -> float:
    return min(max(float(p), 0.0), 1.0)


def smirnov_sf(n: int, x: float) -> float:
    """P(D+_n >= x), one-sided, by the Birnbaum–Tingey sum (0 < x < 1).

    x · Σ_{j=0}^{⌊n(1-x)⌋} C(n, j) (x + j/n)^(j-1) (1 - x - j/n)^(n-j), i.e.
    Σ_j x/p_j · Binomial(n, p_j).pmf(j) with p_j = x + j/n: every term is
    positive, so the float64 sum keeps the terms' relative accuracy.
    """
    j = np.arange(0, math.floor(n * (1 - x)) + 1, dtype=np.float64)
    p = x + j / n
    q = (n - j) / n - x
    keep = q > 0
    j, p, q = j[keep], p[keep], q[keep]
    terms = x / p * _binomial_pmf(j, n, p, q)
    return float(np.sum(terms))


def _binomial_pmf(k: FloatArray, n: int, p: FloatArray, q: FloatArray) -> FloatArray:
    """Binomial(n, p).pmf(k) by Loader's saddle-point form (accurate for huge n)."""
    out = np.empty_like(p)
    first = k == 0
    out[first] = np.exp(n * np.log1p(-p[first]))
    last = k == n
    out[last] = np.exp(n * np.log(p[last]))
    mid = ~(first | last)
    km, pm, qm = k[mid], p[mid], q[mid]
    log_pmf = (
        _stirlerr(np.array([float(n)]))[0]
        - _stirlerr(km)
        - _stirlerr(n - km)
        - _bd0(km, n * pm)
        - _bd0(n - km, n * qm)
    )
    out[mid] = np.exp(log_pmf) * np.sqrt(n / (2 * math.pi * km * (n - km)))
    return out


_STIRLERR_TABLE = np.array(
    [
        math.lgamma(k + 1) - (k + 0.5) * math.log(k) + k - _LOG_SQRT2PI if k > 0 else 0.0
        for k in range(16)
    ]
)


def _stirlerr(k: FloatArray) -> FloatArray:
    """log(k!) - log(sqrt(2πk) (k/e)^k): Stirling's error term, for integers k >= 1."""
    out = np.empty_like(k)
    small = k < 16
    out[small] = _STIRLERR_TABLE[k[small].astype(np.int64)]
    big = k[~small]
    nn = big * big
    s0, s1, s2, s3, s4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188
    out[~small] = (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / big
    return out


def _bd0(x: FloatArray, m: FloatArray) -> FloatArray:
    """x·log(x/m) + m - x, to an absolute error of about |x - m|·1e-16.

    Written as x·log1p(d/m) - d with d = x - m: log1p keeps its relative
    accuracy for small d/m, so no term carries more than |d|·eps of error
    (Loader's series reaches the same accuracy with a loop).
    """
    d = x - m
    return x * np.log1p(d / m) - d


def _pelz_good_cdf(n: int, x: float) -> float:
    """The Pelz–Good expansion of P(D_n <= x) (scipy's ``_kolmogn_PelzGood``)."""
    z = math.sqrt(n) * x
    zsquared, zthree, zfour, zsix = z**2, z**3, z**4, z**6
    qlog = -_PI_SQUARED / 8 / zsquared
    if qlog < _MIN_LOG:
        return 0.0
    q = math.exp(qlog)
    k1a, k1b = -zsquared, _PI_SQUARED / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16
    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z**8
    k0to3 = np.zeros(4)
    maxk = math.ceil(16 * z / math.pi)
    for k in range(maxk, 0, -1):  # Horner over the odd integers m = 2k - 1
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        coeffs = np.array(
            [
                1.0,
                k1a + k1b * msquared,
                k2a + k2b * msquared + k2c * mfour,
                k3a + k3b * msquared + k3c * mfour + k3d * msix,
            ]
        )
        k0to3 *= np.power(q, 8 * k)
        k0to3 += coeffs
    k0to3 *= q * _SQRT2PI
    k0to3 /= np.array([z, 6 * zfour, 72 * z**7, 6480 * z**10])
    q = math.exp(-_PI_SQUARED / 2 / zsquared)
    ks = np.arange(maxk, 0, -1)
    ksquared = ks**2
    sqrt3z, kspi = math.sqrt(3) * z, math.pi * ks
    qpowers = q**ksquared
    k0to3[2] += np.sum(ksquared * qpowers) * _PI_SQUARED * _SQRT2PI / (-36 * zthree)
    k0to3[3] += (
        np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpowers)
        * _PI_SQUARED
        * _SQRT2PI
        / (216 * zsix)
    )
    k0to3 /= np.power(n * 1.0, np.arange(4) / 2.0)
    return float(sum(k0to3))


def chi2_sf(df: int, x: float) -> float:
    """P(X >= x) for X ~ chi-square with ``df`` degrees of freedom."""
    if x <= 0:
        return 1.0
    return _gamma_q(df / 2.0, x / 2.0)


def _gamma_q(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x), x > 0."""
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        # Series for P(a, x) = x^a e^-x / Γ(a+1) · Σ x^k / ((a+1)…(a+k)).
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        return min(max(1.0 - total * math.exp(log_prefix), 0.0), 1.0)
    # Lentz's continued fraction for Q(a, x).
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return min(max(math.exp(log_prefix) * h, 0.0), 1.0)
