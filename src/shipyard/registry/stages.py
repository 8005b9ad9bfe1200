"""Stage changes: promote along staging → canary → production, archive, roll back.

Rules:

- at most one version holds ``staging``, ``canary`` and ``production`` each
  (the ``model_stages`` primary key); the production version a promotion
  replaces becomes ``archived`` and stays loadable;
- the normal path is none → staging → canary → production; going to
  production from anywhere but canary needs ``skip_canary=True``, the
  ``approver`` role and a reason;
- ``developer`` may promote to staging and canary, ``approver`` to
  production, and only an approver rolls back;
- gates run for the stages the model's gate config lists (default: staging);
- a promotion reads the model's ``state_rev`` before its gates run and
  writes only if it is unchanged (compare-and-swap in the write
  transaction), so of two concurrent promotions exactly one wins and the
  other gets ``Conflict``; both attempts are in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shipyard.access import Principal, authenticate, require
from shipyard.errors import Conflict, GateFailed, InvalidInput, PermissionDenied
from shipyard.registry import approvals, audit, gates
from shipyard.registry.audit import Attempt, Transition
from shipyard.registry.catalog import (
    ModelVersionInfo,
    model_row,
    stage_map,
    to_info,
    version_row,
)
from shipyard.registry.refs import ALL_STAGES, ARCHIVED, NONE
from shipyard.store.lineage import Edge, insert_edges
from shipyard.store.schema.registry import ModelStage, ModelVersion, RegisteredModel
from shipyard.store.types import utcnow
from shipyard.workspace import Workspace, current

ALLOWED_FROM = {"staging": (NONE, ARCHIVED), "canary": ("staging",), "production": ("canary",)}


@dataclass(frozen=True)
class _State:
    info: ModelVersionInfo
    model_id: int
    rev: int
    stages: dict[str, int]


def _read(workspace: Workspace, ref: str) -> _State:
    with workspace.store.read() as session:
        model, row = version_row(session, ref)
        return _State(
            to_info(session, model, row), model.id, model.state_rev, stage_map(session, model.id)
        )


def _principal(workspace: Workspace, token: str | None) -> Principal:
    return authenticate(token or workspace.settings.token or None, workspace=workspace)


def _check_to(to: str) -> str:
    if to not in ALL_STAGES:
        raise InvalidInput(f"Unknown stage {to!r}; use one of {', '.join(ALL_STAGES)}.", field="to")
    return to


def promote(
    ref: str,
    to: str,
    *,
    reason: str = "",
    skip_canary: bool = False,
    breaking: bool = False,
    token: str | None = None,
    gates_config: Mapping[str, Any] | None = None,
    workspace: Workspace | None = None,
) -> Transition:
    """Move version ``ref`` to stage ``to``; returns the audited transition."""
    workspace = workspace or current()
    state = _read(workspace, ref)
    info, to = state.info, _check_to(to)
    principal = _principal(workspace, token)
    attempt = Attempt(state.model_id, info.version, info.stage, to, principal.name, reason)
    try:
        _authorize(principal, info, to, skip_canary)
        _check_path(info, to, skip_canary, reason)
        if to == "production":  # retrained versions need a person's approval (approvals.py)
            with workspace.store.read() as session:
                approvals.check_production(session, info.ref)
    except GateFailed as error:
        audit.record(workspace, attempt, audit.BLOCKED, error.message, error.report)
        raise
    except PermissionDenied as error:
        audit.record(workspace, attempt, audit.DENIED, error.message)
        raise
    except InvalidInput as error:
        audit.record(workspace, attempt, audit.REFUSED, error.message)
        raise
    report = _gate(workspace, info, to, breaking, gates_config)
    if report is not None and not report.passed:
        audit.record(workspace, attempt, audit.BLOCKED, report.summary(), report.to_dict())
        raise gates.failure(report)
    detail = "skip-canary" if skip_canary and info.stage != "canary" and to == "production" else ""
    return _apply(workspace, state, attempt, detail, report.to_dict() if report else None)


def _authorize(principal: Principal, info: ModelVersionInfo, to: str, skip_canary: bool) -> None:
    role = "approver" if to == "production" or skip_canary else "developer"
    require(
        principal,
        role,
        f"Promoting {info.ref} to {to}" + (" skipping canary" if skip_canary else ""),
    )


def _check_path(info: ModelVersionInfo, to: str, skip_canary: bool, reason: str) -> None:
    if info.stage == to:
        raise InvalidInput(f"{info.ref} is already in {to}.", field="to")
    if to == ARCHIVED:
        return
    if to == "production" and info.stage != "canary":
        if not skip_canary:
            raise InvalidInput(
                f"{info.ref} is in {info.stage}, not canary: production is reached through "
                f"canary. Promote it with --to canary first, or, as an approver, pass "
                "--skip-canary with a --reason.",
                field="to",
            )
        if not reason.strip():
            raise InvalidInput(
                "--skip-canary needs a --reason saying why canary is skipped.", field="reason"
            )
        return
    if info.stage not in ALLOWED_FROM[to]:
        raise InvalidInput(
            f"{info.ref} is in {info.stage}; {to} is entered from "
            f"{' or '.join(ALLOWED_FROM[to])}. The path is staging → canary → production.",
            field="to",
        )


def _gate(
    workspace: Workspace,
    info: ModelVersionInfo,
    to: str,
    breaking: bool,
    override: Mapping[str, Any] | None,
) -> gates.GateReport | None:
    config = gates.gate_config(workspace, info.name, override)
    if to not in gates.gated_stages(config):
        return None
    return gates.run_gates(workspace, info, stage=to, config=config, breaking=breaking)


def _apply(
    workspace: Workspace,
    state: _State,
    attempt: Attempt,
    detail: str,
    report: dict[str, Any] | None,
    *,
    remember: bool = True,
) -> Transition:
    try:
        with workspace.store.write() as session:
            _swap_rev(session, state)
            replaced = _move(session, state, attempt.to_stage, remember=remember)
            row = audit.insert(session, attempt, audit.DONE, detail, report)
            if replaced is not None:
                audit.insert(
                    session,
                    Attempt(
                        state.model_id,
                        replaced,
                        "production",
                        ARCHIVED,
                        attempt.who,
                        attempt.reason,
                    ),
                    audit.DONE,
                    f"replaced by {state.info.ref}",
                )
            name = state.info.name
            insert_edges(
                session,
                [
                    Edge(
                        ("model_version", state.info.ref),
                        ("stage", f"{name}@{attempt.to_stage}"),
                        "stage",
                    )
                ],
            )
            return audit.to_transition(name, row)
    except Conflict as error:
        audit.record(workspace, attempt, audit.CONFLICT, error.message, report)
        raise


def _swap_rev(session: Session, state: _State) -> None:
    done = session.execute(
        update(RegisteredModel)
        .where(RegisteredModel.id == state.model_id, RegisteredModel.state_rev == state.rev)
        .values(state_rev=RegisteredModel.state_rev + 1)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            f"The stages of model '{state.info.name}' changed while this change of "
            f"{state.info.ref} was being checked (another promotion or rollback won). "
            f"Look at `shipyard models history {state.info.name}` and try again.",
            kind="model",
            name=state.info.name,
        )


def _move(session: Session, state: _State, to: str, *, remember: bool) -> int | None:
    """Put the version in ``to``; returns the production version it replaced, if any."""
    model_id, version = state.model_id, state.info.version
    session.execute(
        delete(ModelStage).where(ModelStage.model_id == model_id, ModelStage.version == version)
    )
    _set_archived(session, model_id, version, to == ARCHIVED)
    if to == ARCHIVED:
        return None
    holder = state.stages.get(to)
    replaced = None
    if to == "production" and holder is not None and holder != version:
        _set_archived(session, model_id, holder, True)
        replaced = holder
    session.execute(
        delete(ModelStage).where(ModelStage.model_id == model_id, ModelStage.stage == to)
    )
    session.add(
        ModelStage(
            model_id=model_id,
            stage=to,
            version=version,
            previous_version=replaced if remember else None,
            updated_at=utcnow(),
        )
    )
    return replaced


def _set_archived(session: Session, model_id: int, version: int, archived: bool) -> None:
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.model_id == model_id, ModelVersion.version == version)
        .values(archived=archived)
    )


def rollback(
    name: str, reason: str = "", *, token: str | None = None, workspace: Workspace | None = None
) -> Transition:
    """Put the production version that the current one replaced back, in one step."""
    workspace = workspace or current()
    principal = _principal(workspace, token)
    try:
        require(principal, "approver", f"Rolling back model '{name}'")
    except PermissionDenied as error:
        with workspace.store.read() as session:
            model = model_row(session, name)
            held = stage_map(session, model.id).get("production", 0)
        audit.record(
            workspace,
            Attempt(model.id, held, "production", "rollback", principal.name, reason),
            audit.DENIED,
            error.message,
        )
        raise
    state = _read(workspace, f"{name}@production")
    with workspace.store.read() as session:
        previous = session.scalar(
            select(ModelStage.previous_version).where(
                ModelStage.model_id == state.model_id, ModelStage.stage == "production"
            )
        )
    if previous is None:
        raise InvalidInput(
            f"Model '{name}' has no previous production version to roll back to (production "
            f"is {state.info.ref}). Promote another version instead.",
            field="name",
        )
    target = _read(workspace, f"{name}/{previous}")
    back = Attempt(
        state.model_id, previous, target.info.stage, "production", principal.name, reason
    )
    return _apply(
        workspace,
        _State(target.info, state.model_id, state.rev, state.stages),
        back,
        f"rollback: replaces {state.info.ref}",
        None,
        remember=False,
    )
