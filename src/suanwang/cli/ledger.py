"""`suanwang ledger`: check and read ledger files offline (JSON Lines, one record per line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from suanwang.cli.output import JsonOption, console, emit_json, err_console, fail
from suanwang.core.market.money import format_money
from suanwang.core.market.verify import INVARIANTS, Violation, verify

app = typer.Typer(
    help="Check and read ledger files (JSON Lines written by `suanwang market simulate`).",
    no_args_is_help=True,
)

EXIT_BROKEN = 1
"""Exit status when a ledger breaks an invariant."""


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Each non-blank line of ``path`` as a dict; an unparsable line becomes a stand-in that
    :func:`verify` reports as a schema violation at that record (the line number is kept)."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read ledger {path}: {exc.strerror or exc}")
    with handle:
        for n, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield {"type": f"<line {n}: not JSON: {exc.msg}>"}
                continue
            yield obj if isinstance(obj, dict) else {"type": f"<line {n}: not an object>"}


def write_records(path: Path, records: Iterator[dict[str, Any]]) -> int:
    """Write records as JSON Lines to ``path`` atomically (a temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as out:
        for rec in records:
            out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
    tmp.replace(path)
    return n


@app.command("verify")
def verify_cmd(
    ledger: Path | None = typer.Argument(
        None, help="Ledger file (JSON Lines); omit with --db or --data-dir.", show_default=False
    ),
    db: str | None = typer.Option(
        None, "--db", help="Verify the control plane's ledger in this database instead."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Verify the control plane's ledger in this data directory."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Check every invariant of a ledger; exit 1 naming the first broken one.

    Invariants: balanced transactions, unique idempotency keys, known accounts, no negative
    balances, vouchers unspent after expiry and within their scope, budget caps, immutable
    lease snapshots, exact revenue splits, empty escrow after a lease's final refund, time
    order, and conservation (all balances sum to zero).
    """
    if (ledger is None) == (db is None and data_dir is None):
        fail("give a ledger file, or --db URL / --data-dir DIR for the control plane's ledger")
    if ledger is not None:
        records = list(read_records(ledger))
        source = str(ledger)
    else:
        records, source = _records_from_store(db, data_dir)
    violations = verify(records)
    txns = sum(1 for r in records if r.get("type") == "txn")
    result = {
        "ledger": source,
        "records": len(records),
        "transactions": txns,
        "ok": not violations,
        "checked": list(INVARIANTS),
        "first_violation": violations[0].model_dump() if violations else None,
        "violations": [v.model_dump() for v in violations[:100]],
        "violation_count": len(violations),
    }
    if json_out:
        emit_json(result)
    elif violations:
        _show_violations(violations)
    else:
        console.print(
            f"[green]ok[/green]: {len(records)} records, {txns} transactions; "
            f"all {len(INVARIANTS)} invariants hold"
        )
    if violations:
        if not json_out:
            first = violations[0]
            err_console.print(
                f"[bold red]broken invariant[/bold red] {first.code} "
                f"({INVARIANTS.get(first.code, '')}) at record {first.record}: {first.message}",
                soft_wrap=True,
            )
        raise typer.Exit(EXIT_BROKEN)


def _records_from_store(db: str | None, data_dir: Path | None) -> tuple[list[dict[str, Any]], str]:
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from suanwang.control.store import StoreError, default_url, open_store
    from suanwang.control.store.db import DB_FILE
    from suanwang.control.store.schema import LedgerRow

    if db is None:
        folder = data_dir or Path(".")
        if not (folder / DB_FILE).is_file():
            fail(f"{folder} holds no control-plane store ({DB_FILE})")
        url = default_url(folder)
    else:
        url = db
    try:
        store = open_store(url, migrate=False)
        with store.sessions() as s:
            rows = list(s.execute(select(LedgerRow.body).order_by(LedgerRow.seq)).scalars())
    except StoreError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:  # a database without the control plane's tables
        reason = getattr(exc, "orig", None) or exc.__class__.__name__
        fail(f"cannot read a control-plane ledger from {store.url}: {reason}")
    store.close()
    return [dict(r) for r in rows], store.url


def _show_violations(violations: list[Violation]) -> None:
    table = Table(title=f"{len(violations)} violation(s)")
    table.add_column("record", justify="right")
    table.add_column("invariant")
    table.add_column("what is wrong")
    for v in violations[:50]:
        table.add_row(str(v.record), v.code, v.message)
    console.print(table)


@app.command("balances")
def balances_cmd(
    ledger: Path = typer.Argument(..., help="Ledger file (JSON Lines).", show_default=False),
    prefix: str = typer.Option("", "--prefix", help="Only accounts whose id starts with this."),
    json_out: bool = JsonOption,
) -> None:
    """Balances recomputed from a ledger's transactions (non-zero accounts only)."""
    currency = "USD"
    balances: dict[str, int] = {}
    for rec in read_records(ledger):
        if rec.get("type") == "header":
            currency = str(rec.get("currency", currency))
        elif rec.get("type") == "txn":
            try:
                for e in rec["txn"]["entries"]:
                    balances[str(e["account"])] = balances.get(str(e["account"]), 0) + int(
                        e["amount"]
                    )
            except (KeyError, TypeError, ValueError):
                fail(f"{ledger} has a malformed transaction; run `suanwang ledger verify`")
    shown = {k: v for k, v in sorted(balances.items()) if v and k.startswith(prefix)}
    if json_out:
        emit_json({"currency": currency, "balances_micros": shown})
        return
    table = Table(title=f"balances ({currency})")
    table.add_column("account")
    table.add_column("balance", justify="right")
    for k, v in shown.items():
        table.add_row(k, format_money(v, currency))
    console.print(table)
