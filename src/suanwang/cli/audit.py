"""`suanwang audit`: check and read the control plane's hash-chained audit log.

``verify`` re-hashes every entry and follows the chain: an edited entry, a deleted or
reordered one, or a cut at the head is reported with its ``seq`` (exit 1). A chain alone
cannot show that entries were cut from its *end*, or that someone rewrote it whole with
fresh hashes: note the ``head`` that ``verify`` prints and pass it back later with
``--anchor SEQ:HASH`` to detect both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from suanwang.api.audit import AuditLog, Entry
from suanwang.cli.control import DataDirOption, DbOption, url_of
from suanwang.cli.output import JsonOption, console, emit_json, err_console, fail
from suanwang.control.store import Store, StoreError, open_store
from suanwang.control.store.db import DB_FILE
from suanwang.core.audit_chain import BREAK_CODES, ChainBreak, canonical_time

app = typer.Typer(
    help="Check and read the hash-chained audit log of every state-changing call.",
    no_args_is_help=True,
)

EXIT_BROKEN = 1
"""Exit status when the audit chain is broken."""

SHOWN_BREAKS = 50
"""The most breaks listed in the table (``--json`` lists up to 1,000)."""


def _open(db: str | None, data_dir: Path | None) -> Store:
    """The store, opened without migrating it; an absent SQLite file is an error, not a new
    empty log."""
    if db is None and data_dir is not None and not (data_dir / DB_FILE).is_file():
        fail(f"no control-plane store in {data_dir} (no {DB_FILE})")
    url = url_of(db, data_dir)
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if path and path != ":memory:" and not Path(path).is_file():
            fail(f"no control-plane store at {path} (give --db URL or --data-dir DIR)")
    try:
        return open_store(url, migrate=False)
    except StoreError as exc:
        fail(str(exc))


def _db_failure(store: Store, exc: SQLAlchemyError) -> str:
    reason = getattr(exc, "orig", None) or exc.__class__.__name__
    return (
        f"cannot read an audit log from {store.url}: {reason} (a store from before the audit "
        "log is migrated when the control plane next opens it)"
    )


def _parse_anchor(text: str) -> tuple[int, str]:
    seq, sep, digest = text.partition(":")
    digest = digest.strip().lower()
    if (
        not sep
        or not seq.strip().isdigit()
        or len(digest) != 64
        or any(c not in "0123456789abcdef" for c in digest)
    ):
        fail(f"--anchor {text!r} is not SEQ:HASH (a seq number and a 64-digit hex hash)")
    return int(seq), digest


def _break_json(b: ChainBreak) -> dict[str, Any]:
    return {"seq": b.seq, "code": b.code, "what": BREAK_CODES[b.code], "message": b.message}


@app.command("verify")
def verify_cmd(
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    anchor: list[str] | None = typer.Option(
        None,
        "--anchor",
        help="SEQ:HASH of an entry noted earlier (the head an earlier verify printed): fail "
        "unless it is still there unchanged. Detects a cut at the end or a rewrite. Repeatable.",
        show_default=False,
    ),
    json_out: bool = JsonOption,
) -> None:
    """Re-hash every audit entry and follow the chain; exit 1 naming the first break.

    Breaks: an edited entry (its hash no longer matches), deleted entries (a gap in seq and
    a broken prev link), reordered or duplicated entries, a cut at the head, a missing or
    changed anchor. Prints the head (SEQ:HASH) to note for a later --anchor.
    """
    anchors = dict(_parse_anchor(a) for a in anchor or [])
    store = _open(db, data_dir)
    try:
        report = AuditLog(store).report(anchors)
    except SQLAlchemyError as exc:
        fail(_db_failure(store, exc))
    finally:
        store.close()
    head = (
        {"seq": report.head_seq, "hash": report.head_hash} if report.head_seq is not None else None
    )
    if json_out:
        emit_json(
            {
                "ok": report.ok,
                "store": store.url,
                "entries": report.entries,
                "head": head,
                "anchors": [{"seq": s, "hash": h} for s, h in sorted(anchors.items())],
                "breaks": [_break_json(b) for b in report.breaks[:1000]],
                "break_count": len(report.breaks),
            }
        )
    elif report.ok:
        where = f"; head {report.head_seq}:{report.head_hash}" if head else ""
        console.print(
            f"[green]ok[/green]: {report.entries} entries, chain intact{where}", soft_wrap=True
        )
    else:
        _show_breaks(list(report.breaks))
    if not report.ok:
        if not json_out:
            first = report.breaks[0]
            err_console.print(
                Text.assemble(
                    ("audit chain broken", "bold red"),
                    f" at seq {first.seq} ({first.code}: {BREAK_CODES[first.code]}): "
                    f"{first.message}",
                ),
                soft_wrap=True,
            )
        raise typer.Exit(EXIT_BROKEN)


def _show_breaks(breaks: list[ChainBreak]) -> None:
    table = Table(title=f"{len(breaks)} break(s) in the audit chain")
    table.add_column("seq", justify="right")
    table.add_column("break")
    table.add_column("what is wrong")
    for b in breaks[:SHOWN_BREAKS]:
        table.add_row(str(b.seq), b.code, Text(b.message))
    if len(breaks) > SHOWN_BREAKS:
        table.caption = f"the first {SHOWN_BREAKS} shown; --json lists more"
    console.print(table)


def _entry_json(e: Entry) -> dict[str, Any]:
    return {**e, "at": canonical_time(e["at"])}


@app.command("show")
def show_cmd(
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=10_000, help="How many entries."),
    after: int | None = typer.Option(
        None,
        "--after",
        min=0,
        help="The entries after this seq (oldest first) instead of the latest.",
        show_default=False,
    ),
    json_out: bool = JsonOption,
) -> None:
    """The latest audit entries (or those after --after SEQ), oldest first."""
    store = _open(db, data_dir)
    try:
        entries = AuditLog(store).rows(limit=limit, after_seq=after)
    except SQLAlchemyError as exc:
        fail(_db_failure(store, exc))
    finally:
        store.close()
    if json_out:
        emit_json([_entry_json(e) for e in entries])
        return
    if not entries:
        console.print("the audit log has no entries" + (f" after seq {after}" if after else ""))
        return
    table = Table(title=f"audit log ({store.url})", caption="--json gives every field")
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("at (UTC)", no_wrap=True)
    table.add_column("who", overflow="fold")
    table.add_column("action", overflow="fold")
    table.add_column("target", overflow="fold")
    table.add_column("from", overflow="fold")
    table.add_column("outcome", no_wrap=True)
    for e in entries:
        table.add_row(
            str(e["seq"]),
            e["at"].strftime("%Y-%m-%d %H:%M:%S"),
            Text(f"{e['principal']} ({e['role']})"),
            *(Text(e[c]) for c in ("action", "target", "source", "outcome")),
        )
    console.print(table)
