"""``create_app``: the management server as a FastAPI app over one workspace.

Nothing is built at import time. ``create_app(settings, workspace)`` wires the
error table, the body-size limit and the routers of ``ROUTERS`` to the given
workspace (or to one opened from ``settings``). A router whose layer is not
installed is skipped, so the app grows as layers land::

    uvicorn --factory 'shipyard.server:create_app'
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI

from shipyard.config import Settings, load_settings
from shipyard.server import errors
from shipyard.server.limits import BodySizeLimit
from shipyard.workspace import Workspace

DESCRIPTION = """\
The management API of shipyard: tracking, datasets and the model registry.

**Auth.** While the store has no API tokens (laptop mode) every caller is the
local approver. Once a token exists, every `/api` route needs
`Authorization: Bearer <token>` with at least the role it names:
`viewer` reads, `developer` registers and promotes to staging and canary,
`approver` promotes to production and rolls back.

**Errors** are JSON: `{"error": <class>, "message": <what to do>, ...context}`.
"""


@dataclass(frozen=True)
class RouterSpec:
    """A router module (with ``router(workspace) -> APIRouter``) and the layer it needs."""

    module: str
    needs: str | None = None


ROUTERS: tuple[RouterSpec, ...] = (
    RouterSpec("shipyard.server.routes.health"),
    RouterSpec("shipyard.server.routes.tokens"),
    RouterSpec("shipyard.server.routes.tracking"),
    RouterSpec("shipyard.server.routes.datasets", needs="shipyard.data"),
    RouterSpec("shipyard.server.routes.models", needs="shipyard.registry"),
    RouterSpec("shipyard.features.http", needs="shipyard.features.http"),
    RouterSpec("shipyard.monitoring.http", needs="shipyard.monitoring.http"),
)


def module_exists(name: str) -> bool:
    """True when ``name`` and each package above it are real, importable modules.

    A folder without ``__init__.py`` (a layer still being written) does not count.
    """
    parts = name.split(".")
    for i in range(len(parts)):
        spec = importlib.util.find_spec(".".join(parts[: i + 1]))
        if spec is None or spec.origin is None:
            return False
    return True


def available_routers(
    workspace: Workspace, specs: tuple[RouterSpec, ...] = ROUTERS
) -> list[APIRouter]:
    """The routers of ``specs`` whose layer exists, built for ``workspace``."""
    found = []
    for spec in specs:
        if spec.needs is not None and not module_exists(spec.needs):
            continue
        if not module_exists(spec.module):
            continue
        module = importlib.import_module(spec.module)
        built: APIRouter = module.router(workspace)
        found.append(built)
    return found


def create_app(settings: Settings | None = None, workspace: Workspace | None = None) -> FastAPI:
    """The management server for ``workspace`` (default: one opened from ``settings``)."""
    from shipyard import __version__

    owned = workspace is None
    settings = settings or (workspace.settings if workspace else load_settings())
    workspace = workspace or Workspace(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:  # a workspace passed in belongs to the caller, who closes it
            workspace.close()

    app = FastAPI(
        title="shipyard",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.workspace = workspace
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    for router in available_routers(workspace):
        app.include_router(router)
    return app
