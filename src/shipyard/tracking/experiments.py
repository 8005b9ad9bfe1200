"""Experiments: named groups of runs, created on first use."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from shipyard.errors import InvalidInput, NotFound
from shipyard.store.schema.core import Experiment
from shipyard.store.schema.core import Run as RunRow
from shipyard.store.sql import insert_ignore
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class ExperimentInfo:
    id: int
    name: str
    created_at: datetime
    run_count: int


def check_name(name: object, field: str = "experiment") -> str:
    """A usable name, or ``InvalidInput`` saying why not."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{field} must be a non-empty string, got {name!r}.", field=field)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"{field} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}.",
            field=field,
        )
    return name.strip()


class ExperimentIds(dict[str, int]):
    """Experiment ids this workspace has seen; experiments are never renamed or deleted."""


def _known(workspace: Workspace) -> ExperimentIds:
    return workspace.service("tracking.experiment_ids", lambda _: ExperimentIds())


def get_or_create(workspace: Workspace, name: str) -> int:
    """The id of experiment ``name``, creating it if needed (safe under races)."""
    name = check_name(name)
    known = _known(workspace)
    if name in known:
        return known[name]
    known[name] = _get_or_create(workspace, name)
    return known[name]


def _get_or_create(workspace: Workspace, name: str) -> int:
    with workspace.store.read() as session:
        found = session.scalar(select(Experiment.id).where(Experiment.name == name))
    if found is not None:
        return found
    with workspace.store.write() as session:
        insert_ignore(
            session,
            Experiment.__table__,  # type: ignore[arg-type]
            [{"name": name, "description": "", "created_at": utcnow()}],
            keys=["name"],
        )
        created = session.scalar(select(Experiment.id).where(Experiment.name == name))
    assert created is not None
    return created


def resolve_ids(workspace: Workspace, names: list[str]) -> dict[str, int]:
    """Experiment ids by name; an unknown name is ``NotFound`` with the closest match."""
    with workspace.store.read() as session:
        rows = dict(session.execute(select(Experiment.name, Experiment.id)).all())
    missing = [n for n in names if n not in rows]
    if missing:
        raise unknown_experiment(missing[0], list(rows))
    return {n: rows[n] for n in names}


def unknown_experiment(name: str, known: list[str]) -> NotFound:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return NotFound(
        f"No experiment named '{name}'.{hint} See `shipyard experiments list`.",
        kind="experiment",
        name=name,
    )


def list_experiments(*, workspace: Workspace | None = None) -> list[ExperimentInfo]:
    """Every experiment with its number of runs, oldest first."""
    workspace = workspace or current()
    query = (
        select(Experiment.id, Experiment.name, Experiment.created_at, func.count(RunRow.id))
        .outerjoin(RunRow, RunRow.experiment_id == Experiment.id)
        .group_by(Experiment.id, Experiment.name, Experiment.created_at)
        .order_by(Experiment.id)
    )
    with workspace.store.read() as session:
        return [ExperimentInfo(*row) for row in session.execute(query)]
