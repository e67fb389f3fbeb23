"""Metering: usage events, deduplication, and the billable time they prove.

A provider agent reports that a lease's workload is running by *heartbeat* events. An event is
identified by ``(source, id)``: the id must be deterministic (for example a hash of the lease,
the kind and the time), so a retried delivery is recognised and ignored rather than billed
twice. Time is integer seconds since the Unix epoch, so the billing rule is exact.

The billing rule (money accrues only while the work is verified running): two consecutive
heartbeats at most ``grace_s`` apart prove the interval between them; a longer gap proves
nothing, so availability lost beyond the grace period stops accrual by itself. Nothing before
the first heartbeat (the running confirmation) or after the last is billed. Adding events can
only add proven time, never remove it, which is why a late event becomes a correction line and
never a rewrite.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import AwareDatetime, Field

from suanwang.core.base import Frozen


class UsageKind(StrEnum):
    """What a usage event reports."""

    HEARTBEAT = "heartbeat"
    """The lease's workload was verified running at ``time``."""


class UsageEvent(Frozen):
    """One usage event, CloudEvents-shaped: ``(source, id)`` is its identity."""

    source: str = Field(min_length=1, max_length=200, description="the reporting agent")
    id: str = Field(min_length=1, max_length=200, description="deterministic per event")
    lease: str = Field(min_length=1)
    kind: UsageKind = UsageKind.HEARTBEAT
    time: AwareDatetime


def epoch_s(at: datetime) -> int:
    """``at`` (timezone-aware) as whole seconds since the Unix epoch (floored)."""
    if at.utcoffset() is None:
        raise ValueError(f"time must be timezone-aware: {at!r}")
    return int(at.timestamp() // 1)


def from_epoch_s(seconds: int) -> datetime:
    """Whole epoch seconds back to an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def event_id(lease: str, kind: UsageKind, at: datetime) -> str:
    """The deterministic event id an agent should use: a hash of lease, kind and time."""
    raw = f"{lease}|{kind.value}|{epoch_s(at)}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class Meter:
    """The heartbeats of one lease, deduplicated on ``(source, id)``."""

    def __init__(self, lease: str) -> None:
        self.lease = lease
        self._seen: set[tuple[str, str]] = set()
        self._beats: list[int] = []

    def ingest(self, event: UsageEvent) -> bool:
        """Record ``event``; False (and nothing changes) if it was seen before.

        Raises:
            ValueError: the event belongs to another lease.
        """
        if event.lease != self.lease:
            raise ValueError(f"event {event.id} is for lease {event.lease}, not {self.lease}")
        key = (event.source, event.id)
        if key in self._seen:
            return False
        self._seen.add(key)
        t = epoch_s(event.time)
        i = bisect.bisect_left(self._beats, t)
        if i == len(self._beats) or self._beats[i] != t:
            self._beats.insert(i, t)
        return True

    @property
    def beats(self) -> Sequence[int]:
        """Distinct heartbeat times, ascending (epoch seconds)."""
        return tuple(self._beats)

    @property
    def events(self) -> int:
        """Distinct events ingested."""
        return len(self._seen)

    def first_beat(self) -> int | None:
        """The running confirmation: the earliest heartbeat, if any."""
        return self._beats[0] if self._beats else None

    def last_beat(self) -> int | None:
        """The latest heartbeat, if any."""
        return self._beats[-1] if self._beats else None

    def last_beat_until(self, t: int) -> int | None:
        """The latest heartbeat at or before ``t``, if any."""
        i = bisect.bisect_right(self._beats, t)
        return self._beats[i - 1] if i else None

    def billable_seconds(
        self,
        until: int,
        grace_s: int,
        start: int | None = None,
        stop: int | None = None,
        excluded: Iterable[tuple[int, int | None]] = (),
    ) -> int:
        """Proven running seconds in ``[start, min(until, stop))``, less ``excluded`` spans.

        ``excluded`` holds half-open ``[a, b)`` spans (``b`` None: still open) that are never
        billed, such as a pause for lack of funds; they may overlap.
        """
        return billable_seconds(self._beats, until, grace_s, start, stop, excluded)


def billable_seconds(
    beats: Sequence[int],
    until: int,
    grace_s: int,
    start: int | None = None,
    stop: int | None = None,
    excluded: Iterable[tuple[int, int | None]] = (),
) -> int:
    """Proven seconds (see the module docstring) of sorted distinct ``beats`` in a window."""
    lo = start if start is not None else (beats[0] if beats else 0)
    hi = until if stop is None else min(until, stop)
    if hi <= lo or len(beats) < 2:
        return 0
    spans: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(beats):
        if b - a > grace_s:
            continue
        a2, b2 = max(a, lo), min(b, hi)
        if a2 < b2:
            if spans and spans[-1][1] == a2:
                spans[-1] = (spans[-1][0], b2)
            else:
                spans.append((a2, b2))
    total = sum(b - a for a, b in spans)
    for ea, eb in _union((ea, hi if eb is None else eb) for ea, eb in excluded):
        for a, b in spans:
            total -= max(0, min(b, eb) - max(a, ea))
    return total


def _union(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Half-open spans merged so that none overlap (overlaps would be subtracted twice)."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
