"""Deployments in the metadata store: create, list, show, update, delete.

A deployment is the lineage node ``("deployment", NAME)`` with the edge
``("model", MODEL) -serves-> ("deployment", NAME)``. It names a model, not a
version: the server follows the registry's ``production`` and ``canary``
stages (see ``shipyard.serving.hotswap``). Creating one for a model that is
not registered, naming a feature service that is not applied, or with a bad
value, stores nothing and says what to fix. A feature service adds the edge
``("feature_service", NAME) -features-> ("deployment", NAME)``.
"""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy import delete, select

from shipyard.errors import AlreadyExists, InvalidInput, NotFound
from shipyard.serving.batching import BatchingConfig
from shipyard.serving.cache import CacheConfig
from shipyard.serving.spec import DEFAULT_WARM_SECONDS, DeploymentSpec, check_deployment_name
from shipyard.store.lineage import Edge, insert_edges
from shipyard.store.schema.serving import Deployment
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

_FIELDS = {
    "canary_percent",
    "shadow",
    "log_predictions",
    "warm_seconds",
    "enabled",
    "max_batch_size",
    "max_wait_ms",
    "max_queue",
    "feature_service",
    "cache",
    "cache_size",
    "cache_ttl_seconds",
    "cache_url",
}


def _to_spec(row: Deployment) -> DeploymentSpec:
    return DeploymentSpec(
        name=row.name,
        model=row.model,
        canary_percent=row.canary_percent,
        shadow=row.shadow,
        batching=BatchingConfig(**row.batching),
        log_predictions=row.log_predictions,
        warm_seconds=row.warm_seconds,
        feature_service=row.feature_service,
        cache=CacheConfig.from_dict(row.cache),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _model_of(ref: str) -> str:
    from shipyard.registry.refs import parse_ref

    return parse_ref(ref).name


def _check_model(workspace: Workspace, model: str) -> None:
    from shipyard.registry.catalog import model_row

    with workspace.store.read() as session:
        model_row(session, model)  # NotFound with the closest name


def _check_service(workspace: Workspace, service: str) -> None:
    from shipyard.features.refs import refs_of
    from shipyard.features.registry import registry

    refs_of(None, service, registry(workspace).current())  # NotFound with the closest name


def _check_cache(workspace: Workspace, cache: CacheConfig) -> None:
    from shipyard.serving.cache import redis_url

    if cache.mode == "redis":
        redis_url(cache, workspace.settings.online_store)  # ConfigError: where is Redis?


def _service_edges(spec: DeploymentSpec) -> list[Edge]:
    if spec.feature_service is None:
        return []
    return [Edge(("feature_service", spec.feature_service), ("deployment", spec.name), "features")]


def create_deployment(
    name: str,
    model: str,
    *,
    canary_percent: float = 0.0,
    shadow: str | None = None,
    batching: BatchingConfig | None = None,
    log_predictions: bool = True,
    warm_seconds: float = DEFAULT_WARM_SECONDS,
    feature_service: str | None = None,
    cache: CacheConfig | str | None = None,
    workspace: Workspace | None = None,
) -> DeploymentSpec:
    """Register a deployment of ``model`` (which must be a registered model).

    With ``feature_service`` (an applied feature service) requests may carry
    only entity keys. ``cache`` turns on the inference cache (off by default):
    ``"memory"``, ``"redis"``, or a ``CacheConfig`` with size, TTL and URL.
    """
    workspace = workspace or current()
    if isinstance(cache, str):
        cache = CacheConfig(cache)
    spec = DeploymentSpec(
        name,
        model,
        canary_percent,
        shadow,
        batching or BatchingConfig(),
        log_predictions,
        warm_seconds,
        feature_service,
        cache or CacheConfig(),
    )
    _check_model(workspace, model)
    if shadow is not None:
        _check_model(workspace, _model_of(shadow))
    if feature_service is not None:
        _check_service(workspace, feature_service)
    _check_cache(workspace, spec.cache)
    now = utcnow()
    with workspace.store.write() as session:
        if session.get(Deployment, name) is not None:
            raise AlreadyExists(
                f"Deployment '{name}' already exists. Change it with `shipyard deployments "
                f"update {name}` or pick another name.",
                kind="deployment",
                name=name,
            )
        session.add(
            Deployment(
                name=name,
                model=model,
                canary_percent=float(canary_percent),
                shadow=shadow,
                batching=spec.batching.to_dict(),
                log_predictions=log_predictions,
                warm_seconds=float(warm_seconds),
                feature_service=feature_service,
                cache=spec.cache.to_dict(),
                created_at=now,
                updated_at=now,
            )
        )
        serves = Edge(("model", model), ("deployment", name), "serves")
        insert_edges(session, [serves, *_service_edges(spec)])
    return get_deployment(name, workspace=workspace)


def get_deployment(name: str, *, workspace: Workspace | None = None) -> DeploymentSpec:
    """The deployment called ``name``, or ``NotFound`` with the closest names."""
    workspace = workspace or current()
    check_deployment_name(name)
    with workspace.store.read() as session:
        row = session.get(Deployment, name)
        if row is None:
            names = list(session.scalars(select(Deployment.name)))
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise NotFound(
                f"No deployment named '{name}'.{hint} See `shipyard deployments list`.",
                kind="deployment",
                name=name,
            )
        return _to_spec(row)


def list_deployments(*, workspace: Workspace | None = None) -> list[DeploymentSpec]:
    """Every deployment, by name."""
    workspace = workspace or current()
    with workspace.store.read() as session:
        rows = session.scalars(select(Deployment).order_by(Deployment.name))
        return [_to_spec(row) for row in rows]


def update_deployment(
    name: str, *, workspace: Workspace | None = None, **changes: Any
) -> DeploymentSpec:
    """Change canary share, shadow, logging, warm time, batching, feature service or cache.

    ``shadow=""`` removes the shadow, ``feature_service=""`` the feature
    service, ``cache_url=""`` the cache's own Redis URL. Running servers pick
    up changed settings on restart; stage changes reach them live.
    """
    workspace = workspace or current()
    unknown = sorted(set(changes) - _FIELDS)
    if unknown:
        raise InvalidInput(
            f"Cannot update {unknown} of a deployment; changeable: {sorted(_FIELDS)}.",
            field=unknown[0],
        )
    changes = {k: v for k, v in changes.items() if v is not None}
    for key in ("shadow", "feature_service", "cache_url"):
        if changes.get(key) == "":
            changes[key] = None
    spec = get_deployment(name, workspace=workspace).with_changes(**changes)
    if spec.shadow is not None and "shadow" in changes:
        _check_model(workspace, _model_of(spec.shadow))
    if spec.feature_service is not None and "feature_service" in changes:
        _check_service(workspace, spec.feature_service)
    if any(key.startswith("cache") for key in changes):
        _check_cache(workspace, spec.cache)
    with workspace.store.write() as session:
        row = session.get(Deployment, name)
        if row is None:
            raise NotFound(f"No deployment named '{name}'.", kind="deployment", name=name)
        row.canary_percent = float(spec.canary_percent)
        row.shadow = spec.shadow
        row.batching = spec.batching.to_dict()
        row.log_predictions = spec.log_predictions
        row.warm_seconds = float(spec.warm_seconds)
        row.feature_service = spec.feature_service
        row.cache = spec.cache.to_dict()
        row.updated_at = utcnow()
        insert_edges(session, _service_edges(spec))
    return get_deployment(name, workspace=workspace)


def delete_deployment(name: str, *, workspace: Workspace | None = None) -> None:
    """Remove a deployment (its logged predictions stay on disk)."""
    workspace = workspace or current()
    get_deployment(name, workspace=workspace)
    with workspace.store.write() as session:
        session.execute(delete(Deployment).where(Deployment.name == name))
