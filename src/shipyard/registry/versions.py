"""Registering immutable model versions.

``register_model`` serializes the model with its flavor, stores the bytes
content-addressed, infers the signature, records the exact versions of the
packages the flavor needs (read from installed metadata with
``importlib.metadata``: no pip subprocess), and takes the next version
number in the same write transaction that inserts the version:

- the per-model counter ``registered_models.last_version`` is bumped with
  ``UPDATE … RETURNING``; SQLite's ``BEGIN IMMEDIATE`` and PostgreSQL's row
  lock on that UPDATE serialize concurrent writers, so 8 processes get 8
  distinct consecutive numbers;
- the unique constraint ``(model_id, version)`` backs it up.

Nothing updates a version's artifact, hash, signature or requirements later.
"""

from __future__ import annotations

import io
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select, update

from shipyard.access import authenticate, require
from shipyard.errors import InvalidInput
from shipyard.registry import flavors
from shipyard.registry.catalog import ModelVersionInfo, get_version
from shipyard.registry.refs import check_model_name
from shipyard.registry.signature import Signature, example_frame, infer_signature
from shipyard.store.lineage import Edge, insert_edges
from shipyard.store.schema.core import Run as RunRow
from shipyard.store.schema.registry import ModelVersion, RegisteredModel
from shipyard.store.sql import insert_ignore
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    import pandas as pd

GOLDEN_TARGET = "__target__"
"""The column holding the labels in a stored golden set."""


@dataclass(frozen=True)
class Candidate:
    """A model made ready to store: its flavor, bytes, signature and requirements."""

    flavor: str
    data: bytes
    meta: dict[str, Any]
    signature: Signature
    requirements: dict[str, str]
    example: pd.DataFrame | None = None


def prepare(model: Any, input_example: Any, serialization: str | None = None) -> Candidate:
    """Serialize ``model`` and infer what a version records about it (no store access)."""
    if input_example is None:
        raise InvalidInput(
            "input_example is required: the signature every prediction is "
            "checked against comes from it. Pass a few training rows, e.g. X[:5].",
            field="input_example",
        )
    flavor = flavors.detect(model, serialization)
    frame, input_format = example_frame(input_example)
    serialized = flavor.save(model)
    predictor = (
        model
        if callable(getattr(model, "predict", None))
        else flavor.load(serialized.data, serialized.meta)
    )
    example = frame.to_numpy() if input_format == "ndarray" else frame
    try:
        output = predictor.predict(example)
    except Exception as exc:
        raise InvalidInput(
            f"The model's predict() failed on input_example ({type(exc).__name__}: {exc}). "
            "Pass rows shaped like the training data.",
            field="input_example",
        ) from exc
    signature = infer_signature(input_example, output, model=predictor)
    requirements = flavors.exact_versions(flavor.packages(model))
    requirements["python"] = platform.python_version()
    return Candidate(flavor.name, serialized.data, serialized.meta, signature, requirements, frame)


def register_model(
    model: Any,
    name: str,
    *,
    input_example: Any = None,
    golden: Any = None,
    run_id: str | None = None,
    description: str = "",
    serialization: str | None = None,
    token: str | None = None,
    workspace: Workspace | None = None,
) -> ModelVersionInfo:
    """Store ``model`` as the next version of ``name`` (``run.log_model`` calls this).

    ``serialization="skops"`` stores scikit-learn models with skops instead of pickle.
    """
    workspace = workspace or current()
    check_model_name(name)
    principal = require(
        authenticate(token or workspace.settings.token or None, workspace=workspace),
        "developer",
        f"Registering a version of model '{name}'",
    )
    candidate = prepare(model, input_example, serialization)
    golden_ref = store_golden(workspace, golden, candidate.signature)
    return store_candidate(
        workspace,
        name,
        candidate,
        golden=golden_ref,
        run_id=run_id,
        description=description,
        who=principal.name,
    )


def store_candidate(
    workspace: Workspace,
    name: str,
    candidate: Candidate,
    *,
    golden: dict[str, Any] | None = None,
    run_id: str | None = None,
    description: str = "",
    who: str = "",
) -> ModelVersionInfo:
    """Write the blob, then the version row under the next number, with its lineage."""
    blob = workspace.artifacts.put_bytes(candidate.data)
    example = None if candidate.example is None else put_frame(workspace, candidate.example)
    with workspace.store.write() as session:
        environment_id = None
        if run_id is not None:
            environment_id = session.scalar(
                select(RunRow.environment_id).where(RunRow.id == run_id)
            )
        model_id, number = _next_version(session, name)
        session.add(
            ModelVersion(
                model_id=model_id,
                version=number,
                flavor=candidate.flavor,
                sha256=blob.sha256,
                size=blob.size,
                flavor_meta=candidate.meta,
                signature=candidate.signature.to_dict(),
                requirements=candidate.requirements,
                golden=golden,
                example_sha256=example,
                run_id=run_id,
                environment_id=environment_id,
                archived=False,
                description=description,
                created_by=who,
                created_at=utcnow(),
            )
        )
        insert_edges(session, _edges(f"{name}/{number}", run_id, environment_id, golden))
    return get_version(f"{name}/{number}", workspace=workspace)


def _next_version(session: Any, name: str) -> tuple[int, int]:
    table: Any = RegisteredModel.__table__
    insert_ignore(
        session,
        table,
        [
            {
                "name": name,
                "description": "",
                "last_version": 0,
                "state_rev": 0,
                "created_at": utcnow(),
            }
        ],
        keys=["name"],
    )
    row = session.execute(
        update(RegisteredModel)
        .where(RegisteredModel.name == name)
        .values(last_version=RegisteredModel.last_version + 1)
        .returning(RegisteredModel.id, RegisteredModel.last_version)
    ).one()
    return int(row[0]), int(row[1])


def _edges(
    node_id: str, run_id: str | None, environment_id: str | None, golden: dict[str, Any] | None
) -> list[Edge]:
    node = ("model_version", node_id)
    edges = []
    if run_id:
        edges.append(Edge(("run", run_id), node, "produced"))
    if environment_id:
        edges.append(Edge(("environment", environment_id), node, "environment"))
    if golden and golden.get("kind") == "snapshot":
        edges.append(Edge(("snapshot", str(golden["ref"])), node, "golden"))
    return edges


def store_golden(workspace: Workspace, golden: Any, signature: Signature) -> dict[str, Any] | None:
    """Keep a golden set: ``(X, y)`` becomes a Parquet blob; a string names a dataset snapshot."""
    if golden is None:
        return None
    if isinstance(golden, str):
        return golden_snapshot(workspace, golden, "target")
    if isinstance(golden, tuple) and len(golden) == 2 and all(isinstance(g, str) for g in golden):
        return golden_snapshot(workspace, golden[0], golden[1])
    if not isinstance(golden, tuple) or len(golden) != 2:
        raise InvalidInput(
            f"golden must be (X, y) or a dataset snapshot name, got {type(golden).__name__}.",
            field="golden",
        )
    x, y = golden
    frame = golden_frame(x, signature)
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(frame):
        raise InvalidInput(
            f"golden y must be 1-D with one label per row of X ({len(frame)}), "
            f"got shape {labels.shape}.",
            field="golden",
        )
    frame = frame.reset_index(drop=True)
    frame[GOLDEN_TARGET] = labels
    sha256 = put_frame(workspace, frame)
    return {"kind": "blob", "sha256": sha256, "rows": len(frame), "target": GOLDEN_TARGET}


def golden_snapshot(workspace: Workspace, ref: str, target: str) -> dict[str, Any]:
    """Pin a dataset snapshot (``NAME`` means its latest version) as the golden set."""
    from shipyard.data import snapshots

    if not ref.strip():
        raise InvalidInput("golden dataset name is empty.", field="golden")
    snapshot = snapshots.get(ref.strip(), workspace=workspace)
    if target not in [c.name for c in snapshot.columns]:
        raise InvalidInput(
            f"Golden dataset {snapshot.name}/v{snapshot.version} has no label column "
            f"'{target}'. Pass golden=('{snapshot.name}', 'LABEL_COLUMN').",
            field="golden",
        )
    return {
        "kind": "snapshot",
        "ref": f"{snapshot.name}/v{snapshot.version}",
        "rows": snapshot.row_count,
        "target": target,
    }


def load_golden(workspace: Workspace, golden: dict[str, Any]) -> tuple[pd.DataFrame, Any]:
    """The golden set's features and labels."""
    if golden["kind"] == "snapshot":
        from shipyard.data import snapshots

        frame = snapshots.load(str(golden["ref"]), workspace=workspace)
    else:
        frame = get_frame(workspace, str(golden["sha256"]))
    target = str(golden["target"])
    return frame.drop(columns=[target]), frame[target].to_numpy()


def put_frame(workspace: Workspace, frame: pd.DataFrame) -> str:
    """Store a small table as a Parquet blob; returns its SHA-256."""
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    return workspace.artifacts.put_bytes(buffer.getvalue()).sha256


def get_frame(workspace: Workspace, sha256: str) -> pd.DataFrame:
    """A table stored by ``put_frame`` (hash-verified)."""
    import pandas as pd

    return pd.read_parquet(io.BytesIO(workspace.artifacts.get_bytes(sha256)))


def golden_frame(x: Any, signature: Signature) -> pd.DataFrame:
    import pandas as pd

    if isinstance(x, pd.DataFrame):
        return x.copy()
    array = np.asarray(x)
    if array.ndim != 2 or array.shape[1] != len(signature.inputs):
        raise InvalidInput(
            f"golden X must be 2-D with {len(signature.inputs)} columns, got shape {array.shape}.",
            field="golden",
        )
    return pd.DataFrame(array, columns=signature.columns)


def log_model(
    run: Any,
    model: Any,
    name: str,
    *,
    input_example: Any = None,
    golden: Any = None,
    description: str = "",
    token: str | None = None,
) -> ModelVersionInfo:
    """``run.log_model(...)``: register ``model`` as a new version produced by ``run``."""
    run._check_live()
    return register_model(
        model,
        name,
        input_example=input_example,
        golden=golden,
        run_id=run.id,
        description=description,
        token=token,
        workspace=run.workspace,
    )


def requirements_text(requirements: Mapping[str, str]) -> str:
    """requirements.txt lines (``name==version``), Python excluded."""
    return "".join(f"{k}=={v}\n" for k, v in sorted(requirements.items()) if k != "python")
