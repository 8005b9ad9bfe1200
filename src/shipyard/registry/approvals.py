"""No trigger reaches production without a person: the registry's retrain approval rule.

A version whose producing run descends (through the lineage graph) from a
retrain request — a drift alert, a schedule, a manual start — may enter
``production`` only when that request has an ``approved`` decision recorded
by someone with the ``approver`` role. The rule lives here, in the registry's
promotion path, so that no caller (CLI, HTTP, Python, a scheduler, a
pipeline step) can skip it; it reads only store tables, never the pipelines
package.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.errors import GateFailed
from shipyard.store.schema.core import LineageEdge
from shipyard.store.schema.retrain import RetrainDecision, RetrainRequest

REQUEST_KIND = "retrain_request"
APPROVED = "approved"
# Enough to go version <- run <- (resumed runs) <- request; bounded so a wide graph stays cheap.
MAX_DEPTH = 6
MAX_NODES = 500


def retrain_requests_above(session: Session, node: tuple[str, str]) -> list[str]:
    """Ids of the retrain requests ``node`` descends from, nearest first."""
    frontier, seen, found = [node], {node}, []
    for _ in range(MAX_DEPTH):
        if not frontier or len(seen) > MAX_NODES:
            break
        rows = session.execute(
            select(
                LineageEdge.src_kind, LineageEdge.src_id, LineageEdge.dst_kind, LineageEdge.dst_id
            ).where(LineageEdge.dst_id.in_([n[1] for n in frontier]))
        ).all()
        targets = set(frontier)
        parents = list(
            dict.fromkeys(
                (k, i) for k, i, dk, di in rows if (dk, di) in targets and (k, i) not in seen
            )
        )
        seen.update(parents)
        found += [i for k, i in parents if k == REQUEST_KIND]
        # Only runs and requests lead further up to a request; data and code never do.
        frontier = [p for p in parents if p[0] in ("run", "step_run", "model_version")]
    return found


def check_production(session: Session, ref: str) -> None:
    """Refuse production for ``ref`` (NAME/VERSION) if an ancestor request is not approved."""
    for request_id in retrain_requests_above(session, ("model_version", ref)):
        approved = session.scalar(
            select(RetrainDecision.id).where(
                RetrainDecision.request_id == request_id, RetrainDecision.decision == APPROVED
            )
        )
        if approved is None:
            status = session.scalar(
                select(RetrainRequest.status).where(RetrainRequest.id == request_id)
            )
            raise GateFailed(
                f"{ref} was trained for retrain request {request_id} (status "
                f"{status or 'unknown'}), which has no approval: a retrained model reaches "
                "production only through a person's approval. An approver runs "
                f'`shipyard retrain approve {request_id} --reason "…"`.',
                report={"rule": "retrain-approval", "request": request_id},
            )


__all__ = ["check_production", "retrain_requests_above"]
