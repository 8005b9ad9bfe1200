"""Dataset snapshots: snapshot + profile time and peak memory, against two anchors.

For N rows x 20 columns (14 float64, 4 int64, 2 low-cardinality strings) in a
Parquet file generated here (under bench/.work/data/), each measured in a fresh
process so that peak RSS is that operation's own:

- ``write_table``: ``pyarrow.parquet.write_table`` of the same table, already in
  memory (the ceiling: writing the table once; its peak includes the table);
- ``shipyard``: ``shipyard.data.add(file)`` into a fresh workspace: read,
  canonicalize, hash, write the snapshot, profile every column, store;
- ``dvc add``: DVC 3 in its own virtualenv, which only hashes (MD5) and caches
  the file.

The two in-process workers first do their operation once on two rows, so that
one-time costs (imports such as pandas, which pyarrow loads on its first
conversion of a Python value; SQL statement compilation) are not timed.

    .venv/bin/python bench/data/bench_data.py            # 1M (5 runs), 10M (3 runs)
    .venv/bin/python bench/data/bench_data.py --quick    # 200k rows, 2 runs
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import WORK, machine, median, peer_python, ratio, stamp

DVC = "dvc==3.67.1"
HERE = Path(__file__).resolve().parent
DATA = WORK / "data"
COLUMNS = 20
CHUNK = 500_000


def generate(rows: int) -> Path:
    """The benchmark Parquet file with ``rows`` rows (generated once, in chunks)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA / f"table_{rows}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    plans = np.array(["free", "pro", "team", "enterprise"])
    countries = np.array([f"c{i:02d}" for i in range(50)])
    partial = path.with_suffix(".part")
    writer = None
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        columns = {f"f{i:02d}": rng.normal(i, 1 + i, n) for i in range(14)}
        columns.update({f"i{i}": rng.integers(0, 10 ** (i + 2), n) for i in range(4)})
        columns["plan"] = plans[rng.integers(0, len(plans), n)]
        columns["country"] = countries[rng.integers(0, len(countries), n)]
        table = pa.table(columns)
        writer = writer or pq.ParquetWriter(partial, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    partial.rename(path)
    return path


def peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU seconds of this process (or its waited-for children), all threads."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def worker(kind: str, file: str) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    with tempfile.TemporaryDirectory(dir=WORK) as folder:
        if kind == "write_table":
            import pyarrow.parquet as pq

            table = pq.read_table(file)
            pq.write_table(table.slice(0, 2), Path(folder) / "warm-up.parquet")
            start, cpu = time.perf_counter(), cpu_s()
            pq.write_table(table, Path(folder) / "out.parquet")  # defaults: snappy
        elif kind == "shipyard":
            from shipyard.config import load_settings
            from shipyard.data import add
            from shipyard.workspace import Workspace

            settings = load_settings({"home": folder}, cwd=Path(folder), environ={})
            with Workspace(settings) as workspace:
                workspace.store  # noqa: B018 - open the store before timing
                add(_two_rows(file), "warm-up", workspace=workspace)
                start, cpu = time.perf_counter(), cpu_s()
                add(file, "bench", workspace=workspace)
        else:
            return _dvc(Path(folder), Path(file))
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "cpu_s": cpu_s() - cpu, "peak_mb": peak_mb()}


def _two_rows(file: str) -> object:
    import pyarrow.parquet as pq

    return next(pq.ParquetFile(file).iter_batches(batch_size=2))


def _dvc(folder: Path, file: Path) -> dict[str, float]:
    dvc = str(peer_python("dvc", [DVC]).parent / "dvc")
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=folder, check=True)
    target = folder / file.name
    os.link(file, target)  # same bytes, no copy before timing
    start = time.perf_counter()
    cpu = cpu_s(resource.RUSAGE_CHILDREN)  # the init above, to subtract
    subprocess.run([dvc, "add", "-q", target.name], cwd=folder, check=True)
    return {
        "seconds": time.perf_counter() - start,
        "cpu_s": cpu_s(resource.RUSAGE_CHILDREN) - cpu,
        "peak_mb": peak_mb(resource.RUSAGE_CHILDREN),
    }


def measure(kind: str, file: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench(rows: int, repeats: int) -> dict[str, object]:
    file = generate(rows)
    runs: dict[str, list[dict[str, float]]] = {"write_table": [], "shipyard": [], "dvc": []}
    for _ in range(repeats):  # interleaved, so drift hits every contender alike
        for kind in runs:
            runs[kind].append(measure(kind, file))
            print(rows, kind, runs[kind][-1], flush=True)
    summary: dict[str, object] = {
        "rows": rows,
        "repeats": repeats,
        "file_mb": file.stat().st_size / 2**20,
    }
    for kind, values in runs.items():
        summary[f"{kind}_s"] = median([v["seconds"] for v in values])
        summary[f"{kind}_cpu_s"] = median([v["cpu_s"] for v in values])
        summary[f"{kind}_peak_mb"] = max(v["peak_mb"] for v in values)
    summary["vs_write_table"] = ratio(summary["shipyard_s"], summary["write_table_s"])  # type: ignore[arg-type]
    summary["vs_dvc"] = ratio(summary["shipyard_s"], summary["dvc_s"])  # type: ignore[arg-type]
    summary["cpu_vs_write_table"] = ratio(summary["shipyard_cpu_s"], summary["write_table_cpu_s"])  # type: ignore[arg-type]
    return summary


def write_results(results: list[dict[str, object]], command: str, load: str) -> None:
    lines = [
        "# Data layer benchmark: snapshot + profile",
        "",
        f"- machine: {machine()}",
        f"- date: {stamp()}",
        f"- command: `{command}`",
        f"- load average (1, 5, 15 min) before / after the run: {load}",
        f"- peer: `{DVC}` in its own virtualenv; data: N rows x {COLUMNS} columns "
        "(14 float64, 4 int64, 2 low-cardinality strings), Parquet/snappy, generated by the "
        "script; `write_table` (its defaults) and shipyard's snapshot both write snappy Parquet",
        "- CPU s: user + system CPU time of the operation summed over all its threads, "
        "less sensitive than wall time to other jobs on the machine",
        "- times are medians of the runs; peaks are the highest peak RSS of any run of that "
        "operation, each run in a fresh process",
        "",
        "| rows | runs | file MB | write_table s | shipyard add s | dvc add s "
        "| shipyard / write_table | shipyard / dvc | CPU s write_table | CPU s shipyard "
        "| CPU shipyard / write_table | peak MB write_table | peak MB shipyard | peak MB dvc |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['repeats']} | {r['file_mb']:.0f} | {r['write_table_s']:.2f} "
            f"| {r['shipyard_s']:.2f} | {r['dvc_s']:.2f} | {r['vs_write_table']:.2f}x "
            f"| {r['vs_dvc']:.2f}x | {r['write_table_cpu_s']:.2f} | {r['shipyard_cpu_s']:.2f} "
            f"| {r['cpu_vs_write_table']:.2f}x "
            f"| {r['write_table_peak_mb']:.0f} | {r['shipyard_peak_mb']:.0f} "
            f"| {r['dvc_peak_mb']:.0f} |"
        )
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200k rows, 2 runs")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="*", help="row counts (default 1M 10M)")
    parser.add_argument("--repeats", type=int, nargs="*", help="runs per size (default 5 3)")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    sizes = args.sizes or ([200_000] if args.quick else [1_000_000, 10_000_000])
    repeats = args.repeats or ([2] if args.quick else [5, 3])
    before = os.getloadavg()
    results = [bench(rows, n) for rows, n in zip(sizes, repeats, strict=True)]
    load = " / ".join(", ".join(f"{x:.1f}" for x in avg) for avg in (before, os.getloadavg()))
    print(json.dumps(results, indent=2), "\nload", load)
    if not args.quick:
        command = "python bench/data/bench_data.py " + " ".join(sys.argv[1:])
        write_results(results, command, load)
    shutil.rmtree(WORK / "tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
