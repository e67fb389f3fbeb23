"""From a match to lease terms: fractional devices, the bundled rate, and who is paid."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from suanwang.core.market.contracts import carrier_egress, carrier_of, lease_terms, task_units
from suanwang.core.market.leases import PLATFORM_ACCOUNT, SlaTier, pending_account
from suanwang.core.market.money import rate_cumulative
from suanwang.core.network.engine import Network
from suanwang.core.tasks import TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()
SITES = {s.id: s for s in WORLD.sites}
NET = Network.from_world(WORLD)
AT = datetime(2026, 7, 1, tzinfo=UTC)


def _task(**over: Any) -> TaskSpec:
    base: dict[str, Any] = {
        "name": "t1",
        "tenant": "acme",
        "demand": {"compute_class": "ai", "model": "nvidia-h100", "count": 1},
        "duration_hours": 2,
        "origin": {"country": "SE", "lat": 65.6, "lon": 22.1},
    }
    base.update(over)
    return TaskSpec.model_validate(base)


def _h100(site_id: str) -> Any:
    return next(p for p in SITES[site_id].pools if p.model == "nvidia-h100")


def test_half_a_gpu_is_billed_as_half() -> None:
    site, pool = SITES["se-lulea"], _h100("se-lulea")
    whole = lease_terms("l1", _task(), site, pool, UNIT_TABLE, AT)
    half = lease_terms(
        "l2",
        _task(demand={"compute_class": "ai", "model": "nvidia-h100", "count": 0.5}),
        site,
        pool,
        UNIT_TABLE,
        AT,
    )
    assert whole.units_milli == 989_000
    assert half.units_milli == 494_500
    assert half.price_micros_per_unit_hour == whole.price_micros_per_unit_hour
    assert abs(2 * half.estimate_micros - whole.estimate_micros) <= 1


def test_without_data_movement_the_rate_is_the_posted_price_and_the_site_is_paid() -> None:
    site, pool = SITES["se-lulea"], _h100("se-lulea")
    terms = lease_terms("l1", _task(), site, pool, UNIT_TABLE, AT)
    assert terms.price_micros_per_unit_hour == pool.price_per_unit_hour_micros
    assert terms.split.carriers == {}
    assert terms.unit_table_version == UNIT_TABLE.version
    weights = terms.split.weights("l1")
    assert set(weights) == {pending_account("l1", "provider", "se-lulea"), PLATFORM_ACCOUNT}
    # 5 % platform fee
    assert weights[PLATFORM_ACCOUNT] * 19 == weights[pending_account("l1", "provider", "se-lulea")]
    assert terms.estimate_micros == rate_cumulative(
        989_000 * 7200, terms.price_micros_per_unit_hour
    )


def test_input_data_pays_the_carriers_on_its_path_by_their_share_of_the_price() -> None:
    site, pool = SITES["se-lulea"], _h100("se-lulea")
    path = NET.path("sg-singapore", "se-lulea")
    task = _task(input={"site": "sg-singapore", "size_gb": 500})
    terms = lease_terms("l1", task, site, pool, UNIT_TABLE, AT, hops=path.hops)
    egress = carrier_egress(path.hops, 500)
    assert egress
    assert terms.split.carriers == egress
    compute = rate_cumulative(989_000 * 7200, pool.price_per_unit_hour_micros)
    assert terms.split.provider_weight == compute
    # the bundled rate bills compute + egress over the estimated run; the rate is a whole
    # number of micros per unit-hour, so it is off by at most half a micro per unit-hour
    exact = compute + sum(egress.values())
    assert abs(terms.estimate_micros - exact) <= 989 * 2 / 2 + 1
    assert terms.price_micros_per_unit_hour > pool.price_per_unit_hour_micros
    # carriers are cable systems for submarine hops, country pairs for terrestrial ones
    names = {carrier_of(h) for h in path.hops}
    assert set(egress) <= names
    assert all(n.startswith(("cable-", "terrestrial-", "metro-", "satellite-")) for n in names)


def test_data_already_at_the_site_moves_nothing() -> None:
    site, pool = SITES["se-lulea"], _h100("se-lulea")
    task = _task(input={"site": "se-lulea", "size_gb": 500})
    terms = lease_terms("l1", task, site, pool, UNIT_TABLE, AT)
    assert terms.split.carriers == {}


@pytest.mark.parametrize(
    ("interruptible", "tier"), [(False, SlaTier.GUARANTEED), (True, SlaTier.INTERRUPTIBLE)]
)
def test_sla_tier_follows_the_task(interruptible: bool, tier: SlaTier) -> None:
    site, pool = SITES["se-lulea"], _h100("se-lulea")
    terms = lease_terms("l1", _task(interruptible=interruptible), site, pool, UNIT_TABLE, AT)
    assert terms.sla is tier


def test_prepay_hours_caps_the_escrow_funded_up_front() -> None:
    site, pool = SITES["se-lulea"], _h100("se-lulea")
    full = lease_terms("l1", _task(duration_hours=10), site, pool, UNIT_TABLE, AT)
    one = lease_terms("l1", _task(duration_hours=10), site, pool, UNIT_TABLE, AT, prepay_hours=1)
    assert full.prepay_micros == full.estimate_micros
    assert one.prepay_micros == rate_cumulative(989_000 * 3600, one.price_micros_per_unit_hour)


def test_units_stated_directly_are_kept() -> None:
    pool = _h100("se-lulea")
    task = _task(demand={"compute_class": "ai", "units": 123.456})
    assert task_units(task, pool, UNIT_TABLE) == pytest.approx(123.456)
