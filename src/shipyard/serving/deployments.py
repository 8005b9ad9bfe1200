"""Deployments in the metadata store: create, list, show, update, delete.

A deployment is the lineage node ``("deployment", NAME)`` with the edge
``("model", MODEL) -serves-> ("deployment", NAME)``. It names a model, not a
version: the server follows the registry's ``production`` and ``canary``
stages (see ``shipyard.serving.hotswap``). Creating one for a model that is
not registered, or with a bad value, stores nothing and says what to fix.
"""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy import delete, select

from shipyard.errors import AlreadyExists, InvalidInput, NotFound
from shipyard.serving.batching import BatchingConfig
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


def create_deployment(
    name: str,
    model: str,
    *,
    canary_percent: float = 0.0,
    shadow: str | None = None,
    batching: BatchingConfig | None = None,
    log_predictions: bool = True,
    warm_seconds: float = DEFAULT_WARM_SECONDS,
    workspace: Workspace | None = None,
) -> DeploymentSpec:
    """Register a deployment of ``model`` (which must be a registered model)."""
    workspace = workspace or current()
    spec = DeploymentSpec(
        name,
        model,
        canary_percent,
        shadow,
        batching or BatchingConfig(),
        log_predictions,
        warm_seconds,
    )
    _check_model(workspace, model)
    if shadow is not None:
        _check_model(workspace, _model_of(shadow))
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
                created_at=now,
                updated_at=now,
            )
        )
        insert_edges(session, [Edge(("model", model), ("deployment", name), "serves")])
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
    """Change canary share, shadow, logging, warm time or batching settings.

    ``shadow=""`` removes the shadow. Running servers pick up a new canary
    share or shadow on restart; stage changes reach them live.
    """
    workspace = workspace or current()
    unknown = sorted(set(changes) - _FIELDS)
    if unknown:
        raise InvalidInput(
            f"Cannot update {unknown} of a deployment; changeable: {sorted(_FIELDS)}.",
            field=unknown[0],
        )
    changes = {k: v for k, v in changes.items() if v is not None}
    if changes.get("shadow") == "":
        changes["shadow"] = None
    spec = get_deployment(name, workspace=workspace).with_changes(**changes)
    if spec.shadow is not None and "shadow" in changes:
        _check_model(workspace, _model_of(spec.shadow))
    with workspace.store.write() as session:
        row = session.get(Deployment, name)
        if row is None:
            raise NotFound(f"No deployment named '{name}'.", kind="deployment", name=name)
        row.canary_percent = float(spec.canary_percent)
        row.shadow = spec.shadow
        row.batching = spec.batching.to_dict()
        row.log_predictions = spec.log_predictions
        row.warm_seconds = float(spec.warm_seconds)
        row.updated_at = utcnow()
    return get_deployment(name, workspace=workspace)


def delete_deployment(name: str, *, workspace: Workspace | None = None) -> None:
    """Remove a deployment (its logged predictions stay on disk)."""
    workspace = workspace or current()
    get_deployment(name, workspace=workspace)
    with workspace.store.write() as session:
        session.execute(delete(Deployment).where(Deployment.name == name))
