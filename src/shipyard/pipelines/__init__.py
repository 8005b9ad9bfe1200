"""Pipelines: cached steps with lineage, executors, notebooks, schedules, notifications.

import shipyard as sy

@sy.step
def load() -> list[int]: ...

@sy.step(retries=2, backoff=1.0, timeout=600)
def fit(data, lr: float): ...

@sy.pipeline
def train(lr: float = 0.1):
    return fit(load(), lr)

train(lr=0.2)   # one tracking run; unchanged steps are reused from the cache

sy.notebook_step("train.ipynb", register="churn") is a step too (its run nests
under the pipeline's).
"""

from shipyard.pipelines import retrain
from shipyard.pipelines.cache import CacheDisabledWarning
from shipyard.pipelines.heartbeat import mark_crashed
from shipyard.pipelines.loader import load_pipeline
from shipyard.pipelines.notebook_step import NotebookStep, notebook_step
from shipyard.pipelines.pipeline import Pipeline, pipeline
from shipyard.pipelines.records import (
    PipelineRunInfo,
    StepRecord,
    get_pipeline_run,
)
from shipyard.pipelines.resume import resume
from shipyard.pipelines.runner import PipelineResult
from shipyard.pipelines.step import Skipped, Step, step

__all__ = [
    "CacheDisabledWarning",
    "NotebookStep",
    "Pipeline",
    "PipelineResult",
    "PipelineRunInfo",
    "Skipped",
    "Step",
    "StepRecord",
    "get_pipeline_run",
    "load_pipeline",
    "mark_crashed",
    "notebook_step",
    "pipeline",
    "resume",
    "retrain",
    "step",
]
