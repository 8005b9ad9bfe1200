"""Feature store: point-in-time retrieval, materialization and online lookups, vs Feast.

Same seeded data for both: E entities x 200 event times x 5 float features
(created timestamps, same-minute ties, a 12 h look-back) and N entity rows with
a ``row_id`` column. Measured in one run, medians of several repetitions:

- point-in-time retrieval: shipyard ``get_historical`` vs Feast
  ``get_historical_features`` with its DuckDB offline store (exact) and its
  default file (dask) store; rows are compared with Feast DuckDB by ``row_id``;
- materialization of the whole window into the online store (SQLite);
- online lookups (SQLite and Redis): single-entity calls and batches of 100,
  p50 / p99 latency of ``get_online`` vs ``get_online_features``;
- shipyard alone at scale (``--scale``): 10M feature rows x 1M entity rows,
  time and peak RSS, in a fresh process.

    .venv/bin/python bench/features/bench_features.py             # 1,000 entities, 100k rows
    .venv/bin/python bench/features/bench_features.py --quick     # 100 entities, 10k rows
    .venv/bin/python bench/features/bench_features.py --scale     # + the 10M x 1M run
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import WORK, machine, median, peer_python, ratio, run_json, stamp

FEAST = ["feast[duckdb,redis]==0.67.0"]
HERE = Path(__file__).resolve().parent
FEATURES = [f"f{i}" for i in range(5)]
LOOKBACK = timedelta(hours=12)
DAYS = 30


def make_data(
    work: Path, entities: int, per_entity: int, rows: int, seed: int = 0
) -> dict[str, Any]:
    """Feature rows (minute resolution, so same-time ties happen) and entity rows."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    n = entities * per_entity
    minutes = rng.integers(0, DAYS * 24 * 60, n)
    stamps = start + pd.to_timedelta(minutes, unit="min")
    frame = pd.DataFrame(
        {
            "customer_id": np.repeat(np.arange(entities, dtype=np.int64), per_entity),
            "event_timestamp": stamps,
            "created": stamps + pd.to_timedelta(rng.integers(0, 3600_000_000, n), unit="us"),
            **{f: rng.normal(size=n) for f in FEATURES},
        }
    )
    work.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(work / "features.parquet", index=False, row_group_size=1_000_000)
    entity = pd.DataFrame(
        {
            "customer_id": rng.integers(0, int(entities * 1.02) + 1, rows).astype(np.int64),
            "event_timestamp": start
            + pd.to_timedelta(rng.integers(-3600, DAYS * 86400, rows), unit="s"),
            "row_id": np.arange(rows, dtype=np.int64),
        }
    )
    entity.to_parquet(work / "entities.parquet", index=False)
    end = start + timedelta(days=DAYS + 1)
    meta = {
        "entities": entities,
        "feature_rows": n,
        "entity_rows": rows,
        "start": str(start - timedelta(days=1)),
        "end": str(end),
        "lookback_seconds": LOOKBACK.total_seconds(),
        "ties": int(frame.duplicated(["customer_id", "event_timestamp"]).sum()),
    }
    (work / "meta.json").write_text(json.dumps(meta))
    return meta


def shipyard_workspace(work: Path, online: str) -> Any:
    import shipyard as sy
    from shipyard.config import load_settings
    from shipyard.workspace import Workspace

    home = work / f"shipyard_{online.split(':')[0]}"
    shutil.rmtree(home, ignore_errors=True)
    overrides = {"home": str(home)}
    if online.startswith("redis"):
        overrides["online_store"] = online
    ws = Workspace(load_settings(overrides, cwd=work, environ={}))
    customer = sy.Entity("customer", join_keys=["customer_id"])
    view = sy.FeatureView(
        "stats",
        entity=customer,
        source=str(work / "features.parquet"),
        created_timestamp="created",
        features={f: "float64" for f in FEATURES},
        lookback=LOOKBACK,
    )
    sy.features.apply([view], workspace=ws)
    return ws


def shipyard_offline(work: Path, repeats: int) -> dict[str, Any]:
    import shipyard as sy

    ws = shipyard_workspace(work, "sqlite")
    entity = pd.read_parquet(work / "entities.parquet")
    refs = [f"stats:{f}" for f in FEATURES]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = sy.features.get_historical(entity, refs, workspace=ws)
        times.append(time.perf_counter() - start)
    result[["row_id", *FEATURES, "stats__status"]].to_parquet(work / "shipyard_result.parquet")
    ws.close()
    return {"pit_seconds": median(times), "pit_rows": len(result)}


def shipyard_online(work: Path, online: str, repeats: int, meta: dict[str, Any]) -> dict[str, Any]:
    import shipyard as sy

    ws = shipyard_workspace(work, online)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sy.features.materialize("stats", meta["start"], meta["end"], workspace=ws)
        times.append(time.perf_counter() - start)
    refs = [f"stats:{f}" for f in FEATURES]
    out: dict[str, Any] = {"materialize_seconds": median(times)}
    rng = np.random.default_rng(0)
    for batch, calls in ((1, 2000), (100, 200)):
        lat = []
        for _ in range(calls):
            rows = [{"customer_id": int(i)} for i in rng.integers(0, meta["entities"], batch)]
            start = time.perf_counter()
            sy.features.get_online(rows, refs, workspace=ws)
            lat.append(time.perf_counter() - start)
        out[f"online_{batch}_p50_ms"] = float(np.percentile(lat, 50) * 1000)
        out[f"online_{batch}_p99_ms"] = float(np.percentile(lat, 99) * 1000)
    if online.startswith("redis"):
        _drop_redis_prefix(online)
    ws.close()
    return out


def _drop_redis_prefix(url: str) -> None:
    import redis

    base, prefix = url.split("?prefix=")
    client = redis.Redis.from_url(base)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i : i + 1000])
    client.close()


def compare(work: Path, offline: str) -> dict[str, Any]:
    """Rows of shipyard and a Feast store that agree, matched by row_id."""
    mine = pd.read_parquet(work / "shipyard_result.parquet").set_index("row_id")
    theirs = pd.read_parquet(work / f"feast_{offline}_result.parquet").set_index("row_id")
    theirs = theirs[~theirs.index.duplicated()]
    joined = mine.join(theirs.add_suffix("_feast"), how="left")
    same = np.ones(len(joined), dtype=bool)
    for f in FEATURES:
        a, b = joined[f].to_numpy(), joined[f"{f}_feast"].to_numpy()
        same &= (np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=0, atol=0)
    return {
        "rows_returned": len(theirs),
        "rows_dropped": int(len(mine) - mine.index.isin(theirs.index).sum()),
        "rows_identical": int(same.sum()),
        "rows_total": len(mine),
    }


def scale_run(work: Path) -> dict[str, Any]:
    """10M feature rows x 1M entity rows, shipyard alone, in a fresh process."""
    make_data(work, 50_000, 200, 1_000_000, seed=1)
    return run_json(sys.executable, __file__, "--scale-worker", str(work), timeout=3600)


def scale_worker(work: Path) -> None:
    """The measured side of ``scale_run``: prints time (median of 3) and peak RSS."""
    import shipyard as sy

    ws = shipyard_workspace(work, "sqlite")
    entity = pd.read_parquet(work / "entities.parquet")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        out = sy.features.get_historical(entity, [f"stats:{f}" for f in FEATURES], workspace=ws)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": median(times),
                "first_seconds": times[0],
                "times": times,
                "rows": len(out),
                "peak_rss_mb": peak,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--scale", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale-worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_worker:
        scale_worker(args.scale_worker)
        return
    entities, rows = (100, 10_000) if args.quick else (1_000, 100_000)
    work = WORK / "features"
    meta = make_data(work, entities, 200, rows)
    feast = peer_python("feast", FEAST)
    peer = HERE / "feast_peer.py"
    results: dict[str, Any] = {"meta": meta, "machine": machine(), "date": stamp()}
    redis_url = f"redis://127.0.0.1:6379/0?prefix=bench-{uuid.uuid4().hex[:8]}:"
    results["shipyard"] = shipyard_offline(work, args.repeats)
    results["shipyard_sqlite"] = shipyard_online(work, "sqlite", 3, meta)
    results["shipyard_redis"] = shipyard_online(work, redis_url, 3, meta)
    r = str(max(1, args.repeats // 2))
    results["feast_duckdb_sqlite"] = run_json(feast, peer, str(work), "duckdb", "sqlite", r)
    results["feast_file_sqlite"] = run_json(feast, peer, str(work), "file", "sqlite", r)
    results["feast_duckdb_redis"] = run_json(feast, peer, str(work), "duckdb", "redis", "1")
    results["vs_feast_duckdb"] = compare(work, "duckdb")
    results["vs_feast_file"] = compare(work, "file")
    if args.scale:
        with tempfile.TemporaryDirectory(dir=WORK) as folder:
            results["scale"] = scale_run(Path(folder))
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(report(results))


def report(r: dict[str, Any]) -> str:
    s, fd, ff = r["shipyard"], r["feast_duckdb_sqlite"], r["feast_file_sqlite"]
    ss, sr, fr = r["shipyard_sqlite"], r["shipyard_redis"], r["feast_duckdb_redis"]
    m = r["meta"]
    lines = [
        f"machine: {r['machine']}; date: {r['date']}; {fd['feast']=}",
        f"data: {m['entities']} entities x 200 = {m['feature_rows']} feature rows "
        f"({m['ties']} same-time ties), {m['entity_rows']} entity rows",
        "",
        "| measure | shipyard | Feast | ratio |",
        "|---|---|---|---|",
        f"| PIT retrieval vs Feast DuckDB store (s) | {s['pit_seconds']:.3f} | "
        f"{fd['pit_seconds']:.3f} | {ratio(fd['pit_seconds'], s['pit_seconds']):.1f}x |",
        f"| PIT retrieval vs Feast file store (s) | {s['pit_seconds']:.3f} | "
        f"{ff['pit_seconds']:.3f} | {ratio(ff['pit_seconds'], s['pit_seconds']):.1f}x |",
        f"| materialize to SQLite (s) | {ss['materialize_seconds']:.3f} | "
        f"{fd['materialize_seconds']:.3f} | "
        f"{ratio(fd['materialize_seconds'], ss['materialize_seconds']):.1f}x |",
        f"| materialize to Redis (s) | {sr['materialize_seconds']:.3f} | "
        f"{fr['materialize_seconds']:.3f} | "
        f"{ratio(fr['materialize_seconds'], sr['materialize_seconds']):.1f}x |",
    ]
    for name, mine, theirs in (("SQLite", ss, fd), ("Redis", sr, fr)):
        for batch in (1, 100):
            for q in ("p50", "p99"):
                key = f"online_{batch}_{q}_ms"
                lines.append(
                    f"| online {name}, {batch} entit{'y' if batch == 1 else 'ies'}, {q} (ms) | "
                    f"{mine[key]:.3f} | {theirs[key]:.3f} | {ratio(theirs[key], mine[key]):.1f}x |"
                )
    for store in ("duckdb", "file"):
        c = r[f"vs_feast_{store}"]
        lines.append(
            f"\nvs Feast {store}: {c['rows_identical']} of {c['rows_total']} rows identical, "
            f"{c['rows_dropped']} rows dropped by Feast"
        )
    if "scale" in r:
        sc = r["scale"]
        lines.append(
            f"\nscale (shipyard alone): 10M feature rows x 1M entity rows: {sc['seconds']:.2f} s, "
            f"peak RSS {sc['peak_rss_mb']:.0f} MB"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
