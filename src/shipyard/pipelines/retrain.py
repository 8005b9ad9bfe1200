"""Retrain requests: a trigger asks, a person decides, then the pipeline trains a candidate.

    pending ──approve──> approved ──> running ──> candidate_registered
       └────reject───> rejected                └─> failed

* ``drift``: ``scan()`` turns each open monitor alert on a deployment of the
  policy's model into one request whose evidence is the alert's statistics,
  window and report path (``("alert", ID) -triggered-> retrain_request``);
* ``schedule``: ``scan()`` asks once per cron slot (missed slots coalesce into
  the latest one);
* ``manual``: ``start(NAME)`` asks now; when the caller is an approver, it is
  their approval too, and training starts at once.

``approve`` needs the ``approver`` role and a reason, records the decision
(``retrain_request -decided-> ("retrain_decision", ID)``) and, by default,
runs the pipeline in the caller's process; ``approve(run=False)`` leaves it
``approved`` for the scheduler (``run_approved``). The candidate then follows
the normal promotion flow (see ``retrain_run``); production stays a person's
move, and the registry refuses it for a version whose request has no approval.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.access import Principal, authenticate, require
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.pipelines.retrain_policies import RetrainPolicy, get_policy, load_policies
from shipyard.store.lineage import Edge, insert_edges
from shipyard.store.schema.retrain import RetrainDecision, RetrainRequest
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

if TYPE_CHECKING:
    from shipyard.notify import Sink

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
RUNNING, CANDIDATE, FAILED = "running", "candidate_registered", "failed"
STATUSES = (PENDING, APPROVED, REJECTED, RUNNING, CANDIDATE, FAILED)
TRIGGERS = ("drift", "schedule", "manual")


@dataclass(frozen=True)
class Decision:
    decision: str
    who: str
    role: str
    reason: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


@dataclass(frozen=True)
class RetrainRequestInfo:
    """A retrain request as stored, with its decisions."""

    id: str
    policy: str
    model: str
    trigger: str
    trigger_ref: str
    pipeline: str
    params: dict[str, Any]
    evidence: dict[str, Any]
    status: str
    run_id: str | None
    model_version: str | None
    stage: str | None
    comparison: dict[str, Any] | None
    error: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    decisions: list[Decision] = field(default_factory=list)

    @property
    def approve_command(self) -> str:
        return f'shipyard retrain approve {self.id} --reason "…"'

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["updated_at"] = self.updated_at.isoformat()
        data["decisions"] = [d.to_dict() for d in self.decisions]
        return data


# -- creating ---------------------------------------------------------------------------
def request_retrain(
    policy: str | RetrainPolicy,
    *,
    trigger: str = "manual",
    trigger_ref: str | None = None,
    evidence: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    created_by: str = "",
    notify: Sequence[Sink] | None = None,
    workspace: Workspace | None = None,
) -> RetrainRequestInfo:
    """A pending request (the one already stored for the same trigger, if any).

    This is also the drift evidence API for monitors outside shipyard: pass
    ``trigger="drift"``, a ``trigger_ref`` naming the alert and the evidence
    (statistics, window, report path).
    """
    workspace = workspace or current()
    chosen = policy if isinstance(policy, RetrainPolicy) else get_policy(workspace, policy)
    if trigger not in TRIGGERS:
        raise InvalidInput(
            f"trigger {trigger!r}; use one of {', '.join(TRIGGERS)}.", field="trigger"
        )
    _check_params(chosen, params or {})
    request_id = uuid.uuid4().hex
    ref = trigger_ref or request_id
    now = utcnow()
    row = RetrainRequest(
        id=request_id,
        policy=chosen.name,
        model=chosen.model,
        trigger=trigger,
        trigger_ref=ref,
        pipeline=chosen.pipeline,
        params={**chosen.params, **dict(params or {})},
        evidence=dict(evidence or {}),
        status=PENDING,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    try:
        with workspace.store.write() as session:
            session.add(row)
            session.flush()
            insert_edges(session, _trigger_edges(chosen, trigger, ref, request_id))
    except SAIntegrityError:  # another scanner asked for the same trigger first
        with workspace.store.read() as session:
            existing = session.scalar(
                select(RetrainRequest.id).where(
                    RetrainRequest.policy == chosen.name,
                    RetrainRequest.trigger == trigger,
                    RetrainRequest.trigger_ref == ref,
                )
            )
        return get_request(str(existing), workspace=workspace)
    info = get_request(request_id, workspace=workspace)
    _notify_created(workspace, info, notify)
    return info


def _check_params(policy: RetrainPolicy, params: Mapping[str, Any]) -> None:
    from shipyard.pipelines.loader import load_pipeline

    load_pipeline(policy.pipeline).bind_params({**policy.params, **dict(params)})


def _trigger_edges(policy: RetrainPolicy, trigger: str, ref: str, request_id: str) -> list[Edge]:
    me = ("retrain_request", request_id)
    edges = [Edge(("model", policy.model), me, "retrain")]
    if trigger == "drift":
        edges.append(Edge(("alert", ref), me, "triggered"))
    elif trigger == "schedule":
        edges.append(Edge(("schedule", f"retrain:{policy.name}"), me, "triggered"))
    return edges


def _notify_created(
    workspace: Workspace, info: RetrainRequestInfo, notify: Sequence[Sink] | None
) -> None:
    from shipyard.notify import Notification

    why = {
        "drift": f"drift alert {info.trigger_ref}",
        "schedule": f"schedule slot {info.trigger_ref}",
        "manual": f"asked by {info.created_by or 'a person'}",
    }[info.trigger]
    notification = Notification(
        "retrain_requested",
        info.policy,
        info.id,
        f"retrain request {info.id} for model '{info.model}' ({why}) waits for approval",
        info.approve_command,
    )
    emit(workspace, notification, notify)


def emit(workspace: Workspace, notification: Any, notify: Sequence[Sink] | None) -> None:
    """Send to ``notify`` or, when None, to the configured sinks (``sinks.pipeline_sinks``)."""
    from shipyard.notify import send
    from shipyard.pipelines.sinks import pipeline_sinks

    send(list(notify) if notify is not None else pipeline_sinks(workspace), notification)


# -- deciding ---------------------------------------------------------------------------
def approve(
    request_id: str,
    *,
    reason: str,
    token: str | None = None,
    run: bool = True,
    notify: Sequence[Sink] | None = None,
    workspace: Workspace | None = None,
) -> RetrainRequestInfo:
    """Record an approver's yes; then run the pipeline now (``run=False``: the scheduler does)."""
    workspace = workspace or current()
    info = _decide(workspace, request_id, APPROVED, reason, token)
    if not run:
        return info
    from shipyard.pipelines.retrain_run import run_request

    return run_request(info.id, token=token, notify=notify, workspace=workspace)


def reject(
    request_id: str, *, reason: str, token: str | None = None, workspace: Workspace | None = None
) -> RetrainRequestInfo:
    """Record an approver's no; the request never runs."""
    workspace = workspace or current()
    return _decide(workspace, request_id, REJECTED, reason, token)


def _decide(
    workspace: Workspace, request_id: str, decision: str, reason: str, token: str | None
) -> RetrainRequestInfo:
    verb = "Approving" if decision == APPROVED else "Rejecting"
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput(
            f"{verb} a retrain request needs --reason saying why (it is kept in the audit).",
            field="reason",
        )
    info = get_request(request_id, workspace=workspace)
    principal = require(
        authenticate(token or workspace.settings.token or None, workspace=workspace),
        "approver",
        f"{verb} retrain request {info.id}",
    )
    _record_decision(workspace, info, decision, principal, reason.strip())
    return get_request(info.id, workspace=workspace)


def _record_decision(
    workspace: Workspace,
    info: RetrainRequestInfo,
    decision: str,
    principal: Principal,
    reason: str,
) -> None:
    with workspace.store.write() as session:
        moved = set_status(session, info.id, PENDING, decision)
        if not moved:
            raise Conflict(
                f"Retrain request {info.id} is {current_status(session, info.id)}, not pending: "
                "only a pending request is approved or rejected. See "
                f"`shipyard retrain show {info.id}`.",
                kind="retrain_request",
                name=info.id,
            )
        row = RetrainDecision(
            request_id=info.id,
            decision=decision,
            who=principal.name,
            role=principal.role,
            reason=reason,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        insert_edges(
            session,
            [Edge(("retrain_request", info.id), ("retrain_decision", str(row.id)), "decided")],
        )


def set_status(session: Any, request_id: str, before: str, after: str, **values: Any) -> bool:
    """Compare-and-swap the status, so two deciders or two runners never both win."""
    done = session.execute(
        update(RetrainRequest)
        .where(RetrainRequest.id == request_id, RetrainRequest.status == before)
        .values(status=after, updated_at=utcnow(), **values)
    )
    return bool(done.rowcount == 1)


def current_status(session: Any, request_id: str) -> str:
    return str(session.scalar(select(RetrainRequest.status).where(RetrainRequest.id == request_id)))


# -- manual start -------------------------------------------------------------------------
def start(
    policy: str,
    *,
    params: Mapping[str, Any] | None = None,
    reason: str = "",
    token: str | None = None,
    run: bool = True,
    notify: Sequence[Sink] | None = None,
    workspace: Workspace | None = None,
) -> RetrainRequestInfo:
    """A manual request; an approver's start is also their approval (with ``reason``)."""
    workspace = workspace or current()
    principal = require(
        authenticate(token or workspace.settings.token or None, workspace=workspace),
        "developer",
        f"Starting retrain policy '{policy}'",
    )
    info = request_retrain(
        policy,
        trigger="manual",
        params=params,
        created_by=principal.name,
        notify=notify,
        workspace=workspace,
    )
    if not principal.can("approver"):
        return info  # a developer asks; an approver decides
    why = reason.strip() or f"manual start by {principal.name}"
    return approve(info.id, reason=why, token=token, run=run, notify=notify, workspace=workspace)


# -- reading ----------------------------------------------------------------------------
def get_request(request_id: str, *, workspace: Workspace | None = None) -> RetrainRequestInfo:
    """A request by id or unique prefix (at least 4 characters)."""
    workspace = workspace or current()
    if not isinstance(request_id, str) or len(request_id.strip()) < 4:
        raise InvalidInput(
            f"Retrain request id {request_id!r} is too short; give at least 4 characters "
            "(see `shipyard retrain list`).",
            field="id",
        )
    prefix = request_id.strip()
    with workspace.store.read() as session:
        rows = list(
            session.scalars(
                select(RetrainRequest).where(RetrainRequest.id.startswith(prefix)).limit(2)
            )
        )
        if len(rows) != 1:
            raise NotFound(
                f"{'No' if not rows else 'More than one'} retrain request matches {prefix!r}. "
                "See `shipyard retrain list`.",
                kind="retrain_request",
                name=prefix,
            )
        decisions = session.scalars(
            select(RetrainDecision)
            .where(RetrainDecision.request_id == rows[0].id)
            .order_by(RetrainDecision.id)
        ).all()
        return _info(
            rows[0],
            [Decision(d.decision, d.who, d.role, d.reason, d.created_at) for d in decisions],
        )


def list_requests(
    *,
    status: str | None = None,
    model: str | None = None,
    limit: int = 100,
    workspace: Workspace | None = None,
) -> list[RetrainRequestInfo]:
    """Requests, newest first, optionally of one status or model."""
    workspace = workspace or current()
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status {status!r}; use one of {', '.join(STATUSES)}.", field="status")
    query = select(RetrainRequest).order_by(RetrainRequest.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(RetrainRequest.status == status)
    if model is not None:
        query = query.where(RetrainRequest.model == model)
    with workspace.store.read() as session:
        return [_info(row, []) for row in session.scalars(query)]


def _info(row: RetrainRequest, decisions: list[Decision]) -> RetrainRequestInfo:
    return RetrainRequestInfo(
        id=row.id,
        policy=row.policy,
        model=row.model,
        trigger=row.trigger,
        trigger_ref=row.trigger_ref,
        pipeline=row.pipeline,
        params=row.params,
        evidence=row.evidence,
        status=row.status,
        run_id=row.run_id,
        model_version=row.model_version,
        stage=row.stage,
        comparison=row.comparison,
        error=row.error,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        decisions=decisions,
    )


# -- triggers -------------------------------------------------------------------------------
def scan(
    *,
    now: datetime | None = None,
    notify: Sequence[Sink] | None = None,
    workspace: Workspace | None = None,
) -> list[RetrainRequestInfo]:
    """New requests from open drift alerts and due schedule slots (idempotent)."""
    from shipyard.pipelines.retrain_triggers import due_slot

    workspace = workspace or current()
    made: list[RetrainRequestInfo] = []
    for policy in load_policies(workspace).values():
        if policy.mode == "drift":
            made += requests_from_alerts(policy, notify=notify, workspace=workspace)
        elif policy.mode == "schedule":
            slot = due_slot(workspace, policy, now or utcnow())
            if slot is not None:
                made.append(
                    request_retrain(
                        policy,
                        trigger="schedule",
                        trigger_ref=slot,
                        evidence={"slot": slot, "cron": policy.cron, "timezone": policy.timezone},
                        created_by="scheduler",
                        notify=notify,
                        workspace=workspace,
                    )
                )
    return made


def requests_from_alerts(
    policy: str | RetrainPolicy,
    *,
    notify: Sequence[Sink] | None = None,
    workspace: Workspace | None = None,
) -> list[RetrainRequestInfo]:
    """One new request per open alert on a deployment of the policy's model (not yet asked).

    ``scan`` calls this for every drift policy; call it yourself right after
    ``shipyard monitor run`` to ask at once.
    """
    from shipyard.pipelines.retrain_triggers import alert_evidence

    workspace = workspace or current()
    chosen = policy if isinstance(policy, RetrainPolicy) else get_policy(workspace, policy)
    return [
        request_retrain(
            chosen,
            trigger="drift",
            trigger_ref=alert_id,
            evidence=evidence,
            created_by="monitor",
            notify=notify,
            workspace=workspace,
        )
        for alert_id, evidence in alert_evidence(workspace, chosen)
    ]


def run_approved(
    *, notify: Sequence[Sink] | None = None, workspace: Workspace | None = None
) -> list[RetrainRequestInfo]:
    """Run every approved request that has not started (the scheduler calls this)."""
    from shipyard.pipelines.retrain_run import run_request

    workspace = workspace or current()
    done = []
    for info in list_requests(status=APPROVED, workspace=workspace):
        try:
            done.append(run_request(info.id, notify=notify, workspace=workspace))
        except Conflict:
            continue  # another scheduler took it
    return done


__all__ = [
    "APPROVED",
    "CANDIDATE",
    "FAILED",
    "PENDING",
    "REJECTED",
    "RUNNING",
    "Decision",
    "RetrainRequestInfo",
    "approve",
    "get_request",
    "list_requests",
    "reject",
    "request_retrain",
    "requests_from_alerts",
    "run_approved",
    "scan",
    "start",
]
