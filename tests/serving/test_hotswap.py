"""Serving from the registry: stages followed live, zero failed requests across swaps."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.errors import NotFound
from shipyard.registry import promote, register_model, rollback
from shipyard.serving.deployments import create_deployment
from shipyard.serving.server import build_app
from shipyard.workspace import Workspace

from .conftest import ServerThread, Trained, settings_for


@pytest.fixture
def registry(tmp_path: Path, trained: Trained, trained_alt: Trained) -> Iterator[Workspace]:
    """A store with cancer/1 in production and cancer/2 registered."""
    with Workspace(settings_for(tmp_path)) as workspace:
        example = trained.frame.iloc[:5]
        register_model(trained.model, "cancer", input_example=example, workspace=workspace)
        register_model(trained_alt.model, "cancer", input_example=example, workspace=workspace)
        for stage in ("staging", "canary", "production"):
            promote("cancer/1", stage, reason="first", workspace=workspace)
        yield workspace


def _to_production(workspace: Workspace, ref: str) -> None:
    for stage in ("staging", "canary", "production"):
        promote(ref, stage, reason="test", workspace=workspace)


class Load:
    """Threads posting /predict in a loop, counting answers by status and version."""

    def __init__(self, url: str, body: dict[str, Any], threads: int = 4) -> None:
        self.url, self.body = url, body
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[str] = Counter()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                reply = client.post("/predict", json=self.body)
                with self.lock:
                    self.statuses[reply.status_code] += 1
                    if reply.status_code == 200:
                        self.versions[reply.json()["model_version"]] += 1

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def _wait_for_version(url: str, body: dict[str, Any], version: str, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if httpx.post(f"{url}/predict", json=body).json()["model_version"] == version:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"version {version} not served within {limit} s")


def test_promote_and_rollback_under_load_fail_no_request(
    registry: Workspace, trained: Trained
) -> None:
    create_deployment("cancer-api", "cancer", workspace=registry)
    app = build_app("cancer-api", workspace=registry)  # the default poll: within 2 s
    server = ServerThread(app).start()
    body = {"records": trained.frame.iloc[:2].to_dict("records")}
    try:
        with Load(server.url, body) as load:
            time.sleep(0.3)
            _to_production(registry, "cancer/2")
            assert _wait_for_version(server.url, body, "2", 2.0) <= 2.0
            time.sleep(0.3)
            rollback("cancer", reason="test", workspace=registry)
            assert _wait_for_version(server.url, body, "1", 2.0) <= 2.0
            time.sleep(0.3)
    finally:
        server.stop()
    assert set(load.statuses) == {200}, load.statuses
    assert load.versions["1"] > 0 and load.versions["2"] > 0
    ready_versions = {"1", "2"}
    assert set(load.versions) == ready_versions


def test_model_reference_target_and_its_metadata(registry: Workspace, trained: Trained) -> None:
    server = ServerThread(build_app("cancer/2", workspace=registry)).start()
    try:
        body = {"records": trained.frame.iloc[:1].to_dict("records")}
        assert httpx.post(f"{server.url}/predict", json=body).json()["model_version"] == "2"
        metadata = httpx.get(f"{server.url}/v2/models/cancer").json()
        assert metadata["platform"] == "sklearn"
        assert metadata["inputs"][0] == {"name": "mean radius", "datatype": "FP64", "shape": [-1]}
    finally:
        server.stop()


def test_tampered_artifact_is_never_served(registry: Workspace, trained: Trained) -> None:
    from shipyard.registry.catalog import get_version

    sha = get_version("cancer/1", workspace=registry).sha256
    blobs = [p for p in Path(registry.settings.artifacts_url).rglob("*") if sha in p.name]
    assert blobs, "the artifact store layout changed"
    for blob in blobs:
        blob.write_bytes(b"tampered")
    server = ServerThread(build_app("cancer@production", workspace=registry)).start(
        wait_ready=False
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ready = httpx.get(f"{server.url}/readyz")
            if ready.json().get("reason", "").startswith("IntegrityError"):
                break
            time.sleep(0.05)
        assert ready.status_code == 503
        assert "IntegrityError" in ready.json()["reason"]
        body = {"records": trained.frame.iloc[:1].to_dict("records")}
        assert httpx.post(f"{server.url}/predict", json=body).status_code == 503
    finally:
        server.stop()


def test_replaced_versions_stay_warm_for_warm_seconds(trained: Trained) -> None:
    from shipyard.serving.metrics import ServingMetrics
    from shipyard.serving.runtime import DeploymentRuntime, Routes
    from shipyard.serving.spec import DEFAULT_WARM_SECONDS, DeploymentSpec

    assert DEFAULT_WARM_SECONDS == 7 * 24 * 3600
    one, two, three = (trained.served(v) for v in ("1", "2", "3"))
    columns = {name: trained.frame[name].to_numpy()[:1] for name in trained.frame.columns}

    async def scenario(warm_seconds: float) -> tuple[set[str], str, bool]:
        spec = DeploymentSpec("warm", "cancer", warm_seconds=warm_seconds)
        runtime = DeploymentRuntime(spec, ServingMetrics("warm"), None)
        await runtime.install(Routes(one))
        await runtime.install(Routes(two))  # a promotion: 1 is replaced
        await runtime.install(Routes(three))  # and 2
        loaded = set(runtime.models())
        try:
            pinned = await runtime.predict(columns, started=0.0, endpoint="infer", version="1")
            route = pinned.route
        except NotFound:
            route = "gone"
        reused = "cancer/1" in runtime._batchers  # no reload, no warm-up on rollback
        await runtime.close()
        return loaded, route, reused

    assert asyncio.run(scenario(DEFAULT_WARM_SECONDS)) == ({"1", "2", "3"}, "pinned", True)
    loaded, route, reused = asyncio.run(scenario(0))
    assert ("1" not in loaded, route, reused) == (True, "gone", False)


def test_versions_past_their_warm_time_are_released(registry: Workspace, trained: Trained) -> None:
    import gc

    from shipyard.serving.hotswap import RegistrySource
    from shipyard.serving.metrics import ServingMetrics
    from shipyard.serving.runtime import DeploymentRuntime
    from shipyard.serving.spec import DeploymentSpec

    register_model(
        trained.model, "cancer", input_example=trained.frame.iloc[:5], workspace=registry
    )
    spec = DeploymentSpec("released", "cancer", warm_seconds=0)
    source = RegistrySource(registry, spec)
    runtime = DeploymentRuntime(spec, ServingMetrics("released"), None)

    async def scenario() -> None:
        await runtime.install(source.load())  # cancer/1
        for ref in ("cancer/2", "cancer/3"):
            _to_production(registry, ref)
            await runtime.install(source.load())
        await asyncio.sleep(0.1)  # the retired batcher closes
        gc.collect()
        assert set(runtime.models()) == {"2", "3"}  # 2 is warm, 1 is past warm_seconds
        assert "cancer/1" not in source._cache  # so its memory is freed
        assert source._load("cancer/2") is runtime.models()["2"]  # a warm one is reused
        await runtime.close()

    asyncio.run(scenario())
