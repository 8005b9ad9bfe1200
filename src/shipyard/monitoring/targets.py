"""What is monitored for a model version: its top-k features, its reference data and predictions.

``record_targets("churn/3")`` ranks the version's input columns by importance
and keeps them with the version (the lineage node ``("monitor_target",
"churn/3")``):

1. model-native importances when the model (or a Pipeline's last step) has
   ``feature_importances_`` or ``coef_`` with one value per input column
   (``|coef|``, averaged over classes);
2. else permutation importance on the version's golden set (at most
   ``PERMUTATION_ROWS`` rows, ``PERMUTATION_REPEATS`` repeats, seed 0; accuracy
   for a classifier, negative MSE for a regressor);
3. else the signature's column order.

It also predicts the golden set (or the input example) once and stores those
**reference predictions** for prediction drift, and notes the **reference
data**: the training snapshot (a dataset snapshot logged as an input of the
run that produced the version). A version is immutable, so recording this at
registration or at the first monitor run gives the same result; monitor runs
record it when it is missing.

``[models.NAME.monitoring]`` in shipyard.toml overrides the features
(``features = [...]``), ``top_k`` (default 15) and the reference
(``reference = "customers/v3"`` or ``"window:2025-01-01/2025-02-01"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shipyard.errors import ConfigError, InvalidInput
from shipyard.monitoring.config import ModelOptions, model_options
from shipyard.store.lineage import Edge, insert_edges, upstream
from shipyard.store.schema.monitoring import MonitorTarget
from shipyard.store.sql import insert_ignore
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    from shipyard.registry.catalog import ModelVersionInfo
    from shipyard.registry.loading import LoadedModel

PERMUTATION_ROWS = 1000
PERMUTATION_REPEATS = 3
MAX_PROBA_CLASSES = 10
PREDICTION = "prediction"


@dataclass(frozen=True)
class MonitorTargets:
    """The ranked features of a version, its reference data and reference predictions."""

    model_version: str
    task: str
    method: str
    ranking: tuple[tuple[str, float | None], ...]
    reference: dict[str, Any] | None
    predictions_sha256: str | None
    options: ModelOptions
    created_at: datetime

    @property
    def model(self) -> str:
        return self.model_version.rsplit("/", 1)[0]

    @property
    def features(self) -> list[str]:
        """The monitored features: the configured list, else the top-k by importance."""
        if self.options.features is not None:
            return list(self.options.features)
        return [name for name, _ in self.ranking[: self.options.top_k]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "task": self.task,
            "method": "config" if self.options.features is not None else self.method,
            "features": self.features,
            "ranking": [{"feature": n, "importance": v} for n, v in self.ranking],
            "reference": self.options.reference or self.reference,
            "created_at": self.created_at.isoformat(),
        }


def get_targets(ref: str, *, workspace: Workspace | None = None) -> MonitorTargets:
    """The targets of version ``ref`` (``churn/3``, ``churn@production``), recorded if missing."""
    from shipyard.registry.catalog import get_version

    workspace = workspace or current()
    info = get_version(ref, workspace=workspace)
    with workspace.store.read() as session:
        row = session.get(MonitorTarget, info.ref)
    if row is None:
        return record_targets(info.ref, workspace=workspace)
    return _targets(workspace, info, row)


def record_targets(ref: str, *, workspace: Workspace | None = None) -> MonitorTargets:
    """Rank the version's features and store its reference predictions (idempotent)."""
    from shipyard.registry.catalog import get_version
    from shipyard.registry.loading import load_info

    workspace = workspace or current()
    info = get_version(ref, workspace=workspace)
    loaded = load_info(info, workspace)
    golden = _golden(workspace, info)
    task = _task(workspace, info)
    method, ranking = rank_features(loaded, golden, task)
    sample = golden[0] if golden is not None else _example(workspace, info)
    sha = None
    if sample is not None and len(sample):
        from shipyard.registry.versions import put_frame

        sha = put_frame(workspace, predictions_frame(loaded, sample))
    values = {
        "model_version": info.ref,
        "task": task,
        "method": method,
        "features": [{"feature": name, "importance": value} for name, value in ranking],
        "reference": training_snapshot(workspace, info),
        "predictions_sha256": sha,
        "created_at": utcnow(),
    }
    with workspace.store.write() as session:
        insert_ignore(session, MonitorTarget.__table__, [values], keys=["model_version"])  # type: ignore[arg-type]
        insert_edges(
            session,
            [Edge(("model_version", info.ref), ("monitor_target", info.ref), "monitored-as")],
        )
    with workspace.store.read() as session:
        row = session.get(MonitorTarget, info.ref)
    assert row is not None
    return _targets(workspace, info, row)


def _targets(workspace: Workspace, info: ModelVersionInfo, row: MonitorTarget) -> MonitorTargets:
    options = model_options(workspace, info.name)
    if options.features is not None:
        unknown = [f for f in options.features if f not in info.signature.columns]
        if unknown:
            raise ConfigError(
                f"[models.{info.name}.monitoring] features names {unknown[0]!r}, which is not "
                f"an input of {info.ref}; inputs are {info.signature.columns}.",
                field="features",
            )
    return MonitorTargets(
        model_version=row.model_version,
        task=options.task or row.task,
        method=row.method,
        ranking=tuple((str(f["feature"]), f["importance"]) for f in row.features),
        reference=row.reference,
        predictions_sha256=row.predictions_sha256,
        options=options,
        created_at=row.created_at,
    )


def _task(workspace: Workspace, info: ModelVersionInfo) -> str:
    options = model_options(workspace, info.name)
    if options.task:
        return options.task
    output = info.signature.output
    if output is None:
        return "regression"
    if output.classes or output.dtype.startswith(("int", "bool", "object", "str")):
        return "classification"
    return "regression"


def rank_features(
    loaded: LoadedModel, golden: tuple[pd.DataFrame, np.ndarray] | None, task: str
) -> tuple[str, list[tuple[str, float | None]]]:
    """The method used and (feature, importance) pairs, most important first."""
    columns = loaded.signature.columns
    native = _native_importances(loaded.model, len(columns))
    if native is not None:
        method, values = native
    elif golden is not None and len(golden[0]) >= 2:
        method, values = "permutation", _permutation(loaded, golden, task)
    else:
        return "signature", [(name, None) for name in columns]
    order = np.argsort(-values, kind="stable")
    return method, [(columns[i], float(values[i])) for i in order]


def _native_importances(model: Any, width: int) -> tuple[str, np.ndarray] | None:
    estimator = model
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        estimator = steps[-1][1]
        # A transforming step may change the columns: importances would not map to inputs.
        if len(steps) > 1 and _changes_width(model, width):
            return None
    for name in ("feature_importances_", "coef_"):
        values = getattr(estimator, name, None)
        if values is None:
            continue
        array = np.abs(np.asarray(values, dtype=np.float64))
        if array.ndim == 2:
            array = array.mean(axis=0)
        if array.ndim == 1 and array.size == width:
            return name, array
    return None


def _changes_width(pipeline: Any, width: int) -> bool:
    try:
        names = pipeline[:-1].get_feature_names_out()
    except Exception:  # a step without get_feature_names_out: cannot tell, so assume it does
        return True
    return len(names) != width


def _permutation(
    loaded: LoadedModel, golden: tuple[pd.DataFrame, np.ndarray], task: str
) -> np.ndarray:
    """Mean drop of the score when one column is shuffled (scikit-learn's definition)."""
    from sklearn.metrics import accuracy_score, mean_squared_error

    x, y = golden
    x, y = x.iloc[:PERMUTATION_ROWS].reset_index(drop=True), y[:PERMUTATION_ROWS]

    def score(data: pd.DataFrame) -> float:
        predicted = loaded.predict(data)
        if task == "classification":
            return float(accuracy_score(y, predicted))
        return -float(mean_squared_error(y, predicted))

    rng = np.random.default_rng(0)
    base = score(x)
    values = np.zeros(len(loaded.signature.columns))
    # One predict per column and repeat: the work is in the model, never per row.
    for j, column in enumerate(loaded.signature.columns):
        drops = []
        for _ in range(PERMUTATION_REPEATS):
            shuffled = x.copy()
            shuffled[column] = x[column].to_numpy()[rng.permutation(len(x))]
            drops.append(base - score(shuffled))
        values[j] = float(np.mean(drops))
    return values


def predictions_frame(loaded: LoadedModel, sample: pd.DataFrame) -> pd.DataFrame:
    """The model's outputs on ``sample`` in the columns prediction drift compares."""
    frame = pd.DataFrame(
        {PREDICTION: np.asarray(loaded.predict(sample)).reshape(len(sample), -1)[:, 0]}
    )
    if loaded.has_proba:
        proba = np.asarray(loaded.predict_proba(sample), dtype=np.float64)
        for name, column in proba_columns(loaded.signature, proba.shape[1]).items():
            frame[name] = proba[:, column]
    return frame


def proba_columns(signature: Any, width: int) -> dict[str, int]:
    """Names of the probability columns compared (binary: the positive class only)."""
    output = signature.output
    classes = list(output.classes) if output is not None and output.classes else list(range(width))
    indices = [1] if width == 2 else list(range(min(width, MAX_PROBA_CLASSES)))
    return {f"proba_{classes[i]}": i for i in indices if i < len(classes)}


def _golden(workspace: Workspace, info: ModelVersionInfo) -> tuple[pd.DataFrame, np.ndarray] | None:
    if not info.golden:
        return None
    from shipyard.registry.versions import load_golden

    x, y = load_golden(workspace, info.golden)
    return x.reset_index(drop=True), np.asarray(y)


def _example(workspace: Workspace, info: ModelVersionInfo) -> pd.DataFrame | None:
    if not info.example_sha256:
        return None
    from shipyard.registry.versions import get_frame

    return get_frame(workspace, info.example_sha256)


def training_snapshot(workspace: Workspace, info: ModelVersionInfo) -> dict[str, Any] | None:
    """The snapshot logged as an input of the version's run with most of its input columns."""
    if not info.run_id:
        return None
    from shipyard.data import snapshots

    best: tuple[int, str] | None = None
    for edge in upstream(workspace.store, ("run", info.run_id)):
        if edge.src[0] != snapshots.NODE_KIND or edge.relation != snapshots.INPUT_RELATION:
            continue
        snapshot = snapshots.get(edge.src[1], workspace=workspace)
        shared = len({c.name for c in snapshot.columns} & set(info.signature.columns))
        if shared and (best is None or shared > best[0]):
            best = (shared, snapshot.ref)
    return {"kind": "snapshot", "ref": best[1]} if best else None


def reference_data(
    workspace: Workspace, targets: MonitorTargets, deployment: str, kinds: dict[str, str]
) -> tuple[pd.DataFrame | None, str]:
    """The reference rows of the monitored columns and where they come from."""
    columns = list(kinds)
    spec = targets.options.reference
    if spec is not None and spec.startswith("window:"):
        from shipyard.monitoring.current import window_inputs

        start, end = parse_window_reference(spec)
        return window_inputs(workspace, deployment, start, end, kinds), spec
    ref = spec or (targets.reference or {}).get("ref")
    if ref:
        from shipyard.data import snapshots

        snapshot = snapshots.get(str(ref), workspace=workspace)
        present = [c for c in columns if c in {col.name for col in snapshot.columns}]
        frame = snapshots.load(snapshot, columns=present, workspace=workspace)
        return frame, f"snapshot {snapshot.ref}"
    info_golden = _golden_for(workspace, targets.model_version)
    if info_golden is not None:
        return info_golden[0][[c for c in columns if c in info_golden[0].columns]], "golden set"
    return None, "none (no training snapshot, golden set or configured reference)"


def _golden_for(workspace: Workspace, ref: str) -> tuple[pd.DataFrame, np.ndarray] | None:
    from shipyard.registry.catalog import get_version

    return _golden(workspace, get_version(ref, workspace=workspace))


def reference_predictions(workspace: Workspace, targets: MonitorTargets) -> pd.DataFrame | None:
    if targets.predictions_sha256 is None:
        return None
    from shipyard.registry.versions import get_frame

    return get_frame(workspace, targets.predictions_sha256)


def parse_window_reference(spec: str) -> tuple[datetime, datetime]:
    """``window:START/END`` (ISO 8601 dates or times, UTC when no zone is given)."""
    from shipyard.monitoring.logs import utc

    body = spec.removeprefix("window:")
    start_text, _, end_text = body.partition("/")
    try:
        start, end = datetime.fromisoformat(start_text), datetime.fromisoformat(end_text)
    except ValueError as exc:
        raise InvalidInput(
            f"reference {spec!r} must be 'window:START/END' with ISO dates, e.g. "
            "'window:2025-01-01/2025-02-01'.",
            field="reference",
        ) from exc
    start, end = utc(start, "reference"), utc(end, "reference")
    if start >= end:
        raise InvalidInput(f"reference {spec!r} starts after it ends.", field="reference")
    return start, end
