#!/usr/bin/env python3
"""Benchmark the HTTP API: task submissions per second and latency over loopback.

The server runs in a separate process (``python bench/bench_api.py --serve ...``: it opens the
store, creates a tenant token, prints it, and serves the app of ``create_app`` with uvicorn on
127.0.0.1, configured as ``suanwang up`` does), so the load generator does not share its GIL.
The load comes from this process: ``--concurrency`` threads, each with its own keep-alive
``httpx.Client``, sending pre-encoded bodies back to back (a closed loop: a client sends its
next request when the previous one is answered). Requests finishing in the first
``--warmup`` seconds are not counted.

On SQLite (a temporary folder, WAL) and, when a PostgreSQL URL is configured
($SUANWANG_TEST_PG_URL or .services/postgres.url), on PostgreSQL in a scratch schema that is
dropped afterwards. Per store:

* **baselines over HTTP**: ``GET /healthz`` (no token, no store: the server and client
  framework alone) at concurrency 1 and ``--concurrency``, and ``GET /v1/whoami`` (the token
  lookup and the dependency chain);
* **single**: ``POST /v1/tasks``, one task per request, at concurrency 1 and ``--concurrency``
  (tasks/s, p50/p99 latency);
* **batch**: ``POST /v1/tasks/batch`` with ``--batch`` tasks per request, at concurrency 1 and
  ``--concurrency`` (tasks/s, p50/p99 per request);
* **in-process baselines** (no HTTP, no server running): ``ControlService.submit_many`` of
  ``--n`` tasks in one transaction, ``ControlService.submit`` one task per transaction, and
  what one single submission does, step by step: ``TaskSpec`` validation from JSON, the token
  lookup (``TokenStore.authenticate``), the inbox insert (``ControlService.submit``) and the
  audit append (``AuditLog.append``, its own transaction under the audit lock);
* the CPU the server (from /proc) and this process used per request and in cores, so a
  GIL-bound server shows as one busy core.

Every accepted task is checked to be in the inbox afterwards. The API's per-token rate limit
(200/s, burst 2,000 by default) is raised for the benchmark, or it would be what is measured.
Two additions for finding where the time goes (nothing in src/ is changed):

* ``--what-if``: single submissions against servers with one or more of the per-request store
  round trips patched out in the server process (tokens cached after the first lookup, no
  audit append, no inbox insert), so the gain of removing each is measured, not guessed;
* ``--profile``: single submissions sampled by py-spy at once with ``--gil`` (the thread that
  holds the GIL: where the interpreter's time goes) and ``--idle`` (every request thread,
  waiting or not: where a request's wall time goes, the database driver and its lock waits
  included); the raw stacks are kept beside the JSON.

Writes bench/results/api.json (or --out); --serve is the server mode the benchmark starts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastapi
import httpx
import numpy as np
import pydantic
import sqlalchemy
import uvicorn
from pgscratch import pg_scratch, pg_url
from sqlalchemy import create_engine, func, select, text
from timing import aligned, rounded

from suanwang.api.app import ApiSettings, create_app
from suanwang.api.audit import AuditLog
from suanwang.api.tokens import TokenStore
from suanwang.control.service import ControlService
from suanwang.control.store import open_store
from suanwang.control.store.schema import InboxRow
from suanwang.core.access import Role
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import TaskSpec
from suanwang.world.builtin import load_builtin_world

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
TENANT = "tenant-bench"
TARGET = 1_000.0  # tasks/s, single submissions on SQLite (issue 8)
RATE = 10.0**9  # the per-token rate limit while benchmarking (effectively none)


# --- the server process ---------------------------------------------------------------------------
VARIANTS = {
    "token-cache": "each token looked up in the store once, then cached for good",
    "no-audit": "no audit entry written (the inbox rows still are, in the group commit)",
    "no-inbox": "no inbox row written (ids made, nothing stored)",
}
"""What-if patches applied in the server process (``--what-if``), to measure what each
per-request store write costs. Nothing in src/ is changed. The API writes a submission's inbox
row and audit entry together, in a group commit (``suanwang.api.writer``), through
``AuditLog.append_many`` and ``insert_inbox``: those are what is patched (and the one-by-one
``AuditLog.append`` and ``ControlService.submit_many`` of other callers)."""


def patch(variants: list[str]) -> None:
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; known: {sorted(VARIANTS)}")
    if "token-cache" in variants:
        lookup = TokenStore.authenticate
        cache: dict[str | None, Any] = {}

        def authenticate(self: TokenStore, token: str | None) -> Any:
            if token not in cache:
                cache[token] = lookup(self, token)
            return cache[token]

        TokenStore.authenticate = authenticate  # type: ignore[method-assign]
        TokenStore.cached = lambda self, token: cache.get(token)  # type: ignore[method-assign]
    if "no-audit" in variants:
        AuditLog.append = lambda self, **kw: {}  # type: ignore[method-assign]

        def append_many(self: AuditLog, fields: Any, *, before: Any = None) -> list[Any]:
            if before is not None:
                with self.store.engine.begin() as conn:
                    before(conn)
            return [{} for _ in fields]

        AuditLog.append_many = append_many  # type: ignore[method-assign]
    if "no-inbox" in variants:
        import suanwang.api.writer as writer

        ControlService.submit_many = (  # type: ignore[method-assign]
            lambda self, specs, **kw: [self.ids() for _ in specs]
        )
        writer.insert_inbox = lambda conn, rows: None  # type: ignore[attr-defined]


def make_app(url: str, variants: list[str] | None = None) -> Any:
    patch(variants or [])
    store = open_store(url, migrate=False)
    return create_app(
        ApiSettings(store=store, world=load_builtin_world(), rate_per_s=RATE, burst=int(RATE))
    )


def worker_app() -> Any:
    """The app factory of ``--workers N`` > 1 (uvicorn imports it in each worker)."""
    return make_app(os.environ["SUANWANG_BENCH_STORE"])


class Quiet(uvicorn.Server):
    """A uvicorn server that leaves the signals to us (as ``suanwang up`` does): uvicorn's own
    handlers re-raise SIGINT after a graceful exit (a traceback in the output)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(args: argparse.Namespace) -> None:
    store = open_store(args.store)
    token = TokenStore(store).create(TENANT, Role.TENANT, note="bench_api")[1]
    store.close()
    print(json.dumps({"token": token, "pid": os.getpid()}), flush=True)
    if args.workers > 1:
        os.environ["SUANWANG_BENCH_STORE"] = args.store
        uvicorn.run(
            "bench_api:worker_app",
            factory=True,
            app_dir=str(BENCH),
            host="127.0.0.1",
            port=args.port,
            workers=args.workers,
            log_level="warning",
            lifespan="off",
        )
        return
    app = make_app(args.store, [v for v in args.variant.split(",") if v])
    server = Quiet(
        uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")
    )

    def stop(_sig: int, _frame: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    server.run()


# --- driving the load -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its direct children (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class Server:
    """``bench_api.py --serve`` in a subprocess."""

    def __init__(self, store_url: str, workers: int, variants: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", "--store", store_url]
        cmd += ["--port", str(self.port), "--workers", str(workers)]
        cmd += ["--variant", ",".join(variants)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the server did not start (exit {self.proc.wait()})")
        self.token = str(json.loads(line)["token"])
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not answer /healthz")
            time.sleep(0.1)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def drive(
    server: Server,
    method: str,
    path: str,
    bodies: list[bytes] | None,
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    auth: bool = True,
    per_request: int = 1,
    expect: int = 202,
) -> dict[str, Any]:
    """Closed-loop load: ``concurrency`` clients, each sending its next request when the last
    one is answered, for ``warmup + seconds``; counts what finishes after the warmup."""
    headers = {"content-type": "application/json"}
    if auth:
        headers["authorization"] = f"Bearer {server.token}"
    go = threading.Barrier(concurrency + 1)
    done: list[list[tuple[float, float]]] = [[] for _ in range(concurrency)]
    errors: list[dict[str, int]] = [{} for _ in range(concurrency)]
    times = {"t0": 0.0}

    def client(i: int) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
            c.get("/healthz")  # open the connection before the clock starts
            go.wait()
            stop = times["t0"] + warmup + seconds
            k = i
            while True:
                t = time.perf_counter()
                if t >= stop:
                    break
                code: int | str
                try:
                    if bodies is None:
                        code = c.request(method, path).status_code
                    else:
                        code = c.request(method, path, content=bodies[k % len(bodies)]).status_code
                        k += concurrency
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                end = time.perf_counter()
                if code == expect:
                    done[i].append((end, end - t))
                else:
                    errors[i][str(code)] = errors[i].get(str(code), 0) + 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(concurrency)]
    for th in threads:
        th.start()
    times["t0"] = time.perf_counter()
    go.wait()
    time.sleep(warmup)
    cpu_w, mine_w = server.cpu(), time.process_time()
    for th in threads:
        th.join()
    cpu1, mine1 = server.cpu(), time.process_time()
    lo = times["t0"] + warmup
    lat = sorted(d for rows in done for (end, d) in rows if end >= lo)
    window = max(max((end for rows in done for (end, _) in rows), default=lo) - lo, 1e-9)
    errs: dict[str, int] = {}
    for e in errors:
        for code, n in e.items():
            errs[code] = errs.get(code, 0) + n
    n = len(lat)
    total_ok = sum(len(rows) for rows in done)
    return {
        "path": f"{method} {path}",
        "concurrency": concurrency,
        "per_request": per_request,
        "seconds": window,
        "requests": n,
        "requests_per_s": n / window,
        "tasks_per_s": n * per_request / window if expect == 202 else None,
        "p50_ms": pct(lat, 50) * 1000,
        "p99_ms": pct(lat, 99) * 1000,
        "max_ms": (lat[-1] if lat else 0.0) * 1000,
        "accepted_total": total_ok * per_request if expect == 202 else 0,
        "errors": errs,
        # CPU over the measured window (after the warmup): cores busy, and per request
        "server_cores": (cpu1 - cpu_w) / window,
        "server_cpu_us_per_request": (cpu1 - cpu_w) / max(n, 1) * 1e6,
        "client_cores": (mine1 - mine_w) / window,
    }


def pct(values: list[float], p: float) -> float:
    """The p-th percentile of sorted ``values`` (nearest rank)."""
    if not values:
        return 0.0
    k = max(0, min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1))
    return values[k]


# --- in-process baselines -------------------------------------------------------------------------
def per_call(fn: Callable[[int], object], k: int) -> float:
    """Mean seconds per call of ``fn(i)`` over ``k`` calls (after one warm-up call)."""
    fn(-1)
    t0 = time.perf_counter()
    for i in range(k):
        fn(i)
    return (time.perf_counter() - t0) / k


def in_process(url: str, specs: list[TaskSpec], n: int, k: int) -> dict[str, Any]:
    """What the API does per submission, step by step, without HTTP (one thread)."""
    store = open_store(url)
    try:
        svc = ControlService(store)
        tokens = TokenStore(store)
        audit = AuditLog(store)
        token = tokens.create(TENANT, Role.TENANT, note="bench_api in-process")[1]
        many = [specs[i % len(specs)] for i in range(n)]
        t0 = time.perf_counter()
        svc.submit_many(many)
        many_s = time.perf_counter() - t0
        bodies = [s.model_dump_json().encode() for s in specs]

        def append(i: int) -> None:
            audit.append(
                principal=TENANT,
                role="tenant",
                action="tasks.submit",
                target=f"t-{i}",
                source="127.0.0.1",
                outcome="accepted",
                detail={},
            )

        steps = {
            "validate_us": per_call(
                lambda i: TaskSpec.model_validate_json(bodies[i % len(bodies)]), k
            ),
            "authenticate_us": per_call(lambda i: tokens.authenticate(token), k),
            "inbox_insert_us": per_call(lambda i: svc.submit(specs[i % len(specs)]), k),
            "audit_append_us": per_call(append, k),
            "dump_json_us": per_call(lambda i: specs[i % len(specs)].model_dump(mode="json"), k),
        }
        steps = {key: v * 1e6 for key, v in steps.items()}
        steps["sum_us"] = sum(steps.values())
        return {
            "submit_many": {"tasks": n, "seconds": many_s, "tasks_per_s": n / many_s},
            "submit_one_per_txn": {"tasks": k, "tasks_per_s": 1e6 / steps["inbox_insert_us"]},
            "steps": steps,
            "steps_tasks_per_s": 1e6 / steps["sum_us"],
        }
    finally:
        store.close()


def inbox_count(url: str) -> int:
    store = open_store(url, migrate=False)
    try:
        with store.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(InboxRow)) or 0)
    finally:
        store.close()


# --- one store ------------------------------------------------------------------------------------
def bodies_for(specs: list[TaskSpec], batch: int) -> tuple[list[bytes], list[bytes]]:
    singles = [s.model_dump_json().encode() for s in specs]
    dumped = [s.model_dump(mode="json") for s in specs]
    batches = []
    for j in range(max(1, len(specs) // batch)):
        chunk = [dumped[(j * batch + i) % len(dumped)] for i in range(batch)]
        batches.append(json.dumps({"tasks": chunk}).encode())
    return singles, batches


def bench_store(
    label: str, url: str, specs: list[TaskSpec], args: argparse.Namespace
) -> dict[str, Any]:
    out: dict[str, Any] = {"store": label, "workers": args.workers}
    out["in_process"] = ip = in_process(url, specs, args.n, args.k)
    st = ip["steps"]
    print(
        f"[{label}] in-process: submit_many {ip['submit_many']['tasks_per_s']:,.0f} tasks/s, "
        f"submit (one txn each) {ip['submit_one_per_txn']['tasks_per_s']:,.0f}/s; per task: "
        f"validate {st['validate_us']:.0f} µs, authenticate {st['authenticate_us']:.0f} µs, "
        f"inbox insert {st['inbox_insert_us']:.0f} µs, audit append "
        f"{st['audit_append_us']:.0f} µs (sum {st['sum_us']:.0f} µs = "
        f"{ip['steps_tasks_per_s']:,.0f}/s)",
        flush=True,
    )
    before = inbox_count(url)
    singles, batches = bodies_for(specs, args.batch)
    server = Server(url, args.workers)
    c, sec, short, warm = args.concurrency, args.seconds, args.seconds / 2, args.warmup
    runs: dict[str, dict[str, Any]] = {}
    try:
        # name: method, path, bodies, concurrency, seconds, tasks per request (0: a GET)
        plan: dict[str, tuple[str, str, list[bytes] | None, int, float, int]] = {
            "healthz_c1": ("GET", "/healthz", None, 1, short, 0),
            f"healthz_c{c}": ("GET", "/healthz", None, c, short, 0),
            "whoami": ("GET", "/v1/whoami", None, c, short, 0),
            "single_c1": ("POST", "/v1/tasks", singles, 1, sec, 1),
            f"single_c{c}": ("POST", "/v1/tasks", singles, c, sec, 1),
            "batch_c1": ("POST", "/v1/tasks/batch", batches, 1, short, args.batch),
            f"batch_c{c}": ("POST", "/v1/tasks/batch", batches, c, sec, args.batch),
        }
        for name, (method, path, bodies, conc, secs, per) in plan.items():
            runs[name] = r = drive(
                server,
                method,
                path,
                bodies,
                concurrency=conc,
                seconds=secs,
                warmup=warm,
                auth=path != "/healthz",
                per_request=max(per, 1),
                expect=202 if per else 200,
            )
            print(f"[{label}] {line(name, r)}", flush=True)
    finally:
        server.stop()
    out["runs"] = runs
    stored = inbox_count(url) - before
    accepted = sum(r["accepted_total"] for r in runs.values())
    out["accepted"], out["stored"] = accepted, stored
    if stored != accepted:
        print(f"[{label}] WARNING: {accepted} tasks accepted but {stored} in the inbox")
    single = runs[f"single_c{c}"]["tasks_per_s"]
    batch = runs[f"batch_c{c}"]["tasks_per_s"]
    out["ratios"] = {
        "single_over_healthz": single / runs[f"healthz_c{c}"]["requests_per_s"],
        "single_over_whoami": single / runs["whoami"]["requests_per_s"],
        "single_over_submit_many": single / ip["submit_many"]["tasks_per_s"],
        "single_over_submit_one_per_txn": single / ip["submit_one_per_txn"]["tasks_per_s"],
        "batch_over_submit_many": batch / ip["submit_many"]["tasks_per_s"],
        "batch_over_single": batch / single,
    }
    if args.what_if:
        out["what_if"] = {}
        for variants in WHAT_IF:
            name = "+".join(variants)
            server = Server(url, args.workers, variants)
            try:
                r = drive(
                    server, "POST", "/v1/tasks", singles, concurrency=c, seconds=short,
                    warmup=warm,
                )  # fmt: skip
            finally:
                server.stop()
            r["over_as_is"] = r["tasks_per_s"] / single
            out["what_if"][name] = r
            print(f"[{label}] what if {name}: {line(f'single_c{c}', r)}", flush=True)
    if args.profile:
        out["profile"] = run_profile(label, url, specs, args)
    return out


WHAT_IF = [
    ("token-cache",),
    ("no-audit",),
    ("token-cache", "no-audit"),
    ("token-cache", "no-audit", "no-inbox"),
]


def line(name: str, r: dict[str, Any]) -> str:
    rate = (
        f"{r['tasks_per_s']:,.0f} tasks/s ({r['requests_per_s']:,.0f} req/s)"
        if r["tasks_per_s"] is not None
        else f"{r['requests_per_s']:,.0f} req/s"
    )
    errs = f", errors {r['errors']}" if r["errors"] else ""
    return (
        f"{name}: {rate}, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms over "
        f"{r['requests']:,} requests; server {r['server_cores']:.2f} cores "
        f"({r['server_cpu_us_per_request']:,.0f} µs CPU/request), client "
        f"{r['client_cores']:.2f} cores{errs}"
    )


# --- profile --------------------------------------------------------------------------------------
# Where a sample goes: the innermost frame (function name as py-spy shows it) of these, else the
# machinery it runs in. Frames read "Class.method (path/file.py:line)".
CATEGORIES = [
    # innermost first: the inbox insert runs inside the audit's transaction in a group commit
    ("inbox insert", ("ControlService.submit_many", "insert_inbox")),
    ("audit append", ("AuditLog.append", "AuditLog.append_many", "AuditLog._locked")),
    ("group commit hand-off (queue, futures)", ("GroupWriter.submit", "GroupWriter._take",
        "GroupWriter._flush", "wrap_future", "_chain_future")),
    ("token lookup", ("TokenStore.authenticate", "TokenStore.cached")),
    ("rate limit", ("RateLimiter.check",)),
    ("TaskSpec validation", ("request_body_to_args", "_validate_value_with_model_field")),
    ("body read + JSON parse", ("Request.json", "Request.body")),
    ("response serialisation", ("serialize_response", "JSONResponse.render", "Response.__call__")),
]  # fmt: skip
MACHINERY = [
    ("HTTP (uvicorn, h11 or httptools)", ("uvicorn/", "h11/")),
    ("routing, dependencies (FastAPI, Starlette)", ("fastapi/", "starlette/")),
    ("threadpool hops (anyio, threading)", ("anyio/", "threading.py", "concurrent/")),
    ("event loop (asyncio, uvloop)", ("asyncio/", "selectors.py", "uvloop/")),
]
IN_DB = ("do_execute", "do_execute_no_params", "do_commit", "do_executemany", "do_begin", "connect")
"""Innermost SQLAlchemy frames that are the database driver at work (sqlite3 is C code, so its
time, lock waits included, shows in these); psycopg's own frames count as the driver too."""
CHECKOUT = ("Pool.connect ", "_ConnectionFairy._checkout ")
"""Frames of taking a connection from SQLAlchemy's pool (a pre-ping, or opening a new one)."""


def in_db(frames: list[str]) -> bool:
    leaf = frames[-1].split(" (")[0].rsplit(".", 1)[-1]
    return leaf in IN_DB or any("psycopg/" in f for f in frames[-3:])


def category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, starts in CATEGORIES:
            if frame.startswith(tuple(f"{s} " for s in starts)):
                return name
    for frame in reversed(frames):
        for name, parts in MACHINERY:
            if any(p in frame for p in parts):
                return name
    return "other"


def read_raw(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's ``--format raw`` output: one collapsed stack and its sample count a line."""
    out = []
    for row in path.read_text(encoding="utf-8").splitlines():
        stack, _, n = row.rpartition(" ")
        if stack and n.isdigit():
            out.append((stack.split(";"), int(n)))
    return out


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def run_profile(
    label: str, url: str, specs: list[TaskSpec], args: argparse.Namespace
) -> dict[str, Any] | None:
    """Single submissions sampled by py-spy, twice at once: ``--gil`` (the thread
    holding the GIL: where the interpreter's time goes) and ``--idle`` (every thread, waiting
    or not: where a request's wall time goes)."""
    spy = py_spy()
    if spy is None:
        print(f"[{label}] profile: py-spy not found (pip install py-spy); skipped")
        return None
    singles, _ = bodies_for(specs, args.batch)
    server = Server(url, 1)
    rate, seconds = 200, max(2, round(args.seconds))
    paths = {
        m: args.out.with_name(f"{args.out.stem}-profile-{label}-{m}.txt") for m in ("gil", "idle")
    }
    spies: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        time.sleep(args.warmup)
        for mode, path in paths.items():
            cmd = [spy, "record", "--pid", str(server.proc.pid), "--duration", str(seconds)]
            cmd += ["--rate", str(rate), "--format", "raw", "--nonblocking", f"--{mode}"]
            spies.append(
                subprocess.Popen(
                    [*cmd, "-o", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
            )

    c = args.concurrency
    starter = threading.Thread(target=start)
    try:
        starter.start()
        r = drive(
            server, "POST", "/v1/tasks", singles, concurrency=c, seconds=seconds + 0.5,
            warmup=args.warmup,
        )  # fmt: skip
        starter.join()
        for proc in spies:
            _, err = proc.communicate(timeout=60)
            if proc.returncode != 0:
                why = err.decode(errors="replace").strip()[-300:]
                print(f"[{label}] profile: py-spy failed: {why}")
                return None
    finally:
        server.stop()
    print(f"[{label}] profile: {line(f'single_c{c} sampled by py-spy', r)}", flush=True)
    tasks = r["tasks_per_s"] * seconds  # tasks answered while py-spy sampled
    gil = read_raw(paths["gil"])
    held = sum(n for _, n in gil)
    gil_by: dict[str, int] = {}
    for frames, n in gil:
        gil_by[category(frames)] = gil_by.get(category(frames), 0) + n
    # request threads only: stacks inside a route or one of its dependencies
    wall = [
        (f, n) for f, n in read_raw(paths["idle"]) if any("create_app.<locals>" in x for x in f)
    ]
    wall_total = sum(n for _, n in wall)
    wall_by: dict[str, list[int]] = {}
    checkout = 0
    for frames, n in wall:
        row = wall_by.setdefault(category(frames), [0, 0])
        row[0] += n
        if in_db(frames):
            row[1] += n
        if any(f.startswith(CHECKOUT) for f in frames):
            checkout += n
    names = [n for n, _ in CATEGORIES] + [n for n, _ in MACHINERY] + ["other"]
    prof: dict[str, Any] = {
        "tool": "py-spy",
        "rate_hz": rate,
        "seconds": seconds,
        "run": r,
        "gil_busy": held / (rate * seconds),
        "gil": {
            k: {
                "share": gil_by.get(k, 0) / max(held, 1),
                "us_per_task": gil_by.get(k, 0) / rate / max(tasks, 1) * 1e6,
            }
            for k in names
        },
        "request_threads": {
            k: {
                "share": wall_by.get(k, [0, 0])[0] / max(wall_total, 1),
                "in_db_share": wall_by.get(k, [0, 0])[1] / max(wall_total, 1),
            }
            for k in names
        },
        "request_threads_in_db": sum(v[1] for v in wall_by.values()) / max(wall_total, 1),
        "request_threads_pool_checkout": checkout / max(wall_total, 1),
        "files": {k: str(v) for k, v in paths.items()},
    }
    print(
        f"[{label}] profile: the GIL was held {prof['gil_busy']:.0%} of the time; per category: "
        "share of the GIL (µs per task) | share of request threads' wall time (of which in the "
        "database driver, lock waits included)"
    )
    for k in names:
        g, w = prof["gil"][k], prof["request_threads"][k]
        print(
            f"  {k:<44} {g['share']:6.1%} ({g['us_per_task']:5,.0f} µs) | {w['share']:6.1%} "
            f"({w['in_db_share']:.1%})"
        )
    print(
        f"  request threads: {prof['request_threads_in_db']:.0%} of their time in the database "
        f"driver; {prof['request_threads_pool_checkout']:.0%} taking a connection from the pool "
        "(pre-ping, or opening a new one)"
    )
    return prof


def loadavg() -> list[str] | None:
    """The 1, 5 and 15-minute load averages (other work on the machine skews the numbers)."""
    path = Path("/proc/loadavg")
    return path.read_text().split()[:3] if path.exists() else None


def machine(pg: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "fastapi": fastapi.__version__,
        "pydantic": pydantic.VERSION,
        "uvicorn": uvicorn.__version__,
        "httpx": httpx.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        # uvicorn picks httptools and uvloop when installed, else h11 and asyncio
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "loadavg_at_start": loadavg(),
    }
    if pg:
        engine = create_engine(pg)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(text("show server_version")).scalar()
        engine.dispose()
    return info


def table(stores: list[dict[str, Any]], c: int) -> str:
    def rate(r: dict[str, Any]) -> str:
        v = r["tasks_per_s"] if r["tasks_per_s"] is not None else r["requests_per_s"]
        return f"{v:,.0f}/s"

    def lat(r: dict[str, Any]) -> str:
        return f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} ms"

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("GET /healthz (no auth, no store), conc. 1", lambda s: rate(s["runs"]["healthz_c1"])),
        ("  p50 / p99", lambda s: lat(s["runs"]["healthz_c1"])),
        (f"GET /healthz, concurrency {c}", lambda s: rate(s["runs"][f"healthz_c{c}"])),
        ("  p50 / p99", lambda s: lat(s["runs"][f"healthz_c{c}"])),
        (f"GET /v1/whoami (token lookup), conc. {c}", lambda s: rate(s["runs"]["whoami"])),
        ("POST /v1/tasks, concurrency 1", lambda s: rate(s["runs"]["single_c1"])),
        ("  p50 / p99", lambda s: lat(s["runs"]["single_c1"])),
        (f"POST /v1/tasks, concurrency {c}", lambda s: rate(s["runs"][f"single_c{c}"])),
        ("  p50 / p99", lambda s: lat(s["runs"][f"single_c{c}"])),
        (
            "  server CPU per request",
            lambda s: f"{s['runs'][f'single_c{c}']['server_cpu_us_per_request']:,.0f} µs",
        ),
        ("POST /v1/tasks/batch, concurrency 1", lambda s: rate(s["runs"]["batch_c1"])),
        ("  p50 / p99 per request", lambda s: lat(s["runs"]["batch_c1"])),
        (f"POST /v1/tasks/batch, concurrency {c}", lambda s: rate(s["runs"][f"batch_c{c}"])),
        ("  p50 / p99 per request", lambda s: lat(s["runs"][f"batch_c{c}"])),
        (
            "in-process submit_many",
            lambda s: f"{s['in_process']['submit_many']['tasks_per_s']:,.0f}/s",
        ),
        (
            "in-process submit, one txn each",
            lambda s: f"{s['in_process']['submit_one_per_txn']['tasks_per_s']:,.0f}/s",
        ),
        (
            "  steps: validate/auth/inbox/audit",
            lambda s: (
                " / ".join(
                    f"{s['in_process']['steps'][k]:.0f}"
                    for k in (
                        "validate_us",
                        "authenticate_us",
                        "inbox_insert_us",
                        "audit_append_us",
                    )
                )
                + " µs"
            ),
        ),
        ("single over healthz", lambda s: f"{s['ratios']['single_over_healthz']:.2f}x"),
        ("single over submit_many", lambda s: f"{s['ratios']['single_over_submit_many']:.3f}x"),
        ("batch over submit_many", lambda s: f"{s['ratios']['batch_over_submit_many']:.2f}x"),
        ("batch over single", lambda s: f"{s['ratios']['batch_over_single']:.1f}x"),
    ]
    lines: list[tuple[str, ...]] = [("", *(s["store"] for s in stores))]
    for name, fn in rows:
        lines.append((name, *(fn(s) for s in stores)))
    return aligned(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds not counted per run")
    ap.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--batch", type=int, default=100, help="tasks per batch request")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--n", type=int, default=10_000, help="tasks for in-process submit_many")
    ap.add_argument("--k", type=int, default=500, help="calls per in-process step timing")
    ap.add_argument("--quick", action="store_true", help="short runs (smoke run, < 30 s)")
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--profile", action="store_true", help="add a py-spy profile per store")
    ap.add_argument(
        "--what-if",
        action="store_true",
        help="add single-submission runs with store round trips patched out of the server",
    )
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "api.json")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--variant", default="", help=argparse.SUPPRESS)
    args, _ = ap.parse_known_args()
    if args.serve:
        serve(args)
        return
    if args.quick:
        args.seconds, args.warmup, args.n, args.k = 1.2, 0.2, 2_000, 100
    args.out.parent.mkdir(parents=True, exist_ok=True)
    world = load_builtin_world()
    rng = np.random.default_rng(42)
    specs = [
        s.model_copy(update={"tenant": TENANT})
        for s in generate_tasks(world, 1_000, rng, start=datetime.now(UTC))
    ]
    pg = None if args.no_pg else pg_url()
    info = machine(pg)
    print(
        f"{info['cores']} cores, load average {info['loadavg_at_start']}; uvicorn "
        f"{info['uvicorn']} ({info['http']}, {info['loop']}), {args.workers} worker(s)",
        flush=True,
    )
    stores: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        root = Path(tmp)
        stores.append(bench_store("sqlite", f"sqlite:///{root / 'sqlite.db'}", specs, args))
        if pg:
            with pg_scratch(pg, "bench_api") as url:
                stores.append(bench_store("postgresql", url, specs, args))
    c = args.concurrency
    single = stores[0]["runs"][f"single_c{c}"]["tasks_per_s"]
    result = {
        "benchmark": "api",
        "machine": {**info, "loadavg_at_end": loadavg()},
        "settings": {
            "seconds": args.seconds,
            "warmup": args.warmup,
            "concurrency": c,
            "batch": args.batch,
            "workers": args.workers,
            "rate_limit_per_token": RATE,
        },
        "target_tasks_per_s": TARGET,
        "target_met": single >= TARGET,
        "stores": rounded(stores),
    }
    print()
    print(table(stores, c))
    verdict = "met" if single >= TARGET else "NOT met"
    print(
        f"target {TARGET:,.0f} tasks/s (single submissions, SQLite, concurrency {c}, "
        f"{args.workers} worker(s)): {single:,.0f}/s, {verdict}"
    )
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
