"""Materialization: the latest value per entity, from the offline source to the online store.

``materialize(view, start, end)`` takes, for every entity key, the newest row with
``start <= event_timestamp <= end`` (ties by created timestamp) after the view's
transformation, and writes it with its event timestamp. The store keeps the
newer of what it has and what is written, so running twice, or running
overlapping windows in any order, gives the same result. Each run is a
``materialization`` node linked to the view version; its ``end`` is the
watermark ``materialize_incremental`` starts from next time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from shipyard.errors import InvalidInput
from shipyard.features.definitions import FeatureView
from shipyard.features.offline import connect, feature_relation
from shipyard.features.online.base import online_store
from shipyard.features.online.codec import Codec
from shipyard.features.registry import registry
from shipyard.features.sources import quote
from shipyard.store.engine import redact
from shipyard.store.lineage import Edge, insert_edges
from shipyard.store.schema.features import FeatureMaterialization
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

BATCH_ROWS = 50_000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class MaterializeResult:
    """What one materialization wrote."""

    view: str
    version: int
    start: datetime | None
    end: datetime
    rows: int
    stored: int
    id: int

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def utc(value: datetime | str | None, field: str) -> datetime | None:
    """A UTC datetime from a datetime or ISO 8601 text; naive means UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(
                f"{field} {value!r} is not an ISO 8601 time, e.g. 2024-05-01T00:00:00.",
                field=field,
            ) from exc
    if not isinstance(value, datetime):
        raise InvalidInput(f"{field} must be a datetime, got {value!r}.", field=field)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _nanos(value: datetime) -> int:
    return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1000


def latest_rows_query(view: FeatureView, alias: str, start: int | None, end: int) -> str:
    """SQL: one row per entity key (key text, event ns, values as a struct) inside the window.

    ``arg_max`` over (event time, created time) is a hash aggregate: no sort.
    """
    keys = ", ".join(quote(k) for k in view.entity.join_keys)
    key_text = (
        "concat_ws(chr(31), "
        + ", ".join(f"CAST({quote(k)} AS VARCHAR)" for k in view.entity.join_keys)
        + ")"
    )
    values = ", ".join(f"{quote(f)} := {quote(f)}" for f in view.columns)
    window = f"__ts <= {end}" + (f" AND __ts >= {start}" if start is not None else "")
    window += "".join(f" AND {quote(k)} IS NOT NULL" for k in view.entity.join_keys)
    return (
        f"SELECT {key_text} AS key, max(__ts) AS ts, arg_max(struct_pack({values}), "
        f"struct_pack(t := __ts, c := __created)) AS v "
        f"FROM {alias} WHERE {window} GROUP BY {keys}"
    )


def materialize(
    view: str,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    *,
    progress: Progress | None = None,
    workspace: Workspace | None = None,
) -> MaterializeResult:
    """Write the latest value per entity in ``[start, end]`` (end defaults to now)."""
    workspace = workspace or current()
    defs = registry(workspace).current()
    definition = defs.view(view)
    start_at, end_at = utc(start, "start"), utc(end, "end") or datetime.now(UTC)
    if start_at is not None and start_at > end_at:
        raise InvalidInput(f"start {start_at} is after end {end_at}.", field="start")
    store = online_store(workspace)
    con = connect(workspace)
    rows = stored = 0
    try:
        feature_relation(con, definition, list(definition.columns), "__fv", workspace, ties=False)
        query = latest_rows_query(
            definition, "__fv", _nanos(start_at) if start_at else None, _nanos(end_at)
        )
        codec = Codec(definition.columns)
        prefix = f"{view}:"
        for batch in con.sql(query).to_arrow_reader(BATCH_ROWS):
            values = batch.column("v").flatten()
            keys = [prefix + k for k in batch.column("key").to_pylist()]
            payloads = codec.encode([values[i] for i in range(len(definition.columns))])
            stamps = batch.column("ts").to_pylist()
            stored += store.write(list(zip(keys, stamps, payloads, strict=True)))
            rows += batch.num_rows
            if progress:
                progress(batch.num_rows)
    finally:
        con.close()
    version = defs.versions[view]
    record_id = _record(workspace, view, version, start_at, end_at, rows, store.url)
    return MaterializeResult(view, version, start_at, end_at, rows, stored, record_id)


def _record(
    workspace: Workspace,
    view: str,
    version: int,
    start: datetime | None,
    end: datetime,
    rows: int,
    url: str,
) -> int:
    with workspace.store.write() as session:
        row = FeatureMaterialization(
            view=view,
            version=version,
            start_ts=start,
            end_ts=end,
            rows=rows,
            online_store=redact(url),
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        node = ("materialization", str(row.id))
        insert_edges(session, [Edge(("feature_view", f"{view}/v{version}"), node, "materialized")])
        return row.id


def watermark(view: str, version: int, workspace: Workspace) -> datetime | None:
    """The end of the newest materialization of this view version."""
    with workspace.store.read() as session:
        value: datetime | None = session.scalar(
            select(func.max(FeatureMaterialization.end_ts)).where(
                FeatureMaterialization.view == view, FeatureMaterialization.version == version
            )
        )
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def materialize_incremental(
    view: str,
    end: datetime | str | None = None,
    *,
    progress: Progress | None = None,
    workspace: Workspace | None = None,
) -> MaterializeResult:
    """Materialize from the last watermark (or the look-back window, or all time) to now."""
    workspace = workspace or current()
    defs = registry(workspace).current()
    definition = defs.view(view)
    end_at = utc(end, "end") or datetime.now(UTC)
    start = watermark(view, defs.versions[view], workspace)
    if start is None and definition.lookback_seconds is not None:
        start = end_at - timedelta(seconds=definition.lookback_seconds)
    return materialize(view, start, end_at, progress=progress, workspace=workspace)
