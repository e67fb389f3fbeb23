"""TeleGeography Submarine Cable Map (v2 API files) -> landing points, cable systems and routes.

LICENCE: the TeleGeography data is **CC BY-NC-SA 3.0** (NonCommercial, ShareAlike). It is never
shipped with Suanwang (Apache-2.0) and nothing in the package requires it: users download it
themselves and point :func:`load_telegeography` at the folder. Anything derived from it inherits
NonCommercial + ShareAlike; show users :data:`TELEGEOGRAPHY_ATTRIBUTION`.

The folder holds (names as in ``shared/data/submarine-cables/SOURCE.md``):

* ``landing-point-geo.json`` (required): GeoJSON Points with ``slug``, ``name``, ``id``.
* ``cable-all.json`` (required): array of ``{"id": slug, "cable_id", "name"}``.
* ``cable-geo.json`` (required): GeoJSON MultiLineStrings with ``slug``: the drawn routes.
* ``cables-per-cable.tar.gz`` (optional): ``cable/<slug>.json`` with ``length``, ``rfs``,
  ``owners``, ``notes``, ``url`` and ``landing_points``. Without it no :class:`CableSystem` can
  be built (landings and ready-for-service year live only there): ``cables`` is empty, every
  cable is listed in ``skipped``, and landing points and routes are still loaded.

What the source lacks, and what this loader puts instead (each cable's ``note`` says which):

* capacity: not published in v2 -> :data:`UNKNOWN_CAPACITY_TBPS` and "capacity not in source".
* status: not published in v2 -> inferred from the ready-for-service year: ``in-service`` when
  ``rfs <= as_of_year`` (default :data:`SNAPSHOT_YEAR`), else ``planned``. The files carry no
  retirement flag, so no cable is marked ``retired``.
* length: the stated length ("6,605 km"); where it is "n.a." the length of the drawn route is used
  ("length from drawn route"); with neither, the cable is skipped.
* rfs "n.a.": the cable is skipped. Landing references that cannot be resolved are dropped (the
  note counts them); a cable left with fewer than two landings is skipped.
* country: TeleGeography gives names ("Bilbao, Spain"), not codes. The last comma-separated part
  (or the last two, for "Congo, Dem. Rep.") is mapped through ``country_codes`` when given, else
  through a small alias table and ``pycountry`` when importable. Unresolved landings are skipped.
* duplicates: the source repeats some landing points (same slug and id, metres apart); the first
  feature is kept.
* placeholders: landings such as "t.b.d., United States" are kept as published; their
  coordinates stand in for a site not yet chosen.

Identifiers: cables become ``tg-<slug>`` and landings ``tg-lp-<slug>`` (ASCII kebab case, cut to
80 characters with a hash suffix where longer). Routes are ``(lat, lon)`` polylines.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType

from suanwang.core.errors import UnknownIdError
from suanwang.core.geo import great_circle_km
from suanwang.core.network.model import CableStatus, CableSystem, LandingPoint
from suanwang.world.packs import _common as c
from suanwang.world.packs.errors import DataPackError

TELEGEOGRAPHY_LICENCE = "CC BY-NC-SA 3.0"
TELEGEOGRAPHY_ATTRIBUTION = (
    "Submarine cable data © TeleGeography, Submarine Cable Map (https://www.submarinecablemap.com),"
    " licensed CC BY-NC-SA 3.0 (https://creativecommons.org/licenses/by-nc-sa/3.0/)."
)
UNKNOWN_CAPACITY_TBPS = 1.0
"""Placeholder design capacity: the v2 files publish none. Not a measurement."""
SNAPSHOT_YEAR = 2021
"""Year of the public snapshot (June 2021); the default ``as_of_year`` for status inference."""
CABLE_PREFIX = "tg-"
LANDING_PREFIX = "tg-lp-"
DETAILS_ARCHIVE = "cables-per-cable.tar.gz"
_SOURCE = "TeleGeography Submarine Cable Map v2 (CC BY-NC-SA 3.0)"
_LENGTH_RE = re.compile(r"^\s*(\d[\d,]*(?:\.\d+)?)\s*km\s*$", re.IGNORECASE)
_YEAR_RE = re.compile(r"^\s*(\d{4})\b")

Polyline = tuple[tuple[float, float], ...]
"""One drawn line as ``(lat, lon)`` points."""
Route = tuple[Polyline, ...]
"""All lines drawn for one cable system (branches are separate polylines)."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record left out: ``kind`` is ``"landing"`` or ``"cable"``; ``source_id`` its slug."""

    kind: str
    source_id: str
    reason: str


@dataclass(frozen=True)
class TeleGeographyPack:
    """Everything loaded from one TeleGeography folder (CC BY-NC-SA 3.0; see module docstring).

    ``routes`` maps a cable identifier (``tg-<slug>``) to its drawn polylines; it may hold routes
    for cables absent from ``cables`` (e.g. skipped ones). ``skipped`` lists what was left out.
    """

    landing_points: tuple[LandingPoint, ...]
    cables: tuple[CableSystem, ...]
    routes: Mapping[str, Route]
    skipped: tuple[Skipped, ...] = ()
    attribution: str = field(default=TELEGEOGRAPHY_ATTRIBUTION)

    def cable(self, cable_id: str) -> CableSystem:
        """The cable with this identifier (``tg-marea``) or source slug (``marea``)."""
        wanted = {cable_id, cable_identifier(cable_id)}
        for cable in self.cables:
            if cable.id in wanted:
                return cable
        raise UnknownIdError("cable", cable_id, (x.id for x in self.cables))


def cable_identifier(slug: str) -> str:
    """The core identifier of a TeleGeography cable slug: ``tg-<slug>``."""
    return c.make_identifier(CABLE_PREFIX, slug)


def landing_identifier(slug: str) -> str:
    """The core identifier of a TeleGeography landing-point slug: ``tg-lp-<slug>``."""
    return c.make_identifier(LANDING_PREFIX, slug)


def route_length_km(pack: TeleGeographyPack, cable_id: str) -> float:
    """Sum of great-circle lengths along every drawn polyline of one cable, in km.

    ``cable_id`` is the identifier (``tg-marea``) or the source slug (``marea``). Drawn routes
    are approximate (TeleGeography draws them by hand). ``UnknownIdError`` without a route.
    """
    route = pack.routes.get(cable_id) or pack.routes.get(cable_identifier(cable_id))
    if route is None:
        raise UnknownIdError("cable route", cable_id, pack.routes)
    return _route_km(route)


def _route_km(route: Route) -> float:
    return sum(great_circle_km(a[0], a[1], b[0], b[1]) for line in route for a, b in pairwise(line))


def load_telegeography(
    directory: str | Path,
    *,
    country_codes: Mapping[str, str] | None = None,
    as_of_year: int = SNAPSHOT_YEAR,
) -> TeleGeographyPack:
    """Load a TeleGeography v2 folder (see the module docstring for files and substitutions).

    ``country_codes`` maps country names as TeleGeography spells them ("United States") to ISO2.
    Raises :class:`DataPackError` (naming the file) for a missing required file or malformed
    content; ``ValueError`` for a bad argument.
    """
    if not 1850 <= as_of_year <= 2100:
        raise ValueError(f"as_of_year {as_of_year} is outside 1850..2100")
    folder = Path(directory)
    if not folder.is_dir():
        raise DataPackError(f"{folder}: not a folder (expected the TeleGeography v2 files)")
    resolve = c.country_resolver(country_codes)
    landings, by_ref, skipped = _load_landings(folder / "landing-point-geo.json", resolve)
    names = _load_cable_list(folder / "cable-all.json")
    routes = _load_routes(folder / "cable-geo.json", set(names))
    cables, cable_skips = _build_cables(folder / DETAILS_ARCHIVE, names, by_ref, routes, as_of_year)
    return TeleGeographyPack(
        landing_points=tuple(landings),
        cables=tuple(cables),
        routes=MappingProxyType(routes),
        skipped=(*skipped, *cable_skips),
    )


def _build_cables(
    archive: Path,
    names: Mapping[str, str],
    by_ref: Mapping[str, str],
    routes: Mapping[str, Route],
    as_of_year: int,
) -> tuple[tuple[CableSystem, ...], list[Skipped]]:
    """Cable systems from the optional per-cable archive, and the cables skipped."""
    if not archive.exists():
        reason = f"no {DETAILS_ARCHIVE}: landings and ready-for-service year unknown"
        return (), [Skipped("cable", slug, reason) for slug in names]
    details = _load_details(archive)
    squashed = {key.replace("-", ""): record for key, record in details.items()}
    cables: list[CableSystem] = []
    skipped: list[Skipped] = []
    for slug, name in names.items():
        record = details.get(slug) or squashed.get(slug.replace("-", ""))
        if record is None:
            skipped.append(Skipped("cable", slug, f"not in {DETAILS_ARCHIVE}"))
            continue
        where = f"{archive}: cable/{slug}.json"
        made = _build_cable(slug, name, record, by_ref, routes, as_of_year, where)
        if isinstance(made, Skipped):
            skipped.append(made)
        else:
            cables.append(made)
    return tuple(cables), skipped


def _landing_country(name: str, resolve: Callable[[str], str | None]) -> str | None:
    parts = [p.strip() for p in name.split(",") if p.strip()]
    for take in (1, 2):
        if len(parts) >= take:
            code = resolve(", ".join(parts[-take:]))
            if code is not None:
                return code
    return None


def _load_landings(
    path: Path, resolve: Callable[[str], str | None]
) -> tuple[list[LandingPoint], dict[str, str], list[Skipped]]:
    """Landing points, a map from source refs (numeric id and slug) to identifiers, skips."""
    landings: list[LandingPoint] = []
    by_ref: dict[str, str] = {}
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for where, feature in c.features(c.load_json(path), str(path)):
        props = c.properties(feature, where)
        slug, name = c.require_str(props, "slug", where), c.require_str(props, "name", where)
        if slug in seen:
            continue  # the source repeats some points (same slug and id, metres apart)
        seen.add(slug)
        geometry = c.as_mapping(c.require(feature, "geometry", where), f"{where}: geometry")
        lon, lat = c.lon_lat(c.require(geometry, "coordinates", where), f"{where}: coordinates")
        ident = landing_identifier(slug)
        country = _landing_country(name, resolve)
        if country is None:
            skipped.append(Skipped("landing", slug, f"country of {name!r} not resolved"))
            continue
        fields = {"id": ident, "name": name, "country": country, "lat": lat, "lon": lon}
        landings.append(c.build(LandingPoint, where, fields))
        by_ref[slug] = ident
        if props.get("id") is not None:  # placeholders share the id of a real station
            by_ref.setdefault(f"#{props['id']}", ident)
    return landings, by_ref, skipped


def _load_cable_list(path: Path) -> dict[str, str]:
    """Slug -> name from ``cable-all.json`` (order kept)."""
    names: dict[str, str] = {}
    for index, item in enumerate(c.as_list(c.load_json(path), str(path))):
        where = f"{path}: entry {index}"
        entry = c.as_mapping(item, where)
        slug = c.require_str(entry, "id", where)
        names[slug] = c.require_str(entry, "name", where)
    return names


def _route_slug(slug: str, known: set[str], squashed: Mapping[str, str]) -> str:
    """The cable-list slug a geometry slug belongs to (hyphen-insensitive fallback)."""
    return slug if slug in known else squashed.get(slug.replace("-", ""), slug)


def _load_routes(path: Path, known: set[str]) -> dict[str, Route]:
    """Cable identifier -> ``(lat, lon)`` polylines from ``cable-geo.json``.

    A cable may have several features; their lines are concatenated. Slugs that differ from the
    cable list only by hyphens (the source has "saba-statia" vs "sabastatia") are matched, here
    and for the per-cable files.
    """
    squashed = {slug.replace("-", ""): slug for slug in known}
    routes: dict[str, list[Polyline]] = {}
    for where, feature in c.features(c.load_json(path), str(path)):
        slug = c.require_str(c.properties(feature, where), "slug", where)
        geometry = c.as_mapping(c.require(feature, "geometry", where), f"{where}: geometry")
        kind = geometry.get("type")
        if kind not in ("MultiLineString", "LineString"):
            raise DataPackError(f"{where}: expected a (Multi)LineString, got {kind!r}")
        coords = c.require(geometry, "coordinates", f"{where}: geometry")
        lines = c.as_list(coords, where) if kind == "MultiLineString" else [coords]
        polylines = routes.setdefault(cable_identifier(_route_slug(slug, known, squashed)), [])
        for line in lines:
            points = (c.lon_lat(p, f"{where}: coordinates") for p in c.as_list(line, where))
            polylines.append(tuple((lat, lon) for lon, lat in points))
    return {ident: tuple(lines) for ident, lines in routes.items()}


def _load_details(archive: Path) -> dict[str, Mapping[str, object]]:
    """Per-cable JSON objects from the tarball, keyed by their ``id`` slug."""
    details: dict[str, Mapping[str, object]] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if not (member.isfile() and member.name.endswith(".json")):
                    continue
                where = f"{archive}: {member.name}"
                handle = tar.extractfile(member)
                data = handle.read() if handle is not None else b""
                record = c.as_mapping(c.parse_json(data, where), where)
                details[c.require_str(record, "id", where)] = record
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise DataPackError(f"{archive}: not a readable .tar.gz ({exc})") from exc
    return details


def _parse_length(value: object) -> float | None:
    match = _LENGTH_RE.match(value) if isinstance(value, str) else None
    length = float(match.group(1).replace(",", "")) if match else None
    return length if length is not None and length > 0 else None


def _parse_year(value: object) -> int | None:
    match = _YEAR_RE.match(value) if isinstance(value, str) else None
    year = int(match.group(1)) if match else None
    return year if year is not None and 1850 <= year <= 2100 else None


def _landing_refs(
    record: Mapping[str, object], by_ref: Mapping[str, str], where: str
) -> tuple[list[str], int]:
    """Resolved landing identifiers (deduplicated, in order) and the count left unresolved.

    A reference resolves by its slug (``id``), else by its numeric ``landing_point_id``.
    """
    resolved: list[str] = []
    missing = 0
    for index, item in enumerate(c.as_list(c.require(record, "landing_points", where), where)):
        entry = c.as_mapping(item, f"{where}: landing_points[{index}]")
        ident = by_ref.get(str(entry.get("id"))) or by_ref.get(f"#{entry.get('landing_point_id')}")
        if ident is None:
            missing += 1
        elif ident not in resolved:
            resolved.append(ident)
    return resolved, missing


def _build_cable(
    slug: str,
    name: str,
    record: Mapping[str, object],
    by_ref: Mapping[str, str],
    routes: Mapping[str, Route],
    as_of_year: int,
    where: str,
) -> CableSystem | Skipped:
    """One :class:`CableSystem`, or why it was skipped (see the module docstring)."""
    ident = cable_identifier(slug)
    notes = ["capacity not in source", f"status inferred from rfs year (as of {as_of_year})"]
    rfs = _parse_year(record.get("rfs"))
    if rfs is None:
        return Skipped("cable", slug, f"no ready-for-service year ({record.get('rfs')!r})")
    length = _parse_length(record.get("length"))
    if length is None and ident in routes and _route_km(routes[ident]) > 0:
        length = _route_km(routes[ident])
        notes.append("length from drawn route")
    if length is None:
        return Skipped("cable", slug, f"no length ({record.get('length')!r}) and no route")
    landings, missing = _landing_refs(record, by_ref, where)
    if len(landings) < 2:
        return Skipped("cable", slug, f"{len(landings)} resolvable landing(s)")
    if missing:
        notes.append(f"{missing} landing(s) omitted (unresolved)")
    if isinstance(record.get("notes"), str) and str(record["notes"]).strip():
        notes.append(str(record["notes"]).strip())
    owners = record.get("owners")
    url = record.get("url")
    fields = {
        "id": ident,
        "name": name,
        "length_km": length,
        "capacity_tbps": UNKNOWN_CAPACITY_TBPS,
        "rfs": rfs,
        "status": CableStatus.IN_SERVICE if rfs <= as_of_year else CableStatus.PLANNED,
        "owners": tuple(o.strip() for o in owners.split(",") if o.strip())
        if isinstance(owners, str)
        else (),
        "landings": tuple(landings),
        "source": f"{_SOURCE}; {url}" if isinstance(url, str) and url.strip() else _SOURCE,
        "note": "; ".join(notes),
    }
    return c.build(CableSystem, where, fields)
