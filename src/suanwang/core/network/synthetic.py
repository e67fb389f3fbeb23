"""Generated topologies of any size, for benchmarks and property tests (seeded, pure).

Nodes are spread uniformly over the globe and joined to their nearest neighbours (a
geometric graph, like real fibre). Countries are cells of a lat/lon grid with two-letter
synthetic codes. A share of the longer links are "submarine" segments grouped into cable
systems (each cable a shared-risk group, and cables grouped into corridors), and a few nodes
get a satellite link. The first ``sites`` nodes are compute sites.
"""

from __future__ import annotations

import string

import numpy as np
from scipy.spatial import cKDTree

from suanwang.core.network.graph import KINDS, TopologyArrays, haversine_km
from suanwang.core.network.model import LinkKind

_LETTERS = string.ascii_uppercase


def _country_code(i: int) -> str:
    return _LETTERS[(i // 26) % 26] + _LETTERS[i % 26]


def random_topology(
    n_nodes: int,
    seed: int,
    *,
    degree: int = 3,
    sites: int | None = None,
    submarine_share: float = 0.05,
    cable_size: int = 6,
    corridors: int = 8,
    satellite_share: float = 0.01,
    grid_deg: float = 15.0,
) -> TopologyArrays:
    """A connected-ish geometric topology of ``n_nodes`` nodes, reproducible from ``seed``.

    Each node links to its ``degree`` nearest neighbours (so the mean degree is about
    ``2 * degree``); duplicate pairs are dropped.
    """
    if n_nodes < 2:
        raise ValueError("a topology needs at least two nodes")
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1.0, 1.0, n_nodes)
    phi = rng.uniform(-np.pi, np.pi, n_nodes)
    lat = np.degrees(np.arcsin(z))
    lon = np.degrees(phi)
    xyz = np.column_stack(
        [np.cos(np.radians(lat)) * np.cos(phi), np.cos(np.radians(lat)) * np.sin(phi), z]
    )
    k = min(degree, n_nodes - 1)
    _, nbr = cKDTree(xyz).query(xyz, k=k + 1)
    a = np.repeat(np.arange(n_nodes), k)
    b = np.asarray(nbr)[:, 1 : k + 1].ravel()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(np.column_stack([lo, hi]), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    a, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    gc = haversine_km(lat[a], lon[a], lat[b], lon[b])
    gc = np.maximum(gc, 0.5)
    # countries: cells of a lat/lon grid
    cols = int(np.ceil(360.0 / grid_deg))
    cell = ((lat + 90.0) // grid_deg).astype(np.int64) * cols + ((lon + 180.0) // grid_deg).astype(
        np.int64
    )
    _, country_id = np.unique(cell, return_inverse=True)
    node_country = [_country_code(int(c)) for c in country_id]
    kind = np.full(len(a), KINDS.index(LinkKind.TERRESTRIAL), dtype=np.int8)
    route = np.zeros(len(a), dtype=np.bool_)
    length = gc.copy()
    srlgs: list[list[str]] = [[] for _ in range(len(a))]
    # the longest links become submarine segments, grouped into cables and corridors
    n_sub = int(len(a) * submarine_share)
    if n_sub:
        sub = np.argsort(-gc)[:n_sub]
        rng.shuffle(sub)
        kind[sub] = KINDS.index(LinkKind.SUBMARINE)
        route[sub] = True
        length[sub] = gc[sub] * rng.uniform(1.05, 1.3, n_sub)
        for j, li in enumerate(sub):
            cable = j // cable_size
            srlgs[int(li)] = [f"cable:c{cable}", f"corridor:k{cable % max(1, corridors)}"]
    cables: list[str | None] = [s[0].removeprefix("cable:") if s else None for s in srlgs]
    # a few satellite hops between random node pairs
    n_sat = int(n_nodes * satellite_share)
    extra_a = rng.integers(0, n_nodes, n_sat)
    extra_b = rng.integers(0, n_nodes, n_sat)
    keep = extra_a != extra_b
    extra_a, extra_b = extra_a[keep], extra_b[keep]
    sat_gc = np.maximum(haversine_km(lat[extra_a], lon[extra_a], lat[extra_b], lon[extra_b]), 0.5)
    a = np.concatenate([a, extra_a])
    b = np.concatenate([b, extra_b])
    kind = np.concatenate([kind, np.full(len(extra_a), KINDS.index(LinkKind.SATELLITE), np.int8)])
    route = np.concatenate([route, np.zeros(len(extra_a), dtype=np.bool_)])
    length = np.concatenate([length, sat_gc])
    srlgs += [["satellite:leo"] for _ in range(len(extra_a))]
    cables += [None] * len(extra_a)
    n_links = len(a)
    capacity = rng.choice([100.0, 400.0, 1600.0, 6400.0], size=n_links)
    price = rng.choice([1000.0, 5000.0, 10000.0, 20000.0, 40000.0], size=n_links)
    price[kind == KINDS.index(LinkKind.SATELLITE)] = 500000.0
    link_countries = [
        (node_country[int(x)], node_country[int(y)]) for x, y in zip(a, b, strict=True)
    ]
    return TopologyArrays(
        version=f"synthetic-{n_nodes}-{seed}",
        node_ids=[f"n{i}" for i in range(n_nodes)],
        node_lat=lat.astype(np.float64),
        node_lon=lon.astype(np.float64),
        node_country=node_country,
        site_count=min(n_nodes, sites if sites is not None else max(2, n_nodes // 100)),
        link_ids=[f"l{i}" for i in range(n_links)],
        link_a=a.astype(np.int64),
        link_b=b.astype(np.int64),
        link_kind=kind,
        link_length_km=length.astype(np.float64),
        link_route_basis=route,
        link_capacity_gbps=capacity.astype(np.float64),
        link_price_per_gb=price.astype(np.float64),
        link_countries=link_countries,
        link_srlgs=srlgs,
        link_cables=cables,
    )
