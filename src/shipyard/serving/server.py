"""``shipyard serve``: build the app for a deployment or a model reference and run uvicorn.

A target is a deployment name (``churn-api``) or a model reference
(``churn@production``, ``churn/3``) served as an ad-hoc deployment named after
the model. With ``workers > 1`` uvicorn's supervisor starts that many
processes on one listening socket; they share nothing but the stores, and
Prometheus values go through ``PROMETHEUS_MULTIPROC_DIR`` so that ``/metrics``
on any worker shows the sum of all of them.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from shipyard.config import load_settings
from shipyard.errors import InvalidInput
from shipyard.serving.app import create_app
from shipyard.serving.hotswap import DEFAULT_POLL_SECONDS, RegistrySource
from shipyard.serving.spec import DeploymentSpec
from shipyard.workspace import Workspace, current

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def resolve_target(target: str, workspace: Workspace) -> tuple[DeploymentSpec, str]:
    """The deployment spec and the production reference a target names."""
    from shipyard.serving.deployments import get_deployment

    if "@" in target or "/" in target:
        from shipyard.registry.refs import parse_ref

        ref = parse_ref(target)
        return DeploymentSpec(ref.name, ref.name), str(ref)
    spec = get_deployment(target, workspace=workspace)
    return spec, f"{spec.model}@production"


def build_app(
    target: str,
    *,
    workspace: Workspace | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    metrics_dir: Path | None = None,
    log_predictions: bool | None = None,
) -> Starlette:
    """The prediction app for ``target``, following the registry's stages."""
    workspace = workspace or current()
    spec, production = resolve_target(target, workspace)
    if log_predictions is not None:
        spec = spec.with_changes(log_predictions=log_predictions)
    source = RegistrySource(workspace, spec, production)
    # A pinned version (churn/3) never moves: no need to poll.
    watch = None if "/" in production and "@" not in production else source.fingerprint
    return create_app(
        workspace.settings,
        spec,
        loader=source.load,
        watch=watch,
        poll_seconds=poll_seconds,
        metrics_dir=metrics_dir,
    )


def _worker_app(
    target: str, overrides: Mapping[str, Any], metrics_dir: str | None, log: bool | None
) -> Starlette:
    """Factory run inside each worker process (picklable: module-level)."""
    workspace = Workspace(load_settings(dict(overrides)))
    return build_app(
        target,
        workspace=workspace,
        metrics_dir=Path(metrics_dir) if metrics_dir else None,
        log_predictions=log,
    )


def serve(
    target: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    overrides: Mapping[str, Any] | None = None,
    log_predictions: bool | None = None,
) -> None:
    """Run the prediction server until interrupted (a clean stop flushes the log)."""
    import uvicorn

    if workers < 1:
        raise InvalidInput(f"--workers must be >= 1, got {workers}.", field="workers")
    if not 0 < port < 65536:
        raise InvalidInput(f"--port must be 1-65535, got {port}.", field="port")
    workspace = Workspace(load_settings(dict(overrides or {})))
    resolve_target(target, workspace)  # fail fast, in the parent, on an unknown target
    workspace.close()
    metrics_dir = None
    if workers > 1:
        metrics_dir = tempfile.mkdtemp(prefix="shipyard-metrics-")
        # prometheus_client chooses its multi-process storage from this variable when it
        # is first imported; the worker processes inherit it.
        os.environ[MULTIPROC_ENV] = metrics_dir
    factory = functools.partial(
        _worker_app, target, dict(overrides or {}), metrics_dir, log_predictions
    )
    config = uvicorn.Config(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
        # Workers import scikit-learn & co. and load the model before they answer.
        timeout_worker_healthcheck=120,
    )
    server = uvicorn.Server(config)
    if workers == 1:
        server.run()
        return
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
