"""Fixtures for tests that need a local service (PostgreSQL, ...).

Services are started by ``scripts/services-up.sh`` (PostgreSQL by ``scripts/postgres-up.sh``,
which writes ``.services/postgres.url``). A test whose service is missing is skipped, unless
``SUANWANG_REQUIRE_SERVICES=1`` (as in CI), in which case it fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES_DIR = REPO / ".services"
PG_URL_FILE = SERVICES_DIR / "postgres.url"
PG_URL_ENV = "SUANWANG_TEST_PG_URL"
REQUIRE_ENV = "SUANWANG_REQUIRE_SERVICES"


def services_required() -> bool:
    """True when ``SUANWANG_REQUIRE_SERVICES`` asks for missing services to fail the tests."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def require_service(reason: str) -> NoReturn:
    """Skip the current test because a service is missing, or fail it when services are
    required (``SUANWANG_REQUIRE_SERVICES=1``)."""
    if services_required():
        pytest.fail(f"{reason} (and {REQUIRE_ENV}=1 requires it)", pytrace=False)
    pytest.skip(f"{reason}; start it with scripts/services-up.sh")


@pytest.fixture(name="require_service")
def require_service_fixture() -> Callable[[str], NoReturn]:
    """The :func:`require_service` helper, for tests of other services::

    def test_slurm(require_service):
        if shutil.which("sinfo") is None:
            require_service("slurm not installed")
    """
    return require_service


def _find_pg_url() -> tuple[str, str] | None:
    """(url, where it came from), from $SUANWANG_TEST_PG_URL or .services/postgres.url."""
    url = os.environ.get(PG_URL_ENV, "").strip()
    if url:
        return url, f"${PG_URL_ENV}"
    if PG_URL_FILE.is_file():
        url = PG_URL_FILE.read_text(encoding="utf-8").strip()
        if url:
            return url, str(PG_URL_FILE.relative_to(REPO))
    return None


def _hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


_pg_probe: dict[str, str | None] = {}


@pytest.fixture
def pg_url() -> str:
    """The SQLAlchemy URL of a reachable test PostgreSQL database.

    Taken from ``$SUANWANG_TEST_PG_URL``, else from ``.services/postgres.url``. When neither
    is set, or the server cannot be reached, the test is skipped (failed when
    ``SUANWANG_REQUIRE_SERVICES=1``). A URL given explicitly in the environment that cannot be
    reached always fails. The reachability check runs once per session.
    """
    found = _find_pg_url()
    if found is None:
        require_service(f"no PostgreSQL for the tests: neither ${PG_URL_ENV} nor {PG_URL_FILE}")
    url, source = found
    if url not in _pg_probe:
        _pg_probe[url] = _probe(url)
    error = _pg_probe[url]
    if error is not None:
        reason = f"cannot connect to PostgreSQL at {_hide_password(url)} (from {source}): {error}"
        if source.startswith("$"):
            pytest.fail(reason, pytrace=False)
        require_service(reason)
    return url


def _probe(url: str) -> str | None:
    """None when ``url`` accepts a connection, else why not."""
    try:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
    except ImportError as exc:  # pragma: no cover - SQLAlchemy is a core dependency
        return f"SQLAlchemy not importable: {exc}"
    try:
        driver = make_url(url).drivername
        timeout = {"connect_timeout": 5} if driver.split("+")[-1].startswith("psycopg") else {}
        engine = create_engine(url, connect_args=timeout)
    except Exception as exc:  # e.g. the driver (psycopg) is not installed
        return f"{type(exc).__name__}: {exc}"
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"{type(exc).__name__}: {first_line}"
    finally:
        engine.dispose()
    return None


# --- the control plane's store, on SQLite and on the real PostgreSQL ---------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty control-plane database: SQLite in a temporary folder, or the test
    PostgreSQL emptied first (skipped, or failed under SUANWANG_REQUIRE_SERVICES=1, without)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'suanwang.db'}"
    url = str(request.getfixturevalue("pg_url"))
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


# --- the one-node Slurm cluster scripts/slurm-up.sh starts --------------------------------------
_SLURM: dict[str, str | None] = {}


def _slurm_problem() -> str | None:
    """Why no Slurm cluster can be used here, or None."""
    import shutil
    import subprocess

    if shutil.which("sbatch") is None:
        return "no Slurm: sbatch is not on PATH (scripts/slurm-up.sh installs it)"
    try:
        ping = subprocess.run(
            ["scontrol", "ping"], capture_output=True, text=True, timeout=15, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no Slurm cluster: scontrol ping failed ({exc})"
    if ping.returncode != 0 or " is UP" not in ping.stdout:
        output = (ping.stdout + ping.stderr).strip()
        return f"no Slurm cluster: scontrol ping fails ({output}; scripts/slurm-up.sh starts one)"
    return None


@pytest.fixture
def slurm_cluster() -> None:
    """Skip (or fail, with SUANWANG_REQUIRE_SERVICES=1) when there is no Slurm cluster."""
    if "cluster" not in _SLURM:
        _SLURM["cluster"] = _slurm_problem()
    problem = _SLURM["cluster"]
    if problem is not None:
        require_service(problem)


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """Serve ASGI apps on 127.0.0.1 (uvicorn in a thread, a free port); returns a function
    ``serve(app) -> base URL``. Every server is stopped when the test ends."""
    import socket
    import threading
    import time

    import uvicorn

    running: list[tuple[Any, threading.Thread]] = []

    def serve(app: Any) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the API server did not start in 20 s"
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)
