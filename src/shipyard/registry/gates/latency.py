"""Latency gate: p50/p95/p99 of single-row and batch ``predict``, in-process.

Timed through the loaded predictor, validation included (what serving pays).
Settings (``[models.NAME.gates.latency]``): thresholds in milliseconds
``single_p50_ms``, ``single_p95_ms``, ``single_p99_ms``, ``batch_p50_ms``,
``batch_p95_ms``, ``batch_p99_ms`` (only those set are checked), plus
``batch_size`` (default 100), ``repeats`` (single-row calls, default 100)
and ``batch_repeats`` (default 20).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.registry.gates.base import CheckResult, GateContext, number

if TYPE_CHECKING:
    import pandas as pd

PERCENTILES = (50, 95, 99)


def _timings(model: Any, batches: list[pd.DataFrame]) -> list[float]:
    model.predict(batches[0])  # warm-up: first-call costs are not latency
    out = []
    for batch in batches:
        start = time.perf_counter()
        model.predict(batch)
        out.append((time.perf_counter() - start) * 1000)
    return out


def measure(context: GateContext, config: Mapping[str, Any]) -> dict[str, dict[int, float]]:
    sample = context.sample.reset_index(drop=True)
    repeats = int(number(config, "repeats", 100) or 100)
    batch_size = int(number(config, "batch_size", 100) or 100)
    batch_repeats = int(number(config, "batch_repeats", 20) or 20)
    rng = np.random.default_rng(0)
    singles = [sample.iloc[[i % len(sample)]] for i in range(repeats)]
    batches = [sample.iloc[rng.integers(0, len(sample), batch_size)] for _ in range(batch_repeats)]
    found = {}
    for kind, frames in (("single", singles), ("batch", batches)):
        times = _timings(context.candidate, frames)
        found[kind] = {p: float(np.percentile(times, p)) for p in PERCENTILES}
    return found


def run(context: GateContext, config: Mapping[str, Any]) -> list[CheckResult]:
    measured = measure(context, config)
    results = []
    for kind, values in measured.items():
        text = ", ".join(f"p{p} {v:.2f} ms" for p, v in values.items())
        for p, value in values.items():
            limit = number(config, f"{kind}_p{p}_ms", None)
            if limit is not None:
                ok = value <= limit
                results.append(
                    CheckResult(
                        "latency",
                        f"{kind} p{p}",
                        ok,
                        f"{kind} p{p} {value:.2f} ms vs limit {limit:g} ms",
                        value,
                        limit,
                    )
                )
        results.append(
            CheckResult(
                "latency",
                f"{kind} percentiles",
                True,
                text,
                {f"p{p}": v for p, v in values.items()},
            )
        )
    return results
