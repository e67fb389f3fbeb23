"""`suanwang agent`: the provider agent (算力并网). Registers a site's pools with the API and
heartbeats the live capacity of its backend until Ctrl-C or SIGTERM (see
:mod:`suanwang.control.agent` for the probes and the heartbeat).

Exit status: 0 stopped by Ctrl-C/SIGTERM, or ``--once`` done; 2 for a caller's mistake (a bad
registration file or option, a probe that cannot read its backend at start, a refusal: 401,
403, an unknown site, ...); 1 when the API cannot be reached or fails (``--once``; without it
the agent keeps retrying).
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar

import httpx
import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.text import Text

from suanwang.cli.output import EXIT_USAGE, console, err_console, fail, field_errors, read_text
from suanwang.cli.remote import EXIT_REMOTE, Settings, TokenOption, UrlOption, resolve
from suanwang.control.agent import (
    DEFAULT_RAY_ADDRESS,
    Agent,
    AgentError,
    Probe,
    backoff_s,
    make_probe,
)
from suanwang.world.onboard import SiteRegistration

SITE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
HTTP_TIMEOUT_S = 15.0

T = TypeVar("T")


class BackendKind(StrEnum):
    LOCAL = "local"
    SLURM = "slurm"
    RAY = "ray"
    SIM = "sim"


def _registration(path: Path) -> SiteRegistration:
    """The SiteRegistration in a YAML or JSON file; every problem named by field (exit 2)."""
    import yaml

    text = read_text(path)
    name = "stdin" if str(path) == "-" else path.name
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fail(f"{name}: not valid YAML or JSON{where}: {problem}")
    if not isinstance(doc, dict):
        fail(
            f"{name}: expected a site registration (a mapping with name, city, country, lat, "
            f"lon, pools, pue, grid_zone, ...), got {type(doc).__name__}"
        )
    try:
        return SiteRegistration.model_validate(doc)
    except ValidationError as exc:
        problems = field_errors(exc, "")
        fail(f"{name}: {len(problems)} problem(s); nothing was sent\n" + "\n".join(problems))


def _refuse(exc: AgentError, settings: Settings) -> NoReturn:
    """Exit 2 for a refusal (4xx), 1 for anything that may pass (unreachable, 5xx)."""
    message = str(exc)
    if exc.status == 401 and settings.token_from:
        message += f"; the token came from {settings.token_from}"
    if exc.status is None and message.startswith("cannot reach the API"):
        message += " (is the API running there? set its URL with --url or $SUANWANG_URL)"
    fail(message, code=EXIT_REMOTE if exc.retryable else EXIT_USAGE)


def _warn(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    err_console.print(Text.assemble((f"{stamp} warning: ", "yellow"), message), soft_wrap=True)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (a second SIGINT interrupts at once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    before = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, old in before.items():
            signal.signal(s, old)


@contextlib.contextmanager
def _closing(probe: Probe) -> Iterator[None]:
    """Close the probe at the end if it holds something (the ray probe's HTTP client)."""
    try:
        yield
    finally:
        close = getattr(probe, "close", None)
        if callable(close):
            close()


def _retrying(stop: threading.Event, step: Callable[[], T]) -> T | None:
    """``step()``, retried with backoff while it fails in a way that may pass; None when
    ``stop`` is set first. A refusal is raised."""
    failures = 0
    while not stop.is_set():
        try:
            return step()
        except AgentError as exc:
            if not exc.retryable:
                raise
            failures += 1
            delay = backoff_s(failures)
            _warn(f"{exc} (failure {failures} in a row; retrying in {delay:g} s)")
            stop.wait(delay)
    return None


def _pct(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "?"


def _beat_line(n: int, beat: dict[str, Any], every_s: float | None) -> str:
    online, counts = beat.get("online") or [], beat.get("counts") or []
    pools = ""
    if len(counts) > 1:
        pools = " [" + ", ".join(f"{a}/{b}" for a, b in zip(online, counts, strict=False)) + "]"
    metrics = beat.get("metrics") or {}
    util = f", utilisation {_pct(metrics['utilisation'])}" if "utilisation" in metrics else ""
    nxt = every_s if every_s is not None else beat.get("every_s")
    when = f", next in {nxt:g} s" if isinstance(nxt, int | float) else ""
    return (
        f"[dim]{time.strftime('%H:%M:%S')}[/dim] beat {n}: online "
        f"[bold]{sum(online)}/{sum(counts)}[/bold] devices ({_pct(beat.get('fraction_online'))})"
        f"{escape(pools)}{util}{when}"
    )


def agent_cmd(
    site: str = typer.Option(
        ..., "--site", metavar="ID", help="The site this agent reports for.", show_default=False
    ),
    backend: BackendKind = typer.Option(
        ..., "--backend", help="What to read the live capacity from.", show_default=False
    ),
    register: Path | None = typer.Option(
        None,
        "--register",
        metavar="SITE.yaml",
        help="Register (or re-describe) the site from this YAML or JSON file first.",
        show_default=False,
    ),
    once: bool = typer.Option(False, "--once", help="Send one heartbeat and exit (cron, tests)."),
    every: float | None = typer.Option(
        None,
        "--every",
        min=0.05,
        metavar="S",
        help="Seconds between beats (default: what the API answers, 10 s today).",
        show_default=False,
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help=f"Ray dashboard URL, for --backend ray (default: {DEFAULT_RAY_ADDRESS}).",
        show_default=False,
    ),
    partition: str | None = typer.Option(
        None,
        "--partition",
        help="Slurm partition, for --backend slurm (default: every partition).",
        show_default=False,
    ),
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON line per beat to stdout (JSON Lines)."
    ),
) -> None:
    """Run a provider agent (算力并网): register a site's pools and heartbeat its live
    capacity to the API until Ctrl-C or SIGTERM.

    Each beat reads the backend (--backend) and reports, for every pool of the site, the devices
    online now: floor(count x share of the backend in service), with live metrics. local: this
    machine (CPUs, load, memory); slurm: sinfo (CPUs not down or drained; --partition); ray: the
    Ray dashboard at --address (CPUs of alive nodes); sim: always fully online.

    With --register the site is registered (or re-described) from a YAML or JSON file first
    (fields as for PUT /v1/sites/{id}: name, city, country, lat, lon, pools, pue, grid_zone, ...);
    without it the site must already be on the grid. The token is the owning provider's (or an
    admin's). An unreachable API is retried with backoff (1 s doubling to 60 s), a refusal (401,
    403, ...) ends the agent with exit 2.

    \b
    Example:
      suanwang agent --site ke-acme-nairobi --backend slurm --register site.yaml \\
          --url https://api.example.org --token sw_...
      suanwang agent --site ke-acme-nairobi --backend local --once --json   # cron: one beat
    """
    if not SITE_ID.match(site):
        fail(f"--site {site!r}: a site id is lowercase letters, digits and '-' (up to 80)")
    try:
        probe: Probe = make_probe(backend.value, address=address, partition=partition)
    except ValueError as exc:
        fail(f"--backend {backend.value}: {exc}")
    registration = _registration(register) if register is not None else None
    settings = resolve(url, token)
    try:
        probe.read()
    except AgentError as exc:
        fail(f"the {backend.value} backend cannot be read: {exc}")

    headers = {"Accept": "application/json"}
    if settings.token:
        headers["Authorization"] = f"Bearer {settings.token}"
    stop = threading.Event()
    beats = 0

    def on_beat(beat: dict[str, Any]) -> None:
        nonlocal beats
        beats += 1
        if as_json:
            line = {"beat": beats, "at": datetime.now(UTC).isoformat(), **beat}
            typer.echo(json.dumps(line, ensure_ascii=False))
        else:
            console.print(_beat_line(beats, beat, every), soft_wrap=True, highlight=False)

    with (
        httpx.Client(base_url=settings.url, headers=headers, timeout=HTTP_TIMEOUT_S) as http,
        _closing(probe),
        _stop_on_signals(stop),
    ):
        agent = Agent(http, site, probe)
        try:
            if once:
                shown: dict[str, Any] | None = agent.register(registration)
            else:
                shown = _retrying(stop, lambda: agent.register(registration))
            if shown is not None:  # None: stopped while the API could not be reached
                _registered(agent, shown, settings, quiet=as_json)
                if once:
                    on_beat(agent.beat())
                    return
                agent.run(stop, every_s=every, on_beat=on_beat, on_error=_warn)
        except AgentError as exc:
            _refuse(exc, settings)
    note = f"agent for {site} stopped after {beats} beat(s)"
    if agent.counts is None:
        note += " (the site was not registered: the API could not be reached)"
    if as_json:
        err_console.print(note, highlight=False)
    else:
        console.print(note, highlight=False)


def _registered(agent: Agent, site: dict[str, Any], settings: Settings, *, quiet: bool) -> None:
    """One line on what the agent reports for (stderr with --json: stdout holds beats)."""
    how = {True: "registered", False: "re-described", None: "found"}[agent.created]
    pools = ", ".join(
        f"{p.get('count')} x {p.get('model')}" for p in site.get("pools", []) if isinstance(p, dict)
    )
    line = (
        f"site [bold]{escape(agent.site)}[/bold] {how} at {escape(settings.url)} "
        f"(owner {escape(str(site.get('owner')))}; pools: {escape(pools)})"
    )
    (err_console if quiet else console).print(line, soft_wrap=True, highlight=False)
