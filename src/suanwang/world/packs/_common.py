"""Helpers shared by the pack loaders: reading files, narrowing JSON, identifiers, country names.

Every helper turns the low-level exceptions it meets (``OSError``, ``json.JSONDecodeError``,
``UnicodeDecodeError``) into :class:`DataPackError` naming the file. Problems with a caller's
*arguments* (not with the data) are plain ``ValueError``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TypeVar, cast

from pydantic import BaseModel, ValidationError

from suanwang.world.packs.errors import DataPackError

M = TypeVar("M", bound=BaseModel)

MAX_IDENTIFIER = 80
"""The core's ``Identifier`` length limit."""

IDENTIFIER_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ISO2_RE = re.compile(r"^[A-Z]{2}$")
_NON_ID = re.compile(r"[^a-z0-9]+")

COUNTRY_ALIASES: Mapping[str, str] = {
    "ascension and tristan da cunha": "SH",
    "bolivia": "BO",
    "bonaire, netherlands antilles": "BQ",
    "bonaire, saint eustatius and saba": "BQ",
    "brunei": "BN",
    "cape verde": "CV",
    "congo, dem. rep.": "CD",
    "congo, rep.": "CG",
    "curacao": "CW",
    "czech republic": "CZ",
    "hong kong": "HK",
    "kosovo": "XK",
    "macedonia": "MK",
    "micronesia": "FM",
    "moldova": "MD",
    "myanmar [burma]": "MM",
    "russia": "RU",
    "saint martin": "MF",
    "sint eustatius and saba": "BQ",
    "sint maarten": "SX",
    "turkey": "TR",
    "virgin islands (u.k.)": "VG",
    "virgin islands (u.s.)": "VI",
}
"""Country names used by the packs that ``pycountry.countries.lookup`` does not match.

Deliberately absent: "Netherlands Antilles" alone (dissolved in 2010 into CW, SX and BQ; no
single current code fits), so such records are skipped rather than guessed; "Bonaire,
Netherlands Antilles" is BQ.
"""

CountryResolver = Callable[[str], str | None]
"""Maps a country name to an ISO 3166-1 alpha-2 code, or ``None`` when it cannot."""


def read_bytes(path: Path) -> bytes:
    """The file's bytes; :class:`DataPackError` naming ``path`` when missing or unreadable."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise DataPackError(f"{path}: file not found") from exc
    except OSError as exc:
        raise DataPackError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def parse_json(data: bytes, source: str) -> object:
    """Decode UTF-8 JSON; malformed input raises :class:`DataPackError` with line and column."""
    try:
        return cast(object, json.loads(data.decode("utf-8-sig")))
    except UnicodeDecodeError as exc:
        raise DataPackError(f"{source}: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise DataPackError(
            f"{source}: line {exc.lineno} column {exc.colno}: malformed JSON ({exc.msg})"
        ) from exc


def load_json(path: Path) -> object:
    """Read and decode one JSON file (see :func:`read_bytes` and :func:`parse_json`)."""
    return parse_json(read_bytes(path), str(path))


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def as_mapping(value: object, where: str) -> Mapping[str, object]:
    """``value`` as a JSON object, or :class:`DataPackError` naming ``where``."""
    if not isinstance(value, dict):
        raise DataPackError(f"{where}: expected a JSON object, got {_kind(value)}")
    return cast(Mapping[str, object], value)


def as_list(value: object, where: str) -> list[object]:
    """``value`` as a JSON array, or :class:`DataPackError` naming ``where``."""
    if not isinstance(value, list):
        raise DataPackError(f"{where}: expected a JSON array, got {_kind(value)}")
    return cast(list[object], value)


def require(obj: Mapping[str, object], key: str, where: str) -> object:
    """``obj[key]``; a missing or null value raises :class:`DataPackError`."""
    value = obj.get(key)
    if value is None:
        raise DataPackError(f"{where}: property {key!r} is missing")
    return value


def require_str(obj: Mapping[str, object], key: str, where: str) -> str:
    """A required, non-blank string property (stripped)."""
    value = require(obj, key, where)
    if not isinstance(value, str) or not value.strip():
        raise DataPackError(f"{where}: property {key!r} must be a non-empty string")
    return value.strip()


def as_number(value: object, where: str) -> float:
    """A finite JSON number (booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataPackError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def require_number(obj: Mapping[str, object], key: str, where: str) -> float:
    """A required finite number property."""
    return as_number(require(obj, key, where), f"{where}: property {key!r}")


def check_lat_lon(lat: float, lon: float, where: str) -> tuple[float, float]:
    """``(lat, lon)`` unchanged when in range, else :class:`DataPackError`."""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise DataPackError(f"{where}: coordinates out of range (lat {lat}, lon {lon})")
    return lat, lon


def lon_lat(value: object, where: str) -> tuple[float, float]:
    """A GeoJSON position ``[lon, lat, ...]`` as ``(lon, lat)``, range-checked."""
    pos = as_list(value, where)
    if len(pos) < 2:
        raise DataPackError(f"{where}: a position needs [lon, lat], got {pos!r}")
    lon, lat = as_number(pos[0], where), as_number(pos[1], where)
    check_lat_lon(lat, lon, where)
    return lon, lat


def features(doc: object, source: str) -> Iterator[tuple[str, Mapping[str, object]]]:
    """The features of a GeoJSON FeatureCollection as ``(where, feature)`` pairs."""
    top = as_mapping(doc, source)
    for index, feature in enumerate(as_list(require(top, "features", source), source)):
        where = f"{source}: feature {index}"
        yield where, as_mapping(feature, where)


def properties(
    feature: Mapping[str, object], where: str, *, fold: bool = False
) -> dict[str, object]:
    """A feature's properties; with ``fold`` the keys are lower-cased (first spelling wins)."""
    props = as_mapping(require(feature, "properties", where), where)
    if not fold:
        return dict(props)
    folded: dict[str, object] = {}
    for key, value in props.items():
        folded.setdefault(key.lower(), value)
    return folded


def make_identifier(prefix: str, raw: str) -> str:
    """A core ``Identifier``: ``prefix`` + kebab slug of ``raw`` (ASCII-folded, lower-cased).

    Ids longer than 80 characters are cut and end in an 8-hex-digit hash of ``raw``, so they
    stay unique and deterministic.
    """
    ascii_raw = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    slug = _NON_ID.sub("-", ascii_raw.lower()).strip("-") or "x"
    ident = f"{prefix}{slug}"
    if len(ident) > MAX_IDENTIFIER:
        digest = hashlib.blake2s(raw.encode("utf-8"), digest_size=4).hexdigest()
        ident = f"{ident[: MAX_IDENTIFIER - 9].rstrip('-')}-{digest}"
    return ident


def check_prefix(prefix: str, argument: str) -> None:
    """``ValueError`` unless ``prefix`` is a valid identifier start."""
    if not IDENTIFIER_RE.match(prefix) or len(prefix) > MAX_IDENTIFIER // 2:
        raise ValueError(f"{argument} {prefix!r} must be lowercase kebab-case, at most 40 chars")


def normalize_name(name: str) -> str:
    """Case- and whitespace-insensitive key for country names."""
    return " ".join(name.split()).casefold()


def is_iso2(code: str) -> bool:
    """True for an uppercase two-letter code."""
    return bool(_ISO2_RE.match(code))


@lru_cache(maxsize=1024)
def fallback_country(name: str) -> str | None:
    """ISO2 for a country name: :data:`COUNTRY_ALIASES`, then ``pycountry`` when importable."""
    alias = COUNTRY_ALIASES.get(normalize_name(name))
    if alias is not None:
        return alias
    try:
        import pycountry
    except ImportError:
        return None
    try:
        code = str(pycountry.countries.lookup(" ".join(name.split())).alpha_2)
    except LookupError:
        return None
    return code if is_iso2(code) else None


def country_resolver(country_codes: Mapping[str, str] | None) -> CountryResolver:
    """A name -> ISO2 function: ``country_codes`` alone when given, else :func:`fallback_country`.

    Names match case- and whitespace-insensitively. ``ValueError`` when a mapped value is not
    an uppercase two-letter code.
    """
    if country_codes is None:
        return fallback_country
    table: dict[str, str] = {}
    for name, code in country_codes.items():
        if not is_iso2(code):
            raise ValueError(
                f"country_codes[{name!r}] = {code!r} is not an ISO 3166-1 alpha-2 code"
            )
        table[normalize_name(name)] = code
    return lambda name: table.get(normalize_name(name))


def build(model: type[M], where: str, fields: Mapping[str, object]) -> M:
    """Validate ``fields`` into ``model``; a validation failure becomes :class:`DataPackError`."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or model.__name__
        raise DataPackError(f"{where}: {field}: {first['msg']}") from exc
