"""`shipyard serve --workers 2` as a real process tree: kill -9 of one worker under load."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from shipyard.registry import promote, register_model
from shipyard.serving.deployments import create_deployment
from shipyard.serving.predlog import query
from shipyard.workspace import Workspace

from .conftest import Trained, free_port, settings_for

pytestmark = pytest.mark.slow


def _workers(parent: psutil.Process) -> list[psutil.Process]:
    return [
        child
        for child in parent.children()
        if "--multiprocessing-fork" in " ".join(child.cmdline())
        and "resource_tracker" not in " ".join(child.cmdline())
    ]


def test_killing_one_worker_keeps_the_others_serving(tmp_path: Path, trained: Trained) -> None:
    with Workspace(settings_for(tmp_path)) as workspace:
        register_model(
            trained.model, "cancer", input_example=trained.frame.iloc[:5], workspace=workspace
        )
        for stage in ("staging", "canary", "production"):
            promote("cancer/1", stage, reason="test", workspace=workspace)
        create_deployment("api", "cancer", workspace=workspace)
    port = free_port()
    command = [sys.executable, "-c", "from shipyard.cli import main; main()"]
    home = str(tmp_path / "home")
    args = ["--home", home, "serve", "api", "--port", str(port), "--workers", "2"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    process = subprocess.Popen([*command, *args], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    body = {"records": trained.frame.iloc[:1].to_dict("records")}
    answered: list[tuple[float, str]] = []
    failures: list[float] = []
    stop = threading.Event()

    def drive() -> None:
        while not stop.is_set():
            try:
                reply = httpx.post(f"{url}/predict", json=body, timeout=10)
                reply.raise_for_status()
                answered.append((time.monotonic(), reply.json()["prediction_ids"][0]))
            except httpx.HTTPError:
                failures.append(time.monotonic())

    try:
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + 150
        while len(_workers(parent)) < 2 or _ready_count(url) < 6:
            assert time.monotonic() < deadline, "workers did not become ready"
            assert process.poll() is None, "shipyard serve exited"
            time.sleep(0.2)
        threads = [threading.Thread(target=drive) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        victim = _workers(parent)[0]
        killed_at = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        time.sleep(2.0)
        stop.set()
        for thread in threads:
            thread.join()
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            # a worker restarted after the kill may still be importing on a busy machine
            process.wait(150)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.wait()
            raise
    after = [pid for at, pid in answered if at > killed_at + 0.5]
    assert after, "no request was served after the kill"
    assert [at for at in failures if at > killed_at + 0.5] == []
    # /metrics on one worker sums every worker's values (the killed one's included)
    served = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("shipyard_requests_total{") and 'status="200"' in line
    )
    assert served >= len(answered)
    with Workspace(settings_for(tmp_path)) as workspace:
        logged = set(query("api", workspace=workspace)["prediction_id"])
    assert set(after) <= logged  # the surviving workers flushed everything on shutdown
    window = [pid for at, pid in answered if killed_at - 1.5 < at <= killed_at]
    missing = [pid for _, pid in answered if pid not in logged]
    assert len(missing) <= len(window)  # at most the killed worker's last flush window


def _ready_count(url: str) -> int:
    ok = 0
    for _ in range(6):
        with contextlib.suppress(httpx.HTTPError):
            ok += httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    return ok
