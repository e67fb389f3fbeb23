"""The network engine: path queries, reservations and failures over one compiled graph.

:class:`Network` holds a :class:`CompiledGraph` plus mutable state (which links are down and
how much bandwidth each flow holds). It does no I/O and reads no clock, so every answer is a
function of the topology, the model and the calls made so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from pydantic import Field
from scipy.sparse.csgraph import connected_components, dijkstra

from suanwang.core.base import Frozen
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.geo import great_circle_km
from suanwang.core.network.costmap import CostMap
from suanwang.core.network.failures import (
    FailureReport,
    FailureSpec,
    IsolatedCountry,
    PairChange,
    Reachability,
)
from suanwang.core.network.graph import F64, I64, KINDS, B, CompiledGraph, haversine_km
from suanwang.core.network.latency import LatencyModel, physics_floor_one_way_ms
from suanwang.core.network.model import LinkKind
from suanwang.core.network.paths import (
    CheapestPath,
    Hop,
    NoPathError,
    Path,
    PathRules,
    ordered_unique,
)
from suanwang.core.network.routing import InfeasibleError, SubGraph, larac

if TYPE_CHECKING:
    from suanwang.core.world import World


class AdmissionError(SuanwangError, ValueError):
    """A bandwidth reservation does not fit; names the bottleneck link and what is free."""

    def __init__(self, flow: str, link: str, free_gbps: float, wanted_gbps: float) -> None:
        self.flow, self.link = flow, link
        self.free_gbps, self.wanted_gbps = free_gbps, wanted_gbps
        super().__init__(
            f"flow {flow!r} needs {wanted_gbps:g} Gbps but link {link!r} has only "
            f"{free_gbps:g} Gbps free"
        )


class FailureStateError(SuanwangError, ValueError):
    """Failing what is already failed under the same key, or restoring what is not failed."""


class Reservation(Frozen):
    """Bandwidth held by one flow along one path (in the direction of travel)."""

    flow: str
    gbps: float = Field(gt=0.0)
    path: Path


class SiteLatency(Frozen):
    """Latency from one origin to one site (None when unreachable)."""

    site: str
    one_way_ms: float | None
    rtt_ms: float | None


@dataclass(frozen=True)
class _Attach:
    """An origin attached to the graph: candidate nodes and the access latency to each."""

    nodes: tuple[int, ...]
    access_ms: tuple[float, ...]


class Network:
    """A compiled world plus failures and reservations. Not thread-safe; pure."""

    def __init__(self, graph: CompiledGraph) -> None:
        self._adopt(graph)

    def _adopt(self, graph: CompiledGraph) -> None:
        """Start from ``graph`` with nothing failed and nothing reserved."""
        self.graph = graph
        self._down_count = np.zeros(graph.n_links, dtype=np.int64)
        self._failures: dict[str, I64] = {}
        self._reserved = np.zeros(2 * graph.n_links, dtype=np.float64)  # per arc
        self._arc_of_link_dir = self._arc_lookup()
        self._flows: dict[str, tuple[Reservation, I64]] = {}
        self._epoch = 0
        self._cost_map: CostMap | None = None

    @classmethod
    def from_world(cls, world: World, model: LatencyModel | None = None) -> Network:
        return cls(CompiledGraph.from_world(world, model))

    def recompile(self, graph: CompiledGraph) -> bool:
        """Adopt a new compiled topology; a no-op (False) when the fingerprint is unchanged.

        Failures and reservations are dropped, because link indices may differ between
        topologies; the caller re-applies what still holds.
        """
        if graph.fingerprint == self.graph.fingerprint:
            return False
        self._adopt(graph)
        return True

    # --- state -------------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """Changes whenever the topology, a failure or a reservation changes."""
        return f"{self.graph.fingerprint}-{self._epoch}"

    @property
    def link_up(self) -> B:
        out: B = self._down_count == 0
        return out

    def failures(self) -> tuple[str, ...]:
        """Keys of the failures in force."""
        return tuple(self._failures)

    def reserved_gbps(self) -> F64:
        """Bandwidth reserved on each link (the larger of its two directions), by link index."""
        out: F64 = np.zeros(self.graph.n_links, dtype=np.float64)
        np.maximum.at(out, self.graph.arc_link, self._reserved)
        return out

    def down_links(self) -> tuple[str, ...]:
        return tuple(self.graph.link_ids[i] for i in np.flatnonzero(self._down_count))

    def _touch(self) -> None:
        self._epoch += 1
        self._cost_map = None

    def _arc_lookup(self) -> I64:
        """``out[2*link + dir]`` = arc index, dir 0 = a->b, 1 = b->a."""
        g = self.graph
        out = np.empty(2 * g.n_links, dtype=np.int64)
        forward = g.link_a[g.arc_link] == g.arc_tail
        # a self-consistent choice for links whose ends coincide is impossible (rejected upstream)
        out[2 * g.arc_link + (~forward).astype(np.int64)] = np.arange(len(g.arc_link))
        return out

    # --- resolving names ---------------------------------------------------------------------
    def node(self, node_id: str) -> int:
        try:
            return self.graph.node_index[node_id]
        except KeyError:
            raise UnknownIdError("site or node", node_id, self.graph.site_ids) from None

    def link(self, link_id: str) -> int:
        try:
            return self.graph.link_index[link_id]
        except KeyError:
            raise UnknownIdError("link", link_id, self.graph.link_ids) from None

    def _links_of(self, spec: FailureSpec) -> I64:
        g = self.graph
        mask = np.zeros(g.n_links, dtype=np.bool_)
        for lid in spec.links:
            mask[self.link(lid)] = True
        known = set(g.srlg_ids)
        for group in spec.srlgs:
            if group not in known:
                raise UnknownIdError("shared-risk group", group, g.srlg_ids)
        mask |= g.links_in_srlgs(sorted(spec.srlgs))
        nodes = np.zeros(g.n_nodes, dtype=np.bool_)
        for nid in spec.nodes:
            nodes[self.node(nid)] = True
        if spec.region is not None:
            r = spec.region
            d = haversine_km(
                np.full(g.n_nodes, r.lat), np.full(g.n_nodes, r.lon), g.node_lat, g.node_lon
            )
            nodes |= d <= r.radius_km
        mask |= nodes[g.link_a] | nodes[g.link_b]
        return np.flatnonzero(mask).astype(np.int64)

    # --- weights and masks -------------------------------------------------------------------
    def arc_latency(self) -> F64:
        """One-way latency per arc (propagation + per hop + queueing at current load)."""
        g = self.graph
        lat: F64 = g.link_ms[g.arc_link].copy()
        q = g.model.queueing_ms_at_half_load
        if q > 0 and self._reserved.any():
            u = np.minimum(self._reserved / g.link_capacity_gbps[g.arc_link], 0.99)
            lat += q * u / (1.0 - u)
        return lat

    def arc_free_gbps(self) -> F64:
        g = self.graph
        out: F64 = g.link_capacity_gbps[g.arc_link] - self._reserved
        return out

    def arc_mask(self, rules: PathRules) -> B:
        """Arcs a path under ``rules`` may use right now."""
        g = self.graph
        ok = self.link_up.copy()
        if rules.avoid:
            ok &= ~g.links_touching_countries(rules.avoid)
        if rules.within is not None:
            ok &= ~g.links_outside(rules.within)
        if rules.exclude_srlgs:
            ok &= ~g.links_in_srlgs(sorted(rules.exclude_srlgs))
        if rules.fibre_only:
            ok &= ~g.links_of_kind(LinkKind.SATELLITE)
        arcs: B = ok[g.arc_link]
        if rules.min_gbps > 0:
            arcs &= self.arc_free_gbps() >= rules.min_gbps - 1e-9
        return arcs

    def _check_ends(self, rules: PathRules, *nodes: int) -> None:
        for n in nodes:
            code = self.graph.countries[int(self.graph.node_country[n])]
            if not rules.allows_country(code):
                raise NoPathError(
                    f"{self.graph.node_ids[n]} is in {code}, which the path rules exclude"
                )

    # --- queries -----------------------------------------------------------------------------
    def path(self, src: str, dst: str, rules: PathRules | None = None) -> Path:
        """The fastest path from ``src`` to ``dst`` under ``rules``.

        Raises :class:`NoPathError` naming the rule that cannot be met.
        """
        rules = rules or PathRules()
        s, t = self.node(src), self.node(dst)
        self._check_ends(rules, s, t)
        mask = self.arc_mask(rules)
        lat = self.arc_latency()
        weight = np.where(mask, lat, np.inf)
        arcs = self._fastest_arcs(weight, s, t)
        if arcs is None:
            raise self._explain_no_path(src, dst, rules)
        path = self._make_path(s, t, arcs, lat)
        if rules.max_one_way_ms is not None and path.one_way_ms > rules.max_one_way_ms + 1e-9:
            raise NoPathError(
                f"the fastest path {src} -> {dst} takes {path.one_way_ms:.2f} ms one way "
                f"({path.rtt_ms:.2f} ms round trip), over the bound of "
                f"{rules.max_one_way_ms:.2f} ms one way",
                best_one_way_ms=path.one_way_ms,
            )
        return path

    def cheapest_path(
        self, src: str, dst: str, max_one_way_ms: float, rules: PathRules | None = None
    ) -> CheapestPath:
        """The lowest price-per-GB path whose one-way latency is within ``max_one_way_ms``.

        Solved by LARAC; the answer carries a Lagrangian lower bound and its gap.
        """
        rules = (rules or PathRules()).model_copy(update={"max_one_way_ms": max_one_way_ms})
        s, t = self.node(src), self.node(dst)
        self._check_ends(rules, s, t)
        mask = self.arc_mask(rules)
        lat = self.arc_latency()
        if s == t:
            path = self._make_path(s, t, np.zeros(0, dtype=np.int64), lat)
            return CheapestPath(
                path=path, max_one_way_ms=max_one_way_ms, lower_bound_micros=0.0,
                gap_micros=0.0, gap_ratio=0.0, iterations=0, fastest_one_way_ms=0.0,
            )  # fmt: skip
        g = self.graph
        cost = g.link_price[g.arc_link]
        budget = max_one_way_ms - g.model.endpoint_ms
        try:
            symmetric = rules.min_gbps == 0 and not (
                g.model.queueing_ms_at_half_load > 0 and self._reserved.any()
            )
            res = larac(g, mask, lat, cost, s, t, budget, symmetric=symmetric)
        except InfeasibleError as exc:
            if not np.isfinite(exc.best_latency):
                raise self._explain_no_path(src, dst, rules) from None
            best = exc.best_latency + g.model.endpoint_ms
            raise NoPathError(
                f"no path {src} -> {dst} within {max_one_way_ms:.2f} ms one way; the fastest "
                f"takes {best:.2f} ms one way ({2 * best:.2f} ms round trip)",
                best_one_way_ms=best,
            ) from None
        path = self._make_path(s, t, res.arcs, lat)
        price = path.price_per_gb_micros
        return CheapestPath(
            path=path,
            max_one_way_ms=max_one_way_ms,
            lower_bound_micros=res.lower_bound,
            gap_micros=res.gap,
            gap_ratio=(res.gap / price) if price > 0 else 0.0,
            iterations=res.iterations,
            fastest_one_way_ms=res.fastest + g.model.endpoint_ms,
        )

    def disjoint_paths(
        self, src: str, dst: str, k: int = 2, rules: PathRules | None = None
    ) -> list[Path]:
        """Up to ``k`` paths that pairwise share no link and no shared-risk group.

        Greedy: the fastest path, then the fastest avoiding every risk group (and link) used so
        far, and so on. Returns fewer than ``k`` when no further risk-disjoint path exists; the
        first path is always the fastest.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        rules = rules or PathRules()
        s, t = self.node(src), self.node(dst)
        self.path(src, dst, rules)  # the fastest must exist: raises with the precise reason
        g = self.graph
        lat = self.arc_latency()
        base = self.arc_mask(rules)
        banned = np.zeros(g.n_links, dtype=np.bool_)
        out: list[Path] = []
        for _ in range(k):
            weight = np.where(base & ~banned[g.arc_link], lat, np.inf)
            arcs = self._fastest_arcs(weight, s, t)
            if arcs is None:
                break
            path = self._make_path(s, t, arcs, lat)
            if rules.max_one_way_ms is not None and path.one_way_ms > rules.max_one_way_ms + 1e-9:
                break
            out.append(path)
            used = np.unique(g.arc_link[arcs])
            banned[used] = True
            groups = sorted({gr for li in used for gr in g.link_srlgs_of(int(li))})
            banned |= g.links_in_srlgs(groups)
            if len(arcs) == 0:
                break
        if not out:
            raise self._explain_no_path(src, dst, rules)
        return out

    def latencies_from(
        self, origin: str, rules: PathRules | None = None
    ) -> tuple[SiteLatency, ...]:
        """Latency from node ``origin`` to every site, in one Dijkstra."""
        rules = rules or PathRules()
        s = self.node(origin)
        dist = self._distances_from([s], [0.0], rules)
        return self._site_latencies(dist)

    def latencies_from_point(
        self, lat: float, lon: float, rules: PathRules | None = None, attach: int = 3
    ) -> tuple[SiteLatency, ...]:
        """Latency from a point (a user, a data source) to every site.

        The point reaches the network through a terrestrial access leg to each of its
        ``attach`` nearest nodes; the best combination wins.
        """
        rules = rules or PathRules()
        a = self.attach(lat, lon, attach)
        dist = self._distances_from(list(a.nodes), list(a.access_ms), rules)
        return self._site_latencies(dist)

    def attach(self, lat: float, lon: float, count: int = 3) -> _Attach:
        """The ``count`` nearest nodes to a point and the access latency to each."""
        g = self.graph
        d = haversine_km(np.full(g.n_nodes, lat), np.full(g.n_nodes, lon), g.node_lat, g.node_lon)
        nearest = np.argsort(d, kind="stable")[: max(1, count)]
        return _Attach(
            nodes=tuple(int(i) for i in nearest),
            access_ms=tuple(g.model.access_one_way_ms(float(d[i])) for i in nearest),
        )

    def cost_map(self) -> CostMap:
        """Site x site latency, price per GB and bottleneck along the fastest paths.

        Cached until the state changes (see :attr:`version`).
        """
        if self._cost_map is None:
            self._cost_map = self._compute_cost_map(self.graph.site_ids)
        return self._cost_map

    # --- reservations ------------------------------------------------------------------------
    def reserve(self, flow: str, path: Path, gbps: float) -> Reservation:
        """Hold ``gbps`` on every link of ``path`` in its direction, all or nothing.

        Raises :class:`AdmissionError` naming the tightest link when capacity is short, and
        :class:`FailureStateError` if the path uses a link that is down.
        """
        if gbps <= 0:
            raise ValueError("a reservation needs a positive bandwidth")
        if flow in self._flows:
            raise SuanwangError(f"flow {flow!r} already holds a reservation; release it first")
        arcs = self._arcs_of_path(path)
        free = self.arc_free_gbps()[arcs]
        down = ~self.link_up[self.graph.arc_link[arcs]]
        if down.any():
            lid = self.graph.link_ids[int(self.graph.arc_link[arcs[np.argmax(down)]])]
            raise FailureStateError(f"flow {flow!r}: link {lid!r} on its path is down")
        if len(arcs) and (free < gbps - 1e-9).any():
            worst = int(np.argmin(free))
            lid = self.graph.link_ids[int(self.graph.arc_link[arcs[worst]])]
            raise AdmissionError(flow, lid, float(free[worst]), gbps)
        np.add.at(self._reserved, arcs, gbps)
        res = Reservation(flow=flow, gbps=gbps, path=path)
        self._flows[flow] = (res, arcs)
        self._touch()
        return res

    def release(self, flow: str) -> Reservation:
        """Give back a flow's bandwidth."""
        if flow not in self._flows:
            raise UnknownIdError("flow", flow, self._flows)
        res, arcs = self._flows.pop(flow)
        np.subtract.at(self._reserved, arcs, res.gbps)
        np.maximum(self._reserved, 0.0, out=self._reserved)
        self._touch()
        return res

    def reservations(self) -> tuple[Reservation, ...]:
        return tuple(r for r, _ in self._flows.values())

    def _arcs_of_path(self, path: Path) -> I64:
        out = np.empty(len(path.hops), dtype=np.int64)
        for i, hop in enumerate(path.hops):
            li = self.link(hop.link)
            forward = self.graph.node_ids[int(self.graph.link_a[li])] == hop.src
            out[i] = self._arc_of_link_dir[2 * li + (0 if forward else 1)]
        return out

    # --- failures ----------------------------------------------------------------------------
    def fail(self, spec: FailureSpec, report: bool = True) -> FailureReport:
        """Take down everything ``spec`` names and report what it did to the sites.

        With ``report=False`` the pairwise latency comparison is skipped (the report then
        lists only the links); isolation is always computed.
        """
        key = spec.key
        if key in self._failures:
            raise FailureStateError(f"{key} is already failed")
        links = self._links_of(spec)
        before = self.cost_map() if report else None
        fibre_before = self._connected_countries(fibre=True)
        was_up = self.link_up[links]
        self._down_count[links] += 1
        self._failures[key] = links
        self._touch()
        return self._report(key, links, links[was_up], before, fibre_before)

    def restore(self, key: str, report: bool = True) -> FailureReport:
        """Bring back a failure by its key; the report shows the change (decreases negative).

        With ``report=False`` the pairwise latency comparison is skipped, as in :meth:`fail`.
        """
        if key not in self._failures:
            raise FailureStateError(
                f"{key!r} is not failed" + (f"; failed now: {', '.join(self._failures)}"
                                            if self._failures else "")
            )  # fmt: skip
        before = self.cost_map() if report else None
        fibre_before = self._connected_countries(fibre=True)
        links = self._failures.pop(key)
        self._down_count[links] -= 1
        now_up = self.link_up[links]
        self._touch()
        return self._report(key, links, links[now_up], before, fibre_before)

    def restore_all(self) -> None:
        self._down_count[:] = 0
        self._failures.clear()
        self._touch()

    def _report(
        self,
        key: str,
        links: I64,
        changed: I64,
        before: CostMap | None,
        fibre_before: B,
    ) -> FailureReport:
        g = self.graph
        unreachable: list[tuple[str, str]] = []
        changes: list[PairChange] = []
        pairs = 0
        if before is not None:
            after = self.cost_map()
            b, a = before.one_way_ms, after.one_way_ms
            iu, ju = np.triu_indices(len(before.sites), k=1)
            pairs = len(iu)
            lost = np.isfinite(b[iu, ju]) & ~np.isfinite(a[iu, ju])
            unreachable = [
                (before.sites[i], before.sites[j]) for i, j in zip(iu[lost], ju[lost], strict=True)
            ]
            both = np.isfinite(b[iu, ju]) & np.isfinite(a[iu, ju])
            delta = np.subtract(a[iu, ju], b[iu, ju], out=np.zeros(len(iu)), where=both)
            moved = np.flatnonzero(np.abs(delta) > 1e-6)
            moved = moved[np.argsort(-delta[moved], kind="stable")]
            changes = [
                PairChange(
                    src=before.sites[iu[k]], dst=before.sites[ju[k]],
                    before_one_way_ms=round(float(b[iu[k], ju[k]]), 3),
                    after_one_way_ms=round(float(a[iu[k], ju[k]]), 3),
                    increase_ms=round(float(delta[k]), 3),
                )
                for k in moved
            ]  # fmt: skip
        fibre_after = self._connected_countries(fibre=True)
        all_after = self._connected_countries(fibre=False)
        isolated = []
        for c in np.flatnonzero(fibre_before & ~fibre_after):
            nodes = tuple(g.node_ids[int(i)] for i in np.flatnonzero(g.node_country == c))
            by = Reachability.SATELLITE_ONLY if all_after[c] else Reachability.NONE
            isolated.append(IsolatedCountry(code=g.countries[int(c)], reachable_by=by, nodes=nodes))
        return FailureReport(
            key=key,
            failed_links=tuple(g.link_ids[int(i)] for i in links),
            newly_down=tuple(g.link_ids[int(i)] for i in changed),
            site_pairs=pairs,
            unreachable_pairs=tuple(unreachable),
            latency_changes=tuple(changes),
            isolated_countries=tuple(isolated),
            max_increase_ms=max((c.increase_ms or 0.0 for c in changes), default=0.0),
        )

    def _component_labels(self, fibre: bool) -> tuple[I64, int]:
        g = self.graph
        ok = self.link_up.copy()
        if fibre:
            ok &= ~g.links_of_kind(LinkKind.SATELLITE)
        weight = np.where(ok[g.arc_link], 1.0, 0.0)
        m = g.matrix(weight).copy()  # never prune the compiled graph's own index arrays
        m.eliminate_zeros()
        _, labels = connected_components(m, directed=False)
        counts = np.bincount(labels)
        return labels.astype(np.int64), int(np.argmax(counts))

    def _connected_countries(self, fibre: bool) -> B:
        """Per country index: does any of its nodes sit in the largest component?"""
        g = self.graph
        labels, main = self._component_labels(fibre)
        out: B = np.zeros(len(g.countries), dtype=np.bool_)
        out[g.node_country[labels == main]] = True
        return out

    # --- internals -----------------------------------------------------------------------------
    def _fastest_arcs(self, arc_weight: F64, s: int, t: int) -> I64 | None:
        if s == t:
            return np.zeros(0, dtype=np.int64)
        g = self.graph
        dist, pred = dijkstra(g.matrix(arc_weight), indices=s, return_predecessors=True)
        if not np.isfinite(dist[t]):
            return None
        return SubGraph.whole(g).path_arcs(pred, s, t, arc_weight)

    def _distances_from(
        self, sources: Sequence[int], offsets: Sequence[float], rules: PathRules
    ) -> F64:
        g = self.graph
        weight = np.where(self.arc_mask(rules), self.arc_latency(), np.inf)
        d = dijkstra(g.matrix(weight), indices=list(sources))
        d = np.atleast_2d(d) + np.asarray(offsets, dtype=np.float64)[:, None]
        out: F64 = d.min(axis=0)
        return out

    def _site_latencies(self, dist: F64) -> tuple[SiteLatency, ...]:
        g = self.graph
        e = g.model.endpoint_ms
        out = []
        for i, sid in enumerate(g.site_ids):
            v = float(dist[i])
            if not np.isfinite(v):
                out.append(SiteLatency(site=sid, one_way_ms=None, rtt_ms=None))
            else:
                ow = v + e if v > 0 else 0.0
                out.append(SiteLatency(site=sid, one_way_ms=round(ow, 4), rtt_ms=round(2 * ow, 4)))
        return tuple(out)

    def _compute_cost_map(self, sites: Sequence[str]) -> CostMap:
        g = self.graph
        idx = np.array([self.node(s) for s in sites], dtype=np.int64)
        lat = self.arc_latency()
        weight = np.where(self.link_up[g.arc_link], lat, np.inf)
        dist, pred = dijkstra(g.matrix(weight), indices=idx, return_predecessors=True)
        dist = np.atleast_2d(dist)
        pred = np.atleast_2d(pred)  # int32: (sites x nodes) can be large
        best = _best_arc_per_pair(g, weight)
        price, free = _walk_back(pred, idx, best, g.link_price[g.arc_link], self.arc_free_gbps())
        one_way = dist[:, idx] + np.where(dist[:, idx] > 0, g.model.endpoint_ms, 0.0)
        unreachable = ~np.isfinite(one_way)
        price_m = np.where(unreachable, np.nan, price)
        free_m = np.where(unreachable, np.nan, free)
        np.fill_diagonal(one_way, 0.0)
        np.fill_diagonal(price_m, 0.0)
        np.fill_diagonal(free_m, np.inf)
        return CostMap(
            version=self.version,
            sites=tuple(sites),
            one_way_ms=one_way,
            price_per_gb_micros=price_m,
            bottleneck_gbps=free_m,
        )

    def _explain_no_path(self, src: str, dst: str, rules: PathRules) -> NoPathError:
        """Find which rule makes ``src`` -> ``dst`` impossible and say so."""
        s, t = self.node(src), self.node(dst)
        plain = np.where(self.link_up[self.graph.arc_link], self.arc_latency(), np.inf)
        if self._fastest_arcs(plain, s, t) is None:
            down = f" ({len(self._failures)} failure(s) in force)" if self._failures else ""
            return NoPathError(f"{dst} is unreachable from {src}{down}")
        reasons = []
        if rules.avoid:
            reasons.append(f"avoiding {', '.join(sorted(rules.avoid))}")
        if rules.within is not None:
            reasons.append(f"staying within {', '.join(sorted(rules.within))}")
        if rules.exclude_srlgs:
            reasons.append(f"excluding {', '.join(sorted(rules.exclude_srlgs))}")
        if rules.fibre_only:
            reasons.append("using fibre only")
        if rules.min_gbps > 0:
            try:
                best = self.path(src, dst, rules.model_copy(update={"min_gbps": 0.0}))
                reasons.append(
                    f"needing {rules.min_gbps:g} Gbps free (the best path's bottleneck is "
                    f"{best.bottleneck_link} with {best.bottleneck_gbps:g} Gbps)"
                )
            except NoPathError:
                reasons.append(f"needing {rules.min_gbps:g} Gbps free")
        because = "; ".join(reasons) or "the path rules"
        return NoPathError(f"no path {src} -> {dst} when {because}")

    def _make_path(self, s: int, t: int, arcs: I64, arc_lat: F64) -> Path:
        """Name the arcs of a path (vectorised gathers, then one small object per hop)."""
        g = self.graph
        links = g.arc_link[arcs]
        link_list = links.tolist()
        tails = g.arc_tail[arcs].tolist()
        heads = g.arc_head[arcs].tolist()
        km = np.round(g.link_length_km[links] * _route_factors(g)[g.link_kind[links]], 3).tolist()
        ms = arc_lat[arcs].tolist()
        price = g.link_price[links].tolist()
        free = self.arc_free_gbps()[arcs].tolist()
        kinds = g.link_kind[links].tolist()
        ids, names = g.link_ids, g.node_ids
        hops = tuple(
            Hop(
                link=ids[li],
                src=names[tail],
                dst=names[head],
                kind=KINDS[kind],
                cable=g.link_cables[li],
                km=k,
                one_way_ms=m,
                price_per_gb_micros=pr,
                free_gbps=fr,
                countries=g.link_countries_of(li),
            )
            for li, tail, head, kind, k, m, pr, fr in zip(
                link_list, tails, heads, kinds, km, ms, price, free, strict=True
            )
        )
        one_way = (sum(ms) + g.model.endpoint_ms) if hops else 0.0
        gc = great_circle_km(
            float(g.node_lat[s]), float(g.node_lon[s]), float(g.node_lat[t]), float(g.node_lon[t])
        )
        bottleneck = hops[int(np.argmin(free))] if hops else None
        src_country = g.countries[int(g.node_country[s])]
        return Path.model_construct(
            src=names[s],
            dst=names[t],
            nodes=(names[s], *(names[h] for h in heads)),
            hops=hops,
            one_way_ms=one_way,
            rtt_ms=2.0 * one_way,
            endpoint_ms=g.model.endpoint_ms if hops else 0.0,
            price_per_gb_micros=float(sum(price)),
            bottleneck_gbps=bottleneck.free_gbps if bottleneck else None,
            bottleneck_link=bottleneck.link if bottleneck else None,
            countries=ordered_unique([src_country, *(c for h in hops for c in h.countries)]),
            srlgs=tuple(sorted({gr for li in set(link_list) for gr in g.link_srlgs_of(li)})),
            great_circle_km=round(gc, 3),
            floor_one_way_ms=physics_floor_one_way_ms(gc),
        )


def _route_factors(g: CompiledGraph) -> F64:
    """Route factor per link-kind code, for reporting route km (satellite: 1)."""
    out = np.ones(len(KINDS), dtype=np.float64)
    for code, kind in enumerate(KINDS):
        if kind is not LinkKind.SATELLITE:
            out[code] = g.model.route_factor(kind)
    return out


def _best_arc_per_pair(g: CompiledGraph, weight: F64) -> tuple[I64, I64]:
    """Sorted (tail * n + head) keys of slots and, per slot, its least-weight arc."""
    n_slots = len(g.slot_bounds) - 1
    slot_of_arc = np.repeat(np.arange(n_slots), np.diff(g.slot_bounds))
    order = np.lexsort((weight, slot_of_arc))
    first = order[g.slot_bounds[:-1]]
    keys = g.arc_tail[g.slot_bounds[:-1]] * g.n_nodes + g.slot_head
    return keys.astype(np.int64), first.astype(np.int64)


def _walk_back(
    pred: NDArray[np.int32], targets: I64, best: tuple[I64, I64], price: F64, free: F64
) -> tuple[F64, F64]:
    """Sum of ``price`` and min of ``free`` along each tree path from a source to each target.

    ``pred`` is (sources, nodes) from Dijkstra; only the ``targets`` columns are walked, all
    pairs in lock step, so the work is the total hop count of the site-to-site paths (not
    sources x nodes). Unreachable pairs keep 0 price and inf free.
    """
    keys, slot_arc = best
    n = pred.shape[1]
    rows = np.repeat(np.arange(pred.shape[0]), len(targets))
    cur = np.tile(targets, pred.shape[0])
    total = np.zeros(len(rows))
    least = np.full(len(rows), np.inf)
    pair = np.arange(len(rows))
    prev = pred[rows, cur]
    live = prev >= 0
    pair, rows, cur, prev = pair[live], rows[live], cur[live], prev[live]
    while len(pair):
        step_from = prev.astype(np.int64)
        arc = slot_arc[np.searchsorted(keys, step_from * n + cur)]
        total[pair] += price[arc]
        least[pair] = np.minimum(least[pair], free[arc])  # each pair once per step
        cur = step_from
        prev = pred[rows, cur]
        live = prev >= 0
        pair, rows, cur, prev = pair[live], rows[live], cur[live], prev[live]
    shape = (pred.shape[0], len(targets))
    return total.reshape(shape), least.reshape(shape)
