"""retrain: retrain requests and decisions

Revision ID: 0009_retrain
Revises: 0001_foundation
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shipyard.store.types

revision: str = "0009_retrain"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = shipyard.store.types.UTCDateTime
_JSON = shipyard.store.types.JSONText


def upgrade() -> None:
    op.create_table(
        "retrain_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("policy", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("trigger_ref", sa.String(length=255), nullable=False),
        sa.Column("pipeline", sa.Text(), nullable=False),
        sa.Column("params", _JSON(), nullable=False),
        sa.Column("evidence", _JSON(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("model_version", sa.String(length=300), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=True),
        sa.Column("comparison", _JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.Column("updated_at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_requests")),
        sa.UniqueConstraint(
            "policy",
            "trigger",
            "trigger_ref",
            name=op.f("uq_retrain_requests_policy_trigger_trigger_ref"),
        ),
    )
    with op.batch_alter_table("retrain_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retrain_requests_model"), ["model"], unique=False)
        batch_op.create_index(batch_op.f("ix_retrain_requests_policy"), ["policy"], unique=False)
        batch_op.create_index(batch_op.f("ix_retrain_requests_status"), ["status"], unique=False)
    op.create_table(
        "retrain_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("who", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["retrain_requests.id"],
            name=op.f("fk_retrain_decisions_request_id_retrain_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_decisions")),
    )
    with op.batch_alter_table("retrain_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_retrain_decisions_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("retrain_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retrain_decisions_request_id"))
    op.drop_table("retrain_decisions")
    with op.batch_alter_table("retrain_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retrain_requests_status"))
        batch_op.drop_index(batch_op.f("ix_retrain_requests_policy"))
        batch_op.drop_index(batch_op.f("ix_retrain_requests_model"))
    op.drop_table("retrain_requests")
