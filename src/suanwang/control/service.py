"""The service layer: what users, operators and (later) the HTTP API ask of the control plane.

Every request is validated here and written to the store's inbox in one transaction; the
runtime takes it on its next tick. Reads come from the store, so the service works from any
process while the runtime runs in another. Requests are idempotent by ``request_id`` (the
inbox's stimulus id): sending the same request twice queues it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from suanwang.control.store import Store
from suanwang.control.store.schema import CutRow, EventRow, InboxRow, SiteRow, TaskRow
from suanwang.core.base import Frozen
from suanwang.core.engine import Engine, Event, StoryLine, TaskState
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.network.failures import FailureSpec
from suanwang.core.tasks import TaskSpec


class TaskView(Frozen):
    """A task as the service shows it."""

    id: str
    name: str
    tenant: str
    state: str
    attempt: int
    site: str | None
    pool: int | None
    reason: str
    submitted_at: datetime | None
    updated_at: datetime | None


def new_task_id() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


class ControlService:
    """Requests in through the inbox, answers out of the store (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ids: Callable[[], str] = new_task_id,
    ) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids

    # --- requests ---------------------------------------------------------------------------
    def submit(self, spec: TaskSpec, *, request_id: str | None = None) -> str:
        """Queue one task; its id."""
        return self.submit_many([spec], request_ids=[request_id] if request_id else None)[0]

    def submit_many(
        self, specs: Sequence[TaskSpec], *, request_ids: Sequence[str] | None = None
    ) -> list[str]:
        """Queue tasks in one transaction (all or none); their ids, in order.

        A request id already used returns the task id it created and queues nothing new.
        """
        if request_ids is not None and len(request_ids) != len(specs):
            raise SuanwangError("give one request id per task")
        now = self.clock()
        ids: list[str] = []
        rows: list[InboxRow] = []
        known: dict[str, str] = {}
        if request_ids:
            with self.store.sessions() as s:
                known = {
                    sid: task
                    for sid, task in s.execute(
                        select(InboxRow.stimulus_id, InboxRow.task).where(
                            InboxRow.stimulus_id.in_([f"submit:{r}" for r in request_ids])
                        )
                    ).all()
                    if task is not None
                }
        for i, spec in enumerate(specs):
            sid_key = f"submit:{request_ids[i]}" if request_ids else None
            if sid_key is not None and sid_key in known:
                ids.append(known[sid_key])
                continue
            task = self.ids()
            ids.append(task)
            rows.append(
                InboxRow(
                    stimulus_id=sid_key or f"submit:{task}",
                    kind="submit",
                    task=task,
                    body={"spec": spec.model_dump(mode="json")},
                    at=now,
                    taken=False,
                )
            )
        self._write(rows)
        return ids

    def submissions(self, specs: Sequence[TaskSpec]) -> tuple[list[str], list[dict[str, Any]]]:
        """New tasks' ids and their inbox rows, not written: for a caller that writes the rows
        with :func:`insert_inbox` in a transaction of its own (the API's group commit)."""
        now = self.clock()
        ids = [self.ids() for _ in specs]
        rows: list[dict[str, Any]] = [
            {
                "stimulus_id": f"submit:{task}",
                "kind": "submit",
                "task": task,
                "body": {"spec": spec.model_dump(mode="json")},
                "at": now,
                "taken": False,
            }
            for task, spec in zip(ids, specs, strict=True)
        ]
        return ids, rows

    def cancel(self, task: str, *, request_id: str | None = None) -> None:
        """Ask the runtime to cancel a task (idempotent; a finished task stays as it is).

        Raises:
            UnknownIdError: no such task.
        """
        self.get(task)
        self._request("cancel", {"task": task}, request_id, task=task)

    def cut(self, failure: FailureSpec, *, request_id: str | None = None) -> str:
        """Declare links, cables or corridors cut; the failure's key (to restore it)."""
        self._request("cut", {"spec": failure.model_dump(mode="json")}, request_id)
        return failure.key

    def restore(self, key: str, *, request_id: str | None = None) -> None:
        """Bring back a failure by its key.

        Raises:
            UnknownIdError: no such failure is declared (nor queued).
        """
        with self.store.sessions() as s:
            known = set(s.execute(select(CutRow.key)).scalars())
            queued = [
                FailureSpec.model_validate(b["spec"]).key
                for b in s.execute(
                    select(InboxRow.body).where(InboxRow.kind == "cut", InboxRow.taken.is_(False))
                ).scalars()
            ]
        if key not in known and key not in queued:
            raise UnknownIdError("cut", key, sorted(known | set(queued)))
        self._request("restore", {"key": key}, request_id)

    def site_down(self, site: str, *, request_id: str | None = None) -> None:
        """Declare a site failed: its attempts are moved elsewhere."""
        self._request("site_down", {"site": site}, request_id)

    def site_up(self, site: str, *, request_id: str | None = None) -> None:
        self._request("site_up", {"site": site}, request_id)

    def _request(
        self, kind: str, body: dict[str, Any], request_id: str | None, *, task: str | None = None
    ) -> None:
        sid = f"{kind}:{request_id}" if request_id else f"{kind}:{uuid.uuid4().hex}"
        row = InboxRow(stimulus_id=sid, kind=kind, task=task, body=body, at=self.clock())
        row.taken = False
        try:
            self._write([row])
        except IntegrityError:
            with self.store.sessions() as s:
                first = s.execute(
                    select(InboxRow.task, InboxRow.body).where(InboxRow.stimulus_id == sid)
                ).one_or_none()
            if first is None or (first.task, dict(first.body)) != (task, body):
                raise SuanwangError(
                    f"request id {request_id!r} was already used for another {kind} request"
                ) from None
            # the same request again: already queued

    def _write(self, rows: Iterable[InboxRow]) -> None:
        with self.store.transaction() as s:
            s.add_all(list(rows))

    # --- reads ------------------------------------------------------------------------------
    def get(self, task: str) -> TaskView:
        """A task by id (submitted ones not yet taken by the runtime show as submitted).

        Raises:
            UnknownIdError: no such task.
        """
        with self.store.sessions() as s:
            row = s.get(TaskRow, task)
            if row is not None:
                return _view(row)
            inbox = s.execute(
                select(InboxRow).where(InboxRow.kind == "submit", InboxRow.task == task)
            ).scalar_one_or_none()
        if inbox is None:
            raise UnknownIdError("task", task, [])
        return _waiting_view(inbox)

    def tasks(
        self,
        *,
        state: TaskState | None = None,
        tenant: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TaskView]:
        """Tasks, newest first, filtered and paged; submissions the runtime has not taken yet
        come first, as ``submitted``."""
        waiting: list[TaskView] = []
        if state in (None, TaskState.SUBMITTED):
            with self.store.sessions() as s:
                rows = s.execute(
                    select(InboxRow)
                    .where(InboxRow.kind == "submit", InboxRow.taken.is_(False))
                    .order_by(InboxRow.seq.desc())
                ).scalars()
                for row in rows:
                    if row.task is None:
                        continue
                    view = _waiting_view(row)
                    if tenant is None or view.tenant == tenant:
                        waiting.append(view)
                        if len(waiting) >= offset + limit:
                            break
        q = select(TaskRow).order_by(TaskRow.submitted_at.desc(), TaskRow.id)
        if state is not None:
            q = q.where(TaskRow.state == state.value)
        if tenant is not None:
            q = q.where(TaskRow.tenant == tenant)
        with self.store.sessions() as s:
            taken = [_view(r) for r in s.execute(q.limit(offset + limit)).scalars()]
        return (waiting + taken)[offset : offset + limit]

    def counts(self) -> dict[str, int]:
        """Tasks by state (plus ``waiting`` for submissions the runtime has not taken)."""
        with self.store.sessions() as s:
            rows = s.execute(select(TaskRow.state, func.count()).group_by(TaskRow.state)).all()
            waiting = s.scalar(
                select(func.count())
                .select_from(InboxRow)
                .where(InboxRow.kind == "submit", InboxRow.taken.is_(False))
            )
        out = {state.value: 0 for state in TaskState}
        out.update({str(k): int(v) for k, v in rows})
        out["waiting"] = int(waiting or 0)
        return out

    def story(self, task: str) -> list[StoryLine]:
        """The task's events replayed: what happened, in order, and what each did.

        Raises:
            UnknownIdError: no such task.
        """
        self.get(task)
        with self.store.sessions() as s:
            bodies = (
                s.execute(select(EventRow.body).where(EventRow.task == task).order_by(EventRow.seq))
                .scalars()
                .all()
            )
        events = [Event.model_validate(b) for b in bodies]
        engine = Engine.replay(events)
        return engine.story(task) if task in engine.tasks else []

    def cuts(self) -> list[str]:
        with self.store.sessions() as s:
            return sorted(s.execute(select(CutRow.key)).scalars())

    def specs(self, tasks: Iterable[str]) -> dict[str, TaskSpec]:
        """The specs of ``tasks`` as submitted (from their rows, or their inbox requests while
        the runtime has not taken them yet); unknown ids are left out."""
        wanted = list(dict.fromkeys(tasks))
        out: dict[str, TaskSpec] = {}
        with self.store.sessions() as s:
            for tid, spec in s.execute(
                select(TaskRow.id, TaskRow.spec).where(TaskRow.id.in_(wanted))
            ):
                out[tid] = TaskSpec.model_validate(spec)
            missing = [t for t in wanted if t not in out]
            if missing:
                for waiting, body in s.execute(
                    select(InboxRow.task, InboxRow.body).where(
                        InboxRow.kind == "submit", InboxRow.task.in_(missing)
                    )
                ):
                    if waiting is not None and isinstance(body, dict) and "spec" in body:
                        out[waiting] = TaskSpec.model_validate(body["spec"])
        return out

    def cut_specs(self) -> list[FailureSpec]:
        """The failures in force (taken by the runtime), oldest first."""
        with self.store.sessions() as s:
            rows = s.execute(select(CutRow.spec).order_by(CutRow.at, CutRow.key)).scalars()
            return [FailureSpec.model_validate(spec) for spec in rows]

    def sites_down(self) -> list[str]:
        with self.store.sessions() as s:
            return sorted(s.execute(select(SiteRow.id).where(SiteRow.down.is_(True))).scalars())

    # --- vouchers ---------------------------------------------------------------------------
    def grant_voucher(
        self,
        tenant: str,
        amount_micros: int,
        *,
        share_bps: int = 5000,
        classes: Sequence[str] = (),
        valid_days: int = 90,
        issuer: str = "operator",
        request_id: str | None = None,
    ) -> str:
        """Ask the runtime to grant ``tenant`` a voucher of ``amount_micros`` (in the market's
        currency) that pays up to ``share_bps`` of each lease's cost, for ``classes`` (empty:
        every class), for ``valid_days`` from when the runtime takes the request; the
        voucher's id. The grant is its own voucher programme, funded by ``issuer`` with
        exactly the grant and open to any tenant (the operator decided eligibility).

        Raises:
            SuanwangError: an invalid tenant id, amount, share, class or lifetime.
        """
        import hashlib

        from pydantic import TypeAdapter, ValidationError

        from suanwang.core.base import Identifier
        from suanwang.core.countries import IncomeGroup
        from suanwang.core.market.vouchers import VoucherProgram

        tag = (
            hashlib.sha256(request_id.encode()).hexdigest()[:16]
            if request_id
            else uuid.uuid4().hex[:16]
        )
        try:
            TypeAdapter(Identifier).validate_python(tenant)
            program = VoucherProgram.model_validate(
                {
                    "id": f"grant-{tag}",
                    "issuer": issuer,
                    "grant_micros": amount_micros,
                    "share_bps": share_bps,
                    "valid_days": valid_days,
                    "classes": tuple(dict.fromkeys(classes)),
                    "smes": True,
                    "income_groups": tuple(IncomeGroup),
                }
            )
        except ValidationError as exc:
            raise SuanwangError(f"invalid voucher grant: {exc.errors()[0]['msg']}") from None
        body = {"tenant": tenant, "program": program.model_dump(mode="json")}
        self._request("voucher", body, request_id)
        return f"{program.id}.{tenant}"


def insert_inbox(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert inbox rows (from :meth:`ControlService.submissions`) on ``conn``, in order, in
    its transaction (one statement, executed for every row)."""
    if rows:
        conn.execute(_INSERT_INBOX, list(rows))


_INSERT_INBOX = insert(InboxRow)


def _waiting_view(row: InboxRow) -> TaskView:
    spec = row.body["spec"]
    assert isinstance(spec, dict)
    return TaskView(
        id=str(row.task),
        name=str(spec["name"]),
        tenant=str(spec["tenant"]),
        state=TaskState.SUBMITTED.value,
        attempt=1,
        site=None,
        pool=None,
        reason="waiting for the runtime to take it",
        submitted_at=_utc(row.at),
        updated_at=_utc(row.at),
    )


def _view(row: TaskRow) -> TaskView:
    return TaskView(
        id=row.id,
        name=row.name,
        tenant=row.tenant,
        state=row.state,
        attempt=row.attempt,
        site=row.site,
        pool=row.pool,
        reason=row.reason,
        submitted_at=_utc(row.submitted_at),
        updated_at=_utc(row.updated_at),
    )


def _utc(at: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time the store keeps is UTC."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
