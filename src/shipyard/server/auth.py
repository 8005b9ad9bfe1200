"""Who is calling: the bearer token of a request, turned into a ``Principal``.

Routes declare the least role they need with ``Depends(requires(role,
action))``. The rules are those of ``shipyard.access``: while the store has
no tokens (laptop mode) every caller is the local approver; once a token
exists, every ``/api`` route needs ``Authorization: Bearer <token>`` with a
role at least the one the route names. A 401 or 403 body says which role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shipyard.access import Principal, authenticate, check_role, require
from shipyard.errors import Unauthenticated
from shipyard.workspace import Workspace

# auto_error=False: a missing header is laptop mode's normal case, not an error here.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API token from `shipyard tokens create --name NAME --role ROLE`.",
)


def get_workspace(request: Request) -> Workspace:
    """The workspace the app was created with."""
    workspace: Workspace = request.app.state.workspace
    return workspace


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def authenticated(
    workspace: Workspace, credentials: HTTPAuthorizationCredentials | None, role: str, action: str
) -> Principal:
    """The caller, whatever its role; 401 naming ``role`` without a valid token.

    For routes whose layer checks the role itself (and audits refusals).
    """
    token = credentials.credentials if credentials else None
    try:
        principal = authenticate(token, workspace=workspace)
    except Unauthenticated as exc:
        problem = "has no token" if not token else "has an unknown or revoked token"
        error = Unauthenticated(
            f"{action} needs a token with the '{role}' role (or higher); this request "
            f"{problem}. Send `Authorization: Bearer <token>`; create one with "
            f"`shipyard tokens create --name NAME --role {role}`."
        )
        # The body carries the role as context, like PermissionDenied's.
        error.required_role = role  # type: ignore[attr-defined]
        raise error from exc
    return principal


def authorize(
    workspace: Workspace, credentials: HTTPAuthorizationCredentials | None, role: str, action: str
) -> Principal:
    """The caller if it has at least ``role``; else 401 or 403 naming ``role``."""
    return require(authenticated(workspace, credentials, role, action), role, action)


def requires(role: str, action: str) -> Callable[[Workspace, Credentials], Principal]:
    """A dependency giving the caller, or raising 401/403 naming ``role``."""
    check_role(role)

    def dependency(workspace: WorkspaceDep, credentials: Credentials) -> Principal:
        return authorize(workspace, credentials, role, action)

    return dependency


def viewer(action: str) -> Callable[[Workspace, Credentials], Principal]:
    """Shorthand for the read routes."""
    return requires("viewer", action)
