"""Events in, instructions out: the values that cross the engine's boundary."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from suanwang.core.base import Frozen
from suanwang.core.engine.states import EventKind, LostReason
from suanwang.core.market.leases import CloseReason

TaskId = str
"""A task id (letters, digits, '-', '_'; the service makes them)."""

TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$"


class Event(Frozen):
    """Something that happened to one task.

    ``stimulus_id`` names the outside cause (a request, a backend poll, a timer) and is unique
    per event: the engine takes each stimulus id once, so a replayed or re-delivered event
    changes nothing. ``attempt`` is required on the events about an attempt
    (:data:`~.states.ATTEMPT_EVENTS`).
    """

    stimulus_id: str = Field(min_length=1, max_length=200)
    kind: EventKind
    task: TaskId = Field(pattern=TASK_ID_PATTERN)
    at: AwareDatetime
    attempt: int | None = Field(default=None, ge=1)
    site: str | None = None
    pool: int | None = Field(default=None, ge=0, description="pool index at the site (PLACE)")
    reason: str = Field(default="", max_length=500)
    lost: LostReason | None = None
    checkpoint: str | None = Field(default=None, max_length=500)
    exit_code: int | None = None
    attempts_allowed: int | None = Field(
        default=None,
        ge=1,
        description="on a lost event: the lost attempts allowed when it was taken (the policy "
        "in force travels with the event, so a replay decides the same way)",
    )


class OpenLease(Frozen):
    """Open the attempt's lease (the runtime prices it with the market's contracts)."""

    op: Literal["open_lease"] = "open_lease"
    task: TaskId
    attempt: int
    lease: str
    site: str
    pool: int
    at: AwareDatetime


class Dispatch(Frozen):
    """Hand the attempt to the site's backend under ``key`` (at most one job per key)."""

    op: Literal["dispatch"] = "dispatch"
    task: TaskId
    attempt: int
    key: str
    site: str
    pool: int
    resume_from: str | None = None


class MeterStart(Frozen):
    """The attempt runs: tell the meter (its first heartbeat starts the lease)."""

    op: Literal["meter_start"] = "meter_start"
    task: TaskId
    attempt: int
    lease: str
    at: AwareDatetime


class Stop(Frozen):
    """Stop the attempt at its backend and fence it: whatever it reports later is ignored."""

    op: Literal["stop"] = "stop"
    task: TaskId
    attempt: int
    key: str
    site: str


class CloseLease(Frozen):
    """Close the attempt's lease with a typed reason (final settlement and refund)."""

    op: Literal["close_lease"] = "close_lease"
    task: TaskId
    attempt: int
    lease: str
    reason: CloseReason
    at: AwareDatetime


Instruction = OpenLease | Dispatch | MeterStart | Stop | CloseLease
