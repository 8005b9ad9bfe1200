"""Serving fixtures: a real scikit-learn model and a real uvicorn server in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import uvicorn
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shipyard.config import Settings, load_settings
from shipyard.serving.app import create_app
from shipyard.serving.model import ServedModel
from shipyard.serving.runtime import Loader, Routes
from shipyard.serving.spec import DeploymentSpec
from shipyard.serving.validation import ColumnSpec, InputSchema


@dataclass(frozen=True)
class Trained:
    frame: pd.DataFrame
    model: Any
    schema: InputSchema

    def served(self, version: str = "1") -> ServedModel:
        return ServedModel.wrap("cancer", version, self.model, self.schema, flavor="sklearn")


def _train(c: float) -> Trained:
    frame, target = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
    model.fit(frame, target)
    schema = InputSchema(tuple(ColumnSpec(str(c), "float64") for c in frame.columns))
    return Trained(frame, model, schema)


@pytest.fixture(scope="session")
def trained() -> Trained:
    """LogisticRegression on load_breast_cancer (a real model, 30 float columns)."""
    return _train(1.0)


@pytest.fixture(scope="session")
def trained_alt() -> Trained:
    """A second, different version (strong regularisation) for canary and shadow."""
    return _train(0.001)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """uvicorn serving an app on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.app = app

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        while wait_ready and httpx.get(f"{self.url}/readyz").status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(httpx.get(f"{self.url}/readyz").text)
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def settings_for(tmp: Path, **overrides: Any) -> Settings:
    return load_settings({"home": str(tmp / "home"), **overrides}, cwd=tmp, environ={})


StartServer = Callable[..., ServerThread]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start a server for a spec and loader; stopped (and its log flushed) at teardown."""
    started: list[ServerThread] = []

    def start(
        spec: DeploymentSpec, loader: Loader, *, wait_ready: bool = True, **settings: Any
    ) -> ServerThread:
        app = create_app(settings_for(tmp_path, **settings), spec, loader=loader)
        server = ServerThread(app).start(wait_ready)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def routes_of(production: ServedModel, **others: ServedModel) -> Loader:
    return lambda: Routes(production, **others)
