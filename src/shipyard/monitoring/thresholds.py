"""Drift thresholds: the defaults from practice, and per-feature overrides.

A column drifts when its test is significant (KS or chi-square p-value below
``p_value``) *and* at least one effect size crosses its drift threshold. The
test keeps small samples from flagging noise; the effect sizes keep a million
rows from flagging differences too small to matter. PSI also grades a
severity: above ``psi_warning`` a warning, above ``psi_drift`` drift, above
``psi_alert`` an alert.

``thresholds=`` accepts one ``Thresholds`` for every column, or a mapping from
column name (``"*"`` for the default) to a ``Thresholds`` or a dict of the
fields to change::

    sy.monitor.drift(ref, cur, thresholds={"*": {"psi_drift": 0.3}, "age": {"ks_statistic": 0.2}})
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidInput

DEFAULT_KEY = "*"


@dataclass(frozen=True)
class Thresholds:
    """Every knob of the drift verdict for one column; the defaults are the documented ones."""

    psi_warning: float = 0.1
    psi_drift: float = 0.2
    psi_alert: float = 0.25
    # Significance level of the KS (numeric) and chi-square (categorical) tests.
    p_value: float = 0.01
    # Effect-size floors: a significant test flags only above these.
    ks_statistic: float = 0.1
    wasserstein: float = 0.1
    jensen_shannon: float = 0.1
    # Share of current rows in categories the reference never saw.
    new_category_share: float = 0.01
    # Number of reference-quantile bins for numeric PSI and Jensen–Shannon.
    bins: int = 10

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInput(
                    f"Threshold {field.name!r} must be a number, got {value!r}.",
                    field=field.name,
                )
            if not math.isfinite(value) or value < 0:
                raise InvalidInput(
                    f"Threshold {field.name!r} must be a finite number >= 0, got {value!r}.",
                    field=field.name,
                )
        if not isinstance(self.bins, int) or self.bins < 2:
            raise InvalidInput(
                f"Threshold 'bins' must be an integer >= 2, got {self.bins!r}.", field="bins"
            )
        if not self.psi_warning <= self.psi_drift <= self.psi_alert:
            raise InvalidInput(
                "PSI thresholds must satisfy psi_warning <= psi_drift <= psi_alert, got "
                f"{self.psi_warning}, {self.psi_drift}, {self.psi_alert}.",
                field="psi_drift",
            )
        if self.p_value > 1:
            raise InvalidInput(
                f"Threshold 'p_value' is a probability (0..1), got {self.p_value!r}.",
                field="p_value",
            )

    def replace(self, **changes: Any) -> Thresholds:
        """A copy with ``changes`` applied; unknown names are an ``InvalidInput``."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise InvalidInput(
                f"Unknown threshold {unknown[0]!r}; known thresholds are {sorted(known)}.",
                field=unknown[0],
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, float]:
        return {key: float(value) for key, value in dataclasses.asdict(self).items()}


ThresholdsInput = Thresholds | Mapping[str, Thresholds | Mapping[str, Any]] | None


def resolve_thresholds(spec: ThresholdsInput, columns: Iterable[str]) -> dict[str, Thresholds]:
    """The thresholds of each column in ``columns`` from a ``thresholds=`` argument."""
    columns = list(columns)
    if spec is None or isinstance(spec, Thresholds):
        base = spec or Thresholds()
        return dict.fromkeys(columns, base)
    if not isinstance(spec, Mapping):
        raise InvalidInput(
            f"thresholds must be a Thresholds or a mapping of column -> overrides, "
            f"got {type(spec).__name__}.",
            field="thresholds",
        )
    unknown = sorted(set(spec) - set(columns) - {DEFAULT_KEY})
    if unknown:
        raise InvalidInput(
            f"thresholds names column {unknown[0]!r}, which is not compared; "
            f"compared columns are {columns}. Use '{DEFAULT_KEY}' for the default.",
            field="thresholds",
        )
    base = _apply(Thresholds(), spec.get(DEFAULT_KEY))
    return {column: _apply(base, spec.get(column)) for column in columns}


def _apply(base: Thresholds, override: Thresholds | Mapping[str, Any] | None) -> Thresholds:
    if override is None:
        return base
    if isinstance(override, Thresholds):
        return override
    if not isinstance(override, Mapping):
        raise InvalidInput(
            f"A per-column threshold must be a Thresholds or a dict, got {override!r}.",
            field="thresholds",
        )
    return base.replace(**dict(override))
