"""A monitor run over a 10M-row prediction-log window: wall time and peak memory.

Builds (once, seeded) a workspace with a registered classifier over 15 inputs
(12 numeric, 3 categorical; training snapshot and golden set logged) and a
deployment, then writes ``--rows`` logged predictions for one day straight
into the prediction log's layout with pyarrow, one file per hour::

    DATA_DIR/predictions/deployment=scale-api/date=2025-03-01/part-<hour>-….parquet

with the columns and types ``shipyard.serving.predlog`` writes (inputs and
outputs as canonical JSON text, built with Arrow compute kernels; outputs
are the registered model's own predictions). The afternoon's traffic is
drifted (``num_0`` +0.5σ, a new ``cat_0`` category at 5%).

Each measurement runs ``sy.monitor.run_monitor`` over the day in a fresh
subprocess and reports its wall time and its own peak RSS (``VmHWM``); with
``--dask N`` also on a ``LocalCluster`` of N worker processes (the driver's
peak and each worker's are reported separately).

    .venv/bin/python bench/monitoring/bench_scale.py                    # 10M rows
    .venv/bin/python bench/monitoring/bench_scale.py --rows 1000000 --repeats 3 --dask 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import WORK, machine, median, run_json, stamp

DEPLOYMENT = "scale-api"
MODEL = "scale"
DAY = datetime(2025, 3, 1, tzinfo=UTC)
NUMERIC = [f"num_{i}" for i in range(12)]
CATEGORICAL = {f"cat_{i}": [f"c{i}_{k}" for k in range(3 + 3 * i)] for i in range(3)}
FEATURES = [*NUMERIC, *CATEGORICAL]
FILE_ROWS = 1_000_000  # largest file written (the bench's, not the server's, choice)
ROW_GROUP_ROWS = 65_536  # the server's files (one per flush) hold far fewer rows


def peak_rss() -> int:
    """This process's own peak resident memory in bytes (``VmHWM``, not ``ru_maxrss``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def features(rows: int, rng: np.random.Generator, drifted: bool = False) -> dict[str, Any]:
    """Seeded inputs: normal numbers (mean i, std 1 + i/10) and skewed categories."""
    data: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        scale = 1.0 + i / 10
        shift = 0.5 * scale if drifted and i == 0 else 0.0
        data[name] = rng.normal(i + shift, scale, rows)
    for i, (name, labels) in enumerate(CATEGORICAL.items()):
        shares = np.linspace(2.0, 1.0, len(labels))
        values = np.asarray(labels, dtype=object)[
            rng.choice(len(labels), size=rows, p=shares / shares.sum())
        ]
        if drifted and i == 0:
            values[rng.random(rows) < 0.05] = "c0_new"
        data[name] = values
    return data


def target(data: dict[str, Any]) -> np.ndarray:
    score = data["num_0"] - 0 + 0.5 * (data["num_1"] - 1) - 0.3 * (data["num_2"] - 2)
    return (score + (data["cat_0"] == "c0_0") > 0.3).astype(int)


def setup(home: Path) -> None:
    """Train, register (snapshot + golden set) and deploy; idempotent per folder."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from shipyard.registry import register_model
    from shipyard.serving.deployments import create_deployment
    from shipyard.tracking import start_run

    data = features(20_000, np.random.default_rng(1))
    train = pd.DataFrame(data)[FEATURES]
    y = target(data)
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
        ]
    )
    model = Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=500))]).fit(train, y)
    with workspace(home) as ws:
        with start_run("scale-bench", workspace=ws) as run:
            run.log_dataset(train, "scale-train")
            register_model(
                model,
                MODEL,
                input_example=train.iloc[:5],
                golden=(train.iloc[:1000], y[:1000]),
                run_id=run.id,
                workspace=ws,
            )
        create_deployment(DEPLOYMENT, MODEL, workspace=ws)


def workspace(home: Path, **overrides: Any) -> Any:
    from shipyard.config import load_settings
    from shipyard.workspace import Workspace

    settings = load_settings({"home": str(home), **overrides}, cwd=home.parent, environ={})
    return Workspace(settings)


def write_log(home: Path, rows: int, row_group: int) -> None:
    """``rows`` predictions over DAY, one file per hour (split above FILE_ROWS)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import shipyard as sy
    from shipyard.serving.predlog import predictions_dir

    with workspace(home) as ws:
        model = sy.load_model(f"{MODEL}/1", workspace=ws)
        folder = predictions_dir(ws.settings.data_dir) / f"deployment={DEPLOYMENT}"
    folder = folder / f"date={DAY:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(rows)
    per_hour = np.full(24, rows // 24)
    per_hour[: rows % 24] += 1
    for hour, count in enumerate(per_hour.tolist()):
        for part, size in enumerate(_split(count, FILE_ROWS)):
            table = _hour_table(model, rng, hour, size, drifted=hour >= 12)
            name = f"part-{hour:02d}{part:02d}-bench.parquet"
            pq.write_table(table, folder / f".{name}.tmp", row_group_size=row_group)
            (folder / f".{name}.tmp").replace(folder / name)
            del table
    _ = pa  # pyarrow.parquet needs pyarrow imported


def _split(count: int, size: int) -> list[int]:
    return [min(size, count - start) for start in range(0, count, size)] if count else []


def _hour_table(model: Any, rng: np.random.Generator, hour: int, rows: int, drifted: bool) -> Any:
    import pandas as pd
    import pyarrow as pa

    from shipyard.serving.predlog import _schema

    data = features(rows, rng, drifted)
    frame = pd.DataFrame(data)[FEATURES]
    predicted = np.asarray(model.predict(frame))
    proba = np.asarray(model.predict_proba(frame))
    start = (DAY + timedelta(hours=hour)).timestamp()
    stamps = np.sort(start + rng.random(rows) * 3600) * 1e6
    columns = {
        "prediction_id": _hex(rng, rows),
        "timestamp": pa.array(stamps.astype(np.int64), pa.timestamp("us", tz="UTC")),
        "deployment": pa.array([DEPLOYMENT] * rows, pa.string()),
        "model": pa.array([MODEL] * rows, pa.string()),
        "model_version": pa.array(["1"] * rows, pa.string()),
        "route": pa.array(["production"] * rows, pa.string()),
        "input_hash": _hex(rng, rows),
        "inputs": _inputs_json(data),
        "features": pa.nulls(rows, pa.string()),
        "outputs": _outputs_json(predicted, proba),
        "latency_ms": pa.array(rng.gamma(2.0, 1.5, rows)),
    }
    return pa.table(columns, schema=_schema())


def _hex(rng: np.random.Generator, rows: int) -> Any:
    import pyarrow as pa

    raw = np.frombuffer(rng.bytes(16 * rows), dtype=np.uint8).reshape(rows, 16)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    text = np.empty((rows, 32), dtype=np.uint8)
    text[:, 0::2], text[:, 1::2] = digits[raw >> 4], digits[raw & 15]
    return pa.array(text.view("S32").ravel()).cast(pa.string())


def _inputs_json(data: dict[str, Any]) -> Any:
    """Canonical JSON (sorted keys) of each row, with Arrow's C++ string kernels."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: list[Any] = []
    for i, name in enumerate(sorted(data)):
        parts.append(("{" if i == 0 else ",") + json.dumps(name) + ":")
        values = pa.array(data[name])
        text = pc.cast(values, pa.string())
        if pa.types.is_string(values.type):
            text = pc.binary_join_element_wise('"', text, '"', "")
        parts.append(text)
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")


def _outputs_json(predicted: np.ndarray, proba: np.ndarray) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    def text(values: np.ndarray) -> Any:
        return pc.cast(pa.array(values), pa.string())

    return pc.binary_join_element_wise(
        '{"predict":',
        text(predicted),
        ',"predict_proba":[',
        text(proba[:, 0]),
        ",",
        text(proba[:, 1]),
        "]}",
        "",
    )


def prepare(folder: Path, rows: int, row_group: int) -> Path:
    home = folder / "home"
    marker = folder / "ready"
    if marker.exists():
        return home
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    setup(home)
    write_log(home, rows, row_group)
    marker.write_text(f"{rows} rows written in {time.perf_counter() - started:.0f} s\n")
    return home


# --- the measured subprocess -----------------------------------------------------------------


def child(home: Path, scheduler: str, workers: int) -> None:
    cluster = None
    overrides: dict[str, Any] = {}
    if workers:
        from distributed import LocalCluster

        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        overrides["dask_scheduler"] = cluster.scheduler_address
    elif scheduler:
        overrides["dask_scheduler"] = scheduler
    from shipyard.monitoring.runs import run_monitor

    with workspace(home, **overrides) as ws:
        started = time.perf_counter()
        result = run_monitor(DEPLOYMENT, start=DAY, end=DAY + timedelta(days=1), workspace=ws)
        seconds = time.perf_counter() - started
    worker_peaks: list[int] = []
    if cluster is not None:
        from distributed import Client

        with Client(cluster) as client:
            worker_peaks = sorted(client.run(peak_rss).values())
        cluster.close()
    summary = result.summary
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak": peak_rss(),
                "worker_peaks": worker_peaks,
                "n_predictions": result.n_predictions,
                "drifted": summary["drift"]["drifted"],
                "prediction_drifted": summary["prediction_drift"]["drifted"],
                "quality_rows": summary["quality"]["n_rows"],
                "status": result.status,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dask", type=int, default=0, help="also run on N local workers")
    parser.add_argument(
        "--row-group", type=int, default=ROW_GROUP_ROWS, help="rows per Parquet row group"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--scheduler", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.scheduler, args.workers)
        return
    folder = WORK / "monitoring-scale" / f"{args.rows}-rg{args.row_group}"
    started = time.perf_counter()
    home = prepare(folder, args.rows, args.row_group)
    print(
        f"data: {folder} ({(folder / 'ready').read_text().strip()}; ready after "
        f"{time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
    )
    size = sum(p.stat().st_size for p in (home / "data").rglob("*.parquet"))
    modes = [("in-process", 0)] + ([(f"dask {args.dask} workers", args.dask)] if args.dask else [])
    rows = []
    for label, workers in modes:
        runs = []
        for _ in range(args.repeats):
            extra = ["--workers", str(workers)] if workers else []
            runs.append(run_json(sys.executable, __file__, "--child", str(home), *extra))
            print(label, runs[-1], file=sys.stderr)
        rows.append((label, runs))
    print(f"\nMachine: {machine()}, load {os.getloadavg()[0]:.2f}. Date: {stamp()}.")
    print(
        f"Log: {args.rows:,} rows in 24+ files (row groups of {args.row_group:,} rows), "
        f"{size / 2**20:.0f} MiB of Parquet.\n"
    )
    print("| mode | rows | wall s (median) | runs s | driver peak MiB | worker peaks MiB |")
    print("|---|---:|---:|---|---:|---|")
    for label, runs in rows:
        times = [r["seconds"] for r in runs]
        peak = max(r["peak"] for r in runs) / 2**20
        workers = max((r["worker_peaks"] for r in runs), key=lambda w: sum(w), default=[])
        print(
            f"| {label} | {runs[0]['n_predictions']:,} | {median(times):.1f} | "
            + " / ".join(f"{t:.1f}" for t in times)
            + f" | {peak:.0f} | "
            + (", ".join(f"{w / 2**20:.0f}" for w in workers) or "—")
            + " |"
        )
    first = rows[0][1][0]
    print(
        f"\ndrifted: {first['drifted']}, prediction drift: {first['prediction_drifted']}, "
        f"quality rows: {first['quality_rows']:,}, status {first['status']}"
    )


if __name__ == "__main__":
    main()
