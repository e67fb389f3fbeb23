"""Fixtures for the dashboard's browser tests: a live ``suanwang up --demo`` and Debian's
Chromium driven by the Python ``playwright`` package.

The browser is ``/usr/bin/chromium`` (``scripts/browser-up.sh`` installs it; another one with
``$SUANWANG_CHROMIUM``); ``playwright install`` is never run. When the browser or the package
is missing the tests are skipped, unless ``SUANWANG_REQUIRE_SERVICES=1`` (as in CI): then they
fail. Screenshots (and one of every failed test) go to ``tests/browser/artifacts/``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ENV = "SUANWANG_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
REQUIRE_ENV = "SUANWANG_REQUIRE_SERVICES"
SUANWANG = str(Path(sys.executable).parent / "suanwang")
TOKEN = re.compile(r"sw_[0-9a-f]{16}\.[A-Za-z0-9_-]+")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}
TENANT = "tenant-01"
"""A demo tenant (the demo stream submits tasks for tenant-01 ... tenant-08)."""


def services_required() -> bool:
    """As in tests/integration/conftest.py: ``SUANWANG_REQUIRE_SERVICES=1`` turns a skip for a
    missing service into a failure."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def require_service(reason: str) -> NoReturn:
    if services_required():
        pytest.fail(f"{reason} (and {REQUIRE_ENV}=1 requires it)", pytrace=False)
    pytest.skip(f"{reason}; install it with scripts/browser-up.sh and `pip install playwright`")


def chromium_path() -> str:
    """The Chromium to drive; skips (or fails) when it or the playwright package is missing."""
    path = os.environ.get(CHROMIUM_ENV, "").strip() or DEFAULT_CHROMIUM
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        found = shutil.which(path)
        if found is None:
            require_service(f"no Chromium at {path} (set ${CHROMIUM_ENV} to another one)")
        path = found
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require_service("the Python playwright package is not installed")
    return path


# --- the live platform -------------------------------------------------------------------------
@dataclass
class Demo:
    """A running ``suanwang up --demo``: its URL, the operator token it printed and a tenant
    token made through the API."""

    url: str
    operator: str
    tenant: str
    proc: subprocess.Popen[str]
    tenant_principal: str = TENANT
    log: list[str] = field(default_factory=list)

    def api(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token or self.operator}"},
            timeout=30,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chromium() -> str:
    return chromium_path()


@pytest.fixture(scope="session", autouse=True)
def _fresh_failure_shots() -> None:
    """Failure screenshots of an earlier run would mislead: remove them."""
    for old in ARTIFACTS.glob("FAILED-*.png"):
        old.unlink()


@pytest.fixture(scope="module")  # torn down before other folders' tests run
def demo(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``suanwang up --demo`` on a free port over a fresh data directory (once per session)."""
    data = tmp_path_factory.mktemp("up") / "data"
    port = _free_port()
    proc = subprocess.Popen(
        [SUANWANG, "up", "--demo", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    banner = ""
    deadline = time.monotonic() + 90
    while "is up at" not in banner and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner += line
    if "is up at" not in banner:
        proc.kill()
        pytest.fail(f"`suanwang up --demo` did not start:\n{banner}", pytrace=False)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    operator = TOKEN.findall(banner)[0]
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {operator}"}, timeout=30
    ) as api:
        made = api.post("/v1/tokens", json={"principal": TENANT, "role": "tenant"})
        assert made.status_code == 201, made.text
        tenant = made.json()["token"]
    running = Demo(url=url, operator=operator, tenant=tenant, proc=proc)
    try:
        yield running
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


# --- the browser -------------------------------------------------------------------------------
@pytest.fixture(scope="module")  # Playwright's loop must be gone before other tests
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@dataclass
class PageErrors:
    """JavaScript errors of the page (uncaught exceptions and console errors)."""

    uncaught: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no storage) and page, English, 1440x900. A failed test leaves
    a screenshot ``artifacts/FAILED-<test>.png``; uncaught JavaScript errors fail the test."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors = PageErrors()
    pg.on("pageerror", lambda exc: errors.uncaught.append(str(exc)))
    pg.on("console", lambda m: errors.console.append(m.text) if m.type == "error" else None)
    pg.errors = errors
    try:
        yield pg
    finally:
        failed = getattr(request.node, "report_call", None)
        if failed is not None and failed.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:
                pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"))
            except Exception as exc:  # the page may be gone; the failure is what matters
                print(f"no failure screenshot: {exc}")
        context.close()
    assert errors.uncaught == [], f"uncaught JavaScript errors: {errors.uncaught}"


def _shot(pg: Any, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot as a test artefact (no pixel assertions are made on it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=full_page)
    return path


def _sign_in(pg: Any, demo: Demo, token: str, path: str = "/") -> None:
    """Open the dashboard and sign in with ``token``; returns when the map has drawn."""
    pg.goto(demo.url + path)
    pg.get_by_test_id("login-token").fill(token)
    pg.get_by_test_id("login-submit").click()
    pg.locator("[data-testid=map][data-ready=true]").wait_for()


@pytest.fixture
def shot() -> Callable[..., Path]:
    """``shot(page, name, full_page=False)``: a screenshot in ``artifacts/<name>.png``."""
    return _shot


@pytest.fixture
def sign_in() -> Callable[..., None]:
    """``sign_in(page, demo, token)``: open the dashboard, sign in, wait for the map."""
    return _sign_in


@pytest.fixture
def artifacts() -> Path:
    """The folder of the test artefacts (created)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
