"""Requests the prediction server rejected in a window, per column and reason.

The server counts every 4xx answer per (endpoint, column, reason) and writes
the counts to Parquet (``shipyard.serving.rejections``). ``rejected_requests``
sums them over a window with one DuckDB query; a deployment that never
rejected anything (no folder, no file) has none. The result belongs to the
data-quality part of a monitor run (``QualityReport.rejected``): a request
the server refused never reaches the prediction log, so without these counts
a client sending a renamed column would look like a drop in traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shipyard.monitoring import logs
from shipyard.serving.rejections import rejections_dir


@dataclass(frozen=True)
class RejectedCount:
    """Requests rejected on one endpoint for one column and reason (``column`` "" = the body)."""

    endpoint: str
    column: str
    reason: str
    requests: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "column": self.column,
            "reason": self.reason,
            "requests": self.requests,
        }


@dataclass(frozen=True)
class RejectedRequests:
    """The window's rejected requests, most frequent first."""

    rows: tuple[RejectedCount, ...] = ()

    def __len__(self) -> int:
        return len(self.rows)

    def count(self, column: str | None = None, reason: str | None = None) -> int:
        """Requests rejected for ``column`` and/or ``reason`` (over every endpoint)."""
        return sum(
            r.requests
            for r in self.rows
            if (column is None or r.column == column) and (reason is None or r.reason == reason)
        )

    def by_column(self) -> dict[str, int]:
        """Requests rejected per column, over every reason and endpoint."""
        totals: dict[str, int] = {}
        for row in self.rows:
            totals[row.column] = totals.get(row.column, 0) + row.requests
        return totals

    def to_dict(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rows]


def rejection_files(data_dir: Path, deployment: str) -> str | None:
    """The glob of the deployment's rejection files, or ``None`` when there is none."""
    folder = rejections_dir(data_dir) / f"deployment={deployment}"
    if not any(folder.glob("date=*/*.parquet")):
        return None
    return (folder / "date=*" / "*.parquet").as_posix()


def rejected_requests(
    data_dir: Path, deployment: str, start: datetime, end: datetime
) -> RejectedRequests:
    """The requests ``deployment`` rejected in ``[start, end)``, per endpoint, column, reason."""
    source = rejection_files(data_dir, deployment)
    if source is None:
        return RejectedRequests()
    begin, finish = logs.utc(start, "start"), logs.utc(end, "end")
    connection = logs.connect()
    try:
        rows = connection.execute(
            'SELECT endpoint, "column", reason, CAST(sum(requests) AS BIGINT) AS n FROM '
            f"read_parquet('{logs._quote(source)}', hive_partitioning = false) "
            f"WHERE timestamp >= {logs._literal(begin)} AND timestamp < {logs._literal(finish)} "
            'GROUP BY ALL ORDER BY n DESC, endpoint, "column", reason'
        ).fetchall()
    finally:
        connection.close()
    return RejectedRequests(
        tuple(RejectedCount(str(e), str(c), str(r), int(n)) for e, c, r, n in rows)
    )
