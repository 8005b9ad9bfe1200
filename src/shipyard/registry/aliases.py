"""Aliases: free-form names for versions (``churn@champion``), beside the stages.

Setting an alias moves it to the new version; aliases are developer writes
and are audited like stage changes (``to_stage`` is ``alias:NAME``).
"""

from __future__ import annotations

from sqlalchemy import delete

from shipyard.access import authenticate, require
from shipyard.registry import audit
from shipyard.registry.audit import Attempt
from shipyard.registry.catalog import version_row
from shipyard.registry.refs import check_alias
from shipyard.store.schema.registry import ModelAlias
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current


def set_alias(
    ref: str, alias: str, *, token: str | None = None, workspace: Workspace | None = None
) -> None:
    """Point ``alias`` of the model at the version ``ref`` names."""
    workspace = workspace or current()
    check_alias(alias)
    principal = require(
        authenticate(token or workspace.settings.token or None, workspace=workspace),
        "developer",
        f"Setting alias '{alias}'",
    )
    with workspace.store.write() as session:
        model, row = version_row(session, ref)
        session.execute(
            delete(ModelAlias).where(ModelAlias.model_id == model.id, ModelAlias.alias == alias)
        )
        session.add(
            ModelAlias(model_id=model.id, alias=alias, version=row.version, updated_at=utcnow())
        )
        audit.insert(
            session,
            Attempt(model.id, row.version, "-", f"alias:{alias}", principal.name),
            audit.DONE,
        )


def remove_alias(
    name: str, alias: str, *, token: str | None = None, workspace: Workspace | None = None
) -> None:
    """Remove ``alias`` from model ``name`` (no error if it was not set)."""
    workspace = workspace or current()
    require(
        authenticate(token or workspace.settings.token or None, workspace=workspace),
        "developer",
        f"Removing alias '{alias}'",
    )
    with workspace.store.write() as session:
        model, _ = version_row(session, f"{name}@latest")
        session.execute(
            delete(ModelAlias).where(ModelAlias.model_id == model.id, ModelAlias.alias == alias)
        )
