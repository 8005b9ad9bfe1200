"""Monitoring tables: what is monitored, label batches, monitor results as time series, alerts.

Lineage (DESIGN.md §1):

- ``("model_version", "NAME/V") -monitored-as-> ("monitor_target", "NAME/V")``: the
  top-k features and the reference predictions recorded for a version;
- ``("deployment", NAME) -labels-> ("ground_truth", BATCH_ID)``: one ingested batch
  of labels (the rows themselves are Parquet, joined to predictions by id);
- ``("deployment", NAME) -monitored-> ("monitor_result", ID) -raised-> ("alert", ID)``.

``monitor_metrics`` is the time series: one value per metric, feature,
version and route of each monitor run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.store.schema.base import Base
from shipyard.store.types import JSONText, UTCDateTime, utcnow


class MonitorTarget(Base):
    """The features monitored for a version, how they were ranked, and its reference."""

    __tablename__ = "monitor_targets"

    model_version: Mapped[str] = mapped_column(String(300), primary_key=True)
    task: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(32))
    features: Mapped[list[dict[str, Any]]] = mapped_column(JSONText)
    reference: Mapped[dict[str, Any] | None] = mapped_column(JSONText, nullable=True)
    predictions_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LabelBatch(Base):
    """One ingest of ground truth: where from, how many rows were kept and refused."""

    __tablename__ = "label_batches"
    __table_args__ = (UniqueConstraint("deployment", "content_hash"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(128), index=True)
    source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    key_column: Mapped[str] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(BigInteger)
    accepted: Mapped[int] = mapped_column(BigInteger)
    rejected: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonitorResult(Base):
    """One monitor run over a window of one deployment, with its whole summary."""

    __tablename__ = "monitor_results"
    __table_args__ = (Index("ix_monitor_results_deployment_window", "deployment", "window_end"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(128))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    model_version: Mapped[str | None] = mapped_column(String(300), nullable=True)
    n_predictions: Mapped[int] = mapped_column(BigInteger)
    n_labelled: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONText)
    report_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonitorMetric(Base):
    """One point of a monitoring time series (NaN stored as NULL)."""

    __tablename__ = "monitor_metrics"
    __table_args__ = (Index("ix_monitor_metrics_series", "deployment", "metric", "window_end"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    result_id: Mapped[str] = mapped_column(ForeignKey("monitor_results.id"), index=True)
    deployment: Mapped[str] = mapped_column(String(128))
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    metric: Mapped[str] = mapped_column(String(64))
    feature: Mapped[str] = mapped_column(String(255), default="")
    model_version: Mapped[str] = mapped_column(String(32), default="")
    route: Mapped[str] = mapped_column(String(32), default="")
    value: Mapped[float | None] = mapped_column(Float, nullable=True)


class Alert(Base):
    """A fired alert rule: its evidence, how often it recurred, and who acknowledged it."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(128), index=True)
    rule: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    metric: Mapped[str] = mapped_column(String(64))
    feature: Mapped[str] = mapped_column(String(255), default="")
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(8))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    result_id: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONText)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
