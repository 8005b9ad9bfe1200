"""Retraining tables: retrain requests and the decisions people take on them.

A retrain request is the lineage node ``("retrain_request", ID)``:
``("alert", ID) -triggered-> retrain_request`` for a drift trigger,
``("schedule", "retrain:NAME") -triggered->`` for a scheduled one,
``retrain_request -decided-> ("retrain_decision", ID)`` for each approval or
rejection, ``retrain_request -started-> ("run", RUN)`` for the pipeline run it
started, and the run ``-produced->`` the candidate ``model_version`` as usual.
The registry refuses production to a version below a request without an
``approved`` decision (``shipyard.registry.approvals``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.store.schema.base import Base
from shipyard.store.types import JSONText, UTCDateTime, utcnow


class RetrainRequest(Base):
    """A request to retrain one model: trigger, evidence, status, outcome."""

    __tablename__ = "retrain_requests"
    # One request per trigger occurrence (an alert, a cron tick), even with two scanners.
    __table_args__ = (UniqueConstraint("policy", "trigger", "trigger_ref"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    policy: Mapped[str] = mapped_column(String(255), index=True)
    model: Mapped[str] = mapped_column(String(255), index=True)
    trigger: Mapped[str] = mapped_column(String(16))
    trigger_ref: Mapped[str] = mapped_column(String(255))
    pipeline: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONText)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONText)
    status: Mapped[str] = mapped_column(String(24), index=True)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(300), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    comparison: Mapped[dict[str, Any] | None] = mapped_column(JSONText, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RetrainDecision(Base):
    """An approval or a rejection of a request: who, with which role, why, when."""

    __tablename__ = "retrain_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("retrain_requests.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    who: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
