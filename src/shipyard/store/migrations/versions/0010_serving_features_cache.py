"""serving: a deployment's feature service and inference cache

Revision ID: 0010_serving_features_cache
Revises: 0005_serving
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shipyard.store.types

revision: str = "0010_serving_features_cache"
down_revision: str | Sequence[str] | None = "0005_serving"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: deployments created before this revision have neither (no lookup, cache off).
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feature_service", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("cache", shipyard.store.types.JSONText(), nullable=True),
        )


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("cache")
        batch_op.drop_column("feature_service")
