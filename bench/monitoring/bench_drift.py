"""shipyard drift vs Evidently's DataDriftPreset on the same seeded data.

Writes seeded reference/current Parquet files (N rows × 20 columns: 15
numeric, 5 categorical; num_0..num_2 and cat_0, cat_1 drifted), then runs each
side in its own subprocess (peak RSS per process): shipyard from this
virtualenv, Evidently 0.7 in a throwaway one. Compares time, peak memory,
verdicts per column and the KS p-values, and prints a Markdown table.

Both sides start from the same two Parquet files. Evidently loads them with
``pandas.read_parquet`` (not timed) and runs its preset (timed); shipyard is
handed the two paths and reads them itself, column by column, inside the
timed call. Each side's peak RSS is that of a process that only imported its
library, loaded the files and computed the drift.

    .venv/bin/python bench/monitoring/bench_drift.py --rows 100000 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import WORK, machine, median, peer_python, ratio, run_json, stamp

HERE = Path(__file__).resolve().parent
EVIDENTLY = ["evidently==0.7.23", "pandas<3"]
DRIFTED = {"num_0", "num_1", "num_2", "cat_0", "cat_1"}


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


def make_data(rows: int, folder: Path) -> tuple[Path, Path]:
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = folder / "reference.parquet", folder / "current.parquet"
    if ref_path.exists() and cur_path.exists():
        return ref_path, cur_path
    rng = np.random.default_rng(rows)

    def side(drifted: bool) -> pd.DataFrame:
        data: dict[str, object] = {}
        for i in range(15):
            mean, scale = float(i), 1.0 + i / 10
            if drifted and i == 0:
                mean += 0.5 * scale
            if drifted and i == 1:
                mean += 1.0 * scale
            if drifted and i == 2:
                scale *= np.sqrt(2.0)
            values = rng.normal(mean, scale, size=rows)
            data[f"num_{i}"] = np.round(values, 2) if i % 3 == 0 else values
        for i in range(5):
            labels = np.array([f"c{i}_{k}" for k in range(4 + 5 * i)])
            shares = np.linspace(2.0, 1.0, labels.size)
            shares /= shares.sum()
            if drifted and i == 1:
                shares = shares[::-1].copy()
                shares[0] += 0.2
                shares /= shares.sum()
            values = rng.choice(labels, size=rows, p=shares)
            if drifted and i == 0:
                values[rng.random(rows) < 0.1] = "unseen"
            data[f"cat_{i}"] = values
        return pd.DataFrame(data)

    side(False).to_parquet(ref_path)
    side(True).to_parquet(cur_path)
    return ref_path, cur_path


def shipyard_side(ref_path: str, cur_path: str, repeats: int, mode: str) -> None:
    """Runs in a subprocess: time shipyard's drift, print one JSON line.

    ``files``: both Parquet paths (exact, column by column); ``scan``: the
    reference as a pandas frame and the current path scanned in chunks.
    """
    import shipyard as sy

    reference: object = ref_path
    if mode == "scan":
        import pandas as pd

        reference = pd.read_parquet(ref_path)
    current: object = cur_path
    times, report = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        report = sy.monitor.drift(reference, current)
        times.append(time.perf_counter() - start)
    assert report is not None
    peak = peak_rss()
    columns = {
        r.column: {"drift": r.drift, "ks_p_value": r.ks_p_value, "ks_statistic": r.ks_statistic}
        for r in report
    }
    heavy = sorted(m for m in ("pandas", "scipy.stats", "sqlalchemy") if m in sys.modules)
    print(json.dumps({"seconds": times, "peak_rss": peak, "columns": columns, "imported": heavy}))


def evidently_verdict(result: dict[str, object]) -> bool:
    score, threshold = float(result["score"]), float(result["threshold"])  # type: ignore[arg-type]
    # p-value tests drift below the threshold, distances at or above it.
    method = str(result["method"]).lower()
    return score < threshold if method in {"ks", "chisquare", "z"} else score >= threshold


def compare(rows: int, repeats: int, peer_repeats: int) -> dict[str, object]:
    from scipy import stats as sps

    ref_path, cur_path = make_data(rows, WORK / "monitoring" / str(rows))
    script = Path(__file__).resolve()
    ours = run_json(
        sys.executable,
        script,
        "--side",
        "shipyard",
        str(ref_path),
        str(cur_path),
        str(repeats),
        "files",
    )
    scan = run_json(
        sys.executable,
        script,
        "--side",
        "shipyard",
        str(ref_path),
        str(cur_path),
        str(repeats),
        "scan",
    )
    peer = run_json(
        peer_python("evidently", EVIDENTLY),
        HERE / "evidently_side.py",
        str(ref_path),
        str(cur_path),
        str(peer_repeats),
        timeout=7200,
    )
    verdicts_ours = {c: v["drift"] for c, v in ours["columns"].items()}
    verdicts_peer = {c: evidently_verdict(v) for c, v in peer["default"].items()}
    expected = {c: c in DRIFTED for c in verdicts_ours}
    ks_diffs = [
        abs(ours["columns"][c]["ks_p_value"] - peer["ks"][c]["score"])
        for c in ours["columns"]
        if c.startswith("num_")
    ]
    import pandas as pd

    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    stat_diffs = [
        abs(ours["columns"][c]["ks_statistic"] - sps.ks_2samp(ref[c], cur[c]).statistic)
        for c in ours["columns"]
        if c.startswith("num_")
    ]
    return {
        "rows": rows,
        "shipyard_seconds": ours["seconds"],
        "evidently_seconds": peer["seconds"],
        "shipyard_s": median(ours["seconds"]),
        "scan_s": median(scan["seconds"]),
        "evidently_s": median(peer["seconds"]),
        "shipyard_rss": ours["peak_rss"],
        "shipyard_imported": ours["imported"],
        "scan_rss": scan["peak_rss"],
        "evidently_rss": peer["peak_rss"],
        "same_verdicts": verdicts_ours == verdicts_peer,
        "verdicts_as_planted": verdicts_ours == expected and verdicts_peer == expected,
        "max_ks_p_diff": max(ks_diffs),
        "max_ks_stat_diff_vs_scipy": max(stat_diffs),
        "disagreements": sorted(c for c in verdicts_ours if verdicts_ours[c] != verdicts_peer[c]),
    }


def table(results: list[dict[str, object]]) -> str:
    mib = 1024 * 1024
    lines = [
        "| rows | shipyard s | Evidently s | speed-up | shipyard peak MiB | Evidently peak MiB "
        "| memory ratio | scan s | scan peak MiB | same verdicts | max KS p diff "
        "| max KS stat diff |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['shipyard_s']:.2f} | {r['evidently_s']:.1f} "
            f"| {ratio(r['evidently_s'], r['shipyard_s']):.0f}× "  # type: ignore[arg-type]
            f"| {r['shipyard_rss'] / mib:.0f} | {r['evidently_rss'] / mib:.0f} "  # type: ignore[operator]
            f"| 1/{ratio(r['evidently_rss'], r['shipyard_rss']):.1f} "  # type: ignore[arg-type]
            f"| {r['scan_s']:.2f} | {r['scan_rss'] / mib:.0f} "  # type: ignore[operator]
            f"| {r['same_verdicts']} | {r['max_ks_p_diff']:.1e} "
            f"| {r['max_ks_stat_diff_vs_scipy']:.1e} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--side"]:
        shipyard_side(argv[2], argv[3], int(argv[4]), argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-repeats", type=int, default=2)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    results = [compare(rows, args.repeats, args.peer_repeats) for rows in args.rows]
    load_after = os.getloadavg()
    print(f"{machine()}, {stamp()}")
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}\n")
    print(table(results))
    print("\n```json\n" + json.dumps(results, indent=1) + "\n```")


if __name__ == "__main__":
    main(sys.argv[1:])
