"""Detection quality of the default drift thresholds on seeded synthetic shifts.

For each scenario and seed, a reference and a current sample of ``--rows``
rows are drawn; ``sy.monitor.drift`` is run with the default thresholds and we
count how often each statistic flags (``flags``) and how often the column is
declared drifted. On unshifted data that rate is the false-positive rate.

    .venv/bin/python bench/monitoring/detection_quality.py --trials 100 --rows 10000
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np
import pandas as pd

import shipyard as sy

CATEGORIES = np.array(["a", "b", "c", "d"])
BASE_SHARES = np.array([0.5, 0.3, 0.15, 0.05])

Draw = Callable[[np.random.Generator, int], tuple[pd.DataFrame, pd.DataFrame]]


def numeric(mean: float = 0.0, scale: float = 1.0) -> Draw:
    def draw(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        ref = pd.DataFrame({"value": rng.normal(size=n)})
        return ref, pd.DataFrame({"value": rng.normal(mean, scale, size=n)})

    return draw


def categorical(shares: np.ndarray, new_share: float = 0.0) -> Draw:
    def draw(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        ref = pd.DataFrame({"value": rng.choice(CATEGORIES, size=n, p=BASE_SHARES)})
        labels = np.append(CATEGORIES, "new")
        probabilities = np.append(shares * (1 - new_share), new_share)
        return ref, pd.DataFrame({"value": rng.choice(labels, size=n, p=probabilities)})

    return draw


SCENARIOS: dict[str, Draw] = {
    "numeric, unshifted": numeric(),
    "mean +0.1σ": numeric(0.1),
    "mean +0.25σ": numeric(0.25),
    "mean +0.5σ": numeric(0.5),
    "mean +1σ": numeric(1.0),
    "variance ×2": numeric(scale=float(np.sqrt(2.0))),
    "categorical, unshifted": categorical(BASE_SHARES),
    "new category at 5%": categorical(BASE_SHARES, new_share=0.05),
    "frequency change (a 50→30%, b 30→50%)": categorical(np.array([0.3, 0.5, 0.15, 0.05])),
}
STATISTICS = ("ks", "psi", "wasserstein", "jensen_shannon", "new_categories")


def evaluate(trials: int, rows: int) -> dict[str, dict[str, float]]:
    """Scenario -> {statistic or "drift": share of trials flagged}."""
    rates: dict[str, dict[str, float]] = {}
    for index, (name, draw) in enumerate(SCENARIOS.items()):
        hits = dict.fromkeys((*STATISTICS, "drift", "not_ok"), 0)
        for seed in range(trials):
            ref, cur = draw(np.random.default_rng([index, seed]), rows)
            result = sy.monitor.drift(ref, cur)["value"]
            for statistic in result.flags:
                hits[statistic] += 1
            hits["drift"] += int(result.drift)
            hits["not_ok"] += int(result.status != "ok")
        rates[name] = {key: value / trials for key, value in hits.items()}
    return rates


def markdown(rates: dict[str, dict[str, float]], trials: int, rows: int) -> str:
    columns = ("drift", "not_ok", *STATISTICS)
    lines = [
        f"{trials} seeded trials of {rows} reference and {rows} current rows per scenario; "
        "share of trials flagged with the default thresholds.",
        "",
        "| scenario | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, row in rates.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.0%}" for c in columns) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(markdown(evaluate(args.trials, args.rows), args.trials, args.rows))


if __name__ == "__main__":
    main(sys.argv[1:])
