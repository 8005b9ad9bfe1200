"""Feature store tables: versioned definitions, applies, materializations.

Nodes of the lineage graph: ``("feature_view", "NAME/vN")`` for every version of
a feature view (batch or on-demand), ``("entity", NAME)``, ``("feature_service",
NAME)``, ``("feature_apply", ID)`` and ``("materialization", ID)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.store.schema.base import Base
from shipyard.store.types import JSONText, UTCDateTime, utcnow


class FeatureDefinition(Base):
    """The head of a definition: its newest version and whether it is still applied."""

    __tablename__ = "feature_definitions"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    latest_version: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeatureDefinitionVersion(Base):
    """One immutable version of a definition: its JSON spec and the spec's hash."""

    __tablename__ = "feature_definition_versions"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeatureApply(Base):
    """One ``features apply``: who, when, and the plan it carried out."""

    __tablename__ = "feature_applies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user: Mapped[str] = mapped_column(String(255), default="")
    summary: Mapped[dict[str, Any]] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeatureMaterialization(Base):
    """One materialization of a view version into the online store, with its window."""

    __tablename__ = "feature_materializations"
    __table_args__ = (Index("ix_feature_materializations_view_end", "view", "end_ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    view: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    start_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    rows: Mapped[int] = mapped_column(BigInteger)
    online_store: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
