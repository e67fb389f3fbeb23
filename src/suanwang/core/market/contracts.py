"""From a match to a lease: what a task costs at a pool and who along the path is paid.

A lease's rate bundles compute and network: the pool's posted price per normalized unit-hour
plus, when the task moves input data, the egress on its path spread over the estimated run.
The revenue split snapshots each party's part of that price: the site (its provider account is
keyed by the site id, since one site has one operator of record) is weighted by
the compute part, each network carrier by the egress on its links (a submarine link's carrier
is its cable system; a terrestrial one's, the carrier of the countries it joins). So an early
stop pays every party pro rata, and nobody's share depends on later price changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from suanwang.core.market.leases import LeaseTerms, RevenueSplit, SlaTier
from suanwang.core.market.money import (
    MILLI,
    SECONDS_PER_HOUR,
    div_round_half_even,
    rate_cumulative,
    units_to_milli,
)
from suanwang.core.network.paths import Hop
from suanwang.core.sites import Pool, Site
from suanwang.core.tasks import TaskSpec
from suanwang.core.units import UnitTable


def task_units(task: TaskSpec, pool: Pool, table: UnitTable) -> float:
    """Normalized units ``task`` takes of ``pool``: stated units, or its devices' rating.

    A fractional device counts as its fraction (half an H100 is half its rating), so a GPU
    slice is never billed as a whole GPU.
    """
    d = task.demand
    if d.units is not None:
        return float(d.units)
    return table.quantity(pool.model, pool.compute_class, float(d.count or 0.0)).amount


def carrier_of(hop: Hop) -> str:
    """Who is paid for carrying traffic over ``hop``."""
    if hop.cable is not None:
        return f"cable-{hop.cable}"
    return f"{hop.kind.value}-{'-'.join(sorted(c.lower() for c in hop.countries))}"


def carrier_egress(hops: Sequence[Hop], gb: float) -> dict[str, int]:
    """Egress micro-units per carrier for moving ``gb`` along ``hops`` (rounded once each)."""
    raw: dict[str, float] = {}
    for h in hops:
        c = carrier_of(h)
        raw[c] = raw.get(c, 0.0) + gb * h.price_per_gb_micros
    return {c: round(v) for c, v in sorted(raw.items()) if round(v) > 0}


def est_seconds(task: TaskSpec) -> int:
    """The task's estimated run in whole seconds (at least one)."""
    return max(1, round(task.duration_hours * SECONDS_PER_HOUR))


def lease_terms(
    lease_id: str,
    task: TaskSpec,
    site: Site,
    pool: Pool,
    table: UnitTable,
    created_at: datetime,
    *,
    hops: Sequence[Hop] = (),
    platform_fee_bps: int = 500,
    sla: SlaTier | None = None,
    grace_s: int = 120,
    start_timeout_s: int = 900,
    prepay_hours: float | None = None,
    project: str | None = None,
) -> LeaseTerms:
    """The lease a match of ``task`` to ``pool`` at ``site`` creates.

    ``hops``: the path its input data takes (egress is charged on it). The prepayment is
    ``prepay_hours`` at the lease's rate (None: the whole estimated run); later hours are
    topped up from the tenant's balance as they accrue. An interruptible task gets the
    interruptible tier unless ``sla`` says otherwise.
    """
    units_milli = max(1, units_to_milli(task_units(task, pool, table)))
    secs = est_seconds(task)
    compute = rate_cumulative(units_milli * secs, pool.price_per_unit_hour_micros)
    gb = task.input.size_gb if task.input is not None and task.input.site != site.id else 0.0
    egress = carrier_egress(hops, gb) if gb > 0 else {}
    total = compute + sum(egress.values())
    rate = div_round_half_even(total * MILLI * SECONDS_PER_HOUR, units_milli * secs)
    tier = sla or (SlaTier.INTERRUPTIBLE if task.interruptible else SlaTier.GUARANTEED)
    estimate = rate_cumulative(units_milli * secs, rate)
    prepay = estimate
    if prepay_hours is not None:
        prepay = min(estimate, rate_cumulative(units_milli * round(prepay_hours * 3600), rate))
    return LeaseTerms(
        id=lease_id,
        task=task.name,
        tenant=task.tenant,
        project=project,
        site=site.id,
        model=pool.model,
        compute_class=pool.compute_class,
        units_milli=units_milli,
        price_micros_per_unit_hour=rate,
        currency=pool.currency,
        unit_table_version=table.version,
        split=RevenueSplit(
            provider=site.id,
            provider_weight=compute,
            carriers=egress,
            platform_fee_bps=platform_fee_bps,
        ),
        sla=tier,
        grace_s=grace_s,
        start_timeout_s=start_timeout_s,
        prepay_micros=prepay,
        estimate_micros=estimate,
        created_at=created_at,
    )
