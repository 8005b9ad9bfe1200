"""data: dataset snapshots

Revision ID: 0002_data
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shipyard.store.types

revision: str = "0002_data"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("profile_sha256", sa.String(length=64), nullable=False),
        sa.Column("columns", shipyard.store.types.JSONText(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("user", sa.String(length=255), nullable=False),
        sa.Column("created_at", shipyard.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_dataset_snapshots_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_snapshots")),
        sa.UniqueConstraint(
            "name", "content_hash", name=op.f("uq_dataset_snapshots_name_content_hash")
        ),
        sa.UniqueConstraint("name", "version", name=op.f("uq_dataset_snapshots_name_version")),
    )
    with op.batch_alter_table("dataset_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_snapshots_content_hash"), ["content_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dataset_snapshots_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dataset_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_snapshots_run_id"))
        batch_op.drop_index(batch_op.f("ix_dataset_snapshots_content_hash"))
    op.drop_table("dataset_snapshots")
