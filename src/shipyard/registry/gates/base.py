"""What gates share: the context they check, one result per check, and the report.

A gate is a function ``run(context, config) -> list[CheckResult]``; each
result names the gate and the check, says whether it passed, and carries
the measured ``value`` and the ``threshold`` it was held to, so that a
failure report can print numbers instead of adjectives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.registry.loading import LoadedModel
from shipyard.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class CheckResult:
    """One check of one gate."""

    gate: str
    check: str
    passed: bool
    message: str
    value: Any = None
    threshold: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "check": self.check,
            "passed": self.passed,
            "message": self.message,
            "value": _plain(self.value),
            "threshold": _plain(self.threshold),
        }


@dataclass(frozen=True)
class GateReport:
    """Every check run for a version entering a stage, against a baseline (production)."""

    ref: str
    stage: str
    baseline: str | None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.passed:
            return f"all {len(self.checks)} checks passed"
        return "; ".join(f"{c.gate}/{c.check}: {c.message}" for c in self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "stage": self.stage,
            "baseline": self.baseline,
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass
class GateContext:
    """The candidate and baseline models, and the rows gates may use."""

    workspace: Workspace
    candidate: LoadedModel
    baseline: LoadedModel | None
    golden: tuple[pd.DataFrame, np.ndarray] | None
    sample: pd.DataFrame
    breaking: bool = False


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def number(config: Mapping[str, Any], key: str, default: float | None) -> float | None:
    """A numeric setting of a gate table, or ``ConfigError`` naming it."""
    from shipyard.errors import ConfigError

    value = config.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"Gate setting '{key}' must be a number, got {value!r}.", field=key)
    return float(value)
