"""Data-pack loaders on tiny fixtures generated in tmp_path (always run; no shared data needed)."""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.geo import great_circle_km
from suanwang.core.network.model import CableStatus, LengthBasis, LinkKind
from suanwang.world.packs import (
    DEFAULT_CAPACITY_GBPS,
    UNKNOWN_CAPACITY_TBPS,
    DataPackError,
    Place,
    ZooEdge,
    ZooNetwork,
    ZooNode,
    country_by_name,
    country_name_codes,
    country_polygons,
    iso3_to_iso2,
    label_points,
    list_networks,
    load_graphml,
    load_network,
    load_telegeography,
    populated_places,
    route_length_km,
    to_links,
)
from suanwang.world.packs._common import fallback_country
from suanwang.world.packs.telegeography import cable_identifier

IDENT = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            add_member(tar, name, data)
    return path


@pytest.fixture(autouse=True)
def _fresh_country_cache() -> Iterator[None]:
    """The name -> ISO2 fallback caches; clear it around tests that hide pycountry."""
    fallback_country.cache_clear()
    yield
    fallback_country.cache_clear()


def test_data_pack_error_is_a_suanwang_value_error() -> None:
    assert issubclass(DataPackError, SuanwangError)
    assert issubclass(DataPackError, ValueError)


# --- Topology Zoo -------------------------------------------------------------------------------

GRAPHML = """<?xml version="1.0" encoding="utf-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="Latitude" attr.type="double" for="node" id="d0"/>
  <key attr.name="Longitude" attr.type="double" for="node" id="d1"/>
  <key attr.name="label" attr.type="string" for="node" id="d2"/>
  <key attr.name="Country" attr.type="string" for="node" id="d3"/>
  <key attr.name="LinkLabel" attr.type="string" for="edge" id="d4"/>
  <key attr.name="LinkSpeed" attr.type="string" for="edge" id="d5"/>
  <key attr.name="LinkSpeedUnits" attr.type="string" for="edge" id="d6"/>
  <key attr.name="LinkSpeedRaw" attr.type="double" for="edge" id="d7"/>
  <graph edgedefault="undirected">
    <node id="0"><data key="d0">52.37</data><data key="d1">4.89</data>
      <data key="d2">Amsterdam</data><data key="d3">Netherlands</data></node>
    <node id="1"><data key="d0">50.85</data><data key="d1">4.35</data>
      <data key="d2">Brussels</data><data key="d3">Belgium</data></node>
    <node id="2"><data key="d2">Somewhere</data></node>
    <edge source="0" target="1"><data key="d4">2.5 Gbps</data><data key="d5">2.5</data>
      <data key="d6">G</data><data key="d7">2500000000.0</data></edge>
    <edge source="1" target="0"><data key="d5">10</data><data key="d6">G</data></edge>
    <edge source="1" target="2"><data key="d5">155</data><data key="d6">M</data></edge>
    <edge source="0" target="0"/>
    <edge source="2" target="0"><data key="d4">dark fibre</data></edge>
  </graph>
</graphml>
"""

CODES = {"netherlands": "NL", "BELGIUM": "BE"}


@pytest.fixture
def graphml_file(tmp_path: Path) -> Path:
    path = tmp_path / "Testnet.graphml"
    path.write_text(GRAPHML, encoding="utf-8")
    return path


@pytest.fixture
def zoo_archive(tmp_path: Path) -> Path:
    path = tmp_path / "graphml.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo("graphml")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        add_member(tar, "graphml/Testnet.graphml", GRAPHML.encode())
        add_member(tar, "graphml/Testnet2010.graphml", GRAPHML.encode())
    return path


def test_graphml_nodes_edges_and_counts(graphml_file: Path) -> None:
    net = load_graphml(graphml_file)
    assert net.name == "Testnet"
    assert net.nodes == (
        ZooNode("0", "Amsterdam", 52.37, 4.89, "Netherlands"),
        ZooNode("1", "Brussels", 50.85, 4.35, "Belgium"),
        ZooNode("2", "Somewhere", None, None, None),
    )
    assert net.edges == (
        ZooEdge("0", "1", "2.5 Gbps", 2.5),
        ZooEdge("1", "2", "", pytest.approx(0.155)),  # type: ignore[arg-type]
        ZooEdge("2", "0", "dark fibre", None),
    )
    assert (net.self_loops, net.duplicates) == (1, 1)
    assert [n.id for n in net.located_nodes()] == ["0", "1"]
    assert net.node("1").label == "Brussels"
    with pytest.raises(UnknownIdError):
        net.node("9")


def test_archive_lists_and_loads_members(zoo_archive: Path, graphml_file: Path) -> None:
    assert list_networks(zoo_archive) == ("Testnet", "Testnet2010")
    from_archive = load_network(zoo_archive, "Testnet")
    assert from_archive.nodes == load_graphml(graphml_file).nodes
    assert from_archive.edges == load_graphml(graphml_file).edges
    assert "graphml/Testnet.graphml" in from_archive.source


def test_archive_unknown_network_suggests_names(zoo_archive: Path) -> None:
    with pytest.raises(DataPackError, match=r"graphml\.tar\.gz.*'testnet'.*Testnet"):
        load_network(zoo_archive, "testnet")


def test_to_links_builds_core_links_for_located_edges(graphml_file: Path) -> None:
    net = load_graphml(graphml_file)
    (link,) = to_links(net, link_id_prefix="testnet", country_of_node=country_by_name(CODES))
    assert link.id == "testnet-0-1"
    assert (link.a, link.b) == ("testnet-0", "testnet-1")
    assert link.kind is LinkKind.TERRESTRIAL
    assert link.length_basis is LengthBasis.GREAT_CIRCLE
    assert link.length_km == pytest.approx(great_circle_km(52.37, 4.89, 50.85, 4.35))
    assert link.capacity_gbps == 2.5
    assert link.price_per_gb_micros == 0
    assert link.countries == ("NL", "BE")
    assert link.name == "2.5 Gbps"
    assert "Topology Zoo" in link.source


def test_to_links_default_capacity_min_length_and_node_prefix() -> None:
    here = ZooNode("a", "A", 10.0, 20.0, "X")
    net = ZooNetwork(
        "Tiny", (here, ZooNode("b", "B", 10.0, 20.0, "X")), (ZooEdge("a", "b", "", None),)
    )
    (link,) = to_links(
        net, link_id_prefix="tiny", node_id_prefix="pop", country_of_node=lambda _node: "ZA"
    )
    assert (link.a, link.b, link.countries) == ("pop-a", "pop-b", ("ZA",))
    assert link.length_km == 1.0
    assert link.capacity_gbps == DEFAULT_CAPACITY_GBPS
    assert link.name == "A - B"


def test_to_links_unresolved_country_asks_for_country_of_node(graphml_file: Path) -> None:
    net = load_graphml(graphml_file)
    with pytest.raises(DataPackError, match=r"Testnet\.graphml.*node '0'.*country_of_node"):
        to_links(net, link_id_prefix="t", country_of_node=lambda _node: None)
    with pytest.raises(DataPackError, match="country_of_node"):
        to_links(net, link_id_prefix="t", country_of_node=lambda _node: "nl")


def test_to_links_rejects_bad_prefix(graphml_file: Path) -> None:
    with pytest.raises(ValueError, match="link_id_prefix"):
        to_links(load_graphml(graphml_file), link_id_prefix="Bad Prefix")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<graphml><graph><node id='0'>", r"Broken\.graphml: line \d+ column \d+: malformed XML"),
        ("<graphml xmlns='http://graphml.graphdrawing.org/xmlns'/>", r"Broken\.graphml.*<graph>"),
        (GRAPHML.replace('target="2"', 'target="7"'), r"Broken\.graphml: edge '1'-'7'.*not exist"),
        (GRAPHML.replace(">52.37<", ">north<"), r"Broken\.graphml: node '0': Latitude.*number"),
        (GRAPHML.replace(">52.37<", ">152.37<"), r"Broken\.graphml: node '0'.*out of range"),
    ],
)
def test_graphml_malformed_raises_data_pack_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "Broken.graphml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataPackError, match=message):
        load_graphml(path)


def test_zoo_missing_or_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(DataPackError, match=r"Nope\.graphml: file not found"):
        load_graphml(tmp_path / "Nope.graphml")
    with pytest.raises(DataPackError, match=r"nope\.tar\.gz: file not found"):
        list_networks(tmp_path / "nope.tar.gz")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not a tarball")
    with pytest.raises(DataPackError, match=r"junk\.tar\.gz: not a readable tar archive"):
        load_network(junk, "Testnet")


# --- Natural Earth ------------------------------------------------------------------------------


def country(props: dict[str, object], geometry: dict[str, object] | None) -> dict[str, object]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


SQUARE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
HOLE = [[0.2, 0.2], [0.4, 0.2], [0.4, 0.4], [0.2, 0.2]]
COUNTRIES = {
    "type": "FeatureCollection",
    "features": [
        country(
            {
                "NAME": "France",
                "NAME_LONG": "French Republic",
                "ADMIN": "France",
                "ISO_A2": "-99",
                "ISO_A2_EH": "FR",
                "ISO_A3": "-99",
                "ISO_A3_EH": "FRA",
                "LABEL_X": 2.552275,
                "LABEL_Y": 46.696113,
            },
            {"type": "MultiPolygon", "coordinates": [[SQUARE, HOLE], [[[5, 5], [6, 5], [5, 6]]]]},
        ),
        country(
            {"NAME": "Taiwan", "ISO_A2": "CN-TW", "ISO_A2_EH": "TW", "ISO_A3": "TWN"}
            | {"LABEL_X": 120.868204, "LABEL_Y": 23.652408},
            {"type": "Polygon", "coordinates": [SQUARE]},
        ),
        country(
            {"NAME": "Somaliland", "ISO_A2": "-99", "ISO_A2_EH": "-99", "LABEL_X": 46.7}
            | {"LABEL_Y": 9.4},
            {"type": "Polygon", "coordinates": [SQUARE]},
        ),
        country(
            {"name": "Kenya", "iso_a2": "KE", "iso_a3": "KEN", "label_x": 37.9, "label_y": 0.5},
            {"type": "Polygon", "coordinates": [SQUARE]},
        ),
    ],
}


@pytest.fixture
def countries_file(tmp_path: Path) -> Path:
    return write_json(tmp_path / "ne_110m_admin_0_countries.geojson", COUNTRIES)


def test_label_points_fall_back_to_iso_a2_eh(countries_file: Path) -> None:
    assert label_points(countries_file) == {
        "FR": (46.696113, 2.552275),
        "TW": (23.652408, 120.868204),
        "KE": (0.5, 37.9),
    }


def test_country_polygons_keep_outer_rings(countries_file: Path) -> None:
    outlines = country_polygons(countries_file)
    assert sorted(outlines) == ["FR", "KE", "TW"]
    assert outlines["FR"] == [
        ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)),
        ((5.0, 5.0), (6.0, 5.0), (5.0, 6.0)),
    ]
    assert outlines["TW"] == [((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0))]


def test_country_code_tables(countries_file: Path) -> None:
    assert iso3_to_iso2(countries_file) == {"FRA": "FR", "TWN": "TW", "KEN": "KE"}
    names = country_name_codes(countries_file)
    assert names["French Republic"] == "FR"
    assert names["Kenya"] == "KE"
    assert "Somaliland" not in names


PLACES_V4 = {
    "type": "FeatureCollection",
    "features": [
        country(
            {"name": "Beijing", "iso_a2": "CN", "adm0cap": 1.0, "pop_max": 11106000},
            {"type": "Point", "coordinates": [116.386, 39.931]},
        ),
        country(
            {"name": "Shanghai", "iso_a2": "CN", "adm0cap": 0.0, "pop_max": -99},
            {"type": "Point", "coordinates": [121.435, 31.218]},
        ),
        country(
            {"name": "Pristina", "iso_a2": "-99", "adm0cap": 1.0, "pop_max": 465186},
            {"type": "Point", "coordinates": [21.166, 42.667]},
        ),
    ],
}
PLACES_V5 = {
    "type": "FeatureCollection",
    "features": [
        country(
            {"NAME": "Nairobi", "ISO_A2": "KE", "FEATURECLA": "Admin-0 capital"}
            | {"POP_MAX": 3010000.0, "LATITUDE": -1.2814, "LONGITUDE": 36.8147},
            None,
        )
    ],
}


def test_populated_places_lower_and_upper_case(tmp_path: Path) -> None:
    v4 = populated_places(
        write_json(tmp_path / "ne_110m_populated_places_simple.geojson", PLACES_V4)
    )
    assert v4 == (
        Place("Beijing", "CN", 39.931, 116.386, 11106000, True),
        Place("Shanghai", "CN", 31.218, 121.435, None, False),
    )
    v5 = populated_places(
        write_json(tmp_path / "ne_50m_populated_places_simple.geojson", PLACES_V5)
    )
    assert v5 == (Place("Nairobi", "KE", -1.2814, 36.8147, 3010000, True),)


def test_natural_earth_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataPackError, match=r"absent\.geojson: file not found"):
        label_points(tmp_path / "absent.geojson")
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection",\n "features": [', encoding="utf-8")
    with pytest.raises(DataPackError, match=r"broken\.geojson: line 2 column \d+: malformed JSON"):
        label_points(broken)
    no_label = write_json(
        tmp_path / "nolabel.geojson",
        {"features": [country({"NAME": "Fiji", "ISO_A2": "FJ", "LABEL_X": 178.0}, None)]},
    )
    with pytest.raises(DataPackError, match=r"nolabel\.geojson: feature 0 \(Fiji\).*'label_y'"):
        label_points(no_label)
    with pytest.raises(DataPackError, match=r"nofeatures\.geojson.*'features' is missing"):
        label_points(write_json(tmp_path / "nofeatures.geojson", {"type": "FeatureCollection"}))
    lines = {"features": [country({"NAME": "X", "ISO_A2": "XX"}, {"type": "LineString"})]}
    with pytest.raises(DataPackError, match=r"lines\.geojson: feature 0 \(X\).*Polygon"):
        country_polygons(write_json(tmp_path / "lines.geojson", lines))
    nameless = {"features": [country({"iso_a2": "CN"}, {"type": "Point", "coordinates": [1, 2]})]}
    with pytest.raises(DataPackError, match=r"nameless\.geojson: feature 0.*'name'"):
        populated_places(write_json(tmp_path / "nameless.geojson", nameless))


# --- TeleGeography ------------------------------------------------------------------------------


def point(slug: str, name: str, ident: int, lon: float, lat: float) -> dict[str, object]:
    props = {"slug": slug, "name": name, "id": ident}
    return country(props, {"type": "Point", "coordinates": [lon, lat]})


def landing_ref(ident: int, slug: str) -> dict[str, object]:
    return {"landing_point_id": ident, "id": slug, "name": slug, "latlon": "0,0", "is_tbd": "false"}


MAREA_LINES = [[[-2.95, 43.27], [-30.0, 40.0], [-76.06, 36.76]], [[-9.0, 38.0], [-9.5, 38.5]]]
LANDINGS = {
    "type": "FeatureCollection",
    "features": [
        point("bilbao-spain", "Bilbao, Spain", 1, -2.946164, 43.268344),
        point("bilbao-spain", "Bilbao, Spain", 1, -2.946100, 43.268300),  # a repeat
        point(
            "virginia-beach-va-united-states", "Virginia Beach, VA, United States", 2, -76.06, 36.76
        ),
        point("kinshasa-congo-dem-rep", "Kinshasa, Congo,  Dem. Rep.", 3, 15.3, -4.3),
        point("atlantis-atlantis", "Atlantis, Atlantis", 4, -30.0, 30.0),
    ],
}
CABLE_LIST = [
    {"id": "marea", "cable_id": 1, "name": "MAREA"},
    {"id": "congo-link", "cable_id": 2, "name": "Congo Link"},
    {"id": "lost-link", "cable_id": 3, "name": "Lost Link"},
    {"id": "undated", "cable_id": 4, "name": "Undated"},
]
ROUTES = {
    "type": "FeatureCollection",
    "features": [
        country(
            {"slug": "marea", "color": "abc"},
            {"type": "MultiLineString", "coordinates": MAREA_LINES[:1]},
        ),
        country(
            {"slug": "marea", "color": "abc"},
            {"type": "MultiLineString", "coordinates": MAREA_LINES[1:]},
        ),
        country(
            {"slug": "congolink"},
            {"type": "LineString", "coordinates": [[15.3, -4.3], [-2.95, 43.27]]},
        ),
    ],
}


def cable_json(slug: str, length: str, rfs: str, refs: list[dict[str, object]]) -> bytes:
    record = {
        "id": slug,
        "name": slug,
        "cable_id": 0,
        "landing_points": refs,
        "length": length,
        "rfs": rfs,
        "owners": "Facebook,  Microsoft,  Telxius" if slug == "marea" else None,
        "url": "http://www.telxius.com" if slug == "marea" else None,
        "notes": None,
    }
    return json.dumps(record).encode()


DETAILS = {
    "cable/marea.json": cable_json(
        "marea", "6,605 km", "2018 May", [landing_ref(1, "bilbao-spain"), landing_ref(2, "x")]
    ),
    "cable/congo-link.json": cable_json(
        "congo-link",
        "n.a.",
        "2023 Q3",
        [landing_ref(3, "k"), landing_ref(1, "b"), landing_ref(4, "a")],
    ),
    "cable/lost-link.json": cable_json(
        "lost-link", "10 km", "2001", [landing_ref(4, "a"), landing_ref(1, "b")]
    ),
    "cable/undated.json": cable_json(
        "undated", "10 km", "n.a.", [landing_ref(1, "b"), landing_ref(2, "v")]
    ),
}
TG_CODES = {"Spain": "ES", "United States": "US", "congo, dem. rep.": "CD"}


@pytest.fixture
def tg_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "submarine-cables"
    folder.mkdir()
    write_json(folder / "landing-point-geo.json", LANDINGS)
    write_json(folder / "cable-all.json", CABLE_LIST)
    write_json(folder / "cable-geo.json", ROUTES)
    make_tar(folder / "cables-per-cable.tar.gz", DETAILS)
    return folder


def expected_km(lines: list[list[list[float]]]) -> float:
    return sum(great_circle_km(p[1], p[0], q[1], q[0]) for line in lines for p, q in pairwise(line))


def test_telegeography_landings(tg_folder: Path) -> None:
    pack = load_telegeography(tg_folder, country_codes=TG_CODES)
    assert [(lp.id, lp.country, lp.lat, lp.lon) for lp in pack.landing_points] == [
        ("tg-lp-bilbao-spain", "ES", 43.268344, -2.946164),
        ("tg-lp-virginia-beach-va-united-states", "US", 36.76, -76.06),
        ("tg-lp-kinshasa-congo-dem-rep", "CD", -4.3, 15.3),
    ]
    landing_skips = [s for s in pack.skipped if s.kind == "landing"]
    assert [s.source_id for s in landing_skips] == ["atlantis-atlantis"]
    assert "country" in landing_skips[0].reason


def test_telegeography_cables(tg_folder: Path) -> None:
    pack = load_telegeography(tg_folder, country_codes=TG_CODES)
    marea, congo = pack.cables
    assert (marea.id, marea.name) == ("tg-marea", "MAREA")
    assert (marea.length_km, marea.rfs, marea.status) == (6605.0, 2018, CableStatus.IN_SERVICE)
    assert marea.capacity_tbps == UNKNOWN_CAPACITY_TBPS
    assert marea.owners == ("Facebook", "Microsoft", "Telxius")
    assert marea.landings == ("tg-lp-bilbao-spain", "tg-lp-virginia-beach-va-united-states")
    assert "capacity not in source" in marea.note
    assert "CC BY-NC-SA 3.0" in marea.source
    assert "telxius" in marea.source
    assert (congo.id, congo.rfs, congo.status) == ("tg-congo-link", 2023, CableStatus.PLANNED)
    assert congo.length_km == pytest.approx(expected_km([[[15.3, -4.3], [-2.95, 43.27]]]))
    assert "length from drawn route" in congo.note
    assert "1 landing(s) omitted" in congo.note
    assert congo.landings == ("tg-lp-kinshasa-congo-dem-rep", "tg-lp-bilbao-spain")
    cable_skips = {s.source_id: s.reason for s in pack.skipped if s.kind == "cable"}
    assert set(cable_skips) == {"lost-link", "undated"}
    assert "landing" in cable_skips["lost-link"]
    assert "ready-for-service" in cable_skips["undated"]
    assert pack.cable("marea") is marea


def test_telegeography_routes_and_lengths(tg_folder: Path) -> None:
    pack = load_telegeography(tg_folder, country_codes=TG_CODES)
    assert pack.routes["tg-marea"][0] == ((43.27, -2.95), (40.0, -30.0), (36.76, -76.06))
    assert len(pack.routes["tg-marea"]) == 2
    assert "tg-congo-link" in pack.routes  # "congolink" matched hyphen-insensitively
    assert route_length_km(pack, "tg-marea") == pytest.approx(expected_km(MAREA_LINES))
    assert route_length_km(pack, "marea") == route_length_km(pack, "tg-marea")
    with pytest.raises(UnknownIdError):
        route_length_km(pack, "tg-nowhere")


def test_telegeography_without_details_archive(tg_folder: Path) -> None:
    (tg_folder / "cables-per-cable.tar.gz").unlink()
    pack = load_telegeography(tg_folder, country_codes=TG_CODES)
    assert pack.cables == ()
    assert len(pack.landing_points) == 3
    assert "tg-marea" in pack.routes
    skipped = [s.source_id for s in pack.skipped if s.kind == "cable"]
    assert skipped == ["marea", "congo-link", "lost-link", "undated"]


def test_telegeography_fallback_without_pycountry(
    tg_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pycountry", None)  # import pycountry -> ImportError
    pack = load_telegeography(tg_folder)
    # Only the built-in alias table is left: "Congo, Dem. Rep." resolves, "Spain" does not.
    assert [lp.id for lp in pack.landing_points] == ["tg-lp-kinshasa-congo-dem-rep"]
    assert sum(1 for s in pack.skipped if s.kind == "landing") == 3


def test_long_slugs_become_valid_unique_identifiers() -> None:
    long_a, long_b = "a" * 100, "a" * 99 + "b"
    ids = {cable_identifier(long_a), cable_identifier(long_b)}
    assert len(ids) == 2
    assert all(len(i) <= 80 and IDENT.match(i) for i in ids)
    assert cable_identifier("Curaçao Express") == "tg-curacao-express"


def test_telegeography_bad_arguments(tg_folder: Path) -> None:
    with pytest.raises(ValueError, match="ISO 3166-1"):
        load_telegeography(tg_folder, country_codes={"Spain": "ESP"})
    with pytest.raises(ValueError, match="as_of_year"):
        load_telegeography(tg_folder, as_of_year=3000)


def test_telegeography_bad_inputs(tg_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(DataPackError, match="not a folder"):
        load_telegeography(tmp_path / "missing")
    (tg_folder / "cable-all.json").write_text("[{", encoding="utf-8")
    with pytest.raises(DataPackError, match=r"cable-all\.json: line 1 column \d+: malformed JSON"):
        load_telegeography(tg_folder, country_codes=TG_CODES)
    write_json(tg_folder / "cable-all.json", [{"cable_id": 1}])
    with pytest.raises(DataPackError, match=r"cable-all\.json: entry 0: property 'id' is missing"):
        load_telegeography(tg_folder, country_codes=TG_CODES)
    write_json(tg_folder / "cable-all.json", CABLE_LIST)
    bad = {
        "features": [country({"name": "Bilbao, Spain"}, {"type": "Point", "coordinates": [0, 0]})]
    }
    write_json(tg_folder / "landing-point-geo.json", bad)
    with pytest.raises(DataPackError, match=r"landing-point-geo\.json: feature 0: property 'slug'"):
        load_telegeography(tg_folder, country_codes=TG_CODES)
    (tg_folder / "landing-point-geo.json").unlink()
    with pytest.raises(DataPackError, match=r"landing-point-geo\.json: file not found"):
        load_telegeography(tg_folder, country_codes=TG_CODES)


def test_telegeography_bad_archive(tg_folder: Path) -> None:
    archive = tg_folder / "cables-per-cable.tar.gz"
    make_tar(archive, {**DETAILS, "cable/marea.json": b'{"id": "marea", '})
    with pytest.raises(DataPackError, match=r"cables-per-cable\.tar\.gz: cable/marea\.json: line"):
        load_telegeography(tg_folder, country_codes=TG_CODES)
    make_tar(archive, {**DETAILS, "cable/marea.json": b'{"id": "marea", "rfs": "2018"}'})
    with pytest.raises(DataPackError, match=r"cable/marea\.json.*'landing_points' is missing"):
        load_telegeography(tg_folder, country_codes=TG_CODES)
    archive.write_bytes(b"not gzip at all")
    with pytest.raises(DataPackError, match=r"cables-per-cable\.tar\.gz: not a readable"):
        load_telegeography(tg_folder, country_codes=TG_CODES)
