"""Shared builders for scheduling tests: a tiny hand-made world and task specs.

The tiny world is four sites on the equator, 20 degrees of longitude apart, in a chain::

    a-home (DE) --ab-- b-near (FR) --bc-- c-far (SG) --cd-- d-end (GB)
    lon 0           lon 20            lon 40           lon 60

Every link is terrestrial with a stated *route* length of 2,040 km, so one hop takes
2,040 km / 204 km/ms + 0.5 ms per hop = **10.5 ms** one way. The sites are 2,224 km apart on
the ground, so an origin at a-home's coordinates reaches b-near faster over the network
(10.5 ms) than over a direct access leg (2,224 km x 1.45 / 204 = 15.8 ms): the latency from
an origin at (0, 0) is 0, 10.5, 21 and 31.5 ms to a, b, c and d.

Pools (general ones are Xeon 8380 cores, which rate exactly 1.0 unit each):

======  ===========================  =====  ===========================  =====
site    pool                         units  price (USD / unit-hour)      PUE
======  ===========================  =====  ===========================  =====
a-home  general xeon-8380, 4 GB/dev  10     1.5                          1.5
a-home  ai nvidia-h100 x 2           1,978  0.003                        1.5
b-near  general xeon-8380            4      1.0                          1.2
c-far   general xeon-8380            100    0.5                          1.1
d-end   general xeon-8380            8      0.8                          1.3
======  ===========================  =====  ===========================  =====

Links: ab 100 Gbps at 0.02 USD/GB, bc 0.05 Gbps at 0.05 USD/GB, cd 10 Gbps at 0.01 USD/GB.
:func:`tiny_snapshot` pins the signals to constants: intensity 400, 100, 600, 50 gCO2e/kWh
(a, b, c, d), electricity 50 USD/MWh, and 10 W per unit in every pool.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import numpy as np

from suanwang.core.energy.clock import epoch_hour, hour_start
from suanwang.core.network.model import Link
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.sites import Site
from suanwang.core.tasks import TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World

START = epoch_hour(datetime(2026, 3, 1, tzinfo=UTC))
"""The planning start of every test snapshot (epoch hour of 2026-03-01T00:00Z)."""

HOP_MS = 10.5
"""One hop of the tiny world: 2,040 km / 204 km/ms + 0.5 ms."""

INTENSITY = {"a-home": 400.0, "b-near": 100.0, "c-far": 600.0, "d-end": 50.0}
WATTS_PER_UNIT = 10.0

XEON = "intel-xeon-8380"
H100 = "nvidia-h100"


def _site(
    sid: str, country: str, lon: float, pue: float, tags: tuple[str, ...], pools: list[Any]
) -> Site:
    return Site.model_validate(
        {
            "id": sid,
            "name": sid,
            "city": sid,
            "country": country,
            "lat": 0.0,
            "lon": lon,
            "kind": "region",
            "operator": "op",
            "pools": pools,
            "pue": pue,
            "grid_zone": f"ZONE-{sid[0].upper()}",
            "jurisdiction": [country, *tags],
        }
    )


def _general(count: int, usd: float, **extra: Any) -> dict[str, Any]:
    price = round(usd * 1_000_000)
    return {"compute_class": "general", "model": XEON, "count": count,
            "price_per_unit_hour_micros": price, **extra}  # fmt: skip


def _link(lid: str, a: str, b: str, gbps: float, usd_per_gb: float, countries: list[str]) -> Link:
    return Link.model_validate(
        {
            "id": lid,
            "a": a,
            "b": b,
            "kind": "terrestrial",
            "length_km": 2040.0,
            "length_basis": "route",
            "capacity_gbps": gbps,
            "price_per_gb_micros": round(usd_per_gb * 1_000_000),
            "countries": countries,
        }
    )


def tiny_world() -> World:
    """The four-site chain of the module docstring."""
    eu = ("EU", "EEA", "GDPR")
    sites = (
        _site("a-home", "DE", 0.0, 1.5, eu, [
            _general(10, 1.5, memory_gb_per_device=4.0),
            {"compute_class": "ai", "model": H100, "count": 2, "price_per_unit_hour_micros": 3000},
        ]),
        _site("b-near", "FR", 20.0, 1.2, eu, [_general(4, 1.0)]),
        _site("c-far", "SG", 40.0, 1.1, ("ASEAN",), [_general(100, 0.5)]),
        _site("d-end", "GB", 60.0, 1.3, ("GDPR",), [_general(8, 0.8)]),
    )  # fmt: skip
    links = (
        _link("ab", "a-home", "b-near", 100.0, 0.02, ["DE", "FR"]),
        _link("bc", "b-near", "c-far", 0.05, 0.05, ["FR", "SG"]),
        _link("cd", "c-far", "d-end", 10.0, 0.01, ["SG", "GB"]),
    )
    return World(version="tiny-1", sites=sites, links=links)


def tiny_snapshot(horizon_hours: int = 24, **build: Any) -> Snapshot:
    """The tiny world with constant, known signals (see the module docstring)."""
    snap = Snapshot.build(tiny_world(), UNIT_TABLE, START, horizon_hours=horizon_hours, **build)
    ci = np.array([[INTENSITY[s]] * horizon_hours for s in snap.site_ids], dtype=np.float64)
    return pin(snap, intensity=ci)


def pin(snap: Snapshot, **changes: Any) -> Snapshot:
    """``snap`` with constant electricity (50 USD/MWh), 10 W per unit and ``changes``."""
    base: dict[str, Any] = {
        "elec_price": np.full(snap.intensity.shape, 50.0),
        "pool_watts_per_unit": np.full(snap.n_pools, WATTS_PER_UNIT),
    }
    return dataclasses.replace(snap, **{**base, **changes})


def deadline_in(hours: float) -> datetime:
    """A deadline ``hours`` after the snapshots' start hour."""
    return hour_start(START) + (hour_start(1) - hour_start(0)) * hours


def task(
    name: str = "t",
    *,
    units: float | None = 2.0,
    cls: str = "general",
    hours: float = 3.0,
    origin: tuple[str, float, float] = ("DE", 0.0, 0.0),
    **fields: Any,
) -> TaskSpec:
    """A task from a-home's coordinates (unless ``origin`` says otherwise).

    ``units=None`` leaves the demand to ``fields["demand"]`` (e.g. a model and count).
    """
    country, lat, lon = origin
    demand = fields.pop("demand", None) or {"compute_class": cls, "units": units}
    return TaskSpec.model_validate(
        {
            "name": name,
            "tenant": fields.pop("tenant", "acme"),
            "demand": demand,
            "duration_hours": hours,
            "origin": {"country": country, "lat": lat, "lon": lon},
            **fields,
        }
    )


# --- random batches on the built-in world ----------------------------------------------------
CITIES: tuple[tuple[str, float, float], ...] = (
    ("CN", 39.90, 116.40),  # Beijing
    ("CN", 31.23, 121.47),  # Shanghai
    ("CN", 30.66, 104.07),  # Chengdu
    ("DE", 50.11, 8.68),  # Frankfurt
    ("FR", 48.86, 2.35),  # Paris
    ("NO", 59.91, 10.75),  # Oslo
    ("US", 40.71, -74.01),  # New York
    ("US", 37.77, -122.42),  # San Francisco
    ("SG", 1.35, 103.82),  # Singapore
    ("IN", 19.08, 72.88),  # Mumbai
    ("ID", -6.21, 106.85),  # Jakarta
    ("RU", 55.75, 37.62),  # Moscow (no RU site: RU personal data has nowhere to go)
    ("SA", 24.71, 46.68),  # Riyadh
    ("VN", 21.03, 105.85),  # Hanoi
    ("BR", -23.55, -46.63),  # Sao Paulo
    ("KE", -1.29, 36.82),  # Nairobi
)
"""Origins random batches draw from (country, lat, lon)."""

_UNITS = {"general": (1.0, 400.0), "ai": (50.0, 6000.0), "hpc": (1.0, 300.0)}
_SITES_WITH_DATA = ("cn-beijing", "de-frankfurt", "us-ashburn", "sg-singapore", "in-mumbai")


def random_tasks(seed: int, n: int) -> list[TaskSpec]:
    """``n`` seeded random tasks over :data:`CITIES` (some shapes repeat, to form groups).

    Every optional field is drawn: latency SLAs (one-way or round trip), budgets, deadlines
    (some deferrable), input data, data classes and sectors, residency and forbidden transit.
    """
    rng = np.random.default_rng(seed)
    out: list[TaskSpec] = []
    while len(out) < n:
        if out and rng.random() < 0.25:  # a copy of an earlier shape under a new name
            twin = out[int(rng.integers(len(out)))]
            out.append(twin.model_copy(update={"name": f"t{len(out)}", "tenant": "other"}))
            continue
        country, lat, lon = CITIES[int(rng.integers(len(CITIES)))]
        cls = str(rng.choice(list(_UNITS)))
        lo, hi = _UNITS[cls]
        hours = float(rng.choice([0.5, 1.0, 2.0, 3.0, 6.0, 12.0]))
        fields: dict[str, Any] = {
            "data_class": str(rng.choice(["public", "internal", "personal", "important", "core"])),
            "sector": str(rng.choice(["general", "general", "financial", "government"])),
        }
        if rng.random() < 0.5:
            mode = str(rng.choice(["one-way", "round-trip"]))
            fields["latency_sla"] = {"max_ms": float(rng.uniform(5.0, 250.0)), "mode": mode}
        if rng.random() < 0.4:
            fields["budget_micros"] = int(rng.uniform(0.2, 80.0) * 1_000_000)
        if rng.random() < 0.4:
            fields["deadline"] = deadline_in(hours + float(rng.uniform(0.0, 30.0)))
            fields["deferrable"] = bool(rng.random() < 0.7)
        if rng.random() < 0.3:
            site = str(rng.choice(_SITES_WITH_DATA))
            fields["input"] = {"site": site, "size_gb": float(rng.uniform(1.0, 3000.0))}
        if rng.random() < 0.15:
            fields["residency"] = (str(rng.choice(["EU", "ASEAN", "US", "GDPR"])),)
        if rng.random() < 0.15:
            fields["forbidden_transit"] = (str(rng.choice(["US", "CN", "SG", "GB"])),)
        out.append(
            task(
                f"t{len(out)}",
                units=round(float(rng.uniform(lo, hi)), 2),
                cls=cls,
                hours=hours,
                origin=(country, lat, lon),
                **fields,
            )
        )
    return out
