"""monitoring: monitor targets, label batches, monitor results and metrics, alerts

Revision ID: 0008_monitoring
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shipyard.store.types

revision: str = "0008_monitoring"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = shipyard.store.types.UTCDateTime
_JSON = shipyard.store.types.JSONText


def upgrade() -> None:
    op.create_table(
        "monitor_targets",
        sa.Column("model_version", sa.String(length=300), nullable=False),
        sa.Column("task", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("features", _JSON(), nullable=False),
        sa.Column("reference", _JSON(), nullable=True),
        sa.Column("predictions_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model_version", name=op.f("pk_monitor_targets")),
    )
    op.create_table(
        "label_batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("deployment", sa.String(length=128), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("key_column", sa.String(length=255), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_batches")),
        sa.UniqueConstraint(
            "deployment", "content_hash", name=op.f("uq_label_batches_deployment_content_hash")
        ),
    )
    with op.batch_alter_table("label_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_label_batches_deployment"), ["deployment"], unique=False
        )
    op.create_table(
        "monitor_results",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("deployment", sa.String(length=128), nullable=False),
        sa.Column("window_start", _UTC(timezone=True), nullable=False),
        sa.Column("window_end", _UTC(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(length=300), nullable=True),
        sa.Column("n_predictions", sa.BigInteger(), nullable=False),
        sa.Column("n_labelled", sa.BigInteger(), nullable=False),
        sa.Column("summary", _JSON(), nullable=False),
        sa.Column("report_path", sa.Text(), nullable=True),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_results")),
    )
    with op.batch_alter_table("monitor_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitor_results_deployment_window", ["deployment", "window_end"], unique=False
        )
    op.create_table(
        "monitor_metrics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("result_id", sa.String(length=32), nullable=False),
        sa.Column("deployment", sa.String(length=128), nullable=False),
        sa.Column("window_end", _UTC(timezone=True), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("feature", sa.String(length=255), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("route", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["monitor_results.id"],
            name=op.f("fk_monitor_metrics_result_id_monitor_results"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_metrics")),
    )
    with op.batch_alter_table("monitor_metrics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_metrics_result_id"), ["result_id"], unique=False
        )
        batch_op.create_index(
            "ix_monitor_metrics_series", ["deployment", "metric", "window_end"], unique=False
        )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("deployment", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("feature", sa.String(length=255), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.String(length=32), nullable=False),
        sa.Column("evidence", _JSON(), nullable=False),
        sa.Column("first_at", _UTC(timezone=True), nullable=False),
        sa.Column("last_at", _UTC(timezone=True), nullable=False),
        sa.Column("notified_at", _UTC(timezone=True), nullable=True),
        sa.Column("acked_by", sa.String(length=255), nullable=True),
        sa.Column("acked_at", _UTC(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_deployment"), ["deployment"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_fingerprint"), ["fingerprint"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_status"))
        batch_op.drop_index(batch_op.f("ix_alerts_fingerprint"))
        batch_op.drop_index(batch_op.f("ix_alerts_deployment"))
    op.drop_table("alerts")
    with op.batch_alter_table("monitor_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_monitor_metrics_series")
        batch_op.drop_index(batch_op.f("ix_monitor_metrics_result_id"))
    op.drop_table("monitor_metrics")
    with op.batch_alter_table("monitor_results", schema=None) as batch_op:
        batch_op.drop_index("ix_monitor_results_deployment_window")
    op.drop_table("monitor_results")
    with op.batch_alter_table("label_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_batches_deployment"))
    op.drop_table("label_batches")
    op.drop_table("monitor_targets")
