"""Fit the latency model to measured round trips, with leave-one-region-out validation.

Inputs are measured round-trip times between named points (cloud regions) and the compiled
world. Each point reaches the network through a terrestrial access leg to its nearest nodes;
a prediction is twice (endpoint delay + the fastest access-path-access chain). The model's
constants (terrestrial route factor, submarine route factor, per-hop delay, endpoint delay)
are chosen on a grid to minimise the mean absolute percentage error (MAPE).

Validation is leave-one-region-out: for each region, the constants are refitted without any
pair involving it, then used to predict exactly those pairs. The baseline is the usual
great-circle fit ``rtt = a + b * km``, fitted and validated the same way. Every prediction of
the network model respects the physics floor (rtt >= 2 x great-circle km / 204 km per ms) by
construction; the report counts floor violations for both models anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field
from scipy.sparse.csgraph import dijkstra

from suanwang.core.base import Frozen
from suanwang.core.network.graph import F64, KINDS, CompiledGraph, haversine_km
from suanwang.core.network.latency import FIBRE_KM_PER_MS, LatencyModel, physics_floor_rtt_ms
from suanwang.core.network.model import LinkKind


@dataclass(frozen=True)
class Observations:
    """Measured round trips between points: symmetric, one value per unordered pair."""

    names: tuple[str, ...]
    lat: F64
    lon: F64
    pair_i: np.ndarray
    pair_j: np.ndarray
    rtt_ms: F64

    @classmethod
    def from_directed(
        cls,
        points: dict[str, tuple[float, float]],
        measured: Sequence[tuple[str, str, float]],
    ) -> Observations:
        """Average both directions of each pair; pairs measured one way only are kept."""
        names = tuple(sorted(points))
        index = {n: i for i, n in enumerate(names)}
        sums: dict[tuple[int, int], list[float]] = {}
        for a, b, ms in measured:
            if a == b or a not in index or b not in index:
                continue
            key = (min(index[a], index[b]), max(index[a], index[b]))
            sums.setdefault(key, []).append(float(ms))
        keys = sorted(sums)
        return cls(
            names=names,
            lat=np.array([points[n][0] for n in names], dtype=np.float64),
            lon=np.array([points[n][1] for n in names], dtype=np.float64),
            pair_i=np.array([k[0] for k in keys], dtype=np.int64),
            pair_j=np.array([k[1] for k in keys], dtype=np.int64),
            rtt_ms=np.array([float(np.mean(sums[k])) for k in keys], dtype=np.float64),
        )

    @property
    def great_circle_km(self) -> F64:
        return haversine_km(
            self.lat[self.pair_i],
            self.lon[self.pair_i],
            self.lat[self.pair_j],
            self.lon[self.pair_j],
        )


class Grid(Frozen):
    """The parameter grid searched by :func:`calibrate`."""

    terrestrial_route_factor: tuple[float, ...] = tuple(np.round(np.arange(1.0, 2.51, 0.05), 3))
    submarine_route_factor: tuple[float, ...] = (1.0, 1.05, 1.1, 1.15, 1.2, 1.3)
    per_hop_ms: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
    endpoint_ms: tuple[float, ...] = tuple(np.round(np.arange(0.0, 10.01, 0.1), 3))
    baseline_a_ms: tuple[float, ...] = tuple(np.round(np.arange(0.0, 30.01, 0.25), 3))
    baseline_b_ms_per_km: tuple[float, ...] = tuple(np.round(np.arange(0.008, 0.03, 0.0001), 5))
    attach: int = Field(default=3, ge=1, le=8)


class Scores(Frozen):
    """Error of a set of round-trip predictions."""

    mape_pct: float
    median_abs_error_ms: float
    within_10ms_pct: float
    below_floor: int = Field(description="predictions under the physics floor")
    pairs: int


class ModelReport(Frozen):
    """Fitted constants on all data, in-sample and leave-one-region-out scores."""

    constants: dict[str, float]
    in_sample: Scores
    leave_one_region_out: Scores


class CalibrationReport(Frozen):
    """Both models' fits; ``worst`` lists the network model's largest held-out errors."""

    regions: int
    pairs: int
    network_model: ModelReport
    great_circle_baseline: ModelReport
    worst: tuple[dict[str, float | str], ...] = Field(
        description="the network model's largest held-out errors"
    )

    def latency_model(self, base: LatencyModel | None = None) -> LatencyModel:
        """``base`` (default constants) with the fitted constants applied."""
        c = self.network_model.constants
        return (base or LatencyModel()).model_copy(
            update={
                "terrestrial_route_factor": c["terrestrial_route_factor"],
                "metro_route_factor": c["terrestrial_route_factor"],
                "submarine_route_factor": c["submarine_route_factor"],
                "per_hop_ms": c["per_hop_ms"],
                "endpoint_ms": c["endpoint_ms"],
            }
        )


def _scores(pred: F64, obs: F64, floor: F64) -> Scores:
    err = pred - obs
    return Scores(
        mape_pct=round(float(np.mean(np.abs(err) / obs) * 100), 3),
        median_abs_error_ms=round(float(np.median(np.abs(err))), 3),
        within_10ms_pct=round(float(np.mean(np.abs(err) <= 10.0) * 100), 2),
        below_floor=int(np.sum(pred < floor - 1e-9)),
        pairs=len(obs),
    )


def _network_paths(
    graph: CompiledGraph, obs: Observations, grid: Grid
) -> tuple[F64, list[tuple[float, float, float]]]:
    """One-way path latency (without endpoint delay) per pair for every (rf, sf, hop)."""
    g = graph
    terr = np.isin(g.link_kind, [KINDS.index(LinkKind.TERRESTRIAL), KINDS.index(LinkKind.METRO)])
    sub = g.link_kind == KINDS.index(LinkKind.SUBMARINE)
    sat = g.link_kind == KINDS.index(LinkKind.SATELLITE)
    base = LatencyModel(per_hop_ms=0.0)
    sat_ms = np.where(
        sat, np.array([base.satellite.one_way_ms(km) for km in g.link_length_km]), 0.0
    )
    # terrestrial links store great-circle km; submarine links store route km
    terr_km = np.where(terr, g.link_length_km, 0.0)
    sub_km = np.where(sub, g.link_length_km, 0.0)
    # access: each point to its nearest nodes
    d = haversine_km(obs.lat[:, None], obs.lon[:, None], g.node_lat[None, :], g.node_lon[None, :])
    near = np.argsort(d, axis=1)[:, : grid.attach]
    near_km = np.take_along_axis(d, near, axis=1)
    sources = np.unique(near)
    src_pos = {int(s): k for k, s in enumerate(sources)}
    rows = {
        (ai, side): np.array(
            [src_pos[int(x)] for x in near[obs.pair_i if side == 0 else obs.pair_j, ai]]
        )
        for ai in range(grid.attach)
        for side in (0, 1)
    }
    combos: list[tuple[float, float, float]] = []
    out = []
    for rf in grid.terrestrial_route_factor:
        for sf in grid.submarine_route_factor:
            for hop in grid.per_hop_ms:
                link_ms = (rf * terr_km + sf * sub_km) / FIBRE_KM_PER_MS + sat_ms + hop
                dist = dijkstra(g.matrix(link_ms[g.arc_link]), indices=sources)
                access = near_km * rf / FIBRE_KM_PER_MS + hop  # (points, attach)
                best = np.full(len(obs.rtt_ms), np.inf)
                for ai in range(grid.attach):
                    for bj in range(grid.attach):
                        nb = near[obs.pair_j, bj]
                        via = dist[rows[(ai, 0)], nb]
                        cand = access[obs.pair_i, ai] + via + access[obs.pair_j, bj]
                        best = np.minimum(best, cand)
                out.append(best)
                combos.append((float(rf), float(sf), float(hop)))
    return np.array(out), combos


def _fit_loo(
    candidates: Callable[[np.ndarray], F64], n_candidates: int, obs: Observations
) -> tuple[int, F64]:
    """Pick the candidate with least MAPE overall, and per held-out region.

    ``candidates(rows)`` returns predicted round trips, shape (len(rows), n_pairs). Returns
    the overall best row and the held-out predictions: for each pair, the prediction of the
    fold that left out its first region and of the fold that left out its second (so every
    pair is predicted twice, each time by constants fitted without it).
    """
    n_pairs, n_regions = len(obs.rtt_ms), len(obs.names)
    inc = np.zeros((n_pairs, n_regions))
    inc[np.arange(n_pairs), obs.pair_i] = 1.0
    inc[np.arange(n_pairs), obs.pair_j] = 1.0
    total = np.empty(n_candidates)
    by_region = np.empty((n_candidates, n_regions))
    for start in range(0, n_candidates, 2048):
        rows = np.arange(start, min(start + 2048, n_candidates))
        ape = np.abs(candidates(rows) - obs.rtt_ms) / obs.rtt_ms
        total[rows] = ape.sum(axis=1)
        by_region[rows] = ape @ inc
    train = (total[:, None] - by_region) / (n_pairs - inc.sum(axis=0))[None, :]
    chosen = np.argmin(train, axis=0)  # the best candidate without each region
    fold_pred = candidates(chosen)  # (regions, pairs)
    held = np.concatenate(
        [fold_pred[obs.pair_i, np.arange(n_pairs)], fold_pred[obs.pair_j, np.arange(n_pairs)]]
    )
    return int(np.argmin(total)), held


def calibrate(
    graph: CompiledGraph, obs: Observations, grid: Grid | None = None
) -> CalibrationReport:
    """Fit the network latency model and the great-circle baseline; validate both LOO."""
    grid = grid or Grid()
    gc = obs.great_circle_km
    floor = physics_floor_rtt_ms(1.0) * gc
    # network model: candidates over (rf, sf, hop) x endpoint
    paths, combos = _network_paths(graph, obs, grid)
    ends = np.array(grid.endpoint_ms)

    def network_rows(rows: np.ndarray) -> F64:
        out: F64 = 2.0 * (paths[rows // len(ends)] + ends[rows % len(ends), None])
        return out

    best, held = _fit_loo(network_rows, len(combos) * len(ends), obs)
    twice = np.concatenate([obs.rtt_ms, obs.rtt_ms])
    floor2 = np.concatenate([floor, floor])
    rf, sf, hop = combos[best // len(ends)]
    network = ModelReport(
        constants={
            "terrestrial_route_factor": rf,
            "submarine_route_factor": sf,
            "per_hop_ms": hop,
            "endpoint_ms": float(ends[best % len(ends)]),
        },
        in_sample=_scores(network_rows(np.array([best]))[0], obs.rtt_ms, floor),
        leave_one_region_out=_scores(held, twice, floor2),
    )
    # baseline: rtt = a + b * km
    a = np.array(grid.baseline_a_ms)
    b = np.array(grid.baseline_b_ms_per_km)

    def baseline_rows(rows: np.ndarray) -> F64:
        out: F64 = a[rows // len(b), None] + b[rows % len(b), None] * gc[None, :]
        return out

    bbest, bheld = _fit_loo(baseline_rows, len(a) * len(b), obs)
    baseline = ModelReport(
        constants={
            "a_ms": float(a[bbest // len(b)]),
            "b_ms_per_km": float(b[bbest % len(b)]),
        },
        in_sample=_scores(baseline_rows(np.array([bbest]))[0], obs.rtt_ms, floor),
        leave_one_region_out=_scores(bheld, twice, floor2),
    )
    n = len(obs.rtt_ms)
    err = np.abs(held - twice) / twice
    worst = tuple(
        {
            "a": obs.names[int(obs.pair_i[k % n])],
            "b": obs.names[int(obs.pair_j[k % n])],
            "held_out": obs.names[int(obs.pair_i[k % n] if k < n else obs.pair_j[k % n])],
            "measured_rtt_ms": round(float(twice[k]), 2),
            "predicted_rtt_ms": round(float(held[k]), 2),
            "error_pct": round(float(err[k] * 100), 1),
        }
        for k in np.argsort(-err)[:10]
    )
    return CalibrationReport(
        regions=len(obs.names),
        pairs=len(obs.rtt_ms),
        network_model=network,
        great_circle_baseline=baseline,
        worst=worst,
    )
