"""`suanwang market quote`: what each task of a file would cost where, before it is submitted.

Reads a task file like ``suanwang schedule`` (the same reader, so the same line format and the
same error report: every bad line with its line number, exit 2), builds the snapshot at
``--start`` and prints one :class:`~suanwang.core.market.quote.Quote` per task: the cheapest
offers, or why no site can take it. Pipeline and gang lines are quoted stage by stage (member
by member), each judged alone: the transfers between stages and a gang's all-or-nothing and
spread constraints are not priced (``suanwang schedule`` places jobs). The clock is read here,
never in the core: the default start is the current UTC hour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Column, Table

from suanwang.cli.output import JsonOption, console, fail
from suanwang.cli.schedule import (
    SPINNER_MIN_TASKS,
    ModeOption,
    StartOption,
    _busy,
    _dumps,
    _parse_start,
    _print_wide,
    _profile,
    _snapshot,
    read_task_file,
)
from suanwang.cli.worldfile import WorldOption, load_world, remember_world
from suanwang.core.errors import SuanwangError
from suanwang.core.market.quote import Quote, money_text, quote
from suanwang.core.scheduling.jobs import Gang, Pipeline
from suanwang.core.tasks import TaskSpec

SHOWN_QUOTES = 50
"""Quotes the human output lists (``--json`` has them all)."""

QUOTE_HELP = (
    "What each task would cost where, before it is submitted: the cheapest offers (site, pool, "
    "compute + egress in exact micros of the pool's currency), or, when no site can take a "
    "task, why, grouped by the filter that rejected each site, nearest miss first.\n\n"
    "Each task is judged alone against the world's free capacity at --start with the profile "
    "of --mode; nothing is reserved, so two tasks may both be offered the last free units of "
    "a pool. Pipeline and gang lines are quoted stage by stage (member by member), without "
    "the transfers between stages or the gang's constraints.\n\n"
    "Bad lines are all reported with their line numbers and field paths (exit 2); nothing is "
    "quoted then. --json prints {quotes, quoted, without_offer, mode, start, jobs}."
)


def quote_cmd(
    ctx: typer.Context,
    tasks: Path = typer.Argument(
        ...,
        metavar="TASKS.jsonl",
        help='Tasks, one JSON object per line: a task (TaskSpec), {"pipeline": {...}} or '
        "{\"gang\": {...}}; '-' reads stdin. Blank lines and lines starting with '#' are "
        "skipped.",
    ),
    world: Path | None = WorldOption,
    start: str | None = StartOption,
    mode: str = ModeOption,
    top: int = typer.Option(
        3, "--top", min=1, max=1000, help="Offers kept per task, cheapest first."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Quote every task of ``tasks`` (see :data:`QUOTE_HELP`); exit 2 on a bad file or option."""
    profile = _profile(mode)
    start_hour = _parse_start(start)
    remember_world(ctx, world)
    the_world = load_world(ctx)
    found = read_task_file(tasks, the_world)
    specs, jobs = _flatten(found.tasks, found.task_lines, found.jobs, found.job_lines, found.name)
    n = len(specs)
    big = n >= SPINNER_MIN_TASKS
    try:
        with _busy(f"building the snapshot for {n:,} tasks...", big):
            snap = _snapshot(the_world, start_hour)
        with _busy(f"quoting {n:,} tasks ({profile.mode.value})...", big):
            quotes = quote(specs, snap, profile, top=top)
    except SuanwangError as exc:
        fail(str(exc))
    data: dict[str, Any] = {
        "quotes": [q.model_dump(mode="json") for q in quotes],
        "quoted": len(quotes),
        "without_offer": sum(1 for q in quotes if not q.has_offer),
        "mode": profile.mode.value,
        "start": snap.start_label(0),
        "jobs": jobs,
    }
    if json_out:
        typer.echo(_dumps(data))
        return
    _print_quotes(quotes, data)


def _flatten(
    batch: list[TaskSpec],
    batch_lines: list[int],
    jobs: list[Pipeline | Gang],
    job_lines: list[int],
    file_name: str,
) -> tuple[list[TaskSpec], list[dict[str, Any]]]:
    """The batch's tasks, then every job's stages or members, as one list of tasks to quote,
    and what each job line held. A name quoted twice (a stage named like a batch task or a
    member of another job) is an error with both line numbers (exit 2)."""
    specs = list(batch)
    seen = {t.name: line for t, line in zip(batch, batch_lines, strict=True)}
    problems: list[str] = []
    held: list[dict[str, Any]] = []
    for job, line in zip(jobs, job_lines, strict=True):
        kind = "pipeline" if isinstance(job, Pipeline) else "gang"
        members: tuple[TaskSpec, ...] = job.stages if isinstance(job, Pipeline) else job.members
        for t in members:
            if t.name in seen:
                problems.append(
                    f"line {line}: {kind} {job.name!r}: task {t.name!r} is already on line "
                    f"{seen[t.name]}; a quote names each task once"
                )
                continue
            seen[t.name] = line
            specs.append(t)
        held.append(
            {"job": job.name, "kind": kind, "line": line, "tasks": [t.name for t in members]}
        )
    if problems:
        fail(f"{file_name}: {len(problems)} problem(s)\n" + "\n".join(problems))
    return specs, held


def _print_quotes(quotes: list[Quote], data: dict[str, Any]) -> None:
    n, without = data["quoted"], data["without_offer"]
    console.print(
        f"[bold]{n - without:,}[/] of {n:,} tasks have an offer (mode {data['mode']}, start "
        f"{data['start'][:16].replace('T', ' ')} UTC); each task is judged alone, nothing is "
        "reserved",
        soft_wrap=True,
    )
    shown = quotes[:SHOWN_QUOTES]
    title = (
        f"first {len(shown)} of {n:,} quotes (--json has them all)"
        if n > len(shown)
        else f"{n:,} quotes"
    )
    table = Table(
        Column("task", no_wrap=True, overflow="ellipsis"),
        Column("best site", no_wrap=True, overflow="ellipsis"),
        Column("pool", no_wrap=True, overflow="ellipsis"),
        Column("total", justify="right", no_wrap=True, min_width=10),
        Column("runner-up", no_wrap=True, overflow="ellipsis"),
        Column("sites", justify="right", no_wrap=True),
        box=None,
        title=title,
        title_justify="left",
    )
    for q in shown:
        if q.best is None:
            table.add_row(escape(q.task), "[red]no offer[/]", "-", "-", "-", "0")
            continue
        runner = "-"
        if len(q.offers) > 1:
            r = q.offers[1]
            runner = f"{r.site} {money_text(r.total_micros, r.currency)}"
        table.add_row(
            escape(q.task),
            q.best.site,
            q.best.pool,
            money_text(q.best.total_micros, q.best.currency),
            runner,
            str(q.feasible_sites),
        )
    _print_wide(table)
    missing = [q for q in shown if q.best is None]
    if missing:
        console.print("[bold]why no offer[/]")
        for q in missing:
            console.print(f"  [red]{escape(q.summary)}[/]", soft_wrap=True)
    if data["jobs"]:
        console.print(
            f"[dim]{len(data['jobs'])} job line(s) quoted stage by stage (member by member), "
            "without transfers between stages or gang constraints[/]"
        )
