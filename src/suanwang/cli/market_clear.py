"""`suanwang market clear`, `market replay` and `market orders`: the call auction's shell.

``clear`` reads a JSON-lines order book, clears one round per product with
:func:`~suanwang.core.market.auction.clear_book` and prints the rounds (optionally writing a
replay archive); ``replay`` re-runs such an archive and says whether it reproduces itself;
``orders`` writes a synthetic order book. The command functions are registered by
``suanwang.cli.market``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from suanwang.cli.output import (
    JsonOption,
    console,
    emit_json,
    err_console,
    fail,
    field_errors,
    json_lines,
    read_text,
)
from suanwang.core.market.auction import (
    ARCHIVE_FORMAT,
    REFERENCE_PRICES,
    Algo,
    Ask,
    AuctionError,
    Bid,
    Clearing,
    ReferencePrice,
    ReplayMismatchError,
    archive_book,
    clear_book,
    generate_orders,
    replay,
    replay_book,
    replay_hash,
)

EXIT_MISMATCH = 1
"""Exit status of ``replay`` when the archive does not reproduce itself."""

HASH_SHOWN = 8
"""Hex digits of a hash the human output shows."""

WIDE = 132
"""Columns the rounds table gets when the output is not a terminal."""

_LINE_FORMAT = (
    'one JSON object per line: {"bid": {...}}, {"ask": {...}} or '
    '{"reference": {"product": ..., "price_micros": ...}}'
)
_KINDS: dict[str, type[BaseModel]] = {"bid": Bid, "ask": Ask, "reference": ReferencePrice}

CLEAR_HELP = (
    "Clear a call auction: one uniform-price round per product.\n\n"
    "ORDERS is JSON lines (- for stdin): "
    '{"bid": {"id", "product", "price_micros", "qty", "ts", "participant"?}}, the same for '
    '"ask", and optionally {"reference": {"product", "price_micros"}} giving a product\'s last '
    "clearing price (the third tie-break). Prices are integer micros per normalized "
    "unit-hour, quantities whole lots, ts the time priority.\n\n"
    "Bad lines are all reported with their line numbers and field paths (exit 2); nothing is "
    "cleared or written then."
)
REPLAY_HELP = (
    "Re-run a clearing archive (written by clear --archive) and check it reproduces itself: "
    "prints 'identical' and the replay hash, or names the mismatch and exits 1."
)
ORDERS_HELP = (
    "A synthetic order book as JSON lines: a reference line per product, then the orders.\n\n"
    "Products are every class (ai, general, hpc) x tier (guaranteed, interruptible) x region "
    "(cn-east, cn-west, eu-west) with one-hour slots; prices sit around each product's "
    "reference so that books cross partially. The same --n and --seed give the same file."
)


# --- reading order books --------------------------------------------------------------------------
@dataclass
class OrderBook:
    """What an order file holds: the orders and each product's reference price."""

    name: str
    orders: list[Bid | Ask] = field(default_factory=list)
    references: dict[str, int] = field(default_factory=dict)


def _parse_line(obj: Any) -> tuple[str, BaseModel | None, list[str]]:
    """One decoded line as ``(kind, item, problems)``."""
    if not isinstance(obj, dict):
        return "", None, [f"expected a JSON object ({_LINE_FORMAT}), got {type(obj).__name__}"]
    keys = sorted(obj)
    if len(keys) != 1 or keys[0] not in _KINDS:
        return "", None, [f'expected exactly one key, "bid", "ask" or "reference"; got {keys}']
    kind = keys[0]
    try:
        return kind, _KINDS[kind].model_validate(obj[kind]), []
    except ValidationError as exc:
        return kind, None, field_errors(exc, kind)


def read_order_book(path: Path) -> OrderBook:
    """Every line of ``path`` as an order or a reference price; every problem is reported
    together (exit 2), each with its line number and field path, and nothing is returned then.

    Order ids must be unique over the whole file (bids and asks alike) and a product has at
    most one reference line. Blank lines and lines starting with ``#`` are skipped.
    """
    text = read_text(path)
    book = OrderBook(name="stdin" if str(path) == "-" else path.name)
    problems: list[str] = []
    id_line: dict[str, int] = {}
    ref_line: dict[str, int] = {}
    for number, obj, bad in json_lines(text):
        if bad is not None:
            problems.append(bad)
            continue
        kind, item, errors = _parse_line(obj)
        problems += [f"line {number}: {e}" for e in errors]
        if isinstance(item, ReferencePrice):
            if item.product in ref_line:
                problems.append(
                    f"line {number}: reference.product: {item.product!r} already has a "
                    f"reference on line {ref_line[item.product]}"
                )
            ref_line.setdefault(item.product, number)
            book.references.setdefault(item.product, item.price_micros)
        elif isinstance(item, Bid | Ask):
            if item.id in id_line:
                problems.append(
                    f"line {number}: {kind}.id: order {item.id!r} is already on line "
                    f"{id_line[item.id]}; ids identify orders in fills"
                )
            id_line.setdefault(item.id, number)
            book.orders.append(item)
    if problems:
        fail(f"{book.name}: {len(problems)} problem(s)\n" + "\n".join(problems))
    if not book.orders:
        fail(f"{book.name}: no orders ({_LINE_FORMAT})")
    return book


# --- clear ----------------------------------------------------------------------------------------
def _short(digest: str) -> str:
    return digest[:HASH_SHOWN]


def _summary(rounds: list[Clearing]) -> dict[str, Any]:
    return {
        "rounds": [c.model_dump(mode="json") for c in rounds],
        "clearing_price": rounds[0].clearing_price if len(rounds) == 1 else None,
        "matched_volume": sum(c.matched_volume for c in rounds),
        "replay_hash": replay_hash(rounds),
    }


def _note(c: Clearing) -> str:
    """Why a round did not trade, or (McAfee) which rule applied, in a few words."""
    if c.matched_volume == 0:
        return c.reason or ""
    if c.algo is Algo.MCAFEE:
        return "trade reduction" if "reduction" in (c.reason or "") else "k lots at p0"
    return ""


def _print_rounds(rounds: list[Clearing]) -> None:
    mcafee = any(c.algo is Algo.MCAFEE for c in rounds)
    table = Table(
        Column("product", no_wrap=True),
        Column("buyer/seller" if mcafee else "price", justify="right", no_wrap=True),
        Column("lots", justify="right"),
        Column("demand", justify="right"),
        Column("supply", justify="right"),
        Column("fills", justify="right"),
        *([Column("surplus", justify="right")] if mcafee else []),
        Column("in/out hash", no_wrap=True),
        Column("note", min_width=15),
        box=None,
        title="clearing rounds: prices in micros per unit-hour; lots matched, and the demand and "
        "supply at the price",
    )
    table.title_justify = "left"
    for c in rounds:
        if c.clearing_price is None:
            price = "-"
        elif mcafee:
            price = f"{c.clearing_price:,} / {c.seller_price or 0:,}"
        else:
            price = f"{c.clearing_price:,}"
        table.add_row(
            c.product,
            price,
            f"{c.matched_volume:,}",
            f"{c.demand_at_price:,}",
            f"{c.supply_at_price:,}",
            f"{len(c.fills):,}",
            *([f"{c.surplus_micros:,}"] if mcafee else []),
            f"{_short(c.input_hash)} {_short(c.output_hash)}",
            escape(_note(c)),
        )
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=max(console.width, WIDE)).print(table)
    total = sum(c.matched_volume for c in rounds)
    traded = sum(1 for c in rounds if c.matched_volume)
    console.print(
        f"{total:,} lots matched in {traded} of {len(rounds)} rounds; "
        f"replay hash {replay_hash(rounds)}",
        soft_wrap=True,
    )


def clear_cmd(
    orders: Path = typer.Argument(
        ..., metavar="ORDERS", help="Order book, JSON lines (- for stdin)."
    ),
    ref_price: int | None = typer.Option(
        None,
        "--ref-price",
        min=1,
        help="Reference (last clearing) price, micros per unit-hour, for products without a "
        "reference line.",
    ),
    algo: Algo = typer.Option(
        Algo.UNIFORM,
        "--algo",
        case_sensitive=False,
        help="uniform: max-volume uniform price; mcafee: McAfee's trade-reduction double "
        "auction (for thin pools).",
    ),
    archive: Path | None = typer.Option(
        None, "--archive", metavar="FILE", help="Write the replay archive (JSON) to FILE."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Clear a call auction, one round per product (see :data:`CLEAR_HELP`)."""
    book = read_order_book(orders)
    refs = dict(book.references)
    if ref_price is not None:
        for o in book.orders:
            refs.setdefault(o.product, ref_price)
    try:
        rounds = clear_book(book.orders, refs, algo=algo)
        record = archive_book(book.orders, rounds) if archive is not None else None
    except AuctionError as exc:
        fail(str(exc))
    if archive is not None:
        try:
            archive.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"--archive {archive}: cannot write ({exc})")
    if json_out:
        emit_json(_summary(rounds))
    else:
        _print_rounds(rounds)
    if archive is not None:
        err_console.print(f"[dim]wrote the replay archive to {escape(str(archive))}[/]")


# --- replay ---------------------------------------------------------------------------------------
def replay_cmd(
    archive: Path = typer.Argument(
        ..., metavar="ARCHIVE", help="A clearing archive (clear --archive FILE)."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Re-run a clearing archive and check it reproduces itself (see :data:`REPLAY_HELP`)."""
    text = read_text(archive)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{archive}: not JSON ({exc.msg}, line {exc.lineno}, column {exc.colno})")
    try:
        if isinstance(doc, dict) and doc.get("format") == ARCHIVE_FORMAT:
            rounds = [replay(doc)]
        else:
            rounds = replay_book(doc)
    except ReplayMismatchError as exc:
        if json_out:
            emit_json(
                {
                    "identical": False,
                    "what": exc.what,
                    "product": exc.product,
                    "archived": exc.archived,
                    "recomputed": exc.recomputed,
                    "message": str(exc),
                }
            )
        fail(f"{archive}: {exc}", code=EXIT_MISMATCH)
    except AuctionError as exc:
        fail(f"{archive}: {exc}")
    digest = replay_hash(rounds)
    if json_out:
        emit_json(
            {
                "identical": True,
                "rounds": len(rounds),
                "matched_volume": sum(c.matched_volume for c in rounds),
                "replay_hash": digest,
            }
        )
        return
    typer.echo(f"identical: {len(rounds)} round(s), replay hash {digest}")


# --- orders ---------------------------------------------------------------------------------------
def _line(kind: str, item: BaseModel) -> str:
    body = item.model_dump(mode="json", exclude_none=True)
    return json.dumps({kind: body}, separators=(",", ":"), ensure_ascii=False) + "\n"


def orders_cmd(
    n: int = typer.Option(..., "--n", min=1, help="How many orders (at least 1)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed: same seed, same orders."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the orders to this file instead of stdout."
    ),
) -> None:
    """A synthetic order book as JSON lines (see :data:`ORDERS_HELP`)."""
    orders = generate_orders(n, seed)
    products = sorted({o.product for o in orders})
    refs = [ReferencePrice(product=p, price_micros=REFERENCE_PRICES[p]) for p in products]
    text = "".join(_line("reference", r) for r in refs) + "".join(
        _line("bid" if isinstance(o, Bid) else "ask", o) for o in orders
    )
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--out {out}: cannot write ({exc})")
    err_console.print(f"[dim]wrote {len(orders):,} orders to {escape(str(out))}[/]")
