"""Experiment tracking: runs with params, metric series, tags, artifacts and provenance."""

from shipyard.tracking.experiments import ExperimentInfo, list_experiments
from shipyard.tracking.records import (
    MetricPoint,
    RunRecord,
    get_run,
    list_artifacts,
    metric_history,
)
from shipyard.tracking.runs import Run, start_run
from shipyard.tracking.search import search_runs

__all__ = [
    "ExperimentInfo",
    "MetricPoint",
    "Run",
    "RunRecord",
    "get_run",
    "list_artifacts",
    "list_experiments",
    "metric_history",
    "search_runs",
    "start_run",
]
