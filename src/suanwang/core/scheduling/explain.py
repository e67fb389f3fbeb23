"""Why a task goes where it goes: the chosen site, the runner-up, and why every other site lost.

:func:`explain` judges one task against every pool of the snapshot (a dense evaluation) and
reports per site: feasible or not, the reason if not (the filter that rejected its most
promising pool), and the per-plugin scores if so. :func:`why_not` answers in one line.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.scheduling.framework import Profile
from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.scheduler import framework_for
from suanwang.core.scheduling.snapshot import CLASSES, Snapshot
from suanwang.core.tasks import TaskSpec


class SiteVerdict(Frozen):
    """One site's verdict for one task. ``score`` is 0..100 (100 best) when feasible."""

    site: str
    feasible: bool
    pool: str | None = None
    reason: str = ""
    score: float | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    rank: int | None = Field(default=None, description="1 = best among feasible sites")


class Explanation(Frozen):
    """Every site's verdict for one task, best first, then the rejected ones by site id."""

    task: str
    mode: str
    chosen: str | None
    runner_up: str | None
    feasible_sites: int
    sites: tuple[SiteVerdict, ...]
    rejected_by: dict[str, int] = Field(description="rejected sites per filter")

    def verdict(self, site: str) -> SiteVerdict | None:
        return next((v for v in self.sites if v.site == site), None)


def explain(task: TaskSpec, snap: Snapshot, profile: Profile | None = None) -> Explanation:
    """Judge ``task`` alone against ``snap`` (free capacity as the snapshot has it)."""
    profile = profile or Profile.for_mode("balanced")
    fw = framework_for(profile)
    groups = TaskGroups.of([task], snap)
    ev = fw.evaluate(groups, snap)
    total_w = sum(w for _, w in fw.scores) or 1.0
    verdicts: list[SiteVerdict] = []
    rejected: dict[str, int] = {}
    for s, sid in enumerate(snap.site_ids):
        pools = snap.pools_of(s)
        cost = ev.cost[0, pools]
        if np.isfinite(cost).any():
            p = int(pools[int(np.argmin(cost))])
            verdicts.append(
                SiteVerdict(
                    site=sid,
                    feasible=True,
                    pool=snap.pool_model[p],
                    score=round(100.0 * (1.0 - float(ev.cost[0, p]) / total_w), 2),
                    scores=ev.scores_of(0, p),
                )
            )
        else:
            # The pool that got furthest through the filters explains the site; among equals,
            # a pool of the task's class (a CPU pool failing on class says little).
            same = snap.pool_class[pools] == CLASSES.index(task.demand.compute_class)
            p = int(pools[int(np.argmax(2 * ev.failed_by[0, pools].astype(np.int64) + same))])
            reason = ev.reason(0, p)
            rejected[reason.split(":", 1)[0]] = rejected.get(reason.split(":", 1)[0], 0) + 1
            verdicts.append(SiteVerdict(site=sid, feasible=False, reason=reason))
    ok = sorted((v for v in verdicts if v.feasible), key=lambda v: (-(v.score or 0.0), v.site))
    ranked = [v.model_copy(update={"rank": i + 1}) for i, v in enumerate(ok)]
    bad = [v for v in verdicts if not v.feasible]
    return Explanation(
        task=task.name,
        mode=profile.mode.value,
        chosen=ranked[0].site if ranked else None,
        runner_up=ranked[1].site if len(ranked) > 1 else None,
        feasible_sites=len(ranked),
        sites=(*ranked, *bad),
        rejected_by=dict(sorted(rejected.items())),
    )


def why_not(task: TaskSpec, site: str, snap: Snapshot, profile: Profile | None = None) -> str:
    """One line: why ``task`` does not (or does) go to ``site``.

    Raises:
        UnknownIdError: ``site`` is not in the snapshot.
    """
    snap.site_index(site)
    ex = explain(task, snap, profile)
    v = ex.verdict(site)
    assert v is not None
    if not v.feasible:
        return f"{site} cannot take {task.name}: {v.reason}"
    best = ex.sites[0]
    if v.rank == 1:
        runner = ex.verdict(ex.runner_up) if ex.runner_up else None
        tail = f"; runner-up {runner.site} at {runner.score:g}" if runner else ""
        return f"{site} is the best site for {task.name} (score {v.score:g}{tail})"
    behind = sorted(((best.scores[k] - v.scores.get(k, 0.0), k) for k in best.scores), reverse=True)
    worse = ", ".join(
        f"{k} {v.scores.get(k, 0.0):g} vs {best.scores[k]:g}" for d, k in behind if d > 0.05
    )
    return (
        f"{site} can take {task.name} but ranks {v.rank} of {ex.feasible_sites} "
        f"(score {v.score:g} vs {best.score:g} for {best.site}; behind on {worse or 'ties'})"
    )
