"""Periodic uniform-price call auction (集合竞价) for standardized pools, with a McAfee mode.

A *product* is a fungible pool (``ai-guaranteed-cn-east-1h``: class, SLA tier, region, slot).
One *round* clears the eligible bids and asks of one product at one price:

- ``uniform`` (default): the price maximises the matched volume ``V = min(D(p), S(p))``, then
  minimises the imbalance ``|D(p) - S(p)|``, then lies nearest the reference price (the last
  clearing price, when given), then is the lower one. Only prices where the full-fill rule is
  feasible are eligible (see :func:`clear_uniform`): every bid priced above the clearing price
  and every ask priced below it is filled in full; orders *at* the price on the long side are
  rationed in (price, time, id) priority.
- ``mcafee`` (McAfee 1992, for thin pools): lots are unit traders; with ``k`` the largest number
  of crossing lots, either ``k`` lots trade at ``p0 = floor((b_{k+1} + a_{k+1}) / 2)`` when
  ``a_k <= p0 <= b_k``, or ``k - 1`` lots trade with buyers paying ``b_k`` and sellers getting
  ``a_k``; the difference is the market's surplus, so money is conserved.

Prices are integers in micros per normalized unit-hour; quantities are integers in lots. The
module is pure (no I/O, no clock, no global randomness) and every result is auditable: the
round carries the SHA-256 of its canonical input and of its result, :func:`archive` writes both
and :func:`replay` re-runs an archive and raises :class:`ReplayMismatchError` on any difference.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from itertools import accumulate
from typing import Annotated, Any, Final, TypeVar

from pydantic import Field, ValidationError

from suanwang.core.base import Frozen, Identifier
from suanwang.core.market.errors import MarketError

ALGO_VERSION: Final = 1
"""Version of the clearing rules; part of every input hash. Bump it when a rule changes."""

ARCHIVE_FORMAT: Final = "suanwang-clearing-round"
"""``format`` of a one-round archive written by :func:`archive`."""

BOOK_ARCHIVE_FORMAT: Final = "suanwang-clearing-book"
"""``format`` of a many-round archive written by :func:`archive_book`."""

ARCHIVE_VERSION: Final = 1
"""``version`` of both archive layouts."""

PriceMicros = Annotated[int, Field(strict=True, ge=1, description="micros per unit-hour")]
"""A limit price: a positive integer of micros per normalized unit-hour (no floats, no bools)."""

Lots = Annotated[int, Field(strict=True, ge=1, description="whole lots")]
"""An order quantity: a positive integer number of lots."""

Arrival = Annotated[int, Field(strict=True, ge=0, description="arrival sequence or time")]
"""Time priority of an order: an arrival sequence number or a time, lower is earlier."""


class AuctionError(MarketError, ValueError):
    """Orders that cannot form a round (mixed products, duplicate ids) or a malformed archive."""


class ReplayMismatchError(MarketError):
    """A re-run archive does not reproduce itself.

    ``what`` names the check that failed (``"input_hash"``, ``"output"`` or ``"output_hash"``,
    or ``"replay_hash"`` for a book), ``archived`` and ``recomputed`` the two values, and
    ``product`` the round's product (``None`` for a book-level check).
    """

    def __init__(self, what: str, archived: str, recomputed: str, product: str | None) -> None:
        self.what = what
        self.archived = archived
        self.recomputed = recomputed
        self.product = product
        where = f"round {product}: " if product else ""
        super().__init__(
            f"{where}{what} mismatch: archived {archived}, recomputed {recomputed}"
            + _MISMATCH_HINTS.get(what, "")
        )


_MISMATCH_HINTS: Final = {
    "input_hash": " (the archived orders or parameters were altered)",
    "output": " (the archived result was altered)",
    "output_hash": " (the clearing rules or the archived result changed)",
    "replay_hash": " (the archive's rounds were altered, added or removed)",
}


class Algo(StrEnum):
    """Clearing rule of a round."""

    UNIFORM = "uniform"
    MCAFEE = "mcafee"


class _Order(Frozen):
    id: Identifier = Field(description="order id, unique on its side of a round")
    product: Identifier = Field(description="the pool, e.g. ai-guaranteed-cn-east-1h")
    price_micros: PriceMicros
    qty: Lots
    ts: Arrival = Field(description="time priority: lower is earlier")
    participant: Identifier | None = None


class Bid(_Order):
    """A buy order: up to ``qty`` lots at no more than ``price_micros`` per unit-hour."""


class Ask(_Order):
    """A sell order (an offer): up to ``qty`` lots at no less than ``price_micros``."""


_O = TypeVar("_O", Bid, Ask)


class ReferencePrice(Frozen):
    """A product's last clearing price, used as the third tie-break of the uniform rule."""

    product: Identifier
    price_micros: PriceMicros


class Fill(Frozen):
    """``qty`` lots from one bid to one ask.

    The buyer pays ``buyer_price_micros`` and the seller receives ``seller_price_micros`` per
    unit-hour; they differ only in McAfee's trade-reduction case, where the difference goes to
    the market's surplus. ``bid.price >= buyer_price >= seller_price >= ask.price`` always.
    """

    bid_id: Identifier
    ask_id: Identifier
    qty: Lots
    buyer_price_micros: PriceMicros
    seller_price_micros: PriceMicros


class Clearing(Frozen):
    """The result of one round of one product.

    ``clearing_price`` is what buyers pay (the public price index's price) and ``seller_price``
    what sellers receive; both are ``None`` when nothing trades, and they differ only in
    McAfee's trade-reduction case. ``demand_at_price`` is the bid lots priced at or above
    ``clearing_price`` and ``supply_at_price`` the ask lots at or below ``seller_price`` (both
    0 when nothing trades). ``surplus_micros`` is Σ (buyer − seller price) × qty over the fills:
    the same units as a fill's value (price × lots), so
    ``Σ buyer_price × qty == Σ seller_price × qty + surplus_micros``. ``reason`` says why nothing
    trades, or which McAfee rule applied. ``input_hash`` and ``output_hash`` are SHA-256 hex
    digests of the canonical input (:func:`input_payload`) and result (:func:`output_payload`).
    """

    product: Identifier
    algo: Algo
    algo_version: int
    ref_price: int | None
    clearing_price: int | None
    seller_price: int | None
    matched_volume: int = Field(ge=0)
    demand_at_price: int = Field(ge=0)
    supply_at_price: int = Field(ge=0)
    fills: tuple[Fill, ...]
    surplus_micros: int = Field(ge=0)
    reason: str | None
    input_hash: str
    output_hash: str


# --- canonical form and hashes -------------------------------------------------------------------
def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON: sorted keys, no spaces, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_hex(value: Any) -> str:
    """SHA-256 hex digest of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("ascii")).hexdigest()


def _bid_priority(b: Bid) -> tuple[int, int, str]:
    return (-b.price_micros, b.ts, b.id)


def _ask_priority(a: Ask) -> tuple[int, int, str]:
    return (a.price_micros, a.ts, a.id)


def input_payload(
    product: str, algo: Algo, ref_price: int | None, bids: Iterable[Bid], asks: Iterable[Ask]
) -> dict[str, Any]:
    """The canonical input of a round: params and the orders in priority order.

    Bids are sorted by (price descending, ts, id), asks by (price ascending, ts, id), so the
    order the caller passes them in does not change the payload or its hash.
    """
    return {
        "product": product,
        "algo": algo.value,
        "algo_version": ALGO_VERSION,
        "ref_price": ref_price,
        "bids": [b.model_dump(mode="json") for b in sorted(bids, key=_bid_priority)],
        "asks": [a.model_dump(mode="json") for a in sorted(asks, key=_ask_priority)],
    }


def output_payload(c: Clearing) -> dict[str, Any]:
    """The canonical result of a round (what ``output_hash`` covers): prices, volumes, surplus
    and fills. The ``reason`` text and the echoed parameters are not part of it."""
    return {
        "clearing_price": c.clearing_price,
        "seller_price": c.seller_price,
        "matched_volume": c.matched_volume,
        "demand_at_price": c.demand_at_price,
        "supply_at_price": c.supply_at_price,
        "surplus_micros": c.surplus_micros,
        "fills": [f.model_dump(mode="json") for f in c.fills],
    }


def replay_hash(clearings: Iterable[Clearing]) -> str:
    """One digest over a book's rounds: SHA-256 of the canonical list of their output hashes."""
    return sha256_hex([c.output_hash for c in clearings])


# --- clearing ------------------------------------------------------------------------------------
def _check_round(
    bids: Sequence[Bid], asks: Sequence[Ask], product: str | None, ref_price: int | None
) -> tuple[str, list[Bid], list[Ask]]:
    """The round's product and its orders in priority order; raises on bad rounds."""
    if not all(isinstance(b, Bid) for b in bids) or not all(isinstance(a, Ask) for a in asks):
        raise AuctionError("bids must all be Bid and asks all Ask")
    if ref_price is not None and ref_price < 1:
        raise AuctionError(f"the reference price must be at least 1 micro, got {ref_price}")
    products = sorted({o.product for o in (*bids, *asks)})
    if product is None:
        if not products:
            raise AuctionError("an empty round needs its product named (product=...)")
        if len(products) > 1:
            raise AuctionError(f"a round clears one product; these orders name {products}")
        product = products[0]
    others = [p for p in products if p != product]
    if others:
        raise AuctionError(f"a round of {product!r} got orders of {others}")
    for side, orders in (("bid", bids), ("ask", asks)):
        twice = sorted(i for i, n in Counter(o.id for o in orders).items() if n > 1)
        if twice:
            raise AuctionError(f"{side} ids must be unique within a round; repeated: {twice}")
    return product, sorted(bids, key=_bid_priority), sorted(asks, key=_ask_priority)


def _demand(bids: Sequence[Bid], price: int) -> int:
    return sum(b.qty for b in bids if b.price_micros >= price)


def _supply(asks: Sequence[Ask], price: int) -> int:
    return sum(a.qty for a in asks if a.price_micros <= price)


def _allocate(orders: Sequence[Bid] | Sequence[Ask], volume: int) -> list[tuple[str, int]]:
    """The first ``volume`` lots of ``orders`` (already in priority order) as (id, qty)."""
    out: list[tuple[str, int]] = []
    left = volume
    for o in orders:
        if left <= 0:
            break
        take = min(o.qty, left)
        out.append((o.id, take))
        left -= take
    return out


def _pair(
    bid_fills: list[tuple[str, int]],
    ask_fills: list[tuple[str, int]],
    buyer_price: int,
    seller_price: int,
) -> tuple[Fill, ...]:
    """Match bid fills to ask fills by walking both priority lists together."""
    fills: list[Fill] = []
    i = j = 0
    bid_left = bid_fills[0][1] if bid_fills else 0
    ask_left = ask_fills[0][1] if ask_fills else 0
    while i < len(bid_fills) and j < len(ask_fills):
        q = min(bid_left, ask_left)
        fills.append(
            Fill(
                bid_id=bid_fills[i][0],
                ask_id=ask_fills[j][0],
                qty=q,
                buyer_price_micros=buyer_price,
                seller_price_micros=seller_price,
            )
        )
        bid_left -= q
        ask_left -= q
        if bid_left == 0:
            i += 1
            bid_left = bid_fills[i][1] if i < len(bid_fills) else 0
        if ask_left == 0:
            j += 1
            ask_left = ask_fills[j][1] if j < len(ask_fills) else 0
    return tuple(fills)


def _lot_price(orders: Sequence[Bid] | Sequence[Ask], index: int) -> int | None:
    """Price of the ``index``-th lot (1-based) of ``orders`` in priority order, if it exists."""
    seen = 0
    for o in orders:
        seen += o.qty
        if seen >= index:
            return o.price_micros
    return None


def _best_price(
    bids: Sequence[Bid], asks: Sequence[Ask], ref_price: int | None
) -> tuple[int, int, int, int]:
    """The uniform rule's price: ``(price, volume, demand, supply)``; volume 0 means no trade.

    Candidates are the distinct order prices. The key is, in order: max volume; *feasible*
    (the bids strictly above and the asks strictly below the price each total at most the
    volume, so they can all be filled in full); min imbalance; nearest ``ref_price``; lower price.
    Among the max-volume prices the feasible ones form the non-empty interval
    ``[max(a_V, b_{V+1}), min(b_V, a_{V+1})]`` (lot prices), and no infeasible price has a
    smaller imbalance than every feasible one, so the filter loses neither volume nor balance.
    """
    prices = sorted({o.price_micros for o in (*bids, *asks)})
    where = {p: i for i, p in enumerate(prices)}
    bid_at = [0] * len(prices)
    ask_at = [0] * len(prices)
    for b in bids:
        bid_at[where[b.price_micros]] += b.qty
    for a in asks:
        ask_at[where[a.price_micros]] += a.qty
    demand = list(accumulate(reversed(bid_at)))[::-1]
    supply = list(accumulate(ask_at))
    best: tuple[tuple[int, bool, int, int, int], int] | None = None
    for i, p in enumerate(prices):
        d, s = demand[i], supply[i]
        v = min(d, s)
        above = demand[i + 1] if i + 1 < len(prices) else 0
        below = supply[i - 1] if i > 0 else 0
        near = -abs(p - ref_price) if ref_price is not None else 0
        key = (v, above <= v and below <= v, -abs(d - s), near, -p)
        if best is None or key > best[0]:
            best = (key, i)
    if best is None:
        return 0, 0, 0, 0
    i = best[1]
    return prices[i], best[0][0], demand[i], supply[i]


def _no_trade_reason(bids: Sequence[Bid], asks: Sequence[Ask]) -> str:
    if not bids and not asks:
        return "no orders"
    if not bids:
        return "no bids"
    if not asks:
        return "no asks"
    return f"best bid {bids[0].price_micros} below best ask {asks[0].price_micros}"


def _finish(
    product: str,
    algo: Algo,
    ref_price: int | None,
    input_hash: str,
    *,
    buyer_price: int | None = None,
    seller_price: int | None = None,
    demand: int = 0,
    supply: int = 0,
    fills: tuple[Fill, ...] = (),
    reason: str | None = None,
) -> Clearing:
    volume = sum(f.qty for f in fills)
    surplus = sum((f.buyer_price_micros - f.seller_price_micros) * f.qty for f in fills)
    draft = Clearing(
        product=product,
        algo=algo,
        algo_version=ALGO_VERSION,
        ref_price=ref_price,
        clearing_price=buyer_price if volume else None,
        seller_price=seller_price if volume else None,
        matched_volume=volume,
        demand_at_price=demand if volume else 0,
        supply_at_price=supply if volume else 0,
        fills=fills,
        surplus_micros=surplus,
        reason=reason,
        input_hash=input_hash,
        output_hash="",
    )
    return draft.model_copy(update={"output_hash": sha256_hex(output_payload(draft))})


def _clear_mcafee(
    product: str, bids: list[Bid], asks: list[Ask], ref_price: int | None, input_hash: str
) -> Clearing:
    """McAfee (1992) with every lot a unit trader; see :func:`clear_uniform`."""
    _, k, _, _ = _best_price(bids, asks, None)
    if k == 0:
        return _finish(
            product, Algo.MCAFEE, ref_price, input_hash, reason=_no_trade_reason(bids, asks)
        )
    b_k, a_k = _lot_price(bids, k), _lot_price(asks, k)
    assert b_k is not None  # k lots cross by definition
    assert a_k is not None
    b_next, a_next = _lot_price(bids, k + 1), _lot_price(asks, k + 1)
    if b_next is not None and a_next is not None and a_k <= (b_next + a_next) // 2 <= b_k:
        p0 = (b_next + a_next) // 2
        fills = _pair(_allocate(bids, k), _allocate(asks, k), p0, p0)
        return _finish(
            product,
            Algo.MCAFEE,
            ref_price,
            input_hash,
            buyer_price=p0,
            seller_price=p0,
            demand=_demand(bids, p0),
            supply=_supply(asks, p0),
            fills=fills,
            reason=f"mcafee: k={k} lots at p0={p0}",
        )
    if k == 1:
        return _finish(
            product,
            Algo.MCAFEE,
            ref_price,
            input_hash,
            reason=f"mcafee trade reduction: the one crossing lot (bid {b_k}, ask {a_k}) "
            "is withheld",
        )
    fills = _pair(_allocate(bids, k - 1), _allocate(asks, k - 1), b_k, a_k)
    return _finish(
        product,
        Algo.MCAFEE,
        ref_price,
        input_hash,
        buyer_price=b_k,
        seller_price=a_k,
        demand=_demand(bids, b_k),
        supply=_supply(asks, a_k),
        fills=fills,
        reason=f"mcafee trade reduction: k-1={k - 1} lots, buyers pay b_k={b_k}, "
        f"sellers get a_k={a_k}",
    )


def clear_uniform(
    bids: Sequence[Bid],
    asks: Sequence[Ask],
    ref_price: int | None = None,
    *,
    product: str | None = None,
    algo: Algo | str = Algo.UNIFORM,
) -> Clearing:
    """Clear one round of one product.

    ``uniform``: the clearing price ``p*`` is chosen among the distinct order prices by, in
    order, max matched volume ``V = min(D, S)``, full-fill feasibility (see below), min
    imbalance ``|D - S|``, nearest ``ref_price`` (when given) and lower price, where
    ``D(p)`` is the bid lots priced ``>= p`` and ``S(p)`` the ask lots priced ``<= p``. Every
    bid above ``p*`` and every ask below ``p*`` is filled in full; orders at ``p*`` on the long
    side are filled in (price, ts, id) priority until ``V``. (The feasibility filter fixes a
    hole in the textbook key: with a bid of 2 lots at 10 and an ask of 1 lot at 5, both prices
    give volume 1 and imbalance 1, and "lower price" would pick 5, where the bid above the
    price cannot be filled in full; the rule picks 10.)

    ``mcafee``: lots are unit traders sorted ``b_1 >= b_2 >= ...`` and ``a_1 <= a_2 <= ...``;
    ``k`` is the largest index with ``b_k >= a_k``. When both ``(k+1)``-th lots exist and
    ``a_k <= p0 = (b_{k+1} + a_{k+1}) // 2 <= b_k``, the first ``k`` lots of each side trade at
    ``p0``; otherwise the first ``k - 1`` trade, buyers paying ``b_k`` and sellers receiving
    ``a_k``, and ``surplus_micros = (k - 1)(b_k - a_k)``. With ``k = 1`` that is no trade.

    Bid fills and ask fills are paired by walking both priority lists together, so the result
    depends only on the set of orders, never on the order they are passed in. ``product``
    names the round (needed when there are no orders; otherwise it is taken from the orders).

    Raises:
        AuctionError: orders of several products (or not of ``product``), a repeated id on one
            side, an ask among the bids (or the reverse), or a reference price below 1.
    """
    algo = Algo(algo)
    product, bids_s, asks_s = _check_round(bids, asks, product, ref_price)
    input_hash = sha256_hex(input_payload(product, algo, ref_price, bids_s, asks_s))
    if algo is Algo.MCAFEE:
        return _clear_mcafee(product, bids_s, asks_s, ref_price, input_hash)
    price, volume, demand, supply = _best_price(bids_s, asks_s, ref_price)
    if volume == 0:
        return _finish(
            product, algo, ref_price, input_hash, reason=_no_trade_reason(bids_s, asks_s)
        )
    bid_fills = _allocate([b for b in bids_s if b.price_micros >= price], volume)
    ask_fills = _allocate([a for a in asks_s if a.price_micros <= price], volume)
    return _finish(
        product,
        algo,
        ref_price,
        input_hash,
        buyer_price=price,
        seller_price=price,
        demand=demand,
        supply=supply,
        fills=_pair(bid_fills, ask_fills, price, price),
    )


def _by_product(orders: Iterable[Bid | Ask]) -> dict[str, tuple[list[Bid], list[Ask]]]:
    groups: dict[str, tuple[list[Bid], list[Ask]]] = {}
    for o in orders:
        bids, asks = groups.setdefault(o.product, ([], []))
        if isinstance(o, Bid):
            bids.append(o)
        else:
            asks.append(o)
    return dict(sorted(groups.items()))


def clear_book(
    orders: Iterable[Bid | Ask],
    ref_prices: Mapping[str, int] | None = None,
    *,
    algo: Algo | str = Algo.UNIFORM,
) -> list[Clearing]:
    """One round per product that has orders, in product-id order (see :func:`clear_uniform`).

    ``ref_prices`` maps a product to its reference (last clearing) price; products it does not
    name clear without one.
    """
    refs = ref_prices or {}
    return [
        clear_uniform(bids, asks, refs.get(product), product=product, algo=algo)
        for product, (bids, asks) in _by_product(orders).items()
    ]


# --- archives and replay -------------------------------------------------------------------------
def archive(clearing: Clearing, bids: Sequence[Bid], asks: Sequence[Ask]) -> dict[str, Any]:
    """A JSON-able record of a round: its canonical input, its result and both hashes.

    Raises:
        AuctionError: ``bids`` and ``asks`` are not the input ``clearing`` was computed from.
    """
    payload = input_payload(clearing.product, clearing.algo, clearing.ref_price, bids, asks)
    if sha256_hex(payload) != clearing.input_hash:
        raise AuctionError(f"round {clearing.product}: these orders are not its input")
    return {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "input": payload,
        "input_hash": clearing.input_hash,
        "output": output_payload(clearing),
        "output_hash": clearing.output_hash,
        "reason": clearing.reason,
    }


def archive_book(orders: Iterable[Bid | Ask], clearings: Sequence[Clearing]) -> dict[str, Any]:
    """A JSON-able record of a whole book: :func:`archive` of every round plus the
    :func:`replay_hash` over them. ``clearings`` must be :func:`clear_book` of ``orders``.

    Raises:
        AuctionError: a round's orders do not match, or a product has orders but no round.
    """
    groups = _by_product(orders)
    rounds = []
    for c in clearings:
        bids, asks = groups.pop(c.product, ([], []))
        rounds.append(archive(c, bids, asks))
    if groups:
        raise AuctionError(f"orders of {sorted(groups)} have no round")
    return {
        "format": BOOK_ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "rounds": rounds,
        "replay_hash": replay_hash(clearings),
    }


def _field(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in doc:
        raise AuctionError(f"{where}: missing {key!r}")
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise AuctionError(f"{where}.{key}: unexpected {type(value).__name__}")
    return value


def _check_format(doc: Any, fmt: str, where: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise AuctionError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    if doc.get("format") != fmt or doc.get("version") != ARCHIVE_VERSION:
        raise AuctionError(
            f"{where}: not a {fmt} archive version {ARCHIVE_VERSION} "
            f"(format {doc.get('format')!r}, version {doc.get('version')!r})"
        )
    return doc


def _validation_message(exc: ValidationError, prefix: str) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]))
        parts.append(f"{loc}: {str(err['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


def _archived_orders(raw: Mapping[str, Any], side: str, cls: type[_O], where: str) -> list[_O]:
    out: list[_O] = []
    for i, item in enumerate(_field(raw, side, list, f"{where}.input")):
        try:
            out.append(cls.model_validate(item))
        except ValidationError as exc:
            raise AuctionError(_validation_message(exc, f"{where}.input.{side}.{i}")) from None
    return out


def replay(doc: Mapping[str, Any], *, where: str = "archive") -> Clearing:
    """Re-run the round an :func:`archive` holds and check it reproduces itself.

    Checks, in order: the archived input hashes to ``input_hash``; the archived result hashes
    to ``output_hash``; the re-run's ``output_hash`` equals the archived one.

    Raises:
        AuctionError: the archive is malformed (wrong format, bad orders, another algo_version).
        ReplayMismatchError: one of the checks fails (``what`` names it).
    """
    doc = _check_format(doc, ARCHIVE_FORMAT, where)
    raw = _field(doc, "input", Mapping, where)
    archived_in = _field(doc, "input_hash", str, where)
    archived_out = _field(doc, "output_hash", str, where)
    archived_result = _field(doc, "output", Mapping, where)
    product = _field(raw, "product", str, f"{where}.input")
    version = _field(raw, "algo_version", int, f"{where}.input")
    if version != ALGO_VERSION:
        raise AuctionError(
            f"{where}: made by clearing rules version {version}; this is version {ALGO_VERSION}"
        )
    try:
        algo = Algo(_field(raw, "algo", str, f"{where}.input"))
    except ValueError as exc:
        raise AuctionError(f"{where}.input.algo: {exc}") from None
    ref = raw.get("ref_price")
    if ref is not None and (not isinstance(ref, int) or isinstance(ref, bool) or ref < 1):
        raise AuctionError(f"{where}.input.ref_price: expected a positive integer or null")
    bids = _archived_orders(raw, "bids", Bid, where)
    asks = _archived_orders(raw, "asks", Ask, where)
    try:
        again = clear_uniform(bids, asks, ref, product=product, algo=algo)
    except AuctionError as exc:
        raise AuctionError(f"{where}: {exc}") from None
    if again.input_hash != archived_in:
        raise ReplayMismatchError("input_hash", archived_in, again.input_hash, product)
    result_hash = sha256_hex(dict(archived_result))
    if result_hash != archived_out:
        raise ReplayMismatchError("output", archived_out, result_hash, product)
    if again.output_hash != archived_out:
        raise ReplayMismatchError("output_hash", archived_out, again.output_hash, product)
    return again


def replay_book(doc: Mapping[str, Any]) -> list[Clearing]:
    """Re-run every round of an :func:`archive_book` record (see :func:`replay`) and check the
    book's ``replay_hash``.

    Raises:
        AuctionError: the archive is malformed.
        ReplayMismatchError: the first round that does not reproduce, or the book's hash.
    """
    doc = _check_format(doc, BOOK_ARCHIVE_FORMAT, "archive")
    rounds = _field(doc, "rounds", list, "archive")
    archived = _field(doc, "replay_hash", str, "archive")
    clearings = [replay(r, where=f"archive.rounds.{i}") for i, r in enumerate(rounds)]
    products = [c.product for c in clearings]
    if len(set(products)) < len(products):
        raise AuctionError("archive: a product has more than one round")
    again = replay_hash(clearings)
    if again != archived:
        raise ReplayMismatchError("replay_hash", archived, again, None)
    return clearings


# --- synthetic order books -----------------------------------------------------------------------
CLASS_REFERENCE_MICROS: Final[Mapping[str, int]] = {"ai": 3_600, "general": 40_000, "hpc": 280_000}
"""Typical guaranteed price per normalized unit-hour of each class, in micros: the medians of
the built-in world's pools (AI ≈ 3,600 per FP16 TFLOPS-hour, i.e. ≈ 3.6 per H100-hour;
general ≈ 40,000 per reference-core-hour; HPC ≈ 280,000 per FP64 TFLOPS-hour)."""

REGION_FACTOR_PERMILLE: Final[Mapping[str, int]] = {
    "cn-east": 1_250,
    "cn-west": 1_000,
    "eu-west": 1_050,
}
"""Regional price level in ‰ of the class reference (the built-in world prices accelerators in
China about 25 % above the global median; the western hubs sell cheaper power)."""

TIER_FACTOR_PERMILLE: Final[Mapping[str, int]] = {"guaranteed": 1_000, "interruptible": 450}
"""Interruptible (reclaimable) capacity sells at a spot-like discount."""

REFERENCE_PRICES: Final[Mapping[str, int]] = {
    f"{cls}-{tier}-{region}-1h": base * rf * tf // 1_000_000
    for cls, base in CLASS_REFERENCE_MICROS.items()
    for tier, tf in TIER_FACTOR_PERMILLE.items()
    for region, rf in REGION_FACTOR_PERMILLE.items()
}
"""The default products of :func:`generate_orders` and their reference prices (micros per
normalized unit-hour): every class × tier × region, one-hour slots."""

_QTY_CHOICES: Final = (1, 2, 4, 8, 16, 32)
_QTY_WEIGHTS: Final = (40, 25, 15, 10, 6, 4)
_CLASS_WEIGHT: Final[Mapping[str, int]] = {"ai": 3, "general": 2, "hpc": 1}
_SPREAD_PERMILLE: Final = 50
"""Half-width of each of the three uniform draws summed for a price offset (sd ≈ 5 %)."""
_SKEW_PERMILLE: Final = 20
"""Bids centre 2 % below the reference and asks 2 % above, so books cross only partially."""


def price_tick(ref_price: int) -> int:
    """A round tick for prices near ``ref_price``: a power of ten about 0.1–1 % of it."""
    digits = max(0, len(str(ref_price)) - 3)
    return int("1" + "0" * digits)


def generate_orders(
    n: int, seed: int | random.Random, products: Mapping[str, int] | None = None
) -> list[Bid | Ask]:
    """``n`` synthetic orders (bids and asks about half each) over ``products``.

    ``products`` maps a product id to its reference price (default :data:`REFERENCE_PRICES`);
    AI pools get three times and general pools twice the orders of the others. Prices are the
    reference ± a bell-shaped offset (sd ≈ 5 %, bids 2 % low, asks 2 % high) rounded to
    :func:`price_tick`; quantities are 1–32 lots, mostly small; ``ts`` is the arrival index;
    ids are ``bid-000001``/``ask-000002`` (unique over the whole book). Integer arithmetic
    only: the same ``n``, seed and products give the same orders on every platform.

    Raises:
        AuctionError: ``n`` is negative or ``products`` is empty.
    """
    if n < 0:
        raise AuctionError(f"n must be at least 0, got {n}")
    catalog = dict(sorted((REFERENCE_PRICES if products is None else products).items()))
    if not catalog:
        raise AuctionError("no products to generate orders for")
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    names = list(catalog)
    weights = [_CLASS_WEIGHT.get(p.split("-", 1)[0], 1) for p in names]
    out: list[Bid | Ask] = []
    for i in range(1, n + 1):
        product = rng.choices(names, weights)[0]
        ref = catalog[product]
        tick = price_tick(ref)
        is_bid = rng.randrange(2) == 0
        offset = sum(rng.randint(-_SPREAD_PERMILLE, _SPREAD_PERMILLE) for _ in range(3))
        offset += -_SKEW_PERMILLE if is_bid else _SKEW_PERMILLE
        price = max(tick, (ref * (1_000 + offset) + 500 * tick) // (1_000 * tick) * tick)
        qty = rng.choices(_QTY_CHOICES, _QTY_WEIGHTS)[0]
        if is_bid:
            who = f"buyer-{rng.randint(1, 40):02d}"
            out.append(
                Bid(
                    id=f"bid-{i:06d}",
                    product=product,
                    price_micros=price,
                    qty=qty,
                    ts=i,
                    participant=who,
                )
            )
        else:
            who = f"provider-{rng.randint(1, 16):02d}"
            out.append(
                Ask(
                    id=f"ask-{i:06d}",
                    product=product,
                    price_micros=price,
                    qty=qty,
                    ts=i,
                    participant=who,
                )
            )
    return out


__all__ = [
    "ALGO_VERSION",
    "ARCHIVE_FORMAT",
    "BOOK_ARCHIVE_FORMAT",
    "REFERENCE_PRICES",
    "Algo",
    "Ask",
    "AuctionError",
    "Bid",
    "Clearing",
    "Fill",
    "ReferencePrice",
    "ReplayMismatchError",
    "archive",
    "archive_book",
    "canonical_json",
    "clear_book",
    "clear_uniform",
    "generate_orders",
    "input_payload",
    "output_payload",
    "price_tick",
    "replay",
    "replay_book",
    "replay_hash",
    "sha256_hex",
]
