"""Where a feature view's rows come from: Parquet files, a dataset snapshot, or SQL.

Every source turns into one DuckDB relation (SQL text) that the offline store
reads lazily, so nothing is loaded into Python before the join:

- ``ParquetSource("data/tx/*.parquet")`` — a path or glob (a plain string works too).
  Relative paths are relative to the project folder (where ``shipyard.toml`` or
  ``.git`` is), else the working directory.
- ``SnapshotSource("transactions/v3")`` — a registered dataset snapshot (``shipyard.data``).
- ``SQLSource("SELECT … FROM tx JOIN …", tables={"tx": "data/tx.parquet"})`` — a DuckDB
  query over named inputs (each a source or a path).
"""

from __future__ import annotations

import glob
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from shipyard.workspace import Workspace


def quote(identifier: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


class Source:
    """A relation of feature rows; subclasses say how DuckDB reads it."""

    def spec(self) -> dict[str, Any]:
        raise NotImplementedError

    def relation(self, workspace: Workspace) -> str:
        """SQL text usable after ``FROM`` (a table function or a subquery)."""
        raise NotImplementedError

    def lineage(self) -> list[tuple[str, str]]:
        """Lineage nodes this source reads (dataset snapshots)."""
        return []

    def files(self, workspace: Workspace) -> list[str] | None:
        """The files the relation reads, or ``None`` when they cannot be known.

        The offline store keys its in-memory copy of a view's rows by these
        files' sizes and modification times, so a change shows at once.
        """
        return None


def _base_dir(workspace: Workspace) -> Path:
    return workspace.settings.project_dir or Path.cwd()


@dataclass(frozen=True)
class ParquetSource(Source):
    """Parquet file(s): one path, a folder, or a glob."""

    path: str

    def spec(self) -> dict[str, Any]:
        return {"kind": "parquet", "path": self.path}

    def resolved(self, workspace: Workspace) -> str:
        path = Path(self.path).expanduser()
        full = path if path.is_absolute() else _base_dir(workspace) / path
        if full.is_dir():
            full = full / "**" / "*.parquet"
        text = str(full)
        if not glob.glob(text, recursive=True):
            raise NotFound(
                f"Feature source {self.path!r} matches no Parquet file (looked for {text}). "
                "Write the data first or fix the path.",
                kind="source",
                name=self.path,
            )
        return text

    def relation(self, workspace: Workspace) -> str:
        return f"read_parquet({literal(self.resolved(workspace))}, union_by_name = true)"

    def files(self, workspace: Workspace) -> list[str] | None:
        return sorted(glob.glob(self.resolved(workspace), recursive=True))


@dataclass(frozen=True)
class SnapshotSource(Source):
    """A registered dataset snapshot, ``NAME/vN`` (its Parquet files are immutable)."""

    snapshot: str

    def spec(self) -> dict[str, Any]:
        return {"kind": "snapshot", "snapshot": self.snapshot}

    def lineage(self) -> list[tuple[str, str]]:
        return [("snapshot", self.snapshot)]

    def relation(self, workspace: Workspace) -> str:
        paths = _snapshot_paths(self.snapshot, workspace)
        listed = ", ".join(literal(p) for p in paths)
        return f"read_parquet([{listed}], union_by_name = true)"

    def files(self, workspace: Workspace) -> list[str] | None:
        return _snapshot_paths(self.snapshot, workspace)


def _snapshot_paths(ref: str, workspace: Workspace) -> list[str]:
    """A local Parquet path of a snapshot: its blob, or a cached copy of a remote one."""
    from shipyard import data

    snapshot = data.get(ref, workspace=workspace)
    local = workspace.artifacts.local_path(snapshot.blob_sha256)
    if local is not None:
        return [str(local)]
    # Blobs are content-addressed, so a cached copy named by its hash never goes stale.
    cached = workspace.settings.data_dir / ".snapshots" / f"{snapshot.blob_sha256}.parquet"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        workspace.artifacts.get_file(snapshot.blob_sha256, cached)
    return [str(cached)]


@dataclass(frozen=True)
class SQLSource(Source):
    """A DuckDB query; ``tables`` names its inputs (sources or Parquet paths)."""

    query: str
    tables: Mapping[str, Source | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.query, str) or "select" not in self.query.lower():
            raise InvalidInput(
                f"SQLSource query must be a SELECT statement, got {self.query!r}.",
                field="query",
            )
        object.__setattr__(self, "tables", {k: to_source(v) for k, v in self.tables.items()})

    def spec(self) -> dict[str, Any]:
        tables = {name: src.spec() for name, src in self.tables.items() if isinstance(src, Source)}
        return {"kind": "sql", "query": self.query, "tables": tables}

    def lineage(self) -> list[tuple[str, str]]:
        return [n for src in self.tables.values() if isinstance(src, Source) for n in src.lineage()]

    def relation(self, workspace: Workspace) -> str:
        ctes = [
            f"{quote(name)} AS (SELECT * FROM {src.relation(workspace)})"
            for name, src in self.tables.items()
            if isinstance(src, Source)
        ]
        with_clause = f"WITH {', '.join(ctes)} " if ctes else ""
        return f"({with_clause}{self.query})"

    def files(self, workspace: Workspace) -> list[str] | None:
        # A query that may read files of its own (a quoted path, a read_* call,
        # or no named inputs at all) is never cached.
        if not self.tables or "'" in self.query or "read_" in self.query.lower():
            return None
        found: list[str] = []
        for src in self.tables.values():
            listed = src.files(workspace) if isinstance(src, Source) else None
            if listed is None:
                return None
            found.extend(listed)
        return found


def to_source(value: Source | str | Path) -> Source:
    """A source from a Source or a Parquet path/glob."""
    if isinstance(value, Source):
        return value
    if isinstance(value, (str, Path)) and str(value):
        return ParquetSource(str(value))
    raise InvalidInput(
        f"A feature source must be a Parquet path/glob, a SnapshotSource or a SQLSource; "
        f"got {value!r}.",
        field="source",
    )


def source_from_spec(spec: Mapping[str, Any]) -> Source:
    kind = spec.get("kind")
    if kind == "parquet":
        return ParquetSource(spec["path"])
    if kind == "snapshot":
        return SnapshotSource(spec["snapshot"])
    if kind == "sql":
        tables = {name: source_from_spec(s) for name, s in spec.get("tables", {}).items()}
        return SQLSource(spec["query"], tables)
    raise InvalidInput(f"Unknown feature source kind {kind!r} in a stored spec.", field="source")
