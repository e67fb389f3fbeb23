"""The call auction: hand-made books whose answer is plain, then invariants I4–I7 by hypothesis.

Hand-made books are small enough to clear on paper; the properties compare every round against a
brute force over the candidate prices, never against numbers copied from an earlier run.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.core.errors import SuanwangError
from suanwang.core.market.auction import (
    ALGO_VERSION,
    REFERENCE_PRICES,
    Algo,
    Ask,
    AuctionError,
    Bid,
    Clearing,
    archive,
    archive_book,
    canonical_json,
    clear_book,
    clear_uniform,
    generate_orders,
    input_payload,
    price_tick,
    replay,
    replay_book,
    replay_hash,
    sha256_hex,
)

P = "ai-guaranteed-cn-east-1h"

Side = list[tuple[int, int]] | list[tuple[int, int, int]]


def book(bids: Side, asks: Side, product: str = P) -> tuple[list[Bid], list[Ask]]:
    """Orders from ``(price, qty[, ts])`` tuples; ids are ``b0, b1, ...`` and ``a0, a1, ...``;
    ``ts`` defaults to the position."""

    def ts(row: tuple[int, ...], i: int) -> int:
        return row[2] if len(row) > 2 else i

    return (
        [
            Bid(id=f"b{i}", product=product, price_micros=r[0], qty=r[1], ts=ts(r, i))
            for i, r in enumerate(bids)
        ],
        [
            Ask(id=f"a{i}", product=product, price_micros=r[0], qty=r[1], ts=ts(r, i))
            for i, r in enumerate(asks)
        ],
    )


def clear(bids: Side, asks: Side, ref: int | None = None, algo: str = "uniform") -> Clearing:
    b, a = book(bids, asks)
    return clear_uniform(b, a, ref, product=P, algo=algo)


def filled(c: Clearing) -> tuple[Counter[str], Counter[str]]:
    by_bid: Counter[str] = Counter()
    by_ask: Counter[str] = Counter()
    for f in c.fills:
        by_bid[f.bid_id] += f.qty
        by_ask[f.ask_id] += f.qty
    return by_bid, by_ask


# --- uniform: hand-made books ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bids", "asks", "ref", "price", "volume"),
    [
        pytest.param([(10, 5)], [(8, 5)], None, 8, 5, id="single cross, tie -> lower price"),
        pytest.param([(10, 5)], [(8, 5)], 10, 10, 5, id="reference picks the upper price"),
        pytest.param([(10, 5)], [(8, 5)], 1_000, 10, 5, id="reference far above"),
        pytest.param([(10, 5)], [(8, 5)], 9, 8, 5, id="equidistant reference -> lower price"),
        pytest.param([(10, 3)], [(10, 3)], None, 10, 3, id="cross at one price"),
        pytest.param([(12, 4)], [(9, 1), (10, 1), (11, 1)], None, 12, 3, id="volume first"),
        pytest.param([(5, 2), (2, 3)], [(2, 2)], None, 5, 2, id="imbalance before lower price"),
        pytest.param([(5, 2), (2, 3)], [(2, 2)], 2, 5, 2, id="imbalance before reference"),
        pytest.param([(10, 2)], [(5, 1)], None, 10, 1, id="bids above p* must fit in V"),
        pytest.param([(10, 1)], [(5, 2)], None, 5, 1, id="asks below p* must fit in V"),
    ],
)
def test_uniform_price_rule(
    bids: Side, asks: Side, ref: int | None, price: int, volume: int
) -> None:
    c = clear(bids, asks, ref)
    assert (c.clearing_price, c.matched_volume) == (price, volume)
    assert c.seller_price == price
    assert c.reason is None
    assert c.surplus_micros == 0
    assert {(f.buyer_price_micros, f.seller_price_micros) for f in c.fills} == {(price, price)}


@pytest.mark.parametrize(
    ("bids", "asks", "reason"),
    [
        ([], [], "no orders"),
        ([], [(5, 1)], "no bids"),
        ([(5, 1)], [], "no asks"),
        ([(5, 1), (4, 2)], [(8, 3), (9, 1)], "best bid 5 below best ask 8"),
    ],
)
def test_no_trade_says_why(bids: Side, asks: Side, reason: str) -> None:
    for algo in Algo:
        c = clear(bids, asks, ref=6, algo=algo)
        assert c.clearing_price is None
        assert c.seller_price is None
        assert (c.matched_volume, c.demand_at_price, c.supply_at_price) == (0, 0, 0)
        assert c.fills == ()
        assert c.reason == reason


def test_at_price_orders_on_the_long_side_are_rationed_by_time_then_id() -> None:
    # Demand at 10 is 2 + 2 + 2 lots, supply 3: b1 arrived first, b0 and b2 tie on time.
    # (At 9 the bids above the price would exceed the volume, so the price is 10.)
    c = clear([(10, 2, 5), (10, 2, 1), (10, 2, 5)], [(9, 3)])
    assert (c.clearing_price, c.matched_volume) == (10, 3)
    by_bid, by_ask = filled(c)
    assert by_bid == {"b1": 2, "b0": 1}
    assert by_ask == {"a0": 3}
    assert (c.demand_at_price, c.supply_at_price) == (6, 3)


def test_at_price_asks_are_rationed_and_the_ones_below_filled_in_full() -> None:
    c = clear([(20, 4)], [(15, 2, 9), (18, 3, 4), (18, 3, 2)])
    assert (c.clearing_price, c.matched_volume) == (18, 4)
    _, by_ask = filled(c)
    assert by_ask == {"a0": 2, "a2": 2}  # a0 below p* in full; a2 earlier than a1 at p*


def test_fills_pair_both_priority_lists_in_order() -> None:
    c = clear([(30, 3), (20, 2)], [(10, 1), (15, 4)])
    assert c.matched_volume == 5
    pairs = [(f.bid_id, f.ask_id, f.qty) for f in c.fills]
    assert pairs == [("b0", "a0", 1), ("b0", "a1", 2), ("b1", "a1", 2)]


def test_the_price_of_the_design_sketch_would_break_full_fill() -> None:
    """Both 5 and 10 give volume 1 and imbalance 1; at 5 the 2-lot bid above the price could
    not be filled in full, so the rule takes 10 (the feasible end)."""
    c = clear([(10, 2)], [(5, 1)], ref=5)
    assert c.clearing_price == 10
    assert filled(c)[0] == {"b0": 1}


# --- mcafee: hand-made books ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bids", "asks", "buyer", "seller", "volume", "surplus"),
    [
        pytest.param(
            [(10, 1), (9, 1), (8, 1), (3, 1)],
            [(1, 1), (2, 1), (5, 1), (9, 1)],
            6,
            6,
            3,
            0,
            id="k trades at p0=(3+9)/2",
        ),
        pytest.param(
            [(10, 1), (9, 1), (8, 1), (4, 1)],
            [(1, 1), (2, 1), (5, 1), (9, 1)],
            6,
            6,
            3,
            0,
            id="p0 rounds down",
        ),
        pytest.param(
            [(10, 1), (6, 1), (5, 1)],
            [(1, 1), (2, 1), (20, 1)],
            6,
            2,
            1,
            4,
            id="p0 above b_k -> k-1 trades",
        ),
        pytest.param(
            [(10, 1), (9, 1), (8, 1), (7, 1)],
            [(1, 1), (2, 1), (3, 1), (4, 1)],
            7,
            4,
            3,
            9,
            id="no (k+1)th pair -> k-1 trades",
        ),
        pytest.param([(10, 3), (3, 1)], [(1, 3), (9, 1)], 6, 6, 3, 0, id="lots are unit traders"),
    ],
)
def test_mcafee(bids: Side, asks: Side, buyer: int, seller: int, volume: int, surplus: int) -> None:
    c = clear(bids, asks, algo="mcafee")
    assert (c.clearing_price, c.seller_price) == (buyer, seller)
    assert (c.matched_volume, c.surplus_micros) == (volume, surplus)
    assert all((f.buyer_price_micros, f.seller_price_micros) == (buyer, seller) for f in c.fills)
    assert c.reason is not None
    assert c.reason.startswith("mcafee")


def test_mcafee_withholds_the_only_crossing_lot() -> None:
    c = clear([(10, 1)], [(5, 1)], algo="mcafee")
    assert c.matched_volume == 0
    assert c.fills == ()
    assert c.reason is not None
    assert "trade reduction" in c.reason


def test_mcafee_trade_reduction_rations_the_last_lot_by_priority() -> None:
    # k = 3 crossing lots; no 4th pair -> 2 trade: b0's two lots, none of b1
    c = clear([(10, 2), (9, 1)], [(1, 3)], algo="mcafee")
    assert (c.clearing_price, c.seller_price, c.matched_volume) == (9, 1, 2)
    assert filled(c)[0] == {"b0": 2}
    assert c.surplus_micros == 2 * (9 - 1)


# --- rounds and books -----------------------------------------------------------------------------
def test_a_round_is_one_product_with_unique_ids_per_side() -> None:
    b, a = book([(10, 1)], [(8, 1)])
    other = Ask(id="a9", product="hpc-guaranteed-cn-west-1h", price_micros=8, qty=1, ts=0)
    with pytest.raises(AuctionError, match="one product"):
        clear_uniform(b, [*a, other])
    with pytest.raises(AuctionError, match="got orders of"):
        clear_uniform(b, a, product="hpc-guaranteed-cn-west-1h")
    with pytest.raises(AuctionError, match="repeated"):
        clear_uniform([*b, b[0]], a)
    with pytest.raises(AuctionError, match="product named"):
        clear_uniform([], [])
    with pytest.raises(AuctionError, match="asks all Ask"):
        clear_uniform(b, [*a, *b])  # type: ignore[list-item]
    with pytest.raises(AuctionError, match="at least 1"):
        clear_uniform(b, a, 0)
    # a bid and an ask may share an id: fills name each side separately
    same = Ask(id="b0", product=P, price_micros=8, qty=1, ts=0)
    assert clear_uniform(b, [same]).matched_volume == 1
    assert issubclass(AuctionError, SuanwangError)


@pytest.mark.parametrize(
    "fields",
    [
        {"price_micros": 0},
        {"price_micros": 1.5},
        {"price_micros": "10"},
        {"price_micros": True},
        {"qty": 0},
        {"ts": -1},
        {"id": "Not An Id"},
        {"product": ""},
        {"colour": "red"},
    ],
)
def test_orders_are_validated(fields: dict[str, Any]) -> None:
    base: dict[str, Any] = {"id": "b1", "product": P, "price_micros": 10, "qty": 1, "ts": 0}
    with pytest.raises(ValueError, match="validation error"):
        Bid.model_validate(base | fields)


def test_clear_book_has_one_round_per_product_in_product_order() -> None:
    b1, a1 = book([(10, 2)], [(8, 2)], product="hpc-guaranteed-cn-west-1h")
    b2, a2 = book([(4, 1)], [], product="ai-guaranteed-cn-east-1h")
    rounds = clear_book([*a1, *b2, *b1, *a2], {"hpc-guaranteed-cn-west-1h": 10})
    assert [c.product for c in rounds] == ["ai-guaranteed-cn-east-1h", "hpc-guaranteed-cn-west-1h"]
    assert rounds[0].reason == "no asks"
    assert (rounds[1].clearing_price, rounds[1].ref_price) == (10, 10)
    mcafee = clear_book([*a1, *b1], algo="mcafee")
    assert [c.algo for c in mcafee] == [Algo.MCAFEE]


# --- hashes, archives, replay ---------------------------------------------------------------------
def test_hashes_are_sha256_of_canonical_json() -> None:
    b, a = book([(10, 2)], [(8, 2)])
    c = clear_uniform(b, a, 9)
    assert c.input_hash == sha256_hex(input_payload(P, Algo.UNIFORM, 9, b, a))
    assert canonical_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    assert len(c.output_hash) == 64
    assert clear_uniform(b, a, 10).input_hash != c.input_hash  # params are part of the input
    assert clear_uniform(b, a, 9, algo="mcafee").input_hash != c.input_hash


def _round_trip(doc: dict[str, Any]) -> Any:
    return json.loads(json.dumps(doc))


def test_replay_of_an_archive_is_identical() -> None:
    orders = generate_orders(120, 5)
    rounds = clear_book(orders)
    doc = _round_trip(archive_book(orders, rounds))
    again = replay_book(doc)
    assert again == rounds
    assert doc["replay_hash"] == replay_hash(rounds)
    single = _round_trip(archive(rounds[0], *_split(orders, rounds[0].product)))
    assert replay(single) == rounds[0]


def _split(orders: list[Bid | Ask], product: str) -> tuple[list[Bid], list[Ask]]:
    return (
        [o for o in orders if isinstance(o, Bid) and o.product == product],
        [o for o in orders if isinstance(o, Ask) and o.product == product],
    )


def _archived() -> dict[str, Any]:
    b, a = book([(10, 2), (9, 1)], [(8, 2), (9, 2)])
    return _round_trip(archive(clear_uniform(b, a), b, a))


def test_archive_refuses_orders_that_are_not_the_input() -> None:
    b, a = book([(10, 2)], [(8, 2)])
    c = clear_uniform(b, a)
    with pytest.raises(AuctionError, match="not its input"):
        archive(c, b, a[:0])


def test_tampered_input_is_named() -> None:
    doc = _archived()
    doc["input"]["bids"][0]["price_micros"] += 1
    with pytest.raises(Exception, match="input_hash mismatch") as info:
        replay(doc)
    assert getattr(info.value, "what", None) == "input_hash"
    assert isinstance(info.value, SuanwangError)


def test_tampered_output_is_named() -> None:
    doc = _archived()
    doc["output"]["fills"][0]["qty"] -= 1
    with pytest.raises(SuanwangError, match="output mismatch"):
        replay(doc)


def test_a_forged_output_with_its_own_hash_is_caught_by_the_rerun() -> None:
    doc = _archived()
    doc["output"]["clearing_price"] = 8
    doc["output_hash"] = sha256_hex(doc["output"])
    with pytest.raises(SuanwangError, match="output_hash mismatch"):
        replay(doc)


def test_a_tampered_book_is_caught_by_the_replay_hash() -> None:
    orders = generate_orders(60, 2)
    doc = _round_trip(archive_book(orders, clear_book(orders)))
    doc["rounds"].pop()
    with pytest.raises(SuanwangError, match="replay_hash mismatch"):
        replay_book(doc)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.update(format="other"), "not a suanwang-clearing-round"),
        (lambda d: d["input"].update(algo_version=ALGO_VERSION + 1), "rules version"),
        (lambda d: d["input"].update(algo="vickrey"), "input.algo"),
        (lambda d: d["input"]["bids"][0].update(qty=0), r"input\.bids\.0\.qty"),
        (lambda d: d.pop("output_hash"), "missing 'output_hash'"),
        (lambda d: d["input"].update(ref_price=1.5), "ref_price"),
    ],
)
def test_malformed_archives_are_errors_not_mismatches(mutate: Any, needle: str) -> None:
    doc = copy.deepcopy(_archived())
    mutate(doc)
    with pytest.raises(AuctionError, match=needle):
        replay(doc)


# --- generated books ------------------------------------------------------------------------------
def test_generated_orders_are_deterministic_valid_and_cross_partially() -> None:
    orders = generate_orders(400, 11)
    assert orders == generate_orders(400, 11)
    assert orders == generate_orders(400, random.Random(11))
    assert orders != generate_orders(400, 12)
    assert len({o.id for o in orders}) == 400
    assert {o.product for o in orders} <= set(REFERENCE_PRICES)
    for o in orders:
        ref = REFERENCE_PRICES[o.product]
        assert 0.7 * ref <= o.price_micros <= 1.3 * ref
        assert o.price_micros % price_tick(ref) == 0
    rounds = clear_book(orders, REFERENCE_PRICES)
    traded = [c for c in rounds if c.matched_volume]
    assert len(traded) >= len(rounds) // 2
    total_bids = sum(o.qty for o in orders if isinstance(o, Bid))
    assert 0 < sum(c.matched_volume for c in rounds) < total_bids
    assert generate_orders(0, 1) == []
    with pytest.raises(AuctionError):
        generate_orders(-1, 1)
    custom = generate_orders(10, 1, {"gpu-pool-x": 5_000})
    assert {o.product for o in custom} == {"gpu-pool-x"}


# --- properties -----------------------------------------------------------------------------------
@st.composite
def books(draw: st.DrawFn) -> tuple[list[Bid], list[Ask]]:
    price = st.integers(1, 12)
    row = st.tuples(price, st.integers(1, 5), st.integers(0, 4))
    bids = draw(st.lists(row, max_size=7))
    asks = draw(st.lists(row, max_size=7))
    return book(bids, asks)


def _d(bids: list[Bid], p: int) -> int:
    return sum(b.qty for b in bids if b.price_micros >= p)


def _s(asks: list[Ask], p: int) -> int:
    return sum(a.qty for a in asks if a.price_micros <= p)


def _max_volume(bids: list[Bid], asks: list[Ask]) -> int:
    prices = {o.price_micros for o in (*bids, *asks)}
    return max((min(_d(bids, p), _s(asks, p)) for p in prices), default=0)


def _check_quantities(c: Clearing, bids: list[Bid], asks: list[Ask]) -> None:
    """I4 individual rationality and I5 quantity conservation."""
    price_b = {b.id: b.price_micros for b in bids}
    price_a = {a.id: a.price_micros for a in asks}
    for f in c.fills:
        assert price_b[f.bid_id] >= f.buyer_price_micros >= f.seller_price_micros
        assert f.seller_price_micros >= price_a[f.ask_id]
    by_bid, by_ask = filled(c)
    assert all(by_bid[b.id] <= b.qty for b in bids)
    assert all(by_ask[a.id] <= a.qty for a in asks)
    assert sum(by_bid.values()) == sum(by_ask.values()) == c.matched_volume
    paid = sum(f.buyer_price_micros * f.qty for f in c.fills)
    received = sum(f.seller_price_micros * f.qty for f in c.fills)
    assert c.surplus_micros >= 0
    assert paid == received + c.surplus_micros  # budget balance: money is conserved


PROPS = settings(max_examples=150, deadline=None)


@PROPS
@given(books(), st.sampled_from(list(Algo)), st.one_of(st.none(), st.integers(1, 14)), st.randoms())
def test_i7_determinism_under_any_input_order(
    bk: tuple[list[Bid], list[Ask]], algo: Algo, ref: int | None, rnd: random.Random
) -> None:
    bids, asks = bk
    c = clear_uniform(bids, asks, ref, product=P, algo=algo)
    sb, sa = bids[:], asks[:]
    rnd.shuffle(sb)
    rnd.shuffle(sa)
    again = clear_uniform(sb, sa, ref, product=P, algo=algo)
    assert again.output_hash == c.output_hash
    assert again == c
    doc = json.loads(json.dumps(archive(c, sb, sa)))
    assert replay(doc) == c


@PROPS
@given(books(), st.one_of(st.none(), st.integers(1, 14)))
def test_i4_i5_i6_uniform(bk: tuple[list[Bid], list[Ask]], ref: int | None) -> None:
    bids, asks = bk
    c = clear_uniform(bids, asks, ref, product=P)
    _check_quantities(c, bids, asks)
    assert c.matched_volume == _max_volume(bids, asks)  # I6: volume is maximal
    if c.clearing_price is None:
        assert c.fills == ()
        assert c.reason
        return
    p = c.clearing_price
    assert {(f.buyer_price_micros, f.seller_price_micros) for f in c.fills} == {(p, p)}
    assert p in {o.price_micros for o in (*bids, *asks)}
    assert (c.demand_at_price, c.supply_at_price) == (_d(bids, p), _s(asks, p))
    # no max-volume price, feasible or not, has a smaller imbalance
    imbalances = [
        abs(_d(bids, q) - _s(asks, q))
        for q in {o.price_micros for o in (*bids, *asks)}
        if min(_d(bids, q), _s(asks, q)) == c.matched_volume
    ]
    assert abs(c.demand_at_price - c.supply_at_price) == min(imbalances)
    by_bid, by_ask = filled(c)
    assert all(by_bid[b.id] == b.qty for b in bids if b.price_micros > p)
    assert all(by_ask[a.id] == a.qty for a in asks if a.price_micros < p)
    assert all(by_bid[b.id] == 0 for b in bids if b.price_micros < p)
    assert all(by_ask[a.id] == 0 for a in asks if a.price_micros > p)
    # the short side is filled in full at p; the long side in priority order
    assert c.matched_volume == min(c.demand_at_price, c.supply_at_price)
    for side, fills in ((bids, by_bid), (asks, by_ask)):
        short = None
        for o in sorted(side, key=lambda o: (o.ts, o.id)):
            if o.price_micros != p:
                continue
            if short is not None:
                assert fills[o.id] == 0, f"{o.id} filled before {short} was full"
            elif fills[o.id] < o.qty:
                short = o.id


@PROPS
@given(books())
def test_mcafee_is_rational_budget_balanced_and_loses_at_most_one_lot(
    bk: tuple[list[Bid], list[Ask]],
) -> None:
    bids, asks = bk
    c = clear_uniform(bids, asks, product=P, algo="mcafee")
    _check_quantities(c, bids, asks)
    k = _max_volume(bids, asks)
    assert c.matched_volume in {k, max(k - 1, 0)}
    if c.matched_volume == k and k:
        assert c.clearing_price == c.seller_price
        assert c.surplus_micros == 0
    elif c.matched_volume:
        assert c.surplus_micros == c.matched_volume * (c.clearing_price - c.seller_price)
