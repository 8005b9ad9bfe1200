"""What changed between two snapshots: columns, types, row counts and column statistics.

``diff("customers")`` compares the previous version with the latest;
``diff("customers/v2")`` compares v2 with the latest; ``diff("customers/v2", "v5")``
(or ``"5"``, or another ``NAME/vN``) compares the two named versions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from shipyard.data.profiles import CategoricalProfile, ColumnProfile, NumericProfile
from shipyard.data.snapshots import Snapshot, get, parse_ref
from shipyard.errors import InvalidInput
from shipyard.workspace import Workspace, current

NUMERIC_STATS = ("count", "nulls", "mean", "std", "min", "max")
CATEGORICAL_STATS = ("count", "nulls", "distinct")


@dataclass(frozen=True)
class ColumnChange:
    """A column added, removed or whose type changed."""

    column: str
    change: str
    a: str | None
    b: str | None


@dataclass(frozen=True)
class StatChange:
    """A statistic of a column that differs between the two snapshots."""

    column: str
    stat: str
    a: Any
    b: Any

    @property
    def delta(self) -> float | None:
        numbers = (int, float)
        if isinstance(self.a, numbers) and isinstance(self.b, numbers):
            return float(self.b) - float(self.a)
        return None


@dataclass(frozen=True)
class SnapshotDiff:
    """The differences between snapshot ``a`` (older) and ``b`` (newer)."""

    a: str
    b: str
    rows_a: int
    rows_b: int
    same_content: bool
    schema_changes: tuple[ColumnChange, ...]
    stat_changes: tuple[StatChange, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stat_changes"] = [{**asdict(c), "delta": c.delta} for c in self.stat_changes]
        return data


def diff(a: str, b: str | None = None, *, workspace: Workspace | None = None) -> SnapshotDiff:
    """Compare two snapshots (see the module docstring for how ``a`` and ``b`` are read)."""
    workspace = workspace or current()
    older, newer = _pair(a, b, workspace)
    first, second = older.profile, newer.profile
    return SnapshotDiff(
        a=older.ref,
        b=newer.ref,
        rows_a=older.row_count,
        rows_b=newer.row_count,
        same_content=older.content_hash == newer.content_hash,
        schema_changes=tuple(_schema_changes(older, newer)),
        stat_changes=tuple(
            change
            for name in first.columns
            if name in second.columns
            for change in _stat_changes(first.columns[name], second.columns[name])
        ),
    )


def _pair(a: str, b: str | None, workspace: Workspace) -> tuple[Snapshot, Snapshot]:
    name, version = parse_ref(a)
    if b is not None:
        other = b.strip()
        ref_b = other if "/" in other else f"{name}/{other}"
        return get(a, workspace=workspace), get(ref_b, workspace=workspace)
    latest = get(name, workspace=workspace)
    if version is not None:
        return get(a, workspace=workspace), latest
    if latest.version == 1:
        raise InvalidInput(
            f"Dataset '{name}' has only v1; nothing to compare it with. Give two references, "
            f"e.g. `shipyard datasets diff {name}/v1 other/v1`.",
            field="ref",
        )
    return get(f"{name}/v{latest.version - 1}", workspace=workspace), latest


def _schema_changes(older: Snapshot, newer: Snapshot) -> list[ColumnChange]:
    types_a = {c.name: c.type for c in older.columns}
    types_b = {c.name: c.type for c in newer.columns}
    changes = [ColumnChange(n, "removed", t, None) for n, t in types_a.items() if n not in types_b]
    changes += [ColumnChange(n, "added", None, t) for n, t in types_b.items() if n not in types_a]
    changes += [
        ColumnChange(n, "type", t, types_b[n])
        for n, t in types_a.items()
        if n in types_b and types_b[n] != t
    ]
    return changes


def _stat_changes(a: ColumnProfile, b: ColumnProfile) -> list[StatChange]:
    if type(a) is not type(b):
        return []
    stats = NUMERIC_STATS if isinstance(a, NumericProfile) else CATEGORICAL_STATS
    changes = [
        StatChange(a.name, stat, getattr(a, stat), getattr(b, stat))
        for stat in stats
        if not _same(getattr(a, stat), getattr(b, stat))
    ]
    if isinstance(a, NumericProfile) and isinstance(b, NumericProfile):
        median_a, median_b = a.quantiles.get(0.5), b.quantiles.get(0.5)
        if not _same(median_a, median_b):
            changes.append(StatChange(a.name, "median", median_a, median_b))
    if isinstance(a, CategoricalProfile) and isinstance(b, CategoricalProfile):
        new = [c for c in b.categories if c not in a.categories]
        gone = [c for c in a.categories if c not in b.categories]
        if new:
            changes.append(StatChange(a.name, "new_top_values", None, new))
        if gone:
            changes.append(StatChange(a.name, "dropped_top_values", gone, None))
    return changes


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-12, abs_tol=0.0) or x == y
    return bool(x == y)
