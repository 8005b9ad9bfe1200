"""Integration gate: load → validate → predict on edge cases behaves as the signature says.

Cases, built from the version's sample rows (golden set or input example):
valid rows predict with the declared output shape; an empty batch returns
an empty result; a null in a nullable column is accepted; a null in a
non-nullable column, an unseen category and a missing column are rejected
with ``InvalidInput`` naming the column; each numeric column at its observed
minimum and maximum, and all numeric columns at ten times their largest
magnitude, still predict finite values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import InvalidInput
from shipyard.registry.gates.base import CheckResult, GateContext
from shipyard.registry.loading import LoadedModel

if TYPE_CHECKING:
    import pandas as pd

UNSEEN = "__shipyard_unseen__"


def run(context: GateContext, config: Mapping[str, Any]) -> list[CheckResult]:
    model, sample = context.candidate, context.sample.head(5).reset_index(drop=True)
    specs = model.signature.inputs
    results = [_accepts(model, "valid rows", sample), _empty(model)]
    for spec in specs:
        if spec.nullable:
            results.append(
                _accepts(model, f"null in '{spec.name}'", sample.assign(**{spec.name: None}))
            )
    required = [s for s in specs if not s.nullable]
    if required:
        results.append(
            _rejects(
                model,
                f"null in '{required[0].name}'",
                sample.assign(**{required[0].name: None}),
                required[0].name,
            )
        )
    for spec in specs:
        if spec.categories is not None:
            results.append(
                _rejects(
                    model,
                    f"unseen category in '{spec.name}'",
                    sample.assign(**{spec.name: UNSEEN}),
                    spec.name,
                )
            )
    results.append(
        _rejects(
            model, f"missing '{specs[0].name}'", sample.drop(columns=[specs[0].name]), specs[0].name
        )
    )
    results.extend(_extremes(model, context.sample))
    return results


def _try(model: LoadedModel, frame: pd.DataFrame) -> tuple[Any, Exception | None]:
    try:
        return model.predict(frame), None
    except Exception as exc:
        return None, exc


def _accepts(
    model: LoadedModel, case: str, frame: pd.DataFrame, finite: bool = False
) -> CheckResult:
    out, error = _try(model, frame)
    if error is not None:
        return CheckResult(
            "integration", case, False, f"{case}: predict raised {type(error).__name__}: {error}"
        )
    if len(out) != len(frame):
        return CheckResult(
            "integration", case, False, f"{case}: {len(out)} predictions for {len(frame)} rows"
        )
    if (
        finite
        and np.issubdtype(np.asarray(out).dtype, np.number)
        and not np.all(np.isfinite(np.asarray(out, dtype=float)))
    ):
        return CheckResult("integration", case, False, f"{case}: non-finite predictions")
    return CheckResult("integration", case, True, f"{case}: ok")


def _empty(model: LoadedModel) -> CheckResult:
    import pandas as pd

    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in model.signature.columns})
    out, error = _try(model, frame)
    ok = error is None and len(out) == 0
    detail = "returns 0 predictions" if ok else f"raised {error!r}" if error else f"{len(out)} rows"
    return CheckResult("integration", "empty batch", ok, f"empty batch: {detail}")


def _rejects(model: LoadedModel, case: str, frame: pd.DataFrame, column: str) -> CheckResult:
    _, error = _try(model, frame)
    ok = isinstance(error, InvalidInput) and column in str(error)
    detail = (
        "rejected, naming the column"
        if ok
        else (
            "accepted although the signature forbids it" if error is None else f"raised {error!r}"
        )
    )
    return CheckResult("integration", case, ok, f"{case}: {detail}")


def _extremes(model: LoadedModel, sample: pd.DataFrame) -> list[CheckResult]:
    numeric = [s.name for s in model.signature.inputs if s.type in ("float", "integer")]
    if not numeric:
        return []
    base = sample.head(1).reset_index(drop=True)
    cases: list[tuple[str, Callable[[pd.Series], Any]]] = [
        ("minimum", lambda s: s.min()),
        ("maximum", lambda s: s.max()),
    ]
    frames = [base.assign(**{c: pick(sample[c]) for c in numeric}) for _, pick in cases]
    big = base.assign(**{c: _scaled(sample[c], model.signature.column(c).type) for c in numeric})
    return [
        _accepts(model, f"all numeric at observed {name}", frame, finite=True)
        for (name, _), frame in zip(cases, frames, strict=True)
    ] + [_accepts(model, "all numeric at 10× largest magnitude", big, finite=True)]


def _scaled(column: pd.Series, kind: str) -> Any:
    value = float(np.nanmax(np.abs(column.to_numpy(dtype=float)))) * 10 or 10.0
    return int(value) if kind == "integer" else value
