"""The control plane's first schema: inbox, tasks, events, outbox, market journal, ledger.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "inbox",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("stimulus_id", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("task", sa.String(80), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("taken", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_inbox_taken", "inbox", ["taken"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("tenant", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(80), nullable=True),
        sa.Column("pool", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_tasks_tenant", "tasks", ["tenant"])
    op.create_index("ix_tasks_state", "tasks", ["state"])
    op.create_table(
        "events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("stimulus_id", sa.String(200), nullable=False),
        sa.Column("task", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
    )
    op.create_index("ix_events_task_seq", "events", ["task", "seq"])
    op.create_table(
        "outbox",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_outbox_done", "outbox", ["done"])
    op.create_table(
        "market_ops",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("body", sa.JSON(), nullable=False),
    )
    op.create_table(
        "ledger_records",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("body", sa.JSON(), nullable=False),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("down", sa.Boolean(), nullable=False),
        sa.Column("last_seen", TS, nullable=True),
    )
    op.create_table(
        "cuts",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("cuts", "sites", "ledger_records", "market_ops", "outbox", "events", "tasks"):
        op.drop_table(table)
    op.drop_table("inbox")
    op.drop_table("meta")
