"""`suanwang control`: run the control plane and talk to it through the service layer.

Every command works on one store: ``--db URL`` (PostgreSQL or SQLite) or ``--data-dir DIR``
(SQLite in WAL mode, ``DIR/suanwang.db``; default ``$SUANWANG_DATA_DIR`` or
``~/.local/share/suanwang``). ``control run`` is the runtime; the other commands only write
requests to the store or read it, so they work while the runtime runs in another terminal.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from suanwang.cli.output import JsonOption, console, emit_json, fail
from suanwang.cli.schedule import read_task_file
from suanwang.cli.worldfile import WorldOption, load_world, remember_world
from suanwang.control.backends.registry import make_backends
from suanwang.control.config import ControlConfig
from suanwang.control.logs import setup as setup_logs
from suanwang.control.metrics import Metrics
from suanwang.control.runtime import Runtime
from suanwang.control.service import ControlService
from suanwang.control.store import Store, StoreError, default_url, open_store
from suanwang.core.engine import TaskState
from suanwang.core.errors import SuanwangError
from suanwang.core.network.failures import FailureSpec
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.unit_catalog import UNIT_TABLE

app = typer.Typer(
    help="Run the control plane (store, runtime, backends) and send it requests.",
    no_args_is_help=True,
)

DbOption = typer.Option(
    None,
    "--db",
    help="Database URL (PostgreSQL or SQLite) [env: SUANWANG_DB].",
    show_default=False,
)
DataDirOption = typer.Option(
    None,
    "--data-dir",
    help="Data directory (SQLite store, job files, control.toml) [env: SUANWANG_DATA_DIR; "
    "default: ~/.local/share/suanwang].",
    show_default=False,
)


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def data_dir_of(data_dir: Path | None) -> Path:
    """The data directory: ``--data-dir``, else ``$SUANWANG_DATA_DIR``, else the XDG default."""
    if data_dir is not None:
        return data_dir
    env = os.environ.get("SUANWANG_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "suanwang"


def url_of(db: str | None, data_dir: Path | None) -> str:
    """The store's URL. Options given on the command line win over the environment:
    ``--db``, else ``--data-dir``'s SQLite, else ``$SUANWANG_DB``, else the default data
    directory's SQLite. (With both options, ``--db`` holds the store and ``--data-dir`` the
    job files and ``control.toml``.)"""
    if db is not None:
        return db
    if data_dir is None and os.environ.get("SUANWANG_DB"):
        return os.environ["SUANWANG_DB"]
    ddir = data_dir_of(data_dir)
    if ddir.exists() and not ddir.is_dir():
        fail(f"{ddir} is a file, not a folder (--data-dir)")
    try:
        return default_url(ddir)
    except OSError as exc:
        fail(f"cannot create the data directory {ddir}: {exc.strerror or exc}")


def store_of(db: str | None, data_dir: Path | None) -> Store:
    url = url_of(db, data_dir)
    try:
        return open_store(url)
    except StoreError as exc:
        fail(str(exc))


@app.callback()
def _group(ctx: typer.Context, world_file: Path | None = WorldOption) -> None:
    """Run the control plane (store, runtime, backends) and send it requests."""
    remember_world(ctx, world_file)


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    config: Path | None = typer.Option(
        None,
        "--config",
        help="Control-plane TOML (backends, sites) [default: DATA_DIR/control.toml].",
    ),
    until_idle: bool = typer.Option(
        False,
        "--until-idle",
        help="Stop once every task is finished, except those no site can take now (they stay "
        "queued and say why).",
    ),
    max_ticks: int | None = typer.Option(None, "--max-ticks", min=1, help="Stop after N ticks."),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", min=1, max=65535, help="Serve Prometheus metrics on 127.0.0.1."
    ),
    log_level: LogLevel = typer.Option(LogLevel.INFO, "--log-level", help="Log detail."),
    json_out: bool = JsonOption,
) -> None:
    """Run the runtime loop: take requests, poll backends, place, dispatch, settle.

    It rebuilds its state from the store first and reconciles with every backend, so it
    can be stopped (Ctrl-C, or killed) and started again without losing or repeating work.
    Logs are JSON lines on stderr.
    """
    world = load_world(ctx)
    ddir = data_dir_of(data_dir)
    cfg_path = config or (ddir / "control.toml")
    try:
        cfg = ControlConfig.load(cfg_path) if cfg_path.exists() else ControlConfig()
    except SuanwangError as exc:
        fail(str(exc))
    if config is not None and not config.exists():
        fail(f"{config}: no such file")
    unknown = sorted(set(cfg.sites) - {s.id for s in world.sites})
    if unknown:
        fail(f"the config maps sites the world does not have: {', '.join(unknown)}")
    store = store_of(db, data_dir)
    try:
        lock = store.lock_runtime()
    except StoreError as exc:
        fail(str(exc))
    setup_logs(log_level.value)
    metrics = Metrics()
    try:
        backends = make_backends(cfg, [s.id for s in world.sites], ddir)
        runtime = Runtime(store, cfg, world, UNIT_TABLE, backends, data_dir=ddir, metrics=metrics)
        recovered = runtime.recover()
    except SuanwangError as exc:
        fail(str(exc))
    server = None
    if metrics_port is not None:
        from prometheus_client import start_http_server

        try:
            server, _ = start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
        except OSError as exc:
            fail(f"cannot serve metrics on 127.0.0.1:{metrics_port}: {exc.strerror or exc}")
    stop = threading.Event()

    def _stop(_sig: int, _frame: Any) -> None:
        stop.set()

    before = signal.signal(signal.SIGINT, _stop), signal.signal(signal.SIGTERM, _stop)
    try:
        n = runtime.run(
            until_idle=until_idle,
            max_ticks=max_ticks,
            should_stop=stop.is_set,
            sleep=stop.wait,
        )
    except SQLAlchemyError as exc:
        # the tick's transaction was rolled back; memory is ahead of the store, so stop here:
        # the next start rebuilds everything from the store
        fail(f"the store failed ({exc.__class__.__name__}: {exc}); restart to recover", code=1)
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])
        if server is not None:
            server.shutdown()
            server.server_close()
        lock.release()
    counts = ControlService(store).counts()
    for b in backends.values():
        b.close()
    store.close()
    result = {"store": store.url, "ticks": n, "recovered": recovered, "tasks": counts}
    if json_out:
        emit_json(result)
    else:
        console.print(
            f"stopped after {n} ticks; " + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        )


@app.command("submit")
def submit_cmd(
    ctx: typer.Context,
    tasks: Path | None = typer.Argument(
        None, help="Task file (JSON Lines; '-' for stdin).", show_default=False
    ),
    generate: int | None = typer.Option(
        None, "--generate", min=1, help="Submit N generated tasks instead of a file."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed for --generate."),
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    json_out: bool = JsonOption,
) -> None:
    """Submit tasks to the control plane (all or none); prints their ids."""
    world = load_world(ctx)
    if (tasks is None) == (generate is None):
        fail("give a task file or --generate N (one of the two)")
    if generate is not None:
        specs = generate_tasks(
            world, generate, np.random.default_rng(seed), start=datetime.now(UTC)
        )
    else:
        assert tasks is not None
        parsed = read_task_file(tasks, world)
        if parsed.jobs:
            fail("the control plane takes single tasks for now; this file holds jobs")
        specs = parsed.tasks
    store = store_of(db, data_dir)
    ids = ControlService(store).submit_many(specs)
    if json_out:
        emit_json({"submitted": len(ids), "ids": ids})
    else:
        console.print(f"submitted {len(ids)} task(s)" + (f": {ids[0]}" if len(ids) == 1 else ""))


@app.command("tasks")
def tasks_cmd(
    state: TaskState | None = typer.Option(None, "--state", help="Only tasks in this state."),
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant's tasks."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    offset: int = typer.Option(0, "--offset", min=0),
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    json_out: bool = JsonOption,
) -> None:
    """List tasks (newest first) and the count in every state."""
    svc = ControlService(store_of(db, data_dir))
    rows = svc.tasks(state=state, tenant=tenant, limit=limit, offset=offset)
    counts = svc.counts()
    if json_out:
        emit_json({"counts": counts, "tasks": rows})
        return
    table = Table(title="tasks: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    for col in ("id", "name", "tenant", "state", "attempt", "site", "reason"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.id, r.name, r.tenant, r.state, str(r.attempt), r.site or "", r.reason)
    console.print(table)


@app.command("status")
def status_cmd(
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    json_out: bool = JsonOption,
) -> None:
    """The store, tasks by state, sites declared down and network cuts in force."""
    store = store_of(db, data_dir)
    svc = ControlService(store)
    counts, down, cuts = svc.counts(), svc.sites_down(), svc.cuts()
    result = {
        "store": store.url,
        "schema": store.revision(),
        "tasks": counts,
        "sites_down": down,
        "cuts": cuts,
    }
    if json_out:
        emit_json(result)
        return
    console.print(f"store {store.url} (schema {store.revision()})")
    console.print("tasks: " + (", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none"))
    console.print("sites down: " + (", ".join(down) or "none"))
    console.print("cuts: " + (", ".join(cuts) or "none"))


@app.command("show")
def show_cmd(
    task: str = typer.Argument(..., help="Task id.", show_default=False),
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    json_out: bool = JsonOption,
) -> None:
    """One task and its story (every event, what it did, in order)."""
    svc = ControlService(store_of(db, data_dir))
    try:
        view = svc.get(task)
        story = svc.story(task)
    except SuanwangError as exc:
        fail(str(exc))
    if json_out:
        emit_json({"task": view, "story": story})
        return
    console.print(
        f"[bold]{view.id}[/bold] {view.name} ({view.tenant}): [bold]{view.state}[/bold]"
        f" attempt {view.attempt}"
        + (f" at {view.site}" if view.site else "")
        + (f" — {view.reason}" if view.reason else "")
    )
    table = Table(title="story")
    for col in ("at", "event", "attempt", "from", "to", "did", "note"):
        table.add_column(col)
    for line in story:
        table.add_row(
            line.at.isoformat(timespec="seconds"),
            line.kind.value,
            str(line.attempt or ""),
            line.before.value if line.before else "",
            line.after.value if line.after else "",
            ", ".join(line.ops) if line.accepted else "ignored",
            line.note,
        )
    console.print(table)


@app.command("cancel")
def cancel_cmd(
    task: str = typer.Argument(..., help="Task id.", show_default=False),
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    json_out: bool = JsonOption,
) -> None:
    """Cancel a task (its attempt is stopped and its lease closed as cancelled)."""
    svc = ControlService(store_of(db, data_dir))
    try:
        svc.cancel(task)
    except SuanwangError as exc:
        fail(str(exc))
    if json_out:
        emit_json({"cancel": task, "queued": True})
    else:
        console.print(f"cancel of {task} queued")


@app.command("cut")
def cut_cmd(
    ctx: typer.Context,
    link: list[str] = typer.Option([], "--link", help="A link id (repeatable)."),
    cable: list[str] = typer.Option([], "--cable", help="A cable id, e.g. tonga-cable."),
    corridor: list[str] = typer.Option([], "--corridor", help="A corridor, e.g. red-sea."),
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    json_out: bool = JsonOption,
) -> None:
    """Cut links, cables or corridors: tasks that can no longer be served move elsewhere."""
    world = load_world(ctx)
    srlgs = {f"cable:{c}" for c in cable} | {f"corridor:{c}" for c in corridor}
    if not (link or srlgs):
        fail("give at least one --link, --cable or --corridor to cut")
    try:
        failure = FailureSpec(links=frozenset(link), srlgs=frozenset(srlgs))
        from suanwang.core.network.engine import Network

        Network.from_world(world).fail(failure, report=False)  # validates the names
    except (SuanwangError, ValueError) as exc:
        fail(str(exc).splitlines()[-1] if "validation" in str(exc) else str(exc))
    key = ControlService(store_of(db, data_dir)).cut(failure)
    if json_out:
        emit_json({"cut": key, "queued": True})
    else:
        console.print(f"cut {key} queued; restore with `suanwang control restore '{key}'`")


@app.command("restore")
def restore_cmd(
    key: str = typer.Argument(..., help="The cut's key (as `cut` printed).", show_default=False),
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    json_out: bool = JsonOption,
) -> None:
    """Restore a cut."""
    try:
        ControlService(store_of(db, data_dir)).restore(key)
    except SuanwangError as exc:
        fail(str(exc))
    if json_out:
        emit_json({"restore": key, "queued": True})
    else:
        console.print(f"restore of {key} queued")


def _site_request(ctx: typer.Context, site: str, up: bool, db: str | None, data_dir: Path | None,
                  json_out: bool) -> None:  # fmt: skip
    world = load_world(ctx)
    try:
        world.site(site)
    except SuanwangError as exc:
        fail(str(exc))
    svc = ControlService(store_of(db, data_dir))
    (svc.site_up if up else svc.site_down)(site)
    if json_out:
        emit_json({"site": site, "down": not up, "queued": True})
    else:
        console.print(f"site {site} {'up' if up else 'down'} queued")


@app.command("site-down")
def site_down_cmd(
    ctx: typer.Context,
    site: str = typer.Argument(..., help="Site id.", show_default=False),
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    json_out: bool = JsonOption,
) -> None:
    """Declare a site failed: its running attempts move elsewhere."""
    _site_request(ctx, site, False, db, data_dir, json_out)


@app.command("site-up")
def site_up_cmd(
    ctx: typer.Context,
    site: str = typer.Argument(..., help="Site id.", show_default=False),
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    json_out: bool = JsonOption,
) -> None:
    """Bring a site back into service."""
    _site_request(ctx, site, True, db, data_dir, json_out)
