"""DuckDB views over the Parquet logs: predictions of a window, and their ground truth.

``open_logs(workspace, deployment, start, end)`` returns a DuckDB connection
with three views, so that every monitoring query is one SQL statement over
the Parquet files (no Python loop over rows):

- ``all_predictions``: every logged prediction of the deployment (of the
  days the window overlaps, when it has bounds: the log is partitioned by
  day, so older files are never opened);
- ``window_predictions`` (and ``predictions``, which callers may narrow): those
  made in ``[start, end)`` (by prediction time);
- ``labels``: the latest ground truth per ``prediction_id`` (a re-ingested or
  corrected label replaces the earlier one: newest ``ingested_at`` wins).

The macro ``norm_label(text)`` writes a numeric label without a useless
fraction (``"1.0"`` → ``"1"``) so that a label read from a CSV compares equal
to the class a model logged.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import InvalidInput
from shipyard.serving.predlog import COLUMNS, predictions_dir, select_list

if TYPE_CHECKING:
    import duckdb

    from shipyard.workspace import Workspace

LABEL_COLUMNS = (
    "prediction_id",
    "label",
    "label_value",
    "label_time",
    "key",
    "batch_id",
    "ingested_at",
    "row",
)

_NORM = (
    "CREATE MACRO norm_label(x) AS CASE "
    "WHEN TRY_CAST(x AS DOUBLE) IS NOT NULL AND isfinite(TRY_CAST(x AS DOUBLE)) "
    "AND TRY_CAST(x AS DOUBLE) = round(TRY_CAST(x AS DOUBLE)) "
    "AND abs(TRY_CAST(x AS DOUBLE)) < 1e15 "
    "THEN CAST(CAST(TRY_CAST(x AS DOUBLE) AS BIGINT) AS VARCHAR) ELSE x END"
)


def labels_dir(data_dir: Path, deployment: str) -> Path:
    """Where the ground truth of ``deployment`` is kept (one Parquet file per batch)."""
    return data_dir / "labels" / f"deployment={deployment}"


def day_folders(
    data_dir: Path, deployment: str, start: datetime | None = None, end: datetime | None = None
) -> list[Path]:
    """The deployment's ``date=`` folders that ``[start, end)`` overlaps (all without bounds).

    The log is partitioned by the UTC date of each prediction, so a window
    never needs the files of other days; a folder whose name is not a date is
    kept (the timestamp filter decides).
    """
    folder = predictions_dir(data_dir) / f"deployment={deployment}"
    first = utc(start, "start").date() if start is not None else date.min
    last = (utc(end, "end") - timedelta(microseconds=1)).date() if end is not None else date.max
    found = []
    for day in sorted(folder.glob("date=*")):
        when = _date(day.name.removeprefix("date="))
        if when is None or first <= when <= last:
            found.append(day)
    return found


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def prediction_files(
    data_dir: Path, deployment: str, start: datetime | None = None, end: datetime | None = None
) -> list[str] | None:
    """Globs of the deployment's prediction files (one per day of the window), or ``None``."""
    days = [
        d for d in day_folders(data_dir, deployment, start, end) if any(d.glob("part-*.parquet"))
    ]
    return [(d / "part-*.parquet").as_posix() for d in days] or None


def label_files(data_dir: Path, deployment: str) -> str | None:
    folder = labels_dir(data_dir, deployment)
    if not any(folder.glob("batch-*.parquet")):
        return None
    return (folder / "batch-*.parquet").as_posix()


def utc(moment: datetime, field: str) -> datetime:
    """``moment`` as an aware UTC datetime (a naive one is taken as UTC)."""
    if not isinstance(moment, datetime):
        raise InvalidInput(f"{field} must be a datetime, got {moment!r}.", field=field)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(_NORM)
    return connection


def open_logs(
    workspace: Workspace,
    deployment: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection with the ``all_predictions``, ``predictions`` and ``labels`` views."""
    data_dir = workspace.settings.data_dir
    connection = connect()
    source = prediction_files(data_dir, deployment, start, end)
    if source is None:
        columns = ", ".join(f"CAST(NULL AS {_TYPES.get(c, 'VARCHAR')}) AS {c}" for c in COLUMNS)
        connection.execute(f"CREATE VIEW all_predictions AS SELECT {columns} WHERE FALSE")
    else:
        globs = ", ".join(f"'{_quote(glob)}'" for glob in source)
        connection.execute(
            f"CREATE VIEW all_predictions AS SELECT {select_list()} FROM "
            f"read_parquet([{globs}], hive_partitioning = false, union_by_name = true)"
        )
    # Views take no parameters: the bounds are inlined as TIMESTAMPTZ literals.
    where = ["TRUE"]
    if start is not None:
        where.append(f"timestamp >= {_literal(utc(start, 'start'))}")
    if end is not None:
        where.append(f"timestamp < {_literal(utc(end, 'end'))}")
    connection.execute(
        "CREATE VIEW window_predictions AS SELECT * FROM all_predictions "
        f"WHERE {' AND '.join(where)}"
    )
    # ``predictions`` may be narrowed later (a proxy metric per version and route).
    connection.execute("CREATE VIEW predictions AS SELECT * FROM window_predictions")
    _label_view(connection, label_files(data_dir, deployment))
    return connection


def _label_view(connection: duckdb.DuckDBPyConnection, source: str | None) -> None:
    if source is None:
        columns = ", ".join(f"CAST(NULL AS {_LABEL_TYPES[c]}) AS {c}" for c in LABEL_COLUMNS)
        connection.execute(f"CREATE VIEW labels AS SELECT {columns} WHERE FALSE")
        return
    connection.execute(
        "CREATE VIEW labels AS SELECT * FROM read_parquet("
        f"'{_quote(source)}', hive_partitioning = false, union_by_name = true) "
        "QUALIFY row_number() OVER (PARTITION BY prediction_id "
        "ORDER BY ingested_at DESC, batch_id DESC, row DESC) = 1"
    )


_TYPES = {"timestamp": "TIMESTAMPTZ", "latency_ms": "DOUBLE"}
_LABEL_TYPES = {
    "prediction_id": "VARCHAR",
    "label": "VARCHAR",
    "label_value": "DOUBLE",
    "label_time": "TIMESTAMPTZ",
    "key": "VARCHAR",
    "batch_id": "VARCHAR",
    "ingested_at": "TIMESTAMPTZ",
    "row": "BIGINT",
}


def _literal(moment: datetime) -> str:
    return f"TIMESTAMPTZ '{moment.isoformat()}'"


def _quote(text: str) -> str:
    return text.replace("'", "''")


def json_path(column: str) -> str:
    """A DuckDB JSON path for a top-level key (quoted, so any column name works)."""
    escaped = column.replace("\\", "\\\\").replace('"', '\\"')
    return _quote(f'$."{escaped}"')
