"""Group commit: one writer thread writes the work of concurrent requests in one transaction.

A request hands its write to :meth:`GroupWriter.submit` and waits on the future it gets back
(``future.result()`` in a thread, ``await asyncio.wrap_future(future)`` in the event loop). The
writer thread takes everything waiting at that moment (up to ``max_size``), writes it with one
call of ``write`` (one transaction) and then resolves the futures of that batch: each with its
result once the batch is committed, so an answer given after the wait means the write is
durable; or, when the write raises, each with a :class:`BatchWriteError` naming the cause, for
that batch's waiters only. The next batch is written afresh.

No wait is added to gather a batch: with one request at a time, each batch is that request
alone (the latency of a plain transaction); under load, the requests that arrive while a
batch commits make the next one, so the number of transactions follows the commit rate, not
the request rate.

**Order**: items are written in the order they were submitted: in an earlier batch, or
earlier in the same batch (``write`` gets them in order).

**Lifecycle**: the thread starts with the first submit and ends after ``idle_s`` with nothing
to write (the next submit starts another), so a writer never closed leaves no thread behind
for long. :meth:`close` writes everything submitted before it, then stops the thread; a
submit after it raises :class:`WriterClosedError`. A submitted item is always written: its future
cannot be cancelled, so a waiter that gives up (a client gone) does not undo the write.

:func:`store_writer` is the writer of the API: inbox rows and audit entries, chained under the
audit lock in one transaction per batch (see :meth:`AuditLog.append_many`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from suanwang.api.audit import AuditLog, Entry
from suanwang.control.service import insert_inbox

log = logging.getLogger("suanwang.api")

T = TypeVar("T")
R = TypeVar("R")


class WriterClosedError(RuntimeError):
    """The writer was closed: nothing more is written."""


class BatchWriteError(Exception):
    """The batch this item was written in failed (nothing of it was written); the cause is
    chained (``__cause__``) and named in the message."""

    def __init__(self, size: int, cause: BaseException) -> None:
        super().__init__(
            f"a group commit of {size} write(s) failed, this one with it: "
            f"{type(cause).__name__}: {cause}"
        )
        self.size = size
        self.__cause__ = cause


class GroupWriter(Generic[T, R]):
    """Writes items in batches on one thread (see the module docstring).

    Args:
        write: writes a batch of items in one transaction and returns one result per item,
            in order; raising fails the whole batch.
        max_size: the most a batch holds, in units of ``size`` (a batch always takes at least
            one item, however large).
        size: the size of an item (default 1: ``max_size`` counts items).
        idle_s: how long the thread waits for work before it ends.
        name: the thread's name.
    """

    def __init__(
        self,
        write: Callable[[list[T]], Sequence[R]],
        *,
        max_size: int = 1000,
        size: Callable[[T], int] = lambda _item: 1,
        idle_s: float = 10.0,
        name: str = "group-writer",
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._write = write
        self._max_size = max_size
        self._size = size
        self._idle_s = idle_s
        self._name = name
        self._cond = threading.Condition()
        self._queue: deque[tuple[T, Future[R]]] = deque()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0
        """Batches written (committed or failed)."""
        self.items = 0
        """Items written (committed or failed)."""

    # --- the requests' side ---------------------------------------------------------------------
    def submit(self, item: T) -> Future[R]:
        """Queue ``item``; the future resolves when its batch is committed (with ``write``'s
        result for it) or failed (:class:`BatchWriteError`).

        Raises:
            WriterClosedError: :meth:`close` was called.
        """
        future: Future[R] = Future()
        future.set_running_or_notify_cancel()  # from now on it cannot be cancelled
        with self._cond:
            if self._closed:
                raise WriterClosedError(f"the {self._name} is closed")
            self._queue.append((item, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            else:
                self._cond.notify()
        return future

    def write(self, item: T, timeout: float | None = None) -> R:
        """Submit ``item`` and wait for it to be written; its result.

        Raises:
            BatchWriteError: its batch failed.
            WriterClosedError: the writer is closed.
        """
        return self.submit(item).result(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Write everything submitted so far, then stop the thread; True when it stopped
        within ``timeout`` seconds (None: wait as long as it takes). Later submits raise
        :class:`WriterClosedError`; closing again does nothing more."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Items submitted and not yet taken into a batch."""
        with self._cond:
            return len(self._queue)

    # --- the writer thread ----------------------------------------------------------------------
    def _take(self) -> list[tuple[T, Future[R]]] | None:
        """The next batch, or None when the thread is to end (closed, or idle for long)."""
        with self._cond:
            if not self._queue and not self._closed:
                self._cond.wait(self._idle_s)
            if not self._queue:  # closed and drained, or idle: end (a submit starts another)
                self._thread = None
                return None
            batch = [self._queue.popleft()]
            total = self._size(batch[0][0])
            while self._queue:
                n = self._size(self._queue[0][0])
                if total + n > self._max_size:
                    break
                batch.append(self._queue.popleft())
                total += n
            return batch

    def _run(self) -> None:
        batch: list[tuple[T, Future[R]]] = []
        try:
            while (taken := self._take()) is not None:
                batch = taken
                self._flush(batch)
                batch = []
        except BaseException as exc:  # not from ``write`` (_flush catches that): a dying thread
            for _, future in batch:
                if not future.done():
                    future.set_exception(BatchWriteError(len(batch), exc))
            with self._cond:  # what is still queued goes to a new thread
                self._thread = None
                if self._queue:
                    self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                    self._thread.start()
            raise

    def _flush(self, batch: list[tuple[T, Future[R]]]) -> None:
        items = [item for item, _ in batch]
        self.batches += 1
        self.items += len(items)
        try:
            results = list(self._write(items))
            if len(results) != len(items):
                raise RuntimeError(f"the write gave {len(results)} results for {len(items)} items")
        except Exception as exc:
            log.warning("group commit of %d write(s) failed: %s", len(items), exc)
            for _, future in batch:  # each waiter its own exception (tracebacks are per raise)
                future.set_exception(BatchWriteError(len(items), exc))
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)


# --- the API's writer: inbox rows and audit entries ---------------------------------------------
@dataclass(frozen=True)
class Write:
    """What one request writes: its audit entry (fields from
    :func:`~suanwang.api.audit.entry_fields`) and the inbox rows it records (from
    :meth:`~suanwang.control.service.ControlService.submissions`; none for an audit entry
    alone)."""

    audit: dict[str, Any]
    inbox: list[dict[str, Any]] = field(default_factory=list)


MAX_ROWS = 20_000
"""About the most rows (inbox rows plus audit entries) one group commit writes: a batch
request of many tasks goes alone, or with few others."""


def store_writer(
    audit: AuditLog, *, max_rows: int = MAX_ROWS, idle_s: float = 10.0
) -> GroupWriter[Write, Entry]:
    """The group-commit writer of the API on ``audit``'s store: each batch's inbox rows, then
    its audit entries chained in submission order, in one transaction under the audit lock
    (:meth:`AuditLog.append_many`); each item's result is its audit entry as stored."""

    def write(batch: list[Write]) -> list[Entry]:
        rows = [row for w in batch for row in w.inbox]
        return audit.append_many(
            [w.audit for w in batch],
            before=(lambda conn: insert_inbox(conn, rows)) if rows else None,
        )

    return GroupWriter(
        write,
        max_size=max_rows,
        size=lambda w: 1 + len(w.inbox),
        idle_s=idle_s,
        name="suanwang-api-writer",
    )
