"""Schema of the hand-compiled fact files in ``scripts/world_facts/`` (TOML).

The build script validates every file against these models before assembling the world, so a
typo in a fact file is reported with its file, record and field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator

from suanwang.core.base import ISO2, Frozen, Identifier, Latitude, Longitude
from suanwang.core.errors import SuanwangError
from suanwang.core.network.model import CableStatus
from suanwang.core.sites import SiteKind
from suanwang.core.units import ComputeClass


class PoolFact(Frozen):
    """A pool as compiled: devices of one model and a price per *device*-hour in USD."""

    compute_class: ComputeClass = Field(alias="class")
    model: Identifier
    count: int = Field(gt=0)
    price_usd_per_device_hour: float = Field(gt=0.0)


class SiteFact(Frozen):
    id: Identifier
    name: str = Field(min_length=1)
    city: str = Field(min_length=1)
    country: ISO2
    lat: Latitude
    lon: Longitude
    kind: SiteKind
    operator: str = Field(min_length=1)
    pue: float = Field(ge=1.0, le=3.0)
    grid_zone: str = Field(min_length=2)
    jurisdiction: tuple[str, ...] = Field(min_length=1)
    source: str = ""
    note: str = ""
    pool: tuple[PoolFact, ...] = Field(min_length=1)


class BackboneFact(Frozen):
    """A terrestrial backbone between two sites; ``via`` lists transit countries."""

    a: Identifier
    b: Identifier
    capacity_gbps: float | None = Field(default=None, gt=0.0)
    via: tuple[ISO2, ...] = ()
    name: str = ""


class LandingFact(Frozen):
    id: Identifier
    name: str = Field(min_length=1)
    country: ISO2
    lat: Latitude
    lon: Longitude


Segment = (
    tuple[Identifier, Identifier] | tuple[Identifier, Identifier, Annotated[float, Field(gt=0)]]
)


class CableFact(Frozen):
    id: Identifier
    name: str = Field(min_length=1)
    length_km: float = Field(gt=0.0)
    capacity_tbps: float = Field(gt=0.0)
    rfs: int = Field(ge=1850, le=2100)
    status: CableStatus
    owners: tuple[str, ...] = ()
    corridors: tuple[Identifier, ...] = ()
    source: str = Field(min_length=1)
    note: str = ""
    landings: tuple[Identifier, ...] = Field(min_length=2)
    segments: tuple[Segment, ...] = Field(min_length=1)

    @field_validator("segments")
    @classmethod
    def _segments_use_own_landings(
        cls, segments: tuple[Segment, ...], info: ValidationInfo
    ) -> tuple[Segment, ...]:
        landings = set(info.data.get("landings", ()))
        for seg in segments:
            for end in seg[:2]:
                if landings and end not in landings:
                    raise ValueError(f"segment end {end!r} is not in this cable's landings")
        return segments


class SitesFile(Frozen):
    site: tuple[SiteFact, ...]


class BackbonesFile(Frozen):
    backbone: tuple[BackboneFact, ...]


class CablesFile(Frozen):
    landing: tuple[LandingFact, ...]
    cable: tuple[CableFact, ...]


class FactsError(SuanwangError, ValueError):
    """A fact file is missing, is not TOML, or breaks the schema (message names file and field)."""


M = TypeVar("M", bound=BaseModel)


def load_facts_file(path: Path, model: type[M]) -> M:
    """Parse and validate one TOML fact file against ``model``."""
    try:
        return model.model_validate(tomllib.loads(path.read_text("utf-8")))
    except OSError as exc:
        raise FactsError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise FactsError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]]
        raise FactsError(
            f"{path}: {exc.error_count()} invalid value(s)\n" + "\n".join(lines)
        ) from exc


def load_facts(folder: Path) -> tuple[SitesFile, BackbonesFile, CablesFile]:
    """The three fact files of ``folder``: sites.toml, backbones.toml, cables.toml."""
    return (
        load_facts_file(folder / "sites.toml", SitesFile),
        load_facts_file(folder / "backbones.toml", BackbonesFile),
        load_facts_file(folder / "cables.toml", CablesFile),
    )
