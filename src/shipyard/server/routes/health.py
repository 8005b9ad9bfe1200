"""``/healthz`` (the process answers) and ``/readyz`` (its stores answer too).

Neither needs a token: load balancers and orchestrators call them.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse

from shipyard.errors import ShipyardError
from shipyard.server.auth import WorkspaceDep
from shipyard.workspace import Workspace


class Health(BaseModel):
    status: str


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, Check]


def check_metadata_store(workspace: Workspace) -> Check:
    try:
        workspace.store.ping()
    except ShipyardError as exc:
        return Check(ok=False, detail=exc.message)
    except SQLAlchemyError as exc:
        return Check(ok=False, detail=f"The metadata store failed a query: {type(exc).__name__}")
    return Check(ok=True, detail=workspace.store.dialect)


def check_artifact_store(workspace: Workspace) -> Check:
    try:
        artifacts = workspace.artifacts
        # Listing the root proves the folder or bucket is reachable and readable.
        artifacts.fs.ls(artifacts.root)
    except ShipyardError as exc:
        return Check(ok=False, detail=exc.message)
    except OSError as exc:
        return Check(ok=False, detail=f"Cannot list the artifact store: {exc}")
    return Check(ok=True, detail="reachable")


def router(workspace: Workspace) -> APIRouter:
    routes = APIRouter(tags=["health"])

    @routes.get(
        "/healthz",
        response_model=Health,
        summary="Liveness",
        description="Answers 200 while the server process runs. Touches no store.",
    )
    def healthz() -> Health:
        return Health(status="ok")

    @routes.get(
        "/readyz",
        response_model=Readiness,
        summary="Readiness",
        description="200 when the metadata store and the artifact store both answer; "
        "503 with the failing check's reason otherwise.",
        responses={503: {"model": Readiness, "description": "A store does not answer."}},
    )
    def readyz(workspace: WorkspaceDep) -> JSONResponse:
        checks = {
            "metadata_store": check_metadata_store(workspace),
            "artifact_store": check_artifact_store(workspace),
        }
        ready = all(c.ok for c in checks.values())
        body = Readiness(status="ready" if ready else "unavailable", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    return routes
