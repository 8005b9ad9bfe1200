"""Golden-set regression gate: the candidate scores at least production minus a tolerance.

Settings (``[models.NAME.gates.golden]``): ``metric`` (``accuracy``, ``f1``,
``roc_auc``, ``r2``, ``rmse``, ``mae``; default accuracy for classifiers and
r2 otherwise), ``tolerance`` (absolute, default 0.01) and ``min`` (an
absolute floor, optional). For a lower-is-better metric (rmse, mae) the test
is ``candidate <= production + tolerance``. Per-example agreement with
production is reported (the share of equal predictions, or for regressors
the mean absolute difference).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from shipyard.errors import ConfigError
from shipyard.registry.gates.base import CheckResult, GateContext, number
from shipyard.registry.loading import LoadedModel

LOWER_IS_BETTER = {"rmse", "mae"}


def _metric(name: str) -> Callable[[LoadedModel, Any, np.ndarray], float]:
    from sklearn import metrics

    def labels(scorer: Callable[..., Any], **kw: Any) -> Callable[..., float]:
        return lambda model, x, y: float(scorer(y, model.predict(x), **kw))

    table: dict[str, Callable[[LoadedModel, Any, np.ndarray], float]] = {
        "accuracy": labels(metrics.accuracy_score),
        "f1": lambda m, x, y: float(
            metrics.f1_score(
                y, m.predict(x), average="binary" if len(np.unique(y)) <= 2 else "macro"
            )
        ),
        "roc_auc": lambda m, x, y: float(metrics.roc_auc_score(y, m.predict_proba(x)[:, 1])),
        "r2": labels(metrics.r2_score),
        "rmse": lambda m, x, y: float(np.sqrt(metrics.mean_squared_error(y, m.predict(x)))),
        "mae": labels(metrics.mean_absolute_error),
    }
    if name not in table:
        raise ConfigError(
            f"Golden gate metric {name!r} is unknown; use one of {', '.join(table)}.",
            field="metric",
        )
    return table[name]


def default_metric(model: LoadedModel) -> str:
    output = model.signature.output
    return "accuracy" if output is not None and output.classes is not None else "r2"


def run(context: GateContext, config: Mapping[str, Any]) -> list[CheckResult]:
    if context.golden is None:
        return [
            CheckResult(
                "golden",
                "regression",
                True,
                "no golden set: skipped (log the model with golden=(X, y) to enable this gate)",
            )
        ]
    x, y = context.golden
    name = str(config.get("metric") or default_metric(context.candidate))
    tolerance = number(config, "tolerance", 0.01) or 0.0
    floor = number(config, "min", None)
    score = _metric(name)(context.candidate, x, y)
    results = []
    if floor is not None:
        ok = score <= floor if name in LOWER_IS_BETTER else score >= floor
        results.append(
            CheckResult(
                "golden",
                f"{name} floor",
                ok,
                f"{name} {score:.4f} vs required {floor:.4f}",
                score,
                floor,
            )
        )
    if context.baseline is None:
        results.append(
            CheckResult(
                "golden",
                name,
                True,
                f"{name} {score:.4f} (no production version to compare with)",
                score,
            )
        )
        return results
    base = _metric(name)(context.baseline, x, y)
    if name in LOWER_IS_BETTER:
        required, ok = base + tolerance, score <= base + tolerance
    else:
        required, ok = base - tolerance, score >= base - tolerance
    results.append(
        CheckResult(
            "golden",
            name,
            ok,
            f"{name} {score:.4f} vs production {context.baseline.ref} {base:.4f} "
            f"(tolerance {tolerance:g}, required {'≤' if name in LOWER_IS_BETTER else '≥'} "
            f"{required:.4f}) on {len(y)} golden rows",
            {"candidate": score, "production": base},
            required,
        )
    )
    results.append(_agreement(context, x))
    return results


def _agreement(context: GateContext, x: Any) -> CheckResult:
    assert context.baseline is not None
    new, old = context.candidate.predict(x), context.baseline.predict(x)
    if default_metric(context.candidate) == "accuracy":
        share = float(np.mean(new == old))
        return CheckResult(
            "golden",
            "agreement",
            True,
            f"{share:.1%} of golden predictions equal production's",
            share,
        )
    diff = float(np.mean(np.abs(np.asarray(new, float) - np.asarray(old, float))))
    return CheckResult(
        "golden", "agreement", True, f"mean absolute difference from production {diff:.4g}", diff
    )
