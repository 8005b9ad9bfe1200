"""``/api/experiments`` and ``/api/runs``: reading and searching tracked runs.

Search takes the filter language of ``shipyard.tracking.search`` (for example
``metrics.auc > 0.9 and params.model = 'lr'``), either as query parameters
(``GET /api/runs``) or as a JSON body (``POST /api/runs/search``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from shipyard.server.auth import WorkspaceDep, viewer
from shipyard.server.errors import ERROR_RESPONSES, ErrorBody
from shipyard.tracking import get_run, list_artifacts, list_experiments, metric_history, search_runs
from shipyard.tracking.records import RunRecord
from shipyard.tracking.search import EXAMPLE, MAX_RESULTS_LIMIT
from shipyard.workspace import Workspace

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No run with this id (the body names it)."}
}


class ExperimentOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    run_count: int


class RunOut(BaseModel):
    """A run: attributes, params, latest metric values and tags."""

    id: str
    experiment: str
    name: str
    status: str
    start_time: datetime
    end_time: datetime | None
    duration_seconds: float | None
    user: str
    git_commit: str | None
    git_dirty: bool | None
    entry_point: str | None
    environment_id: str | None
    error: str | None
    params: dict[str, str]
    metrics: dict[str, float | str] = Field(
        description="Latest value of each metric series; NaN and infinities as strings."
    )
    tags: dict[str, str]

    @classmethod
    def of(cls, record: RunRecord) -> RunOut:
        return cls.model_validate(record.to_dict())


class ArtifactOut(BaseModel):
    path: str
    sha256: str
    size: int


class MetricPointOut(BaseModel):
    value: float | str
    step: int
    timestamp_ms: int


class SearchRequest(BaseModel):
    """A run search, as a JSON body."""

    experiments: list[str] | None = Field(
        default=None, description="Experiment names; all experiments when absent."
    )
    filter: str = Field(default="", description=f"Filter expression, e.g. {EXAMPLE}")
    order_by: list[str] | None = Field(
        default=None, description="e.g. ['metrics.auc desc']; newest first when absent."
    )
    max_results: int = Field(default=1000, description=f"1 to {MAX_RESULTS_LIMIT}.")


def router(workspace: Workspace) -> APIRouter:
    routes = APIRouter(prefix="/api", tags=["tracking"], responses=ERROR_RESPONSES)
    read_runs = Depends(viewer("Reading runs"))

    @routes.get(
        "/experiments",
        response_model=list[ExperimentOut],
        summary="List experiments",
        description="Every experiment with its number of runs, oldest first.",
        dependencies=[read_runs],
    )
    def experiments(workspace: WorkspaceDep) -> list[ExperimentOut]:
        return [
            ExperimentOut.model_validate(vars(e)) for e in list_experiments(workspace=workspace)
        ]

    @routes.get(
        "/runs",
        response_model=list[RunOut],
        summary="Search runs",
        description="Runs of the given experiments (all when none) matching `filter`, "
        f"ordered by `order_by`. Filter example: `{EXAMPLE}`.",
        dependencies=[read_runs],
    )
    def runs(
        workspace: WorkspaceDep,
        experiment: Annotated[list[str] | None, Query(description="Repeatable.")] = None,
        filter: Annotated[str, Query(description=f"e.g. {EXAMPLE}")] = "",
        order_by: Annotated[list[str] | None, Query(description="e.g. metrics.auc desc")] = None,
        max_results: Annotated[int, Query(description=f"1 to {MAX_RESULTS_LIMIT}")] = 100,
    ) -> list[RunOut]:
        found = search_runs(
            experiment or None,
            filter=filter,
            order_by=order_by or None,
            max_results=max_results,
            workspace=workspace,
        )
        return [RunOut.of(r) for r in found]

    @routes.post(
        "/runs/search",
        response_model=list[RunOut],
        summary="Search runs (JSON body)",
        description="The same search as `GET /api/runs`, for long filters.",
        dependencies=[read_runs],
    )
    def search(workspace: WorkspaceDep, request: SearchRequest) -> list[RunOut]:
        found = search_runs(
            request.experiments,
            filter=request.filter,
            order_by=request.order_by,
            max_results=request.max_results,
            workspace=workspace,
        )
        return [RunOut.of(r) for r in found]

    @routes.get(
        "/runs/{run_id}",
        response_model=RunOut,
        summary="Get a run",
        description="One run by id or unique id prefix (4+ characters).",
        responses=NOT_FOUND,
        dependencies=[read_runs],
    )
    def run(workspace: WorkspaceDep, run_id: str) -> RunOut:
        return RunOut.of(get_run(run_id, workspace=workspace))

    @routes.get(
        "/runs/{run_id}/artifacts",
        response_model=list[ArtifactOut],
        summary="List a run's artifacts",
        description="Artifact paths of the run with their SHA-256 and size in bytes.",
        responses=NOT_FOUND,
        dependencies=[read_runs],
    )
    def artifacts(workspace: WorkspaceDep, run_id: str) -> list[ArtifactOut]:
        found = list_artifacts(run_id, workspace=workspace)
        return [ArtifactOut(path=p, sha256=s, size=n) for p, (s, n) in found.items()]

    @routes.get(
        "/runs/{run_id}/metrics/{key}",
        response_model=list[MetricPointOut],
        summary="A metric's history",
        description="Every logged point of one metric series of the run, by step.",
        responses=NOT_FOUND,
        dependencies=[read_runs],
    )
    def metric(workspace: WorkspaceDep, run_id: str, key: str) -> list[MetricPointOut]:
        points = metric_history(run_id, key, workspace=workspace)
        return [
            MetricPointOut(value=_finite(p.value), step=p.step, timestamp_ms=p.timestamp_ms)
            for p in points
        ]

    return routes


def _finite(value: float) -> float | str:
    return value if value == value and abs(value) != float("inf") else str(value)
