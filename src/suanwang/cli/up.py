"""`suanwang up`: the platform in one process: the API, the runtime and the backends, on
SQLite in a data directory and the built-in world."""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import typer

from suanwang.cli.control import DataDirOption, LogLevel, data_dir_of
from suanwang.cli.output import console, err_console, fail
from suanwang.cli.worldfile import load_world
from suanwang.control.backends.registry import make_backends
from suanwang.control.config import ControlConfig
from suanwang.control.logs import log
from suanwang.control.logs import setup as setup_logs
from suanwang.control.metrics import Metrics
from suanwang.control.runtime import Runtime
from suanwang.control.service import ControlService
from suanwang.control.store import Store, StoreError, default_url, open_store
from suanwang.core.access import Role
from suanwang.core.errors import SuanwangError
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World

BOOTSTRAPPED = "bootstrap.operator_token"


def up_cmd(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8040, "--port", min=1, max=65535, help="Port to listen on."),
    data_dir: Path | None = DataDirOption,
    config: Path | None = typer.Option(
        None, "--config", help="Control-plane TOML [default: DATA_DIR/control.toml]."
    ),
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Add a provider agent per site (heartbeats through the API) and a steady stream "
        "of realistic tasks from demo tenants.",
    ),
    log_level: LogLevel = typer.Option(LogLevel.WARNING, "--log-level", help="Log detail."),
) -> None:
    """Start the platform: the HTTP API, the runtime and the backends.

    The first start creates an operator token (admin role) and prints it once; keep it. Stop
    with Ctrl-C; the next start resumes with nothing lost.
    """
    import uvicorn

    from suanwang.api.app import ApiSettings, create_app
    from suanwang.api.tokens import TokenStore

    world = load_world(ctx)
    with socket.socket() as probe:  # bound as uvicorn binds it (old connections may linger)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (try --port)")
    ddir = data_dir_of(data_dir)
    cfg_path = config or (ddir / "control.toml")
    if config is not None and not config.exists():
        fail(f"{config}: no such file")
    try:
        cfg = ControlConfig.load(cfg_path) if cfg_path.exists() else ControlConfig()
        store = open_store(default_url(ddir))
        lock = store.lock_runtime()
    except (StoreError, SuanwangError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use the data directory {ddir}: {exc.strerror or exc}")
    setup_logs(log_level.value)
    metrics = Metrics()
    try:
        backends = make_backends(cfg, [s.id for s in world.sites], ddir)
        runtime = Runtime(store, cfg, world, UNIT_TABLE, backends, data_dir=ddir, metrics=metrics)
        runtime.recover()
    except SuanwangError as exc:
        lock.release()
        fail(str(exc))
    tokens = TokenStore(store)
    url = f"http://{host}:{port}"
    if store.meta(BOOTSTRAPPED) is None:
        info, token = tokens.create("operator", Role.ADMIN, note="created by the first `up`")
        store.set_meta(BOOTSTRAPPED, info.id)
        console.print(f"[bold]operator token[/bold] (shown once, keep it): {token}", soft_wrap=True)
    console.print(
        f"Suanwang is up at {url} (dashboard {url}/ , API docs {url}/docs); data in {ddir}; "
        "Ctrl-C stops",
        soft_wrap=True,
    )
    stop = threading.Event()

    def run_runtime() -> None:
        try:
            runtime.run(should_stop=stop.is_set, sleep=stop.wait)
        except Exception as exc:  # the store failed: stop serving, the next start recovers
            err_console.print(f"runtime stopped: {exc}")
            stop.set()

    threads = [threading.Thread(target=run_runtime, name="runtime", daemon=True)]
    if demo:
        threads.append(
            threading.Thread(
                target=_demo_stream,
                args=(ControlService(store), world, stop),
                name="demo",
                daemon=True,
            )
        )
        threads.append(
            threading.Thread(
                target=_demo_agents,
                args=(f"http://127.0.0.1:{port}", store, world, stop),
                name="demo-agents",
                daemon=True,
            )
        )
    app = create_app(
        ApiSettings(
            store=store,
            world=world,
            metrics=metrics,
            market=lambda: runtime.journal.market,
            load=lambda: runtime.site_load,
        )
    )

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # ours below: stop serving, then stop the runtime, and exit 0

    server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))

    def _stop(_sig: int, _frame: object) -> None:
        server.should_exit = True
        stop.set()

    before = signal.signal(signal.SIGINT, _stop), signal.signal(signal.SIGTERM, _stop)
    for t in threads:
        t.start()
    try:
        server.run()
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])
        # uvicorn has answered its requests; whatever they gave the API's group-commit writer
        # is written before the store closes
        app.state.writer.close()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        for b in backends.values():
            b.close()
        lock.release()
        store.close()
    console.print("stopped; the next `suanwang up` resumes where this left off")


def demo_provider(operator: str) -> str:
    """The demo provider principal that owns the sites of ``operator`` (a valid principal)."""
    slug = re.sub(r"[^a-z0-9]+", "-", operator.lower()).strip("-") or "provider"
    return f"demo-{slug}"[:80].rstrip("-")


def _demo_agents(url: str, store: Store, world: World, stop: threading.Event) -> None:
    """A provider agent per site, as a provider would run one: each site is owned by a demo
    provider (one per operator), whose token the agent uses to heartbeat through the API."""
    import httpx

    from suanwang.api.tokens import TokenStore
    from suanwang.control.agent import Agent, make_probe
    from suanwang.control.site_registry import SiteRegistry

    registry = SiteRegistry(store, world)
    tokens = TokenStore(store)
    clients: dict[str, httpx.Client] = {}
    agents = []
    for site in registry.world().sites:
        provider = registry.owner(site.id)
        if provider is None:
            provider = demo_provider(site.operator)
            registry.set_owner(site.id, provider)
        if provider not in clients:
            _, token = tokens.create(
                provider, Role.PROVIDER, ttl=timedelta(days=1), note="demo agent (`up --demo`)"
            )
            clients[provider] = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
        agents.append(Agent(clients[provider], site.id, make_probe("sim"), name="demo-agent"))
    try:
        while not stop.is_set():  # the API starts after this thread
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            stop.wait(0.2)
        for agent in agents:
            if stop.is_set():
                return
            agent.register()
        every = 10.0
        while not stop.is_set():
            for agent in agents:
                if stop.is_set():
                    return
                try:
                    every = float(agent.beat().get("every_s", every))
                except (SuanwangError, httpx.HTTPError) as exc:
                    log(logging.WARNING, "demo agent heartbeat failed", error=str(exc))
            stop.wait(every)
    except (SuanwangError, httpx.HTTPError) as exc:
        err_console.print(f"demo agents stopped: {exc}")
    finally:
        for client in clients.values():
            client.close()


def _demo_stream(service: ControlService, world: object, stop: threading.Event) -> None:
    """A steady stream of realistic tasks: a few every couple of seconds."""
    rng = np.random.default_rng()
    while not stop.wait(2.0):
        specs = generate_tasks(world, 5, rng, start=datetime.now(UTC))  # type: ignore[arg-type]
        service.submit_many(specs)
