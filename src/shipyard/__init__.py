"""shipyard: from a notebook to a healthy production model, on one lineage graph.

    import shipyard as sy

    with sy.start_run(experiment="churn") as run:
        run.log_params({"C": 0.5})
        run.log_metric("auc", 0.93)

Names load on first use, so ``import shipyard`` stays fast; the public API is
exactly ``__all__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Entity": "shipyard.features",
    "ExperimentInfo": "shipyard.tracking",
    "FeatureService": "shipyard.features",
    "FeatureView": "shipyard.features",
    "LoadedModel": "shipyard.registry",
    "MetricPoint": "shipyard.tracking",
    "ModelVersionInfo": "shipyard.registry",
    "OnDemandFeatureView": "shipyard.features",
    "RemoteClient": "shipyard.remote",
    "Run": "shipyard.tracking",
    "RunRecord": "shipyard.tracking",
    "Settings": "shipyard.config",
    "Signature": "shipyard.registry",
    "Skipped": "shipyard.pipelines",
    "Workspace": "shipyard.workspace",
    "connect": "shipyard.workspace",
    "datasets": "shipyard.datasets",
    "errors": "shipyard.errors",
    "features": "shipyard.features",
    "get_run": "shipyard.tracking",
    "list_artifacts": "shipyard.tracking",
    "list_experiments": "shipyard.tracking",
    "load_model": "shipyard.registry",
    "load_settings": "shipyard.config",
    "metric_history": "shipyard.tracking",
    "models": "shipyard.registry.models",
    "monitor": "shipyard.monitor",
    "notebook_step": "shipyard.pipelines",
    "pipeline": "shipyard.pipelines",
    "pipelines": "shipyard.pipelines",
    "promote": "shipyard.registry",
    "rollback": "shipyard.registry",
    "search_runs": "shipyard.tracking",
    "serving": "shipyard.serving",
    "start_run": "shipyard.tracking",
    "step": "shipyard.pipelines",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from shipyard import datasets, errors, features, monitor, pipelines, serving
    from shipyard.config import Settings, load_settings
    from shipyard.features import Entity, FeatureService, FeatureView, OnDemandFeatureView
    from shipyard.pipelines import Skipped, notebook_step, pipeline, step
    from shipyard.registry import (
        LoadedModel,
        ModelVersionInfo,
        Signature,
        load_model,
        models,
        promote,
        rollback,
    )
    from shipyard.remote import RemoteClient
    from shipyard.tracking import (
        ExperimentInfo,
        MetricPoint,
        Run,
        RunRecord,
        get_run,
        list_artifacts,
        list_experiments,
        metric_history,
        search_runs,
        start_run,
    )
    from shipyard.workspace import Workspace, connect


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith(f".{name}") else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
