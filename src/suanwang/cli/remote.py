"""The remote CLI: `suanwang submit`, `tasks list|show|cancel`, `watch`, `token create|revoke`
and `balance`, talking to a running API (``suanwang up``) over HTTP.

Where the API is and which token to use, each setting on its own, first found wins:

1. ``--url`` / ``--token`` on the command line;
2. ``$SUANWANG_URL`` / ``$SUANWANG_TOKEN``;
3. ``url = "..."`` / ``token = "..."`` in ``$XDG_CONFIG_HOME/suanwang/config.toml``
   (default ``~/.config/suanwang/config.toml``);
4. the URL defaults to ``http://127.0.0.1:8040``; a token has no default.

Exit status: 0 done; 2 for a caller's mistake (a bad task file, a 4xx answer: unknown id,
refused token, wrong role, ...); 1 when the API cannot be reached or fails (5xx). Errors are
``error: <message>`` on stderr; ``--json`` output goes to stdout only on success.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import httpx
import typer
from pydantic import ValidationError
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from suanwang import __version__
from suanwang.cli.output import (
    EXIT_USAGE,
    JsonOption,
    console,
    emit_json,
    fail,
    field_errors,
    json_lines,
    read_text,
)
from suanwang.core.access import Role
from suanwang.core.engine import TaskState
from suanwang.core.market.money import format_money
from suanwang.core.tasks import TaskSpec

DEFAULT_URL = "http://127.0.0.1:8040"
URL_ENV = "SUANWANG_URL"
TOKEN_ENV = "SUANWANG_TOKEN"
DEFAULT_TIMEOUT_S = 30.0
EXIT_REMOTE = 1
"""Exit status when the API cannot be reached or fails on its side (5xx)."""

JSONL_SUFFIXES = (".jsonl", ".ndjson")

_sleep: Callable[[float], None] = time.sleep
"""How ``watch`` waits between refreshes (tests replace it)."""

UrlOption = typer.Option(
    None,
    "--url",
    help=f"API URL (else ${URL_ENV}, else the config file, else {DEFAULT_URL}).",
    show_default=False,
)
TokenOption = typer.Option(
    None,
    "--token",
    help=f"Bearer token (else ${TOKEN_ENV}, else the config file's token).",
    show_default=False,
)


# --- settings ---------------------------------------------------------------------------------
def config_path() -> Path:
    """``$XDG_CONFIG_HOME/suanwang/config.toml`` (default ``~/.config/suanwang/config.toml``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "suanwang" / "config.toml"


def _read_config(path: Path) -> dict[str, Any]:
    """The config file's settings ({} when there is none); a broken file is a clear failure."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot read the config file ({exc})")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        fail(f"{path}: not valid TOML ({exc})")
    for key in ("url", "token"):
        if key in data and not isinstance(data[key], str):
            fail(f'{path}: {key} must be a string, e.g. {key} = "..."')
    return data


@dataclass(frozen=True)
class Settings:
    """Where the API is and how to call it; ``*_from`` say where each setting came from."""

    url: str
    token: str | None
    url_from: str
    token_from: str | None


def _normal_url(url: str, source: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or not url.split("://", 1)[1]:
        fail(f"the API URL {url!r} (from {source}) must start with http:// or https://")
    return url


def missing_token_message(cfg: Path) -> str:
    return (
        f'no API token: pass --token, set {TOKEN_ENV}, or put token = "sw_..." in {cfg} '
        "(`suanwang up` prints an operator token on its first start; an admin makes more "
        "with `suanwang token create`)"
    )


def resolve(
    url: str | None = None, token: str | None = None, *, need_token: bool = True
) -> Settings:
    """The settings: options, else the environment, else the config file, else the default URL.

    A missing token fails with a message that tells how to set one (exit 2) when
    ``need_token``.
    """
    cfg = config_path()
    file: dict[str, Any] | None = None

    def from_file() -> dict[str, Any]:
        nonlocal file
        if file is None:
            file = _read_config(cfg)
        return file

    if url:
        the_url, url_from = url, "--url"
    elif os.environ.get(URL_ENV, "").strip():
        the_url, url_from = os.environ[URL_ENV], f"${URL_ENV}"
    elif from_file().get("url"):
        the_url, url_from = str(from_file()["url"]), str(cfg)
    else:
        the_url, url_from = DEFAULT_URL, "the default"
    the_token: str | None
    token_from: str | None
    if token:
        the_token, token_from = token, "--token"
    elif os.environ.get(TOKEN_ENV, "").strip():
        the_token, token_from = os.environ[TOKEN_ENV], f"${TOKEN_ENV}"
    elif from_file().get("token"):
        the_token, token_from = str(from_file()["token"]), str(cfg)
    else:
        the_token, token_from = None, None
    if the_token is not None:
        the_token = the_token.strip()
    if need_token and not the_token:
        fail(missing_token_message(cfg))
    return Settings(_normal_url(the_url, url_from), the_token, url_from, token_from)


# --- the HTTP client --------------------------------------------------------------------------
class RemoteError(Exception):
    """The API refused or failed a call (``status`` 0: it could not be reached)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    @property
    def exit_code(self) -> int:
        """2 for the caller's mistake (4xx), 1 for an unreachable or failing server."""
        return EXIT_USAGE if 400 <= self.status < 500 else EXIT_REMOTE

    def __str__(self) -> str:
        return self.message + (f" (field: {self.field})" if self.field else "")

    def __repr__(self) -> str:
        return (
            f"RemoteError(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, field={self.field!r})"
        )


def error_of(response: httpx.Response) -> RemoteError:
    """The API's ``{"error": {code, message, field}}`` answer as a :class:`RemoteError`; any
    other error body (a proxy's page, ...) keeps its status and a short excerpt."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        field = err.get("field")
        return RemoteError(
            status,
            str(err.get("code") or f"http_{status}"),
            err["message"],
            field if isinstance(field, str) and field else None,
        )
    text = " ".join(response.text.split())[:200]
    phrase = response.reason_phrase or "error"
    return RemoteError(
        status, f"http_{status}", f"HTTP {status} {phrase}" + (f": {text}" if text else "")
    )


class ApiClient:
    """A small typed client of the Suanwang API (``/v1``) over httpx.

    Every method returns the decoded JSON answer or raises :class:`RemoteError` (an error
    answer, or ``status`` 0 when the server cannot be reached or does not answer in time).
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": f"suanwang-cli/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )
        self.timeout = timeout

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """``method path`` with an optional JSON body; the JSON answer (None when empty)."""
        try:
            response = self._http.request(
                method,
                path,
                json=body,
                params={k: v for k, v in (params or {}).items() if v is not None} or None,
            )
        except httpx.TimeoutException:
            raise RemoteError(
                0, "timeout", f"the API at {self.url} did not answer within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise RemoteError(
                0,
                "unreachable",
                f"cannot reach the API at {self.url}: {reason} (is `suanwang up` running "
                "there? set the URL with --url or $SUANWANG_URL)",
            ) from None
        if response.status_code >= 400:
            raise error_of(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise RemoteError(
                response.status_code,
                "bad_answer",
                f"the server at {self.url} did not answer JSON for {method} {path} "
                "(is that a Suanwang API?)",
            ) from None

    # --- the routes -------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        out: dict[str, Any] = self.request("GET", "/v1/whoami")
        return out

    def submit(self, task: Mapping[str, Any]) -> str:
        """Submit one task; its id."""
        return str(self.request("POST", "/v1/tasks", body=dict(task))["id"])

    def submit_batch(self, tasks: Sequence[Mapping[str, Any]]) -> list[str]:
        """Submit tasks in one transaction (all or none); their ids, in order."""
        answer = self.request("POST", "/v1/tasks/batch", body={"tasks": [dict(t) for t in tasks]})
        return [str(i) for i in answer["ids"]]

    def tasks(
        self,
        *,
        state: str | None = None,
        tenant: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """A page of tasks, newest first: ``{"tasks": [...], "limit", "offset"}``."""
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if state:
            params["state"] = state
        if tenant:
            params["tenant"] = tenant
        out: dict[str, Any] = self.request("GET", "/v1/tasks", params=params)
        return out

    def task(self, task: str) -> dict[str, Any]:
        out: dict[str, Any] = self.request("GET", f"/v1/tasks/{_segment(task)}")
        return out

    def events(self, task: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.request("GET", f"/v1/tasks/{_segment(task)}/events")
        return out

    def cancel(self, task: str) -> dict[str, Any]:
        out: dict[str, Any] = self.request("POST", f"/v1/tasks/{_segment(task)}/cancel")
        return out

    def create_token(
        self, principal: str, role: str, *, ttl_days: float | None = None, note: str = ""
    ) -> dict[str, Any]:
        """``{"token": ..., "info": {...}}``; the token text is shown only this once."""
        body: dict[str, Any] = {"principal": principal, "role": role, "note": note}
        if ttl_days is not None:
            body["ttl_days"] = ttl_days
        out: dict[str, Any] = self.request("POST", "/v1/tokens", body=body)
        return out

    def revoke_token(self, token_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.request("DELETE", f"/v1/tokens/{_segment(token_id)}")
        return out

    def balance(self) -> dict[str, Any]:
        """The calling tenant's ``{"tenant", "currency", "balance_micros", "available_micros"}``."""
        out: dict[str, Any] = self.request("GET", "/v1/balance")
        return out


def _segment(value: str) -> str:
    """``value`` as one URL path segment (a slash or a query cannot sneak in)."""
    return quote(value, safe="")


def route_missing(exc: RemoteError, path: str) -> bool:
    """Whether a 404 says the route itself does not exist (an older server), rather than that
    a thing the route looks up is unknown."""
    if exc.status != 404:
        return False
    return exc.code.startswith("http_") or exc.message == f"not found: {path}"


# --- shared command helpers -------------------------------------------------------------------
def refuse(exc: RemoteError, settings: Settings | None = None) -> NoReturn:
    """Print ``error: <message>`` (with the field) and exit 2 for 4xx, 1 otherwise."""
    message = str(exc)
    if exc.status == 401 and settings is not None and settings.token_from:
        message += f"; the token came from {settings.token_from}"
    fail(message, code=exc.exit_code)


@contextmanager
def connect(
    url: str | None, token: str | None, *, need_token: bool = True
) -> Iterator[tuple[ApiClient, Settings]]:
    """A client on the resolved settings; a :class:`RemoteError` inside becomes a clear exit."""
    settings = resolve(url, token, need_token=need_token)
    client = ApiClient(settings.url, settings.token)
    try:
        yield client, settings
    except RemoteError as exc:
        refuse(exc, settings)
    finally:
        client.close()


def _when(value: Any) -> str:
    """An ISO time from the API as ``YYYY-MM-DD HH:MM:SS`` in UTC; '' for none."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.utcoffset() is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> str:
    return "" if value is None else escape(str(value))


def tasks_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    """Tasks as a table (the columns of ``tasks list`` and ``watch``)."""
    table = Table(title=title, title_justify="left")
    for col in ("id", "name", "tenant", "state", "attempt", "site", "updated (UTC)", "reason"):
        table.add_column(col, no_wrap=col in ("id", "state", "updated (UTC)"))
    for r in rows:
        table.add_row(
            _cell(r.get("id")),
            _cell(r.get("name")),
            _cell(r.get("tenant")),
            _cell(r.get("state")),
            _cell(r.get("attempt")),
            _cell(r.get("site")),
            _when(r.get("updated_at") or r.get("submitted_at")),
            _cell(r.get("reason")),
        )
    return table


def _by_state(rows: Sequence[Mapping[str, Any]]) -> str:
    counts = Counter(str(r.get("state")) for r in rows)
    return ", ".join(f"{s} {n}" for s, n in sorted(counts.items())) or "none"


# --- reading task files -----------------------------------------------------------------------
_SHAPES = "one task (a mapping), a list of tasks, or {tasks: [...]}"


def _yaml_load(text: str, name: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # pragma: no cover - PyYAML ships with the CLI's dependencies
        fail(f"{name}: reading YAML needs PyYAML (pip install pyyaml); or give a .jsonl file")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fail(f"{name}: not valid YAML{where}: {problem}")


def _items_of(doc: Any, name: str) -> tuple[list[Any], bool]:
    """The task items of a YAML document and whether it held one bare task."""
    if isinstance(doc, dict) and "tasks" in doc:
        if len(doc) != 1:
            others = ", ".join(sorted(str(k) for k in doc if k != "tasks"))
            fail(f"{name}: a file with `tasks:` holds nothing else; remove {others}")
        items = doc["tasks"]
        if not isinstance(items, list):
            fail(f"{name}: tasks: expected a list of tasks, got {type(items).__name__}")
        return items, False
    if isinstance(doc, dict):
        return [doc], True
    if isinstance(doc, list):
        return doc, False
    if doc is None:
        fail(f"{name}: no tasks (expected {_SHAPES})")
    fail(f"{name}: expected {_SHAPES}, got {type(doc).__name__}")


def _label(item: Any, where: str) -> str:
    task_name = item.get("name") if isinstance(item, dict) else None
    return f"{where} ({task_name})" if isinstance(task_name, str) and task_name else where


def _validate(items: Sequence[tuple[str, Any]]) -> tuple[list[TaskSpec], list[str]]:
    """Each ``(where, item)`` as a TaskSpec, or its problems named by item and field."""
    specs: list[TaskSpec] = []
    problems: list[str] = []
    for where, item in items:
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a task (a mapping), got {type(item).__name__}")
            continue
        try:
            specs.append(TaskSpec.model_validate(item))
        except ValidationError as exc:
            problems += [f"{_label(item, where)}: {e}" for e in field_errors(exc, "")]
    return specs, problems


def _looks_like_json_lines(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return len(lines) > 1 and all(ln.lstrip().startswith("{") for ln in lines)


def read_tasks(path: Path) -> list[TaskSpec]:
    """The tasks of a YAML or JSON Lines file (``-``: stdin), all validated; every problem is
    reported together, each naming its item (or line) and field, and the command exits 2."""
    text = read_text(path)
    name = "stdin" if str(path) == "-" else path.name
    jsonl = path.suffix.lower() in JSONL_SUFFIXES
    if not jsonl and path.suffix.lower() not in (".yaml", ".yml", ".json"):
        jsonl = _looks_like_json_lines(text)
    items: list[tuple[str, Any]] = []
    problems: list[str] = []
    if jsonl:
        for number, obj, bad in json_lines(text):
            if bad is not None:
                problems.append(bad)
            else:
                items.append((f"line {number}", obj))
    else:
        found, single = _items_of(_yaml_load(text, name), name)
        items = [("task" if single else f"item {i}", x) for i, x in enumerate(found, start=1)]
    specs, more = _validate(items)
    problems += more
    if problems:
        fail(f"{name}: {len(problems)} problem(s); nothing was sent\n" + "\n".join(problems))
    if not specs:
        fail(f"{name}: no tasks (expected {_SHAPES}, or JSON Lines, one task per line)")
    return specs


# --- commands ---------------------------------------------------------------------------------
def submit_cmd(
    file: Path = typer.Argument(
        ...,
        metavar="TASK.yaml",
        help=f"Tasks in YAML ({_SHAPES}) or JSON Lines (.jsonl, one task per line); '-' reads "
        "stdin.",
        show_default=False,
    ),
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """Submit tasks to the API: one task, or several in one batch (all or none).

    The file is validated here first; any problem is reported with its item and field and
    nothing is sent. Prints the new task ids.
    """
    specs = read_tasks(file)
    with connect(url, token) as (api, _):
        bodies = [s.model_dump(mode="json") for s in specs]
        ids = [api.submit(bodies[0])] if len(bodies) == 1 else api.submit_batch(bodies)
    if as_json:
        emit_json({"submitted": len(ids), "ids": ids})
        return
    console.print(f"submitted {len(ids)} task(s)")
    for task in ids:
        typer.echo(task)


def tasks_list_cmd(
    state: TaskState | None = typer.Option(None, "--state", help="Only tasks in this state."),
    tenant: str | None = typer.Option(
        None, "--tenant", help="Only this tenant's tasks (operators; a tenant sees its own)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many (paging)."),
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """List tasks on the API, newest first (a tenant sees only its own)."""
    with connect(url, token) as (api, _):
        page = api.tasks(
            state=state.value if state else None, tenant=tenant, limit=limit, offset=offset
        )
    if as_json:
        emit_json(page)
        return
    rows = page.get("tasks", [])
    if not rows:
        console.print("no tasks" + (f" in state {state.value}" if state else ""))
        return
    title = f"tasks {offset + 1}-{offset + len(rows)}, newest first: {_by_state(rows)}"
    console.print(tasks_table(rows, title))


def tasks_show_cmd(
    task: str = typer.Argument(..., metavar="ID", help="Task id.", show_default=False),
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """One task and its story: every event, in order, and what it did."""
    with connect(url, token) as (api, _):
        view = api.task(task)
        story = api.events(task)
    if as_json:
        emit_json({"task": view, "story": story})
        return
    console.print(
        f"[bold]{_cell(view.get('id'))}[/bold] {_cell(view.get('name'))} "
        f"({_cell(view.get('tenant'))}): [bold]{_cell(view.get('state'))}[/bold] "
        f"attempt {_cell(view.get('attempt'))}"
        + (f" at {_cell(view.get('site'))}" if view.get("site") else "")
        + (f" — {_cell(view.get('reason'))}" if view.get("reason") else ""),
        soft_wrap=True,
    )
    table = Table(title="story", title_justify="left")
    for col in ("at (UTC)", "event", "attempt", "from", "to", "did", "note"):
        table.add_column(col)
    for line in story:
        ops = line.get("ops") or []
        table.add_row(
            _when(line.get("at")),
            _cell(line.get("kind")),
            _cell(line.get("attempt")),
            _cell(line.get("before")),
            _cell(line.get("after")),
            _cell(", ".join(map(str, ops))) if line.get("accepted", True) else "ignored",
            _cell(line.get("note")),
        )
    console.print(table)


def tasks_cancel_cmd(
    task: str = typer.Argument(..., metavar="ID", help="Task id.", show_default=False),
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """Cancel a task (its attempt is stopped and its lease closed as cancelled)."""
    with connect(url, token) as (api, _):
        answer = api.cancel(task)
    if as_json:
        emit_json({"id": task, **(answer or {})})
        return
    console.print(f"cancel of {escape(task)} queued")


def watch_cmd(
    interval: float = typer.Option(
        2.0, "--interval", min=0.1, help="Seconds between refreshes.", show_default=True
    ),
    state: TaskState | None = typer.Option(None, "--state", help="Only tasks in this state."),
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant's (operators)."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="Rows shown (newest)."),
    once: bool = typer.Option(False, "--once", help="Render once and exit (scripts, tests)."),
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """A live table of the latest tasks, refreshed every --interval seconds until Ctrl-C.

    With --once it renders once and exits; --json then prints the page as JSON (without
    --once, --json prints one compact JSON document per refresh, JSON Lines).
    """
    settings = resolve(url, token)
    scope = f" in state {state.value}" if state else ""

    def title(rows: Sequence[Mapping[str, Any]], note: str = "") -> str:
        stamp = time.strftime("%H:%M:%S")
        return (
            f"latest {len(rows)} task(s){scope} at {escape(settings.url)}, {stamp}: "
            f"{_by_state(rows)}" + (f" [red]{escape(note)}[/]" if note else "")
        )

    with ApiClient(settings.url, settings.token) as api:

        def fetch() -> dict[str, Any]:
            return api.tasks(
                state=state.value if state else None, tenant=tenant, limit=limit, offset=0
            )

        try:
            if once:
                page = fetch()
                if as_json:
                    emit_json(page)
                else:
                    rows = page.get("tasks", [])
                    console.print(tasks_table(rows, title(rows)))
                return
            if as_json:
                while True:
                    typer.echo(json.dumps(fetch(), ensure_ascii=False))
                    _sleep(interval)
            _watch_live(fetch, interval, title)
        except RemoteError as exc:
            refuse(exc, settings)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None


def _watch_live(
    fetch: Callable[[], dict[str, Any]],
    interval: float,
    title: Callable[[Sequence[Mapping[str, Any]], str], str],
) -> None:
    """Refresh the table until Ctrl-C; a passing outage (unreachable, 5xx) shows in the
    title and the watch keeps trying; a refusal (4xx, e.g. a revoked token) ends it."""
    rows: list[dict[str, Any]] = []
    with Live(
        tasks_table(rows, title(rows, "connecting...")),
        console=console,
        auto_refresh=False,
        transient=False,
    ) as live:
        while True:
            note = ""
            try:
                rows = fetch().get("tasks", [])
            except RemoteError as exc:
                if exc.exit_code == EXIT_USAGE:
                    raise
                note = f"(refresh failed: {exc}; showing the last answer)"
            live.update(tasks_table(rows, title(rows, note)), refresh=True)
            _sleep(interval)


def _token_id(value: str) -> str:
    """A token id, also from a whole token (``sw_<id>.<secret>``)."""
    value = value.strip()
    if value.startswith("sw_") and "." in value:
        return value[3:].split(".", 1)[0]
    return value


def token_create_cmd(
    principal: str = typer.Argument(
        ..., help="Who the token is for: a tenant, provider or operator name.", show_default=False
    ),
    role: Role = typer.Option(Role.TENANT, "--role", help="What the token may do."),
    ttl_days: float = typer.Option(
        90.0, "--ttl-days", min=0.001, max=3650, help="Days until it expires."
    ),
    note: str = typer.Option("", "--note", help="A note kept with the token (who, why)."),
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a token (admins). The token is printed once: only its hash is kept."""
    with connect(url, token) as (api, _):
        answer = api.create_token(principal, role.value, ttl_days=ttl_days, note=note)
    if as_json:
        emit_json(answer)
        return
    info = answer.get("info", {})
    console.print(
        f"token {_cell(info.get('id'))} for {_cell(info.get('principal'))} "
        f"(role {_cell(info.get('role'))}), expires {_when(info.get('expires_at'))} UTC; "
        "it is shown only now, keep it:",
        soft_wrap=True,
    )
    typer.echo(str(answer.get("token", "")))


def token_revoke_cmd(
    token_id: str = typer.Argument(
        ..., metavar="TOKEN_ID", help="The token's id (or the whole token).", show_default=False
    ),
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """Revoke a token at once: admins any, everyone else only their own."""
    the_id = _token_id(token_id)
    with connect(url, token) as (api, _):
        answer = api.revoke_token(the_id)
    if as_json:
        emit_json({"id": the_id, **(answer or {})})
        return
    console.print(f"token {escape(the_id)} revoked")


def balance_cmd(
    url: str | None = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """The calling tenant's balance: what it holds and what it may still spend."""
    settings = resolve(url, token)
    with ApiClient(settings.url, settings.token) as api:
        try:
            answer = api.balance()
        except RemoteError as exc:
            if route_missing(exc, "/v1/balance"):
                fail(
                    f"the API at {settings.url} has no /v1/balance route: the server is too "
                    "old for `balance`; upgrade it",
                    code=EXIT_USAGE,
                )
            refuse(exc, settings)
    if as_json:
        emit_json(answer)
        return
    try:
        currency = str(answer["currency"])
        held = format_money(int(answer["balance_micros"]), currency)
        free = format_money(int(answer["available_micros"]), currency)
    except (KeyError, TypeError, ValueError):
        fail(f"the API at {settings.url} answered an unexpected balance: {answer!r}", EXIT_REMOTE)
    console.print(
        f"{_cell(answer.get('tenant'))}: balance [bold]{held}[/bold], available {free}",
        soft_wrap=True,
    )
