"""Opening the store: a URL (PostgreSQL) or a data directory (SQLite in WAL mode), migrated.

``open_store(url)`` creates the engine, brings the schema to the newest Alembic revision and
returns a :class:`Store`. SQLite runs in WAL mode with ``synchronous=NORMAL`` and a busy
timeout, so readers (the CLI, the API) never block the runtime's writes. Errors opening or
migrating say what was wrong with which URL (the password masked).
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from suanwang.control.store.schema import Meta
from suanwang.core.errors import SuanwangError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DB_FILE = "suanwang.db"


class StoreError(SuanwangError):
    """The store cannot be opened, migrated or written."""


def default_url(data_dir: Path) -> str:
    """The SQLite URL of the store in ``data_dir`` (created if missing)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data_dir / DB_FILE).resolve()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class Store:
    """An open, migrated store: an engine and a session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together at the end, or not at all."""
        with self.sessions() as session, session.begin():
            yield session

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def meta(self, key: str) -> str | None:
        with self.sessions() as s:
            return s.scalar(select(Meta.value).where(Meta.key == key))

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as s:
            s.merge(Meta(key=key, value=value))

    def lock_runtime(self) -> RuntimeLock:
        """Hold the store's runtime lock: one runtime per store, or two engines would drift
        apart. The operating system (SQLite: a file lock) or the server (PostgreSQL: an
        advisory lock on the lock's own connection) releases it when the process dies, even
        by SIGKILL, so a crashed runtime never blocks its restart.

        Raises:
            StoreError: another runtime holds it.
        """
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            path = Path(url.database or "memory").with_suffix(".runtime.lock")
            handle = open(path, "a+")  # noqa: SIM115 (held until release)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise StoreError(
                    f"another runtime is running on {self.url} (it holds {path})"
                ) from None
            return RuntimeLock(release=handle.close)
        conn = self.engine.connect()
        conn.detach()  # its own session: closing it really closes it, releasing the lock
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": RUNTIME_LOCK_KEY})
        if not got.scalar():
            conn.close()
            raise StoreError(f"another runtime is running on {self.url} (advisory lock held)")
        conn.commit()
        return RuntimeLock(release=conn.close)

    def close(self) -> None:
        self.engine.dispose()


RUNTIME_LOCK_KEY = 0x5357_0001
"""The PostgreSQL advisory-lock key of the runtime lock ('SW', 1)."""


class RuntimeLock:
    """A held runtime lock; :meth:`release` (or process death) lets it go."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (and by default migrate) the store at ``url``; see the module docstring.

    Raises:
        StoreError: a malformed URL, an unreachable database, or a schema newer than this
            version of Suanwang knows.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {url!r} ({exc})") from None
    shown = parsed.render_as_string(hide_password=True)
    kwargs: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 10}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use {shown}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    store = Store(engine)
    try:
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        current = store.revision()
        known = {
            r.revision for r in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()
        }
        if current is not None and current not in known:
            raise StoreError(
                f"the store at {shown} has schema revision {current}, newer than this "
                f"version of Suanwang knows (head {head}); upgrade Suanwang"
            )
        if migrate and current != head:
            with engine.begin() as conn:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
    except OperationalError as exc:
        engine.dispose()
        raise StoreError(f"cannot open the store at {shown}: {exc.orig}") from None
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot migrate the store at {shown}: {exc}") from None
    return store
