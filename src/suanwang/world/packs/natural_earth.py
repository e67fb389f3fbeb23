"""Natural Earth (public domain) -> country label points, outlines, codes and populated places.

Files: ``ne_110m_admin_0_countries.geojson`` (any scale works) for :func:`label_points`,
:func:`country_polygons`, :func:`iso3_to_iso2` and :func:`country_name_codes`; and
``ne_*_populated_places_simple.geojson`` for :func:`populated_places`. Natural Earth is in the
public domain ("Made with Natural Earth" is a courtesy, not a requirement).

Property names are matched case-insensitively: v5 files spell them ``ISO_A2``/``LABEL_X``, the
v4 populated places ``iso_a2``/``latitude``. Country code: ``ISO_A2`` when it is a two-letter
code, else ``ISO_A2_EH`` (France and Norway have ``ISO_A2`` "-99", Taiwan "CN-TW"); features with
neither (N. Cyprus, Somaliland) are left out, as are places whose ``iso_a2`` is not a code.
Natural Earth draws de facto boundaries; at 1:110m small states (Singapore, Bahrain, Malta, Hong
Kong) have no polygon.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from suanwang.world.packs import _common as c
from suanwang.world.packs.errors import DataPackError

NATURAL_EARTH_ATTRIBUTION = (
    "Made with Natural Earth. Free vector and raster map data @ naturalearthdata.com."
)

Ring = tuple[tuple[float, float], ...]
"""A closed outline as ``(lon, lat)`` points (GeoJSON order, ready for drawing)."""

_NAME_FIELDS = ("name", "name_long", "admin", "formal_en", "name_en", "geounit", "sovereignt")


@dataclass(frozen=True, slots=True)
class Place:
    """A populated place. ``population`` is ``pop_max`` (``None`` when absent or negative);
    ``is_capital`` marks a national (admin-0) capital."""

    name: str
    country_iso2: str
    lat: float
    lon: float
    population: int | None
    is_capital: bool


def _code(props: Mapping[str, object], key: str) -> str | None:
    value = props.get(key)
    return value.strip() if isinstance(value, str) and c.is_iso2(value.strip()) else None


def _where(index_where: str, props: Mapping[str, object]) -> str:
    name = props.get("name")
    return f"{index_where} ({name})" if isinstance(name, str) and name else index_where


def _countries(
    path: str | Path,
) -> Iterator[tuple[str, str, dict[str, object], Mapping[str, object]]]:
    """``(where, iso2, folded properties, feature)`` for each country feature with a code."""
    file = Path(path)
    for index_where, feature in c.features(c.load_json(file), str(file)):
        props = c.properties(feature, index_where, fold=True)
        where = _where(index_where, props)
        c.require(props, "iso_a2", where)
        code = _code(props, "iso_a2") or _code(props, "iso_a2_eh")
        if code is not None:
            yield where, code, props, feature


def label_points(path: str | Path) -> dict[str, tuple[float, float]]:
    """ISO2 -> ``(lat, lon)`` label point (``LABEL_Y``, ``LABEL_X``); first feature wins.

    :class:`DataPackError` naming the file and feature for a missing file, malformed JSON or a
    missing ``ISO_A2``/``LABEL_X``/``LABEL_Y``.
    """
    points: dict[str, tuple[float, float]] = {}
    for where, code, props, _ in _countries(path):
        lat = c.require_number(props, "label_y", where)
        lon = c.require_number(props, "label_x", where)
        points.setdefault(code, c.check_lat_lon(lat, lon, where))
    return points


def country_polygons(path: str | Path) -> dict[str, list[Ring]]:
    """ISO2 -> the outer rings of its (Multi)Polygon, as ``(lon, lat)`` tuples; holes dropped.

    Features sharing a code have their rings merged. :class:`DataPackError` for a missing or
    non-polygon geometry.
    """
    outlines: dict[str, list[Ring]] = {}
    for where, code, _, feature in _countries(path):
        geometry = c.as_mapping(c.require(feature, "geometry", where), f"{where}: geometry")
        kind = geometry.get("type")
        if kind not in ("Polygon", "MultiPolygon"):
            raise DataPackError(f"{where}: expected a (Multi)Polygon geometry, got {kind!r}")
        coords = c.require(geometry, "coordinates", f"{where}: geometry")
        polygons = [coords] if kind == "Polygon" else c.as_list(coords, f"{where}: coordinates")
        rings = outlines.setdefault(code, [])
        for polygon in polygons:
            parts = c.as_list(polygon, f"{where}: coordinates")
            if not parts:
                raise DataPackError(f"{where}: a polygon has no rings")
            outer = c.as_list(parts[0], f"{where}: coordinates")
            rings.append(tuple(c.lon_lat(p, f"{where}: coordinates") for p in outer))
    return outlines


def iso3_to_iso2(path: str | Path) -> dict[str, str]:
    """ISO3 -> ISO2 from ``ISO_A3`` (``ISO_A3_EH`` when that is "-99"); first feature wins."""
    table: dict[str, str] = {}
    for _, code, props, _ in _countries(path):
        for key in ("iso_a3", "iso_a3_eh"):
            value = props.get(key)
            if isinstance(value, str) and len(value) == 3 and value.isalpha() and value.isupper():
                table.setdefault(value, code)
                break
    return table


def country_name_codes(path: str | Path) -> dict[str, str]:
    """Country name -> ISO2 from ``NAME``, ``NAME_LONG``, ``ADMIN``, ``FORMAL_EN`` and friends.

    Suitable as ``country_codes`` for the TeleGeography and Topology Zoo loaders (they match
    names case-insensitively). Where two countries share a name the first feature wins.
    """
    table: dict[str, str] = {}
    for _, code, props, _ in _countries(path):
        for key in _NAME_FIELDS:
            value = props.get(key)
            if isinstance(value, str) and value.strip():
                table.setdefault(value.strip(), code)
    return table


def _place_lat_lon(
    feature: Mapping[str, object], props: Mapping[str, object], where: str
) -> tuple[float, float]:
    """The Point geometry, else the ``latitude``/``longitude`` properties."""
    geometry = feature.get("geometry")
    if geometry is not None:
        geo = c.as_mapping(geometry, f"{where}: geometry")
        if geo.get("type") != "Point":
            raise DataPackError(f"{where}: expected a Point geometry, got {geo.get('type')!r}")
        lon, lat = c.lon_lat(c.require(geo, "coordinates", where), f"{where}: coordinates")
        return lat, lon
    lat = c.require_number(props, "latitude", where)
    return c.check_lat_lon(lat, c.require_number(props, "longitude", where), where)


def _is_capital(props: Mapping[str, object]) -> bool:
    flag = props.get("adm0cap")
    if isinstance(flag, int | float) and not isinstance(flag, bool):
        return flag >= 1
    feature_class = props.get("featurecla")
    return isinstance(feature_class, str) and feature_class.startswith("Admin-0 capital")


def _population(props: Mapping[str, object]) -> int | None:
    pop = props.get("pop_max")
    if isinstance(pop, bool) or not isinstance(pop, int | float) or not math.isfinite(pop):
        return None
    return int(pop) if pop >= 0 else None


def populated_places(path: str | Path) -> tuple[Place, ...]:
    """Places from a ``ne_*_populated_places_simple.geojson`` file, in file order.

    Needs ``name`` and ``iso_a2`` (places whose ``iso_a2`` is not a two-letter code, e.g. "-99"
    for Pristina, are left out) and a Point geometry or ``latitude``/``longitude``. Capital:
    ``adm0cap`` >= 1, or ``featurecla`` "Admin-0 capital..." when ``adm0cap`` is absent.
    """
    file = Path(path)
    places: list[Place] = []
    for index_where, feature in c.features(c.load_json(file), str(file)):
        props = c.properties(feature, index_where, fold=True)
        where = _where(index_where, props)
        name = c.require_str(props, "name", where)
        c.require(props, "iso_a2", where)
        code = _code(props, "iso_a2")
        if code is None:
            continue
        lat, lon = _place_lat_lon(feature, props, where)
        places.append(Place(name, code, lat, lon, _population(props), _is_capital(props)))
    return tuple(places)
