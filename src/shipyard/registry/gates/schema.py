"""Schema gate: the candidate accepts what production accepts and returns the same shape.

Breaking changes (a new required column, a narrower type, nulls or
categories no longer allowed, a different output) fail unless the
promotion is marked ``breaking``; then they are reported and let through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.registry.gates.base import CheckResult, GateContext
from shipyard.registry.signature import ColumnSpec, Signature

_WIDER = {
    "float": {"integer", "boolean", "float"},
    "string": {"string", "category"},
    "category": {"category", "string"},
}


def run(context: GateContext, config: Mapping[str, Any]) -> list[CheckResult]:
    if context.baseline is None:
        return [CheckResult("schema", "compatible", True, "no production version to compare with")]
    problems = breaking_changes(context.baseline.signature, context.candidate.signature)
    if not problems:
        return [
            CheckResult("schema", "compatible", True, f"compatible with {context.baseline.ref}")
        ]
    accepted = context.breaking or bool(config.get("allow_breaking", False))
    text = "; ".join(problems)
    message = (
        f"breaking change accepted: {text}"
        if accepted
        else (
            f"incompatible with {context.baseline.ref}: {text}. Fix the model or promote with "
            "--breaking."
        )
    )
    return [CheckResult("schema", "compatible", accepted, message, value=problems)]


def breaking_changes(old: Signature, new: Signature) -> list[str]:
    """What a client of ``old`` would see break when ``new`` serves instead."""
    problems = []
    old_columns = {c.name: c for c in old.inputs}
    for column in new.inputs:
        before = old_columns.get(column.name)
        if before is None:
            problems.append(f"new required column '{column.name}'")
        else:
            problems.extend(_column_changes(before, column))
    if old.output and new.output:
        if old.output.shape != new.output.shape:
            problems.append(f"output shape {list(old.output.shape)} → {list(new.output.shape)}")
        if old.output.classes != new.output.classes:
            problems.append(f"output classes {old.output.classes} → {new.output.classes}")
    return problems


def _column_changes(old: ColumnSpec, new: ColumnSpec) -> list[str]:
    problems = []
    if old.type != new.type and old.type not in _WIDER.get(new.type, {new.type}):
        problems.append(f"column '{new.name}' type {old.type} → {new.type}")
    if old.nullable and not new.nullable:
        problems.append(f"column '{new.name}' no longer accepts nulls")
    if new.categories is not None:
        lost = sorted(set(map(str, old.categories or ())) - set(map(str, new.categories)))
        if old.categories is None or lost:
            what = ", ".join(lost[:5]) if lost else "any value"
            problems.append(f"column '{new.name}' no longer accepts {what}")
    return problems
