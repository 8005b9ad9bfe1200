"""Online serving: deployments, the prediction server, batching, routing, the prediction log.

    import shipyard as sy

    sy.create_deployment("churn-api", "churn", canary_percent=5)
    # shipyard serve churn-api --port 8080
    sy.query_predictions("churn-api", sql="SELECT route, count(*) FROM predictions GROUP BY 1")

Modules: ``protocol_v2`` (V2 codec, binary extension), ``records`` (``/predict``
bodies), ``validation`` (column-wise signature checks), ``batching``
(adaptive micro-batcher), ``routing`` (canary/shadow), ``predlog``
(prediction log), ``metrics`` (Prometheus), ``model`` (a served version),
``runtime`` (a live deployment), ``app`` (the ASGI app), ``hotswap``
(following the registry), ``deployments`` (the store), ``server`` (uvicorn).
"""

from __future__ import annotations

from shipyard.serving.app import create_app
from shipyard.serving.batching import BatchingConfig
from shipyard.serving.deployments import (
    create_deployment,
    delete_deployment,
    get_deployment,
    list_deployments,
    update_deployment,
)
from shipyard.serving.predlog import query as query_predictions
from shipyard.serving.server import build_app, serve
from shipyard.serving.spec import DeploymentSpec

__all__ = [
    "BatchingConfig",
    "DeploymentSpec",
    "build_app",
    "create_app",
    "create_deployment",
    "delete_deployment",
    "get_deployment",
    "list_deployments",
    "query_predictions",
    "serve",
    "update_deployment",
]
