"""``/api/tokens``: API tokens managed over HTTP (approvers only).

The same operations as ``shipyard tokens``; a created token is in the
response body once and is stored only as its hash.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shipyard.access import ROLES, Principal, create_token, list_tokens, revoke_token
from shipyard.server.auth import WorkspaceDep, requires
from shipyard.server.errors import ERROR_RESPONSES
from shipyard.workspace import Workspace


class TokenInfo(BaseModel):
    prefix: str
    name: str
    role: str
    revoked: bool
    created_at: datetime


class TokenRequest(BaseModel):
    name: str = Field(description="Who the token is for (a person or a bot).")
    role: str = Field(description=f"One of: {', '.join(ROLES)}.")


class CreatedToken(BaseModel):
    token: str = Field(description="The token; shown only in this response.")
    name: str
    role: str
    created_by: str


def router(workspace: Workspace) -> APIRouter:
    routes = APIRouter(prefix="/api/tokens", tags=["tokens"], responses=ERROR_RESPONSES)
    manage = requires("approver", "Managing API tokens")

    @routes.get(
        "",
        response_model=list[TokenInfo],
        summary="List tokens",
        description="Prefix, owner, role and state of every token; never the token itself.",
        dependencies=[Depends(manage)],
    )
    def tokens(workspace: WorkspaceDep) -> list[TokenInfo]:
        return [TokenInfo.model_validate(t) for t in list_tokens(workspace=workspace)]

    @routes.post(
        "",
        response_model=CreatedToken,
        status_code=201,
        summary="Create a token",
        description="A new token with a role. The first token of a store turns authorization on.",
    )
    def create(
        workspace: WorkspaceDep,
        request: TokenRequest,
        caller: Principal = Depends(manage),
    ) -> CreatedToken:
        token = create_token(request.name, request.role, workspace=workspace)
        return CreatedToken(
            token=token, name=request.name.strip(), role=request.role, created_by=caller.name
        )

    @routes.delete(
        "/{prefix}",
        status_code=204,
        summary="Revoke a token",
        description="The token starting with `prefix` stops working at once.",
        dependencies=[Depends(manage)],
    )
    def revoke(workspace: WorkspaceDep, prefix: str) -> None:
        revoke_token(prefix, workspace=workspace)

    return routes
