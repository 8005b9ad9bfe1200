"""Writing and reading edges of the lineage graph (DESIGN.md §1).

A node is ``(kind, id)``: ``("run", "3fa2…")``, ``("snapshot", "customers/2")``,
``("commit", "9c1e…")``. An edge says ``src`` fed ``dst`` with a relation
(``input``, ``code``, ``environment``, ``produced``…). Every layer records its
edges here, so one query walks from a prediction back to its data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shipyard.store import Store
from shipyard.store.schema.core import LineageEdge
from shipyard.store.sql import insert_ignore
from shipyard.store.types import utcnow

Node = tuple[str, str]
_KEYS = ["src_kind", "src_id", "dst_kind", "dst_id", "relation"]


@dataclass(frozen=True)
class Edge:
    src: Node
    dst: Node
    relation: str


def add_edges(store: Store, edges: Iterable[Edge]) -> None:
    """Record edges (idempotent: an edge already stored is kept as is)."""
    with store.write() as session:
        insert_edges(session, edges)


def insert_edges(session: Session, edges: Iterable[Edge]) -> None:
    """``add_edges`` inside a transaction the caller already holds."""
    rows = [
        {
            "src_kind": e.src[0],
            "src_id": e.src[1],
            "dst_kind": e.dst[0],
            "dst_id": e.dst[1],
            "relation": e.relation,
            "created_at": utcnow(),
        }
        for e in edges
    ]
    insert_ignore(session, LineageEdge.__table__, rows, keys=_KEYS)  # type: ignore[arg-type]


def upstream(store: Store, node: Node) -> list[Edge]:
    """Edges that point into ``node``."""
    query = select(LineageEdge).where(
        LineageEdge.dst_kind == node[0], LineageEdge.dst_id == node[1]
    )
    return _edges(store, query)


def downstream(store: Store, node: Node) -> list[Edge]:
    """Edges that leave ``node``."""
    query = select(LineageEdge).where(
        LineageEdge.src_kind == node[0], LineageEdge.src_id == node[1]
    )
    return _edges(store, query)


def neighbours(store: Store, node: Node) -> list[Edge]:
    """Edges into and out of ``node``."""
    query = select(LineageEdge).where(
        or_(
            (LineageEdge.dst_kind == node[0]) & (LineageEdge.dst_id == node[1]),
            (LineageEdge.src_kind == node[0]) & (LineageEdge.src_id == node[1]),
        )
    )
    return _edges(store, query)


def _edges(store: Store, query: object) -> list[Edge]:
    with store.read() as session:
        rows = session.scalars(query.order_by(LineageEdge.id))  # type: ignore[attr-defined]
        return [Edge((r.src_kind, r.src_id), (r.dst_kind, r.dst_id), r.relation) for r in rows]
