"""The tables (SQLAlchemy 2 declarative). Changing them needs an Alembic migration.

The event log (``events``) and the market journal (``market_ops``) are the sources of truth:
a restart replays them into the engine and the market. ``tasks`` is a projection kept for
queries; ``inbox`` holds requests the runtime has not taken yet; ``outbox`` holds backend
instructions not yet carried out (the runtime re-runs them after a crash: they are
idempotent); ``ledger_records`` is the ledger's append-only record stream, checked by
``suanwang ledger verify --db``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Seq = BigInteger().with_variant(Integer(), "sqlite")
"""Auto-increment keys: BIGINT on PostgreSQL, INTEGER (the rowid) on SQLite."""


class Base(DeclarativeBase):
    """Declarative base of every control-plane table."""


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class InboxRow(Base):
    """A request from the service layer (submit, cancel, operator action) not yet taken."""

    __tablename__ = "inbox"
    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    stimulus_id: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    task: Mapped[str | None] = mapped_column(String(80), nullable=True)
    body: Mapped[dict[str, object]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    taken: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class TaskRow(Base):
    """The query projection of a task (the engine's record plus what the user sent)."""

    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(80), index=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    site: Mapped[str | None] = mapped_column(String(80), nullable=True)
    pool: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EventRow(Base):
    """One engine event, in the order the engine handled it."""

    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    stimulus_id: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, object]] = mapped_column(JSON)

    __table_args__ = (Index("ix_events_task_seq", "task", "seq"),)


class OutboxRow(Base):
    """A backend instruction (dispatch or stop) to carry out; ``done`` once it was."""

    __tablename__ = "outbox"
    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    op: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, object]] = mapped_column(JSON)
    done: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class MarketOpRow(Base):
    """One call into the market, replayed on restart to rebuild it exactly."""

    __tablename__ = "market_ops"
    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    body: Mapped[dict[str, object]] = mapped_column(JSON)


class LedgerRow(Base):
    """One ledger record (header, account, budget, lease or transaction), append-only."""

    __tablename__ = "ledger_records"
    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    body: Mapped[dict[str, object]] = mapped_column(JSON)


class SiteRow(Base):
    """A site's health as the runtime sees it."""

    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    down: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CutRow(Base):
    """A network failure an operator declared (a FailureSpec as JSON), until restored."""

    __tablename__ = "cuts"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TokenRow(Base):
    """An API token: only its SHA-256 is kept; scoped to a principal and a role."""

    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    principal: Mapped[str] = mapped_column(String(80), index=True)
    role: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditRow(Base):
    """One state-changing call, append-only and hash-chained (``hash`` covers ``prev`` and
    the row's own fields), so that any edit or deletion is detected."""

    __tablename__ = "audit"
    seq: Mapped[int] = mapped_column(Seq, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    principal: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, object]] = mapped_column(JSON)
    prev: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class SiteOwnerRow(Base):
    """Which provider principal may update a site (registered through the API)."""

    __tablename__ = "site_owners"
    site: Mapped[str] = mapped_column(String(80), primary_key=True)
    provider: Mapped[str] = mapped_column(String(80), index=True)


class SiteRegistryRow(Base):
    """A site a provider registered or changed through the API (a ``Registered`` as JSON).

    ``revision`` grows by one with every change of the row, so the runtime sees a change by
    comparing ``(site, revision)`` pairs."""

    __tablename__ = "site_registry"
    site: Mapped[str] = mapped_column(String(80), primary_key=True)
    provider: Mapped[str] = mapped_column(String(80))
    body: Mapped[dict[str, object]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SiteStatusRow(Base):
    """A site's latest heartbeat from its provider agent: devices online per pool (``None``:
    all of them) and free-form live metrics."""

    __tablename__ = "site_status"
    site: Mapped[str] = mapped_column(String(80), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    online: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    metrics: Mapped[dict[str, object]] = mapped_column(JSON)
    agent: Mapped[str] = mapped_column(String(200))
