"""Sites and providers (``/v1/sites``): reading the grid's sites, and providers joining it
(算力并网): register a site, change its pools and prices, send heartbeats with live capacity.

Scope: a provider changes only the sites it owns (registering a new site makes it the owner;
a built-in site has no owner until an admin assigns one); anyone else's site answers 403. An
admin may change any site and assign owners. Registrations, price and pool changes, owner
changes and refusals are audited; a heartbeat is audited when it changes the devices online
(a capacity change), not on every beat (that is telemetry, kept as the site's latest status).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from suanwang.api.errors import ApiError
from suanwang.api.tokens import Principal
from suanwang.control.service import ControlService
from suanwang.control.site_registry import RegistryConflictError, SiteRegistry, SiteStatus
from suanwang.core.access import Role
from suanwang.core.sites import Pool, Site
from suanwang.core.world import WorldIntegrityError
from suanwang.world.onboard import OnboardingError, SiteRegistration

Needs = Callable[[str], Callable[..., Principal]]
Record = Callable[..., None]
SiteId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9-]*$")]

HEARTBEAT_EVERY_S = 10.0
"""How often an agent should send a heartbeat (the answer to each heartbeat says so too)."""


class Heartbeat(BaseModel):
    """A provider agent's report: devices online per pool (in the site's pool order; omit to
    leave capacity as registered) and live metrics (utilisation, power, temperatures...)."""

    online: list[Annotated[int, Field(ge=0)]] | None = Field(default=None, max_length=64)
    metrics: dict[Annotated[str, Field(max_length=60)], float] = Field(
        default_factory=dict, max_length=32
    )
    agent: str = Field(default="", max_length=200, description="agent name and version")


class HeartbeatOut(BaseModel):
    accepted: bool = True
    every_s: float = Field(description="send the next heartbeat within this many seconds")


class PoolChange(BaseModel):
    index: int = Field(ge=0, lt=64, description="the pool's position at the site")
    price_per_unit_hour_micros: int | None = Field(default=None, ge=0)
    count: int | None = Field(default=None, gt=0)


class PoolsIn(BaseModel):
    pools: list[PoolChange] = Field(min_length=1, max_length=64)
    add: list[Pool] = Field(default_factory=list, max_length=64, description="new pools")


class OwnerIn(BaseModel):
    provider: str | None = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")


class Registration(BaseModel):
    site: dict[str, Any]
    created: bool
    links: list[str] = Field(description="access links the site brought (new sites)")


def sites_router(
    needs: Needs,
    registry: SiteRegistry,
    service: ControlService,
    record: Record,
    clock: Callable[[], datetime],
) -> APIRouter:
    """The routes over ``registry`` (see the module docstring)."""
    r = APIRouter(prefix="/v1", tags=["sites"])

    def context() -> tuple[dict[str, str], set[str], dict[str, SiteStatus]]:
        return registry.owners(), set(service.sites_down()), registry.statuses()

    def view(
        site: Site, ctx: tuple[dict[str, str], set[str], dict[str, SiteStatus]]
    ) -> dict[str, Any]:
        owners, down, statuses = ctx
        out = site.model_dump(mode="json")
        beat = statuses.get(site.id)
        out["owner"] = owners.get(site.id)
        out["down"] = site.id in down
        out["heartbeat"] = (
            None
            if beat is None
            else {
                "seen_at": beat.seen_at.isoformat(),
                "age_s": round((clock() - beat.seen_at).total_seconds(), 1),
                "online": list(beat.online) if beat.online is not None else None,
                "metrics": beat.metrics,
                "agent": beat.agent,
            }
        )
        return out

    def find(site: str) -> Site:
        return registry.world().site(site)  # UnknownIdError -> 404

    def may_change(request: Request, who: Principal, site: str, action: str) -> None:
        """A provider changes only its own sites (admins any)."""
        if who.role is Role.ADMIN:
            return
        owner = registry.owner(site)
        if owner != who.principal:
            record(request, who, action, site, "forbidden")
            whose = "has no owner (an admin assigns one)" if owner is None else "is not yours"
            raise ApiError(403, "forbidden", f"site {site!r} {whose}")

    def refuse(request: Request, who: Principal, action: str, site: str, exc: Exception) -> None:
        record(request, who, action, site, "rejected", {"error": str(exc)[:200]})
        if isinstance(exc, OnboardingError):
            raise ApiError(422, "invalid", str(exc), field=exc.field) from None
        if isinstance(exc, RegistryConflictError):
            raise ApiError(409, "conflict", str(exc)) from None
        raise ApiError(422, "invalid", str(exc)) from None

    @r.get("/sites")
    def sites(who: Annotated[Principal, Depends(needs("world.read"))]) -> list[dict[str, Any]]:
        """Every site with its pools, owner, state and latest heartbeat."""
        ctx = context()
        return [view(s, ctx) for s in registry.world().sites]

    @r.get("/sites/{site}")
    def site(
        site: SiteId, who: Annotated[Principal, Depends(needs("world.read"))]
    ) -> dict[str, Any]:
        """One site: its pools, owner, state and latest heartbeat."""
        return view(find(site), context())

    @r.put("/sites/{site}", status_code=200, responses={201: {"model": Registration}})
    def register(
        request: Request,
        response: Response,
        site: SiteId,
        body: SiteRegistration,
        who: Annotated[Principal, Depends(needs("sites.register"))],
    ) -> Registration:
        """Register a new site (201; the provider becomes its owner) or replace the
        description of one of its own (200). A new site is linked to the nodes in
        `connect_to`, or to its nearest site. Pools may be added and repriced, never removed
        or reordered."""
        known = any(s.id == site for s in registry.world().sites)
        if known:
            may_change(request, who, site, "sites.register")
        try:
            done, created = registry.register(
                site, body, who.principal, own=who.role is Role.PROVIDER
            )
        except (OnboardingError, WorldIntegrityError, RegistryConflictError) as exc:
            refuse(request, who, "sites.register", site, exc)
            raise  # unreachable: refuse raises
        record(
            request,
            who,
            "sites.register",
            site,
            "created" if created else "updated",
            {"pools": len(done.site.pools), "links": [link.id for link in done.links]},
        )
        response.status_code = 201 if created else 200
        return Registration(
            site=view(done.site, context()),
            created=created,
            links=[link.id for link in done.links],
        )

    @r.patch("/sites/{site}/pools")
    def change_pools(
        request: Request,
        site: SiteId,
        body: PoolsIn,
        who: Annotated[Principal, Depends(needs("sites.register"))],
    ) -> dict[str, Any]:
        """Change pools' prices or device counts, or add pools (owner or admin)."""
        current = find(site)
        may_change(request, who, site, "sites.pools")
        pools = list(current.pools)
        for i, change in enumerate(body.pools):
            if change.index >= len(pools):
                raise ApiError(
                    422,
                    "invalid",
                    f"site {site!r} has {len(pools)} pools; there is no pool {change.index}",
                    field=f"pools.{i}.index",
                )
            update = change.model_dump(exclude_none=True, exclude={"index"})
            pools[change.index] = pools[change.index].model_copy(update=update)
        pools.extend(body.add)
        reg = SiteRegistration(
            **current.model_dump(
                include={
                    "name",
                    "city",
                    "country",
                    "lat",
                    "lon",
                    "kind",
                    "pue",
                    "pue_per_degree_c",
                    "green_share",
                    "grid_zone",
                    "jurisdiction",
                    "operator",
                    "note",
                }
            ),
            pools=tuple(pools),
        )
        try:
            done, _ = registry.register(site, reg, who.principal, own=False)
        except (OnboardingError, WorldIntegrityError, RegistryConflictError, ValueError) as exc:
            refuse(request, who, "sites.pools", site, exc)
            raise
        record(
            request,
            who,
            "sites.pools",
            site,
            "accepted",
            {"changed": [c.index for c in body.pools], "added": len(body.add)},
        )
        return view(done.site, context())

    @r.post("/sites/{site}/heartbeat", status_code=202)
    def heartbeat(
        request: Request,
        site: SiteId,
        body: Heartbeat,
        who: Annotated[Principal, Depends(needs("sites.heartbeat"))],
    ) -> HeartbeatOut:
        """A provider agent's heartbeat: devices online per pool and live metrics. New work
        goes only to online devices; an agent silent past the grace period gets no new work
        (running work stays)."""
        current = find(site)
        may_change(request, who, site, "sites.heartbeat")
        online = None
        if body.online is not None:
            if len(body.online) != len(current.pools):
                raise ApiError(
                    422,
                    "invalid",
                    f"site {site!r} has {len(current.pools)} pools; "
                    f"{len(body.online)} counts given",
                    field="online",
                )
            for i, (n, pool) in enumerate(zip(body.online, current.pools, strict=True)):
                if n > pool.count:
                    raise ApiError(
                        422,
                        "invalid",
                        f"pool {i} has {pool.count} devices; {n} cannot be online",
                        field=f"online.{i}",
                    )
            online = tuple(body.online)
        agent = body.agent or request.headers.get("user-agent", "")[:200]
        if registry.heartbeat(site, online, dict(body.metrics), agent):
            record(
                request,
                who,
                "sites.heartbeat",
                site,
                "capacity",
                {"online": list(online) if online is not None else None},
            )
        return HeartbeatOut(every_s=HEARTBEAT_EVERY_S)

    @r.put("/sites/{site}/owner")
    def set_owner(
        request: Request,
        site: SiteId,
        body: OwnerIn,
        who: Annotated[Principal, Depends(needs("sites.own"))],
    ) -> dict[str, Any]:
        """Assign the provider that owns a site (admins; `null` removes the owner)."""
        find(site)
        registry.set_owner(site, body.provider)
        record(request, who, "sites.own", site, "accepted", {"provider": body.provider})
        return view(find(site), context())

    return r
