"""Rejected requests: how many 4xx answers, per endpoint, column and reason, to Parquet.

The prediction server answers bad input with a 4xx (see ``app.STATUS``).
``RejectionLog.record(endpoint, error, status)`` turns the error into one or more
(column, reason) pairs and adds one to each pair's counter for the current
second: a dictionary update under a lock, no I/O, so it costs the error path
nothing measurable. A background thread (started by the first rejection)
writes the counters every ``prediction_log_flush_seconds`` and ``close()``
writes what is left, to::

    DATA_DIR/rejections/deployment=NAME/date=YYYY-MM-DD/<ns>-<pid>-<rand>.parquet

one row per (second, endpoint, column, reason) with the columns
``timestamp`` (UTC, the second the requests were rejected in),
``deployment``, ``endpoint``, ``column``, ``reason`` and ``requests`` (how
many). Monitoring reads them for the data-quality part of a monitor run.

``column`` is the input column at fault, or ``""`` when the problem is the
whole body. ``reason`` is short and stable (``REASONS``): a request failing
on several columns counts once for each. Validation reports say what went
wrong in a sentence; ``reason_of`` maps each sentence to its code. At most
``MAX_KEYS`` distinct (endpoint, column, reason) keys are kept per second
(column names come from clients); the rest count under column ``"(other)"``.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipyard import errors

COLUMNS = ("timestamp", "deployment", "endpoint", "column", "reason", "requests")
REASONS = (
    "missing",  # a column of the signature is absent
    "extra",  # a column the model does not take
    "wrong_type",  # values of another type than the column's
    "null",  # nulls in a column that is not nullable
    "infinite",  # ±inf in a numeric column
    "unknown_category",  # a value outside the column's categories
    "empty_batch",  # no row at all
    "ragged",  # columns of different lengths
    "malformed_json",  # the body is not JSON
    "malformed_request",  # JSON, but not a request's shape
    "malformed_tensor",  # an Open Inference Protocol tensor is unreadable
    "too_large",  # the body is above max_body_bytes
    "not_found",  # an unknown model or version
    "invalid",  # any other client error
)
MAX_KEYS = 1000
MAX_COLUMN_CHARS = 200
OTHER = "(other)"
# The fields of a request's envelope: a problem there is the whole body's, not a column's.
_ENVELOPE = {
    "",
    "body",
    "records",
    "columns",
    "data",
    "inputs",
    "outputs",
    "parameters",
    "binary_data_size",
    "Inference-Header-Content-Length",
}
# validation.py's sentences, by how they start (or what they contain), to codes.
_VALIDATION_REASONS = (
    (re.compile(r"missing column"), "missing"),
    (re.compile(r"unexpected column"), "extra"),
    (re.compile(r"the batch is empty"), "empty_batch"),
    (re.compile(r"columns have different lengths"), "ragged"),
    (re.compile(r"unknown categor"), "unknown_category"),
    (re.compile(r"null value|null timestamp|NaN/null"), "null"),
    (re.compile(r"infinite value"), "infinite"),
    (re.compile(r"^expected "), "wrong_type"),
)

Key = tuple[int, str, str, str]  # (second, endpoint, column, reason)


def rejections_dir(data_dir: Path) -> Path:
    return data_dir / "rejections"


def reason_of(sentence: str) -> str:
    """The stable code of one validation problem's sentence (``"invalid"`` when unknown)."""
    for pattern, code in _VALIDATION_REASONS:
        if pattern.search(sentence):
            return code
    return "invalid"


def classify(endpoint: str, error: Exception, status: int = 400) -> list[tuple[str, str]]:
    """The (column, reason) pairs a rejected request counts under (each pair once)."""
    if status == 413:
        return [("", "too_large")]
    if isinstance(error, errors.ValidationFailed):
        return _problems(error.report)
    if isinstance(error, errors.InvalidInput):
        field = error.field
        if field == "body" and isinstance(error.__cause__, (ValueError, UnicodeDecodeError)):
            return [("", "malformed_json")]
        if field in _ENVELOPE:
            return [("", "malformed_request")]
        return [(field, "malformed_tensor" if endpoint == "infer" else "invalid")]
    if isinstance(error, errors.NotFound):
        return [("", "not_found")]
    return [("", "invalid")]


def _problems(report: Any) -> list[tuple[str, str]]:
    pairs: dict[tuple[str, str], None] = {}
    for item in report if isinstance(report, list) else []:
        if not isinstance(item, dict) or "reason" not in item:
            continue
        column = str(item.get("column", ""))
        pairs[("" if column == "*" else column, reason_of(str(item["reason"])))] = None
    return list(pairs) or [("", "invalid")]


class RejectionLog:
    """In-memory counters of rejected requests and the thread that writes them to Parquet."""

    def __init__(self, data_dir: Path, deployment: str, flush_seconds: float = 1.0) -> None:
        if flush_seconds <= 0:
            raise errors.InvalidInput(
                f"prediction_log_flush_seconds must be > 0, got {flush_seconds!r}.",
                field="prediction_log_flush_seconds",
            )
        self.root = rejections_dir(data_dir)
        self.deployment = deployment
        self.flush_seconds = flush_seconds
        self._counts: dict[Key, int] = {}
        self._keys: dict[int, set[tuple[str, str, str]]] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.requests_written = 0
        self.write_errors = 0

    def record(self, endpoint: str, error: Exception, status: int = 400) -> None:
        """Count one rejected request (called on the error path: no I/O)."""
        second = int(time.time())
        pairs = classify(endpoint, error, status)
        with self._lock:
            seen = self._keys.setdefault(second, set())
            for column, reason in pairs:
                column = column[:MAX_COLUMN_CHARS]
                if (endpoint, column, reason) not in seen and len(seen) >= MAX_KEYS:
                    column = OTHER
                seen.add((endpoint, column, reason))
                key = (second, endpoint, column, reason)
                self._counts[key] = self._counts.get(key, 0) + 1
        if self._thread is None:
            self.start()

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._loop, name="rejections", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # OSError: kept, retried next window; else counted
                self.write_errors += 1

    def flush(self) -> int:
        """Write the counters gathered so far; the sum of the counts written."""
        with self._write_lock:
            with self._lock:
                taken, self._counts, self._keys = self._counts, {}, {}
            written = 0
            days = list(_by_day(taken))
            for index, (day, keys) in enumerate(days):
                try:
                    self._write(day, keys, taken)
                except OSError:  # keep what is not written yet for the next flush
                    with self._lock:
                        for _, rest in days[index:]:
                            for key in rest:
                                self._counts[key] = self._counts.get(key, 0) + taken[key]
                    raise
                written += sum(taken[key] for key in keys)
            self.requests_written += written
            return written

    def _write(self, day: str, keys: list[Key], counts: dict[Key, int]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {
                "timestamp": [datetime.fromtimestamp(k[0], UTC) for k in keys],
                "deployment": [self.deployment] * len(keys),
                "endpoint": [k[1] for k in keys],
                "column": [k[2] for k in keys],
                "reason": [k[3] for k in keys],
                "requests": [counts[k] for k in keys],
            },
            schema=schema(),
        )
        folder = self.root / f"deployment={self.deployment}" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
        temporary = folder / f".{name}.tmp"
        pq.write_table(table, temporary)
        temporary.replace(folder / name)

    def close(self) -> None:
        """Stop the writer thread and write what is left (a clean shutdown loses nothing)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=30)
        self.flush()


def _by_day(counts: dict[Key, int]) -> Iterator[tuple[str, list[Key]]]:
    days: dict[str, list[Key]] = {}
    for key in sorted(counts):
        days.setdefault(datetime.fromtimestamp(key[0], UTC).strftime("%Y-%m-%d"), []).append(key)
    yield from days.items()


def schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("deployment", pa.string()),
            ("endpoint", pa.string()),
            ("column", pa.string()),
            ("reason", pa.string()),
            ("requests", pa.int64()),
        ]
    )
