"""``/api/datasets``: snapshots, their profiles, diffs, validation and uploads.

Reads need ``viewer``; uploading a snapshot needs ``developer``. An upload is
CSV (``text/csv``), Parquet (``application/vnd.apache.parquet`` or
``application/octet-stream``) or JSON records (``application/json``,
``{"records": [{...}, ...]}``); it is subject to the server's body limit.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shipyard import data
from shipyard.errors import InvalidInput
from shipyard.server.auth import WorkspaceDep, requires, viewer
from shipyard.server.errors import ERROR_RESPONSES, ErrorBody
from shipyard.workspace import Workspace

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such dataset or version (the body names it)."}
}
_SUFFIXES = {
    "text/csv": ".csv",
    "application/csv": ".csv",
    "application/vnd.apache.parquet": ".parquet",
    "application/x-parquet": ".parquet",
    "application/octet-stream": ".parquet",
}


class SnapshotOut(BaseModel):
    """One immutable version of a dataset."""

    name: str
    version: int
    ref: str
    content_hash: str
    blob_sha256: str
    profile_sha256: str
    columns: list[dict[str, Any]] = Field(description="Inferred schema, one entry per column.")
    row_count: int
    byte_size: int
    source: str
    run_id: str | None
    user: str
    created_at: datetime

    @classmethod
    def of(cls, snapshot: data.Snapshot) -> SnapshotOut:
        return cls.model_validate(snapshot.to_dict())


class Records(BaseModel):
    records: list[dict[str, Any]] = Field(description="Rows as objects, column name -> value.")


class ValidationOut(BaseModel):
    ok: bool
    rows: int
    columns: int
    failures: list[dict[str, Any]]


def _ref(name: str, version: int) -> str:
    return f"{name}/v{version}"


def _frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    if not records:
        raise InvalidInput("records is empty; send at least one row.", field="records")
    return pd.DataFrame.from_records(records)


def router(workspace: Workspace) -> APIRouter:
    routes = APIRouter(prefix="/api/datasets", tags=["datasets"], responses=ERROR_RESPONSES)
    read = Depends(viewer("Reading datasets"))
    _reads(routes, read)
    _posts(routes, Depends(requires("developer", "Adding a dataset snapshot")), read)
    return routes


def _reads(routes: APIRouter, read: Any) -> None:
    @routes.get(
        "",
        response_model=list[SnapshotOut],
        summary="List datasets",
        description="The latest snapshot of every dataset, by name.",
        dependencies=[read],
    )
    def datasets(workspace: WorkspaceDep) -> list[SnapshotOut]:
        return [SnapshotOut.of(s) for s in data.list(workspace=workspace)]

    @routes.get(
        "/{name}",
        response_model=SnapshotOut,
        summary="Latest snapshot",
        description="The newest version of dataset `name`.",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def latest(workspace: WorkspaceDep, name: str) -> SnapshotOut:
        return SnapshotOut.of(data.get(name, workspace=workspace))

    @routes.get(
        "/{name}/versions",
        response_model=list[SnapshotOut],
        summary="List versions",
        description="Every version of dataset `name`, oldest first.",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def versions(workspace: WorkspaceDep, name: str) -> list[SnapshotOut]:
        return [SnapshotOut.of(s) for s in data.list(name, workspace=workspace)]

    @routes.get(
        "/{name}/versions/{version}",
        response_model=SnapshotOut,
        summary="Get a version",
        description="One snapshot, `NAME/vVERSION`.",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def version(workspace: WorkspaceDep, name: str, version: int) -> SnapshotOut:
        return SnapshotOut.of(data.get(_ref(name, version), workspace=workspace))

    @routes.get(
        "/{name}/versions/{version}/profile",
        response_model=dict[str, Any],
        summary="Reference profile",
        description="The snapshot's per-column statistics (histograms, quantiles, "
        "categories): the reference monitoring compares live data with.",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def profile(workspace: WorkspaceDep, name: str, version: int) -> dict[str, Any]:
        snapshot = data.get(_ref(name, version), workspace=workspace)
        found: dict[str, Any] = snapshot.profile.to_dict()
        return found

    @routes.get(
        "/{name}/versions/{version}/diff",
        response_model=dict[str, Any],
        summary="Diff two versions",
        description="Schema and statistics changes from this version to `against` "
        "(a version number of the same dataset, or another `NAME/vN`; default: latest).",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def diff(
        workspace: WorkspaceDep,
        name: str,
        version: int,
        against: Annotated[str | None, Query(description="e.g. 3 or other/v1")] = None,
    ) -> dict[str, Any]:
        other = f"v{against}" if against and against.isdigit() else against
        found: dict[str, Any] = data.diff(_ref(name, version), other, workspace=workspace).to_dict()
        return found


def _posts(routes: APIRouter, write: Any, read: Any) -> None:
    @routes.post(
        "/{name}/versions/{version}/validate",
        response_model=ValidationOut,
        summary="Validate rows against a version's schema",
        description="Checks JSON records against the snapshot's inferred schema (types, "
        "nulls, ranges, categories) and reports every failure. Stores nothing.",
        responses=NOT_FOUND,
        dependencies=[read],
    )
    def validate(workspace: WorkspaceDep, name: str, version: int, body: Records) -> ValidationOut:
        snapshot = data.get(_ref(name, version), workspace=workspace)
        report = data.validate(_frame(body.records), snapshot.schema, workspace=workspace)
        return ValidationOut.model_validate(report.to_dict())

    @routes.post(
        "/{name}",
        response_model=SnapshotOut,
        status_code=201,
        summary="Add a snapshot",
        description="Upload CSV, Parquet or JSON records as the next version of `name`. "
        "Identical content returns the existing version. Needs `developer`.",
        dependencies=[write],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.apache.parquet": {
                        "schema": {"type": "string", "format": "binary"}
                    },
                    "application/json": {"schema": Records.model_json_schema()},
                },
            }
        },
    )
    async def upload(workspace: WorkspaceDep, name: str, request: Request) -> SnapshotOut:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        snapshot = await run_in_threadpool(_add, workspace, name, media, body)
        return SnapshotOut.of(snapshot)


def _add(workspace: Workspace, name: str, media: str, body: bytes) -> data.Snapshot:
    data.snapshots.check_name(name)
    if not body:
        raise InvalidInput("The request body is empty; send the dataset's rows.", field="body")
    if media == "application/json":
        return data.add(_frame(_records(body)), name, workspace=workspace)
    suffix = _SUFFIXES.get(media)
    if suffix is None:
        raise InvalidInput(
            f"Content-Type {media or '(none)'!r} is not a dataset format; send text/csv, "
            "application/vnd.apache.parquet or application/json records.",
            field="content-type",
        )
    with tempfile.TemporaryDirectory(prefix="shipyard-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(body)
        return data.add(path, name, workspace=workspace)


def _records(body: bytes) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"The request body is not valid JSON ({exc}); send {{'records': [...]}}.",
            field="body",
        ) from exc
    records = parsed.get("records") if isinstance(parsed, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InvalidInput(
            'A JSON upload must be {"records": [{"column": value, ...}, ...]}.', field="records"
        )
    return records
