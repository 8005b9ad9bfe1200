"""Running an approved retrain request: pipeline → candidate version → gates → staging/canary.

The pipeline's return value is the candidate: a fitted model, or a dict with
``model`` and optionally ``input_example`` (default: the production version's
example rows), ``golden`` (``(X, y)``, default: production's golden set) and
``evaluation`` (``(X, y)`` of the drifted window or segment). A pipeline that
declares ``window_start`` / ``window_end`` parameters receives the alert's
window (ISO text) so it can build that segment.

The candidate is registered with the pipeline run as its producer (so the
lineage reads alert → retrain_request → run → model_version), promoted to
staging through the gates, then to canary when the policy says so — never to
production, which stays a person's move. Candidate and production are scored
on the golden set and on the drifted window; the comparison is stored on the
request. A failed pipeline, registration or gate leaves the request
``failed`` or its candidate where the gates stopped it, and notifies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import Conflict, GateFailed, NotFound, ShipyardError
from shipyard.pipelines.retrain import (
    APPROVED,
    CANDIDATE,
    FAILED,
    RUNNING,
    RetrainRequestInfo,
    current_status,
    emit,
    get_request,
    set_status,
)
from shipyard.store.lineage import Edge, add_edges
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    from shipyard.notify import Sink
    from shipyard.registry.catalog import ModelVersionInfo


def run_request(
    request_id: str,
    *,
    token: str | None = None,
    notify: Sequence[Sink] | None = None,
    workspace: Workspace | None = None,
) -> RetrainRequestInfo:
    """Train, register and stage the candidate of an approved request."""
    workspace = workspace or current()
    info = get_request(request_id, workspace=workspace)
    with workspace.store.write() as session:
        if not set_status(session, info.id, APPROVED, RUNNING):
            raise Conflict(
                f"Retrain request {info.id} is {current_status(session, info.id)}: only an "
                f"approved request runs. Approve it with `{info.approve_command}`.",
                kind="retrain_request",
                name=info.id,
            )
    try:
        return _run(workspace, info, token, notify)
    except Exception as exc:
        message = exc.message if isinstance(exc, ShipyardError) else f"{type(exc).__name__}: {exc}"
        _fail(workspace, info, message, notify)
        raise


def _run(
    workspace: Workspace,
    info: RetrainRequestInfo,
    token: str | None,
    notify: Sequence[Sink] | None,
) -> RetrainRequestInfo:
    from shipyard.pipelines.loader import load_pipeline
    from shipyard.pipelines.runner import RunOptions, run_pipeline

    pipeline = load_pipeline(info.pipeline)
    params = pipeline.bind_params(_with_window(pipeline.signature.parameters, info))
    options = RunOptions(notify=notify, tags={"shipyard.retrain_request": info.id})
    result = run_pipeline(pipeline, params, options, workspace=workspace)
    edges = [Edge(("retrain_request", info.id), ("run", result.run_id), "started")]
    edges += [
        Edge(("retrain_decision", str(d)), ("run", result.run_id), "approved")
        for d in _decision_ids(workspace, info.id)
    ]
    add_edges(workspace.store, edges)
    if not result.ok:
        _fail(
            workspace,
            info,
            f"pipeline run {result.run_id} failed: {result.error}",
            notify,
            result.run_id,
        )
        return get_request(info.id, workspace=workspace)
    version = _register(workspace, info, result.output, result.run_id, token)
    stage, gates = _stage(workspace, info, version, token, notify)
    comparison = compare(workspace, version, _evaluation(result.output))
    comparison["gates"] = gates
    with workspace.store.write() as session:
        set_status(
            session,
            info.id,
            RUNNING,
            CANDIDATE,
            run_id=result.run_id,
            model_version=version.ref,
            stage=stage,
            comparison=comparison,
        )
    return get_request(info.id, workspace=workspace)


def _with_window(parameters: Mapping[str, Any], info: RetrainRequestInfo) -> dict[str, Any]:
    params = dict(info.params)
    window = info.evidence.get("window") or {}
    for name, key in (("window_start", "start"), ("window_end", "end")):
        if name in parameters and name not in params and window.get(key):
            params[name] = window[key]
    return params


def _decision_ids(workspace: Workspace, request_id: str) -> list[int]:
    from sqlalchemy import select

    from shipyard.store.schema.retrain import RetrainDecision

    with workspace.store.read() as session:
        return list(
            session.scalars(
                select(RetrainDecision.id).where(
                    RetrainDecision.request_id == request_id, RetrainDecision.decision == APPROVED
                )
            )
        )


def _candidate(output: Any) -> dict[str, Any]:
    if isinstance(output, Mapping):
        if "model" not in output:
            raise ShipyardError(
                f"The retrain pipeline returned a dict without 'model' (keys: "
                f"{', '.join(map(str, output))}). Return the fitted model, or a dict with "
                "'model' and optionally 'input_example', 'golden', 'evaluation'."
            )
        return dict(output)
    return {"model": output}


def _evaluation(output: Any) -> tuple[Any, Any] | None:
    found = _candidate(output).get("evaluation")
    return None if found is None else (found[0], found[1])


def _register(
    workspace: Workspace, info: RetrainRequestInfo, output: Any, run_id: str, token: str | None
) -> ModelVersionInfo:
    from shipyard.registry.catalog import get_version
    from shipyard.registry.versions import get_frame, register_model

    candidate = _candidate(output)
    example = candidate.get("input_example")
    if example is None:
        production = get_version(f"{info.model}@production", workspace=workspace)
        if production.example_sha256 is None:
            raise ShipyardError(
                f"The retrain pipeline returned no input_example and {production.ref} has none "
                "to borrow. Return {'model': …, 'input_example': X[:5]}."
            )
        example = get_frame(workspace, production.example_sha256)
    return register_model(
        candidate["model"],
        info.model,
        input_example=example,
        golden=candidate.get("golden"),
        run_id=run_id,
        description=f"retrained for request {info.id}",
        token=token,
        workspace=workspace,
    )


def _stage(
    workspace: Workspace,
    info: RetrainRequestInfo,
    version: ModelVersionInfo,
    token: str | None,
    notify: Sequence[Sink] | None,
) -> tuple[str, dict[str, Any] | None]:
    """Promote through the normal flow as far as the policy says; (stage reached, gate report)."""
    from shipyard.pipelines.retrain_policies import get_policy
    from shipyard.registry.stages import promote

    try:
        target = get_policy(workspace, info.policy).promote_to
    except NotFound:
        target = "canary"
    reason = f"retrain request {info.id}"
    report: dict[str, Any] | None = None
    stage = "none"
    for to in ("staging", "canary")[: 2 if target == "canary" else 1]:
        try:
            transition = promote(version.ref, to, reason=reason, token=token, workspace=workspace)
        except GateFailed as blocked:
            _tell(
                workspace,
                info,
                "retrain_gate_blocked",
                f"{version.ref} blocked before {to}: {blocked.message}",
                notify,
            )
            return stage, blocked.report if isinstance(blocked.report, dict) else None
        stage = to
        report = transition.gate_report or report
    return stage, report


def compare(
    workspace: Workspace, candidate: ModelVersionInfo, evaluation: tuple[Any, Any] | None
) -> dict[str, Any]:
    """Candidate vs production on the golden set and the drifted window, one metric each."""
    from shipyard.registry.catalog import get_version
    from shipyard.registry.gates.golden import default_metric
    from shipyard.registry.loading import load_info
    from shipyard.registry.versions import load_golden

    new = load_info(candidate, workspace)
    try:
        production = get_version(f"{candidate.name}@production", workspace=workspace)
    except NotFound:
        production = None
    old = load_info(production, workspace) if production is not None else None
    metric = default_metric(new)
    sets: dict[str, tuple[Any, Any]] = {}
    golden = (production.golden if production else None) or candidate.golden
    if golden:
        sets["golden"] = load_golden(workspace, golden)
    if evaluation is not None:
        sets["drifted_window"] = evaluation
    scores = {label: _scores(metric, new, old, x, y) for label, (x, y) in sets.items()}
    return {
        "metric": metric,
        "candidate": candidate.ref,
        "production": production.ref if production else None,
        "sets": scores,
    }


def _scores(metric: str, new: Any, old: Any, x: Any, y: Any) -> dict[str, Any]:
    truth = np.asarray(y)
    mine = _score(metric, truth, new.predict(x))
    theirs = _score(metric, truth, old.predict(x)) if old is not None else None
    return {
        "rows": len(truth),
        "candidate": mine,
        "production": theirs,
        "delta": None if theirs is None else mine - theirs,
    }


def _score(metric: str, truth: np.ndarray, predicted: np.ndarray) -> float:
    if metric == "accuracy":
        return float(np.mean(predicted == truth))
    residual = float(np.sum((truth - predicted) ** 2))
    total = float(np.sum((truth - truth.mean()) ** 2)) or 1.0
    return 1.0 - residual / total  # r2


def _fail(
    workspace: Workspace,
    info: RetrainRequestInfo,
    message: str,
    notify: Sequence[Sink] | None,
    run_id: str | None = None,
) -> None:
    with workspace.store.write() as session:
        set_status(session, info.id, RUNNING, FAILED, error=message, run_id=run_id)
    _tell(workspace, info, "retrain_failed", f"retrain request {info.id} failed: {message}", notify)


def _tell(
    workspace: Workspace,
    info: RetrainRequestInfo,
    kind: str,
    reason: str,
    notify: Sequence[Sink] | None,
) -> None:
    from shipyard.notify import Notification

    emit(
        workspace,
        Notification(kind, info.policy, info.id, reason, f"shipyard retrain show {info.id}"),
        notify,
    )


__all__ = ["compare", "run_request"]
