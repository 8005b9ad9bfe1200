"""The step graph of one pipeline run, built by calling steps inside the pipeline.

While a pipeline function runs, each step call adds a ``Node`` and returns
its ``Handle``. Data dependencies are the handles found in a node's
arguments (also inside lists, tuples, sets and dicts); they are read when
the graph is closed, so that a container changed after the call (a handle
appended to a list an earlier step received) is seen — and a loop made that
way is reported as a cyclic dependency.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.pipelines.step import Step

_BUILDER: ContextVar[GraphBuilder | None] = ContextVar("shipyard_pipeline_builder", default=None)


@dataclass(eq=False)
class Node:
    """One step call: its unique name in the run, the step and its bound arguments."""

    name: str
    step: Step[Any, Any]
    arguments: dict[str, Any]
    deps: list[Node] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Node({self.name!r})"


class Handle:
    """The lazy result of a step call; pass it to other steps, the runner resolves it."""

    __slots__ = ("_builder", "node")

    def __init__(self, node: Node, builder: GraphBuilder) -> None:
        self.node = node
        self._builder = builder

    def _misuse(self, *_: object) -> Any:
        raise InvalidInput(
            f"The result of step '{self.node.name}' is not known while the pipeline function "
            "builds the graph. Pass it to another step and do the work there.",
            field=self.node.name,
        )

    __bool__ = _misuse
    __iter__ = _misuse
    __len__ = _misuse
    __getitem__ = _misuse
    __float__ = _misuse
    __int__ = _misuse

    def __repr__(self) -> str:
        return f"Handle({self.node.name!r})"


class GraphBuilder:
    """Collects the nodes of one pipeline call, in call order."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self._counts: dict[str, int] = {}

    def add(self, step: Step[Any, Any], arguments: dict[str, Any]) -> Handle:
        count = self._counts.get(step.name, 0) + 1
        self._counts[step.name] = count
        name = step.name if count == 1 else f"{step.name}-{count}"
        node = Node(name, step, arguments)
        self.nodes.append(node)
        return Handle(node, self)

    def close(self) -> list[Node]:
        """Link every node to its dependencies; the nodes in an order that respects them."""
        for node in self.nodes:
            node.deps = _unique(self._handles_in(node.arguments, node))
        return _topological(self.nodes)

    def _handles_in(self, value: Any, owner: Node) -> Iterator[Node]:
        if isinstance(value, Handle):
            if value._builder is not self:
                raise InvalidInput(
                    f"Step '{owner.name}' received the result of '{value.node.name}' from "
                    "another pipeline call; pass values between steps of one pipeline only.",
                    field=owner.name,
                )
            yield value.node
        elif isinstance(value, dict):
            for item in value.values():
                yield from self._handles_in(item, owner)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                yield from self._handles_in(item, owner)


def _unique(nodes: Iterator[Node]) -> list[Node]:
    seen: dict[int, Node] = {}
    for node in nodes:
        seen.setdefault(id(node), node)
    return list(seen.values())


def _topological(nodes: list[Node]) -> list[Node]:
    """Depth-first order; a back edge is a cycle, reported with its path."""
    done: set[int] = set()
    active: list[Node] = []
    order: list[Node] = []

    def visit(node: Node) -> None:
        if id(node) in done:
            return
        if any(n is node for n in active):
            start = next(i for i, n in enumerate(active) if n is node)
            path = " -> ".join(n.name for n in [*active[start:], node])
            raise InvalidInput(
                f"The pipeline has a cyclic dependency: {path}. A step cannot depend on its "
                "own result; remove the handle that closes the loop.",
                field="pipeline",
            )
        active.append(node)
        for dep in node.deps:
            visit(dep)
        active.pop()
        done.add(id(node))
        order.append(node)

    for node in nodes:
        visit(node)
    return order


def active_builder() -> GraphBuilder | None:
    """The builder of the pipeline being defined in this context, if any."""
    return _BUILDER.get()


@contextmanager
def building() -> Iterator[GraphBuilder]:
    """Collect step calls made in this block into a new graph."""
    builder = GraphBuilder()
    token = _BUILDER.set(builder)
    try:
        yield builder
    finally:
        _BUILDER.reset(token)


def replace_handles(value: Any, resolve: Any) -> Any:
    """``value`` with every handle replaced by ``resolve(node)`` (containers rebuilt)."""
    if isinstance(value, Handle):
        return resolve(value.node)
    if isinstance(value, dict):
        return {k: replace_handles(v, resolve) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_handles(v, resolve) for v in value]
    if isinstance(value, tuple):
        return tuple(replace_handles(v, resolve) for v in value)
    if isinstance(value, set | frozenset):
        return type(value)(replace_handles(v, resolve) for v in value)
    return value


__all__ = ["GraphBuilder", "Handle", "Node", "active_builder", "building", "replace_handles"]
