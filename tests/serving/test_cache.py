"""The inference cache: repeats skip the model, answers stay exact, hit rate in /metrics."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from typer.testing import CliRunner

from shipyard.cli import app as cli
from shipyard.errors import ConfigError, InvalidInput
from shipyard.registry import register_model
from shipyard.serving.cache import CacheConfig, MemoryCache, row_digests
from shipyard.serving.deployments import create_deployment, get_deployment, update_deployment
from shipyard.serving.predlog import query
from shipyard.serving.spec import DeploymentSpec
from shipyard.store import Store
from shipyard.store.engine import create_engines
from shipyard.store.migrate import upgrade_to
from shipyard.workspace import Workspace

from .conftest import ServerThread, StartServer, Trained, free_port, routes_of, settings_for


def _metric(server: ServerThread, name: str, **labels: str) -> float:
    """The summed value of a /metrics sample (0 when absent)."""
    found = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{server.url}/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                found += sample.value
    return found


def _records(trained: Trained, rows: list[int]) -> dict[str, Any]:
    return {"records": trained.frame.iloc[rows].to_dict("records")}


def _proba(trained: Trained, rows: list[int]) -> Any:
    return trained.model.predict_proba(trained.frame.iloc[rows])


def _spec(**cache: Any) -> DeploymentSpec:
    return DeploymentSpec("api", "cancer", cache=CacheConfig(**cache))


def test_repeated_rows_are_answered_from_memory_without_the_model(
    start_server: StartServer, trained: Trained, tmp_path: Path
) -> None:
    server = start_server(_spec(mode="memory"), routes_of(trained.served()))
    first = httpx.post(f"{server.url}/predict", json=_records(trained, [0, 1, 2, 3, 4])).json()
    again = httpx.post(f"{server.url}/predict", json=_records(trained, [0, 1, 2, 3, 4])).json()
    assert again["probabilities"] == first["probabilities"]
    assert set(again["prediction_ids"]).isdisjoint(first["prediction_ids"])
    assert _metric(server, "shipyard_batch_size_count") == 1  # one model call for ten rows
    assert _metric(server, "shipyard_cache_hits_total", version="1") == 5
    assert _metric(server, "shipyard_cache_misses_total", version="1") == 5

    # Cached and new rows mixed: only the new ones reach the model, order is kept.
    mixed = [7, 3, 8, 0, 9]
    reply = httpx.post(f"{server.url}/predict", json=_records(trained, mixed)).json()
    np.testing.assert_allclose(reply["probabilities"], _proba(trained, mixed), rtol=1e-12)
    assert reply["predictions"] == trained.model.predict(trained.frame.iloc[mixed]).tolist()
    assert _metric(server, "shipyard_batch_size_sum") == 5 + 3
    assert _metric(server, "shipyard_cache_hits_total") == 7
    server.stop()
    logged = query("api", workspace=Workspace(settings_for(tmp_path)))
    assert len(logged) == 15 and logged["prediction_id"].is_unique  # every answer is logged


def test_the_cache_is_off_by_default(start_server: StartServer, trained: Trained) -> None:
    assert DeploymentSpec("api", "cancer").cache.mode == "off"
    server = start_server(DeploymentSpec("api", "cancer"), routes_of(trained.served()))
    for _ in range(2):
        httpx.post(f"{server.url}/predict", json=_records(trained, [0, 1]))
    assert _metric(server, "shipyard_batch_size_sum") == 4
    assert "shipyard_cache_hits_total{" not in httpx.get(f"{server.url}/metrics").text


def test_memory_cache_evicts_the_least_recently_used_and_expires() -> None:
    now = [0.0]
    cache = MemoryCache(max_entries=2, ttl_seconds=10, clock=lambda: now[0])

    async def scenario() -> list[Any]:
        await cache.put("m", [b"a", b"b"], [(1,), (2,)])
        await cache.get("m", [b"a"])  # 'a' is now the most recently used
        await cache.put("m", [b"c"], [(3,)])  # evicts 'b'
        kept = await cache.get("m", [b"a", b"b", b"c"])
        now[0] = 11.0
        expired = await cache.get("m", [b"a", b"c"])
        return [kept, expired, len(cache)]

    assert asyncio.run(scenario()) == [[(1,), None, (3,)], [None, None], 0]


def test_row_keys_depend_on_values_types_and_model_not_on_batch() -> None:
    a = np.array([1.0, 2.0, 1.0])
    keys = row_digests(
        "cancer/1", {"x": a, "s": np.array(["p", "q", "p"], dtype=object)}, ["x", "s"]
    )
    assert keys[0] == keys[2] != keys[1]
    alone = row_digests("cancer/1", {"x": a[1:2], "s": np.array(["q"], dtype=object)}, ["x", "s"])
    assert alone == [keys[1]]
    assert (
        row_digests("cancer/2", {"x": a[:1], "s": np.array(["p"], dtype=object)}, ["x", "s"])
        != keys[:1]
    )
    as_int = row_digests("cancer/1", {"x": np.array([1])}, ["x"])
    assert as_int != row_digests("cancer/1", {"x": np.array([1.0])}, ["x"])


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    import redis

    prefix = f"test-cache-{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_server)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_redis_cache_is_shared_by_servers(
    start_server: StartServer, trained: Trained, redis_server: str, redis_prefix: str
) -> None:
    import redis

    spec = _spec(mode="redis", url=f"{redis_server}?prefix={redis_prefix}", ttl_seconds=60)
    one = start_server(spec, routes_of(trained.served()))
    two = start_server(spec, routes_of(trained.served()))
    rows = [10, 11, 12]
    first = httpx.post(f"{one.url}/predict", json=_records(trained, rows)).json()
    client = redis.Redis.from_url(redis_server)
    deadline = time.monotonic() + 5
    while len(list(client.scan_iter(match=f"{redis_prefix}cancer/1:*"))) < 3:
        assert time.monotonic() < deadline, "the cache entries were not written"
        time.sleep(0.02)
    assert 0 < client.ttl(next(client.scan_iter(match=f"{redis_prefix}*"))) <= 60
    client.close()
    second = httpx.post(f"{two.url}/predict", json=_records(trained, rows)).json()
    assert second["probabilities"] == first["probabilities"]
    assert _metric(two, "shipyard_cache_hits_total", version="1") == 3
    assert _metric(two, "shipyard_batch_size_count") == 0  # the model was never called


def test_an_unreachable_redis_never_fails_a_request(
    start_server: StartServer, trained: Trained
) -> None:
    spec = _spec(mode="redis", url=f"redis://127.0.0.1:{free_port()}/0")
    server = start_server(spec, routes_of(trained.served()))
    reply = httpx.post(f"{server.url}/predict", json=_records(trained, [0, 1]))
    assert reply.status_code == 200
    np.testing.assert_allclose(reply.json()["probabilities"], _proba(trained, [0, 1]))
    assert _metric(server, "shipyard_cache_errors_total") >= 1


@pytest.fixture
def registered(workspace: Workspace, trained: Trained) -> Workspace:
    register_model(
        trained.model, "cancer", input_example=trained.frame.iloc[:5], workspace=workspace
    )
    return workspace


def test_cache_settings_are_stored_checked_and_changed(registered: Workspace) -> None:
    spec = create_deployment(
        "api", "cancer", cache=CacheConfig("memory", 100, 60.0), workspace=registered
    )
    assert get_deployment("api", workspace=registered).cache == CacheConfig("memory", 100, 60.0)
    assert spec.to_dict()["cache"] == {
        "mode": "memory",
        "max_entries": 100,
        "ttl_seconds": 60.0,
        "url": None,
    }
    changed = update_deployment("api", cache_size=5, cache_ttl_seconds=0, workspace=registered)
    assert changed.cache == CacheConfig("memory", 5, 0)
    assert update_deployment("api", cache="off", workspace=registered).cache.mode == "off"
    with pytest.raises(InvalidInput) as bad:
        update_deployment("api", cache="disk", workspace=registered)
    assert bad.value.field == "cache"
    with pytest.raises(ConfigError, match="--cache-url"):  # the online store is SQLite here
        update_deployment("api", cache="redis", workspace=registered)
    redis_spec = update_deployment(
        "api", cache="redis", cache_url="redis://cache:6379/1", workspace=registered
    )
    assert redis_spec.cache.url == "redis://cache:6379/1"


def test_cache_flags_on_the_cli(registered: Workspace) -> None:
    home = ["--home", str(registered.settings.home), "--db-url", registered.settings.db_url]
    runner = CliRunner()
    made = runner.invoke(
        cli,
        [
            *home,
            "deployments",
            "create",
            "api",
            "--model",
            "cancer",
            "--cache",
            "memory",
            "--cache-size",
            "10",
            "--json",
        ],
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["cache"]["max_entries"] == 10
    bad = runner.invoke(cli, [*home, "deployments", "update", "api", "--cache", "disk"])
    assert bad.exit_code == 2 and "cache must be one of off, memory, redis" in bad.output


def test_deployments_of_an_older_store_upgrade_with_cache_off(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    write, _ = create_engines(url)
    upgrade_to(write, "0005_serving")
    with write.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO deployments (name, model, canary_percent, batching, "
                "log_predictions, warm_seconds, created_at, updated_at) VALUES ('old', 'm', 0, "
                "'{}', 1, 60, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
            )
        )
    write.dispose()
    Store.open(url).close()  # upgrades in place
    with Workspace(settings_for(tmp_path, db_url=url)) as workspace:
        spec = get_deployment("old", workspace=workspace)
    assert (spec.feature_service, spec.cache) == (None, CacheConfig())
