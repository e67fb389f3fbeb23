"""The world's topology compiled into arrays (scipy CSR) for fast path queries.

A :class:`CompiledGraph` is immutable and depends only on the topology and the latency
model; failures, reservations and path rules are masks over its arrays, so the graph is
compiled again only when the topology (or the model) changes. :attr:`fingerprint` names
that topology.

Layout:

* nodes ``0..n-1`` (sites first, then landing points), each with a country index;
* links ``0..L-1`` with per-link arrays (endpoints, kind, one-way latency, price, capacity)
  and sparse link x country and link x shared-risk-group incidence matrices;
* arcs ``0..2L-1``: each link in both directions, sorted by (tail, head). Capacity and
  reservations are per arc (links are full duplex);
* slots: runs of parallel arcs with the same (tail, head). The CSR matrix handed to
  Dijkstra has one entry per slot whose weight is the least weight of its active arcs, so
  parallel links (a cable and a satellite hop between the same two nodes) never collide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from suanwang.core.geo import EARTH_RADIUS_KM
from suanwang.core.network.latency import FIBRE_KM_PER_MS, LatencyModel
from suanwang.core.network.model import LengthBasis, LinkKind

if TYPE_CHECKING:
    from suanwang.core.world import World

KINDS: tuple[LinkKind, ...] = tuple(LinkKind)
"""Link kinds in code order: ``link_kind[i]`` indexes this tuple."""

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]


def haversine_km(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """Vectorised great-circle distance in km (same formula as :mod:`suanwang.core.geo`)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: F64 = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return out


@dataclass(frozen=True)
class TopologyArrays:
    """The raw topology as arrays: what :meth:`CompiledGraph.build` compiles.

    ``link_countries[i]`` and ``link_srlgs[i]`` list the countries and shared-risk groups of
    link ``i``; ``link_length_km`` is the stored length and ``link_route_basis[i]`` is True
    when it is a route length (False: great circle, the model applies a route factor).
    """

    version: str
    node_ids: Sequence[str]
    node_lat: F64
    node_lon: F64
    node_country: Sequence[str]
    site_count: int
    link_ids: Sequence[str]
    link_a: I64
    link_b: I64
    link_kind: NDArray[np.int8]
    link_length_km: F64
    link_route_basis: B
    link_capacity_gbps: F64
    link_price_per_gb: F64
    link_countries: Sequence[Sequence[str]]
    link_srlgs: Sequence[Sequence[str]]
    link_cables: Sequence[str | None] = ()

    @classmethod
    def from_world(cls, world: World) -> TopologyArrays:
        """The arrays of ``world``: its sites (first) and landing points, and its links."""
        nodes: list[tuple[str, float, float, str]] = [
            (s.id, s.lat, s.lon, s.country) for s in world.sites
        ]
        nodes += [(lp.id, lp.lat, lp.lon, lp.country) for lp in world.landing_points]
        index = {nid: i for i, (nid, *_rest) in enumerate(nodes)}
        links = world.links
        return cls(
            version=world.version,
            node_ids=[n[0] for n in nodes],
            node_lat=np.array([n[1] for n in nodes], dtype=np.float64),
            node_lon=np.array([n[2] for n in nodes], dtype=np.float64),
            node_country=[n[3] for n in nodes],
            site_count=len(world.sites),
            link_ids=[lk.id for lk in links],
            link_a=np.array([index[lk.a] for lk in links], dtype=np.int64),
            link_b=np.array([index[lk.b] for lk in links], dtype=np.int64),
            link_kind=np.array([KINDS.index(lk.kind) for lk in links], dtype=np.int8),
            link_length_km=np.array([lk.length_km for lk in links], dtype=np.float64),
            link_route_basis=np.array(
                [lk.length_basis is LengthBasis.ROUTE for lk in links], dtype=np.bool_
            ),
            link_capacity_gbps=np.array([lk.capacity_gbps for lk in links], dtype=np.float64),
            link_price_per_gb=np.array([lk.price_per_gb_micros for lk in links], dtype=np.float64),
            link_countries=[lk.countries for lk in links],
            link_srlgs=[lk.srlgs for lk in links],
            link_cables=[lk.cable for lk in links],
        )


def _incidence(rows: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], csr_matrix]:
    names = tuple(sorted({name for row in rows for name in row}))
    col = {name: j for j, name in enumerate(names)}
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indices: list[int] = []
    for i, row in enumerate(rows):
        cols = sorted({col[name] for name in row})
        indices.extend(cols)
        indptr[i + 1] = len(indices)
    data = np.ones(len(indices), dtype=np.bool_)
    matrix = csr_matrix(
        (data, np.array(indices, dtype=np.int64), indptr), shape=(len(rows), len(names))
    )
    return names, matrix


def propagation_ms(model: LatencyModel, kind: NDArray[np.int8], length_km: F64, route: B) -> F64:
    """Vectorised :meth:`LatencyModel.propagation_ms` over arrays of links."""
    factor = np.ones_like(length_km)
    for code, k in enumerate(KINDS):
        is_k = kind == code
        factor[is_k & ~route] = model.route_factor(k)
    sub = kind == KINDS.index(LinkKind.SUBMARINE)
    factor[sub & route] = model.submarine_route_factor
    out: F64 = length_km * factor / model.fibre_km_per_ms
    sat = kind == KINDS.index(LinkKind.SATELLITE)
    if sat.any():
        s = model.satellite
        km = length_km[sat]
        modelled = s.access_ms + (2.0 * s.altitude_km + km * s.ground_track_factor) / 299.792458
        out[sat] = np.maximum(modelled, km / FIBRE_KM_PER_MS)
    return out


@dataclass(frozen=True, eq=False)
class CompiledGraph:
    """Immutable arrays of one topology under one latency model (see the module docstring)."""

    fingerprint: str
    version: str
    model: LatencyModel
    node_ids: tuple[str, ...]
    node_index: Mapping[str, int]
    node_lat: F64
    node_lon: F64
    node_country: I64
    site_count: int
    countries: tuple[str, ...]
    country_index: Mapping[str, int]
    link_ids: tuple[str, ...]
    link_index: Mapping[str, int]
    link_a: I64
    link_b: I64
    link_kind: NDArray[np.int8]
    link_length_km: F64
    link_gc_km: F64
    link_ms: F64
    link_price: F64
    link_capacity_gbps: F64
    link_cables: tuple[str | None, ...]
    link_country: csr_matrix
    srlg_ids: tuple[str, ...]
    link_srlg: csr_matrix
    arc_link: I64
    arc_tail: I64
    arc_head: I64
    slot_bounds: I64
    slot_head: I64
    indptr: I64
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def from_world(cls, world: World, model: LatencyModel | None = None) -> CompiledGraph:
        """Compile ``world`` under ``model`` (the calibrated default when omitted)."""
        return cls.build(TopologyArrays.from_world(world), model or LatencyModel())

    @classmethod
    def build(cls, topo: TopologyArrays, model: LatencyModel) -> CompiledGraph:
        """Compile raw topology arrays (used directly by benchmarks on generated graphs)."""
        n = len(topo.node_ids)
        n_links = len(topo.link_ids)
        countries = tuple(
            sorted(set(topo.node_country) | {c for r in topo.link_countries for c in r})
        )
        country_index = {c: i for i, c in enumerate(countries)}
        # a link touches the countries it lists and those of both its endpoints
        link_country = _remap_columns(
            [
                (*row, topo.node_country[int(a)], topo.node_country[int(b)])
                for row, a, b in zip(topo.link_countries, topo.link_a, topo.link_b, strict=True)
            ],
            country_index,
        )
        srlg_ids, link_srlg = _incidence(topo.link_srlgs)
        gc = haversine_km(
            topo.node_lat[topo.link_a],
            topo.node_lon[topo.link_a],
            topo.node_lat[topo.link_b],
            topo.node_lon[topo.link_b],
        )
        link_ms = (
            propagation_ms(model, topo.link_kind, topo.link_length_km, topo.link_route_basis)
            + model.per_hop_ms
        )
        # arcs: link i forward is arc i, backward is arc i + L, then sort by (tail, head)
        tail = np.concatenate([topo.link_a, topo.link_b])
        head = np.concatenate([topo.link_b, topo.link_a])
        order = np.lexsort((head, tail))
        arc_link = np.concatenate([np.arange(n_links), np.arange(n_links)])[order]
        arc_tail, arc_head = tail[order], head[order]
        new_slot = np.ones(len(order), dtype=np.bool_)
        if len(order) > 1:
            new_slot[1:] = (arc_tail[1:] != arc_tail[:-1]) | (arc_head[1:] != arc_head[:-1])
        starts = np.flatnonzero(new_slot)
        slot_bounds = np.append(starts, len(order)).astype(np.int64)
        slot_tail = arc_tail[starts]
        indptr = np.searchsorted(slot_tail, np.arange(n + 1), side="left").astype(np.int64)
        fingerprint = _fingerprint(topo, model)
        return cls(
            fingerprint=fingerprint,
            version=topo.version,
            model=model,
            node_ids=tuple(topo.node_ids),
            node_index={nid: i for i, nid in enumerate(topo.node_ids)},
            node_lat=topo.node_lat,
            node_lon=topo.node_lon,
            node_country=np.array([country_index[c] for c in topo.node_country], dtype=np.int64),
            site_count=topo.site_count,
            countries=countries,
            country_index=country_index,
            link_ids=tuple(topo.link_ids),
            link_index={lid: i for i, lid in enumerate(topo.link_ids)},
            link_a=topo.link_a,
            link_b=topo.link_b,
            link_kind=topo.link_kind,
            link_length_km=topo.link_length_km,
            link_gc_km=gc,
            link_ms=link_ms,
            link_price=topo.link_price_per_gb,
            link_capacity_gbps=topo.link_capacity_gbps,
            link_cables=tuple(topo.link_cables) if topo.link_cables else (None,) * n_links,
            link_country=link_country,
            srlg_ids=srlg_ids,
            link_srlg=link_srlg,
            arc_link=arc_link.astype(np.int64),
            arc_tail=arc_tail.astype(np.int64),
            arc_head=arc_head.astype(np.int64),
            slot_bounds=slot_bounds,
            slot_head=arc_head[starts].astype(np.int64),
            indptr=indptr,
        )

    # --- sizes and names -------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_links(self) -> int:
        return len(self.link_ids)

    @property
    def site_ids(self) -> tuple[str, ...]:
        """Ids of the compute sites (nodes ``0..site_count-1``)."""
        return self.node_ids[: self.site_count]

    @property
    def slot_keys(self) -> I64:
        """``tail * n + head`` per slot, ascending (cached)."""
        keys = self._cache.get("slot_keys")
        if keys is None:
            keys = self.arc_tail[self.slot_bounds[:-1]] * self.n_nodes + self.slot_head
            self._cache["slot_keys"] = keys
        out: I64 = keys  # type: ignore[assignment]
        return out

    def kind_of(self, link: int) -> LinkKind:
        return KINDS[int(self.link_kind[link])]

    def links_of_kind(self, kind: LinkKind) -> B:
        """Boolean mask of the links of ``kind``."""
        out: B = self.link_kind == KINDS.index(kind)
        return out

    def link_countries_of(self, link: int) -> tuple[str, ...]:
        """Countries link ``link`` touches (its own list plus its endpoints'), sorted."""
        return self._row_names("link_countries", self.link_country, self.countries, link)

    def link_srlgs_of(self, link: int) -> tuple[str, ...]:
        """Shared-risk groups of link ``link``, sorted."""
        return self._row_names("link_srlgs", self.link_srlg, self.srlg_ids, link)

    def _row_names(
        self, key: str, matrix: csr_matrix, names: tuple[str, ...], row: int
    ) -> tuple[str, ...]:
        """Column names of one incidence-matrix row (cached per row)."""
        cache = self._cache.setdefault(key, {})
        assert isinstance(cache, dict)
        got = cache.get(row)
        if got is None:
            cols = matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]]
            got = cache[row] = tuple(names[int(j)] for j in cols)
        out: tuple[str, ...] = got
        return out

    # --- masks --------------------------------------------------------------------------------
    def links_touching_countries(self, codes: frozenset[str]) -> B:
        """Mask of links that touch any country in ``codes``."""
        cols = [self.country_index[c] for c in codes if c in self.country_index]
        if not cols:
            return np.zeros(self.n_links, dtype=np.bool_)
        out: B = np.asarray(self.link_country[:, cols].sum(axis=1)).ravel() > 0
        return out

    def links_outside(self, codes: frozenset[str]) -> B:
        """Mask of links that touch any country *not* in ``codes``."""
        inside = np.zeros(len(self.countries), dtype=np.bool_)
        for c in codes:
            if c in self.country_index:
                inside[self.country_index[c]] = True
        outside_cols = np.flatnonzero(~inside)
        if len(outside_cols) == 0:
            return np.zeros(self.n_links, dtype=np.bool_)
        out: B = np.asarray(self.link_country[:, outside_cols].sum(axis=1)).ravel() > 0
        return out

    def links_in_srlgs(self, groups: Sequence[str]) -> B:
        """Mask of links that belong to any of the shared-risk ``groups``."""
        index = {g: j for j, g in enumerate(self.srlg_ids)}
        cols = [index[g] for g in groups if g in index]
        if not cols:
            return np.zeros(self.n_links, dtype=np.bool_)
        out: B = np.asarray(self.link_srlg[:, cols].sum(axis=1)).ravel() > 0
        return out

    # --- Dijkstra plumbing --------------------------------------------------------------------
    def matrix(self, arc_weight: F64) -> csr_matrix:
        """CSR adjacency whose entry per slot is the least weight of its arcs (inf: no arc).

        ``arc_weight`` is indexed by arc; give ``np.inf`` to disable an arc.
        """
        slot_w = (
            np.minimum.reduceat(arc_weight, self.slot_bounds[:-1])
            if len(arc_weight)
            else arc_weight
        )
        return csr_matrix(
            (slot_w, self.slot_head, self.indptr), shape=(self.n_nodes, self.n_nodes), copy=False
        )

    def best_arc(self, tail: int, head: int, arc_weight: F64) -> int:
        """The least-weight arc from ``tail`` to ``head`` (one of possibly parallel arcs)."""
        lo, hi = int(self.indptr[tail]), int(self.indptr[tail + 1])
        s = lo + int(np.searchsorted(self.slot_head[lo:hi], head))
        a0, a1 = int(self.slot_bounds[s]), int(self.slot_bounds[s + 1])
        return a0 + int(np.argmin(arc_weight[a0:a1]))


def _remap_columns(rows: Sequence[Sequence[str]], index: Mapping[str, int]) -> csr_matrix:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indices: list[int] = []
    for i, row in enumerate(rows):
        indices.extend(sorted({index[c] for c in row}))
        indptr[i + 1] = len(indices)
    data = np.ones(len(indices), dtype=np.bool_)
    return csr_matrix(
        (data, np.array(indices, dtype=np.int64), indptr), shape=(len(rows), len(index))
    )


def _fingerprint(topo: TopologyArrays, model: LatencyModel) -> str:
    h = hashlib.sha256()
    h.update(topo.version.encode())
    h.update(json.dumps(model.model_dump(mode="json"), sort_keys=True).encode())
    h.update("\x00".join(topo.node_ids).encode())
    h.update(np.ascontiguousarray(topo.node_lat).tobytes())
    h.update(np.ascontiguousarray(topo.node_lon).tobytes())
    h.update("\x00".join(topo.node_country).encode())
    h.update("\x00".join(topo.link_ids).encode())
    for arr in (
        topo.link_a,
        topo.link_b,
        topo.link_kind,
        topo.link_length_km,
        topo.link_route_basis,
        topo.link_capacity_gbps,
        topo.link_price_per_gb,
    ):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(json.dumps([list(r) for r in topo.link_countries]).encode())
    h.update(json.dumps([list(r) for r in topo.link_srlgs]).encode())
    return h.hexdigest()[:16]
