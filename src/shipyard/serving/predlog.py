"""The prediction log: every prediction, off the response path, to Parquet.

The request path only appends one ``LoggedRequest`` (ids, validated input
columns, outputs…) to an in-memory deque: O(1), no I/O, no per-row work. A
background thread wakes every ``prediction_log_flush_seconds`` (default 1 s),
expands the requests into one row per prediction and writes them to::

    DATA_DIR/predictions/deployment=NAME/date=YYYY-MM-DD/part-<ns>-<pid>-<rand>.parquet

Files are written under a temporary name and renamed, so readers never see a
half-written file. ``close()`` (a clean shutdown) flushes everything; a crash
loses at most one flush window. ``query`` reads the files with DuckDB.

Row columns: ``prediction_id`` (the key ground truth joins on), ``timestamp``
(UTC), ``deployment``, ``model``, ``model_version``, ``route``
(production / canary / shadow), ``input_hash`` (SHA-256 of the row's canonical
JSON, first 32 hex digits), ``inputs``, ``features`` and ``outputs`` (JSON
text), ``latency_ms``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.workspace import Workspace

Columns = Mapping[str, npt.NDArray[Any]]
COLUMNS = (
    "prediction_id",
    "timestamp",
    "deployment",
    "model",
    "model_version",
    "route",
    "input_hash",
    "inputs",
    "features",
    "outputs",
    "latency_ms",
)


@dataclass
class LoggedRequest:
    """One request's predictions, as the hot path hands them over."""

    deployment: str
    model: str
    model_version: str
    route: str
    ids: list[str]
    inputs: Columns
    outputs: Columns
    latency_ms: float
    timestamp: float = field(default_factory=time.time)
    features: Columns | None = None


def new_ids(count: int) -> list[str]:
    """``count`` random 32-hex-digit prediction ids (one urandom call for all)."""
    raw = os.urandom(16 * count).hex()
    return [raw[i : i + 32] for i in range(0, 32 * count, 32)]


def predictions_dir(data_dir: Path) -> Path:
    return data_dir / "predictions"


class PredictionLog:
    """An in-memory queue of predictions and the thread that writes it to Parquet."""

    def __init__(self, data_dir: Path, flush_seconds: float = 1.0) -> None:
        if flush_seconds <= 0:
            raise InvalidInput(
                f"prediction_log_flush_seconds must be > 0, got {flush_seconds!r}.",
                field="prediction_log_flush_seconds",
            )
        self.root = predictions_dir(data_dir)
        self.flush_seconds = flush_seconds
        self._pending: deque[LoggedRequest] = deque()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rows_written = 0
        self.write_errors = 0

    def record(self, request: LoggedRequest) -> None:
        """Queue a request's predictions (called on the response path: no I/O)."""
        self._pending.append(request)
        if self._thread is None:
            self.start()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="prediction-log", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # OSError: kept queued, retried next window; else counted
                self.write_errors += 1

    def flush(self) -> int:
        """Write everything queued so far; the number of rows written."""
        with self._write_lock:
            taken: list[LoggedRequest] = []
            while self._pending:
                taken.append(self._pending.popleft())
            if not taken:
                return 0
            try:
                written = self._write(taken)
            except OSError:
                self._pending.extendleft(reversed(taken))
                raise
            self.rows_written += written
            return written

    def _write(self, requests: list[LoggedRequest]) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        partitions: dict[tuple[str, str], list[dict[str, list[Any]]]] = {}
        for request in requests:
            day = datetime.fromtimestamp(request.timestamp, UTC).strftime("%Y-%m-%d")
            partitions.setdefault((request.deployment, day), []).append(_rows(request))
        total = 0
        for (deployment, day), parts in partitions.items():
            merged = {name: [v for part in parts for v in part[name]] for name in COLUMNS}
            merged["timestamp"] = [datetime.fromtimestamp(t, UTC) for t in merged["timestamp"]]
            table = pa.table(merged, schema=_schema())
            folder = self.root / f"deployment={deployment}" / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"part-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
            temporary = folder / f".{name}.tmp"
            pq.write_table(table, temporary)
            temporary.replace(folder / name)
            total += table.num_rows
        return total

    def close(self) -> None:
        """Stop the writer thread and flush what is left (a clean shutdown loses nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("prediction_id", pa.string()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("deployment", pa.string()),
            ("model", pa.string()),
            ("model_version", pa.string()),
            ("route", pa.string()),
            ("input_hash", pa.string()),
            ("inputs", pa.string()),
            ("features", pa.string()),
            ("outputs", pa.string()),
            ("latency_ms", pa.float64()),
        ]
    )


def _rows(request: LoggedRequest) -> dict[str, list[Any]]:
    count = len(request.ids)
    inputs = _row_json(request.inputs, count)
    features = _row_json(request.features, count) if request.features else [None] * count
    return {
        "prediction_id": request.ids,
        "timestamp": [request.timestamp] * count,
        "deployment": [request.deployment] * count,
        "model": [request.model] * count,
        "model_version": [request.model_version] * count,
        "route": [request.route] * count,
        "input_hash": [hashlib.sha256(text.encode()).hexdigest()[:32] for text in inputs],
        "inputs": inputs,
        "features": features,
        "outputs": _row_json(request.outputs, count),
        "latency_ms": [request.latency_ms] * count,
    }


def _row_json(columns: Columns | None, count: int) -> list[str]:
    """Each row as canonical JSON (sorted keys, NaN as null): stable for hashing."""
    if not columns:
        return ["{}"] * count
    matrix = getattr(columns, "matrix", None)
    if matrix is not None and matrix.dtype.kind == "f" and np.isfinite(matrix).all():
        return _matrix_json(list(columns), matrix)
    names = sorted(columns)
    values = [_plain(columns[name]) for name in names]
    return [
        json.dumps(dict(zip(names, row, strict=True)), separators=(",", ":"), default=str)
        for row in zip(*values, strict=True)
    ]


def _matrix_json(names: list[str], matrix: npt.NDArray[Any]) -> list[str]:
    """Rows of an all-finite float matrix as the same canonical JSON, without json.dumps.

    ``repr`` of a finite float is its shortest JSON form, so a ``%``-template over
    the sorted keys gives byte-identical text (hence identical input hashes) ~5x faster.
    """
    template, order = _template(tuple(names))
    return [template % tuple(row) for row in matrix[:, list(order)].tolist()]


@functools.lru_cache(maxsize=256)
def _template(names: tuple[str, ...]) -> tuple[str, tuple[int, ...]]:
    # A pure function of the column names: cached, as every request of a model repeats them.
    order = tuple(sorted(range(len(names)), key=names.__getitem__))
    keys = (json.dumps(names[j]).replace("%", "%%") for j in order)
    return "{" + ",".join(f"{key}:%r" for key in keys) + "}", order


def _plain(values: Any) -> list[Any]:
    array = np.asarray(values)
    if array.dtype.kind == "f" and np.isnan(array).any():
        as_object = array.astype(object)
        as_object[np.isnan(array)] = None
        return as_object.tolist()  # type: ignore[no-any-return]
    if array.dtype.kind == "M":
        return [str(v) for v in array.astype("datetime64[us]").tolist()]
    return array.tolist()  # type: ignore[no-any-return]


def query(
    deployment: str,
    start: datetime | None = None,
    end: datetime | None = None,
    sql: str | None = None,
    *,
    limit: int | None = None,
    workspace: Workspace | None = None,
) -> pd.DataFrame:
    """Logged predictions of a deployment in ``[start, end)``, newest first, as a DataFrame.

    ``sql`` runs against a view named ``predictions`` already restricted to the
    deployment and window, e.g. ``"SELECT route, count(*) FROM predictions GROUP BY 1"``.
    """
    import duckdb
    import pandas as pd

    from shipyard.workspace import current

    workspace = workspace or current()
    folder = predictions_dir(workspace.settings.data_dir) / f"deployment={deployment}"
    if not any(folder.glob("date=*/part-*.parquet")):
        return pd.DataFrame(columns=list(COLUMNS))
    where = ["TRUE"]
    if start is not None:
        where.append(f"timestamp >= TIMESTAMPTZ '{_utc(start, 'start')}'")
    if end is not None:
        where.append(f"timestamp < TIMESTAMPTZ '{_utc(end, 'end')}'")
    source = (folder / "date=*" / "part-*.parquet").as_posix()
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(
            "CREATE TEMP VIEW predictions AS SELECT * FROM "
            f"read_parquet('{_quote(source)}', hive_partitioning = false) "
            f"WHERE {' AND '.join(where)}"
        )
        text = sql or "SELECT * FROM predictions ORDER BY timestamp DESC, prediction_id"
        if limit is not None and sql is None:
            text += f" LIMIT {int(limit)}"
        try:
            frame: pd.DataFrame = connection.sql(text).to_arrow_table().to_pandas()
        except duckdb.Error as exc:
            raise InvalidInput(
                f"The SQL failed: {exc}. Query the view 'predictions' with columns "
                f"{', '.join(COLUMNS)}.",
                field="sql",
            ) from exc
        return frame
    finally:
        connection.close()


def _utc(moment: datetime, name: str) -> str:
    if not isinstance(moment, datetime):
        raise InvalidInput(f"{name} must be a datetime, got {moment!r}.", field=name)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive times are taken as UTC
    return moment.astimezone(UTC).isoformat()


def _quote(text: str) -> str:
    return text.replace("'", "''")
