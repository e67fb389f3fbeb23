"""Provider onboarding: registered sites and their latest heartbeats.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "site_registry",
        sa.Column("site", sa.String(80), primary_key=True),
        sa.Column("provider", sa.String(80), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("registered_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "site_status",
        sa.Column("site", sa.String(80), primary_key=True),
        sa.Column("seen_at", TS, nullable=False),
        sa.Column("online", sa.JSON(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("site_status")
    op.drop_table("site_registry")
