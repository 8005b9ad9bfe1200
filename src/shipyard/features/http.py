"""``POST /api/features/online``: served feature values over HTTP.

The management server mounts ``router(workspace)``. The body names the
features (or a feature service) and the entity rows (join keys plus any
request columns on-demand features need); the answer has one row of values
and one row of statuses per entity row. Reading needs the ``viewer`` role.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shipyard.errors import InvalidInput
from shipyard.features.lookup import get_online
from shipyard.server.auth import WorkspaceDep, viewer
from shipyard.server.errors import ERROR_RESPONSES
from shipyard.workspace import Workspace

MAX_ENTITIES = 10_000


class OnlineRequest(BaseModel):
    """Which features, for which entities."""

    features: list[str] | None = Field(
        default=None, description="Feature references 'view:feature' (or 'view:*')."
    )
    service: str | None = Field(default=None, description="A feature service name instead.")
    entities: list[dict[str, Any]] = Field(
        description="Entity rows: join keys, plus request columns for on-demand features.",
        examples=[[{"customer_id": 7}, {"customer_id": 8}]],
    )
    full_names: bool = Field(default=False, description="Name values 'view__feature'.")


class OnlineResponse(BaseModel):
    """Values (null where unavailable) and statuses (present, missing, expired)."""

    rows: list[dict[str, Any]]
    status: list[dict[str, str]]


def router(workspace: Workspace) -> APIRouter:
    """The feature store's routes, for the management server."""
    api = APIRouter(prefix="/api/features", tags=["features"])

    @api.post(
        "/online",
        response_model=OnlineResponse,
        responses=ERROR_RESPONSES,
        dependencies=[Depends(viewer("read online features"))],
        summary="Online feature values for entity rows",
    )
    def online(body: OnlineRequest, workspace: WorkspaceDep) -> OnlineResponse:
        if len(body.entities) > MAX_ENTITIES:
            raise InvalidInput(
                f"entities has {len(body.entities)} rows; send at most {MAX_ENTITIES} per request.",
                field="entities",
            )
        result = get_online(
            body.entities,
            body.features,
            service=body.service,
            full_names=body.full_names,
            workspace=workspace,
        )
        return OnlineResponse(rows=result.rows, status=result.status)

    return api
