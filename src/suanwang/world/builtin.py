"""Load the built-in world shipped as package data, or a world file given by path."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from suanwang.core.errors import SuanwangError
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World

BUILTIN_RESOURCE = "data/world.json"


class WorldFileError(SuanwangError, ValueError):
    """A world file could not be read or does not describe a valid world."""


def _parse(text: str, origin: str) -> World:
    try:
        world = World.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WorldFileError(
            f"{origin}: {exc.error_count()} invalid value(s); first at {where}: {first['msg']}"
        ) from exc
    return world.check(UNIT_TABLE)


@lru_cache(maxsize=1)
def load_builtin_world() -> World:
    """The world shipped inside the package (integrity-checked; cached)."""
    text = resources.files("suanwang.world").joinpath(BUILTIN_RESOURCE).read_text("utf-8")
    return _parse(text, "built-in world")


def load_world_file(path: Path) -> World:
    """A world from a JSON file in the built-in format; errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorldFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return _parse(text, str(path))
