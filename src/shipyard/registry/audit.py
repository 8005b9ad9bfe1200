"""The audit log of stage changes: every attempt, who made it, and what the gates said.

Outcomes: ``done`` (the change happened), ``blocked`` (a gate failed),
``conflict`` (another change won the race), ``denied`` (the role was too low)
and ``refused`` (not an allowed path, e.g. skipping canary). A failed
attempt's row is written in its own transaction, after the attempt's own
transaction was rolled back, so the log keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.registry.catalog import model_row
from shipyard.store.schema.registry import ModelTransition
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

DONE, BLOCKED, CONFLICT, DENIED, REFUSED = "done", "blocked", "conflict", "denied", "refused"


@dataclass(frozen=True)
class Transition:
    """One audited stage change or attempt."""

    id: int
    name: str
    version: int
    from_stage: str
    to_stage: str
    who: str
    reason: str
    outcome: str
    detail: str
    gate_report: dict[str, Any] | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class Attempt:
    """What a transition row records, before it is written."""

    model_id: int
    version: int
    from_stage: str
    to_stage: str
    who: str
    reason: str = ""

    def row(
        self, outcome: str, detail: str = "", report: dict[str, Any] | None = None
    ) -> ModelTransition:
        return ModelTransition(
            model_id=self.model_id,
            version=self.version,
            from_stage=self.from_stage,
            to_stage=self.to_stage,
            who=self.who,
            reason=self.reason,
            outcome=outcome,
            detail=detail,
            gate_report=report,
            created_at=utcnow(),
        )


def insert(
    session: Session,
    attempt: Attempt,
    outcome: str,
    detail: str = "",
    report: dict[str, Any] | None = None,
) -> ModelTransition:
    """Add the row inside the caller's transaction."""
    row = attempt.row(outcome, detail, report)
    session.add(row)
    session.flush()
    return row


def record(
    workspace: Workspace,
    attempt: Attempt,
    outcome: str,
    detail: str = "",
    report: dict[str, Any] | None = None,
) -> None:
    """Write the row in a transaction of its own (for attempts that failed)."""
    with workspace.store.write() as session:
        insert(session, attempt, outcome, detail, report)


def history(name: str, *, workspace: Workspace | None = None) -> list[Transition]:
    """Every audited transition of model ``name``, oldest first."""
    workspace = workspace or current()
    with workspace.store.read() as session:
        model = model_row(session, name)
        rows = session.scalars(
            select(ModelTransition)
            .where(ModelTransition.model_id == model.id)
            .order_by(ModelTransition.id)
        ).all()
        return [to_transition(model.name, r) for r in rows]


def to_transition(name: str, row: ModelTransition) -> Transition:
    return Transition(
        row.id,
        name,
        row.version,
        row.from_stage,
        row.to_stage,
        row.who,
        row.reason,
        row.outcome,
        row.detail,
        row.gate_report,
        row.created_at,
    )
