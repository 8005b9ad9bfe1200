"""Dataset snapshots: named, numbered, immutable, content-hashed table versions.

``add(df, name="customers")`` streams the data once into a canonical Parquet
blob written straight into the artifact store (hashing it on the way) while
another thread profiles it column by column (see ``ingest``), stores the
profile and records version N+1 — unless the dataset already has a version with the
same content hash, which is returned instead. References read ``NAME``
(latest), ``NAME/v3`` or ``NAME/3``. A snapshot's lineage node is
``("snapshot", "NAME/vN")``; ``log_dataset`` adds the edge to the run.
"""

from __future__ import annotations

import getpass
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.artifacts import Blob
from shipyard.data.ingest import Ingested, ingest, profile_file
from shipyard.data.profiles import (
    DEFAULT_BINS,
    DEFAULT_TOP,
    Profile,
    check_profile_options,
    profile_columns,
)
from shipyard.data.schemas import DEFAULT_MAX_CATEGORIES, Column, Schema, schema_from_profile
from shipyard.data.sources import open_source
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.store.lineage import Edge, add_edges, insert_edges
from shipyard.store.schema.data import DatasetSnapshot
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

NODE_KIND = "snapshot"
INPUT_RELATION = "input"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_REF = re.compile(r"^(?P<name>[^/]+)(?:/v?(?P<version>\d+))?$")
_INSERT_TRIES = 5


class RunLike(Protocol):
    """What ``log_dataset`` needs of a run (``shipyard.tracking.Run`` fits)."""

    workspace: Workspace
    id: str


@dataclass(frozen=True)
class Snapshot:
    """One stored version of a dataset."""

    name: str
    version: int
    content_hash: str
    blob_sha256: str
    profile_sha256: str
    columns: tuple[Column, ...]
    row_count: int
    byte_size: int
    source: str
    run_id: str | None
    user: str
    created_at: datetime
    workspace: Workspace = field(compare=False, repr=False)

    @property
    def ref(self) -> str:
        """``NAME/vN``: the reference, and the id of the snapshot's lineage node."""
        return f"{self.name}/v{self.version}"

    @property
    def node(self) -> tuple[str, str]:
        return (NODE_KIND, self.ref)

    @property
    def schema(self) -> Schema:
        """The inferred schema (types, nullability, min/max, categories)."""
        return Schema(self.columns)

    @cached_property
    def profile(self) -> Profile:
        """The reference profile, read from the artifact store (hash-verified)."""
        return Profile.from_json(self.workspace.artifacts.get_bytes(self.profile_sha256))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "content_hash": self.content_hash,
            "blob_sha256": self.blob_sha256,
            "profile_sha256": self.profile_sha256,
            "columns": [c.to_dict() for c in self.columns],
            "row_count": self.row_count,
            "byte_size": self.byte_size,
            "source": self.source,
            "run_id": self.run_id,
            "user": self.user,
            "created_at": self.created_at.isoformat(),
        }


def check_name(name: object) -> str:
    """A dataset name: letters, digits, ``_ . -``, at most 128 characters, no ``/``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"Dataset name {name!r} is not valid: use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (e.g. 'customers').",
            field="name",
        )
    return name


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``NAME`` -> (NAME, None); ``NAME/v3`` or ``NAME/3`` -> (NAME, 3)."""
    match = _REF.match(ref.strip()) if isinstance(ref, str) else None
    if not match:
        raise InvalidInput(
            f"Dataset reference {ref!r} is not valid; write NAME, NAME/v3 or NAME/3.",
            field="ref",
        )
    version = match.group("version")
    return check_name(match.group("name")), int(version) if version else None


def add(
    data: Any,
    name: str,
    *,
    workspace: Workspace | None = None,
    bins: int = DEFAULT_BINS,
    top: int = DEFAULT_TOP,
    run_id: str | None = None,
) -> Snapshot:
    """Snapshot a DataFrame, Arrow table, or Parquet/CSV file as the next version of ``name``.

    Identical content (same content hash) returns the existing version instead.
    """
    workspace = workspace or current()
    name = check_name(name)
    # Identical content always makes identical bytes (see ``ingest``), so adding it
    # again stores nothing new: the writer finds the blob already there.
    with workspace.artifacts.writer() as sink:
        ingested = ingest(data, sink, bins=bins, top=top)
    assert sink.blob is not None
    found = _by_hash(workspace, name, ingested.content_hash)
    if found is None:
        profile = ingested.profile or _profile_blob(workspace, sink.blob.sha256, bins, top)
        found = _store(workspace, name, ingested, sink.blob, profile, run_id)
    if run_id is not None:
        add_edges(workspace.store, [Edge(found.node, ("run", run_id), INPUT_RELATION)])
    return found


def log_dataset(run: RunLike, data: Any, name: str) -> Snapshot:
    """``run.log_dataset``: snapshot ``data`` and record it as an input of ``run``."""
    return add(data, name, workspace=run.workspace, run_id=run.id)


def _profile_blob(workspace: Workspace, sha256: str, bins: int, top: int) -> Profile:
    """The profile of a stored snapshot blob (for large sources read only row-wise: CSV)."""
    local = workspace.artifacts.local_path(sha256)
    if local is not None:
        return profile_file(local, bins=bins, top=top)
    with tempfile.TemporaryDirectory(prefix="shipyard-profile-") as folder:
        copy = workspace.artifacts.get_file(sha256, Path(folder) / "snapshot.parquet")
        return profile_file(copy, bins=bins, top=top)


def _store(
    workspace: Workspace,
    name: str,
    ingested: Ingested,
    blob: Blob,
    profile: Profile,
    run_id: str | None,
) -> Snapshot:
    profile_blob = workspace.artifacts.put_bytes(profile.to_json().encode("utf-8"))
    schema = schema_from_profile(profile, DEFAULT_MAX_CATEGORIES)
    values = {
        "name": name,
        "content_hash": ingested.content_hash,
        "blob_sha256": blob.sha256,
        "profile_sha256": profile_blob.sha256,
        "columns": [c.to_dict() for c in schema.columns],
        "row_count": ingested.rows,
        "byte_size": blob.size,
        "source": ingested.source,
        "run_id": run_id,
        "user": _user(),
    }
    for _ in range(_INSERT_TRIES):
        try:
            with workspace.store.write() as session:
                return _insert(session, workspace, values)
        except sa_exc.IntegrityError:
            continue  # another writer took this version number or stored this content
    raise Conflict(
        f"Could not record a new version of dataset '{name}' after {_INSERT_TRIES} tries; "
        "other writers keep adding versions. Try again.",
        kind="dataset",
        name=name,
    )


def _insert(session: Session, workspace: Workspace, values: dict[str, Any]) -> Snapshot:
    query = select(DatasetSnapshot).where(
        DatasetSnapshot.name == values["name"],
        DatasetSnapshot.content_hash == values["content_hash"],
    )
    existing = session.scalar(query)
    if existing is not None:
        return _snapshot(existing, workspace)
    latest = session.scalar(
        select(func.max(DatasetSnapshot.version)).where(DatasetSnapshot.name == values["name"])
    )
    row = DatasetSnapshot(version=(latest or 0) + 1, created_at=utcnow(), **values)
    session.add(row)
    session.flush()
    snapshot = _snapshot(row, workspace)
    if values["run_id"] is not None:
        insert_edges(session, [Edge(snapshot.node, ("run", values["run_id"]), INPUT_RELATION)])
    return snapshot


def _by_hash(workspace: Workspace, name: str, content_hash: str) -> Snapshot | None:
    query = select(DatasetSnapshot).where(
        DatasetSnapshot.name == name, DatasetSnapshot.content_hash == content_hash
    )
    with workspace.store.read() as session:
        row = session.scalar(query)
        return _snapshot(row, workspace) if row is not None else None


def _snapshot(row: DatasetSnapshot, workspace: Workspace) -> Snapshot:
    return Snapshot(
        name=row.name,
        version=row.version,
        content_hash=row.content_hash,
        blob_sha256=row.blob_sha256,
        profile_sha256=row.profile_sha256,
        columns=tuple(Column(**c) for c in row.columns),
        row_count=row.row_count,
        byte_size=row.byte_size,
        source=row.source,
        run_id=row.run_id,
        user=row.user,
        created_at=row.created_at,
        workspace=workspace,
    )


def get(ref: str, *, workspace: Workspace | None = None) -> Snapshot:
    """The snapshot ``ref`` names: ``NAME`` (latest), ``NAME/v3`` or ``NAME/3``."""
    workspace = workspace or current()
    name, version = parse_ref(ref)
    with workspace.store.read() as session:
        query = select(DatasetSnapshot).where(DatasetSnapshot.name == name)
        if version is None:
            query = query.order_by(DatasetSnapshot.version.desc()).limit(1)
        else:
            query = query.where(DatasetSnapshot.version == version)
        row = session.scalar(query)
        if row is not None:
            return _snapshot(row, workspace)
        latest = session.scalar(
            select(func.max(DatasetSnapshot.version)).where(DatasetSnapshot.name == name)
        )
    if latest is None:
        raise NotFound(
            f"No dataset named '{name}'. See `shipyard datasets list` for dataset names.",
            kind="dataset",
            name=name,
        )
    raise NotFound(
        f"Dataset '{name}' has no version {version} (latest is v{latest}). "
        f"See `shipyard datasets list {name}`.",
        kind="snapshot",
        name=f"{name}/v{version}",
    )


def list_snapshots(
    name: str | None = None, *, workspace: Workspace | None = None
) -> list[Snapshot]:
    """Every version of dataset ``name`` (oldest first); without a name, each dataset's latest."""
    workspace = workspace or current()
    query = select(DatasetSnapshot)
    if name is not None:
        query = query.where(DatasetSnapshot.name == check_name(name))
        query = query.order_by(DatasetSnapshot.version)
    else:
        latest = (
            select(DatasetSnapshot.name, func.max(DatasetSnapshot.version).label("version"))
            .group_by(DatasetSnapshot.name)
            .subquery()
        )
        query = query.join(
            latest,
            (latest.c.name == DatasetSnapshot.name) & (latest.c.version == DatasetSnapshot.version),
        ).order_by(DatasetSnapshot.name)
    with workspace.store.read() as session:
        rows = list(session.scalars(query))
    if name is not None and not rows:
        get(name, workspace=workspace)  # raises the NotFound that names the next step
    return [_snapshot(row, workspace) for row in rows]


def load_arrow(
    ref: str | Snapshot,
    *,
    columns: list[str] | None = None,
    verify: bool = True,
    workspace: Workspace | None = None,
) -> pa.Table:
    """The snapshot's data as an Arrow table; the blob's SHA-256 is checked first."""
    snapshot = ref if isinstance(ref, Snapshot) else get(ref, workspace=workspace)
    artifacts = snapshot.workspace.artifacts
    local = artifacts.local_path(snapshot.blob_sha256)
    if local is not None:
        if verify:
            artifacts.verify(snapshot.blob_sha256)
        return _read(local, columns, snapshot)
    with tempfile.TemporaryDirectory(prefix="shipyard-load-") as folder:
        copy = artifacts.get_file(snapshot.blob_sha256, Path(folder) / "snapshot.parquet")
        return _read(copy, columns, snapshot)


def _read(path: Path, columns: list[str] | None, snapshot: Snapshot) -> pa.Table:
    known = [c.name for c in snapshot.columns]
    missing = [c for c in columns or [] if c not in known]
    if missing:
        raise InvalidInput(
            f"Snapshot {snapshot.ref} has no column(s) {missing}; columns: {', '.join(known)}.",
            field="columns",
        )
    table: pa.Table = pq.read_table(path, columns=columns)
    return table


def load(
    ref: str | Snapshot,
    *,
    columns: list[str] | None = None,
    verify: bool = True,
    workspace: Workspace | None = None,
) -> Any:
    """The snapshot's data as a pandas DataFrame (see ``load_arrow``)."""
    table = load_arrow(ref, columns=columns, verify=verify, workspace=workspace)
    return table.to_pandas()


def profile(data: Any, *, bins: int = DEFAULT_BINS, top: int = DEFAULT_TOP) -> Profile:
    """The profile of any frame or file, without storing anything (e.g. production data)."""
    check_profile_options(bins, top)
    source = open_source(data)
    if source.columns is not None:  # column by column, without writing anything
        return profile_columns(source.columns(), source.rows or 0, bins=bins, top=top)
    with tempfile.TemporaryDirectory(prefix="shipyard-profile-") as folder:
        path = Path(folder) / "snapshot.parquet"
        ingested = ingest(source, path, bins=bins, top=top)
        return ingested.profile or profile_file(path, bins=bins, top=top)


def infer_schema(data: Any, *, max_categories: int = DEFAULT_MAX_CATEGORIES) -> Schema:
    """A schema inferred from ``data``: types, nullability, min/max, low-cardinality categories."""
    return schema_from_profile(profile(data, top=max_categories), max_categories)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
