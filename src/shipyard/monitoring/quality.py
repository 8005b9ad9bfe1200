"""Data quality of a frame: null rates, values out of range, unseen categories.

The expected range of a numeric column and the known categories of a
categorical one come from ``ranges=`` / ``categories=`` when given, else from
the reference frame (its observed min and max, its categories). Bounds are
inclusive; a ``None`` bound is open. Everything is column-wise NumPy or value
counts, never a loop over rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import InvalidInput
from shipyard.monitoring import frames

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.monitoring.rejected import RejectedRequests

Range = tuple[float | None, float | None]


@dataclass(frozen=True)
class ColumnQuality:
    """Quality counters of one column of the current frame."""

    column: str
    kind: str
    rows: int
    nulls: int
    null_rate: float
    # Numeric: values outside ``expected_range`` (bounds inclusive).
    expected_range: Range | None = None
    out_of_range: int = 0
    out_of_range_rate: float = 0.0
    # Categorical: values not among the known categories.
    unseen_categories: tuple[str, ...] = ()
    unseen: int = 0
    unseen_rate: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "rows": self.rows,
            "nulls": self.nulls,
            "null_rate": self.null_rate,
            "expected_range": list(self.expected_range) if self.expected_range else None,
            "out_of_range": self.out_of_range,
            "out_of_range_rate": self.out_of_range_rate,
            "unseen_categories": list(self.unseen_categories),
            "unseen": self.unseen,
            "unseen_rate": self.unseen_rate,
        }


@dataclass(frozen=True)
class QualityReport:
    """One ``ColumnQuality`` per column of the current frame.

    In a monitor run, ``rejected`` also holds the requests the server refused
    in the window, per column and reason (they never reached the log).
    """

    columns: tuple[ColumnQuality, ...]
    n_rows: int
    rejected: RejectedRequests | None = None

    def __getitem__(self, column: str) -> ColumnQuality:
        for result in self.columns:
            if result.column == column:
                return result
        raise InvalidInput(f"No quality result for column {column!r}.", field="column")

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "n_rows": self.n_rows,
            "columns": [c.to_dict() for c in self.columns],
        }
        if self.rejected is not None:
            document["rejected"] = self.rejected.to_dict()
        return document

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [c.to_dict() for c in self.columns]
        for row in rows:
            row["unseen_categories"] = ",".join(row["unseen_categories"])
        return pd.DataFrame(rows).set_index("column") if rows else pd.DataFrame()


def quality(
    current: Any,
    reference: Any = None,
    columns: Sequence[str] | None = None,
    ranges: Mapping[str, Range] | None = None,
    categories: Mapping[str, Iterable[str]] | None = None,
) -> QualityReport:
    """Null rates, out-of-range values and unseen categories of ``current``."""
    cur = frames.as_frame(current, "current")
    ref = frames.as_frame(reference, "reference") if reference is not None else None
    names = frames.column_names(cur)
    wanted = list(columns) if columns is not None else names
    for name in [*wanted, *(ranges or {}), *(categories or {})]:
        if name not in names:
            raise InvalidInput(
                f"Column {name!r} is not in the current frame; it has {names}.", field="columns"
            )
    results = []
    for name in wanted:
        explicit_range = _check_range(name, (ranges or {}).get(name))
        known = (categories or {}).get(name)
        results.append(_column(cur, ref, name, explicit_range, known))
    return QualityReport(columns=tuple(results), n_rows=frames.n_rows(cur))


def _column(
    cur: frames.Frame,
    ref: frames.Frame | None,
    name: str,
    expected: Range | None,
    known: Iterable[str] | None,
) -> ColumnQuality:
    rows = frames.n_rows(cur)
    kind = frames.column_kind(cur, name)
    has_ref = ref is not None and name in frames.column_names(ref)
    if kind == "numeric" and known is None:
        values = frames.numeric_values(cur, name)
        missing = np.isnan(values)
        nulls = int(missing.sum())
        if expected is None and has_ref:
            expected = _observed_range(frames.numeric_values(ref, name))
        outside = 0
        if expected is not None:
            low, high = expected
            present = values[~missing]
            below = present < low if low is not None else np.zeros(present.size, dtype=bool)
            above = present > high if high is not None else np.zeros(present.size, dtype=bool)
            outside = int(np.count_nonzero(below | above))
        return ColumnQuality(
            name, "numeric", rows, nulls, _rate(nulls, rows), expected, outside,
            _rate(outside, rows),
        )  # fmt: skip
    counts, nulls = frames.category_counts(cur, name)
    allowed: set[str] | None = {str(k) for k in known} if known is not None else None
    if allowed is None and has_ref:
        allowed = set(frames.category_counts(ref, name)[0])
    unseen = tuple(sorted(k for k in counts if k not in allowed)) if allowed is not None else ()
    unseen_rows = sum(counts[k] for k in unseen)
    return ColumnQuality(
        name,
        "categorical" if kind != "unsupported" else kind,
        rows,
        nulls,
        _rate(nulls, rows),
        unseen_categories=unseen,
        unseen=unseen_rows,
        unseen_rate=_rate(unseen_rows, rows),
    )


def _observed_range(values: np.ndarray[Any, Any]) -> Range | None:
    present = values[~np.isnan(values)]
    return (float(present.min()), float(present.max())) if present.size else None


def _check_range(name: str, value: Any) -> Range | None:
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InvalidInput(
            f"ranges[{name!r}] must be a (low, high) pair, got {value!r}.", field="ranges"
        )
    low, high = value
    for bound in (low, high):
        if bound is not None and (
            isinstance(bound, bool)
            or not isinstance(bound, (int, float))
            or not math.isfinite(bound)
        ):
            raise InvalidInput(
                f"ranges[{name!r}] bounds must be numbers or None, got {value!r}.", field="ranges"
            )
    if low is not None and high is not None and low > high:
        raise InvalidInput(
            f"ranges[{name!r}] has low {low} above high {high}; swap them.", field="ranges"
        )
    return (low, high)


def _rate(count: int, rows: int) -> float:
    return count / rows if rows else 0.0
