"""`suanwang schedule`, `suanwang why-not` and `suanwang tasks generate`: the scheduler's shell.

``schedule`` reads a JSON-lines file of tasks (and pipeline or gang jobs), builds a
:class:`~suanwang.core.scheduling.snapshot.Snapshot` of the world at the start hour, and prints
the plan the core returns. ``why-not`` answers in one line why a task does not (or does) go to a
site. ``tasks generate`` writes a synthetic workload. The clock is read here, never in the core:
the default start is the current UTC hour.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from suanwang.cli.output import (
    JsonOption,
    console,
    err_console,
    fail,
    field_errors,
    json_lines,
    read_text,
    to_jsonable,
)
from suanwang.cli.worldfile import WorldOption, load_world, remember_world
from suanwang.core.energy.clock import epoch_hour, hour_start
from suanwang.core.energy.forecast import FORECASTER_SPECS, Forecaster, parse_forecaster
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.scheduling.explain import explain, why_not
from suanwang.core.scheduling.framework import Mode, Profile
from suanwang.core.scheduling.jobs import Gang, JobPlacement, Pipeline, place_gang, place_pipeline
from suanwang.core.scheduling.plan import Plan
from suanwang.core.scheduling.scheduler import DEFAULT_K, Policy, schedule
from suanwang.core.scheduling.snapshot import CLASSES, Snapshot
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World

EXPLAIN_LIMIT = 100
"""Placements that ``--explain`` explains (each explanation judges the task against every pool)."""

SHOWN_PLACEMENTS = 20
"""Placements the human output lists (``--json`` has them all)."""

WIDE = 132
"""Columns the placement table gets when the output is not a terminal."""

SPINNER_MIN_TASKS = 1000
"""Batches at least this big show a status spinner on stderr while they are scheduled."""

_MODES = ", ".join(m.value for m in Mode)
_POLICIES = ", ".join(p.value for p in Policy)
_LINE_FORMAT = 'one JSON object per line: a task (TaskSpec), {"pipeline": {...}} or {"gang": {...}}'

ModeOption = typer.Option(
    "balanced", "--mode", help=f"What to optimise for: {_MODES}.", show_default=True
)
StartOption = typer.Option(
    None,
    "--start",
    help="Start of the plan, ISO 8601 (e.g. 2026-07-01T04:00Z; no zone means UTC), floored to "
    "the hour. Default: the current hour.",
)

# Typer keeps single line breaks inside help paragraphs, so each paragraph is one string.
SCHEDULE_HELP = (
    "Place a batch of tasks on the world's sites: compute, network and power jointly.\n\n"
    "Every task goes to one pool of one site, or is left unplaced with a reason; deferrable "
    "tasks may start later, in a greener or cheaper hour. Pipeline and gang jobs are placed "
    "after the batch, one by one in file order, on the snapshot's free capacity that the batch "
    "and the earlier jobs left. Nothing is committed: the plan is printed (JSON with --json, "
    "or written with --out).\n\n"
    "Bad lines are all reported with their line numbers and field paths (exit 2); nothing is "
    "scheduled then."
)
WHY_NOT_HELP = (
    "Why a task does not (or does) go to a site, in one line.\n\n"
    "The task is judged alone against every pool of the world at the start hour (nothing else "
    "placed) with the profile of --mode: a rejected site names the filter and the numbers; a "
    "feasible one its rank and the scores it is behind on."
)
GENERATE_HELP = (
    "A synthetic workload as JSON lines, one TaskSpec per line.\n\n"
    "The mix (40 % inference, 25 % training, 10 % HPC, 25 % batch) is shaped on public traces "
    "(see suanwang.core.scheduling.workload); origins are drawn by population. The same --n, "
    "--seed, --start and world give the same file."
)

tasks_app = typer.Typer(
    help="Tasks: generate a synthetic workload file; list, show and cancel tasks on the API.",
    no_args_is_help=True,
)


# --- reading task files ---------------------------------------------------------------------------
@dataclass
class TaskFile:
    """What a task file holds: batch tasks and jobs, each with its line number."""

    name: str
    tasks: list[TaskSpec] = field(default_factory=list)
    task_lines: list[int] = field(default_factory=list)
    jobs: list[Pipeline | Gang] = field(default_factory=list)
    job_lines: list[int] = field(default_factory=list)

    def every_task(self) -> Iterator[tuple[int, TaskSpec]]:
        """Every task with its line: the batch's, then each job's stages or members."""
        yield from zip(self.task_lines, self.tasks, strict=True)
        for line, job in zip(self.job_lines, self.jobs, strict=True):
            for t in job.stages if isinstance(job, Pipeline) else job.members:
                yield line, t


def _parse_line(obj: Any) -> tuple[TaskSpec | Pipeline | Gang | None, list[str]]:
    """One decoded line as a task or a job, or the problems with it."""
    if not isinstance(obj, dict):
        return None, [f"expected a JSON object ({_LINE_FORMAT}), got {type(obj).__name__}"]
    kind: type[Pipeline] | type[Gang] | None = None
    for key, cls in (("pipeline", Pipeline), ("gang", Gang)):
        if key in obj:
            if len(obj) != 1:
                others = ", ".join(sorted(k for k in obj if k != key))
                return None, [f'a job line holds only "{key}"; remove {others}']
            kind, obj = cls, obj[key]
            break
    try:
        if kind is None:
            return TaskSpec.model_validate(obj), []
        return kind.model_validate(obj), []
    except ValidationError as exc:
        prefix = "" if kind is None else ("pipeline" if kind is Pipeline else "gang")
        return None, field_errors(exc, prefix)


def _check_task(task: TaskSpec, world: World, site_ids: frozenset[str]) -> list[str]:
    """What the world says about a well-formed task: unknown sites and hardware models."""
    out = []
    if task.input is not None and task.input.site not in site_ids:
        out.append(f"input.site: {UnknownIdError('site', task.input.site, site_ids)}")
    if task.origin.site is not None and task.origin.site not in site_ids:
        out.append(f"origin.site: {UnknownIdError('site', task.origin.site, site_ids)}")
    d = task.demand
    if d.model is not None:
        try:
            UNIT_TABLE.quantity(d.model, d.compute_class, float(d.count or 0.0))
        except (LookupError, ValueError, SuanwangError) as exc:
            out.append(f"demand.model: {exc}")
    return out


def read_task_file(path: Path, world: World) -> TaskFile:
    """Every line of ``path`` as a task or a job; every problem is reported together (exit 2),
    each with its line number and field path, and nothing is returned then."""
    text = read_text(path)
    name = "stdin" if str(path) == "-" else path.name
    out = TaskFile(name=name)
    problems: list[str] = []
    site_ids = frozenset(s.id for s in world.sites)
    first_line: dict[str, int] = {}
    job_line: dict[str, int] = {}
    for number, obj, bad in json_lines(text):
        if bad is not None:
            problems.append(bad)
            continue
        item, errors = _parse_line(obj)
        problems += [f"line {number}: {e}" for e in errors]
        if item is None:
            continue
        if isinstance(item, TaskSpec):
            members: tuple[TaskSpec, ...] = (item,)
            if item.name in first_line:
                problems.append(
                    f"line {number}: name: task {item.name!r} is already on line "
                    f"{first_line[item.name]}; names identify tasks in a plan"
                )
            first_line.setdefault(item.name, number)
            out.tasks.append(item)
            out.task_lines.append(number)
        else:
            members = item.stages if isinstance(item, Pipeline) else item.members
            seen = [t.name for t in members]
            twice = sorted({n for n in seen if seen.count(n) > 1})
            if twice:
                problems.append(f"line {number}: job {item.name!r} names {twice} twice")
            if item.name in job_line:
                problems.append(
                    f"line {number}: name: job {item.name!r} is already on line "
                    f"{job_line[item.name]}"
                )
            job_line.setdefault(item.name, number)
            out.jobs.append(item)
            out.job_lines.append(number)
        for t in members:
            problems += [f"line {number}: {e}" for e in _check_task(t, world, site_ids)]
    if problems:
        fail(f"{out.name}: {len(problems)} problem(s)\n" + "\n".join(problems))
    if not out.tasks and not out.jobs:
        fail(f"{out.name}: no tasks ({_LINE_FORMAT})")
    return out


# --- shared helpers -------------------------------------------------------------------------------
def _parse_start(text: str | None) -> int:
    """The epoch hour of ``--start`` (the current hour when not given)."""
    if text is None:
        return epoch_hour(datetime.now(UTC))
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        fail(f"--start: {text!r} is not an ISO 8601 time (e.g. 2026-07-01T04:00Z)")
    return epoch_hour(moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC))


def _profile(mode: str) -> Profile:
    try:
        return Profile.for_mode(mode.strip().lower())
    except SuanwangError as exc:
        fail(f"--mode: {exc}")


def _world(ctx: typer.Context, world_file: Path | None) -> World:
    remember_world(ctx, world_file)
    return load_world(ctx)


def _forecaster(spec: str | None, seed: int) -> Forecaster | None:
    if spec is None:
        return None
    try:
        return parse_forecaster(spec, seed)
    except SuanwangError as exc:
        fail(f"--forecast: {exc}")


def _snapshot(world: World, start_hour: int, forecaster: Forecaster | None = None) -> Snapshot:
    try:
        return Snapshot.build(world, UNIT_TABLE, start_hour, forecaster=forecaster)
    except SuanwangError as exc:
        fail(str(exc))


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (for json.dumps)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False, default=_plain)


@contextmanager
def _busy(message: str, show: bool) -> Iterator[None]:
    """A transient spinner on stderr (only for big batches; nothing when stderr is a file)."""
    with err_console.status(message) if show else nullcontext():
        yield


# --- jobs -----------------------------------------------------------------------------------------
def _units(task: TaskSpec) -> float:
    d = task.demand
    if d.units is not None:
        return float(d.units)
    return UNIT_TABLE.quantity(str(d.model), d.compute_class, float(d.count or 0.0)).amount


def _free_after_batch(plan: Plan, snap: Snapshot) -> np.ndarray[Any, np.dtype[np.float64]]:
    a, groups = plan.arrays, plan.groups
    placed = a.pool >= 0
    used = np.bincount(
        a.pool[placed], weights=groups.units[groups.group_of[placed]], minlength=snap.n_pools
    )
    out: np.ndarray[Any, np.dtype[np.float64]] = snap.pool_free - used
    return out


def _take(
    free: np.ndarray[Any, Any], snap: Snapshot, job: JobPlacement, by_name: dict[str, TaskSpec]
) -> None:
    """Take a placed job's capacity from ``free`` (the pool of that model at that site)."""
    for st in job.tasks:
        task = by_name[st.task]
        need = _units(task)
        cls = CLASSES.index(task.demand.compute_class)
        pools = [
            int(p)
            for p in snap.pools_of(snap.site_index(st.site))
            if snap.pool_model[int(p)] == st.pool and int(snap.pool_class[int(p)]) == cls
        ]
        if not pools:
            continue
        fits = [p for p in pools if free[p] >= need - 1e-9]
        p = fits[0] if fits else max(pools, key=lambda q: float(free[q]))
        free[p] -= need


def _place_jobs(
    jobs: Sequence[Pipeline | Gang], snap: Snapshot, profile: Profile, free: np.ndarray[Any, Any]
) -> list[JobPlacement]:
    """Each job in file order on the capacity the batch and the earlier jobs left."""
    out = []
    free = free.copy()
    for job in jobs:
        view = snap.with_free(free)
        if isinstance(job, Pipeline):
            placed = place_pipeline(job, view, profile)
            members = job.stages
        else:
            placed = place_gang(job, view, profile)
            members = job.members
        if placed.placed:
            _take(free, snap, placed, {t.name: t for t in members})
        out.append(placed)
    return out


# --- schedule -------------------------------------------------------------------------------------
def schedule_cmd(
    ctx: typer.Context,
    tasks_path: Path = typer.Argument(
        ...,
        metavar="TASKS.jsonl",
        help=f"Tasks, {_LINE_FORMAT}; '-' reads stdin. Blank lines and lines starting with '#' "
        "are skipped.",
    ),
    mode: str = ModeOption,
    policy: str = typer.Option(
        "optimal",
        "--policy",
        help="optimal: min-cost flow (keeps the greedy plan if that scores better); "
        "greedy: each task in file order to its best pool with room (the Kubernetes baseline).",
        show_default=True,
    ),
    world_file: Path | None = WorldOption,
    start: str | None = StartOption,
    seed: int = typer.Option(
        0, "--seed", min=0, help="Tie-break seed (and the seed of a gaussian forecast)."
    ),
    k: int = typer.Option(
        DEFAULT_K, "--k", min=1, max=10_000, help="Candidate pools kept per task shape."
    ),
    forecast: str | None = typer.Option(
        None,
        "--forecast",
        help="Plan on forecast signals instead of the modelled ones: "
        f"{', '.join(FORECASTER_SPECS)}.",
    ),
    bound: bool = typer.Option(
        False, "--bound", help="Also solve the LP relaxation (HiGHS) for a proven optimality gap."
    ),
    with_explain: bool = typer.Option(
        False,
        "--explain",
        help=f"Explain the first {EXPLAIN_LIMIT} placements: every site's verdict for the task "
        "judged alone against the snapshot (JSON: an 'explanation' per placement).",
    ),
    as_json: bool = JsonOption,
    out: Path | None = typer.Option(None, "--out", help="Also write the JSON plan to this file."),
) -> None:
    """Place a batch of tasks (see :data:`SCHEDULE_HELP`)."""
    profile = _profile(mode)
    try:
        pol = Policy(policy.strip().lower())
    except ValueError:
        fail(f"--policy: unknown policy {policy!r}; choose one of: {_POLICIES}")
    start_hour = _parse_start(start)
    forecaster = _forecaster(forecast, seed)
    world = _world(ctx, world_file)
    task_file = read_task_file(tasks_path, world)
    n = len(task_file.tasks)
    big = n >= SPINNER_MIN_TASKS
    try:
        with _busy(f"building the snapshot for {n:,} tasks...", big):
            snap = _snapshot(world, start_hour, forecaster)
        with _busy(f"scheduling {n:,} tasks ({pol.value}, {profile.mode.value})...", big):
            plan = schedule(
                task_file.tasks,
                snap,
                profile=profile,
                policy=pol,
                seed=seed,
                k=k,
                lower_bound=bound,
            )
        with _busy(f"placing {len(task_file.jobs)} jobs...", big and bool(task_file.jobs)):
            jobs = _place_jobs(task_file.jobs, snap, profile, _free_after_batch(plan, snap))
        data = plan.to_dict()
        data["jobs"] = [j.model_dump(mode="json") for j in jobs]
        if with_explain:
            with _busy(f"explaining {min(EXPLAIN_LIMIT, plan.placed.size)} placements...", big):
                _add_explanations(data, plan, snap, profile)
    except SuanwangError as exc:
        fail(str(exc))
    text = _dumps(data)
    if out is not None:
        try:
            out.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"--out {out}: cannot write ({exc})")
    if as_json:
        typer.echo(text)
        return
    _print_plan(data, with_explain)
    if out is not None:
        console.print(f"[dim]plan written to {escape(str(out))}[/]")


def _add_explanations(data: dict[str, Any], plan: Plan, snap: Snapshot, profile: Profile) -> None:
    placements = data["placements"]
    for row, t in zip(placements[:EXPLAIN_LIMIT], plan.placed[:EXPLAIN_LIMIT], strict=False):
        ex = explain(plan.groups.tasks[int(t)], snap, profile)
        row["explanation"] = ex.model_dump(mode="json")
    data["explained"] = {
        "limit": EXPLAIN_LIMIT,
        "count": min(EXPLAIN_LIMIT, len(placements)),
        "note": f"only the first {EXPLAIN_LIMIT} placements carry an explanation; each judges "
        "the task alone against the snapshot's free capacity before the batch, so its best site "
        "may differ from the plan's where tasks compete for a pool",
    }


def _when(iso: str) -> str:
    return iso[5:16].replace("T", " ")


def _print_plan(data: dict[str, Any], with_explain: bool) -> None:
    tot, stats = data["totals"], data["stats"]
    console.print(
        f"[bold]{tot['placed']:,}[/] of {tot['tasks']:,} tasks placed ({data['policy']}, mode "
        f"{data['mode']}, seed {data['seed']}); start {_when(data['start'])} UTC; signals: "
        f"{escape(data['signals'])}",
        soft_wrap=True,
    )
    summary = Table(box=None, show_header=False)
    summary.add_column(style="dim")
    summary.add_column(justify="right")
    mean = tot["mean_latency_ms"]
    rows = [
        ("cost", f"{tot['cost']:,.2f} USD"),
        ("mean latency (one-way)", "-" if mean is None else f"{mean:.1f} ms"),
        ("carbon", f"{tot['carbon_g'] / 1000:,.2f} kgCO2e"),
        ("energy", f"{tot['energy_kwh']:,.1f} kWh"),
        ("SLA attainment", f"{tot['sla_attainment']:.1%}"),
        ("deferred (shifted in time)", f"{tot['deferred']:,}"),
        ("unplaced", f"{tot['unplaced']:,}"),
        ("violations", str(tot["violations"])),
        ("objective", f"{tot['objective']:,.4f}"),
    ]
    if "winner" in stats:
        rows.append(("winner", str(stats["winner"])))
    if "lower_bound" in stats:
        rows.append(("LP lower bound", f"{float(stats['lower_bound']):,.4f}"))
        rows.append(("gap", f"{float(stats.get('gap', 0.0)):.3%}"))
    for label, value in rows:
        summary.add_row(label, value)
    console.print(summary)
    placements = data["placements"]
    if placements:
        table = Table(
            Column("task", no_wrap=True, overflow="ellipsis"),
            Column("site", no_wrap=True, overflow="ellipsis"),
            Column("pool", no_wrap=True, overflow="ellipsis"),
            Column("start (UTC)", no_wrap=True, min_width=11),
            Column("ms", justify="right", no_wrap=True, min_width=6),
            Column("USD", justify="right", no_wrap=True, min_width=7),
            Column("gCO2e", justify="right", no_wrap=True, min_width=7),
            Column("runner-up", no_wrap=True, overflow="ellipsis"),
            box=None,
            title=f"first {min(SHOWN_PLACEMENTS, len(placements))} of {len(placements):,} "
            "placements (ms: one-way latency; +N h: deferred start)",
            title_justify="left",
        )
        for p in placements[:SHOWN_PLACEMENTS]:
            deferred = f" +{p['deferred_h']} h" if p["deferred_h"] else ""
            table.add_row(
                escape(p["task"]),
                p["site"],
                p["pool"],
                _when(p["start"]) + deferred,
                f"{p['latency_ms']:.1f}",
                f"{p['cost_micros'] / 1e6:,.2f}",
                f"{p['carbon_g']:,.1f}",
                p["runner_up"] or "-",
            )
        _print_wide(table)
    if tot["unplaced_by_reason"]:
        why = Table("unplaced because", Column("tasks", justify="right"), box=None)
        for reason, count in tot["unplaced_by_reason"].items():
            why.add_row(escape(reason), f"{count:,}")
        console.print(why)
    if with_explain:
        _print_explanations(placements)
    if data["jobs"]:
        _print_jobs(data["jobs"])
    for v in data["violations"]:
        console.print(f"[bold red]violation:[/] {escape(v)}", soft_wrap=True)


def _print_wide(table: Table) -> None:
    """A wide table: the terminal's width, or at least ``WIDE`` columns when piped to a file."""
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=max(console.width, WIDE)).print(table)


def _print_explanations(placements: list[dict[str, Any]]) -> None:
    explained = [p for p in placements[:SHOWN_PLACEMENTS] if "explanation" in p]
    if not explained:
        return
    console.print(
        f"[bold]why[/] (each task judged alone against the snapshot; --json explains the first "
        f"{EXPLAIN_LIMIT})"
    )
    for p in explained:
        ex = p["explanation"]
        rejected = ", ".join(f"{k} {v}" for k, v in ex["rejected_by"].items()) or "none"
        best = ex["sites"][0] if ex["sites"] and ex["sites"][0]["feasible"] else None
        head = f"best alone {best['site']} ({best['score']:g})" if best else "no feasible site"
        runner = f", runner-up {ex['runner_up']}" if ex["runner_up"] else ""
        console.print(
            f"  {escape(p['task'])} -> {p['site']}: {head}{runner}; "
            f"{ex['feasible_sites']} feasible sites; rejected by {escape(rejected)}",
            soft_wrap=True,
        )


def _print_jobs(jobs: list[dict[str, Any]]) -> None:
    table = Table("job", "placed", "tasks -> sites", "ends (h)", box=None, title="jobs")
    table.title_justify = "left"
    for j in jobs:
        where = ", ".join(f"{escape(t['task'])} -> {t['site']}" for t in j["tasks"])
        table.add_row(
            escape(j["job"]),
            "yes" if j["placed"] else "[red]no[/]",
            where or escape(j["reason"]),
            "-" if j["end_h"] is None else f"{j['end_h']:g}",
        )
    _print_wide(table)


# --- why-not --------------------------------------------------------------------------------------
def _single_task(path: Path, world: World) -> TaskSpec:
    """The one task a JSON (or one-line JSONL) file holds."""
    text = read_text(path)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        obj = None
    if isinstance(obj, dict):
        item, errors = _parse_line(obj)
        if item is not None and not isinstance(item, TaskSpec):
            fail(f"{path.name}: holds a job, not a task; give --tasks {path} and a stage's name")
        if item is not None:
            errors = _check_task(item, world, frozenset(s.id for s in world.sites))
        if errors or item is None:
            fail(f"{path.name}: {len(errors)} problem(s)\n" + "\n".join(errors))
        return item
    found = read_task_file(path, world)
    if len(found.tasks) != 1 or found.jobs:
        held = len(found.tasks) + len(found.jobs)
        fail(f"{path.name} holds {held} tasks or jobs, not one; name one with --tasks {path} TASK")
    return found.tasks[0]


def _named_task(path: Path, name: str, world: World) -> TaskSpec:
    found = read_task_file(path, world)
    by_name = {t.name: t for _, t in found.every_task()}
    if name not in by_name:
        fail(f"{found.name}: {UnknownIdError('task', name, by_name)}")
    return by_name[name]


def why_not_cmd(
    ctx: typer.Context,
    task_ref: str = typer.Argument(
        ...,
        metavar="TASK",
        help="A JSON/JSONL file holding one task, or with --tasks FILE a task's name there.",
    ),
    site: str = typer.Argument(..., metavar="SITE", help="Site id, e.g. cn-zhongwei."),
    tasks_path: Path | None = typer.Option(
        None, "--tasks", help="A task file (JSON lines); TASK names a task or job stage in it."
    ),
    mode: str = ModeOption,
    world_file: Path | None = WorldOption,
    start: str | None = StartOption,
    as_json: bool = JsonOption,
) -> None:
    """Why a task does not (or does) go to a site (see :data:`WHY_NOT_HELP`)."""
    profile = _profile(mode)
    start_hour = _parse_start(start)
    world = _world(ctx, world_file)
    if tasks_path is not None:
        task = _named_task(tasks_path, task_ref, world)
    else:
        path = Path(task_ref)
        if task_ref != "-" and not path.exists():
            fail(
                f"{task_ref}: no such file (give a JSON file holding one task, or "
                "--tasks FILE and a task name)"
            )
        task = _single_task(path, world)
    snap = _snapshot(world, start_hour)
    try:
        snap.site_index(site)
        answer = why_not(task, site, snap, profile)
        verdict = explain(task, snap, profile).verdict(site) if as_json else None
    except SuanwangError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(
            _dumps(
                {
                    "task": task.name,
                    "site": site,
                    "mode": profile.mode.value,
                    "start": hour_start(start_hour).isoformat().replace("+00:00", "Z"),
                    "answer": answer,
                    "verdict": verdict,
                }
            )
        )
        return
    typer.echo(answer)


# --- tasks generate -------------------------------------------------------------------------------
@tasks_app.command(help=GENERATE_HELP)
def generate(
    ctx: typer.Context,
    n: int = typer.Option(..., "--n", min=1, help="How many tasks (at least 1)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed: same seed, same tasks."),
    start: str | None = typer.Option(
        None,
        "--start",
        help="Time the deadlines count from, ISO 8601, floored to the hour (default: the "
        "current hour). Schedule the file with the same --start.",
    ),
    world_file: Path | None = WorldOption,
    prefix: str = typer.Option("t", "--prefix", help="Task names are PREFIX000001, ..."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the tasks to this file instead of stdout."
    ),
) -> None:
    """A synthetic workload as JSON lines (see :data:`GENERATE_HELP`)."""
    world = _world(ctx, world_file)
    moment = hour_start(_parse_start(start))
    try:
        tasks = generate_tasks(
            world, n, np.random.default_rng(seed), start=moment, id_prefix=prefix
        )
    except (SuanwangError, ValueError) as exc:
        fail(str(exc))
    text = "".join(t.model_dump_json() + "\n" for t in tasks)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--out {out}: cannot write ({exc})")
    err_console.print(f"[dim]wrote {len(tasks):,} tasks to {escape(str(out))}[/]")
