"""The remote CLI (`suanwang submit`, `tasks list|show|cancel`, `watch`, `token`, `balance`)
against a live API: uvicorn on a free port of 127.0.0.1 over a SQLite store in ``tmp_path``,
tokens made with :class:`~suanwang.api.tokens.TokenStore`, a runtime with a simulated backend
ticked by the tests.

The commands are driven through a small Typer app built here from the command functions of
:mod:`suanwang.cli.remote`, under the names the root app gives them. The developer's
``$SUANWANG_URL``, ``$SUANWANG_TOKEN`` and config file never leak in: ``$XDG_CONFIG_HOME``
points into ``tmp_path``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import typer
import uvicorn
import yaml
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from suanwang.api.app import ApiSettings, create_app
from suanwang.api.errors import install_error_handlers
from suanwang.api.tokens import TokenStore
from suanwang.cli import remote
from suanwang.control.backends.registry import make_backends
from suanwang.control.config import ControlConfig, SimOptions
from suanwang.control.runtime import Runtime
from suanwang.control.store import Store, open_store
from suanwang.core.access import Role
from suanwang.core.market.money import format_money
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()
runner = CliRunner()

HAND_WRITTEN = """\
# one task, as a person writes it
name: train-small
tenant: tenant-01
demand: {compute_class: ai, units: 50}
duration_hours: 2
origin: {country: CN, lat: 39.9, lon: 116.4}
deadline: 2099-01-01T00:00:00Z
deferrable: true
"""


def build_cli() -> typer.Typer:
    """The remote commands under the names the root app gives them."""
    cli = typer.Typer(no_args_is_help=True)
    cli.command("submit")(remote.submit_cmd)
    cli.command("watch")(remote.watch_cmd)
    cli.command("balance")(remote.balance_cmd)
    tasks = typer.Typer(no_args_is_help=True)
    tasks.command("list")(remote.tasks_list_cmd)
    tasks.command("show")(remote.tasks_show_cmd)
    tasks.command("cancel")(remote.tasks_cancel_cmd)
    cli.add_typer(tasks, name="tasks")
    token = typer.Typer(no_args_is_help=True)
    token.command("create")(remote.token_create_cmd)
    token.command("revoke")(remote.token_revoke_cmd)
    cli.add_typer(token, name="token")
    return cli


CLI = build_cli()


# --- the live API ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free port; its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Live:
    url: str
    store: Store
    runtime: Runtime
    tokens: dict[str, str]

    def run(self, who: str, *args: str, stdin: str | None = None) -> Result:
        """The CLI with ``--url`` and ``who``'s ``--token``."""
        return invoke(*args, "--url", self.url, "--token", self.tokens[who], stdin=stdin)

    def json(self, who: str, *args: str, stdin: str | None = None) -> Any:
        return ok_json(self.run(who, *args, "--json", stdin=stdin))

    def ids(self, who: str = "admin") -> set[str]:
        """Every task id the API lists (for ``who``)."""
        return {t["id"] for t in self.json(who, "tasks", "list", "--limit", "1000")["tasks"]}

    def tick(self, n: int = 5) -> None:
        for _ in range(n):
            self.runtime.tick()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer setting leaks in."""
    for name in (remote.URL_ENV, remote.TOKEN_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    store = open_store(f"sqlite:///{tmp_path / 'store' / 'suanwang.db'}")
    # real time: a task runs for hours, so it is still running when a test cancels it
    cfg = ControlConfig(backends={"sim": SimOptions(kind="sim", time_scale=1.0)})
    backends = make_backends(cfg, [s.id for s in WORLD.sites], tmp_path)
    rt = Runtime(store, cfg, WORLD, UNIT_TABLE, backends, data_dir=tmp_path)
    rt.recover()
    ts = TokenStore(store)
    tokens = {
        "admin": ts.create("root", Role.ADMIN)[1],
        "alice": ts.create("tenant-01", Role.TENANT)[1],
        "bob": ts.create("tenant-02", Role.TENANT)[1],
    }
    settings = ApiSettings(store=store, world=WORLD, market=lambda: rt.journal.market)
    with serve(create_app(settings)) as url:
        try:
            yield Live(url, store, rt, tokens)
        finally:
            for b in backends.values():
                b.close()
    store.close()


# --- helpers --------------------------------------------------------------------------------------
def invoke(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(CLI, list(args), input=stdin, env={"COLUMNS": "200", **(env or {})})


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def error(result: Result, code: int = 2) -> str:
    """A clean failure: exit ``code``, ``error: ...`` on stderr, no traceback, nothing on
    stdout; the message, whitespace folded."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: "), result.stderr
    return " ".join(result.stderr.split())


def task(tenant: str = "tenant-01", seed: int = 1, name: str | None = None) -> dict[str, Any]:
    spec = generate_tasks(WORLD, 1, np.random.default_rng(seed), start=datetime.now(UTC))[0]
    spec = spec.model_copy(update={"tenant": tenant, "name": name or f"job-{seed}"})
    return spec.model_dump(mode="json", exclude_defaults=True)


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- submit ---------------------------------------------------------------------------------------
def test_submit_one_hand_written_yaml_task(live: Live, tmp_path: Path) -> None:
    path = write(tmp_path / "task.yaml", HAND_WRITTEN)
    out = live.json("alice", "submit", path)
    assert out["submitted"] == 1
    (task_id,) = out["ids"]
    shown = live.json("alice", "tasks", "show", task_id)["task"]
    assert (shown["name"], shown["tenant"]) == ("train-small", "tenant-01")
    human = live.run("alice", "submit", path)
    assert human.exit_code == 0, human.output
    assert "submitted 1 task(s)" in human.stdout
    assert human.stdout.split()[-1].startswith("t-")


@pytest.mark.parametrize("shape", ["list", "mapping"])
def test_submit_several_yaml_tasks_as_one_batch(live: Live, tmp_path: Path, shape: str) -> None:
    tasks = [task(seed=s) for s in (1, 2, 3)]
    doc: Any = tasks if shape == "list" else {"tasks": tasks}
    out = live.json("alice", "submit", write(tmp_path / "tasks.yml", yaml.safe_dump(doc)))
    assert out["submitted"] == 3
    assert set(out["ids"]) <= live.ids("alice")
    names = {live.json("alice", "tasks", "show", i)["task"]["name"] for i in out["ids"]}
    assert names == {"job-1", "job-2", "job-3"}


def test_submit_json_lines_and_stdin(live: Live, tmp_path: Path) -> None:
    lines = "".join(json.dumps(task(seed=s)) + "\n" for s in (4, 5))
    out = live.json("alice", "submit", write(tmp_path / "tasks.jsonl", "# two\n" + lines))
    assert out["submitted"] == 2
    piped = live.json("alice", "submit", "-", stdin=lines)
    assert piped["submitted"] == 2
    assert set(out["ids"] + piped["ids"]) <= live.ids("alice")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.yaml", "name: [unclosed\n", ["not valid YAML at line"]),
        ("scalar.yaml", "just words\n", ["expected one task"]),
        ("empty.yaml", "# nothing\n", ["no tasks"]),
        (
            "field.yaml",
            yaml.safe_dump([task(seed=1), {**task(seed=2), "duration_hours": -1}]),
            ["item 2 (job-2): duration_hours:", "nothing was sent"],
        ),
        (
            "demand.yaml",
            yaml.safe_dump({"tasks": [{**task(seed=3), "demand": {"compute_class": "ai"}}]}),
            ["item 1 (job-3): demand:", "units"],
        ),
        ("naive.yaml", HAND_WRITTEN.replace("T00:00:00Z", " 00:00:00"), ["task (train-small)"]),
        (
            "lines.jsonl",
            json.dumps(task(seed=1)) + "\n" + json.dumps({**task(seed=2), "tenant": "Bad Name"}),
            ["line 2 (job-2): tenant:"],
        ),
        ("broken.jsonl", json.dumps(task(seed=1)) + "\n{oops\n", ["line 2: not JSON"]),
    ],
)
def test_a_bad_task_file_is_exit_2_naming_the_field_and_sends_nothing(
    live: Live, tmp_path: Path, name: str, text: str, expected: list[str]
) -> None:
    before = live.ids()
    message = error(live.run("alice", "submit", write(tmp_path / name, text), "--json"))
    for part in expected:
        assert part in message, message
    assert live.ids() == before


def test_a_tenant_submitting_for_another_tenant_is_refused_naming_the_field(
    live: Live, tmp_path: Path
) -> None:
    path = write(tmp_path / "t.yaml", yaml.safe_dump(task(tenant="tenant-02")))
    message = error(live.run("alice", "submit", path))
    assert "tenant submits only its own tasks" in message
    assert "(field: tenant)" in message


def test_a_missing_task_file_is_a_clear_error(live: Live, tmp_path: Path) -> None:
    assert "no such file" in error(live.run("alice", "submit", str(tmp_path / "nope.yaml")))


# --- tasks list / show / cancel -------------------------------------------------------------------
def test_list_show_and_cancel(live: Live, tmp_path: Path) -> None:
    ids = live.json("alice", "submit", write(tmp_path / "t.yml", yaml.safe_dump([task()] * 2)))[
        "ids"
    ]
    live.tick()
    page = live.json("alice", "tasks", "list")
    assert set(ids) <= {t["id"] for t in page["tasks"]}
    assert (page["limit"], page["offset"]) == (50, 0)
    one = live.json("alice", "tasks", "list", "--limit", "1", "--offset", "1")["tasks"]
    assert len(one) == 1
    first = live.json("alice", "tasks", "show", ids[0])
    state = first["task"]["state"]
    assert [e["kind"] for e in first["story"]][:1] == ["submit"]
    by_state = live.json("alice", "tasks", "list", "--state", state)["tasks"]
    assert ids[0] in {t["id"] for t in by_state}
    assert all(t["state"] == state for t in by_state)
    table = live.run("alice", "tasks", "list")
    assert table.exit_code == 0, table.output
    assert ids[0] in table.stdout
    assert "tenant-01" in table.stdout
    shown = live.run("alice", "tasks", "show", ids[0])
    assert shown.exit_code == 0, shown.output
    assert "story" in shown.stdout
    assert "submit" in shown.stdout

    cancelled = live.json("alice", "tasks", "cancel", ids[0])
    assert cancelled["id"] == ids[0]
    assert cancelled["accepted"] is True
    human = live.run("alice", "tasks", "cancel", ids[1])
    assert human.exit_code == 0, human.output
    assert f"cancel of {ids[1]} queued" in human.stdout
    live.tick()
    states = {live.json("alice", "tasks", "show", i)["task"]["state"] for i in ids}
    assert states == {"cancelled"}
    assert ids[0] in {
        t["id"] for t in live.json("alice", "tasks", "list", "--state", "cancelled")["tasks"]
    }


def test_a_bad_state_is_a_usage_error(live: Live) -> None:
    result = live.run("alice", "tasks", "list", "--state", "sleeping")
    assert result.exit_code == 2
    assert "Invalid value for '--state'" in result.stderr


def test_another_tenants_task_is_not_found(live: Live, tmp_path: Path) -> None:
    (mine,) = live.json("alice", "submit", write(tmp_path / "t.yaml", yaml.safe_dump(task())))[
        "ids"
    ]
    for args in (("tasks", "show", mine), ("tasks", "cancel", mine)):
        message = error(live.run("bob", *args))
        assert mine in message
        assert "unknown task" in message
    assert mine not in live.ids("bob")
    assert live.json("alice", "tasks", "show", mine)["task"]["state"] == "submitted"
    assert "unknown task" in error(live.run("alice", "tasks", "show", "t-0000000000000000"))


# --- watch ----------------------------------------------------------------------------------------
def test_watch_once(live: Live, tmp_path: Path) -> None:
    ids = live.json("alice", "submit", write(tmp_path / "t.yml", yaml.safe_dump([task()] * 3)))[
        "ids"
    ]
    page = live.json("alice", "watch", "--once")
    assert set(ids) <= {t["id"] for t in page["tasks"]}
    assert page["limit"] == 20
    only = live.json("alice", "watch", "--once", "--state", "running")["tasks"]
    assert only == []
    table = live.run("alice", "watch", "--once", "--limit", "2")
    assert table.exit_code == 0, table.output
    assert "latest 2 task(s)" in table.stdout
    assert ids[-1] in table.stdout


def test_watch_refreshes_until_ctrl_c_and_exits_0(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live.json("alice", "submit", write(tmp_path / "t.yml", yaml.safe_dump(task())))
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(remote, "_sleep", sleep)
    result = live.run("alice", "watch", "--interval", "0.5")
    assert result.exit_code == 0, result.output
    assert waits == [0.5, 0.5, 0.5]
    assert "latest 1 task(s)" in result.stdout
    waits.clear()
    lines = live.run("alice", "watch", "--json", "--interval", "1")
    assert lines.exit_code == 0, lines.output
    docs = [json.loads(x) for x in lines.stdout.splitlines()]
    assert len(docs) == 3
    assert all(len(d["tasks"]) == 1 for d in docs)


# --- tokens ---------------------------------------------------------------------------------------
def test_token_create_then_revoke_then_it_is_refused(live: Live) -> None:
    made = live.json("admin", "token", "create", "tenant-05", "--role", "tenant", "--note", "ci")
    new, info = made["token"], made["info"]
    assert (info["principal"], info["role"], info["note"]) == ("tenant-05", "tenant", "ci")
    live.tokens["carol"] = new
    assert live.json("carol", "tasks", "list")["tasks"] == []
    revoked = live.json("admin", "token", "revoke", info["id"])
    assert revoked == {"id": info["id"], "accepted": True, "detail": "revoked"}
    message = error(live.run("carol", "tasks", "list"))
    assert "revoked" in message
    assert "the token came from --token" in message
    again = error(live.run("admin", "token", "revoke", info["id"]))
    assert "already revoked" in again


def test_token_create_prints_the_token_once_and_a_whole_token_revokes_itself(
    live: Live,
) -> None:
    result = live.run("admin", "token", "create", "tenant-06", "--ttl-days", "1")
    assert result.exit_code == 0, result.output
    assert "shown only now" in result.stdout
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("sw_")
    live.tokens["dave"] = token
    assert live.json("dave", "tasks", "list")["tasks"] == []
    revoke = live.run("dave", "token", "revoke", token)  # its own token, given whole
    assert revoke.exit_code == 0, revoke.output
    assert "revoked" in revoke.stdout
    assert "revoked" in error(live.run("dave", "tasks", "list"))


def test_a_tenant_may_not_create_tokens(live: Live) -> None:
    message = error(live.run("alice", "token", "create", "tenant-07"))
    assert "may not" in message


# --- settings -------------------------------------------------------------------------------------
def test_settings_from_the_environment(live: Live) -> None:
    env = {remote.URL_ENV: live.url, remote.TOKEN_ENV: live.tokens["alice"]}
    result = invoke("tasks", "list", "--json", env=env)
    assert ok_json(result)["tasks"] == []
    # the command line wins over the environment
    bad = {**env, remote.TOKEN_ENV: "sw_0000.nope"}
    assert ok_json(invoke("tasks", "list", "--json", "--token", live.tokens["alice"], env=bad))
    message = error(invoke("tasks", "list", env=bad))
    assert f"the token came from ${remote.TOKEN_ENV}" in message


def test_settings_from_the_config_file(live: Live, tmp_path: Path) -> None:
    cfg = tmp_path / "config" / "suanwang" / "config.toml"
    assert remote.config_path() == cfg
    cfg.parent.mkdir(parents=True)
    cfg.write_text(f'url = "{live.url}/"\ntoken = "{live.tokens["bob"]}"\n', encoding="utf-8")
    assert ok_json(invoke("tasks", "list", "--json"))["tasks"] == []
    settings = remote.resolve()
    assert (settings.url, settings.url_from, settings.token_from) == (live.url, str(cfg), str(cfg))
    # the environment wins over the file
    env = {remote.TOKEN_ENV: live.tokens["alice"]}
    assert remote.resolve().token == live.tokens["bob"]
    assert ok_json(invoke("tasks", "list", "--json", env=env))["tasks"] == []
    cfg.write_text("url = [\n", encoding="utf-8")
    message = error(invoke("tasks", "list"))
    assert str(cfg) in message
    assert "not valid TOML" in message


def test_an_unreachable_url_is_a_clear_exit_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (("tasks", "list"), ("watch", "--once", "--json"), ("balance",)):
        message = error(invoke(*args, "--url", url, "--token", "sw_x.y"), code=1)
        assert f"cannot reach the API at {url}" in message, message


def test_a_bad_url_is_a_clear_error() -> None:
    message = error(invoke("tasks", "list", "--url", "127.0.0.1:8040", "--token", "sw_x.y"))
    assert "must start with http:// or https://" in message


def test_a_missing_token_tells_how_to_set_one(tmp_path: Path) -> None:
    for args in (("tasks", "list"), ("watch", "--once"), ("balance",), ("token", "revoke", "x")):
        message = error(invoke(*args))
        assert "no API token" in message
        assert remote.TOKEN_ENV in message
        assert "--token" in message
        assert str(tmp_path / "config" / "suanwang" / "config.toml") in message


def test_a_missing_token_fails_before_sending_a_task(live: Live, tmp_path: Path) -> None:
    before = live.ids()
    path = write(tmp_path / "t.yaml", yaml.safe_dump(task()))
    assert "no API token" in error(invoke("submit", path, "--url", live.url))
    assert live.ids() == before


# --- balance --------------------------------------------------------------------------------------
def test_balance(live: Live, tmp_path: Path) -> None:
    live.json("alice", "submit", write(tmp_path / "t.yaml", yaml.safe_dump(task())))
    live.tick()
    answer = live.json("alice", "balance")
    assert set(answer) == {"tenant", "currency", "balance_micros", "available_micros"}
    assert answer["tenant"] == "tenant-01"
    assert answer["balance_micros"] > 0
    human = live.run("alice", "balance")
    assert human.exit_code == 0, human.output
    text = " ".join(human.stdout.split())
    held = format_money(answer["balance_micros"], answer["currency"])
    assert text.startswith(f"tenant-01: balance {held}, available "), text


def test_balance_without_a_runtime_behind_the_api_is_exit_1(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store' / 'suanwang.db'}")
    token = TokenStore(store).create("tenant-01", Role.TENANT)[1]
    try:
        with serve(create_app(ApiSettings(store=store, world=WORLD))) as url:
            message = error(invoke("balance", "--url", url, "--token", token), code=1)
    finally:
        store.close()
    assert "no runtime runs in this process" in message


def test_balance_on_a_server_without_the_route_says_it_is_too_old() -> None:
    app = FastAPI()
    install_error_handlers(app)
    with serve(app) as url:
        message = error(invoke("balance", "--url", url, "--token", "sw_x.y"))
    assert "too old" in message
    assert "/v1/balance" in message


def test_balance_formats_money(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {
        "tenant": "tenant-01",
        "currency": "USD",
        "balance_micros": 12_345_678,
        "available_micros": -500_000,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer sw_x.y"
        assert request.url.path == "/v1/balance"
        return httpx.Response(200, json=answer)

    real = remote.ApiClient

    def fake(url: str, token: str | None, timeout: float = 30.0) -> remote.ApiClient:
        return real(url, token, timeout, transport=httpx.MockTransport(handler))

    monkeypatch.setattr(remote, "ApiClient", fake)
    result = invoke("balance", "--url", "http://api.invalid", "--token", "sw_x.y")
    assert result.exit_code == 0, result.output
    assert "tenant-01: balance 12.345678 USD, available -0.50 USD" in " ".join(
        result.stdout.split()
    )


# --- the client ---------------------------------------------------------------------------------
def test_the_client_turns_error_answers_into_remote_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/tasks/t-1":
            body = {"error": {"code": "not_found", "message": "unknown task", "field": None}}
            return httpx.Response(404, json=body)
        if request.url.path == "/v1/tasks":
            body = {"error": {"code": "invalid", "message": "too big", "field": "limit"}}
            return httpx.Response(422, json=body)
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    with remote.ApiClient(
        "http://api.invalid", "sw_x.y", transport=httpx.MockTransport(handler)
    ) as api:
        with pytest.raises(remote.RemoteError) as missing:
            api.task("t-1")
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        assert missing.value.exit_code == 2
        assert not remote.route_missing(missing.value, "/v1/tasks/t-1")
        with pytest.raises(remote.RemoteError) as invalid:
            api.tasks(limit=5000)
        assert str(invalid.value) == "too big (field: limit)"
        with pytest.raises(remote.RemoteError) as gateway:
            api.whoami()
        assert (gateway.value.status, gateway.value.exit_code) == (502, 1)
        assert "HTTP 502 Bad Gateway: <html>Bad Gateway</html>" in gateway.value.message
