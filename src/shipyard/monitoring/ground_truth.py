"""Ground truth: labels that arrive minutes or months after the prediction.

``log_ground_truth(deployment, labels)`` (and ``shipyard labels ingest FILE``,
``POST /api/ground-truth``) takes rows of ``prediction_id`` (or a declared
business key) + ``label`` + an optional ``time``:

1. every row is checked (a missing id or label, an unreadable time) and joined
   to the deployment's prediction log with one DuckDB query: by id, or by the
   business key — an input column of the prediction — taking the latest
   non-shadow prediction made at or before the label's time;
2. a batch with any bad row stores nothing and names the rows
   (``ValidationFailed``; its ``.report`` lists row, value and reason), unless
   ``skip_bad=True``, which keeps the good rows and returns the bad ones;
3. the accepted rows are written as one Parquet file under
   ``DATA_DIR/labels/deployment=NAME/batch-<id>.parquet`` and the batch is a
   lineage node ``("deployment", NAME) -labels-> ("ground_truth", ID)``.

Ingesting the same rows again is a no-op (the batch is recognised by the
hash of its resolved rows). A later batch that labels a prediction again
replaces the earlier label (newest ingest wins, see ``logs.labels``).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import InvalidInput, ValidationFailed
from shipyard.monitoring import logs
from shipyard.monitoring.config import deployment_key
from shipyard.store.lineage import Edge, insert_edges
from shipyard.store.schema.monitoring import LabelBatch
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    from datetime import datetime

ID_COLUMN = "prediction_id"
MAX_NAMED_ROWS = 20


@dataclass(frozen=True)
class BadRow:
    """A label row that was refused: its number (0-based in the input), value and why."""

    row: int
    value: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "value": self.value, "reason": self.reason}


@dataclass(frozen=True)
class LabelBatchInfo:
    """What an ingest did: the batch, how many rows were kept, and the refused rows."""

    id: str
    deployment: str
    key: str
    rows: int
    accepted: int
    rejected: int
    path: str
    created_at: datetime
    duplicate: bool = False
    bad_rows: tuple[BadRow, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deployment": self.deployment,
            "key": self.key,
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "path": self.path,
            "created_at": self.created_at.isoformat(),
            "duplicate": self.duplicate,
            "bad_rows": [b.to_dict() for b in self.bad_rows],
        }


def log_ground_truth(
    deployment: str,
    labels: Any,
    *,
    key: str | None = None,
    label_column: str = "label",
    time_column: str = "time",
    skip_bad: bool = False,
    source: str = "python",
    created_by: str = "",
    workspace: Workspace | None = None,
) -> LabelBatchInfo:
    """Record ground truth for ``deployment``'s predictions.

    ``labels`` is a DataFrame, an Arrow table, a list of row dicts or a CSV /
    Parquet path, with ``prediction_id`` (or ``key``, or the business key
    declared in ``[monitoring.deployments.NAME]``), ``label`` and optionally
    ``time`` (when the outcome happened; default: now).
    """
    from shipyard.serving.deployments import get_deployment

    workspace = workspace or current()
    get_deployment(deployment, workspace=workspace)
    if isinstance(labels, (str, Path)):
        source = str(labels) if source == "python" else source
    frame = read_labels(labels)
    join = _join_column(frame, key or _declared_key(workspace, deployment, frame))
    for name in (label_column,):
        if name not in frame.columns:
            raise InvalidInput(
                f"The labels have no {name!r} column; columns are {list(frame.columns)}. "
                "Name the label column with label_column= (CLI: --label-column).",
                field="label_column",
            )
    rows = _normalize(frame, join, label_column, time_column)
    resolved, bad = _resolve(workspace, deployment, rows, join)
    if bad and not skip_bad:
        raise ValidationFailed(
            _bad_message(deployment, bad, len(rows)),
            report=[b.to_dict() for b in bad],
            field="labels",
        )
    if resolved.empty:
        raise ValidationFailed(
            f"No label row of the {len(rows)} given could be used for deployment '{deployment}'.",
            report=[b.to_dict() for b in bad],
            field="labels",
        )
    return _store(workspace, deployment, join, resolved, len(rows), bad, source, created_by)


def read_labels(labels: Any) -> pd.DataFrame:
    """The labels as a DataFrame, from a frame, an Arrow table, row dicts or a file."""
    import pyarrow as pa

    if isinstance(labels, pd.DataFrame):
        frame = labels.reset_index(drop=True)
    elif isinstance(labels, pa.Table):
        frame = labels.to_pandas()
    elif isinstance(labels, list) and all(isinstance(r, dict) for r in labels):
        frame = pd.DataFrame(labels)
    elif isinstance(labels, (str, Path)):
        frame = _read_file(Path(labels))
    else:
        raise InvalidInput(
            f"labels must be a DataFrame, an Arrow table, a list of row objects or a CSV/"
            f"Parquet path, got {type(labels).__name__}.",
            field="labels",
        )
    if frame.empty:
        raise InvalidInput("The labels have no rows; nothing to ingest.", field="labels")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InvalidInput(
            f"Labels file {str(path)!r} does not exist; pass a CSV or Parquet file.",
            field="file",
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            # Ids and keys stay text: "007" must not become 7.
            return pd.read_csv(path, dtype={ID_COLUMN: str}, keep_default_na=True)
    except Exception as exc:  # pandas/pyarrow raise many kinds; the message is what matters
        raise InvalidInput(
            f"Could not read {str(path)!r} ({type(exc).__name__}: {exc}); pass a valid CSV "
            "with a header row, or a Parquet file.",
            field="file",
        ) from exc
    raise InvalidInput(
        f"Labels file {str(path)!r} must end in .csv or .parquet, got {suffix or 'no suffix'!r}.",
        field="file",
    )


def _declared_key(workspace: Workspace, deployment: str, frame: pd.DataFrame) -> str:
    if ID_COLUMN in frame.columns:
        return ID_COLUMN
    return deployment_key(workspace, deployment) or ID_COLUMN


def _join_column(frame: pd.DataFrame, join: str) -> str:
    if join not in frame.columns:
        hint = (
            "Add a prediction_id column (the id /predict returned), or name a business key "
            "with key= (CLI: --key) or [monitoring.deployments.NAME] key in shipyard.toml."
        )
        raise InvalidInput(
            f"The labels have no {join!r} column; columns are {list(frame.columns)}. {hint}",
            field="key",
        )
    return join


def _normalize(frame: pd.DataFrame, join: str, label_column: str, time_column: str) -> pd.DataFrame:
    """Join value and label as text, label as a number where it is one, time as UTC."""
    label = frame[label_column]
    if pd.api.types.is_bool_dtype(label):
        text = label.map({True: "true", False: "false"})
        value = label.astype("float64")
    else:
        text = label.astype("string").str.strip()
        value = pd.to_numeric(label, errors="coerce").astype("float64")
    join_text = frame[join].astype("string").str.strip()
    now = pd.Timestamp(utcnow())
    if time_column in frame.columns:
        times = pd.to_datetime(frame[time_column], errors="coerce", utc=True, format="mixed")
        bad_time = times.isna() & frame[time_column].notna()
        times = times.fillna(now)
    else:
        times = pd.Series(now, index=frame.index)
        bad_time = pd.Series(False, index=frame.index)
    return pd.DataFrame(
        {
            "row": np.arange(len(frame), dtype=np.int64),
            "join_value": join_text,
            "label": text,
            "label_value": value,
            "label_time": times,
            "bad_time": bad_time,
            "raw_time": (
                frame[time_column].astype("string").fillna("")
                if time_column in frame
                else pd.Series("", index=frame.index, dtype="string")
            ),
        }
    )


def _resolve(
    workspace: Workspace, deployment: str, rows: pd.DataFrame, join: str
) -> tuple[pd.DataFrame, list[BadRow]]:
    """Match rows to predictions in one DuckDB query; the matched rows and the refused ones."""
    bad: list[BadRow] = []
    checks = (
        (rows["join_value"].isna() | (rows["join_value"] == ""), "join_value", f"no {join}"),
        (rows["label"].isna() | (rows["label"] == ""), "join_value", "no label"),
        (rows["bad_time"], "raw_time", "time is not a date/time (use ISO 8601)"),
    )
    refused = pd.Series(False, index=rows.index)
    for mask, column, reason in checks:
        mask = mask.fillna(True).astype(bool) & ~refused
        for row, value in zip(rows.loc[mask, "row"], rows.loc[mask, column], strict=True):
            bad.append(BadRow(int(row), "" if pd.isna(value) else str(value), reason))
        refused |= mask
    candidates = rows.loc[
        ~refused, ["row", "join_value", "label", "label_value", "label_time", "raw_time"]
    ]
    matched = _match(workspace, deployment, candidates, join)
    missing = candidates[~candidates["row"].isin(matched["row"])]
    where = (
        "with this prediction_id"
        if join == ID_COLUMN
        else f"with input {join} = {{value!r}} at or before the label's time"
    )
    for row, value in zip(missing["row"], missing["join_value"], strict=True):
        reason = f"no logged prediction of '{deployment}' " + where.format(value=value)
        bad.append(BadRow(int(row), str(value), reason))
    bad.sort(key=lambda b: b.row)
    return matched, bad


def _match(
    workspace: Workspace, deployment: str, candidates: pd.DataFrame, join: str
) -> pd.DataFrame:
    connection = logs.open_logs(workspace, deployment)
    try:
        connection.register("incoming", candidates)
        if join == ID_COLUMN:
            sql = (
                "SELECT i.row, i.join_value AS prediction_id, NULL::VARCHAR AS key, i.label, "
                "i.label_value, i.label_time, i.raw_time FROM incoming i WHERE i.join_value IN "
                "(SELECT prediction_id FROM all_predictions)"
            )
        else:
            # The latest non-shadow prediction for that key made at or before the label's time.
            sql = (
                "SELECT i.row, p.prediction_id, i.join_value AS key, i.label, i.label_value, "
                "i.label_time, i.raw_time FROM incoming i JOIN all_predictions p ON "
                f"json_extract_string(p.inputs, '{logs.json_path(join)}') = i.join_value "
                "AND p.timestamp <= i.label_time AND p.route <> 'shadow' "
                "QUALIFY row_number() OVER (PARTITION BY i.row ORDER BY p.timestamp DESC, "
                "p.prediction_id) = 1"
            )
        frame: pd.DataFrame = connection.sql(sql).to_arrow_table().to_pandas()
    finally:
        connection.close()
    return frame.sort_values("row").reset_index(drop=True)


def _bad_message(deployment: str, bad: list[BadRow], total: int) -> str:
    named = "; ".join(f"row {b.row} ({b.value!r}): {b.reason}" for b in bad[:MAX_NAMED_ROWS])
    more = f"; and {len(bad) - MAX_NAMED_ROWS} more" if len(bad) > MAX_NAMED_ROWS else ""
    return (
        f"{len(bad)} of {total} label rows for deployment '{deployment}' cannot be used, so "
        f"nothing was stored: {named}{more}. Fix those rows, or keep the good ones with "
        "skip_bad=True (CLI: --skip-bad)."
    )


def _content_hash(resolved: pd.DataFrame) -> str:
    ordered = resolved.sort_values(["prediction_id", "row"])
    digest = hashlib.sha256()
    # The time as given (not the default "now"), so that re-ingesting a file is a no-op.
    for column in ("prediction_id", "label", "raw_time"):
        digest.update(column.encode())
        digest.update(ordered[column].astype("string").fillna("\0").str.cat(sep="\x1f").encode())
    return digest.hexdigest()


def _store(
    workspace: Workspace,
    deployment: str,
    join: str,
    resolved: pd.DataFrame,
    total: int,
    bad: list[BadRow],
    source: str,
    created_by: str,
) -> LabelBatchInfo:
    content_hash = _content_hash(resolved)
    existing = _existing(workspace, deployment, content_hash)
    if existing is not None:
        return _info(existing, duplicate=True, bad=bad)
    batch_id = uuid.uuid4().hex
    now = utcnow()
    folder = logs.labels_dir(workspace.settings.data_dir, deployment)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"batch-{now.strftime('%Y%m%dT%H%M%S')}-{batch_id}.parquet"
    temporary = folder / f".{final.name}.{os.getpid()}.tmp"
    _write(resolved, batch_id, now, temporary)
    row = LabelBatch(
        id=batch_id,
        deployment=deployment,
        source=source,
        content_hash=content_hash,
        key_column=join,
        rows=total,
        accepted=len(resolved),
        rejected=len(bad),
        path=final.as_posix(),
        created_by=created_by,
        created_at=now,
    )
    try:
        with workspace.store.write() as session:
            session.add(row)
            session.flush()
            insert_edges(
                session, [Edge(("deployment", deployment), ("ground_truth", batch_id), "labels")]
            )
            temporary.replace(final)  # visible to readers only once the batch is recorded
    except SAIntegrityError:  # the same rows were ingested concurrently: theirs stands
        temporary.unlink(missing_ok=True)
        again = _existing(workspace, deployment, content_hash)
        if again is None:
            raise
        return _info(again, duplicate=True, bad=bad)
    finally:
        temporary.unlink(missing_ok=True)
    return _info(row, duplicate=False, bad=bad)


def _write(resolved: pd.DataFrame, batch_id: str, now: datetime, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    count = len(resolved)
    table = pa.table(
        {
            "prediction_id": pa.array(resolved["prediction_id"].astype(str), pa.string()),
            "label": pa.array(resolved["label"].astype(str), pa.string()),
            "label_value": pa.array(resolved["label_value"], pa.float64(), from_pandas=True),
            "label_time": pa.array(
                pd.to_datetime(resolved["label_time"], utc=True), pa.timestamp("us", tz="UTC")
            ),
            "key": pa.array(resolved["key"], pa.string(), from_pandas=True),
            "batch_id": pa.array([batch_id] * count, pa.string()),
            "ingested_at": pa.array([now] * count, pa.timestamp("us", tz="UTC")),
            "row": pa.array(resolved["row"], pa.int64()),
        }
    )
    pq.write_table(table, path)


def _existing(workspace: Workspace, deployment: str, content_hash: str) -> LabelBatch | None:
    with workspace.store.read() as session:
        return session.scalar(
            select(LabelBatch).where(
                LabelBatch.deployment == deployment, LabelBatch.content_hash == content_hash
            )
        )


def _info(row: LabelBatch, *, duplicate: bool, bad: list[BadRow]) -> LabelBatchInfo:
    return LabelBatchInfo(
        id=row.id,
        deployment=row.deployment,
        key=row.key_column,
        rows=row.rows,
        accepted=row.accepted,
        rejected=row.rejected,
        path=row.path,
        created_at=row.created_at,
        duplicate=duplicate,
        bad_rows=tuple(bad),
    )


def list_batches(
    deployment: str | None = None, *, workspace: Workspace | None = None
) -> list[LabelBatchInfo]:
    """Label batches, newest first (of one deployment, or all)."""
    workspace = workspace or current()
    query = select(LabelBatch).order_by(LabelBatch.created_at.desc())
    if deployment is not None:
        query = query.where(LabelBatch.deployment == deployment)
    with workspace.store.read() as session:
        return [_info(row, duplicate=False, bad=[]) for row in session.scalars(query)]
