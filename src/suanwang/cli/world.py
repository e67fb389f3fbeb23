"""`suanwang world ...`: browse the built-in world (or a world file given with --world)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.table import Column, Table

from suanwang.cli.output import JsonOption, console, emit_json, fail
from suanwang.cli.packs import pack
from suanwang.cli.worldfile import WorldOption, load_world, remember_world
from suanwang.core.countries import IncomeGroup
from suanwang.core.errors import UnknownIdError
from suanwang.core.sites import Site, SiteKind
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World

app = typer.Typer(help="Browse the world: sites, cables, countries.", no_args_is_help=True)
app.command(name="pack")(pack)


@app.callback()
def _world(ctx: typer.Context, world_file: Path | None = WorldOption) -> None:
    remember_world(ctx, world_file)


def _load(ctx: typer.Context) -> World:
    return load_world(ctx)


@app.command()
def summary(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Headline counts: sites, cables, links, countries and capacity per class."""
    world = _load(ctx)
    s = world.summary(UNIT_TABLE)
    if as_json:
        emit_json(s)
        return
    regions = {c.code: c.region or "?" for c in world.countries}
    by_region = Counter(regions.get(site.country, "?") for site in world.sites)
    console.print(f"[bold]Suanwang world {s.version}[/] (unit table {s.unit_table_version})")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("sites", f"{s.sites} in {s.site_countries} countries", _fmt(s.sites_by_kind))
    table.add_row("submarine cables", str(s.submarine_cables), f"{s.landing_points} landings")
    table.add_row("links", str(s.links), _fmt(s.links_by_kind))
    table.add_row("countries", str(s.countries), "World Bank WDI + Natural Earth")
    for cls, amount in s.capacity.items():
        table.add_row(f"{cls.value} capacity", f"{amount:,.0f}", UNIT_TABLE.unit(cls).symbol)
    console.print(table)
    console.print("sites by region: " + _fmt(dict(sorted(by_region.items()))))


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def _site_row(site: Site) -> dict[str, Any]:
    capacity = {c.value: q.amount for c, q in site.capacity(UNIT_TABLE).items()}
    return {**site.model_dump(mode="json"), "capacity": capacity}


@app.command()
def sites(
    ctx: typer.Context,
    country: str | None = typer.Option(None, "--country", help="ISO alpha-2 code, e.g. CN."),
    kind: SiteKind | None = typer.Option(None, "--kind", help="Only sites of this kind."),
    as_json: bool = JsonOption,
) -> None:
    """List compute sites, optionally filtered by country and kind."""
    world = _load(ctx)
    if country is not None:
        try:
            country = world.country(country).code
        except UnknownIdError as exc:
            fail(str(exc))
    chosen = [
        s
        for s in world.sites
        if (country is None or s.country == country) and (kind is None or s.kind is kind)
    ]
    if as_json:
        emit_json([_site_row(s) for s in chosen])
        return
    table = Table(title=f"{len(chosen)} sites", title_justify="left")
    for col in ("id", "name", "city", "country", "kind", "PUE", "pools"):
        table.add_column(col, no_wrap=col == "id")
    for s in chosen:
        pools = ", ".join(f"{p.count}x {p.model} ({p.compute_class.value})" for p in s.pools)
        table.add_row(s.id, s.name, s.city, s.country, s.kind.value, f"{s.pue:.2f}", pools)
    console.print(table)


@app.command()
def site(
    ctx: typer.Context, site_id: str = typer.Argument(..., metavar="ID"), as_json: bool = JsonOption
) -> None:
    """Show one site: location, operator, power, pools and links."""
    world = _load(ctx)
    try:
        s = world.site(site_id)
    except UnknownIdError as exc:
        fail(str(exc))
    links = [link for link in world.links if s.id in (link.a, link.b)]
    if as_json:
        emit_json({**_site_row(s), "links": [link.model_dump(mode="json") for link in links]})
        return
    console.print(f"[bold]{s.name}[/] ({s.id}) - {s.kind.value} site in {s.city}, {s.country}")
    console.print(
        f"operator {s.operator}; PUE {s.pue:.2f}; grid zone {s.grid_zone}; "
        f"jurisdiction {', '.join(s.jurisdiction)}; at {s.lat:.3f}, {s.lon:.3f}"
    )
    pools = Table(
        "class",
        "model",
        "devices",
        "units",
        "price per unit-hour",
        title="pools",
        title_justify="left",
    )
    for p in s.pools:
        unit = UNIT_TABLE.unit(p.compute_class).symbol
        pools.add_row(
            p.compute_class.value,
            p.model,
            str(p.count),
            f"{p.capacity(UNIT_TABLE).amount:,.1f} {unit}",
            f"{p.price_per_unit_hour_micros / 1e6:.6f} {p.currency}",
        )
    console.print(pools)
    table = Table("kind", "to", "km", "Gbps", title="links", title_justify="left")
    table.columns.insert(0, Column("link", no_wrap=True))
    for link in links:
        other = link.b if link.a == s.id else link.a
        table.add_row(
            link.id, link.kind.value, other, f"{link.length_km:,.0f}", f"{link.capacity_gbps:,.0f}"
        )
    console.print(table)
    if s.source:
        console.print(f"source: {s.source}", highlight=False)


@app.command()
def cables(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List submarine cable systems with their length, capacity and corridors."""
    world = _load(ctx)
    rows = [
        {**c.model_dump(mode="json"), "segments": len(world.cable_links(c.id))}
        for c in world.cables
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table(
        "id",
        "name",
        "km",
        "Tbps",
        "RFS",
        "status",
        "landings",
        "corridors",
        title=f"{len(rows)} submarine cable systems",
        title_justify="left",
    )
    for c in world.cables:
        table.add_row(
            c.id,
            c.name,
            f"{c.length_km:,.0f}",
            f"{c.capacity_tbps:g}",
            str(c.rfs),
            c.status.value,
            str(len(c.landings)),
            ", ".join(c.corridors),
        )
    console.print(table)


@app.command()
def cable(
    ctx: typer.Context,
    cable_id: str = typer.Argument(..., metavar="ID"),
    as_json: bool = JsonOption,
) -> None:
    """Show one cable system and its segments."""
    world = _load(ctx)
    try:
        c = world.cable(cable_id)
    except UnknownIdError as exc:
        fail(str(exc))
    segments = world.cable_links(c.id)
    if as_json:
        emit_json(
            {**c.model_dump(mode="json"), "segments": [s.model_dump(mode="json") for s in segments]}
        )
        return
    console.print(
        f"[bold]{c.name}[/] ({c.id}): {c.length_km:,.0f} km, {c.capacity_tbps:g} Tbps, "
        f"RFS {c.rfs}, {c.status.value}"
    )
    table = Table(
        Column("segment", no_wrap=True),
        "from",
        "to",
        "km",
        Column("shared-risk groups", overflow="fold"),
    )
    for s in segments:
        table.add_row(s.id, s.a, s.b, f"{s.length_km:,.0f}", ", ".join(s.srlgs))
    console.print(table)
    console.print(f"source: {c.source}", highlight=False)


@app.command()
def countries(
    ctx: typer.Context,
    income: IncomeGroup | None = typer.Option(None, "--income", help="Only this income group."),
    as_json: bool = JsonOption,
) -> None:
    """List countries with income group and connectivity indicators (World Bank WDI)."""
    world = _load(ctx)
    chosen = [c for c in world.countries if income is None or c.income_group is income]
    if as_json:
        emit_json(chosen)
        return
    table = Table(
        "code",
        "name",
        "income",
        "population",
        "GNI/cap US$",
        "internet %",
        "broadband /100",
        title=f"{len(chosen)} countries",
        title_justify="left",
    )

    def val(ind: Any, fmt: str) -> str:
        return "-" if ind is None else format(ind.value, fmt)

    for c in chosen:
        table.add_row(
            c.code,
            c.name,
            c.income_group.value,
            val(c.population, ",.0f"),
            val(c.gni_per_capita_usd, ",.0f"),
            val(c.internet_users_pct, ".1f"),
            val(c.fixed_broadband_per_100, ".1f"),
        )
    console.print(table)
