"""The Evidently side of bench_drift.py: runs in Evidently's own virtualenv.

Loads the same Parquet files, runs DataDriftPreset (timed, default settings),
then (untimed) the preset with ``num_method="ks"`` to read its KS p-values.
Prints one JSON document: seconds, peak RSS, per-column verdicts and p-values.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def peak_rss() -> int:
    """This process's peak resident memory in bytes.

    ``VmHWM`` of the process's own address space, not ``ru_maxrss``: after
    ``exec`` Linux carries the parent's high-water mark into ``ru_maxrss`` (the
    child ran on the parent's memory until ``exec``), so a small child of a big
    benchmark driver would report the driver's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def column_results(snapshot: object) -> dict[str, dict[str, float]]:
    """column -> {"score": drift score, "threshold": its threshold, "method": name}."""
    out: dict[str, dict[str, float]] = {}
    for metric in snapshot.dict()["metrics"]:  # type: ignore[attr-defined]
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            out[config["column"]] = {
                "score": float(metric["value"]),
                "threshold": config.get("threshold"),
                "method": config.get("method"),
            }
    return out


def main() -> None:
    reference = pd.read_parquet(sys.argv[1])
    current = pd.read_parquet(sys.argv[2])
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
        default = column_results(snapshot)
        times.append(time.perf_counter() - start)
    peak = peak_rss()
    ks = Report([DataDriftPreset(num_method="ks")]).run(
        current_data=current, reference_data=reference
    )
    print(
        json.dumps(
            {"seconds": times, "peak_rss": peak, "default": default, "ks": column_results(ks)}
        )
    )


if __name__ == "__main__":
    main()
