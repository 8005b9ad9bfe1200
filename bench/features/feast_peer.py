"""Feast side of the feature benchmark; runs in Feast's own virtualenv.

Usage: python feast_peer.py WORKDIR OFFLINE(file|duckdb) ONLINE(sqlite|redis) REPEATS
Reads WORKDIR/features.parquet and WORKDIR/entities.parquet, prints one JSON line.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pandas as pd

FEATURES = [f"f{i}" for i in range(5)]


def repo(work: Path, offline: str, online: str) -> Path:
    folder = work / f"feast_{offline}_{online}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    online_cfg = (
        f"  type: sqlite\n  path: {folder / 'online.db'}\n"
        if online == "sqlite"
        else "  type: redis\n  connection_string: 127.0.0.1:6379,db=0\n"
    )
    project = f"bench_{uuid.uuid4().hex[:8]}"
    (folder / "feature_store.yaml").write_text(
        f"project: {project}\nregistry: {folder / 'registry.db'}\nprovider: local\n"
        f"offline_store:\n  type: {offline}\nonline_store:\n{online_cfg}"
        "entity_key_serialization_version: 3\n"
    )
    return folder


def main() -> None:
    work, offline, online, repeats = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float64
    from feast.value_type import ValueType

    folder = repo(work, offline, online)
    meta = json.loads((work / "meta.json").read_text())
    source = FileSource(
        path=str(work / "features.parquet"),
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="stats",
        entities=[customer],
        ttl=timedelta(seconds=meta["lookback_seconds"]),
        schema=[Field(name=f, dtype=Float64) for f in FEATURES],
        source=source,
        online=True,
    )
    store = FeatureStore(repo_path=str(folder))
    store.apply([customer, view])
    refs = [f"stats:{f}" for f in FEATURES]
    out: dict[str, object] = {"feast": __import__("feast").__version__}
    entities = pd.read_parquet(work / "entities.parquet")
    if online == "sqlite":  # the offline part once per offline store
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = store.get_historical_features(entity_df=entities, features=refs).to_df()
            times.append(time.perf_counter() - start)
        out["pit_seconds"] = statistics.median(times)
        out["pit_rows"] = len(result)
        result[["row_id", *FEATURES]].to_parquet(work / f"feast_{offline}_result.parquet")
    end = pd.Timestamp(meta["end"])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        store.materialize(pd.Timestamp(meta["start"]).to_pydatetime(), end.to_pydatetime())
        times.append(time.perf_counter() - start)
    out["materialize_seconds"] = statistics.median(times)
    out.update(online_latency(store, refs, meta["entities"]))
    if online == "redis":
        store.teardown()
    print(json.dumps(out))


def online_latency(store: object, refs: list[str], n_entities: int) -> dict[str, float]:
    import numpy as np

    rng = np.random.default_rng(0)
    result: dict[str, float] = {}
    for batch, calls in ((1, 2000), (100, 200)):
        lat = []
        for _ in range(calls):
            rows = [{"customer_id": int(i)} for i in rng.integers(0, n_entities, batch)]
            start = time.perf_counter()
            store.get_online_features(features=refs, entity_rows=rows).to_dict()  # type: ignore[attr-defined]
            lat.append(time.perf_counter() - start)
        result[f"online_{batch}_p50_ms"] = float(np.percentile(lat, 50) * 1000)
        result[f"online_{batch}_p99_ms"] = float(np.percentile(lat, 99) * 1000)
    return result


if __name__ == "__main__":
    main()
