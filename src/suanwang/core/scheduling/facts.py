"""The physical facts of placing each task shape in each pool: latency, transfer, cost, carbon.

Computed once per decision (the framework's first PreFilter step) as ``rows x pools`` arrays;
filter and score plugins only *judge* these numbers. Nothing here loops over tasks x pools in
Python: every quantity is a numpy expression, and routes are one Dijkstra per distinct source
and path rule.

Temporal shifting: a deferrable task may start at any whole hour ``h`` of the horizon with
``h + transfer + duration <= deadline``; it starts in the hour that minimises
``w_carbon x intensity + w_price x electricity price`` (each over the run's window, relative to
the site's horizon mean) on the snapshot's signals, which are forecasts when the snapshot was
built with a forecaster. Other tasks start at hour 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.routes import attach_points
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.scheduling.sovereignty import allowed_site_mask

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

FLOW_CAP_GBPS = 10.0
"""The most bandwidth one task's input transfer may use (one flow)."""

NETWORK_KWH_PER_GB = 0.001
"""Energy per GB moved (CCF's coefficient; as :class:`PowerModel`)."""


@dataclass(frozen=True, eq=False)
class Facts:
    """``rows x pools`` facts for a slice ``rows`` of a batch's groups.

    ``origin_ms``: one-way latency origin -> site on a path within the task's rules (``inf``:
    none). ``input_ok``: the input data can reach the site within the rules. ``transfer_h``:
    input size / min(bottleneck, one flow's cap). ``start_h``: chosen start, whole hours after
    the snapshot's start. ``cost_micros`` = compute (units x hours x posted price) + egress
    (GB x price per GB on the path). ``carbon_g`` = facility kWh x mean intensity over the
    run + network kWh x intensity at the start. ``util_after``: the pool's utilisation if the
    task were placed there alone.
    """

    rows: I64
    site: I64
    allowed: B
    class_ok: B
    model_ok: B
    memory_ok: B
    capacity_ok: B
    origin_ms: F64
    input_ok: B
    link_free_gbps: F64
    transfer_h: F64
    start_h: I64
    compute_micros: F64
    egress_micros: F64
    cost_micros: F64
    energy_kwh: F64
    carbon_g: F64
    util_after: F64


def compute(
    groups: TaskGroups,
    rows: I64,
    snap: Snapshot,
    free: F64,
    shift_carbon: float = 1.0,
    shift_price: float = 0.5,
) -> Facts:
    """Facts for ``groups`` rows ``rows`` against every pool, with free capacity ``free``."""
    r = len(rows)
    site = snap.pool_site
    n_sites = len(snap.site_ids)
    units = groups.units[rows][:, None]
    dur = groups.duration_h[rows][:, None]
    class_ok = groups.cls[rows][:, None] == snap.pool_class[None, :]
    want = np.array([groups.model[int(g)] or "" for g in rows])
    pool_models = np.array(snap.pool_model)
    model_ok = (want[:, None] == "") | (want[:, None] == pool_models[None, :])
    devices = units / snap.pool_rating[None, :]
    known = snap.pool_mem_per_device[None, :] > 0  # 0: no memory figure, so not checked
    memory_ok = ~known | (
        groups.memory_gb[rows][:, None] <= devices * snap.pool_mem_per_device[None, :] + 1e-9
    )
    capacity_ok = units <= free[None, :] + 1e-9
    allowed_site = np.zeros((r, n_sites), dtype=np.bool_)
    origin_site = np.full((r, n_sites), np.inf)
    input_site_ok = np.ones((r, n_sites), dtype=np.bool_)
    free_site = np.full((r, n_sites), np.inf)
    egress_site = np.zeros((r, n_sites))
    rule_of = groups.rule[rows]
    for rule_id in np.unique(rule_of):
        sel = np.flatnonzero(rule_of == rule_id)
        rules = groups.rules[int(rule_id)]
        if rules is None:
            continue  # nothing allowed: allowed_site stays False
        g_sel = rows[sel]
        sov = groups.sovereignty[int(g_sel[0])]
        allowed_site[sel] = allowed_site_mask(sov, snap.site_country, list(snap.site_tags))[None, :]
        points, back = np.unique(
            np.stack([groups.origin_lat[g_sel], groups.origin_lon[g_sel]], axis=1),
            axis=0,
            return_inverse=True,
        )
        u_nodes, u_access = attach_points(snap.network, points[:, 0], points[:, 1])
        nodes, access = u_nodes[back.ravel()], u_access[back.ravel()]
        inputs = groups.input_site[g_sel]
        sources = tuple(
            sorted({int(n) for n in nodes.ravel()} | {int(i) for i in inputs if i >= 0})
        )
        table = snap.routes(rules, sources)
        row_of = np.array([table.row(int(n)) for n in nodes.ravel()]).reshape(nodes.shape)
        lat = table.one_way_ms[row_of] + access[:, :, None]  # (sel, attach, sites)
        origin_site[sel] = lat.min(axis=1)
        has_input = inputs >= 0
        if has_input.any():
            k = np.flatnonzero(has_input)
            irow = np.array([table.row(int(i)) for i in inputs[k]])
            ok = np.isfinite(table.one_way_ms[irow])
            input_site_ok[sel[k]] = ok
            free_site[sel[k]] = np.where(ok, table.free_gbps[irow], 0.0)
            egress_site[sel[k]] = np.where(ok, table.price_per_gb_micros[irow], 0.0)
    gb = groups.input_gb[rows][:, None]
    link_free = free_site[:, site]
    rate = np.minimum(np.nan_to_num(link_free, nan=0.0), FLOW_CAP_GBPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        transfer_h = np.where(gb > 0, gb * 8.0 / np.maximum(rate, 1e-12) / 3600.0, 0.0)
    transfer_h = np.where(np.isfinite(link_free), transfer_h, 0.0)
    egress = gb * egress_site[:, site]
    compute_micros = units * dur * snap.pool_price[None, :]
    start_h = _start_hours(groups, rows, snap, transfer_h, shift_carbon, shift_price)
    facility_kwh = (
        units * snap.pool_watts_per_unit[None, :] * dur / 1000.0 * snap.site_pue[site][None, :]
    )
    moved = groups.input_site[rows][:, None] != site[None, :]
    net_kwh = np.where(moved, gb * NETWORK_KWH_PER_GB, 0.0)
    ci_run = _window_mean(snap.intensity, site, start_h, dur)
    ci_start = snap.intensity[site[None, :], np.minimum(start_h, snap.horizon_hours - 1)]
    cap = np.maximum(snap.pool_capacity, 1e-12)[None, :]
    return Facts(
        rows=rows,
        site=site,
        allowed=allowed_site[:, site],
        class_ok=class_ok,
        model_ok=model_ok,
        memory_ok=memory_ok,
        capacity_ok=capacity_ok,
        origin_ms=origin_site[:, site],
        input_ok=input_site_ok[:, site],
        link_free_gbps=link_free,
        transfer_h=transfer_h,
        start_h=start_h,
        compute_micros=compute_micros,
        egress_micros=egress,
        cost_micros=compute_micros + egress,
        energy_kwh=facility_kwh + net_kwh,
        carbon_g=facility_kwh * ci_run + net_kwh * ci_start,
        util_after=1.0 - (free[None, :] - units) / cap,
    )


def _window_mean(series: F64, site: I64, start: I64, dur: F64) -> F64:
    """Mean of ``series[site]`` over ``[start, start + ceil(dur))`` clipped to the horizon."""
    h = series.shape[1]
    cs = np.concatenate([np.zeros((series.shape[0], 1)), np.cumsum(series, axis=1)], axis=1)
    lo = np.minimum(start, h - 1)
    hi = np.clip(lo + np.ceil(dur).astype(np.int64), lo + 1, h)
    out: F64 = (cs[site[None, :], hi] - cs[site[None, :], lo]) / (hi - lo)
    return out


def _start_hours(
    groups: TaskGroups,
    rows: I64,
    snap: Snapshot,
    transfer_h: F64,
    w_carbon: float,
    w_price: float,
) -> I64:
    """Chosen start hour per (row, pool): 0, or the best hour before the deadline if deferrable."""
    start = np.zeros(transfer_h.shape, dtype=np.int64)
    defer = np.flatnonzero(groups.deferrable[rows] & np.isfinite(groups.deadline_h[rows]))
    if len(defer) == 0 or snap.horizon_hours == 1 or (w_carbon <= 0 and w_price <= 0):
        return start
    h = snap.horizon_hours
    ci = snap.intensity / np.maximum(snap.intensity.mean(axis=1, keepdims=True), 1e-9)
    el = snap.elec_price / np.maximum(np.abs(snap.elec_price).mean(axis=1, keepdims=True), 1e-9)
    signal = w_carbon * ci + w_price * el  # (sites, hours)
    cs = np.concatenate([np.zeros((signal.shape[0], 1)), np.cumsum(signal, axis=1)], axis=1)
    site = snap.pool_site
    for d in np.unique(np.ceil(groups.duration_h[rows[defer]]).astype(np.int64)):
        sel = defer[np.ceil(groups.duration_h[rows[defer]]).astype(np.int64) == d]
        span = max(int(d), 1)
        if span >= h:
            continue  # the run outlasts the horizon: no start can be judged on its signals
        lo = np.arange(h - span + 1)  # only starts whose whole run lies inside the horizon
        mean = (cs[:, lo + span] - cs[:, lo]) / span  # (sites, starts)
        best_so_far = np.minimum.accumulate(mean, axis=1)
        before = np.concatenate([np.full((mean.shape[0], 1), np.inf), best_so_far[:, :-1]], axis=1)
        # a prefix argmin per site: the last hour that set a strictly lower minimum, so a flat
        # signal never defers a task for nothing
        idx = np.where(mean < before - 1e-9, lo[None, :], 0)
        prefix_arg = np.maximum.accumulate(idx, axis=1)
        latest = np.floor(
            groups.deadline_h[rows[sel]][:, None]
            - transfer_h[sel]
            - groups.duration_h[rows[sel]][:, None]
        )
        latest = np.clip(latest, 0, h - span).astype(np.int64)
        start[sel] = prefix_arg[site[None, :], latest]
    return start
