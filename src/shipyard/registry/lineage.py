"""Lineage of a model version: upstream (run, commit, environment, datasets, feature views)
and downstream (stages, deployments), walked through ``shipyard.store.lineage``.

The result is both a tree (for people: ``shipyard models lineage churn/3``) and the
flat graph of nodes and edges (for machines: ``--json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipyard.registry.catalog import get_version
from shipyard.store import lineage as graph
from shipyard.workspace import Workspace, current

MAX_DEPTH = 6


@dataclass
class LineageNode:
    """A node of the tree: kind, id, the relation to its parent, and its own neighbours."""

    kind: str
    id: str
    relation: str = ""
    current: bool | None = None
    children: list[LineageNode] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "relation": self.relation}
        if self.current is not None:
            out["current"] = self.current
        out["children"] = [c.to_dict() for c in self.children]
        return out


@dataclass
class Lineage:
    """Upstream and downstream trees of one version, and the graph they come from."""

    ref: str
    upstream: list[LineageNode]
    downstream: list[LineageNode]
    edges: list[graph.Edge]

    def to_dict(self) -> dict[str, Any]:
        nodes = sorted({e.src for e in self.edges} | {e.dst for e in self.edges})
        return {
            "ref": self.ref,
            "nodes": [{"kind": k, "id": i} for k, i in nodes],
            "edges": [
                {
                    "src": {"kind": e.src[0], "id": e.src[1]},
                    "dst": {"kind": e.dst[0], "id": e.dst[1]},
                    "relation": e.relation,
                }
                for e in self.edges
            ],
            "upstream": [n.to_dict() for n in self.upstream],
            "downstream": [n.to_dict() for n in self.downstream],
        }


def lineage(ref: str, *, workspace: Workspace | None = None) -> Lineage:
    """Where version ``ref`` came from and where it went."""
    workspace = workspace or current()
    info = get_version(ref, workspace=workspace)
    root = ("model_version", info.ref)
    edges: list[graph.Edge] = []
    upstream = _walk(workspace, root, edges, up=True, seen={root}, depth=0)
    downstream = _walk(workspace, root, edges, up=False, seen={root}, depth=0)
    for node in downstream:
        if node.kind == "stage":
            node.current = node.id == f"{info.name}@{info.stage}"
    return Lineage(info.ref, upstream, downstream, edges)


def _walk(
    workspace: Workspace,
    node: graph.Node,
    edges: list[graph.Edge],
    *,
    up: bool,
    seen: set[graph.Node],
    depth: int,
) -> list[LineageNode]:
    if depth >= MAX_DEPTH:
        return []
    found = graph.upstream(workspace.store, node) if up else graph.downstream(workspace.store, node)
    out = []
    for edge in found:
        other = edge.src if up else edge.dst
        edges.append(edge)
        child = LineageNode(other[0], other[1], edge.relation)
        if other not in seen:
            seen.add(other)
            child.children = _walk(workspace, other, edges, up=up, seen=seen, depth=depth + 1)
        out.append(child)
    return out
