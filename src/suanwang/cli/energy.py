"""`suanwang energy ...`: power, carbon and price signals per site and zone, and task accounting.

Signals come from the data shipped in the package (annual factors, China's provincial factors
and tariffs, price profiles) shaped into hours; optional packs (``--pack PATH`` or
``SUANWANG_ENERGY_PACKS``) replace them with measured hourly data. Every output says which.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import typer
from pydantic import ValidationError
from rich.table import Column, Table

from suanwang.cli.output import JsonOption, console, emit_json, fail
from suanwang.cli.worldfile import WorldOption, load_world, remember_world
from suanwang.core.energy.accounting import TaskAccount, TaskUsage, account_tasks
from suanwang.core.energy.clock import epoch_hour, hour_start, year_hours
from suanwang.core.energy.forecast import (
    FORECASTER_SPECS,
    GaussianError,
    backtest,
    parse_forecaster,
)
from suanwang.core.energy.signals import SignalBook, ZoneSignals, builtin_book
from suanwang.core.energy.windows import WindowReport, find_windows
from suanwang.core.errors import SuanwangError, UnknownIdError, closest_matches
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World
from suanwang.world.packs.electricity import EnergyPack, PackUse, apply_packs, load_energy_pack

app = typer.Typer(
    help="Energy and carbon: site signals, green windows, per-task accounting.",
    no_args_is_help=True,
)

PackOption = typer.Option(
    None,
    "--pack",
    help="Energy data pack folder (hourly carbon/prices, annual averages); repeatable. "
    "Also read from SUANWANG_ENERGY_PACKS (paths separated by ':').",
)
AtOption = typer.Option(
    None,
    "--at",
    help="Start time, ISO 8601 (e.g. 2026-11-22T08:00Z; no zone means UTC). Default: now.",
)


@dataclass
class EnergyWorld:
    """The world, its signal book (packs applied) and what the packs supplied."""

    world: World
    book: SignalBook
    uses: list[PackUse]
    attributions: list[str]


@app.callback()
def _energy(
    ctx: typer.Context,
    world_file: Path | None = WorldOption,
    packs: list[Path] | None = PackOption,
) -> None:
    remember_world(ctx, world_file)
    chosen = list(packs or [])
    env = os.environ.get("SUANWANG_ENERGY_PACKS", "")
    chosen += [Path(p) for p in env.split(os.pathsep) if p.strip()]
    ctx.meta["energy_packs"] = chosen


def _load(ctx: typer.Context) -> EnergyWorld:
    world = load_world(ctx)
    book = builtin_book(world)
    paths: list[Path] = ctx.meta.get("energy_packs", [])
    if not paths:
        return EnergyWorld(world, book, [], [])
    iso3 = {c.iso3: c.code for c in world.countries}
    pack = EnergyPack()
    try:
        for path in paths:
            pack = pack.merge(load_energy_pack(path, iso3))
    except SuanwangError as exc:
        fail(f"energy pack: {exc}")
    zone_country = {s.grid_zone: s.country for s in world.sites}
    book, uses = apply_packs(book, pack, zone_country)
    return EnergyWorld(world, book, uses, pack.attributions())


def _parse_at(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    text = at.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--at: {at!r} is not an ISO 8601 time (e.g. 2026-11-22T08:00Z)")
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def _zone_of(ew: EnergyWorld, name: str) -> str:
    """A zone key, or a site id standing for its zone."""
    if name in ew.book.zones:
        return name
    upper = name.upper()
    if upper in ew.book.zones:
        return upper
    try:
        return ew.world.site(name).grid_zone
    except UnknownIdError:
        pass
    # Zone keys are upper case and site ids lower case: suggest from both, ignoring case.
    known = {z.lower(): z for z in ew.book.zones} | {s.id.lower(): s.id for s in ew.world.sites}
    hints = [known[k] for k in closest_matches(name.lower(), known)]
    hint = f"; did you mean {', '.join(hints)}?" if hints else ""
    fail(
        f"unknown grid zone or site {name!r}{hint} "
        "(give a grid zone such as DE or CN-GZ, or a site id)"
    )


def _signal_rows(s: ZoneSignals) -> list[dict[str, Any]]:
    return [
        {
            "start": hour_start(int(h)).isoformat().replace("+00:00", "Z"),
            "intensity_g_per_kwh": round(float(ci), 2),
            "price_usd_per_mwh": round(float(p), 2),
            "band": b.value,
        }
        for h, ci, p, b in zip(
            s.hours, s.intensity_g_per_kwh, s.price_usd_per_mwh, s.band_names(), strict=True
        )
    ]


def _provenance_json(p: dict[str, Any]) -> dict[str, Any]:
    return {k: {"origin": str(v.origin), "source": v.source} for k, v in p.items()}


def _print_attributions(attributions: list[str]) -> None:
    for line in attributions:
        console.print(f"  [dim]data: {line}[/]", soft_wrap=True)


def _print_provenance(provenance: dict[str, Any], attributions: list[str]) -> None:
    for key, p in provenance.items():
        console.print(f"  [dim]{key}:[/] [bold]{p.origin}[/] - {p.source}", soft_wrap=True)
    _print_attributions(attributions)


@app.command()
def site(
    ctx: typer.Context,
    site_id: str = typer.Argument(..., metavar="SITE", help="Site id, e.g. cn-guian."),
    at: str | None = AtOption,
    hours: int = typer.Option(24, "--hours", min=1, max=24 * 14, help="Hours to show."),
    as_json: bool = JsonOption,
) -> None:
    """PUE, zone, and carbon intensity and price now and for the next hours."""
    ew = _load(ctx)
    try:
        s = ew.world.site(site_id)
    except UnknownIdError as exc:
        fail(str(exc))
    start = epoch_hour(_parse_at(at))
    sig = ew.book.signals(s.grid_zone, start, hours)
    model = ew.book.zone(s.grid_zone)
    rows = _signal_rows(sig)
    out = {
        "site": s.id,
        "name": s.name,
        "zone": s.grid_zone,
        "pue": s.pue,
        "pue_per_degree_c": s.pue_per_degree_c,
        "green_share": s.green_share,
        "annual": model.annual.model_dump(mode="json"),
        "now": rows[0],
        "hours": rows,
        "mean_intensity_g_per_kwh": round(float(sig.intensity_g_per_kwh.mean()), 2),
        "mean_price_usd_per_mwh": round(float(sig.price_usd_per_mwh.mean()), 2),
        "provenance": _provenance_json(dict(sig.provenance)),
        "attribution": ew.attributions,
    }
    if as_json:
        emit_json(out)
        return
    now = rows[0]
    console.print(
        f"[bold]{s.name}[/] ({s.id}) zone [bold]{s.grid_zone}[/]  PUE {s.pue:g}"
        + (f"  green share {s.green_share:.0%}" if s.green_share else "")
    )
    console.print(
        f"now ({now['start']}): [bold]{now['intensity_g_per_kwh']:.0f}[/] gCO2e/kWh, "
        f"[bold]{now['price_usd_per_mwh']:.1f}[/] USD/MWh, {now['band']}"
    )
    table = Table(
        "hour (UTC)",
        Column("gCO2e/kWh", justify="right"),
        Column("USD/MWh", justify="right"),
        "band",
        box=None,
    )
    lo = float(sig.intensity_g_per_kwh.min())
    for row in rows:
        mark = "[green]" if row["intensity_g_per_kwh"] <= lo * 1.02 else ""
        table.add_row(
            row["start"][5:16].replace("T", " "),
            f"{mark}{row['intensity_g_per_kwh']:.0f}",
            f"{row['price_usd_per_mwh']:.1f}",
            row["band"],
        )
    console.print(table)
    console.print(
        f"mean over {hours} h: {out['mean_intensity_g_per_kwh']:.0f} gCO2e/kWh, "
        f"{out['mean_price_usd_per_mwh']:.1f} USD/MWh"
    )
    _print_provenance(dict(sig.provenance), ew.attributions)


@app.command()
def windows(
    ctx: typer.Context,
    zone: str = typer.Argument(..., metavar="ZONE", help="Grid zone (e.g. CN-NX) or a site id."),
    at: str | None = AtOption,
    hours: int = typer.Option(48, "--hours", min=1, max=24 * 14, help="Look-ahead in hours."),
    percentile: float = typer.Option(
        20.0,
        "--percentile",
        min=1.0,
        max=99.0,
        help="Low-carbon hours: at or below this percentile of the zone's intensity over the year.",
    ),
    block: int = typer.Option(4, "--block", min=1, max=72, help="Length of the best blocks."),
    forecast: str | None = typer.Option(
        None,
        "--forecast",
        help=f"Judge the hours on a forecast instead of the modelled signals: "
        f"{', '.join(FORECASTER_SPECS)}.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Renewable-surplus windows (low carbon or valley tariff), greenest and cheapest blocks."""
    ew = _load(ctx)
    key = _zone_of(ew, zone)
    try:
        forecaster = None if forecast is None else parse_forecaster(forecast)
        if isinstance(forecaster, GaussianError):
            forecaster = forecaster.for_zone(key)
        report = find_windows(
            ew.book,
            key,
            epoch_hour(_parse_at(at)),
            hours,
            percentile=percentile,
            block_hours=block,
            forecaster=forecaster,
        )
    except SuanwangError as exc:
        fail(str(exc))
    if as_json:
        data = report.model_dump(mode="json")
        data["provenance"] = _provenance_json(report.provenance)
        data["attribution"] = ew.attributions
        emit_json(data)
        return
    _print_windows(report, ew.attributions)


def _fmt_time(moment: datetime) -> str:
    return moment.strftime("%m-%d %H:%M")


def _print_windows(report: WindowReport, attributions: list[str]) -> None:
    console.print(
        f"[bold]{report.zone}[/]: {report.surplus_hours} of {report.hours} h are surplus hours "
        f"(intensity <= {report.threshold_g_per_kwh:.0f} g/kWh, the {report.percentile:g}th "
        f"percentile, or a valley tariff); signals {report.forecast}"
    )
    if report.windows:
        table = Table(
            "from (UTC)",
            "to",
            Column("hours", justify="right"),
            Column("gCO2e/kWh", justify="right"),
            Column("USD/MWh", justify="right"),
            "why",
            box=None,
        )
        for w in report.windows:
            why = []
            if w.low_carbon_hours:
                why.append(f"low carbon {w.low_carbon_hours} h")
            if w.valley_hours:
                why.append(f"valley tariff {w.valley_hours} h")
            table.add_row(
                _fmt_time(w.start),
                _fmt_time(w.end),
                str(w.hours),
                f"{w.mean_intensity_g_per_kwh:.0f}",
                f"{w.mean_price_usd_per_mwh:.1f}",
                ", ".join(why),
            )
        console.print(table)
    else:
        console.print("no surplus hours in this horizon")
    for label, b in (("greenest", report.greenest), ("cheapest", report.cheapest)):
        console.print(
            f"{label} {b.hours} h: {_fmt_time(b.start)} to {_fmt_time(b.end)} UTC, "
            f"{b.mean_intensity_g_per_kwh:.0f} g/kWh, {b.mean_price_usd_per_mwh:.1f} USD/MWh"
        )
    _print_provenance(report.provenance, attributions)


def _read_usages(path: Path, sites: Mapping[str, object]) -> list[TaskUsage]:
    """Every line of a JSONL file as a TaskUsage at a known site; all problems reported
    together, each with its line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot read ({exc})")
    usages: list[TaskUsage] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            usage = TaskUsage.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name} line {number}: not JSON ({exc.msg})")
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"]) or "(line)"
                problems.append(f"{path.name} line {number}: {where}: {err['msg']}")
        else:
            if usage.site not in sites:
                unknown = UnknownIdError("site", usage.site, sites)
                problems.append(f"{path.name} line {number}: site: {unknown}")
            usages.append(usage)
    if problems:
        shown = problems[:20]
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        fail("; ".join(shown) if len(shown) == 1 else "\n" + "\n".join(shown) + more)
    if not usages:
        fail(f"{path}: no tasks (one JSON object per line)")
    return usages


@app.command()
def account(
    ctx: typer.Context,
    tasks: Path = typer.Argument(
        ...,
        metavar="TASKS.jsonl",
        help="One task per line: id, site, start, duration_hours, "
        "demand, and optionally utilisation and transfer_gb.",
    ),
    detail: bool = typer.Option(False, "--detail", help="Include the hour-by-hour lines."),
    as_json: bool = JsonOption,
) -> None:
    """Per-task and total kWh, gCO2e (location- and market-based), cost and peak share."""
    ew = _load(ctx)
    sites = {s.id: s for s in ew.world.sites}
    usages = _read_usages(tasks, sites)
    try:
        accounts, total = account_tasks(usages, sites, ew.book, UNIT_TABLE, detail=detail)
    except SuanwangError as exc:
        fail(str(exc))
    if as_json:
        emit_json(
            {
                "tasks": [_account_json(a) for a in accounts],
                "totals": total.model_dump(mode="json"),
                "attribution": ew.attributions,
            }
        )
        return
    table = Table(
        "task",
        "site",
        Column("kWh", justify="right"),
        Column("kgCO2e loc", justify="right"),
        Column("kgCO2e mkt", justify="right"),
        Column("USD", justify="right"),
        Column("peak", justify="right"),
        "signals",
        box=None,
    )
    for a in accounts:
        table.add_row(
            a.id,
            a.site,
            f"{a.kwh_total:,.1f}",
            f"{a.gco2e_location / 1000:,.2f}",
            f"{a.gco2e_market / 1000:,.2f}",
            f"{a.cost_usd:,.2f}",
            f"{a.peak_share:.0%}",
            f"{a.provenance['intensity'].origin}/{a.provenance['price'].origin}",
        )
    table.add_section()
    table.add_row(
        f"total ({total.tasks})",
        "",
        f"{total.kwh_total:,.1f}",
        f"{total.gco2e_location / 1000:,.2f}",
        f"{total.gco2e_market / 1000:,.2f}",
        f"{total.cost_usd:,.2f}",
        f"{total.peak_share:.0%}",
        "",
    )
    console.print(table)
    console.print(
        "[dim]kWh = IT x PUE + network; loc = location-based, mkt = market-based "
        "(after each site's certified green share); signals = intensity/price origin[/]"
    )
    _print_attributions(ew.attributions)


def _account_json(a: TaskAccount) -> dict[str, Any]:
    data = a.model_dump(mode="json")
    data["provenance"] = _provenance_json(a.provenance)
    if not a.lines:
        data.pop("lines")
    return data


@app.command()
def zones(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Every grid zone with sites: its annual factor, where it comes from, and its price source."""
    ew = _load(ctx)
    now = epoch_hour(datetime.now(UTC))
    rows: list[dict[str, Any]] = []
    for key, model in sorted(ew.book.zones.items()):
        sig = ew.book.signals(key, now, 1)
        rows.append(
            {
                "zone": key,
                "sites": list(model.sites),
                "annual": model.annual.model_dump(mode="json"),
                "intensity": str(sig.provenance["intensity"].origin),
                "price": str(sig.provenance["price"].origin),
                "bands": str(sig.provenance["bands"].origin),
            }
        )
    if as_json:
        emit_json({"zones": rows, "attribution": ew.attributions})
        return
    table = Table(
        "zone",
        Column("g/kWh", justify="right"),
        "annual from",
        "hourly",
        "price",
        "tariff",
        Column("sites", justify="right"),
        box=None,
    )
    for r in rows:
        table.add_row(
            r["zone"],
            f"{r['annual']['g_per_kwh']:.0f}",
            f"{r['annual']['method']} {r['annual']['year']}",
            r["intensity"],
            r["price"],
            r["bands"],
            str(len(r["sites"])),
        )
    console.print(table)
    _print_attributions(ew.attributions)


@app.command(name="backtest")
def backtest_cmd(
    ctx: typer.Context,
    forecasters: str = typer.Option(
        "persistence,seasonal-naive-24h,seasonal-naive-168h",
        "--forecast",
        help=f"Comma-separated forecasters: {', '.join(FORECASTER_SPECS)}.",
    ),
    year: int = typer.Option(2022, "--year", min=1990, max=2100, help="Calendar year to test."),
    signal: str = typer.Option("intensity", "--signal", help="intensity or price."),
    measured_only: bool = typer.Option(
        False, "--measured-only", help="Only zones with measured (pack) data."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Back-test forecasters per zone: 24 h ahead, every day of the year (MAE, MAPE)."""
    if signal not in {"intensity", "price"}:
        fail(f"--signal must be intensity or price, got {signal!r}")
    ew = _load(ctx)
    try:
        chosen = [parse_forecaster(name.strip()) for name in forecasters.split(",") if name]
    except SuanwangError as exc:
        fail(str(exc))
    hours = year_hours(year)
    series: dict[str, np.ndarray[Any, Any]] = {}
    origin: dict[str, str] = {}
    for key in sorted(ew.book.zones):
        sig = ew.book.signals(key, int(hours[0]), hours.size)
        prov = sig.provenance[signal]
        if measured_only and prov.origin != "measured":
            continue
        series[key] = sig.intensity_g_per_kwh if signal == "intensity" else sig.price_usd_per_mwh
        origin[key] = str(prov.origin)
    if not series:
        fail("no zone has measured data: give a pack with --pack, or drop --measured-only")
    try:
        report = backtest(series, chosen, horizon=24, step=24, warmup=168)
    except SuanwangError as exc:
        fail(str(exc))
    best = report.best_by_zone()
    if as_json:
        data = report.to_dict()
        data["signal"] = signal
        data["origin_by_zone"] = origin
        emit_json(data)
        return
    table = Table(
        "zone",
        "data",
        *[Column(f.name + " MAPE", justify="right") for f in chosen],
        "best",
        box=None,
    )
    for key in series:
        cells = []
        for f in chosen:
            row = report.row(key, f.name)
            cells.append("-" if row.mape_pct is None else f"{row.mape_pct:.1f}%")
        table.add_row(key, origin[key], *cells, best.get(key, "-"))
    console.print(table)
    console.print(
        f"[dim]{signal}, {year}, 24 h ahead from every midnight UTC after a 7-day warm-up. "
        "On synthetic series the result says only how regular our shapes are.[/]"
    )
