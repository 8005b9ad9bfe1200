"""``POST /api/ground-truth``: labels over HTTP, for systems that learn outcomes later.

The management server mounts ``router(workspace)``. The body names the
deployment and carries label rows (``prediction_id`` or the business key,
``label``, optional ``time``); the answer is the stored batch. A bad row gets
422 naming each row and reason, and nothing is stored. Needs the
``developer`` role once authorization is on.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shipyard.access import Principal
from shipyard.errors import InvalidInput
from shipyard.monitoring.ground_truth import log_ground_truth
from shipyard.server.auth import WorkspaceDep, requires
from shipyard.server.errors import ERROR_RESPONSES
from shipyard.workspace import Workspace

MAX_LABELS = 100_000


class GroundTruthRequest(BaseModel):
    """Labels for one deployment's predictions."""

    deployment: str = Field(description="The deployment whose predictions are labelled.")
    labels: list[dict[str, Any]] = Field(
        description="Rows: prediction_id (or the key column), label, optional time (ISO 8601).",
        examples=[[{"prediction_id": "3fa2…", "label": 1, "time": "2025-03-02T10:00:00Z"}]],
    )
    key: str | None = Field(default=None, description="Join on this input column instead of ids.")
    skip_bad: bool = Field(default=False, description="Store the good rows, return the bad ones.")


class GroundTruthResponse(BaseModel):
    """The stored batch (or the earlier identical one, with duplicate=true)."""

    id: str
    deployment: str
    key: str
    rows: int
    accepted: int
    rejected: int
    duplicate: bool
    bad_rows: list[dict[str, Any]]


def router(workspace: Workspace) -> APIRouter:
    """The monitoring routes, for the management server."""
    api = APIRouter(prefix="/api", tags=["monitoring"])

    @api.post(
        "/ground-truth",
        response_model=GroundTruthResponse,
        responses=ERROR_RESPONSES,
        summary="Record ground truth for logged predictions",
    )
    def ground_truth(
        body: GroundTruthRequest,
        workspace: WorkspaceDep,
        caller: Principal = Depends(requires("developer", "record ground truth")),
    ) -> GroundTruthResponse:
        if len(body.labels) > MAX_LABELS:
            raise InvalidInput(
                f"labels has {len(body.labels)} rows; send at most {MAX_LABELS} per request "
                "or use `shipyard labels ingest FILE`.",
                field="labels",
            )
        if not body.labels:
            raise InvalidInput("labels is empty; send at least one row.", field="labels")
        batch = log_ground_truth(
            body.deployment,
            body.labels,
            key=body.key,
            skip_bad=body.skip_bad,
            source="http",
            created_by=caller.name,
            workspace=workspace,
        )
        data = batch.to_dict()
        return GroundTruthResponse(**{k: data[k] for k in GroundTruthResponse.model_fields})

    return api
