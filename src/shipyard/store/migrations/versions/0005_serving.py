"""serving: deployments

Revision ID: 0005_serving
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shipyard.store.types

revision: str = "0005_serving"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("canary_percent", sa.Float(), nullable=False),
        sa.Column("shadow", sa.String(length=300), nullable=True),
        sa.Column("batching", shipyard.store.types.JSONText(), nullable=False),
        sa.Column("log_predictions", sa.Boolean(), nullable=False),
        sa.Column("warm_seconds", sa.Float(), nullable=False),
        sa.Column("created_at", shipyard.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shipyard.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployments")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployments_model"), ["model"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_model"))
    op.drop_table("deployments")
