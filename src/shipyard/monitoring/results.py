"""Typed drift results: one ``ColumnDrift`` per column inside a ``DriftReport``.

A statistic that does not apply to a column's kind (chi-square on a numeric
column, KS on a categorical one) is ``None``. ``DriftReport.to_frame()`` gives
one row per column; ``to_dict()`` is JSON-ready (what ``--format json`` and
the HTML report are built from).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from shipyard.errors import NotFound
from shipyard.monitoring.thresholds import Thresholds

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["numeric", "categorical"]
# ok < warning < drift < alert; "no_data" when a side has no non-null value.
Status = Literal["ok", "warning", "drift", "alert", "no_data"]

# The statistics every row of ``to_frame()`` carries, in this order.
STATISTIC_FIELDS = (
    "ks_statistic",
    "ks_p_value",
    "psi",
    "wasserstein",
    "jensen_shannon",
    "chi2_statistic",
    "chi2_p_value",
    "new_category_share",
)


@dataclass(frozen=True)
class Histogram:
    """What the report draws: the bins PSI used, with each side's share of rows."""

    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]
    # Interior bin edges of a numeric column; empty for a categorical one.
    edges: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "reference": list(self.reference),
            "current": list(self.current),
            "edges": list(self.edges),
        }


@dataclass(frozen=True)
class ColumnDrift:
    """The drift statistics of one column, its thresholds and its verdict."""

    column: str
    kind: Kind
    status: Status
    drift: bool
    thresholds: Thresholds
    # Non-null rows on each side, and the null rows left out of the statistics.
    n_reference: int = 0
    n_current: int = 0
    null_reference: int = 0
    null_current: int = 0
    ks_statistic: float | None = None
    ks_p_value: float | None = None
    psi: float | None = None
    # Wasserstein-1 distance divided by the reference's standard deviation.
    wasserstein: float | None = None
    jensen_shannon: float | None = None
    chi2_statistic: float | None = None
    chi2_p_value: float | None = None
    new_categories: tuple[str, ...] = ()
    vanished_categories: tuple[str, ...] = ()
    new_category_share: float | None = None
    # Which effect sizes crossed their threshold (e.g. ("ks", "psi")).
    flags: tuple[str, ...] = ()
    histogram: Histogram | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "status": self.status,
            "drift": self.drift,
            "flags": list(self.flags),
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "null_reference": self.null_reference,
            "null_current": self.null_current,
            **{name: _finite(getattr(self, name)) for name in STATISTIC_FIELDS},
            "new_categories": list(self.new_categories),
            "vanished_categories": list(self.vanished_categories),
            "thresholds": self.thresholds.to_dict(),
            "histogram": self.histogram.to_dict() if self.histogram else None,
            "note": self.note,
        }


@dataclass(frozen=True)
class DriftReport:
    """Per-column drift between a reference and a current frame."""

    columns: tuple[ColumnDrift, ...]
    n_reference: int
    n_current: int
    # Columns only one side has: listed, never compared.
    missing_in_current: tuple[str, ...] = ()
    missing_in_reference: tuple[str, ...] = ()
    # Columns of a type drift does not compare (timestamps, binary, nested).
    unsupported: tuple[str, ...] = ()
    reference_source: str = "frame"
    extra: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[ColumnDrift]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __getitem__(self, column: str) -> ColumnDrift:
        for result in self.columns:
            if result.column == column:
                return result
        raise NotFound(
            f"No drift result for column {column!r}; compared columns are "
            f"{[r.column for r in self.columns]}.",
            kind="column",
            name=column,
        )

    @property
    def drifted(self) -> list[str]:
        """The names of the columns whose ``drift`` flag is set."""
        return [result.column for result in self.columns if result.drift]

    @property
    def share_drifted(self) -> float:
        return len(self.drifted) / len(self.columns) if self.columns else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "reference_source": self.reference_source,
            "drifted": self.drifted,
            "share_drifted": self.share_drifted,
            "missing_in_current": list(self.missing_in_current),
            "missing_in_reference": list(self.missing_in_reference),
            "unsupported": list(self.unsupported),
            "columns": [result.to_dict() for result in self.columns],
            **self.extra,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per column: kind, status, drift, flags, counts and every statistic."""
        import pandas as pd

        rows = []
        for result in self.columns:
            row = result.to_dict()
            row["flags"] = ",".join(result.flags)
            row["new_categories"] = ",".join(result.new_categories)
            row["vanished_categories"] = ",".join(result.vanished_categories)
            for name, value in result.thresholds.to_dict().items():
                row[f"threshold_{name}"] = value
            del row["thresholds"], row["histogram"]
            rows.append(row)
        return pd.DataFrame(rows).set_index("column") if rows else pd.DataFrame()


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become ``None``."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
