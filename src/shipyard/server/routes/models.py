"""``/api/models``: the model registry — list, show, versions, history, and stage changes.

Reads need ``viewer``. Stage changes need the role the registry requires for
the target stage (``developer`` for staging and canary, ``approver`` for
production and rollback); the registry itself checks it against the caller
this server authenticated, so the rule lives in one place.

A version in a path is a number (``/versions/3``) or a stage or alias
(``/versions/production``), like the ``NAME/3`` and ``NAME@production``
references of the Python API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shipyard.registry import audit, catalog, gates, stages
from shipyard.registry import lineage as lineage_graph
from shipyard.server.auth import Credentials, WorkspaceDep, authenticated, requires, viewer
from shipyard.server.errors import ERROR_RESPONSES, ErrorBody
from shipyard.workspace import Workspace

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such model or version (the body names it)."}
}


class ModelOut(BaseModel):
    """A registered model: its latest version and who holds each stage and alias."""

    name: str
    latest_version: int
    stages: dict[str, int]
    aliases: dict[str, int]
    created_at: datetime
    description: str


class VersionOut(BaseModel):
    """One immutable model version."""

    name: str
    version: int
    ref: str
    flavor: str
    sha256: str
    size: int
    stage: str
    aliases: list[str]
    run_id: str | None
    environment_id: str | None
    created_by: str
    created_at: datetime
    description: str
    requirements: dict[str, str]
    signature: dict[str, Any] = Field(description="Input columns and types, and the output.")
    golden: dict[str, Any] | None


class ModelDetail(BaseModel):
    model: ModelOut
    versions: list[VersionOut]


class TransitionOut(BaseModel):
    """One audited stage change or attempt."""

    id: int
    name: str
    version: int
    from_stage: str
    to_stage: str
    who: str
    reason: str
    outcome: str = Field(description="done, blocked, conflict, denied or refused.")
    detail: str
    gate_report: dict[str, Any] | None
    created_at: datetime


class PromoteRequest(BaseModel):
    to: str = Field(description="staging, canary, production or archived.")
    reason: str = Field(default="", description="Why; required with skip_canary.")
    skip_canary: bool = Field(
        default=False, description="Go to production from staging (approver, with a reason)."
    )
    breaking: bool = Field(
        default=False, description="Accept a signature incompatible with production's."
    )


class RollbackRequest(BaseModel):
    reason: str = Field(default="", description="Why production is rolled back.")


class CheckRequest(BaseModel):
    stage: str = Field(default="staging", description="Run the gates configured for this stage.")
    breaking: bool = Field(default=False, description="Treat a breaking signature as declared.")


CONFLICT: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {
        "model": ErrorBody,
        "description": "A gate failed (GateFailed, with the report) or another stage change "
        "won the race (Conflict).",
    },
}


def version_ref(name: str, version: str) -> str:
    """``churn`` + ``3`` -> ``churn/3``; ``churn`` + ``production`` -> ``churn@production``."""
    return f"{name}/{version}" if version.isdigit() else f"{name}@{version}"


def _version(info: Any) -> VersionOut:
    return VersionOut.model_validate(info.to_dict())


def router(workspace: Workspace) -> APIRouter:
    routes = APIRouter(prefix="/api/models", tags=["models"], responses=ERROR_RESPONSES)
    read = Depends(viewer("Reading the model registry"))

    @routes.get(
        "",
        response_model=list[ModelOut],
        summary="List models",
        description="Every registered model with its stages and aliases, by name.",
        dependencies=[read],
    )
    def models(workspace: WorkspaceDep) -> list[ModelOut]:
        found = catalog.list_models(workspace=workspace)
        return [ModelOut.model_validate(m.to_dict()) for m in found]

    @routes.get(
        "/{name}",
        response_model=ModelDetail,
        summary="Show a model",
        description="The model and all its versions, newest first.",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def model(workspace: WorkspaceDep, name: str) -> ModelDetail:
        versions = catalog.list_versions(name, workspace=workspace)  # NotFound names the model
        [info] = [m for m in catalog.list_models(workspace=workspace) if m.name == name]
        return ModelDetail(
            model=ModelOut.model_validate(info.to_dict()),
            versions=[_version(v) for v in versions],
        )

    @routes.get(
        "/{name}/versions",
        response_model=list[VersionOut],
        summary="List versions",
        description="Every version of the model, newest first.",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def versions(workspace: WorkspaceDep, name: str) -> list[VersionOut]:
        return [_version(v) for v in catalog.list_versions(name, workspace=workspace)]

    @routes.get(
        "/{name}/versions/{version}",
        response_model=VersionOut,
        summary="Get a version",
        description="One version by number (`3`) or by stage or alias (`production`).",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def version(workspace: WorkspaceDep, name: str, version: str) -> VersionOut:
        return _version(catalog.get_version(version_ref(name, version), workspace=workspace))

    @routes.get(
        "/{name}/history",
        response_model=list[TransitionOut],
        summary="Stage history",
        description="Every audited stage change and attempt of the model, oldest first: "
        "who, when, from, to, why, outcome and gate report.",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def history(workspace: WorkspaceDep, name: str) -> list[TransitionOut]:
        found = audit.history(name, workspace=workspace)
        return [TransitionOut.model_validate(t.to_dict()) for t in found]

    _stage_changes(routes)
    _checks(routes, read)
    return routes


def _stage_changes(routes: APIRouter) -> None:
    @routes.post(
        "/{name}/versions/{version}/promote",
        response_model=TransitionOut,
        summary="Promote a version",
        description="Move the version to a stage along staging → canary → production "
        "(`developer` for staging and canary, `approver` for production or skip_canary). "
        "Gates run as configured; a failing gate answers 409 with the report. Every "
        "attempt, refused or not, is in the history.",
        responses=CONFLICT,
    )
    def promote(
        workspace: WorkspaceDep,
        credentials: Credentials,
        name: str,
        version: str,
        body: PromoteRequest,
    ) -> TransitionOut:
        ref = version_ref(name, version)
        needed = "approver" if body.to == "production" or body.skip_canary else "developer"
        authenticated(workspace, credentials, needed, f"Promoting {ref} to {body.to}")
        # The registry checks the role itself, so that a refusal is audited too.
        done = stages.promote(
            ref,
            body.to,
            reason=body.reason,
            skip_canary=body.skip_canary,
            breaking=body.breaking,
            token=credentials.credentials if credentials else None,
            workspace=workspace,
        )
        return TransitionOut.model_validate(done.to_dict())

    @routes.post(
        "/{name}/rollback",
        response_model=TransitionOut,
        summary="Roll back production",
        description="Put back the production version the current one replaced, in one "
        "step. Needs `approver`.",
        responses=CONFLICT,
    )
    def rollback(
        workspace: WorkspaceDep, credentials: Credentials, name: str, body: RollbackRequest
    ) -> TransitionOut:
        authenticated(workspace, credentials, "approver", f"Rolling back model '{name}'")
        done = stages.rollback(
            name,
            body.reason,
            token=credentials.credentials if credentials else None,
            workspace=workspace,
        )
        return TransitionOut.model_validate(done.to_dict())


def _checks(routes: APIRouter, read: Any) -> None:
    @routes.post(
        "/{name}/versions/{version}/check",
        response_model=dict[str, Any],
        summary="Run the gates",
        description="Run the promotion gates for `stage` now and return the report "
        "(every check with its numbers). Changes no stage. Needs `developer`.",
        responses=NOT_FOUND,
        dependencies=[Depends(requires("developer", "Running promotion gates"))],
    )
    def check(
        workspace: WorkspaceDep, name: str, version: str, body: CheckRequest
    ) -> dict[str, Any]:
        report = gates.check(
            version_ref(name, version),
            stage=body.stage,
            breaking=body.breaking,
            workspace=workspace,
        )
        found: dict[str, Any] = report.to_dict()
        return found

    @routes.get(
        "/{name}/versions/{version}/lineage",
        response_model=dict[str, Any],
        summary="Lineage of a version",
        description="Upstream (run, commit, environment, datasets, feature views) and "
        "downstream (stages, deployments) as trees, plus the graph's nodes and edges.",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def lineage(workspace: WorkspaceDep, name: str, version: str) -> dict[str, Any]:
        found: dict[str, Any] = lineage_graph.lineage(
            version_ref(name, version), workspace=workspace
        ).to_dict()
        return found
