"""The default thresholds catch a 0.5σ mean shift and stay silent on unshifted data.

A small, fast version of bench/monitoring/detection_quality.py (which reports
the full table in docs/monitoring.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import shipyard as sy

TRIALS, ROWS = 20, 10_000


def _rate(shift: float, seed_base: int) -> float:
    flagged = 0
    for seed in range(TRIALS):
        rng = np.random.default_rng([seed_base, seed])
        ref = pd.DataFrame({"v": rng.normal(size=ROWS)})
        cur = pd.DataFrame({"v": rng.normal(shift, size=ROWS)})
        flagged += sy.monitor.drift(ref, cur)["v"].drift
    return flagged / TRIALS


def test_half_sigma_mean_shift_is_flagged_in_at_least_95_percent_of_trials() -> None:
    assert _rate(0.5, seed_base=1) >= 0.95


def test_unshifted_data_is_silent_in_at_least_95_percent_of_trials() -> None:
    assert _rate(0.0, seed_base=2) <= 0.05


def test_a_new_category_at_five_percent_is_flagged() -> None:
    flagged = 0
    for seed in range(TRIALS):
        rng = np.random.default_rng([3, seed])
        ref = pd.DataFrame({"k": rng.choice(["a", "b", "c"], size=ROWS)})
        cur_values = rng.choice(["a", "b", "c"], size=ROWS)
        cur_values[rng.random(ROWS) < 0.05] = "new"
        flagged += sy.monitor.drift(ref, pd.DataFrame({"k": cur_values}))["k"].drift
    assert flagged / TRIALS >= 0.95
