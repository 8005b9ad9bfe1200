"""The feature registry: definitions kept, versioned and planned in the metadata store.

``apply`` compares the definitions given with the applied ones, shows a plan
(added / changed / removed), and writes a new version of each definition whose
spec hash changed. Readers never hold a stale copy: ``Registry.current()``
asks the store for the newest apply id on every call (one indexed query) and
re-reads the definitions only when it moved, so a running server sees an
apply at once.
"""

from __future__ import annotations

import contextlib
import difflib
import getpass
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from shipyard.errors import InvalidInput, NotFound
from shipyard.features.definitions import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    spec_hash,
)
from shipyard.store.lineage import Edge, insert_edges
from shipyard.store.schema.features import (
    FeatureApply,
    FeatureDefinition,
    FeatureDefinitionVersion,
)
from shipyard.store.sql import upsert
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace

Key = tuple[str, str]  # (kind, name); kind is entity | feature_view | feature_service
_NEWEST_APPLY = "SELECT max(id) FROM feature_applies"


def _kind(definition: Definition) -> str:
    if isinstance(definition, Entity):
        return "entity"
    if isinstance(definition, FeatureService):
        return "feature_service"
    return "feature_view"


@dataclass
class Definitions:
    """Every applied definition at one moment, rebuilt from the stored specs."""

    generation: int = 0
    entities: dict[str, Entity] = field(default_factory=dict)
    views: dict[str, FeatureView] = field(default_factory=dict)
    on_demand: dict[str, OnDemandFeatureView] = field(default_factory=dict)
    services: dict[str, FeatureService] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)  # view name -> version
    specs: dict[Key, dict[str, Any]] = field(default_factory=dict)
    # Resolved feature requests of this generation (hot online path); dropped with it.
    requests: dict[Any, Any] = field(default_factory=dict, repr=False)

    def node(self, view: str) -> tuple[str, str]:
        """The lineage node of a view's current version."""
        return ("feature_view", f"{view}/v{self.versions[view]}")

    def view(self, name: str) -> FeatureView:
        if name not in self.views:
            close = difflib.get_close_matches(name, list(self.views), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise NotFound(
                f"No feature view '{name}'.{hint} Applied views: "
                f"{sorted(self.views) or 'none'}; see `shipyard features list`.",
                kind="feature_view",
                name=name,
            )
        return self.views[name]


@dataclass
class Plan:
    """What an apply does: names added, changed (with fields) and removed."""

    added: list[Key] = field(default_factory=list)
    changed: dict[Key, list[str]] = field(default_factory=dict)
    removed: list[Key] = field(default_factory=list)
    unchanged: list[Key] = field(default_factory=list)
    applied: bool = False
    versions: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": [f"{k}:{n}" for k, n in self.added],
            "changed": {f"{k}:{n}": fields for (k, n), fields in self.changed.items()},
            "removed": [f"{k}:{n}" for k, n in self.removed],
            "unchanged": [f"{k}:{n}" for k, n in self.unchanged],
            "applied": self.applied,
            "versions": self.versions,
        }


class Registry:
    """Reads definitions from the store, re-reading only after a new apply.

    The freshness check runs on every call, so it uses one raw driver connection
    per thread (detached from the pool, autocommit): a ~10 µs query on SQLite
    instead of a full ORM session.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lock = threading.Lock()
        self._cached = Definitions(generation=-1)
        self._local = threading.local()
        self._raw: list[Any] = []

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self.workspace.store.read_engine.raw_connection()
            driver: Any = connection.driver_connection
            connection.detach()  # never handed back to the pool with autocommit on
            if not self.workspace.store.is_sqlite:
                driver.rollback()
                driver.autocommit = True  # each check sees the newest commit
            self._local.connection, self._local.driver = connection, driver
            with self._lock:
                self._raw.append(connection)
        return connection

    def generation(self) -> int:
        """The id of the newest apply (0 before any)."""
        try:
            # Straight on the driver (sqlite3 / psycopg): no pool proxy on the hot path.
            if getattr(self._local, "driver", None) is None:
                self._connection()
            row = self._local.driver.execute(_NEWEST_APPLY).fetchone()
        except Exception:
            # A dropped connection: answer through the pool; the next call opens a new one.
            self._forget()
            with self.workspace.store.read() as session:
                return int(session.scalar(select(func.max(FeatureApply.id))) or 0)
        return int(row[0] or 0)

    def _forget(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = self._local.driver = None
        with self._lock:
            if connection in self._raw:
                self._raw.remove(connection)
        with contextlib.suppress(Exception):
            if connection is not None:
                connection.close()

    def current(self) -> Definitions:
        generation = self.generation()
        with self._lock:
            if generation != self._cached.generation:
                self._cached = self._load(generation)
            return self._cached

    def _load(self, generation: int) -> Definitions:
        with self.workspace.store.read() as session:
            rows = session.execute(
                select(FeatureDefinitionVersion)
                .join(
                    FeatureDefinition,
                    (FeatureDefinition.kind == FeatureDefinitionVersion.kind)
                    & (FeatureDefinition.name == FeatureDefinitionVersion.name)
                    & (FeatureDefinition.latest_version == FeatureDefinitionVersion.version),
                )
                .where(FeatureDefinition.active.is_(True))
            ).scalars()
            specs = {(r.kind, r.name): (r.version, r.spec) for r in rows}
        return build_definitions(generation, specs)

    def close(self) -> None:
        """Close the raw connections of every thread."""
        with self._lock:
            for connection in self._raw:
                with contextlib.suppress(Exception):  # already gone with its database
                    connection.close()
            self._raw.clear()
        self._local = threading.local()


def build_definitions(
    generation: int, specs: Mapping[Key, tuple[int, dict[str, Any]]]
) -> Definitions:
    out = Definitions(generation=generation)
    for (kind, name), (version, spec) in specs.items():
        out.specs[(kind, name)] = spec
        if kind == "entity":
            out.entities[name] = Entity.from_spec(spec)
        elif kind == "feature_view" and spec["kind"] == "feature_view":
            out.views[name] = FeatureView.from_spec(spec)
            out.versions[name] = version
    for (kind, name), (version, spec) in specs.items():
        if kind == "feature_view" and spec["kind"] == "on_demand":
            out.on_demand[name] = OnDemandFeatureView.from_spec(spec, out.views)
            out.versions[name] = version
        elif kind == "feature_service":
            out.services[name] = FeatureService(name, spec["features"], spec.get("description", ""))
    return out


def registry(workspace: Workspace) -> Registry:
    return workspace.service("features.registry", Registry)


def _desired(definitions: Iterable[Definition]) -> dict[Key, Definition]:
    desired: dict[Key, Definition] = {}
    for item in definitions:
        if not isinstance(item, (Entity, FeatureView, OnDemandFeatureView, FeatureService)):
            raise InvalidInput(
                f"Cannot apply {item!r}: not a feature definition.", field="definitions"
            )
        key = (_kind(item), item.name)
        if key in desired and desired[key] != item:
            raise InvalidInput(f"Two different definitions are named '{item.name}'.", field="name")
        desired[key] = item
        if isinstance(item, FeatureView):
            desired.setdefault(("entity", item.entity.name), item.entity)
        if isinstance(item, OnDemandFeatureView):
            for view in item.inputs:
                desired.setdefault(("feature_view", view.name), view)
                desired.setdefault(("entity", view.entity.name), view.entity)
    return desired


def _changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in {*old, *new} if old.get(k) != new.get(k))


def plan(
    definitions: Iterable[Definition], *, prune: bool, workspace: Workspace
) -> tuple[Plan, dict[Key, dict[str, Any]]]:
    """The plan for applying ``definitions`` (nothing is written)."""
    specs = {key: item.spec() for key, item in _desired(definitions).items()}
    current = registry(workspace).current()
    result = Plan()
    for key, spec in specs.items():
        old = current.specs.get(key)
        if old is None:
            result.added.append(key)
        elif spec_hash(old) != spec_hash(spec):
            result.changed[key] = _changed_fields(old, spec)
        else:
            result.unchanged.append(key)
    if prune:
        result.removed = sorted(k for k in current.specs if k not in specs)
    return result, specs


def apply_plan(result: Plan, specs: Mapping[Key, dict[str, Any]], workspace: Workspace) -> Plan:
    """Write the versions and removals of ``result`` in one transaction."""
    if result.empty:
        return result
    with workspace.store.write() as session:
        apply_row = FeatureApply(user=_user(), summary=result.to_dict(), created_at=utcnow())
        session.add(apply_row)
        session.flush()
        edges: list[Edge] = []
        for key in [*result.added, *result.changed]:
            version = _write_version(session, key, specs[key])
            result.versions[f"{key[0]}:{key[1]}"] = version
            edges.extend(_edges(key, version, specs[key], apply_row.id))
        for kind, name in result.removed:
            session.execute(
                update(FeatureDefinition)
                .where(FeatureDefinition.kind == kind, FeatureDefinition.name == name)
                .values(active=False, updated_at=utcnow())
            )
        insert_edges(session, edges)
    result.applied = True
    return result


def _write_version(session: Any, key: Key, spec: dict[str, Any]) -> int:
    kind, name = key
    latest = session.scalar(
        select(func.max(FeatureDefinitionVersion.version)).where(
            FeatureDefinitionVersion.kind == kind, FeatureDefinitionVersion.name == name
        )
    )
    version = int(latest or 0) + 1
    digest = spec_hash(spec)
    session.add(
        FeatureDefinitionVersion(
            kind=kind, name=name, version=version, hash=digest, spec=spec, created_at=utcnow()
        )
    )
    row = {
        "kind": kind,
        "name": name,
        "latest_version": version,
        "hash": digest,
        "active": True,
        "updated_at": utcnow(),
    }
    upsert(
        session,
        FeatureDefinition.__table__,  # type: ignore[arg-type]
        [row],
        keys=["kind", "name"],
        update=["latest_version", "hash", "active", "updated_at"],
    )
    return version


def _edges(key: Key, version: int, spec: Mapping[str, Any], apply_id: int) -> list[Edge]:
    kind, name = key
    node = (kind, f"{name}/v{version}") if kind == "feature_view" else (kind, name)
    edges = [Edge(("feature_apply", str(apply_id)), node, "applied")]
    if spec.get("kind") == "feature_view":
        edges.append(Edge(("entity", spec["entity"]["name"]), node, "entity"))
        edges.extend(Edge(n, node, "source") for n in _source_nodes(spec["source"]))
    return edges


def _source_nodes(source: Mapping[str, Any]) -> list[tuple[str, str]]:
    if source.get("kind") == "snapshot":
        return [("snapshot", source["snapshot"])]
    return [n for s in source.get("tables", {}).values() for n in _source_nodes(s)]


def list_versions(kind: str, name: str, workspace: Workspace) -> list[dict[str, Any]]:
    """Every stored version of one definition, oldest first."""
    with workspace.store.read() as session:
        rows = session.scalars(
            select(FeatureDefinitionVersion)
            .where(FeatureDefinitionVersion.kind == kind, FeatureDefinitionVersion.name == name)
            .order_by(FeatureDefinitionVersion.version)
        ).all()
        return [
            {"version": r.version, "hash": r.hash, "created_at": r.created_at, "spec": r.spec}
            for r in rows
        ]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
