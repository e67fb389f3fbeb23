"""The task lifecycle as data: states, event kinds and the transition table.

``TRANSITIONS[(state, event kind)]`` is the whole lifecycle: the state a task moves to and the
effects the move asks for (opening or closing a lease, dispatching or stopping an attempt).
A pair that is not in the table is an event the task cannot take in that state; the engine
records it in the task's story as ignored and does nothing else. ``None`` as the state is a
task the engine has not seen yet.

::

    submitted -> queued -> placed -> dispatched -> running -> succeeded | failed
    placed | dispatched | running --lost--> rescheduling --stopped--> queued (next attempt)
    any state but the final three --cancel--> cancelled
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from suanwang.core.market.leases import CloseReason


class TaskState(StrEnum):
    """Where a task is in its life."""

    SUBMITTED = "submitted"
    """Accepted by the service, not yet admitted (funds, validity)."""
    QUEUED = "queued"
    """Waiting for the scheduler."""
    PLACED = "placed"
    """The scheduler chose a site and pool; a lease is open; dispatch is under way."""
    DISPATCHED = "dispatched"
    """The backend holds the attempt (pending there)."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RESCHEDULING = "rescheduling"
    """The attempt was lost (site silent, path cut, backend lost it); it is being stopped and
    fenced before the task is queued again."""

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def active(self) -> bool:
        """Holding an attempt somewhere (a lease is open)."""
        return self in (TaskState.PLACED, TaskState.DISPATCHED, TaskState.RUNNING)


TERMINAL = frozenset({TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED})


class EventKind(StrEnum):
    """What can happen to a task."""

    SUBMIT = "submit"
    """A user submitted it."""
    ADMIT = "admit"
    """The service admitted it (the tenant exists and can pay)."""
    REJECT = "reject"
    """The service refused it (``reason`` says why)."""
    PLACE = "place"
    """The scheduler chose ``site`` and ``pool`` for the next attempt."""
    DISPATCHED = "dispatched"
    """The backend accepted the attempt."""
    STARTED = "started"
    """The backend reports the attempt running."""
    CHECKPOINT = "checkpoint"
    """The attempt saved progress (``checkpoint`` is its reference)."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """The attempt's own work failed (non-zero exit, limits): the task fails."""
    LOST = "lost"
    """The attempt was lost to the infrastructure (``reason`` is a :class:`LostReason`)."""
    STOPPED = "stopped"
    """A lost attempt is confirmed stopped or fenced: the task may run elsewhere."""
    CANCEL = "cancel"
    """The user cancelled it."""


class LostReason(StrEnum):
    """Why an attempt was lost (typed; shown in the story and the metrics)."""

    HEARTBEAT = "heartbeat"
    """The site missed heartbeats for longer than the grace period."""
    SITE_DOWN = "site-down"
    """An operator or the backend declared the site failed."""
    PATH_CUT = "path-cut"
    """A link or cable cut left the site unreachable from the task's origin or data."""
    DISPATCH = "dispatch"
    """The backend refused or could not take the attempt."""
    VANISHED = "vanished"
    """The backend no longer knows the attempt (found on reconciliation)."""


@dataclass(frozen=True, slots=True)
class Transition:
    """A row of the table: the next state and the effects the move asks for."""

    to: TaskState
    effects: tuple[str, ...] = ()


S = TaskState
E = EventKind
_ACTIVE = (S.PLACED, S.DISPATCHED, S.RUNNING)

TRANSITIONS: dict[tuple[TaskState | None, EventKind], Transition] = {
    (None, E.SUBMIT): Transition(S.SUBMITTED),
    (S.SUBMITTED, E.ADMIT): Transition(S.QUEUED),
    (S.SUBMITTED, E.REJECT): Transition(S.FAILED),
    (S.SUBMITTED, E.CANCEL): Transition(S.CANCELLED),
    (S.QUEUED, E.PLACE): Transition(S.PLACED, ("open_lease", "dispatch")),
    (S.QUEUED, E.CANCEL): Transition(S.CANCELLED),
    (S.PLACED, E.DISPATCHED): Transition(S.DISPATCHED),
    (S.PLACED, E.STARTED): Transition(S.RUNNING, ("meter_start",)),
    (S.DISPATCHED, E.STARTED): Transition(S.RUNNING, ("meter_start",)),
    (S.RESCHEDULING, E.STOPPED): Transition(S.QUEUED, ("next_attempt",)),
    (S.RESCHEDULING, E.CANCEL): Transition(S.CANCELLED),
    (S.RESCHEDULING, E.CHECKPOINT): Transition(S.RESCHEDULING, ("checkpoint",)),
}
for _s in _ACTIVE:
    TRANSITIONS[(_s, E.SUCCEEDED)] = Transition(S.SUCCEEDED, ("close_completed",))
    TRANSITIONS[(_s, E.FAILED)] = Transition(S.FAILED, ("close_completed",))
    TRANSITIONS[(_s, E.LOST)] = Transition(S.RESCHEDULING, ("stop", "close_rescheduled"))
    TRANSITIONS[(_s, E.CANCEL)] = Transition(S.CANCELLED, ("stop", "close_cancelled"))
    TRANSITIONS[(_s, E.CHECKPOINT)] = Transition(_s, ("checkpoint",))

CLOSE_REASONS: dict[str, CloseReason] = {
    "close_completed": CloseReason.COMPLETED,
    "close_rescheduled": CloseReason.RESCHEDULED,
    "close_cancelled": CloseReason.CANCELLED,
}
"""Effects that close the attempt's lease, and the typed reason each gives it."""

ATTEMPT_EVENTS = frozenset(
    {E.DISPATCHED, E.STARTED, E.CHECKPOINT, E.SUCCEEDED, E.FAILED, E.LOST, E.STOPPED}
)
"""Events about one attempt: they must name it, and are ignored for any other attempt."""
