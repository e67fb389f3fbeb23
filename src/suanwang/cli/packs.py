"""`suanwang world pack KIND PATH`: check what an optional data pack holds before using it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from suanwang.cli.output import JsonOption, console, emit_json, fail
from suanwang.core.errors import SuanwangError
from suanwang.world.builtin import load_builtin_world
from suanwang.world.packs import (
    NATURAL_EARTH_ATTRIBUTION,
    TELEGEOGRAPHY_ATTRIBUTION,
    ZOO_ATTRIBUTION,
    label_points,
    list_networks,
    load_network,
    load_telegeography,
    populated_places,
    route_length_km,
)
from suanwang.world.packs.world_bank import ATTRIBUTION as WORLD_BANK_ATTRIBUTION
from suanwang.world.packs.world_bank import load_world_bank


class PackKind(StrEnum):
    TELEGEOGRAPHY = "telegeography"
    TOPOLOGY_ZOO = "topology-zoo"
    NATURAL_EARTH = "natural-earth"
    WORLD_BANK = "world-bank"


def _telegeography(path: Path, _: str | None) -> dict[str, Any]:
    pack = load_telegeography(path)
    longest = max(pack.cables, key=lambda c: c.length_km, default=None)
    return {
        "landing_points": len(pack.landing_points),
        "cables": len(pack.cables),
        "routes": len(pack.routes),
        "skipped": len(pack.skipped),
        "longest_cable": None
        if longest is None
        else {
            "id": longest.id,
            "name": longest.name,
            "length_km": longest.length_km,
            "route_km": round(route_length_km(pack, longest.id), 1)
            if longest.id in pack.routes
            else None,
        },
        "attribution": TELEGEOGRAPHY_ATTRIBUTION,
    }


def _topology_zoo(path: Path, network: str | None) -> dict[str, Any]:
    if path.is_dir():
        path = path / "graphml.tar.gz"
    names = list_networks(path)
    out: dict[str, Any] = {"networks": len(names), "attribution": ZOO_ATTRIBUTION}
    if network is None:
        out["names"] = list(names)
        return out
    net = load_network(path, network)
    out["network"] = {
        "name": net.name,
        "nodes": len(net.nodes),
        "located_nodes": len(net.located_nodes()),
        "edges": len(net.edges),
    }
    return out


def _natural_earth(path: Path, _: str | None) -> dict[str, Any]:
    folder = path if path.is_dir() else path.parent
    points = label_points(folder / "ne_110m_admin_0_countries.geojson")
    places = populated_places(folder / "ne_50m_populated_places_simple.geojson")
    return {
        "country_label_points": len(points),
        "populated_places": len(places),
        "capitals": sum(p.is_capital for p in places),
        "attribution": NATURAL_EARTH_ATTRIBUTION,
    }


def _world_bank(path: Path, _: str | None) -> dict[str, Any]:
    iso = {c.iso3: c.code for c in load_builtin_world().countries} | {"XKX": "XK"}
    countries, skipped = load_world_bank(path, iso)
    return {
        "countries": len(countries),
        "skipped_iso3": skipped,
        "with_internet_users": sum(c.internet_users_pct is not None for c in countries),
        "attribution": WORLD_BANK_ATTRIBUTION,
    }


_LOADERS = {
    PackKind.TELEGEOGRAPHY: _telegeography,
    PackKind.TOPOLOGY_ZOO: _topology_zoo,
    PackKind.NATURAL_EARTH: _natural_earth,
    PackKind.WORLD_BANK: _world_bank,
}


def pack(
    kind: PackKind = typer.Argument(..., help="Which data pack the folder holds."),
    path: Path = typer.Argument(..., help="The pack's folder (or archive for topology-zoo)."),
    network: str | None = typer.Option(
        None, "--network", help="topology-zoo: load this network (e.g. Geant2012)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Load an optional data pack from PATH and report what it holds (nothing is shipped)."""
    try:
        report = {"kind": kind.value, "path": str(path), **_LOADERS[kind](path, network)}
    except SuanwangError as exc:
        fail(str(exc))
    if as_json:
        emit_json(report)
        return
    table = Table(
        show_header=False, box=None, title=f"{kind.value} pack at {path}", title_justify="left"
    )
    for key, value in report.items():
        if key not in {"kind", "path", "names", "attribution"}:
            table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    if "names" in report:
        console.print("networks: " + ", ".join(report["names"]), highlight=False)
    console.print(f"[dim]{report['attribution']}[/]", highlight=False)
