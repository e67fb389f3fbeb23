"""`suanwang market`: quotes, call auctions and an end-to-end market run, offline on files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from suanwang.cli.ledger import write_records
from suanwang.cli.market_clear import (
    CLEAR_HELP,
    ORDERS_HELP,
    REPLAY_HELP,
    clear_cmd,
    orders_cmd,
    replay_cmd,
)
from suanwang.cli.market_quote import QUOTE_HELP, quote_cmd
from suanwang.cli.output import JsonOption, console, emit_json, err_console, fail
from suanwang.cli.worldfile import WorldOption, load_world, remember_world
from suanwang.core.errors import SuanwangError
from suanwang.core.market.money import format_money
from suanwang.core.market.prices import posted_prices, summarise
from suanwang.core.market.simulate import SimConfig, SimReport, simulate
from suanwang.core.market.verify import verify
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass

app = typer.Typer(
    help="The compute market: quote tasks, clear call auctions, run leases end to end.",
    no_args_is_help=True,
)
app.command("quote", help=QUOTE_HELP)(quote_cmd)
app.command("clear", help=CLEAR_HELP)(clear_cmd)
app.command("replay", help=REPLAY_HELP)(replay_cmd)
app.command("orders", help=ORDERS_HELP)(orders_cmd)


@app.command("prices")
def prices_cmd(
    ctx: typer.Context,
    compute_class: ComputeClass | None = typer.Option(
        None, "--class", help="Only this compute class (general, ai, hpc)."
    ),
    limit: int = typer.Option(20, "--limit", min=1, help="Rows per class in the table."),
    world_file: Path | None = WorldOption,
    json_out: bool = JsonOption,
) -> None:
    """Posted prices per pool (per normalized unit-hour and per device-hour), cheapest first,
    with the spread per class."""
    remember_world(ctx, world_file)
    prices = posted_prices(load_world(ctx), UNIT_TABLE, compute_class)
    summary = summarise(prices)
    if json_out:
        emit_json({"unit_table": UNIT_TABLE.version, "summary": summary, "prices": prices})
        return
    for s in summary:
        cls = s.compute_class
        unit = UNIT_TABLE.unit(cls).symbol
        rows = [p for p in prices if p.compute_class is cls]
        table = Table(
            title=f"{cls.value}: {s.pools} pools, per {unit}-hour "
            f"min {format_money(s.min_micros, rows[0].currency)}, "
            f"median {format_money(s.median_micros, rows[0].currency)}, "
            f"max {format_money(s.max_micros, rows[0].currency)}"
        )
        for col in ("site", "country", "model", "devices"):
            table.add_column(col)
        table.add_column(f"per {unit}-h", justify="right")
        table.add_column("per device-h", justify="right")
        for p in rows[:limit]:
            table.add_row(
                p.site,
                p.country,
                p.model,
                str(p.devices),
                format_money(p.price_per_unit_hour_micros, p.currency),
                format_money(p.price_per_device_hour_micros, p.currency),
            )
        console.print(table)


SIMULATE_HELP = (
    "Run the market end to end on a generated workload: place tasks, open leases, meter "
    "heartbeats (with outages, duplicate and late events), settle, pause tenants who run out of "
    "money, close, dispute, release, expire vouchers. Writes the ledger with --ledger and checks "
    "every invariant on it (exit 1 if one breaks)."
)


@app.command("simulate", help=SIMULATE_HELP)
def simulate_cmd(
    ctx: typer.Context,
    tasks: int = typer.Option(300, "--tasks", "-n", min=0, help="Tasks to generate."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed (same seed, same run)."),
    start: str = typer.Option(
        "2026-07-01T00:00Z", "--start", help="Simulated start (ISO 8601 with a timezone)."
    ),
    ledger: Path | None = typer.Option(
        None, "--ledger", help="Write the ledger here (JSON Lines) for `suanwang ledger verify`."
    ),
    calm: bool = typer.Option(
        False, "--calm", help="No faults: every lease starts, runs and pays."
    ),
    world_file: Path | None = WorldOption,
    json_out: bool = JsonOption,
) -> None:
    remember_world(ctx, world_file)
    world = load_world(ctx)
    try:
        at = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--start {start!r} is not an ISO 8601 time, e.g. 2026-07-01T00:00Z")
    if at.utcoffset() is None:
        fail(f"--start {start!r} needs a timezone, e.g. 2026-07-01T00:00Z")
    faults = {
        k: 0.0 for k in SimConfig.model_fields if k.startswith("p_") and k not in ("p_top_up",)
    }
    config = SimConfig(tasks=tasks, seed=seed, start=at, **(faults if calm else {}))
    try:
        with (
            err_console.status(f"simulating the market over {tasks} tasks")
            if (not json_out and tasks >= 200)
            else _Null()
        ):
            result = simulate(world, UNIT_TABLE, config)
    except SuanwangError as exc:
        fail(str(exc))
    records = [r.model_dump(mode="json") for r in result.market.ledger.records()]
    violations = verify(records)
    written = None
    if ledger is not None:
        try:
            write_records(ledger, iter(records))
        except OSError as exc:
            fail(f"cannot write ledger {ledger}: {exc.strerror or exc}")
        written = str(ledger)
    if json_out:
        emit_json(
            {
                "report": result.report,
                "ledger": written,
                "records": len(records),
                "ok": not violations,
                "violations": [v.model_dump() for v in violations[:20]],
            }
        )
    else:
        _print_report(result.report, written, len(records))
        if not violations:
            console.print("[green]ledger ok[/green]: every invariant holds")
    if violations:
        first = violations[0]
        err_console.print(f"[bold red]broken invariant[/bold red] {first.code}: {first.message}")
        raise typer.Exit(1)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def _print_report(r: SimReport, ledger: str | None, records: int) -> None:
    c = r.currency
    table = Table(title="market simulation", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("tasks placed / generated", f"{r.placed} / {r.tasks}"),
        ("leases opened", str(r.leases)),
        ("not funded", ", ".join(f"{k} {v}" for k, v in r.unfunded.items()) or "0"),
        ("failed to start", str(r.failed_start)),
        ("closed", ", ".join(f"{k} {v}" for k, v in r.closed.items())),
        ("paused for funds / resumed", f"{r.paused} / {r.resumed}"),
        (
            "usage events (duplicates ignored, late)",
            f"{r.events_sent} ({r.events_duplicate}, {r.events_late})",
        ),
        ("statements (with corrections)", f"{r.statements} ({r.corrections})"),
        ("disputes", str(r.disputes)),
        ("vouchers granted", str(r.vouchers)),
        ("paid by tenants", format_money(r.paid_micros, c)),
        ("  of which from vouchers", format_money(r.voucher_paid_micros, c)),
        ("refunded", format_money(r.refunded_micros, c)),
        ("SLA credits", format_money(r.credited_micros, c)),
        ("providers", format_money(r.provider_micros, c)),
        ("carriers", format_money(r.carrier_micros, c)),
        ("platform fees", format_money(r.platform_micros, c)),
        ("ledger transactions", str(r.ledger_txns)),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    if ledger:
        console.print(f"ledger written to {ledger} ({records} records)")
