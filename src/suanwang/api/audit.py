"""The audit log: every state-changing call, appended to the store's ``audit`` table and
hash-chained (:mod:`suanwang.core.audit_chain`), so that an edit or a deletion is detected
by :meth:`AuditLog.verify` (``suanwang audit verify``).

Appends are serialised across threads and processes, so two entries never share a ``prev``:
each append runs in its own transaction that takes the store's audit lock (PostgreSQL:
``pg_advisory_xact_lock``, released at commit; SQLite: ``BEGIN IMMEDIATE``, the database's
write lock), then reads the last entry and inserts the next with an explicit ``seq``. The
primary key on ``seq`` is a second guard: were two appenders ever to race (another
dialect, no lock), one insert fails and that append is retried on the new last entry.

:meth:`AuditLog.append_many` appends several entries in one such transaction (one read of
the last entry, the new ones chained to it and to each other) and can run other writes in
the same transaction first, so that an action and its audit entry commit together: the API's
group-commit writer (:mod:`suanwang.api.writer`) writes the inbox rows and audit entries of
concurrent requests that way.

Do not call :meth:`AuditLog.append` while this thread holds a write transaction on the same
SQLite database: it would wait for that transaction's lock until the busy timeout.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from suanwang.control.store import Store, StoreError
from suanwang.control.store.schema import AuditRow
from suanwang.core.audit_chain import (
    GENESIS,
    ChainBreak,
    ChainReport,
    canonical_json,
    check_chain,
    entry_hash,
)

AUDIT_LOCK_KEY = 0x5357_0002
"""The PostgreSQL advisory-lock key that serialises audit appends ('SW', 2)."""

MAX_ATTEMPTS = 20
"""How often an append is retried after losing a race on ``seq`` (only without a lock)."""

COLUMNS = (
    "seq",
    "at",
    "principal",
    "role",
    "action",
    "target",
    "source",
    "outcome",
    "detail",
    "prev",
    "hash",
)
"""The columns of an entry, in the order :meth:`AuditLog.rows` gives them."""

LIMITS = {
    "principal": 80,
    "role": 16,
    "action": 80,
    "target": 300,
    "source": 100,
    "outcome": 40,
}
"""The longest text each column holds; a longer value is cut, ending in ``…``."""

Entry = dict[str, Any]
"""An audit entry as a dict of :data:`COLUMNS` (``at`` an aware UTC datetime)."""

LAST_ENTRY = select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
INSERT_ENTRIES = insert(AuditRow)
"""The statements of an append, built once (building them is most of a small append's cost)."""


def _now() -> datetime:
    return datetime.now(UTC)


def clean_text(value: object, limit: int) -> str:
    """``value`` as text a database column of ``limit`` characters holds: no NUL, no lone
    surrogate, at most ``limit`` characters (a longer one is cut and ends in ``…``)."""
    text = str(value).replace("\x00", "\ufffd")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_detail(detail: Mapping[str, object] | None) -> dict[str, Any]:
    """``detail`` as the plain JSON object the database gives back (datetimes as canonical
    text, tuples as lists, no lone surrogate), so that what is hashed is what is stored.

    Raises:
        TypeError, ValueError: a value JSON cannot hold (or NaN, an infinity).
    """
    if detail is None:
        return {}
    text = canonical_json(dict(detail)).encode("utf-8", "replace").decode("utf-8")
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def _entry(row: Mapping[Any, Any]) -> Entry:
    out = {c: row[c] for c in COLUMNS}
    at = out["at"]
    if isinstance(at, datetime):  # SQLite gives naive UTC back
        out["at"] = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return out


def entry_fields(
    *,
    principal: str,
    role: str,
    action: str,
    target: str,
    source: str,
    outcome: str,
    detail: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """The fields of an entry as they will be stored (texts cut to :data:`LIMITS`, ``detail``
    as plain JSON), without ``seq``, ``at``, ``prev`` and ``hash``, which the append gives.

    Raises:
        TypeError, ValueError: ``detail`` is not JSON.
    """
    return {
        "principal": clean_text(principal, LIMITS["principal"]),
        "role": clean_text(role, LIMITS["role"]),
        "action": clean_text(action, LIMITS["action"]),
        "target": clean_text(target, LIMITS["target"]),
        "source": clean_text(source, LIMITS["source"]),
        "outcome": clean_text(outcome, LIMITS["outcome"]),
        "detail": clean_detail(detail),
    }


def _run_before(before: Callable[[Connection], None] | None, conn: Connection, url: str) -> None:
    if before is None:
        return
    try:
        before(conn)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise StoreError(f"cannot write to {url}: {reason}") from exc


class AuditLog:
    """The store's append-only, hash-chained audit log."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = _now) -> None:
        self.store = store
        self.clock = clock
        self.conflicts = 0
        """Appends retried after losing a race on ``seq`` (stays 0 while the lock works)."""
        self._count_lock = threading.Lock()

    # --- writing --------------------------------------------------------------------------------
    def append(
        self,
        *,
        principal: str,
        role: str,
        action: str,
        target: str,
        source: str,
        outcome: str,
        detail: Mapping[str, object] | None = None,
    ) -> Entry:
        """Append one entry in its own transaction and return it as stored (with ``seq``,
        ``at``, ``prev`` and ``hash``). Texts longer than their column are cut (see
        :data:`LIMITS`); ``detail`` must be JSON (datetimes allowed).

        Raises:
            TypeError, ValueError: ``detail`` is not JSON.
            StoreError: the entry cannot be written.
        """
        fields = entry_fields(
            principal=principal,
            role=role,
            action=action,
            target=target,
            source=source,
            outcome=outcome,
            detail=detail,
        )
        return self.append_many([fields])[0]

    def append_many(
        self,
        fields: Sequence[Mapping[str, Any]],
        *,
        before: Callable[[Connection], None] | None = None,
    ) -> list[Entry]:
        """Append entries, in order, in one transaction under the audit lock, and return them
        as stored. Each of ``fields`` comes from :func:`entry_fields`. ``before(conn)``, if
        given, runs first in the same transaction (the writes the entries record): all of it
        commits, or none. The last entry is read once, under the lock, and the new entries
        chained to it and to each other.

        Raises:
            StoreError: nothing could be written (``before`` failed, or the database did).
        """
        if not fields:
            if before is not None:
                self._write(before)
            return []
        for _ in range(MAX_ATTEMPTS):
            try:
                with self._locked(before) as conn:
                    last = conn.execute(LAST_ENTRY).first()
                    seq, prev = (1, GENESIS) if last is None else (int(last[0]) + 1, str(last[1]))
                    entries: list[Entry] = []
                    for f in fields:
                        at = self.clock()
                        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
                        entry: Entry = {"seq": seq, "at": at, **f, "prev": prev}
                        entry["hash"] = prev = entry_hash(prev, entry)
                        entries.append(entry)
                        seq += 1
                    conn.execute(INSERT_ENTRIES, entries)
                return entries
            except IntegrityError:
                with self._count_lock:
                    self.conflicts += 1
            except SQLAlchemyError as exc:
                reason = getattr(exc, "orig", None) or exc
                raise StoreError(
                    f"cannot append to the audit log of {self.store.url}: {reason}"
                ) from exc
        raise StoreError(
            f"cannot append to the audit log of {self.store.url}: lost the race for the next "
            f"entry {MAX_ATTEMPTS} times"
        )

    def _write(self, before: Callable[[Connection], None]) -> None:
        """``before`` alone, in a transaction of its own (no entry to append)."""
        try:
            with self.store.engine.begin() as conn:
                before(conn)
        except SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(f"cannot write to {self.store.url}: {reason}") from exc

    @contextmanager
    def _locked(self, before: Callable[[Connection], None] | None = None) -> Iterator[Connection]:
        """A transaction holding the audit lock, in which ``before`` (if given) has run;
        commits at the end, or rolls back. A database error in ``before`` is a
        :class:`StoreError` (not retried: it is not a lost race on ``seq``)."""
        engine = self.store.engine
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                # pysqlite begins transactions lazily (and only before DML); take the write
                # lock now, before reading the last entry. COMMIT/ROLLBACK below end it.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    _run_before(before, conn, self.store.url)
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            return
        with engine.begin() as conn:
            # the other writes first: the lock is held only from here to the commit
            _run_before(before, conn, self.store.url)
            if engine.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))
            yield conn

    # --- reading --------------------------------------------------------------------------------
    def rows(self, limit: int = 100, after_seq: int | None = None) -> list[Entry]:
        """Entries in ``seq`` order: the first ``limit`` after ``after_seq`` (to page
        forward), or without ``after_seq`` the latest ``limit``."""
        if limit <= 0:
            return []
        cols = [AuditRow.__table__.c[c] for c in COLUMNS]
        query = select(*cols)
        if after_seq is not None:
            query = query.where(AuditRow.seq > after_seq).order_by(AuditRow.seq).limit(limit)
        else:
            query = query.order_by(AuditRow.seq.desc()).limit(limit)
        with self.store.engine.connect() as conn:
            found = [_entry(r) for r in conn.execute(query).mappings()]
        return found if after_seq is not None else found[::-1]

    def count(self) -> int:
        """How many entries the log holds."""
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(AuditRow)).scalar_one())

    def iter_all(self, batch: int = 1000) -> Iterator[Entry]:
        """Every entry in ``seq`` order, read as one consistent snapshot in batches."""
        cols = [AuditRow.__table__.c[c] for c in COLUMNS]
        query = select(*cols).order_by(AuditRow.seq).execution_options(yield_per=batch)
        with self.store.engine.connect() as conn, conn.begin():
            for row in conn.execute(query).mappings():
                yield _entry(row)

    def report(self, anchors: Mapping[int, str] | None = None) -> ChainReport:
        """Check the whole chain (and any ``{seq: hash}`` anchors noted earlier)."""
        return check_chain(self.iter_all(), anchors=(anchors or {}).items())

    def verify(self) -> list[ChainBreak]:
        """Every break in the chain, in ``seq`` order; empty when it is intact."""
        return list(self.report().breaks)
