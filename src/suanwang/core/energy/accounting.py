"""Energy, carbon and cost accounting per task, hour by hour.

For a task that ran (or will run) at a site from ``start`` for ``duration_hours``:

* ``it_kwh[h]       = P_IT x f[h] / 1000`` where ``f[h]`` is the fraction of hour ``h`` the task
  ran and ``P_IT`` comes from :class:`~suanwang.core.energy.power.PowerModel`;
* ``facility_kwh[h] = it_kwh[h] x PUE[h]``;
* ``network_kwh     = transfer_gb x kWh/GB`` (counted once, at the start hour);
* **location-based** ``gCO2e = sum(facility_kwh[h] x CI[h]) + network_kwh x CI[start]``;
* **market-based**: the site's certified green share ``g`` (green certificates / PPA,
  0..1) covers that share of the *facility* energy, so
  ``gCO2e_mkt = (1 - g) x facility part + network part``; the certified energy is claimed once,
  here, and never again (no residual-mix adjustment: we have no open residual-mix data, so the
  uncertified part keeps the location factor, which is conservative);
* **cost** ``= sum(facility_kwh[h] x price[h])`` (network energy is paid by the carriers);
* **peak share** = facility energy in peak or critical-peak hours / facility energy.

Contracts: pure; the per-hour lines sum to the totals (tests check it); bad input raises
:class:`~suanwang.core.errors.SuanwangError` with the task id in the message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import numpy as np
from pydantic import Field, field_validator

from suanwang.core.base import Frozen, Identifier
from suanwang.core.energy.clock import epoch_hour, hour_start
from suanwang.core.energy.power import PowerModel, PueModel
from suanwang.core.energy.shapes import synthetic_outdoor_c
from suanwang.core.energy.signals import Provenance, SignalBook, SignalOrigin
from suanwang.core.energy.tariffs import BAND_ORDER, PEAK_BANDS, TouBand
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.sites import Site
from suanwang.core.tasks import Demand
from suanwang.core.units import ComputeClass, UnitTable


class TaskUsage(Frozen):
    """What a task used: where, when, how long, on what, how hard, and how much data it moved."""

    id: str = Field(min_length=1, max_length=200)
    site: Identifier
    start: datetime
    duration_hours: float = Field(gt=0.0, le=24 * 366)
    demand: Demand
    utilisation: float = Field(default=1.0, ge=0.0, le=1.0)
    transfer_gb: float = Field(default=0.0, ge=0.0)

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError("start must include a timezone, e.g. 2026-11-22T08:00:00Z")
        return value


class HourLine(Frozen):
    """One hour of a task's account."""

    start: datetime
    hours: float
    pue: float
    it_kwh: float
    facility_kwh: float
    intensity_g_per_kwh: float
    price_usd_per_mwh: float
    band: TouBand
    gco2e_location: float
    cost_usd: float


class TaskAccount(Frozen):
    """A task's energy, carbon (both ways) and electricity cost."""

    id: str
    site: str
    zone: str
    start: datetime
    end: datetime
    model: str
    devices: float
    it_watts: float
    kwh_it: float
    kwh_facility: float
    kwh_network: float
    kwh_total: float
    gco2e_location: float
    gco2e_market: float
    green_share: float
    cost_usd: float
    cost_micros: int
    peak_share: float
    provenance: dict[str, Provenance]
    lines: tuple[HourLine, ...] = ()


class AccountTotals(Frozen):
    """Totals over many tasks (cost in USD)."""

    tasks: int
    kwh_it: float
    kwh_facility: float
    kwh_network: float
    kwh_total: float
    gco2e_location: float
    gco2e_market: float
    cost_usd: float
    cost_micros: int
    peak_share: float


def resolve_devices(usage: TaskUsage, site: Site, table: UnitTable) -> tuple[str, float]:
    """(hardware model, device count) the demand means at ``site``.

    A demand in devices is taken as stated; a demand in normalized units runs on the site's
    largest pool of that class (units / the model's rating).
    """
    demand = usage.demand
    if demand.model is not None and demand.count is not None:
        return demand.model, demand.count
    pools = [p for p in site.pools if p.compute_class is demand.compute_class]
    if not pools:
        have = ", ".join(sorted({p.compute_class.value for p in site.pools}))
        raise SuanwangError(
            f"task {usage.id}: site {site.id} sells no {demand.compute_class.value} compute "
            f"(it sells: {have})"
        )
    pool = max(pools, key=lambda p: p.count)
    rating = table.model(pool.model).rating(ComputeClass(demand.compute_class))
    assert demand.units is not None  # guaranteed by Demand's validator
    return pool.model, demand.units / rating


def account_task(
    usage: TaskUsage,
    site: Site,
    book: SignalBook,
    table: UnitTable,
    power: PowerModel | None = None,
    *,
    detail: bool = False,
) -> TaskAccount:
    """Account one task (see the module docstring for the formulas)."""
    power = power or PowerModel()
    model, devices = resolve_devices(usage, site, table)
    try:
        watts = power.it_watts(model, devices, usage.utilisation, usage.demand.memory_gb)
    except SuanwangError as exc:
        raise SuanwangError(f"task {usage.id}: {exc}") from None
    end = usage.start + timedelta(hours=usage.duration_hours)
    first = epoch_hour(usage.start)
    last = epoch_hour(end - timedelta(microseconds=1))
    count = last - first + 1
    signals = book.signals(site.grid_zone, first, count)
    begins = np.array(
        [(usage.start - hour_start(first)).total_seconds() / 3600.0] + [0.0] * (count - 1)
    )
    ends = np.ones(count)
    ends[-1] = (end - hour_start(last)).total_seconds() / 3600.0
    fraction = ends - begins
    pue_model = PueModel(base=site.pue, per_degree_c=site.pue_per_degree_c)
    outdoor = (
        synthetic_outdoor_c(signals.hours, site.lat, site.lon)
        if pue_model.per_degree_c > 0.0
        else None
    )
    pue = pue_model.at(outdoor, count)
    it_kwh = watts * fraction / 1000.0
    facility = it_kwh * pue
    ci = signals.intensity_g_per_kwh
    loc_hours = facility * ci
    cost_hours = facility * signals.price_usd_per_mwh / 1000.0
    network_kwh = power.network_kwh(usage.transfer_gb)
    network_g = network_kwh * float(ci[0])
    facility_g = float(loc_hours.sum())
    green = site.green_share
    peak = signals.is_band(PEAK_BANDS)
    total_facility = float(facility.sum())
    cost = float(cost_hours.sum())
    provenance = dict(signals.provenance)
    climate = (
        f" + {site.pue_per_degree_c:g} per degC above 20 degC (synthetic climate)"
        if outdoor is not None
        else ""
    )
    provenance["pue"] = Provenance(
        origin=SignalOrigin.SYNTHETIC if outdoor is not None else SignalOrigin.DECLARED,
        source=f"site PUE {site.pue:g}{climate}",
    )
    lines: tuple[HourLine, ...] = ()
    if detail:
        lines = tuple(
            HourLine(
                start=hour_start(int(h)),
                hours=float(fraction[i]),
                pue=float(pue[i]),
                it_kwh=float(it_kwh[i]),
                facility_kwh=float(facility[i]),
                intensity_g_per_kwh=float(ci[i]),
                price_usd_per_mwh=float(signals.price_usd_per_mwh[i]),
                band=BAND_ORDER[int(signals.bands[i])],
                gco2e_location=float(loc_hours[i]),
                cost_usd=float(cost_hours[i]),
            )
            for i, h in enumerate(signals.hours)
        )
    return TaskAccount(
        id=usage.id,
        site=site.id,
        zone=site.grid_zone,
        start=usage.start,
        end=end,
        model=model,
        devices=devices,
        it_watts=watts,
        kwh_it=float(it_kwh.sum()),
        kwh_facility=total_facility,
        kwh_network=network_kwh,
        kwh_total=total_facility + network_kwh,
        gco2e_location=facility_g + network_g,
        gco2e_market=(1.0 - green) * facility_g + network_g,
        green_share=green,
        cost_usd=cost,
        cost_micros=round(cost * 1_000_000),
        peak_share=float(facility[peak].sum()) / total_facility if total_facility > 0 else 0.0,
        provenance=provenance,
        lines=lines,
    )


def account_tasks(
    usages: Iterable[TaskUsage],
    sites: Mapping[str, Site],
    book: SignalBook,
    table: UnitTable,
    power: PowerModel | None = None,
    *,
    detail: bool = False,
) -> tuple[list[TaskAccount], AccountTotals]:
    """Account many tasks and total them. Unknown sites raise with the task id."""
    accounts: list[TaskAccount] = []
    for usage in usages:
        if usage.site not in sites:
            raise SuanwangError(f"task {usage.id}: {UnknownIdError('site', usage.site, sites)}")
        accounts.append(account_task(usage, sites[usage.site], book, table, power, detail=detail))
    return accounts, totals(accounts)


def totals(accounts: Iterable[TaskAccount]) -> AccountTotals:
    """Sum accounts; the peak share is weighted by facility energy."""
    items = list(accounts)
    facility = math.fsum(a.kwh_facility for a in items)
    cost = math.fsum(a.cost_usd for a in items)
    return AccountTotals(
        tasks=len(items),
        kwh_it=math.fsum(a.kwh_it for a in items),
        kwh_facility=facility,
        kwh_network=math.fsum(a.kwh_network for a in items),
        kwh_total=math.fsum(a.kwh_total for a in items),
        gco2e_location=math.fsum(a.gco2e_location for a in items),
        gco2e_market=math.fsum(a.gco2e_market for a in items),
        cost_usd=cost,
        cost_micros=sum(a.cost_micros for a in items),
        peak_share=(
            math.fsum(a.peak_share * a.kwh_facility for a in items) / facility
            if facility > 0
            else 0.0
        ),
    )
