"""The immutable view of the world a scheduling decision reads (Nomad's state snapshot).

Everything a plugin judges is here as arrays: sites, their pools (the candidate axis of every
decision: a task is placed in a *pool* of a site), free capacity, posted prices, power per
normalized unit, PUE, and hourly carbon intensity and electricity price per site over the
planning horizon. The network is referenced, never changed: a plan lists the bandwidth it
would reserve and someone else commits it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from suanwang.core.energy.clock import hour_start
from suanwang.core.energy.forecast import Forecaster
from suanwang.core.energy.power import PowerModel
from suanwang.core.energy.signals import SignalBook, builtin_book
from suanwang.core.energy.windows import forecast_signals
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.network.engine import Network
from suanwang.core.network.paths import PathRules
from suanwang.core.scheduling.routes import RouteTable
from suanwang.core.units import ComputeClass, UnitTable
from suanwang.core.world import World

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

CLASSES: tuple[ComputeClass, ...] = tuple(ComputeClass)
"""Compute classes in a fixed order; ``pool_class`` indexes into it."""

DEFAULT_UTILISATION = 0.7
"""Device utilisation assumed for a running task's power draw."""


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Arrays over sites (``S``) and pools (``P``) plus signals over ``H`` hours.

    ``pool_free`` is free normalized units per pool; ``pool_price`` is micro-units of USD per
    normalized unit-hour; ``pool_watts_per_unit`` is IT watts per normalized unit at the
    assumed utilisation (memory included). ``intensity[s, h]`` (gCO2e/kWh) and
    ``elec_price[s, h]`` (USD/MWh) are the signals at hour ``start_hour + h`` as the planner
    knows them (forecast when a forecaster was given).
    """

    world: World
    table: UnitTable
    network: Network
    start_hour: int
    site_ids: tuple[str, ...]
    site_country: npt.NDArray[np.str_]
    site_tags: tuple[frozenset[str], ...]
    site_pue: F64
    pool_site: I64
    pool_class: I64
    pool_model: tuple[str, ...]
    pool_rating: F64
    pool_capacity: F64
    pool_free: F64
    pool_price: F64
    pool_mem_per_device: F64
    pool_watts_per_unit: F64
    intensity: F64
    elec_price: F64
    signal_note: str = ""
    pool_global: I64 | None = None
    _routes: dict[tuple[object, ...], RouteTable] = field(default_factory=dict, repr=False)
    _site_index: dict[str, int] = field(default_factory=dict, repr=False)

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        world: World,
        table: UnitTable,
        start_hour: int,
        *,
        network: Network | None = None,
        book: SignalBook | None = None,
        power: PowerModel | None = None,
        used: Mapping[tuple[str, int], float] | None = None,
        horizon_hours: int = 48,
        forecaster: Forecaster | None = None,
        utilisation: float = DEFAULT_UTILISATION,
    ) -> Snapshot:
        """Read ``world`` into arrays.

        ``used`` maps ``(site id, pool index)`` to normalized units already taken.
        ``forecaster``: when given, signals after ``start_hour`` are that forecaster's
        prediction from the history, so a plan never looks ahead; otherwise the signal
        book's own series are used (synthetic or measured, as the book says).
        """
        if horizon_hours < 1:
            raise SuanwangError(
                f"the planning horizon needs at least one hour, got {horizon_hours}"
            )
        network = network or Network.from_world(world)
        book = book or builtin_book(world)
        power = power or PowerModel()
        used = used or {}
        sites = world.sites
        p_site, p_cls, p_model, rating, cap, free, price, mem, watts = ([] for _ in range(9))
        for s, site in enumerate(sites):
            for i, pool in enumerate(site.pools):
                hw = table.model(pool.model)
                r = hw.rating(pool.compute_class)
                total = r * pool.count
                taken = used.get((site.id, i), 0.0)
                mem_dev = pool.memory_gb_per_device or hw.memory_gb or 0.0
                p_site.append(s)
                p_cls.append(CLASSES.index(pool.compute_class))
                p_model.append(pool.model)
                rating.append(r)
                cap.append(total)
                free.append(max(0.0, total - taken))
                price.append(float(pool.price_per_unit_hour_micros))
                mem.append(mem_dev)
                watts.append(power.it_watts(pool.model, 1.0, utilisation, mem_dev) / r)
        for (sid, i), _ in used.items():
            site = world.site(sid)
            if not 0 <= i < len(site.pools):
                raise SuanwangError(f"site {sid} has no pool {i}")
        ci, el, note = _signals(world, book, start_hour, horizon_hours, forecaster)
        snap = cls(
            world=world,
            table=table,
            network=network,
            start_hour=start_hour,
            site_ids=tuple(s.id for s in sites),
            site_country=np.array([s.country for s in sites], dtype=np.str_),
            site_tags=tuple(frozenset(t.upper() for t in s.jurisdiction) for s in sites),
            site_pue=np.array([s.pue for s in sites], dtype=np.float64),
            pool_site=np.array(p_site, dtype=np.int64),
            pool_class=np.array(p_cls, dtype=np.int64),
            pool_model=tuple(p_model),
            pool_rating=np.array(rating, dtype=np.float64),
            pool_capacity=np.array(cap, dtype=np.float64),
            pool_free=np.array(free, dtype=np.float64),
            pool_price=np.array(price, dtype=np.float64),
            pool_mem_per_device=np.array(mem, dtype=np.float64),
            pool_watts_per_unit=np.array(watts, dtype=np.float64),
            intensity=ci,
            elec_price=el,
            signal_note=note,
        )
        snap._site_index.update({sid: i for i, sid in enumerate(snap.site_ids)})
        return snap

    # --- lookups -----------------------------------------------------------------------------
    @property
    def horizon_hours(self) -> int:
        return int(self.intensity.shape[1])

    @property
    def n_pools(self) -> int:
        return len(self.pool_site)

    def site_index(self, site_id: str) -> int:
        """Index of ``site_id``; unknown ids raise :class:`UnknownIdError`."""
        try:
            return self._site_index[site_id]
        except KeyError:
            raise UnknownIdError("site", site_id, self.site_ids) from None

    def pools_of(self, site: int) -> I64:
        """Pool indices of site index ``site``."""
        out: I64 = np.flatnonzero(self.pool_site == site)
        return out

    def pool_label(self, p: int) -> str:
        """``site/model`` for pool ``p``, as plans and explanations print it."""
        return f"{self.site_ids[int(self.pool_site[p])]}/{self.pool_model[p]}"

    def routes(self, rules: PathRules, sources: tuple[int, ...]) -> RouteTable:
        """The route table for ``rules`` from ``sources`` (cached per snapshot)."""
        key = (rules, sources)
        table = self._routes.get(key)
        if table is None:
            table = RouteTable.build(self.network, rules, sources)
            self._routes[key] = table
        return table

    def start_label(self, offset_hours: float) -> str:
        """ISO time of ``start_hour + offset_hours`` (whole hours; UTC)."""
        return hour_start(self.start_hour + int(offset_hours)).isoformat().replace("+00:00", "Z")

    def pool_subset(self, pools: I64) -> Snapshot:
        """A view with only ``pools`` (e.g. one compute class); ``pool_global`` maps back.

        Sites, signals and route tables are shared with this snapshot.
        """
        per_pool = {
            "pool_site",
            "pool_class",
            "pool_rating",
            "pool_capacity",
            "pool_free",
            "pool_price",
            "pool_mem_per_device",
            "pool_watts_per_unit",
        }
        fields = {
            k: getattr(self, k)
            for k in self.__dataclass_fields__
            if k not in per_pool | {"pool_model", "pool_global", "_routes", "_site_index"}
        }
        base = self.global_pools()
        snap = Snapshot(
            **fields,
            **{k: getattr(self, k)[pools] for k in per_pool},
            pool_model=tuple(self.pool_model[int(p)] for p in pools),
            pool_global=base[pools],
        )
        snap._site_index.update(self._site_index)
        object.__setattr__(snap, "_routes", self._routes)  # one route cache for both
        return snap

    def global_pools(self) -> I64:
        """Index of each pool in the full snapshot it was cut from (identity for a full one)."""
        if self.pool_global is None:
            out: I64 = np.arange(self.n_pools, dtype=np.int64)
            return out
        return self.pool_global

    def with_free(self, pool_free: F64) -> Snapshot:
        """The same snapshot with other free capacity (route tables are shared)."""
        if pool_free.shape != self.pool_free.shape:
            raise SuanwangError("free capacity must have one entry per pool")
        snap = Snapshot(
            **{
                k: getattr(self, k)
                for k in self.__dataclass_fields__
                if k not in {"pool_free", "_routes", "_site_index"}
            },
            pool_free=np.maximum(pool_free, 0.0),
        )
        snap._routes.update(self._routes)
        snap._site_index.update(self._site_index)
        return snap


def _signals(
    world: World,
    book: SignalBook,
    start_hour: int,
    hours: int,
    forecaster: Forecaster | None,
) -> tuple[F64, F64, str]:
    """Intensity and price matrices (sites x hours), one signal request per distinct zone."""
    zones = sorted({s.grid_zone for s in world.sites})
    by_zone: dict[str, tuple[F64, F64]] = {}
    for zone in zones:
        if forecaster is None:
            sig = book.signals(zone, start_hour, hours)
        else:
            # a noisy forecaster gets its own error stream per zone (uncorrelated across zones)
            per_zone = getattr(forecaster, "for_zone", None)
            own = per_zone(zone) if callable(per_zone) else forecaster
            sig = forecast_signals(book, zone, start_hour, hours, own)
        by_zone[zone] = (sig.intensity_g_per_kwh, sig.price_usd_per_mwh)
    ci = (
        np.stack([by_zone[s.grid_zone][0] for s in world.sites])
        if world.sites
        else np.zeros((0, hours))
    )
    el = (
        np.stack([by_zone[s.grid_zone][1] for s in world.sites])
        if world.sites
        else np.zeros((0, hours))
    )
    note = f"forecast by {forecaster.name}" if forecaster is not None else "signal book"
    return ci.astype(np.float64), el.astype(np.float64), note
