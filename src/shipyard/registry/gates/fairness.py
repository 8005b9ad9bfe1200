"""Fairness gate: demographic-parity and equal-opportunity differences over protected groups.

For each protected column of the golden set, with ``positive`` the positive
label (default: the last class):

- demographic-parity difference = max − min over groups of P(ŷ = positive | group);
- equal-opportunity difference = max − min over groups of
  P(ŷ = positive | y = positive, group) (groups without positives are skipped).

Computed with pandas ``groupby`` (the fairlearn definitions, without the
dependency). Settings: ``protected`` (list of columns, required),
``max_demographic_parity_difference`` and ``max_equal_opportunity_difference``
(default 0.1 each), ``positive``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import ConfigError
from shipyard.registry.gates.base import CheckResult, GateContext, number

if TYPE_CHECKING:
    import pandas as pd


def differences(
    groups: pd.Series, y_true: np.ndarray, y_pred: np.ndarray, positive: Any
) -> tuple[float, float, dict[str, float]]:
    """(demographic-parity difference, equal-opportunity difference, selection rate by group)."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "group": groups.to_numpy(),
            "pred": np.asarray(y_pred) == positive,
            "true": np.asarray(y_true) == positive,
        }
    )
    selection = frame.groupby("group", observed=True)["pred"].mean()
    tpr = frame[frame["true"]].groupby("group", observed=True)["pred"].mean()
    dpd = float(selection.max() - selection.min()) if len(selection) else 0.0
    eod = float(tpr.max() - tpr.min()) if len(tpr) else 0.0
    return dpd, eod, {str(k): float(v) for k, v in selection.items()}


def run(context: GateContext, config: Mapping[str, Any]) -> list[CheckResult]:
    protected = config.get("protected")
    if not isinstance(protected, list) or not protected:
        raise ConfigError(
            "The fairness gate needs 'protected = [\"COLUMN\", …]' naming the "
            "protected attributes.",
            field="protected",
        )
    if context.golden is None:
        return [
            CheckResult(
                "fairness",
                "groups",
                False,
                "the fairness gate needs a golden set "
                "with the protected columns; log the model with golden=(X, y)",
            )
        ]
    x, y = context.golden
    output = context.candidate.signature.output
    classes = output.classes if output is not None else None
    positive = config.get("positive", classes[-1] if classes else 1)
    max_dpd = number(config, "max_demographic_parity_difference", 0.1)
    max_eod = number(config, "max_equal_opportunity_difference", 0.1)
    predictions = context.candidate.predict(x)
    results = []
    for column in protected:
        if column not in x.columns:
            results.append(
                CheckResult(
                    "fairness",
                    str(column),
                    False,
                    f"protected column '{column}' is not in the golden set",
                )
            )
            continue
        dpd, eod, rates = differences(x[column], y, predictions, positive)
        results.append(
            CheckResult(
                "fairness",
                f"{column} demographic parity",
                max_dpd is None or dpd <= max_dpd,
                f"demographic-parity difference {dpd:.4f} over '{column}' (limit {max_dpd:g}); "
                f"selection rates {', '.join(f'{k}: {v:.3f}' for k, v in rates.items())}",
                dpd,
                max_dpd,
            )
        )
        results.append(
            CheckResult(
                "fairness",
                f"{column} equal opportunity",
                max_eod is None or eod <= max_eod,
                f"equal-opportunity difference {eod:.4f} over '{column}' (limit {max_eod:g})",
                eod,
                max_eod,
            )
        )
    return results
