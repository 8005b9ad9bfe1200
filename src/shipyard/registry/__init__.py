"""The model registry: immutable versions, flavors, signatures, stages, gates, audit, lineage.

    import shipyard as sy

    with sy.start_run(experiment="churn") as run:
        version = run.log_model(pipeline, name="churn", input_example=X[:5], golden=(X, y))
    sy.promote("churn/1", to="staging", reason="beats baseline")   # runs the gates
    model = sy.load_model("churn@production")                       # hash-verified
    sy.rollback("churn", reason="p99 regression")

Modules: ``refs`` (references), ``signature``, ``flavors/`` (storing models),
``versions`` (registering), ``catalog`` (reading), ``loading``, ``stages``
(promotion and rollback), ``aliases``, ``gates/``, ``audit``, ``lineage``,
``mlflow_import``, and ``models`` (the ``sy.models`` namespace).
"""

from __future__ import annotations

from shipyard.registry.catalog import ModelInfo, ModelVersionInfo
from shipyard.registry.gates.base import CheckResult, GateReport
from shipyard.registry.loading import LoadedModel, load_model
from shipyard.registry.signature import ColumnSpec, OutputSpec, Signature
from shipyard.registry.stages import promote, rollback
from shipyard.registry.versions import register_model

__all__ = [
    "CheckResult",
    "ColumnSpec",
    "GateReport",
    "LoadedModel",
    "ModelInfo",
    "ModelVersionInfo",
    "OutputSpec",
    "Signature",
    "load_model",
    "promote",
    "register_model",
    "rollback",
]
