"""Talking to a remote ``shipyard server`` instead of opening the stores.

When ``settings.server_url`` is set (``SHIPYARD_SERVER_URL``), the functions
at the bottom of this module (``search_runs``, ``get_run``, ``promote``…)
send their call to that server with ``settings.token`` as a bearer token;
otherwise they call the local library. The CLI's read commands use them, so
``shipyard runs list`` works the same against a laptop store or a team
server. ``RemoteClient`` is the typed client underneath::

    with RemoteClient("http://shipyard.internal:8000", token="sy_…") as client:
        runs = client.search_runs("churn", filter="metrics.auc > 0.9")

Errors come back as the same ``ShipyardError`` classes, with their context
attributes, that the server raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from shipyard import errors
from shipyard.tracking import get_run as local_get_run
from shipyard.tracking import list_artifacts as local_list_artifacts
from shipyard.tracking import list_experiments as local_list_experiments
from shipyard.tracking import search_runs as local_search_runs
from shipyard.tracking.experiments import ExperimentInfo
from shipyard.tracking.records import MetricPoint, RunRecord
from shipyard.workspace import Workspace, current

DEFAULT_TIMEOUT_SECONDS = 30.0

# Errors of the HTTP layer that have no shipyard class of their own.
_BY_STATUS: dict[int, type[errors.ShipyardError]] = {
    400: errors.InvalidInput,
    401: errors.Unauthenticated,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    405: errors.InvalidInput,
    409: errors.Conflict,
    413: errors.InvalidInput,
    422: errors.InvalidInput,
    503: errors.BackendUnavailable,
}


def error_from_response(response: httpx.Response) -> errors.ShipyardError:
    """The ``ShipyardError`` an error response describes, context attributes included."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    name = str(body.get("error", ""))
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.ShipyardError)):
        cls = _BY_STATUS.get(response.status_code, errors.ShipyardError)
    message = str(body.get("message") or f"The server answered {response.status_code}.")
    error = cls.__new__(cls)
    errors.ShipyardError.__init__(error, message)
    for key, value in body.items():
        if key not in ("error", "message"):
            setattr(error, key, value)
    return error


class RemoteClient:
    """A typed client of the management API (``/api/…``) of one server."""

    def __init__(
        self,
        url: str,
        token: str = "",
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise errors.InvalidInput(
                f"server_url {url!r} must start with http:// or https:// "
                "(e.g. http://127.0.0.1:8000).",
                field="server_url",
            )
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> RemoteClient:
        return cls(workspace.settings.server_url, workspace.settings.token)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request; the decoded JSON body, or the server's error raised."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise errors.BackendUnavailable(
                f"Cannot reach the shipyard server at {self.url}: {exc}. Check that it "
                "runs (`shipyard server`) and that SHIPYARD_SERVER_URL is right.",
                url=self.url,
            ) from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        return response.json() if response.content else None

    # -- tracking ----------------------------------------------------------
    def list_experiments(self) -> list[ExperimentInfo]:
        return [
            ExperimentInfo(
                e["id"], e["name"], datetime.fromisoformat(e["created_at"]), e["run_count"]
            )
            for e in self.request("GET", "/api/experiments")
        ]

    def search_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        *,
        filter: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
    ) -> list[RunRecord]:
        names = [experiment] if isinstance(experiment, str) else experiment
        body = {
            "experiments": list(names) if names is not None else None,
            "filter": filter,
            "order_by": list(order_by) if order_by else None,
            "max_results": max_results,
        }
        return [_run(r) for r in self.request("POST", "/api/runs/search", json=body)]

    def get_run(self, run_id: str) -> RunRecord:
        return _run(self.request("GET", f"/api/runs/{_segment(run_id, 'run_id')}"))

    def list_artifacts(self, run_id: str) -> dict[str, tuple[str, int]]:
        found = self.request("GET", f"/api/runs/{_segment(run_id, 'run_id')}/artifacts")
        return {a["path"]: (a["sha256"], a["size"]) for a in found}

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        path = f"/api/runs/{_segment(run_id, 'run_id')}/metrics/{_segment(key, 'key')}"
        return [
            MetricPoint(float(p["value"]), p["step"], p["timestamp_ms"])
            for p in self.request("GET", path)
        ]

    # -- registry ----------------------------------------------------------
    def list_models(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.request("GET", "/api/models")
        return found

    def show_model(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.request("GET", f"/api/models/{_segment(name, 'name')}")
        return found

    def model_version(self, name: str, version: int | str) -> dict[str, Any]:
        """One version by number, stage or alias."""
        path = f"/api/models/{_segment(name, 'name')}/versions/{_segment(str(version), 'version')}"
        found: dict[str, Any] = self.request("GET", path)
        return found

    def promote(
        self,
        name: str,
        version: int | str,
        to: str,
        *,
        reason: str = "",
        skip_canary: bool = False,
        breaking: bool = False,
    ) -> dict[str, Any]:
        number = _segment(str(version), "version")
        path = f"/api/models/{_segment(name, 'name')}/versions/{number}/promote"
        body = {"to": to, "reason": reason, "skip_canary": skip_canary, "breaking": breaking}
        found: dict[str, Any] = self.request("POST", path, json=body)
        return found

    def rollback(self, name: str, *, reason: str = "") -> dict[str, Any]:
        path = f"/api/models/{_segment(name, 'name')}/rollback"
        found: dict[str, Any] = self.request("POST", path, json={"reason": reason})
        return found

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteClient({self.url!r})"


def _segment(value: str, field: str) -> str:
    """A path segment, refusing what would change the path."""
    if not isinstance(value, str) or not value.strip() or "/" in value or value in (".", ".."):
        raise errors.InvalidInput(f"{field} {value!r} is not a valid name or id.", field=field)
    return quote(value.strip(), safe="")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _number(value: float | str) -> float:
    return float(value) if isinstance(value, str) else value


def _run(data: dict[str, Any]) -> RunRecord:
    return RunRecord(
        id=data["id"],
        experiment=data["experiment"],
        name=data["name"],
        status=data["status"],
        start_time=datetime.fromisoformat(data["start_time"]),
        end_time=_time(data.get("end_time")),
        user=data["user"],
        git_commit=data.get("git_commit"),
        git_dirty=data.get("git_dirty"),
        entry_point=data.get("entry_point"),
        environment_id=data.get("environment_id"),
        error=data.get("error"),
        parent_run_id=data.get("parent_run_id"),
        params=dict(data.get("params") or {}),
        metrics={k: _number(v) for k, v in (data.get("metrics") or {}).items()},
        tags=dict(data.get("tags") or {}),
    )


# -- remote-or-local functions: what the CLI calls -------------------------


def client_for(workspace: Workspace) -> RemoteClient | None:
    """The workspace's client of its ``server_url``, or None to use the local stores."""
    if not workspace.settings.server_url:
        return None
    return workspace.service("remote.client", RemoteClient.for_workspace)


def list_experiments(*, workspace: Workspace | None = None) -> list[ExperimentInfo]:
    """``shipyard.tracking.list_experiments``, or the same from the server."""
    workspace = workspace or current()
    client = client_for(workspace)
    if client is not None:
        return client.list_experiments()
    return local_list_experiments(workspace=workspace)


def search_runs(
    experiment: str | Sequence[str] | None = None,
    *,
    filter: str = "",
    order_by: Sequence[str] | None = None,
    max_results: int = 1000,
    workspace: Workspace | None = None,
) -> list[RunRecord]:
    """``shipyard.tracking.search_runs``, or the same from the server."""
    workspace = workspace or current()
    client = client_for(workspace)
    if client is not None:
        return client.search_runs(
            experiment, filter=filter, order_by=order_by, max_results=max_results
        )
    return local_search_runs(
        experiment, filter=filter, order_by=order_by, max_results=max_results, workspace=workspace
    )


def get_run(run_id: str, *, workspace: Workspace | None = None) -> RunRecord:
    """``shipyard.tracking.get_run``, or the same from the server."""
    workspace = workspace or current()
    client = client_for(workspace)
    if client is not None:
        return client.get_run(run_id)
    return local_get_run(run_id, workspace=workspace)


def list_artifacts(
    run_id: str, *, workspace: Workspace | None = None
) -> dict[str, tuple[str, int]]:
    """``shipyard.tracking.list_artifacts``, or the same from the server."""
    workspace = workspace or current()
    client = client_for(workspace)
    if client is not None:
        return client.list_artifacts(run_id)
    return local_list_artifacts(run_id, workspace=workspace)


def promote(
    ref: str,
    to: str,
    *,
    reason: str = "",
    skip_canary: bool = False,
    breaking: bool = False,
    workspace: Workspace | None = None,
) -> dict[str, Any]:
    """``shipyard.registry.promote`` (or the same on the server); the audited transition."""
    workspace = workspace or current()
    client = client_for(workspace)
    if client is not None:
        name, version = _name_and_version(ref)
        return client.promote(
            name, version, to, reason=reason, skip_canary=skip_canary, breaking=breaking
        )
    from shipyard.registry import stages  # the registry loads only when used

    done = stages.promote(
        ref, to, reason=reason, skip_canary=skip_canary, breaking=breaking, workspace=workspace
    )
    return done.to_dict()


def rollback(name: str, reason: str = "", *, workspace: Workspace | None = None) -> dict[str, Any]:
    """``shipyard.registry.rollback`` (or the same on the server); the audited transition."""
    workspace = workspace or current()
    client = client_for(workspace)
    if client is not None:
        return client.rollback(name, reason=reason)
    from shipyard.registry import stages

    return stages.rollback(name, reason, workspace=workspace).to_dict()


def list_models(*, workspace: Workspace | None = None) -> list[dict[str, Any]]:
    """Every registered model with its stages and aliases (local or from the server)."""
    workspace = workspace or current()
    client = client_for(workspace)
    if client is not None:
        return client.list_models()
    from shipyard.registry import catalog

    return [m.to_dict() for m in catalog.list_models(workspace=workspace)]


def show_model(name: str, *, workspace: Workspace | None = None) -> dict[str, Any]:
    """A model and its versions, newest first (local or from the server)."""
    workspace = workspace or current()
    client = client_for(workspace)
    if client is not None:
        return client.show_model(name)
    from shipyard.registry import catalog

    versions = catalog.list_versions(name, workspace=workspace)
    [info] = [m for m in catalog.list_models(workspace=workspace) if m.name == name]
    return {"model": info.to_dict(), "versions": [v.to_dict() for v in versions]}


def _name_and_version(ref: str) -> tuple[str, str]:
    """``churn/3`` -> (churn, 3); ``churn@canary`` -> (churn, canary)."""
    name, separator, version = ref.replace("@", "/", 1).partition("/")
    if not name or not separator or not version:
        raise errors.InvalidInput(
            f"Model reference {ref!r} must be NAME/VERSION or NAME@STAGE (e.g. churn/3).",
            field="ref",
        )
    return name, version
