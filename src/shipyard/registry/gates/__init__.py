"""Promotion gates: the automated checks a version passes to enter a stage.

Gates are configured per model in ``shipyard.toml``::

    [models.churn.gates]
    stages = ["staging"]            # promotions that run the gates (default)

    [models.churn.gates.golden]     # golden-set regression (on when a golden set exists)
    metric = "accuracy"
    tolerance = 0.01

    [models.churn.gates.latency]    # only when configured
    single_p99_ms = 20
    batch_p99_ms = 200

    [models.churn.gates.fairness]   # only when configured
    protected = ["sex"]
    max_demographic_parity_difference = 0.1

``schema``, ``golden`` and ``integration`` run by default; ``latency`` and
``fairness`` when their table exists; any gate turns off with
``enabled = false``. The baseline is the current production version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shipyard.errors import ConfigError, GateFailed, InvalidInput
from shipyard.registry.catalog import ModelVersionInfo, get_version
from shipyard.registry.gates import fairness, golden, integration, latency, schema
from shipyard.registry.gates.base import CheckResult, GateContext, GateReport
from shipyard.registry.loading import LoadedModel, load_info
from shipyard.registry.versions import get_frame, load_golden
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    import pandas as pd

GateFn = Callable[[GateContext, Mapping[str, Any]], list[CheckResult]]
GATES: dict[str, GateFn] = {
    "schema": schema.run,
    "golden": golden.run,
    "integration": integration.run,
    "latency": latency.run,
    "fairness": fairness.run,
}
ON_BY_DEFAULT = ("schema", "golden", "integration")
DEFAULT_STAGES = ("staging",)


def gate_config(
    workspace: Workspace, name: str, override: Mapping[str, Any] | None = None
) -> Mapping[str, Any]:
    """The ``[models.NAME.gates]`` table (or ``override``), checked for unknown gates."""
    config = (
        override if override is not None else workspace.settings.section("models", name, "gates")
    )
    for key, value in config.items():
        if key == "stages":
            continue
        if key not in GATES or not isinstance(value, Mapping):
            raise ConfigError(
                f"[models.{name}.gates] has an unknown entry '{key}'; gates are tables named "
                f"{', '.join(GATES)} (and 'stages', a list).",
                field=key,
            )
    return config


def gated_stages(config: Mapping[str, Any]) -> tuple[str, ...]:
    stages = config.get("stages", list(DEFAULT_STAGES))
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise ConfigError(
            "gates 'stages' must be a list of stage names, e.g. [\"staging\"].", field="stages"
        )
    return tuple(stages)


def run_gates(
    workspace: Workspace,
    info: ModelVersionInfo,
    *,
    stage: str,
    config: Mapping[str, Any],
    breaking: bool = False,
) -> GateReport:
    """Run every enabled gate for ``info`` entering ``stage``; never raises on failure."""
    candidate = load_info(info, workspace)
    baseline = _baseline(workspace, info)
    golden_set = _golden(workspace, info, baseline)
    columns = set(info.signature.columns)
    fits = golden_set is not None and columns <= set(golden_set[0].columns)
    sample = golden_set[0] if golden_set is not None and fits else _example(workspace, info)
    context = GateContext(workspace, candidate, baseline, golden_set, sample, breaking)
    report = GateReport(info.ref, stage, baseline.ref if baseline else None)
    for name, gate in GATES.items():
        table = config.get(name)
        enabled = (name in ON_BY_DEFAULT or table is not None) and (table or {}).get(
            "enabled", True
        ) is not False
        if enabled:
            report.checks.extend(_safely(name, gate, context, table or {}))
    return report


def _safely(
    name: str, gate: GateFn, context: GateContext, table: Mapping[str, Any]
) -> list[CheckResult]:
    """A gate whose data does not fit the candidate fails with the reason, not a traceback."""
    try:
        return gate(context, table)
    except ConfigError:
        raise
    except InvalidInput as error:
        return [CheckResult(name, "error", False, error.message)]


def check(
    ref: str,
    *,
    stage: str = "staging",
    breaking: bool = False,
    gates: Mapping[str, Any] | None = None,
    raise_on_failure: bool = False,
    workspace: Workspace | None = None,
) -> GateReport:
    """Run the gates for ``ref`` as a promotion to ``stage`` would (``shipyard models check``)."""
    workspace = workspace or current()
    info = get_version(ref, workspace=workspace)
    report = run_gates(
        workspace,
        info,
        stage=stage,
        breaking=breaking,
        config=gate_config(workspace, info.name, gates),
    )
    if raise_on_failure and not report.passed:
        raise failure(report)
    return report


def failure(report: GateReport) -> GateFailed:
    lines = "\n".join(f"  - {c.gate}/{c.check}: {c.message}" for c in report.failures)
    return GateFailed(
        f"{report.ref} did not pass the gates for {report.stage} "
        f"({len(report.failures)} failing check(s)):\n{lines}",
        report=report.to_dict(),
    )


def _baseline(workspace: Workspace, info: ModelVersionInfo) -> LoadedModel | None:
    from shipyard.errors import NotFound

    try:
        production = get_version(f"{info.name}@production", workspace=workspace)
    except NotFound:
        return None
    return None if production.version == info.version else load_info(production, workspace)


def _golden(
    workspace: Workspace, info: ModelVersionInfo, baseline: LoadedModel | None
) -> tuple[pd.DataFrame, Any] | None:
    source = info.golden or (baseline.info.golden if baseline else None)
    return load_golden(workspace, source) if source else None


def _example(workspace: Workspace, info: ModelVersionInfo) -> pd.DataFrame:
    import pandas as pd

    if info.example_sha256 is None:
        return pd.DataFrame({c: [] for c in info.signature.columns})
    return get_frame(workspace, info.example_sha256)


__all__ = ["CheckResult", "GateReport", "check", "gate_config", "run_gates"]
