"""The peers of the serving benchmark: MLServer, BentoML and ``mlflow models serve``.

Each peer is installed into its own throwaway virtualenv (``common.peer_python``)
and serves the very model shipyard serves (saved with joblib, as MLServer's
scikit-learn runtime and BentoML expect; re-saved as an MLflow model for
MLflow), in its fastest documented single-process configuration, access logs
off. ``prepare`` writes each peer's files and returns how to start it and the
request it answers; a peer that cannot be installed or prepared is returned as
the reason instead, so the rest of the benchmark still runs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import peer_python, run_json

HERE = Path(__file__).resolve().parent

MLSERVER = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop==0.21.0", "scikit-learn==1.9.1"]
# bentoml 1.4.40 requires certifi>=2026.10.19, which the package index here does not
# have yet: the release before it is pinned.
BENTOML = ["bentoml==1.4.39", "scikit-learn==1.9.1"]
MLFLOW = ["mlflow==3.17.2", "scikit-learn==1.9.1"]
VERSIONS = {
    "mlserver": "MLServer 1.7.1 + mlserver-sklearn 1.7.1, uvloop 0.21.0",
    "bentoml": "BentoML 1.4.39 (1.4.40 needs certifi>=2026.10.19, not on the index)",
    "mlflow": "MLflow 3.17.2 `mlflow models serve --env-manager local`",
}


@dataclass
class Server:
    """How to start one server on a port, and the request bytes it answers."""

    name: str
    command: Callable[[int], list[str]]
    request: bytes
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


def http_request(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def prepare(name: str, folder: Path, model_file: Path, row: list[float]) -> Server | str:
    """The peer ``name`` ready to start, or why it could not be made ready."""
    builders = {"mlserver": _mlserver, "bentoml": _bentoml, "mlflow": _mlflow}
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return builders[name](folder, model_file, row)
    except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
        return f"{type(exc).__name__}: {str(exc)[-600:]}"


def _mlserver(folder: Path, model_file: Path, row: list[float]) -> Server:
    python = peer_python("mlserver", MLSERVER)
    model_dir = folder / "cancer"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.joblib").write_bytes(model_file.read_bytes())
    (model_dir / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "cancer",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "1"},
            }
        )
    )
    body = {
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, len(row)], "data": row}],
        "outputs": [{"name": "predict_proba"}],
    }

    def command(port: int) -> list[str]:
        # In-process inference (parallel_workers 0) is MLServer's fastest mode for a
        # small model; debug off turns its access log off; metrics off (fastest).
        settings = {
            "debug": False,
            "parallel_workers": 0,
            "host": "127.0.0.1",
            "http_port": port,
            "grpc_port": port + 1000,
            "metrics_port": port + 2000,
            "metrics_endpoint": None,
        }
        (folder / "settings.json").write_text(json.dumps(settings))
        return [str(python.parent / "mlserver"), "start", str(folder)]

    return Server(
        "mlserver",
        command,
        http_request("/v2/models/cancer/infer", json.dumps(body).encode()),
        cwd=folder,
    )


def _bentoml(folder: Path, model_file: Path, row: list[float]) -> Server:
    python = peer_python("bentoml", BENTOML)

    def command(port: int) -> list[str]:
        return [
            str(python.parent / "bentoml"),
            "serve",
            "bento_service:Cancer",
            "--working-dir",
            str(HERE),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]

    return Server(
        "bentoml",
        command,
        http_request("/predict", json.dumps({"inputs": [row]}).encode()),
        env={
            "BENCH_MODEL": str(model_file),
            "BENTOML_DO_NOT_TRACK": "true",
            "BENTOML_HOME": str(folder / "bentoml-home"),
        },
        cwd=folder,
    )


def _mlflow(folder: Path, model_file: Path, row: list[float]) -> Server:
    python = peer_python("mlflow", MLFLOW)
    model_dir = folder / "model"
    if not (model_dir / "MLmodel").exists():
        run_json(python, HERE / "mlflow_save.py", str(model_file), str(model_dir))

    def command(port: int) -> list[str]:
        return [
            str(python.parent / "mlflow"),
            "models",
            "serve",
            "-m",
            str(model_dir),
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]

    return Server(
        "mlflow",
        command,
        http_request("/invocations", json.dumps({"inputs": [row]}).encode()),
        # mlflow runs the uvicorn CLI, which reads its flags from UVICORN_* variables.
        env={
            "UVICORN_ACCESS_LOG": "false",
            "MLFLOW_TRACKING_URI": (folder / "mlruns").as_uri(),
            # mlflow execs ``uvicorn`` by name: it must find its own venv's first.
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        cwd=folder,
    )
