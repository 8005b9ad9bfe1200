"""Checking a frame against a declared ``Schema``: every failure, never only the first.

``validate(df, schema)`` runs every check of every column, vectorized with
Arrow compute (no per-row Python), and returns a ``ValidationReport``: one
``Failure`` per failed check with the number of failing rows and a few
example values (row numbers for null checks). ``strict=True`` raises
``ValidationFailed`` carrying the report in ``.report``.

Checks, by name: ``required`` (a declared column is missing), ``extra_column``
(an undeclared column, unless ``allow_extra_columns``), ``type``, ``null``,
``range``, ``category``, ``unique``, and against a reference profile
``null_share``, ``out_of_reference_range`` and ``unseen_category``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from rich.table import Table

from shipyard.data.canonical import FLOAT64, INT64, NULL, canonical_type
from shipyard.data.profiles import CategoricalProfile, NumericProfile, Profile
from shipyard.data.schemas import Column, Schema
from shipyard.data.sources import read_table
from shipyard.errors import ValidationFailed
from shipyard.workspace import Workspace

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Failure:
    """One failed check: which column, which check, how many rows, a few examples."""

    column: str
    check: str
    failing_rows: int
    examples: tuple[Any, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["examples"] = list(self.examples)
        return data


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of ``validate``: the frame's size and every failure."""

    rows: int
    columns: int
    failures: tuple[Failure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "columns": self.columns,
            "failures": [f.to_dict() for f in self.failures],
        }

    def to_table(self) -> Table:
        """A Rich table of the failures, for people."""
        title = (
            f"Validation passed ({self.rows} rows, {self.columns} columns)"
            if self.ok
            else f"Validation failed: {len(self.failures)} check(s) ({self.rows} rows)"
        )
        table = Table(title=title, title_justify="left", header_style="bold")
        for name in ("column", "check", "failing rows", "examples", "detail"):
            table.add_column(name, overflow="fold")
        for f in self.failures:
            examples = ", ".join(repr(e) for e in f.examples)
            table.add_row(f.column, f.check, str(f.failing_rows), examples, f.message)
        return table

    def __rich__(self) -> Table:
        return self.to_table()

    def summary(self) -> str:
        if self.ok:
            return f"All checks passed on {self.rows} rows."
        parts = [f"{f.column}: {f.check} ({f.failing_rows} rows)" for f in self.failures]
        return f"{len(self.failures)} check(s) failed: " + "; ".join(parts) + "."


def validate(
    data: Any,
    schema: Schema,
    *,
    strict: bool = False,
    workspace: Workspace | None = None,
) -> ValidationReport:
    """Check ``data`` (DataFrame, Arrow table or file) against ``schema``; report every failure.

    With ``strict=True`` a failing report raises ``ValidationFailed`` (``.report`` holds it).
    """
    table = read_table(data)
    failures = list(_column_failures(table, schema))
    reference = _reference(schema, workspace)
    if reference is not None:
        failures += _distribution_failures(table, schema, reference)
    report = ValidationReport(table.num_rows, table.num_columns, tuple(failures))
    if strict and not report.ok:
        raise ValidationFailed(
            report.summary() + " See the report (.report) for examples.",
            report=report,
            field=report.failures[0].column,
        )
    return report


def _reference(schema: Schema, workspace: Workspace | None) -> Profile | None:
    if schema.reference is None or isinstance(schema.reference, Profile):
        return schema.reference
    from shipyard.data.snapshots import get  # the store is needed only for a named reference

    return get(schema.reference, workspace=workspace).profile


def _column_failures(table: pa.Table, schema: Schema) -> Iterator[Failure]:
    present = set(table.column_names)
    for rule in schema.columns:
        if rule.name not in present:
            if rule.required:
                yield Failure(rule.name, "required", table.num_rows, (), "declared column missing")
            continue
        yield from _check_column(rule, table.column(rule.name))
    if not schema.allow_extra_columns:
        declared = set(schema.names)
        for name in table.column_names:
            if name not in declared:
                yield Failure(name, "extra_column", 0, (), "column not declared in the schema")


def _check_column(rule: Column, column: pa.ChunkedArray) -> Iterator[Failure]:
    actual = canonical_type(rule.name, column.type)
    if rule.type is not None and not _compatible(actual, rule.type):
        present = column.drop_null()
        yield Failure(
            rule.name,
            "type",
            len(present),
            tuple(present.slice(0, MAX_EXAMPLES).to_pylist()),
            f"expected {rule.type}, found {actual}",
        )
        return
    if not rule.nullable and column.null_count:
        rows = pc.indices_nonzero(column.is_null()).slice(0, MAX_EXAMPLES).to_pylist()
        yield Failure(rule.name, "null", column.null_count, tuple(rows), "nulls (row numbers)")
    if actual == NULL:
        return
    if rule.min is not None or rule.max is not None:
        yield from _range(rule, column)
    if rule.categories is not None:
        yield from _categories(rule.name, column, rule.categories, "category", "not allowed")
    if rule.unique:
        yield from _unique(rule.name, column)


def _compatible(actual: str, declared: str) -> bool:
    return actual in (declared, NULL) or (declared == FLOAT64 and actual == INT64)


def _mask_failure(
    name: str, check: str, column: pa.ChunkedArray, mask: Any, message: str
) -> Iterator[Failure]:
    failing = int(pc.sum(mask).as_py() or 0)
    if failing:
        examples = pc.filter(column, mask).slice(0, MAX_EXAMPLES).to_pylist()
        yield Failure(name, check, failing, tuple(examples), message)


def _range(rule: Column, column: pa.ChunkedArray) -> Iterator[Failure]:
    if canonical_type(rule.name, column.type) not in (INT64, FLOAT64):
        return
    mask = pc.fill_null(pc.less(column, column), False)  # all False, same chunking
    if rule.min is not None:
        mask = pc.or_(mask, pc.fill_null(pc.less(column, rule.min), False))
    if rule.max is not None:
        mask = pc.or_(mask, pc.fill_null(pc.greater(column, rule.max), False))
    yield from _mask_failure(rule.name, "range", column, mask, f"outside [{rule.min}, {rule.max}]")


def _categories(
    name: str, column: pa.ChunkedArray, allowed: tuple[Any, ...], check: str, message: str
) -> Iterator[Failure]:
    value_set = pa.array(list(allowed), column.type) if allowed else pa.array([], column.type)
    mask = pc.and_(pc.invert(pc.is_in(column, value_set=value_set)), pc.is_valid(column))
    failing = int(pc.sum(mask).as_py() or 0)
    if failing:
        distinct = pc.unique(pc.filter(column, mask)).slice(0, MAX_EXAMPLES).to_pylist()
        yield Failure(name, check, failing, tuple(distinct), message)


def _unique(name: str, column: pa.ChunkedArray) -> Iterator[Failure]:
    counted = pc.value_counts(column.drop_null())
    repeated = pc.greater(counted.field("counts"), 1)
    failing = int(pc.sum(pc.filter(counted.field("counts"), repeated)).as_py() or 0)
    if failing:
        values = pc.filter(counted.field("values"), repeated).slice(0, MAX_EXAMPLES).to_pylist()
        yield Failure(name, "unique", failing, tuple(values), "repeated values")


def _distribution_failures(table: pa.Table, schema: Schema, reference: Profile) -> list[Failure]:
    failures: list[Failure] = []
    for name in table.column_names:
        if name not in reference.columns:
            continue
        column, ref = table.column(name), reference.columns[name]
        if canonical_type(name, column.type) != ref.type:
            continue  # a type change is the schema's business (the ``type`` check)
        share = column.null_count / len(column) if len(column) else 0.0
        if share - ref.null_fraction > schema.max_null_increase:
            failures.append(
                Failure(
                    name,
                    "null_share",
                    column.null_count,
                    (),
                    f"null share {share:.3f} vs reference {ref.null_fraction:.3f} "
                    f"(allowed increase {schema.max_null_increase})",
                )
            )
        failures += _drift(name, column, ref, schema)
    return failures


def _drift(
    name: str, column: pa.ChunkedArray, ref: NumericProfile | CategoricalProfile, schema: Schema
) -> list[Failure]:
    if isinstance(ref, NumericProfile) and ref.min is not None and ref.max is not None:
        if ref.type not in (INT64, FLOAT64):
            return []
        outside_range = pc.or_(pc.less(column, ref.min), pc.greater(column, ref.max))
        mask = pc.fill_null(outside_range, False)
        outside = int(pc.sum(mask).as_py() or 0)
        present = len(column) - column.null_count
        if present and outside / present > schema.max_out_of_range:
            message = (
                f"{outside / present:.3%} of values outside the reference range "
                f"[{ref.min}, {ref.max}] (allowed {schema.max_out_of_range:.2%})"
            )
            return list(_mask_failure(name, "out_of_reference_range", column, mask, message))
    if (
        isinstance(ref, CategoricalProfile)
        and ref.complete
        and ref.count
        and schema.check_unseen_categories
    ):
        return list(
            _categories(name, column, ref.categories, "unseen_category", "not in the reference")
        )
    return []
