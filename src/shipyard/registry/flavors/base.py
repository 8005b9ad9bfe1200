"""What every flavor provides: detect, serialize, deserialize, and the packages it needs.

A flavor turns a trained model object into bytes (stored content-addressed)
plus a small JSON ``meta`` (kept in the metadata store, so it is covered by
the same trust as the hash), and back into an object with ``predict`` (and
``predict_proba`` where the model has it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any, Protocol


@dataclass(frozen=True)
class Serialized:
    """A model's bytes and the facts needed to load them again."""

    data: bytes
    meta: dict[str, Any] = field(default_factory=dict)


class Flavor(Protocol):
    """One way of storing and loading a kind of model."""

    name: str

    def matches(self, model: Any) -> bool:
        """True when this flavor can store ``model``."""
        ...

    def save(self, model: Any) -> Serialized: ...

    def load(self, data: bytes, meta: Mapping[str, Any]) -> Any: ...

    def packages(self, model: Any) -> list[str]:
        """Distributions whose exact versions the model needs to load."""
        ...


def module_roots(model: Any) -> list[str]:
    """Top-level packages of the model's class and its bases (``sklearn``, ``xgboost``…)."""
    roots = []
    for cls in type(model).__mro__:
        root = (cls.__module__ or "").split(".")[0]
        if root and root not in roots and root not in ("builtins", "__main__", "abc"):
            roots.append(root)
    return roots


def is_from(model: Any, package: str) -> bool:
    return package in module_roots(model)


@cache
def _distributions() -> Mapping[str, list[str]]:
    # One scan of the installed metadata per process (no pip subprocess).
    return metadata.packages_distributions()


def distributions_of(modules: Iterable[str]) -> list[str]:
    """The installed distributions that provide these top-level modules."""
    found: list[str] = []
    for module in modules:
        for dist in _distributions().get(module, []):
            if dist not in found:
                found.append(dist)
    return found


def exact_versions(distributions: Iterable[str]) -> dict[str, str]:
    """``{distribution: version}`` for those installed, read from their metadata.

    Uses the per-process table of installed distributions that run tracking
    already built, so it costs a few dict lookups (no pip subprocess).
    """
    from shipyard.tracking.environment import installed_packages

    installed = installed_packages()
    versions: dict[str, str] = {}
    for dist in distributions:
        name = dist.lower().replace("_", "-")
        if name in installed:
            versions[name] = installed[name]
    return dict(sorted(versions.items()))
