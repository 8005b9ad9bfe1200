"""End to end: a real uvicorn server in a thread, the remote client and the CLI against it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

import shipyard as sy
from shipyard import errors
from shipyard.access import create_token
from shipyard.cli import app as cli_app
from shipyard.config import load_settings
from shipyard.remote import RemoteClient
from shipyard.server import create_app
from shipyard.workspace import Workspace


@dataclass
class LiveServer:
    url: str
    workspace: Workspace


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = load_settings({"home": str(tmp_path / "server-home")}, environ={})
    workspace = Workspace(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # a free port, held until uvicorn takes the socket
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, workspace), access_log=False, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield LiveServer(f"http://127.0.0.1:{port}", workspace)
    server.should_exit = True
    thread.join(timeout=20)
    sock.close()
    workspace.close()


def test_real_server_answers_health_and_errors(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json()["status"] == "ready"
        missing = client.get("/api/runs/ffff0000")
        assert missing.status_code == 404 and missing.json()["name"] == "ffff0000"
        assert client.get("/openapi.json").json()["info"]["title"] == "shipyard"


def test_remote_client_reads_runs_and_raises_shipyard_errors(live_server: LiveServer) -> None:
    with sy.start_run("churn", workspace=live_server.workspace) as run:
        run.log_params({"model": "lr"})
        run.log_metric("auc", 0.93)
    token = create_token("ana", "viewer", workspace=live_server.workspace)
    with RemoteClient(live_server.url, token) as client:
        [found] = client.search_runs("churn", filter="metrics.auc > 0.9")
        assert (found.id, found.params, found.metrics) == (run.id, {"model": "lr"}, {"auc": 0.93})
        assert client.get_run(run.id[:6]).id == run.id
        assert [e.name for e in client.list_experiments()] == ["churn"]
        with pytest.raises(errors.NotFound) as missing:
            client.get_run("ffff0000")
        assert missing.value.name == "ffff0000"  # type: ignore[attr-defined]
    with RemoteClient(live_server.url) as anonymous, pytest.raises(errors.Unauthenticated):
        anonymous.list_experiments()


def test_cli_reads_go_to_the_server_when_server_url_is_set(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sy.start_run("churn", workspace=live_server.workspace) as run:
        run.log_metric("auc", 0.8)
    monkeypatch.setenv("SHIPYARD_SERVER_URL", live_server.url)
    # An empty local home: whatever the CLI prints came from the server.
    empty_home = str(tmp_path / "laptop")
    result = CliRunner().invoke(cli_app, ["--home", empty_home, "runs", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.stdout)] == [run.id]
    result = CliRunner().invoke(cli_app, ["--home", empty_home, "runs", "show", "nope0000"])
    assert result.exit_code == 2 and "nope0000" in result.stderr


def test_unreachable_server_is_backend_unavailable(tmp_path: Path) -> None:
    with RemoteClient("http://127.0.0.1:1") as client, pytest.raises(errors.BackendUnavailable):
        client.list_experiments()


def test_promote_and_rollback_through_the_server(live_server: LiveServer, tmp_path: Path) -> None:
    import pandas as pd
    from sklearn.dummy import DummyClassifier

    from shipyard import remote
    from shipyard.registry import register_model

    x = pd.DataFrame({"age": [20.0, 30.0, 40.0]})
    for constant in (0, 1):
        model = DummyClassifier(strategy="constant", constant=constant).fit(x, [0, 1, 0])
        register_model(model, "churn", input_example=x, workspace=live_server.workspace)
    approver = create_token("boss", "approver", workspace=live_server.workspace)
    overrides = {"home": str(tmp_path / "laptop"), "server_url": live_server.url}
    with Workspace(load_settings({**overrides, "token": approver}, environ={})) as laptop:
        for version in (1, 2):
            for to in ("staging", "canary", "production"):
                done = remote.promote(f"churn/{version}", to, reason="ok", workspace=laptop)
                assert (done["to_stage"], done["who"]) == (to, "boss")
        back = remote.rollback("churn", "regression", workspace=laptop)
        assert back["version"] == 1
        [model] = remote.list_models(workspace=laptop)
        assert model["stages"]["production"] == 1
        assert remote.show_model("churn", workspace=laptop)["versions"][0]["version"] == 2
    viewer = create_token("ana", "viewer", workspace=live_server.workspace)
    with (
        Workspace(load_settings({**overrides, "token": viewer}, environ={})) as laptop,
        pytest.raises(errors.PermissionDenied) as denied,
    ):
        remote.rollback("churn", workspace=laptop)
    assert denied.value.required_role == "approver"  # type: ignore[attr-defined]
