"""Serving tables: deployments, the lineage node ``("deployment", NAME)``.

A deployment is bound to a model name (edge ``("model", NAME) -serves->
("deployment", NAME)``); which version it serves is the registry's stage
table at any moment, so nothing here changes on a promotion. A deployment
with a feature service has the edge ``("feature_service", NAME) -features->
("deployment", NAME)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.store.schema.base import Base
from shipyard.store.types import JSONText, UTCDateTime, utcnow


class Deployment(Base):
    """A named serving endpoint: model, canary share, shadow, batching, features, cache."""

    __tablename__ = "deployments"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(255), index=True)
    canary_percent: Mapped[float] = mapped_column(Float, default=0.0)
    shadow: Mapped[str | None] = mapped_column(String(300), nullable=True)
    batching: Mapped[dict[str, Any]] = mapped_column(JSONText)
    log_predictions: Mapped[bool] = mapped_column(Boolean, default=True)
    warm_seconds: Mapped[float] = mapped_column(Float)
    feature_service: Mapped[str | None] = mapped_column(String(255), nullable=True)
    cache: Mapped[dict[str, Any] | None] = mapped_column(JSONText, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
