"""Data-pack loaders on the real files under ``../shared/data`` (skipped when absent).

These files are never shipped with the package (TeleGeography is CC BY-NC-SA 3.0); the tests
only check that the loaders read today's real snapshots sensibly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from suanwang.core.network.model import CableStatus, LinkKind
from suanwang.world.packs import (
    TeleGeographyPack,
    country_polygons,
    iso3_to_iso2,
    label_points,
    list_networks,
    load_network,
    load_telegeography,
    populated_places,
    route_length_km,
    to_links,
)

pytestmark = pytest.mark.shared_data

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ZOO_ARCHIVE = "graphml.tar.gz"
COUNTRIES = "ne_110m_admin_0_countries.geojson"


def shared_folder(name: str) -> Path:
    """The shared data folder ``name``, or skip the test when it is absent."""
    folder = SHARED / name
    if not folder.is_dir():
        pytest.skip(f"shared data folder {folder} is absent (optional data pack)")
    return folder


@pytest.fixture(scope="module")
def telegeography() -> TeleGeographyPack:
    folder = shared_folder("submarine-cables")
    pytest.importorskip("pycountry", reason="country names are resolved with pycountry")
    return load_telegeography(folder)


def test_telegeography_sizes_and_integrity(telegeography: TeleGeographyPack) -> None:
    assert len(telegeography.cables) > 400
    assert len(telegeography.landing_points) > 1000
    landing_ids = {lp.id for lp in telegeography.landing_points}
    assert len(landing_ids) == len(telegeography.landing_points)
    cable_ids = [cable.id for cable in telegeography.cables]
    assert len(set(cable_ids)) == len(cable_ids)
    for cable in telegeography.cables:
        assert set(cable.landings) <= landing_ids, cable.id
    assert len(telegeography.skipped) < 20
    statuses = {cable.status for cable in telegeography.cables}
    assert statuses == {CableStatus.IN_SERVICE, CableStatus.PLANNED}


def test_telegeography_marea(telegeography: TeleGeographyPack) -> None:
    marea = telegeography.cable("marea")
    assert marea.landings == ("tg-lp-bilbao-spain", "tg-lp-virginia-beach-va-united-states")
    assert (marea.length_km, marea.rfs) == (6605.0, 2018)
    assert route_length_km(telegeography, "tg-marea") == pytest.approx(6644.0, rel=0.2)


def test_telegeography_drawn_routes_track_stated_lengths(telegeography: TeleGeographyPack) -> None:
    ratios = sorted(
        route_length_km(telegeography, cable.id) / cable.length_km
        for cable in telegeography.cables
        if "drawn route" not in cable.note and cable.id in telegeography.routes
    )
    median = ratios[len(ratios) // 2]
    assert 0.8 < median < 1.2
    assert len(ratios) > 400


@pytest.fixture(scope="module")
def zoo_archive() -> Path:
    return shared_folder("topology-zoo") / ZOO_ARCHIVE


def test_zoo_lists_networks(zoo_archive: Path) -> None:
    names = list_networks(zoo_archive)
    assert len(names) > 200
    assert {"Abilene", "Geant2012"} <= set(names)


def test_zoo_geant2012_loads_with_located_nodes_and_links(zoo_archive: Path) -> None:
    pytest.importorskip("pycountry", reason="node countries are resolved with pycountry")
    geant = load_network(zoo_archive, "Geant2012")
    located = geant.located_nodes()
    assert len(located) >= 30
    assert all(-40 < (node.lon or 0.0) < 60 for node in located)  # Europe and near neighbours
    links = to_links(geant, link_id_prefix="geant2012")
    assert len(links) > 40
    assert all(link.kind is LinkKind.TERRESTRIAL and link.length_km >= 1.0 for link in links)
    countries = {code for link in links for code in link.countries}
    assert {"NL", "DE", "FR", "GB"} <= countries
    assert any(link.capacity_gbps == 10.0 for link in links)


@pytest.fixture(scope="module")
def natural_earth() -> Path:
    return shared_folder("natural-earth")


def test_natural_earth_label_points(natural_earth: Path) -> None:
    points = label_points(natural_earth / COUNTRIES)
    assert len(points) >= 170
    assert {"CN", "US", "BR", "ZA", "FR", "NO", "TW"} <= set(points)
    lat, lon = points["CN"]
    assert 20 < lat < 50
    assert 80 < lon < 125
    assert points["BR"][0] < 0  # south of the equator


def test_natural_earth_polygons_and_codes(natural_earth: Path) -> None:
    outlines = country_polygons(natural_earth / COUNTRIES)
    assert len(outlines) >= 170
    assert all(len(ring) >= 4 for rings in outlines.values() for ring in rings)
    assert len(outlines["US"]) > 1  # Alaska and Hawaii are separate rings
    codes = iso3_to_iso2(natural_earth / COUNTRIES)
    assert codes["FRA"] == "FR"
    assert codes["CHN"] == "CN"


def test_natural_earth_populated_places_include_capitals(natural_earth: Path) -> None:
    for name in (
        "ne_110m_populated_places_simple.geojson",
        "ne_50m_populated_places_simple.geojson",
    ):
        places = populated_places(natural_earth / name)
        assert len(places) > 200
        capitals = {p.name: p for p in places if p.is_capital}
        assert capitals["Beijing"].country_iso2 == "CN"
        assert capitals["Nairobi"].country_iso2 == "KE"
        assert capitals["Beijing"].population is not None
        assert capitals["Beijing"].population > 5_000_000
        assert len(capitals) > 150
