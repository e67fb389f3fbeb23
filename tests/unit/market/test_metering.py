"""Metering: deduplicated heartbeats and the billable seconds they prove.

The rule in words: two consecutive heartbeats at most ``grace_s`` apart prove the seconds
between them; a longer gap proves nothing; nothing before the first heartbeat or after the
last is billed; excluded spans (a pause for funds) are never billed. The tables below are
worked by hand; the properties compare the function with a per-second count.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.core.market.metering import (
    Meter,
    UsageEvent,
    UsageKind,
    billable_seconds,
    epoch_s,
    event_id,
    from_epoch_s,
)

T0 = datetime(2026, 7, 1, tzinfo=UTC)
T0_S = int(T0.timestamp())
PROPS = settings(max_examples=250, deadline=None, derandomize=True)


def _event(lease: str, seconds: int, source: str = "agent") -> UsageEvent:
    at = T0 + timedelta(seconds=seconds)
    return UsageEvent(
        source=source, id=event_id(lease, UsageKind.HEARTBEAT, at), lease=lease, time=at
    )


# --- billable_seconds, worked by hand -----------------------------------------------------------

Excluded = list[tuple[int, int | None]]


@pytest.mark.parametrize(
    ("case", "beats", "until", "grace", "start", "stop", "excluded", "answer"),
    [
        ("no heartbeat proves nothing", [], 100, 120, None, None, [], 0),
        ("one heartbeat proves nothing", [50], 100, 120, None, None, [], 0),
        ("two beats 30 s apart prove 30 s", [0, 30], 100, 120, None, None, [], 30),
        ("every 30 s up to 60", [0, 30, 60], 100, 120, None, None, [], 60),
        ("nothing after the last beat", [0, 30, 60], 10_000, 120, None, None, [], 60),
        ("a gap of exactly the grace is billed", [0, 120], 500, 120, None, None, [], 120),
        ("a gap one over the grace is not", [0, 121], 500, 120, None, None, [], 0),
        ("a long gap in the middle", [0, 30, 200, 230], 500, 120, None, None, [], 60),
        ("until cuts inside a span", [0, 30, 60], 45, 120, None, None, [], 45),
        ("until before the first beat", [100, 130], 50, 120, None, None, [], 0),
        ("start inside a span", [0, 30, 60], 100, 120, 10, None, [], 50),
        ("start before the first beat", [0, 30, 60], 100, 120, -500, None, [], 60),
        ("start after until", [0, 30, 60], 20, 120, 40, None, [], 0),
        ("stop (a close) cuts", [0, 30, 60], 100, 120, None, 40, [], 40),
        ("stop before until and start", [0, 30, 60], 100, 120, 20, 25, [], 5),
        ("excluded span in the middle", [0, 30, 60], 100, 120, None, None, [(20, 40)], 40),
        ("an open pause runs to until", [0, 30, 60], 100, 120, None, None, [(50, None)], 50),
        ("an open pause clipped by until", [0, 30, 60], 55, 120, None, None, [(50, None)], 50),
        ("excluded outside the proof", [0, 30], 100, 120, None, None, [(40, 90)], 30),
        ("excluded before everything", [0, 30], 100, 120, None, None, [(-50, -40)], 30),
        ("two disjoint pauses", [0, 30, 60, 90], 100, 120, None, None, [(10, 20), (70, 80)], 70),
        ("excluded over a long gap", [0, 30, 300, 330], 400, 120, None, None, [(20, 310)], 40),
        ("zero-length pause", [0, 30], 100, 120, None, None, [(10, 10)], 30),
        ("grace of one second", [0, 1, 2, 4, 5], 100, 1, None, None, [], 3),
        ("lease example: rc=10, close=95", [0, 30, 60, 90, 120], 200, 120, 10, 95, [], 85),
    ],
)
def test_billable_seconds_table(
    case: str,
    beats: list[int],
    until: int,
    grace: int,
    start: int | None,
    stop: int | None,
    excluded: Excluded,
    answer: int,
) -> None:
    assert billable_seconds(beats, until, grace, start, stop, excluded) == answer, case


def _brute(
    beats: list[int],
    until: int,
    grace: int,
    start: int | None,
    stop: int | None,
    excluded: Excluded,
) -> int:
    """The rule, one second at a time."""
    beats = sorted(set(beats))
    lo = start if start is not None else (beats[0] if beats else 0)
    hi = until if stop is None else min(until, stop)
    count = 0
    for s in range(lo, hi):
        proven = any(a <= s < b and b - a <= grace for a, b in itertools.pairwise(beats))
        paused = any(a <= s and (b is None or s < b) for a, b in excluded)
        count += proven and not paused
    return count


@st.composite
def _windows(draw: st.DrawFn) -> tuple[list[int], int, int, int | None, int | None, Excluded]:
    beats = sorted(set(draw(st.lists(st.integers(0, 400), max_size=25))))
    until = draw(st.integers(0, 450))
    grace = draw(st.integers(1, 80))
    start = draw(st.none() | st.integers(0, 450))
    stop = draw(st.none() | st.integers(0, 450))
    # disjoint excluded spans, in order; the last may be open
    cuts = sorted(set(draw(st.lists(st.integers(0, 450), max_size=6))))
    excluded: Excluded = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
    if draw(st.booleans()) and excluded:
        excluded[-1] = (excluded[-1][0], None)
    return beats, until, grace, start, stop, excluded


@PROPS
@given(_windows())
def test_billable_seconds_is_the_per_second_count(
    w: tuple[list[int], int, int, int | None, int | None, Excluded],
) -> None:
    assert billable_seconds(*w) == _brute(*w)


@PROPS
@given(_windows(), st.integers(0, 400))
def test_more_heartbeats_never_remove_proven_time(
    w: tuple[list[int], int, int, int | None, int | None, Excluded], extra: int
) -> None:
    beats, until, grace, start, stop, excluded = w
    more = sorted({*beats, extra})
    assert billable_seconds(more, until, grace, start, stop, excluded) >= billable_seconds(*w)


@PROPS
@given(_windows(), st.integers(0, 450))
def test_billable_seconds_grow_with_until(
    w: tuple[list[int], int, int, int | None, int | None, Excluded], later: int
) -> None:
    beats, until, grace, start, stop, excluded = w
    hi = max(until, later)
    assert billable_seconds(beats, hi, grace, start, stop, excluded) >= billable_seconds(*w)


def test_overlapping_excluded_spans_are_subtracted_once() -> None:
    """Regression: each excluded span was subtracted on its own, so overlapping spans were
    subtracted twice and the result could go negative."""
    # proven [0, 20); the union of the excluded spans is [0, 20): nothing is billable
    assert billable_seconds([0, 10, 20], 100, 120, excluded=[(0, 15), (5, 20)]) == 0
    assert billable_seconds([0, 10], 100, 120, excluded=[(0, 10), (0, 10)]) == 0


# --- Meter: deduplication and order -------------------------------------------------------------


def test_meter_deduplicates_on_source_and_id() -> None:
    m = Meter("l1")
    assert m.ingest(_event("l1", 30)) is True
    assert m.ingest(_event("l1", 30)) is False  # a retried delivery is acknowledged, ignored
    assert m.ingest(_event("l1", 30, source="buyer-agent")) is True  # a second witness...
    assert m.beats == (T0_S + 30,)  # ...proves no extra time
    assert m.events == 2


def test_meter_sorts_out_of_order_delivery() -> None:
    m = Meter("l1")
    for s in (90, 30, 60, 0, 60):
        m.ingest(_event("l1", s, source=f"a{s % 7}"))
    assert m.beats == tuple(T0_S + s for s in (0, 30, 60, 90))
    assert m.first_beat() == T0_S
    assert m.last_beat() == T0_S + 90
    assert m.last_beat_until(T0_S + 59) == T0_S + 30
    assert m.last_beat_until(T0_S + 60) == T0_S + 60
    assert m.last_beat_until(T0_S - 1) is None
    assert m.billable_seconds(T0_S + 1000, 120) == 90
    assert m.billable_seconds(T0_S + 1000, 120, excluded=[(T0_S + 30, T0_S + 60)]) == 60


def test_empty_meter() -> None:
    m = Meter("l1")
    assert (m.first_beat(), m.last_beat(), m.beats, m.events) == (None, None, (), 0)
    assert m.billable_seconds(T0_S + 100, 120) == 0


def test_meter_refuses_another_leases_event() -> None:
    with pytest.raises(ValueError, match="not l1"):
        Meter("l1").ingest(_event("l2", 0))


@PROPS
@given(
    st.lists(st.integers(0, 3000), min_size=1, max_size=40),
    st.randoms(use_true_random=False),
)
def test_any_delivery_order_with_repeats_gives_the_same_beats(
    seconds: list[int], rnd: random.Random
) -> None:
    a, b = Meter("l1"), Meter("l1")
    for s in seconds:
        a.ingest(_event("l1", s))
    shuffled = seconds + rnd.sample(seconds, k=len(seconds) // 2)
    rnd.shuffle(shuffled)
    fresh = [b.ingest(_event("l1", s)) for s in shuffled]
    assert a.beats == b.beats == tuple(sorted({T0_S + s for s in seconds}))
    assert sum(fresh) == len(set(seconds))
    assert a.billable_seconds(T0_S + 4000, 120) == b.billable_seconds(T0_S + 4000, 120)


# --- ids and times ------------------------------------------------------------------------------


def test_event_id_is_deterministic_and_distinct() -> None:
    at = T0 + timedelta(seconds=30)
    first = event_id("l1", UsageKind.HEARTBEAT, at)
    assert first == event_id("l1", UsageKind.HEARTBEAT, at)
    assert len(first) == 32
    assert first == event_id("l1", UsageKind.HEARTBEAT, at + timedelta(microseconds=999_999))
    assert first != event_id("l1", UsageKind.HEARTBEAT, at + timedelta(seconds=1))
    assert first != event_id("l2", UsageKind.HEARTBEAT, at)
    # the same instant written in another time zone is the same event
    assert first == event_id("l1", UsageKind.HEARTBEAT, at.astimezone(timezone(timedelta(hours=8))))


@pytest.mark.parametrize(
    ("at", "seconds"),
    [
        (T0, T0_S),
        (T0 + timedelta(milliseconds=999), T0_S),  # floored, not rounded
        (T0 - timedelta(milliseconds=1), T0_S - 1),  # floored towards the past
        (T0.astimezone(timezone(timedelta(hours=8))), T0_S),
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
    ],
)
def test_epoch_s_table(at: datetime, seconds: int) -> None:
    assert epoch_s(at) == seconds


def test_epoch_s_refuses_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        epoch_s(datetime(2026, 7, 1))


def test_from_epoch_s_round_trips() -> None:
    assert from_epoch_s(T0_S) == T0
    assert from_epoch_s(T0_S).tzinfo is UTC
    assert epoch_s(from_epoch_s(T0_S + 12345)) == T0_S + 12345


def test_usage_event_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone"):
        UsageEvent(source="a", id="x", lease="l1", time=datetime(2026, 7, 1))
