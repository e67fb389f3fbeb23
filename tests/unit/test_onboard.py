"""Providers joining the grid, as pure functions: a registration becomes a site with access
links; a change may add and reprice pools but never remove or reorder them; the world with
the registrations laid over it is sound, and the base world is never changed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.core.geo import great_circle_km
from suanwang.core.sites import Pool
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import WorldIntegrityError
from suanwang.world.builtin import load_builtin_world
from suanwang.world.onboard import (
    OnboardingError,
    Registered,
    SiteRegistration,
    apply_registrations,
    join_site,
    pool_change_problems,
)

WORLD = load_builtin_world()
CPU = Pool(
    compute_class="general", model="amd-epyc-9654", count=64, price_per_unit_hour_micros=10_000
)


def registration(**change: Any) -> SiteRegistration:
    base: dict[str, Any] = {
        "name": "Acme DC1",
        "city": "Nairobi",
        "country": "KE",
        "lat": -1.29,
        "lon": 36.82,
        "pools": [CPU.model_dump()],
        "pue": 1.3,
        "grid_zone": "KE",
    }
    return SiteRegistration.model_validate({**base, **change})


def test_a_new_site_links_to_the_nearest_site_of_its_country_and_its_metro_neighbours() -> None:
    done = join_site(WORLD, "ke-acme", registration(), "acme")
    kenyan = [s for s in WORLD.sites if s.country == "KE"]
    nearest = min(kenyan, key=lambda s: great_circle_km(-1.29, 36.82, s.lat, s.lon))
    ends = {link.a for link in done.links}
    assert nearest.id in ends
    metro = {s.id for s in WORLD.sites if great_circle_km(-1.29, 36.82, s.lat, s.lon) <= 80}
    assert ends == {nearest.id} | metro
    assert all(link.b == "ke-acme" for link in done.links)
    assert done.site.operator == "acme"
    assert done.site.jurisdiction == ("KE",)
    assert done.site.source == "registered by acme"


def test_connect_to_names_the_nodes_and_access_gbps_sizes_the_links() -> None:
    far = WORLD.sites[0].id
    done = join_site(WORLD, "ke-acme", registration(connect_to=[far], access_gbps=40), "acme")
    assert [(link.a, link.capacity_gbps) for link in done.links] == [(far, 40.0)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"connect_to": ["no-such-node"]}, "connect_to.0"),
        ({"pools": [{**CPU.model_dump(), "currency": "EUR"}]}, "pools.0.currency"),
    ],
)
def test_a_registration_that_cannot_join_names_its_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(OnboardingError) as err:
        join_site(WORLD, "ke-acme", registration(**change), "acme")
    assert err.value.field == field


def test_a_known_site_keeps_its_links_and_its_pools_in_order() -> None:
    site = WORLD.sites[0]
    same = SiteRegistration.model_validate(
        site.model_dump(exclude={"id", "source"}) | {"note": "repriced"}
    )
    assert join_site(WORLD, site.id, same, "acme").links == ()
    fewer = same.model_copy(update={"pools": site.pools[1:] or (CPU,)})
    with pytest.raises(OnboardingError, match="pool"):
        join_site(WORLD, site.id, fewer, "acme")


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [
        ((CPU,), (CPU,), True),
        ((CPU,), (CPU.model_copy(update={"price_per_unit_hour_micros": 1}),), True),
        ((CPU,), (CPU, CPU.model_copy(update={"model": "intel-xeon-8480"})), True),
        ((CPU, CPU), (CPU,), False),
        ((CPU,), (CPU.model_copy(update={"model": "intel-xeon-8480"}),), False),
    ],
)
def test_pools_are_appended_and_repriced_never_removed_or_changed_in_kind(
    old: tuple[Pool, ...], new: tuple[Pool, ...], ok: bool
) -> None:
    assert (pool_change_problems(old, new) == []) is ok


def test_registrations_lay_over_the_base_world_which_is_never_changed() -> None:
    base_sites, base_links = WORLD.sites, WORLD.links
    new = join_site(WORLD, "ke-acme", registration(), "acme")
    changed = WORLD.sites[0].model_copy(update={"pue": 1.05})
    world = apply_registrations(WORLD, [new, Registered(site=changed)], UNIT_TABLE)
    assert world.site("ke-acme") == new.site
    assert world.site(changed.id).pue == 1.05
    assert len(world.links) == len(base_links) + len(new.links)
    assert WORLD.sites is base_sites
    assert WORLD.site(changed.id) == base_sites[0]
    assert apply_registrations(WORLD, [], UNIT_TABLE) is WORLD


def test_an_unsound_world_is_refused() -> None:
    bad = join_site(WORLD, "qq-acme", registration(country="QQ"), "acme")
    with pytest.raises(WorldIntegrityError, match="QQ"):
        apply_registrations(WORLD, [bad], UNIT_TABLE)


@settings(max_examples=25, deadline=None)
@given(
    lat=st.floats(-60, 70),
    lon=st.floats(-179, 179),
    code=st.sampled_from(sorted({s.country for s in WORLD.sites})),
)
def test_any_new_site_anywhere_joins_a_sound_connected_world(
    lat: float, lon: float, code: str
) -> None:
    from suanwang.core.network.engine import Network

    done = join_site(WORLD, "x-new", registration(lat=lat, lon=lon, country=code), "p")
    world = apply_registrations(WORLD, [done], UNIT_TABLE)  # raises if unsound
    assert done.links
    net = Network.from_world(world)
    assert net.path("x-new", done.links[0].a).one_way_ms > 0
