"""The audit log's hash chain (pure): how entries are hashed, and that every edit, deletion,
reorder or cut at the head is found at the right seq.

A chain alone cannot detect entries cut from its *end*: the shorter chain is still a valid
chain. That is documented in :mod:`suanwang.core.audit_chain`, tested below as a known
limit, and closed by anchors (a ``(seq, hash)`` noted earlier).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.core.audit_chain import (
    BREAK_CODES,
    GENESIS,
    HASHED_FIELDS,
    ChainBreak,
    canonical_json,
    canonical_time,
    check_chain,
    entry_hash,
    verify_chain,
)

T0 = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)
Entry = dict[str, Any]


def chain_of(fields: Sequence[Mapping[str, object]]) -> list[Entry]:
    """A valid chain holding ``fields`` (seq, prev and hash filled in)."""
    out: list[Entry] = []
    prev = GENESIS
    for seq, f in enumerate(fields, start=1):
        entry: Entry = {**f, "seq": seq, "prev": prev}
        entry["hash"] = entry_hash(prev, entry)
        out.append(entry)
        prev = entry["hash"]
    return out


def sample_fields(i: int) -> Entry:
    return {
        "at": T0 + timedelta(seconds=i),
        "principal": f"tenant-{i % 3}",
        "role": "tenant",
        "action": "tasks.submit",
        "target": f"t-{i:016x}",
        "source": "127.0.0.1",
        "outcome": "ok" if i % 5 else "denied",
        "detail": {"n": i, "名": "算网", "nested": {"b": [1, 2.5, None], "a": True}},
    }


@pytest.fixture
def chain() -> list[Entry]:
    return chain_of([sample_fields(i) for i in range(50)])


def codes_at(breaks: list[ChainBreak], seq: int) -> set[str]:
    return {b.code for b in breaks if b.seq == seq}


# --- the hash and its canonical form ------------------------------------------------------------
def test_the_hash_is_sha256_of_the_documented_canonical_json() -> None:
    fields = sample_fields(1) | {"seq": 1}
    text = (
        '{"action":"tasks.submit","at":"2026-12-05T08:30:01.000000Z",'
        '"detail":{"n":1,"nested":{"a":true,"b":[1,2.5,null]},"名":"算网"},'
        f'"outcome":"ok","prev":"{GENESIS}","principal":"tenant-1","role":"tenant",'
        '"seq":1,"source":"127.0.0.1","target":"t-0000000000000001"}'
    )
    assert entry_hash(GENESIS, fields) == hashlib.sha256(text.encode()).hexdigest()


def test_the_same_instant_hashes_the_same_whatever_its_timezone_or_naive_utc() -> None:
    fields = sample_fields(1) | {"seq": 1}
    shanghai = fields["at"].astimezone(timezone(timedelta(hours=8)))
    naive = fields["at"].replace(tzinfo=None)
    hashes = {entry_hash(GENESIS, fields | {"at": at}) for at in (fields["at"], shanghai, naive)}
    assert len(hashes) == 1
    assert canonical_time(shanghai) == "2026-12-05T08:30:01.000000Z"


def test_keys_outside_the_hashed_fields_are_ignored_and_missing_ones_refused() -> None:
    fields = sample_fields(1) | {"seq": 1}
    assert entry_hash(GENESIS, fields) == entry_hash(GENESIS, fields | {"hash": "x", "y": 1})
    with pytest.raises(KeyError, match="detail"):
        entry_hash(GENESIS, {k: v for k, v in fields.items() if k != "detail"})


def test_the_hash_covers_prev_and_every_field() -> None:
    fields = sample_fields(1) | {"seq": 1}
    base = entry_hash(GENESIS, fields)
    assert entry_hash("1" * 64, fields) != base
    for name in HASHED_FIELDS:
        changed = fields | {name: _other(name, fields[name])}
        assert entry_hash(GENESIS, changed) != base, name


def test_canonical_json_refuses_nan_and_objects_json_cannot_hold() -> None:
    with pytest.raises(ValueError, match="Out of range"):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError, match="set is not allowed"):
        canonical_json({"x": {1, 2}})


# --- whole chains --------------------------------------------------------------------------------
def test_a_chain_of_50_entries_verifies(chain: list[Entry]) -> None:
    assert verify_chain(chain) == []
    report = check_chain(chain)
    assert (report.ok, report.entries, report.head_seq) == (True, 50, 50)
    assert report.head_hash == chain[-1]["hash"]


def test_an_empty_chain_is_intact() -> None:
    assert verify_chain([]) == []
    assert check_chain([]).head_seq is None


@pytest.mark.parametrize("name", [*HASHED_FIELDS, "prev", "hash"])
def test_editing_any_field_of_any_entry_is_detected_at_that_seq(
    chain: list[Entry], name: str
) -> None:
    for i in range(len(chain)):
        tampered = [dict(e) for e in chain]
        tampered[i][name] = _other(name, tampered[i][name])
        breaks = verify_chain(tampered)
        seq = tampered[i]["seq"]  # the edited seq, when seq is the field edited
        assert breaks, (name, seq)
        assert breaks[0].seq == seq, (name, seq, breaks)
        assert "hash" in codes_at(breaks, seq)


def test_an_edit_whose_hash_was_recomputed_shows_at_the_next_entry(chain: list[Entry]) -> None:
    tampered = [dict(e) for e in chain]
    tampered[9]["outcome"] = "denied"  # it was "ok"
    tampered[9]["hash"] = entry_hash(tampered[9]["prev"], tampered[9])
    breaks = verify_chain(tampered)
    assert [(b.seq, b.code) for b in breaks] == [(11, "prev")]
    assert "hash of seq 10" in breaks[0].message


def test_deleting_an_entry_is_a_gap_and_a_broken_link_at_the_next(chain: list[Entry]) -> None:
    breaks = verify_chain(chain[:20] + chain[21:])
    assert [(b.seq, b.code) for b in breaks] == [(22, "gap"), (22, "prev")]
    assert breaks[0].message == "seq 21 missing after seq 20: entries deleted"


def test_deleting_several_entries_names_the_hole(chain: list[Entry]) -> None:
    breaks = verify_chain(chain[:5] + chain[9:])
    assert breaks[0].message == "seq 6 to 9 missing after seq 5: entries deleted"


def test_swapping_two_entries_is_detected(chain: list[Entry]) -> None:
    swapped = list(chain)
    swapped[10], swapped[30] = swapped[30], swapped[10]
    breaks = verify_chain(swapped)
    assert breaks[0].seq == 31
    assert {"gap", "prev"} <= codes_at(breaks, 31)
    assert {"order", "prev"} <= codes_at(breaks, 11)


def test_a_duplicated_entry_is_detected(chain: list[Entry]) -> None:
    breaks = verify_chain([*chain[:10], chain[9], *chain[10:]])
    assert codes_at(breaks, 10) == {"order", "prev"}


def test_truncating_the_head_is_detected_at_the_first_entry_left(chain: list[Entry]) -> None:
    breaks = verify_chain(chain[3:])
    assert [(b.seq, b.code) for b in breaks] == [(4, "gap"), (4, "prev")]
    assert "at the head" in breaks[0].message
    assert "genesis" in breaks[1].message


def test_truncating_the_tail_is_not_detectable_by_the_chain_alone(chain: list[Entry]) -> None:
    """A known limit (see the module docstring): the first 30 entries are a valid chain."""
    assert verify_chain(chain[:30]) == []


def test_an_anchor_noted_earlier_detects_a_cut_tail_or_a_rewrite(chain: list[Entry]) -> None:
    head = check_chain(chain)
    anchor = [(head.head_seq or 0, head.head_hash or "")]
    assert check_chain(chain, anchors=anchor).ok
    cut = check_chain(chain[:30], anchors=anchor)
    assert [(b.seq, b.code) for b in cut.breaks] == [(50, "anchor")]
    assert "gone" in cut.breaks[0].message
    rewritten = chain_of([sample_fields(i) | {"outcome": "ok"} for i in range(50)])
    assert verify_chain(rewritten) == []  # a full rewrite with fresh hashes is a valid chain
    caught = check_chain(rewritten, anchors=anchor)
    assert [(b.seq, b.code) for b in caught.breaks] == [(50, "anchor")]


def test_malformed_entries_are_breaks_not_crashes(chain: list[Entry]) -> None:
    broken = [dict(e) for e in chain[:5]]
    del broken[1]["detail"]
    broken[2]["seq"] = "3"
    broken[3]["at"] = "yesterday"
    broken[4]["detail"] = {"x": float("inf")}
    breaks = verify_chain(broken)
    assert [(b.seq, b.code) for b in breaks] == [
        (2, "malformed"),
        (3, "malformed"),
        (4, "malformed"),
        (5, "malformed"),
    ]
    assert "lacks detail" in breaks[0].message
    assert all(b.code in BREAK_CODES for b in breaks)


# --- any single mutation of any chain is found ------------------------------------------------
text = st.text(max_size=12)  # lone surrogates included: hashed with surrogatepass
json_scalar = st.none() | st.booleans() | st.integers() | text
json_value = st.recursive(
    json_scalar | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
fields_strategy = st.fixed_dictionaries(
    {
        "at": st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ),
        "principal": text,
        "role": st.sampled_from(["tenant", "provider", "operator", "admin"]),
        "action": text,
        "target": text,
        "source": text,
        "outcome": text,
        "detail": st.dictionaries(text, json_value, max_size=4),
    }
)


@st.composite
def mutated_chains(draw: st.DrawFn) -> tuple[str, list[Entry]]:
    """A valid chain and one detectable mutation of it: an edit of one field of one entry,
    the deletion of an entry that is not the last, a swap of two entries, a duplicated
    entry, an inserted foreign entry, or a cut at the head."""
    chain = chain_of(draw(st.lists(fields_strategy, min_size=1, max_size=8)))
    n = len(chain)
    kinds = ["edit", "duplicate", "insert"] + (["delete", "swap", "head"] if n > 1 else [])
    kind = draw(st.sampled_from(kinds))
    out = [dict(e) for e in chain]
    if kind == "edit":
        i = draw(st.integers(0, n - 1))
        name = draw(st.sampled_from([*HASHED_FIELDS, "prev", "hash"]))
        out[i][name] = _other(name, out[i][name])
    elif kind == "delete":
        del out[draw(st.integers(0, n - 2))]
    elif kind == "swap":
        i, j = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
        out[i], out[j] = out[j], out[i]
    elif kind == "duplicate":
        i = draw(st.integers(0, n - 1))
        out.insert(draw(st.integers(0, n)), dict(out[i]))
    elif kind == "insert":
        stranger = chain_of([draw(fields_strategy)])[0]
        out.insert(draw(st.integers(0, n)), stranger)
    else:
        out = out[draw(st.integers(1, n - 1)) :]
    return kind, out


@settings(max_examples=300, deadline=None)
@given(st.lists(fields_strategy, max_size=8))
def test_any_chain_built_by_the_rules_verifies(fields: list[Entry]) -> None:
    assert verify_chain(chain_of(fields)) == []


@settings(max_examples=500, deadline=None)
@given(mutated_chains())
def test_any_single_mutation_of_any_chain_is_reported(case: tuple[str, list[Entry]]) -> None:
    kind, entries = case
    assert verify_chain(entries), kind


# --- helpers ----------------------------------------------------------------------------------
def _other(name: str, value: object) -> object:
    """A value for field ``name`` that differs from ``value`` in the canonical form."""
    if name == "seq":
        assert isinstance(value, int)
        return value + 1000
    if name == "at":
        assert isinstance(value, datetime)
        return value + timedelta(microseconds=1)
    if name == "detail":
        assert isinstance(value, dict)
        return {**value, "tampered": not value.get("tampered", False)}
    if name in ("prev", "hash"):
        assert isinstance(value, str)
        return "f" * 64 if value != "f" * 64 else "e" * 64
    assert isinstance(value, str)
    return value + "x"


def test_the_helper_always_changes_the_canonical_form() -> None:
    for name, value in sample_fields(3).items():
        assert canonical_json(_other(name, value)) != canonical_json(value), name
    assert json.loads(canonical_json({"b": 1, "a": 2})) == {"a": 2, "b": 1}
