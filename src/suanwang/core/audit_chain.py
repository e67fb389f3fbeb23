"""The audit log's hash chain: how an entry is hashed and how a chain is checked (pure).

Every audit entry carries ``prev`` (the hash of the entry before it, :data:`GENESIS` for the
first) and ``hash``, the SHA-256 of the entry's own fields *and* ``prev``. Editing any field
of any entry changes its hash; deleting or reordering entries breaks the ``prev`` links and
the run of ``seq`` numbers. :func:`verify_chain` finds every such break.

**The canonical form** hashed by :func:`entry_hash` is one JSON object, encoded as UTF-8::

    {"action":..,"at":..,"detail":..,"outcome":..,"prev":..,"principal":..,"role":..,
     "seq":..,"source":..,"target":..}

- keys sorted (nested objects too), separators ``","`` and ``":"`` (no spaces), non-ASCII
  characters written as themselves (``ensure_ascii=False``), NaN and infinities refused;
- exactly the fields in :data:`HASHED_FIELDS` plus ``prev``; any other key of the mapping
  (such as a stored ``hash``) is ignored;
- ``seq`` a JSON integer; ``principal``, ``role``, ``action``, ``target``, ``source`` and
  ``outcome`` strings; ``detail`` a JSON object;
- ``at`` (and any datetime inside ``detail``) as ISO 8601 in UTC with microseconds and a
  ``Z``: ``2026-12-05T08:30:00.000000Z``. An aware datetime is converted to UTC; a naive one
  is taken to be UTC already (SQLite hands back naive datetimes). So the same instant hashes
  the same whichever database stored it;
- a lone surrogate in a string is encoded with ``surrogatepass`` (never raises).

**What a chain alone cannot detect.** Anyone who can write the table can rewrite it whole
and recompute every hash: there is no secret in the chain. And removing entries from the
*end* (tail truncation) leaves a shorter chain that is still intact. Both are detected
only against an anchor kept elsewhere: a ``(seq, hash)`` pair noted earlier (printed by
``suanwang audit verify``) and passed back as ``anchors``; if the entry at that ``seq`` is
gone or its hash differs, :func:`check_chain` reports it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal

from suanwang.core.base import Frozen

GENESIS = "0" * 64
"""The ``prev`` of the first entry."""

HASHED_FIELDS = (
    "seq",
    "at",
    "principal",
    "role",
    "action",
    "target",
    "source",
    "outcome",
    "detail",
)
"""The fields of an entry its hash covers (with ``prev``)."""

TEXT_FIELDS = ("principal", "role", "action", "target", "source", "outcome")

BreakCode = Literal["malformed", "order", "gap", "prev", "hash", "anchor"]

BREAK_CODES: dict[str, str] = {
    "malformed": "the entry lacks a field or has one of the wrong type",
    "order": "seq does not increase (entries reordered or duplicated)",
    "gap": "seq skips numbers (entries deleted)",
    "prev": "prev is not the hash of the entry before (entries deleted, inserted or reordered)",
    "hash": "the hash does not match the entry's fields (the entry was edited)",
    "anchor": "an entry noted earlier is gone or changed (truncated or rewritten log)",
}
"""Every kind of break :func:`check_chain` reports, and what it means."""


class ChainBreak(Frozen):
    """One place where the chain is broken: the ``seq`` of the entry where it shows, a code
    from :data:`BREAK_CODES` and a sentence saying what is wrong."""

    seq: int
    code: BreakCode
    message: str


class ChainReport(Frozen):
    """The result of checking a whole chain."""

    entries: int
    """How many entries were read."""
    head_seq: int | None
    """The ``seq`` of the last entry (None for an empty chain)."""
    head_hash: str | None
    """The stored hash of the last entry: note it (with ``head_seq``) to detect truncation
    or a rewrite later."""
    breaks: tuple[ChainBreak, ...]

    @property
    def ok(self) -> bool:
        return not self.breaks


def canonical_time(value: datetime) -> str:
    """``value`` as canonical ISO 8601 UTC (``2026-12-05T08:30:00.000000Z``); naive = UTC."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return canonical_time(value)
    raise TypeError(f"{type(value).__name__} is not allowed in an audit entry")


def canonical_json(value: object) -> str:
    """``value`` in the canonical JSON form (see the module docstring).

    Raises:
        TypeError: a value JSON cannot hold (other than a datetime).
        ValueError: NaN or an infinity.
    """
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
    )


def hashed_form(prev: str, fields: Mapping[str, object]) -> dict[str, object]:
    """The object :func:`entry_hash` hashes: the :data:`HASHED_FIELDS` of ``fields`` and
    ``prev``.

    Raises:
        KeyError: a hashed field is missing.
    """
    missing = [f for f in HASHED_FIELDS if f not in fields]
    if missing:
        raise KeyError(f"audit entry lacks {', '.join(missing)}")
    form = {f: fields[f] for f in HASHED_FIELDS}
    form["prev"] = prev
    return form


def entry_hash(prev: str, fields: Mapping[str, object]) -> str:
    """The SHA-256 (lowercase hex) of an entry: its :data:`HASHED_FIELDS` and ``prev`` in
    the canonical form.

    Raises:
        KeyError: a hashed field is missing.
        TypeError, ValueError: a value the canonical form cannot hold.
    """
    text = canonical_json(hashed_form(prev, fields))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _parse(entry: Mapping[str, object]) -> tuple[int, str, str] | str:
    """``(seq, prev, hash)`` of a well-formed entry, or why it cannot be checked."""
    missing = [f for f in (*HASHED_FIELDS, "prev", "hash") if f not in entry]
    if missing:
        return f"lacks {', '.join(missing)}"
    seq, prev, stored = entry["seq"], entry["prev"], entry["hash"]
    if not isinstance(seq, int) or isinstance(seq, bool):
        return f"has seq {seq!r}, not an integer"
    if not isinstance(entry["at"], datetime):
        return f"has at {entry['at']!r}, not a datetime"
    if not isinstance(entry["detail"], Mapping):
        return "has a detail that is not a JSON object"
    wrong = [f for f in TEXT_FIELDS if not isinstance(entry[f], str)]
    wrong += [f for f, v in (("prev", prev), ("hash", stored)) if not isinstance(v, str)]
    if wrong or not isinstance(prev, str) or not isinstance(stored, str):
        return f"has {', '.join(wrong)} not text"
    return seq, prev, stored


def _short(h: str) -> str:
    return f"{h[:12]}…" if len(h) > 12 else repr(h)


def _link_breaks(seq: int, prev: str, before: tuple[int, str] | None) -> list[ChainBreak]:
    """The ``order``, ``gap`` and ``prev`` breaks of an entry, given the ``(seq, hash)`` of
    the entry read just before it (None for the first)."""
    out: list[ChainBreak] = []
    top = 0 if before is None else before[0]
    if seq <= top:
        out.append(
            ChainBreak(
                seq=seq,
                code="order",
                message=f"seq {seq} comes after seq {top}: entries reordered or duplicated",
            )
        )
    elif seq != top + 1:
        lost = f"seq {top + 1}" if seq == top + 2 else f"seq {top + 1} to {seq - 1}"
        where = "at the head" if top == 0 else f"after seq {top}"
        out.append(
            ChainBreak(seq=seq, code="gap", message=f"{lost} missing {where}: entries deleted")
        )
    expected = GENESIS if before is None else before[1]
    if prev != expected:
        what = "the genesis value" if before is None else f"the hash of seq {before[0]}"
        out.append(
            ChainBreak(
                seq=seq,
                code="prev",
                message=f"prev {_short(prev)} is not {what} ({_short(expected)}): "
                "entries deleted, inserted or reordered before it",
            )
        )
    return out


def _anchor_breaks(want: Mapping[int, str], seen: Mapping[int, str]) -> list[ChainBreak]:
    out: list[ChainBreak] = []
    for seq, expected in sorted(want.items()):
        if seq not in seen:
            message = f"the anchored entry seq {seq} is gone: the log was truncated or rewritten"
        elif seen[seq] != expected:
            message = (
                f"the entry at seq {seq} has hash {_short(seen[seq])}, not the anchored "
                f"{_short(expected)}: the log was rewritten"
            )
        else:
            continue
        out.append(ChainBreak(seq=seq, code="anchor", message=message))
    return out


def check_chain(
    entries: Iterable[Mapping[str, object]],
    *,
    anchors: Iterable[tuple[int, str]] = (),
) -> ChainReport:
    """Check a chain read in ``seq`` order (one pass, so entries may be streamed).

    Each entry is compared with the one read just before it: its ``seq`` must be one more
    (else ``order`` or ``gap``; the first must be 1), its ``prev`` that entry's stored hash
    (:data:`GENESIS` for the first; else ``prev``), and its stored hash must be
    :func:`entry_hash` of the entry (else ``hash``). So an edited entry
    shows as a ``hash`` break at its own seq; a deletion as ``gap`` and ``prev`` at the
    entry after the hole; a head truncation at the first remaining entry; a swap as
    ``order`` and ``prev`` breaks. Each ``(seq, hash)`` in ``anchors`` must be found as is
    (else ``anchor``): this is what detects a tail truncation or a rewrite.
    """
    breaks: list[ChainBreak] = []
    want = dict(anchors)
    seen: dict[int, str] = {}
    before: tuple[int, str] | None = None
    count = 0
    for entry in entries:
        count += 1
        parsed = _parse(entry)
        if isinstance(parsed, str):
            raw = entry.get("seq")
            seq = raw if isinstance(raw, int) and not isinstance(raw, bool) else -1
            if seq == -1:
                seq = 1 if before is None else before[0] + 1
            message = f"entry {count} (seq {seq}) {parsed}"
            breaks.append(ChainBreak(seq=seq, code="malformed", message=message))
            stored = entry.get("hash")
            before = (seq, stored if isinstance(stored, str) else "")
            continue
        seq, prev, stored = parsed
        breaks.extend(_link_breaks(seq, prev, before))
        try:
            actual = entry_hash(prev, entry)
        except (TypeError, ValueError) as exc:
            message = f"cannot hash the entry: {exc}"
            breaks.append(ChainBreak(seq=seq, code="malformed", message=message))
        else:
            if actual != stored:
                message = (
                    f"stored hash {_short(stored)} is not the hash of the entry's fields "
                    f"({_short(actual)}): the entry was edited"
                )
                breaks.append(ChainBreak(seq=seq, code="hash", message=message))
        if seq in want:
            seen[seq] = stored
        before = (seq, stored)
    breaks.extend(_anchor_breaks(want, seen))
    return ChainReport(
        entries=count,
        head_seq=before[0] if before else None,
        head_hash=before[1] if before else None,
        breaks=tuple(breaks),
    )


def verify_chain(entries: Iterable[Mapping[str, object]]) -> list[ChainBreak]:
    """Every break in a chain read in ``seq`` order (see :func:`check_chain`); empty when
    the chain is intact. An empty chain is intact; so is one cut short at its end (see the
    module docstring)."""
    return list(check_chain(entries).breaks)
