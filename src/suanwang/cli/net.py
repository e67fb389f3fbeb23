"""`suanwang net ...`: query the network: paths, latency circles, failures, the latency matrix.

Every command builds a fresh :class:`Network` from the built-in world (or the world file given
with ``--world`` / ``SUANWANG_WORLD``); nothing is kept between commands.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path as FilePath
from typing import Any, NoReturn

import numpy as np
import typer
from pydantic import ValidationError
from rich.table import Column, Table

from suanwang.cli.output import JsonOption, console, emit_json, fail
from suanwang.cli.worldfile import WorldOption, load_world, remember_world
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.network.circles import (
    DEFAULT_RINGS_MS,
    HUB_TARGET_MS,
    china_hub_clusters,
    circles,
    hub_pairs,
)
from suanwang.core.network.costmap import CostMap
from suanwang.core.network.engine import Network, SiteLatency
from suanwang.core.network.failures import FailureReport, FailureSpec, Reachability, Region
from suanwang.core.network.jurisdictions import expand
from suanwang.core.network.paths import NoPathError, Path, PathRules
from suanwang.core.tasks import LatencyMode
from suanwang.core.world import World

app = typer.Typer(
    help="Query the network: paths, latency circles, failures and the latency matrix.",
    no_args_is_help=True,
)

MATRIX_MAX_SITES = 12
"""Most sites `net matrix` shows as a table without --sites (JSON has no limit)."""

MAX_REGION_KM = 20_000.0
"""Largest --region radius (half the Earth's circumference: everything)."""

# PathRules / Region / FailureSpec fields as the options that set them (for error messages)
_OPTION_OF = {
    "max_one_way_ms": "--max-latency-ms",
    "min_gbps": "--min-gbps",
    "avoid": "--avoid",
    "within": "--within",
    "lat": "latitude",
    "lon": "longitude",
    "radius_km": "radius",
}


@app.callback()
def _net(ctx: typer.Context, world_file: FilePath | None = WorldOption) -> None:
    remember_world(ctx, world_file)


# --- shared helpers -------------------------------------------------------------------------------
def _load(ctx: typer.Context) -> tuple[World, Network]:
    world = load_world(ctx)
    try:
        return world, Network.from_world(world)
    except SuanwangError as exc:
        fail(str(exc))
    except ValidationError as exc:
        _invalid(exc)


def _invalid(exc: ValidationError) -> NoReturn:
    """A pydantic error from user input as one clear line."""
    first = exc.errors()[0]
    msg = str(first["msg"]).removeprefix("Value error, ")
    loc = first["loc"]
    where = _OPTION_OF.get(str(loc[0]), ".".join(str(p) for p in loc)) if loc else ""
    fail(f"{where}: {msg}" if where else msg)


def _guard(call: Callable[[], Any]) -> Any:
    """Run a core call; its domain and validation errors become ``error: ...`` (exit 2)."""
    try:
        return call()
    except SuanwangError as exc:
        fail(str(exc))
    except ValidationError as exc:
        _invalid(exc)


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _numbers(raw: str, option: str, names: Sequence[str]) -> list[float]:
    """``raw`` as exactly ``len(names)`` comma-separated finite numbers."""
    parts = [p.strip() for p in raw.split(",")]
    shape = ",".join(n.upper() for n in names)
    if len(parts) != len(names):
        fail(f"{option} wants {shape} ({len(names)} numbers), got {raw!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        fail(f"{option} wants {shape} as numbers, got {raw!r}")
    if not all(math.isfinite(v) for v in values):
        fail(f"{option} wants finite numbers, got {raw!r}")
    return values


def _number_list(raw: str, option: str) -> list[float]:
    """``raw`` as one or more comma-separated positive numbers."""
    parts = _split(raw)
    if not parts:
        fail(f"{option} names no number")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        fail(f"{option} wants comma-separated numbers, got {raw!r}")
    for v in values:
        _positive(option, v)
    return values


def _positive(option: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        fail(f"{option} must be a finite number, got {value:g}")
    if value < 0 or (value == 0 and not allow_zero):
        fail(f"{option} must be {'zero or more' if allow_zero else 'positive'}, got {value:g}")


def _lat_lon(option: str, lat: float, lon: float) -> None:
    if not -90.0 <= lat <= 90.0:
        fail(f"{option}: latitude {lat:g} is outside -90..90")
    if not -180.0 <= lon <= 180.0:
        fail(f"{option}: longitude {lon:g} is outside -180..180")


def _countries(world: World, net: Network, raw: str, option: str) -> frozenset[str]:
    """Country codes and group names (EU, EEA, ASEAN, GCC) as a set of codes."""
    names = _split(raw)
    if not names:
        fail(f"{option} names no country")
    known = {c.code for c in world.countries} | set(net.graph.countries)
    try:
        return expand(names, known)
    except SuanwangError as exc:
        fail(f"{option}: {exc}")


def _slug(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.strip().lower())


_GENERIC = re.compile(r"-?\b(cable|system|network|submarine)\b-?")


def _bare(slug: str) -> str:
    """A slug without generic words: "tonga-cable-system" -> "tonga"."""
    slug = re.sub(r"\(.*?\)", "", slug)
    return _GENERIC.sub("-", slug).strip("-")


def _resolve(kind: str, query: str, choices: dict[str, str]) -> str:
    """The id in ``choices`` (id -> name) that ``query`` names.

    An exact id or name wins (case-insensitive; spaces count as hyphens); then an id or name
    that equals the query once generic words (cable, system, network) are dropped, so
    ``tonga`` names ``tonga-cable``; otherwise the query must be part of exactly one id or name.
    """
    q, slug = query.strip().lower(), _slug(query)
    if not q:
        fail(f"the {kind} name is empty")
    exact = [i for i, name in choices.items() if slug == i.lower() or q == name.lower()]
    if len(exact) == 1:
        return exact[0]
    # "tonga" names the Tonga Cable (System): generic words do not count
    bare = [i for i, name in choices.items() if slug in (_bare(i), _bare(_slug(name)))]
    if not exact and len(bare) == 1:
        return bare[0]
    partial = exact or [
        i
        for i, name in choices.items()
        if slug in i.lower() or q in name.lower() or slug in _slug(name)
    ]
    if len(partial) == 1:
        return partial[0]
    if partial:
        listed = ", ".join(i if choices[i] == i else f"{i} ({choices[i]})" for i in sorted(partial))
        fail(f"{kind} {query!r} is ambiguous; it matches {listed}. Give one of these ids.")
    fail(str(UnknownIdError(kind, query, choices)))


def _ms(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:,.{digits}f}"


def _price(micros: float) -> str:
    return f"{micros / 1e6:,.4f}"


def _gbps(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:,.0f}"


# --- net path -------------------------------------------------------------------------------------
def _path_rules(
    world: World,
    net: Network,
    max_latency_ms: float | None,
    rtt: bool,
    min_gbps: float,
    avoid: str | None,
    within: str | None,
    fibre_only: bool,
) -> PathRules:
    _positive("--max-latency-ms", max_latency_ms)
    _positive("--min-gbps", min_gbps, allow_zero=True)
    if rtt and max_latency_ms is None:
        fail("--rtt makes --max-latency-ms a round-trip bound; give --max-latency-ms too")
    avoid_codes = frozenset() if avoid is None else _countries(world, net, avoid, "--avoid")
    within_codes = None if within is None else _countries(world, net, within, "--within")
    rules: PathRules = _guard(
        lambda: PathRules(
            min_gbps=min_gbps, avoid=avoid_codes, within=within_codes, fibre_only=fibre_only
        )
    )
    if max_latency_ms is None:
        return rules
    if rtt:
        return rules.with_rtt_bound(max_latency_ms)
    return rules.model_copy(update={"max_one_way_ms": max_latency_ms})


def _rules_json(rules: PathRules) -> dict[str, Any]:
    bound = rules.max_one_way_ms
    return {
        "max_one_way_ms": bound,
        "max_rtt_ms": None if bound is None else 2 * bound,
        "min_gbps": rules.min_gbps,
        "avoid": sorted(rules.avoid),
        "within": None if rules.within is None else sorted(rules.within),
        "fibre_only": rules.fibre_only,
    }


def _path_summary(p: Path) -> str:
    bottleneck = (
        f"bottleneck {_gbps(p.bottleneck_gbps)} Gbps free on {p.bottleneck_link}"
        if p.bottleneck_link
        else "no link crossed"
    )
    return (
        f"{_ms(p.one_way_ms)} ms one way, {_ms(p.rtt_ms)} ms round trip; "
        f"price {_price(p.price_per_gb_micros)} per GB; {bottleneck}; "
        f"countries {', '.join(p.countries)}"
    )


def _hop_table(p: Path, title: str | None = None) -> Table:
    table = Table(
        Column("#", justify="right", no_wrap=True),
        Column("to", overflow="fold"),
        Column("via", overflow="fold"),
        Column("km", justify="right", no_wrap=True),
        Column("ms", justify="right", no_wrap=True),
        Column("Gbps free", justify="right", no_wrap=True),
        Column("countries"),
        title=title or f"hops from {p.src}",
        title_justify="left",
    )
    for i, h in enumerate(p.hops, 1):
        table.add_row(
            str(i),
            h.dst,
            f"{h.cable} cable" if h.cable else h.kind.value,
            f"{h.km:,.0f}",
            _ms(h.one_way_ms),
            _gbps(h.free_gbps),
            " ".join(h.countries),
        )
    return table


@app.command()
def path(
    ctx: typer.Context,
    src: str = typer.Argument(..., metavar="A", help="Start site or node id."),
    dst: str = typer.Argument(..., metavar="B", help="End site or node id."),
    max_latency_ms: float | None = typer.Option(
        None, "--max-latency-ms", help="Latency bound in ms (one way unless --rtt)."
    ),
    rtt: bool = typer.Option(False, "--rtt", help="Read --max-latency-ms as a round trip."),
    min_gbps: float = typer.Option(0.0, "--min-gbps", help="Free capacity every hop needs."),
    avoid: str | None = typer.Option(
        None, "--avoid", help="Countries the path may not touch: codes or groups, e.g. US,EU."
    ),
    within: str | None = typer.Option(
        None, "--within", help="The only countries the path may touch, e.g. EU or DE,FR."
    ),
    cheapest: bool = typer.Option(
        False, "--cheapest", help="Lowest price per GB within --max-latency-ms (LARAC)."
    ),
    backups: int = typer.Option(
        0, "--backups", help="Also find this many shared-risk-disjoint backup paths."
    ),
    fibre_only: bool = typer.Option(False, "--fibre-only", help="Ignore satellite links."),
    as_json: bool = JsonOption,
) -> None:
    """The fastest (or cheapest) path between two sites, hop by hop.

    Latency is reported one way and round trip; price is per GB in currency units.

    Example: suanwang net path de-frankfurt cn-shanghai --max-latency-ms 200 --rtt --avoid RU

    Example: suanwang net path de-frankfurt fr-paris --within EU --backups 2 --json
    """
    world, net = _load(ctx)
    if backups < 0:
        fail(f"--backups must be zero or more, got {backups}")
    if cheapest and max_latency_ms is None:
        fail("--cheapest needs a latency bound: give --max-latency-ms")
    if cheapest and backups:
        fail("--backups cannot be combined with --cheapest (backups are disjoint from the fastest)")
    rules = _path_rules(world, net, max_latency_ms, rtt, min_gbps, avoid, within, fibre_only)
    _guard(lambda: (net.node(src), net.node(dst)))

    cheap = None
    extra: list[Path] = []
    if cheapest:
        bound = rules.max_one_way_ms
        assert bound is not None
        cheap = _guard(lambda: net.cheapest_path(src, dst, bound, rules))
        primary: Path = cheap.path
    else:
        primary = _guard(lambda: net.path(src, dst, rules))
        if backups:
            try:
                found = net.disjoint_paths(src, dst, k=backups + 1, rules=rules)
            except NoPathError:
                found = [primary]
            except SuanwangError as exc:
                fail(str(exc))
            primary, extra = found[0], found[1:]

    if as_json:
        out: dict[str, Any] = {**primary.model_dump(mode="json"), "rules": _rules_json(rules)}
        if cheap is not None:
            out["cheapest"] = {
                **cheap.model_dump(mode="json", exclude={"path"}),
                "max_rtt_ms": 2 * cheap.max_one_way_ms,
            }
        if backups:
            out["backups_requested"] = backups
            out["backups"] = [b.model_dump(mode="json") for b in extra]
        emit_json(out)
        return

    console.print(f"[bold]{primary.src} -> {primary.dst}[/]: {_path_summary(primary)}")
    endpoints = (
        f"; the path includes {_ms(primary.endpoint_ms)} ms at the endpoints"
        if primary.endpoint_ms > 0
        else ""
    )
    console.print(
        f"{len(primary.hops)} hop(s); great circle {primary.great_circle_km:,.0f} km, physics "
        f"floor {_ms(primary.floor_one_way_ms)} ms one way{endpoints}",
        highlight=False,
    )
    if cheap is not None:
        gap = "proven optimal" if cheap.gap_micros <= 1e-9 else f"gap {cheap.gap_ratio:.1%}"
        console.print(
            f"cheapest within {_ms(cheap.max_one_way_ms)} ms one way "
            f"({_ms(2 * cheap.max_one_way_ms)} ms round trip): price "
            f"{_price(cheap.path.price_per_gb_micros)} per GB, lower bound "
            f"{_price(cheap.lower_bound_micros)} ({gap}); the fastest path takes "
            f"{_ms(cheap.fastest_one_way_ms)} ms one way",
            highlight=False,
        )
    if not primary.hops:
        return
    console.print(_hop_table(primary))
    if backups:
        if len(extra) < backups:
            console.print(
                f"only {len(extra)} of {backups} shared-risk-disjoint backup path(s) exist "
                "under these rules",
                style="yellow",
            )
        for i, b in enumerate(extra, 1):
            console.print(f"[bold]backup {i}[/]: {_path_summary(b)}")
            console.print("  via " + " -> ".join(b.nodes), highlight=False)


# --- net circles / net hubs -----------------------------------------------------------------------
@app.command(name="circles")
def circles_cmd(
    ctx: typer.Context,
    site: str = typer.Argument(..., metavar="SITE", help="Centre site id."),
    rings: str = typer.Option(
        ",".join(f"{r:g}" for r in DEFAULT_RINGS_MS), "--rings", help="Ring radii in ms."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Latency circles (时延圈): the sites within each ring, one way and round trip.

    Example: suanwang net circles cn-shanghai --rings 1,5,20
    """
    _, net = _load(ctx)
    radii = _number_list(rings, "--rings")
    result = _guard(lambda: circles(net, site, radii))
    if as_json:
        emit_json(result)
        return
    console.print(f"[bold]latency circles around {result.site}[/] (the site itself excluded)")
    table = Table(
        Column("within", justify="right"),
        "counted",
        Column("sites", justify="right"),
        Column("members (one-way ms)", overflow="fold"),
    )
    for ring in result.rings:
        members = ", ".join(f"{m.site} ({m.one_way_ms:.1f})" for m in ring.sites)
        mode = "one way" if ring.mode is LatencyMode.ONE_WAY else "round trip"
        table.add_row(f"{ring.within_ms:g} ms", mode, str(len(ring.sites)), members or "-")
    console.print(table)


@app.command()
def hubs(
    ctx: typer.Context,
    target_ms: float = typer.Option(
        HUB_TARGET_MS, "--target-ms", help="The latency target between hub clusters."
    ),
    as_json: bool = JsonOption,
) -> None:
    """China's national hub clusters pair by pair: does each pair meet the target?

    The national target (国家枢纽节点间 20 ms) is checked both one way and round trip.

    Example: suanwang net hubs --target-ms 20
    """
    world, net = _load(ctx)
    _positive("--target-ms", target_ms)
    clusters = china_hub_clusters(world)
    if len(clusters) < 2:
        fail(f"this world has {len(clusters)} national hub cluster(s) in CN; pairs need two")
    report = _guard(lambda: hub_pairs(net, clusters, target_ms))
    if as_json:
        emit_json(report)
        return
    table = Table(
        Column("a", no_wrap=True),
        Column("b", no_wrap=True),
        Column("one-way ms", justify="right"),
        Column("RTT ms", justify="right"),
        Column("meets one way", justify="center"),
        Column("meets RTT", justify="center"),
        title=f"{len(report.hubs)} national hub clusters, target {target_ms:g} ms",
        title_justify="left",
    )
    for p in report.pairs:
        table.add_row(
            p.a,
            p.b,
            _ms(p.one_way_ms),
            _ms(p.rtt_ms),
            "yes" if p.meets_one_way else "[red]no[/]",
            "yes" if p.meets_rtt else "[red]no[/]",
        )
    console.print(table)
    n = len(report.pairs)
    console.print(
        f"{report.meeting_one_way} of {n} pairs meet {target_ms:g} ms one way; "
        f"{report.meeting_rtt} of {n} meet it round trip",
        highlight=False,
    )


# --- net cut --------------------------------------------------------------------------------------
def _corridors(world: World) -> dict[str, str]:
    return {c: c for cable in world.cables for c in cable.corridors}


@app.command()
def cut(
    ctx: typer.Context,
    cable: str | None = typer.Option(
        None, "--cable", help="A cable system by id or a unique part of its name."
    ),
    corridor: str | None = typer.Option(
        None, "--corridor", help="Every cable through a corridor, e.g. red-sea or 'Red Sea'."
    ),
    region: str | None = typer.Option(
        None, "--region", help="Every node within KM of a point: LAT,LON,KM."
    ),
    link: str | None = typer.Option(None, "--link", help="One link by id."),
    site: str | None = typer.Option(
        None, "--site", help="A site or landing point (all its links)."
    ),
    top: int = typer.Option(10, "--top", help="How many of the largest increases to show."),
    as_json: bool = JsonOption,
) -> None:
    """Cut something and see what breaks: isolated countries, lost pairs, slower paths.

    Give exactly one of --cable, --corridor, --region, --link or --site. Latency figures are
    one way (a round trip is double).

    Example: suanwang net cut --corridor "Red Sea"

    Example: suanwang net cut --cable tonga-cable --json

    Example: suanwang net cut --region -33.87,151.21,50   (50 km around Sydney)
    """
    world, net = _load(ctx)
    given = [
        name
        for name, value in (
            ("--cable", cable),
            ("--corridor", corridor),
            ("--region", region),
            ("--link", link),
            ("--site", site),
        )
        if value is not None
    ]
    if len(given) != 1:
        which = "none was" if not given else f"got {', '.join(given)}"
        fail(f"give exactly one of --cable, --corridor, --region, --link, --site ({which})")
    if top < 0:
        fail(f"--top must be zero or more, got {top}")

    target: dict[str, Any]
    if cable is not None:
        names = {c.id: c.name for c in world.cables}
        cid = _resolve("cable", cable, names)
        target = {"kind": "cable", "id": cid, "name": names[cid]}
        spec = _guard(lambda: FailureSpec(srlgs=frozenset({world.cable(cid).srlg})))
    elif corridor is not None:
        cor = _resolve("corridor", corridor, _corridors(world))
        carried = [c.id for c in world.cables if cor in c.corridors]
        target = {"kind": "corridor", "id": cor, "cables": carried}
        spec = _guard(lambda: FailureSpec(srlgs=frozenset({f"corridor:{cor}"})))
    elif region is not None:
        lat, lon, km = _numbers(region, "--region", ["lat", "lon", "km"])
        _lat_lon("--region", lat, lon)
        _positive("--region radius", km)
        if km > MAX_REGION_KM:
            fail(f"--region radius must be at most {MAX_REGION_KM:,.0f} km, got {km:g}")
        target = {"kind": "region", "lat": lat, "lon": lon, "radius_km": km}
        spec = _guard(lambda: FailureSpec(region=Region(lat=lat, lon=lon, radius_km=km)))
    elif link is not None:
        lid = link.strip()
        _guard(lambda: net.link(lid))
        target = {"kind": "link", "id": lid}
        spec = _guard(lambda: FailureSpec(links=frozenset({lid})))
    else:
        assert site is not None
        nid = site.strip()
        _guard(lambda: net.node(nid))
        target = {"kind": "site", "id": nid}
        spec = _guard(lambda: FailureSpec(nodes=frozenset({nid})))

    report: FailureReport = _guard(lambda: net.fail(spec))
    if as_json:
        emit_json({**report.model_dump(mode="json"), "target": target})
        return
    _print_report(world, report, target, top)


def _print_report(world: World, r: FailureReport, target: dict[str, Any], top: int) -> None:
    what = target["kind"] + " " + str(target.get("id", r.key))
    if target["kind"] == "cable":
        what += f" ({target['name']})"
    elif target["kind"] == "corridor":
        what += f" ({len(target['cables'])} cables: {', '.join(target['cables'])})"
    elif target["kind"] == "region":
        what = (
            f"everything within {target['radius_km']:g} km of {target['lat']:g}, {target['lon']:g}"
        )
    console.print(f"[bold]cut {what}[/]", highlight=False)
    down = ", ".join(r.failed_links[:8]) + (" ..." if len(r.failed_links) > 8 else "")
    console.print(f"links down: {len(r.failed_links)}" + (f" ({down})" if down else ""))
    names = {c.code: c.name for c in world.countries}
    if r.isolated_countries:
        console.print(
            f"isolated countries (lost fibre to the main network): {len(r.isolated_countries)}"
        )
        for iso in r.isolated_countries:
            how = (
                "still reachable by satellite only"
                if iso.reachable_by is Reachability.SATELLITE_ONLY
                else "[red]unreachable[/]"
            )
            label = f"{iso.code} {names.get(iso.code, '')}".strip()
            console.print(f"  {label}: {how} (nodes {', '.join(iso.nodes)})", highlight=False)
    else:
        console.print("isolated countries: none")
    console.print(f"unreachable site pairs: {len(r.unreachable_pairs)} of {r.site_pairs}")
    for a, b in r.unreachable_pairs[:5]:
        console.print(f"  {a} - {b}", highlight=False)
    if len(r.unreachable_pairs) > 5:
        console.print(f"  ... and {len(r.unreachable_pairs) - 5} more (see --json)")
    rises = [c for c in r.latency_changes if (c.increase_ms or 0.0) > 0]
    console.print(
        f"site pairs slower: {len(rises)}; largest increase {_ms(r.max_increase_ms)} ms one way"
    )
    if rises and top:
        table = Table(
            Column("from", no_wrap=True),
            Column("to", no_wrap=True),
            Column("before ms", justify="right"),
            Column("after ms", justify="right"),
            Column("+ms", justify="right"),
            title=f"largest latency increases (one way; top {min(top, len(rises))})",
            title_justify="left",
        )
        for c in rises[:top]:
            table.add_row(
                c.src, c.dst, _ms(c.before_one_way_ms), _ms(c.after_one_way_ms), _ms(c.increase_ms)
            )
        console.print(table)


# --- net matrix -----------------------------------------------------------------------------------
def _restrict(cm: CostMap, sites: Sequence[str]) -> CostMap:
    idx = np.array([cm.index(s) for s in sites], dtype=np.int64)
    sub = np.ix_(idx, idx)
    return CostMap(
        version=cm.version,
        sites=tuple(sites),
        one_way_ms=cm.one_way_ms[sub],
        price_per_gb_micros=cm.price_per_gb_micros[sub],
        bottleneck_gbps=cm.bottleneck_gbps[sub],
    )


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


@app.command()
def matrix(
    ctx: typer.Context,
    sites: str | None = typer.Option(
        None, "--sites", help="Comma-separated site ids (default: every site)."
    ),
    rtt: bool = typer.Option(False, "--rtt", help="Show round-trip instead of one-way ms."),
    as_json: bool = JsonOption,
) -> None:
    """The site-by-site latency matrix along the fastest paths.

    JSON holds one-way and round-trip ms, price per GB (micros) and bottleneck Gbps. The table
    shows at most 12 sites unless you pick them with --sites.

    Example: suanwang net matrix --sites cn-shanghai,de-frankfurt,us-ashburn --rtt
    """
    _, net = _load(ctx)
    cm = net.cost_map()
    chosen = list(cm.sites) if sites is None else _unique(_split(sites))
    if not chosen:
        fail("--sites names no site")
    sub: CostMap = _guard(lambda: _restrict(cm, chosen))
    if as_json:
        emit_json({**sub.to_dict(), "mode": "round-trip" if rtt else "one-way"})
        return
    if sites is None and len(chosen) > MATRIX_MAX_SITES:
        console.print(
            f"showing the first {MATRIX_MAX_SITES} of {len(chosen)} sites; pick sites with "
            "--sites a,b,c or use --json for the full matrix",
            style="yellow",
        )
        sub = _restrict(cm, chosen[:MATRIX_MAX_SITES])
    values = sub.rtt_ms if rtt else sub.one_way_ms
    table = Table(
        Column("", justify="right"),
        Column("site", no_wrap=True),
        title=f"{'round-trip' if rtt else 'one-way'} ms (columns numbered as rows)",
        title_justify="left",
    )
    for j in range(len(sub.sites)):
        table.add_column(str(j + 1), justify="right")
    for i, s in enumerate(sub.sites):
        cells = ["·" if i == j else _ms(float(values[i, j]), 1) for j in range(len(sub.sites))]
        table.add_row(str(i + 1), s, *cells)
    console.print(table)


# --- net latency ----------------------------------------------------------------------------------
@app.command()
def latency(
    ctx: typer.Context,
    origin: str | None = typer.Argument(None, metavar="ORIGIN", help="Origin site or node id."),
    from_point: str | None = typer.Option(
        None, "--from-point", help="Start from a point instead: LAT,LON (e.g. a user)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Latency from one origin to every site, one way and round trip, fastest first.

    Example: suanwang net latency cn-shanghai

    Example: suanwang net latency --from-point=-1.29,36.82 --json
    """
    _, net = _load(ctx)
    if (origin is None) == (from_point is None):
        fail("give either an ORIGIN site or --from-point LAT,LON (exactly one)")
    attached: list[dict[str, Any]] = []
    point: dict[str, float] | None = None
    if from_point is not None:
        lat, lon = _numbers(from_point, "--from-point", ["lat", "lon"])
        _lat_lon("--from-point", lat, lon)
        point = {"lat": lat, "lon": lon}
        rows: tuple[SiteLatency, ...] = _guard(lambda: net.latencies_from_point(lat, lon))
        a = net.attach(lat, lon)
        attached = [
            {"node": net.graph.node_ids[n], "access_one_way_ms": round(ms, 4)}
            for n, ms in zip(a.nodes, a.access_ms, strict=True)
        ]
    else:
        assert origin is not None
        start = origin.strip()
        rows = _guard(lambda: net.latencies_from(start))
    ordered = sorted(rows, key=lambda x: (x.one_way_ms is None, x.one_way_ms or 0.0, x.site))
    if as_json:
        emit_json(
            {
                "origin": None if origin is None else origin.strip(),
                "from_point": point,
                "attached_to": attached,
                "version": net.version,
                "sites": ordered,
            }
        )
        return
    label = origin if origin is not None else f"point {from_point}"
    reachable = sum(x.one_way_ms is not None for x in ordered)
    console.print(f"[bold]latency from {label}[/]: {reachable} of {len(ordered)} sites reachable")
    if attached:
        console.print(
            "attached through "
            + ", ".join(f"{x['node']} ({x['access_one_way_ms']:.2f} ms)" for x in attached),
            highlight=False,
        )
    table = Table(
        Column("site", no_wrap=True),
        Column("one-way ms", justify="right"),
        Column("RTT ms", justify="right"),
    )
    for x in ordered:
        table.add_row(x.site, _ms(x.one_way_ms), _ms(x.rtt_ms))
    console.print(table)
