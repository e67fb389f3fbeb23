"""Sites providers registered through the API, their owners and their heartbeats (the store).

The world the platform runs on is the base world (built in, or a world file) with every
registered site laid over it (:func:`suanwang.world.onboard.apply_registrations`). The API and
the runtime each hold a :class:`SiteRegistry`; :meth:`SiteRegistry.world` rebuilds the world
only when a registration changed (compared by ``(site, revision)``), so it is cheap to call
per request or per tick.

Ownership: a provider that registers a new site owns it; a base-world site has no owner until
an admin assigns one. Only the owner (or an admin) may change a site or send its heartbeats;
the API enforces that with :meth:`SiteRegistry.owner`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from suanwang.control.store import Store
from suanwang.control.store.schema import SiteOwnerRow, SiteRegistryRow, SiteStatusRow
from suanwang.core.errors import SuanwangError
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import UnitTable
from suanwang.core.world import World
from suanwang.world.onboard import Registered, SiteRegistration, apply_registrations, join_site

Clock = Callable[[], datetime]


class RegistryConflictError(SuanwangError):
    """Two registrations of one new site raced; the second is refused (retry it)."""


@dataclass(frozen=True, slots=True)
class SiteStatus:
    """A site's latest heartbeat."""

    site: str
    seen_at: datetime
    online: tuple[int, ...] | None
    metrics: dict[str, Any]
    agent: str


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class SiteRegistry:
    """Registered sites over ``base`` in ``store`` (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        base: World,
        *,
        table: UnitTable = UNIT_TABLE,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.base = base
        self.table = table
        self.clock = clock
        self._lock = threading.Lock()
        self._fingerprint: tuple[tuple[str, int], ...] = ()
        self._world = base

    # --- the world ---------------------------------------------------------------------------
    def fingerprint(self) -> tuple[tuple[str, int], ...]:
        """``(site, revision)`` of every registration, in order: changes when any does."""
        with self.store.sessions() as s:
            rows = s.execute(
                select(SiteRegistryRow.site, SiteRegistryRow.revision).order_by(
                    SiteRegistryRow.registered_at, SiteRegistryRow.site
                )
            ).all()
        return tuple((str(site), int(rev)) for site, rev in rows)

    def registrations(self) -> list[Registered]:
        """Every registration, oldest first."""
        with self.store.sessions() as s:
            rows = (
                s.execute(
                    select(SiteRegistryRow).order_by(
                        SiteRegistryRow.registered_at, SiteRegistryRow.site
                    )
                )
                .scalars()
                .all()
            )
        return [Registered.model_validate(r.body) for r in rows]

    def world(self) -> World:
        """The base world with every registered site; the same object until one changes."""
        fp = self.fingerprint()
        with self._lock:
            if fp != self._fingerprint:
                self._world = apply_registrations(self.base, self.registrations(), self.table)
                self._fingerprint = fp
            return self._world

    # --- owners ------------------------------------------------------------------------------
    def owner(self, site: str) -> str | None:
        """The provider that owns ``site`` (None: nobody; only admins may change it)."""
        with self.store.sessions() as s:
            row = s.get(SiteOwnerRow, site)
            return row.provider if row is not None else None

    def owners(self) -> dict[str, str]:
        with self.store.sessions() as s:
            return {r.site: r.provider for r in s.execute(select(SiteOwnerRow)).scalars()}

    def set_owner(self, site: str, provider: str | None) -> None:
        """Make ``provider`` the owner of ``site`` (None: no owner)."""
        with self.store.transaction() as s:
            row = s.get(SiteOwnerRow, site)
            if provider is None:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(SiteOwnerRow(site=site, provider=provider))
            else:
                row.provider = provider

    # --- registrations -----------------------------------------------------------------------
    def register(
        self, site: str, reg: SiteRegistration, provider: str, *, own: bool
    ) -> tuple[Registered, bool]:
        """Register ``site`` (new) or replace its description (known); ``own``: make
        ``provider`` the owner of a new site. Returns the registration and whether the site is
        new. The whole world is checked before anything is written.

        Raises:
            suanwang.world.onboard.OnboardingError: the registration cannot join (field named).
            suanwang.core.world.WorldIntegrityError: the world with it would not be sound.
            RegistryConflictError: another registration of the same new site won a race.
        """
        current = self.world()
        done = join_site(current, site, reg, provider)
        known = any(s.id == site for s in current.sites)
        regs = self.registrations()
        others = [r for r in regs if r.site.id != site]
        before = next((r for r in regs if r.site.id == site), None)
        if before is not None:  # a registered site keeps the links it joined with
            done = Registered(site=done.site, links=before.links)
        apply_registrations(self.base, [*others, done], self.table)  # raises if unsound
        now = self.clock()
        try:
            with self.store.transaction() as s:
                row = s.get(SiteRegistryRow, site)
                body = done.model_dump(mode="json")
                if row is None:
                    s.add(
                        SiteRegistryRow(
                            site=site,
                            provider=provider,
                            body=body,
                            revision=1,
                            registered_at=now,
                            updated_at=now,
                        )
                    )
                else:
                    if not known:  # registered meanwhile by someone else
                        raise RegistryConflictError(f"{site!r} was registered meanwhile; retry")
                    row.body = body
                    row.provider = provider
                    row.revision += 1
                    row.updated_at = now
                if own and not known and s.get(SiteOwnerRow, site) is None:
                    s.add(SiteOwnerRow(site=site, provider=provider))
        except IntegrityError:
            raise RegistryConflictError(f"site {site!r} was registered meanwhile; retry") from None
        return done, not known

    # --- heartbeats --------------------------------------------------------------------------
    def heartbeat(
        self,
        site: str,
        online: tuple[int, ...] | None,
        metrics: dict[str, Any],
        agent: str,
    ) -> bool:
        """Record a heartbeat; returns whether the devices online changed (a capacity change,
        which the API audits; a plain heartbeat is telemetry)."""
        now = self.clock()
        with self.store.transaction() as s:
            row = s.get(SiteStatusRow, site)
            value = list(online) if online is not None else None
            if row is None:
                s.add(
                    SiteStatusRow(
                        site=site, seen_at=now, online=value, metrics=metrics, agent=agent
                    )
                )
                return True
            changed = row.online != value
            row.seen_at, row.online, row.metrics, row.agent = now, value, metrics, agent
            return changed

    def statuses(self) -> dict[str, SiteStatus]:
        """Every site's latest heartbeat."""
        with self.store.sessions() as s:
            rows = s.execute(select(SiteStatusRow)).scalars().all()
        return {
            r.site: SiteStatus(
                site=r.site,
                seen_at=_utc(r.seen_at),
                online=tuple(r.online) if r.online is not None else None,
                metrics=dict(r.metrics),
                agent=r.agent,
            )
            for r in rows
        }
