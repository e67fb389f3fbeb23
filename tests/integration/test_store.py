"""The store: migrations build exactly the tables the code declares, on SQLite and on
PostgreSQL; SQLite runs in WAL mode; bad URLs, unreachable servers and newer schemas are
clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from suanwang.control.store import StoreError, default_url, open_store
from suanwang.control.store.schema import Base


def test_migrations_build_exactly_the_declared_schema(store_url: str) -> None:
    store = open_store(store_url)
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert store.revision() == "0003"
    again = open_store(store_url)  # opening a migrated store changes nothing
    assert again.revision() == "0003"
    store.close()
    again.close()


def test_sqlite_runs_in_wal_mode_in_the_data_dir(tmp_path: Path) -> None:
    url = default_url(tmp_path / "data")
    assert url.endswith("data/suanwang.db")
    store = open_store(url)
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.set_meta("greeting", "你好")
    assert store.meta("greeting") == "你好"
    assert store.meta("missing") is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "not a database URL"),
        ("nosuchdb://x/y", "cannot use"),
        ("postgresql+psycopg://u:secret@127.0.0.1:1/db", "cannot open the store"),
    ],
)
def test_bad_urls_are_clear_errors_without_the_password(url: str, says: str) -> None:
    with pytest.raises(StoreError, match=says) as err:
        open_store(url)
    assert "secret" not in str(err.value)


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    open_store(url).close()
    store = open_store(url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    with pytest.raises(StoreError, match="newer than this version"):
        open_store(url)


def test_one_runtime_per_store_and_a_dead_holder_never_blocks(store_url: str) -> None:
    store = open_store(store_url)
    held = store.lock_runtime()
    other = open_store(store_url)
    with pytest.raises(StoreError, match="another runtime is running"):
        other.lock_runtime()
    held.release()
    again = other.lock_runtime()  # free once released
    again.release()
    store.close()
    other.close()


def test_a_sigkilled_runtime_releases_its_lock(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path / 's.db'}"
    open_store(url).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from suanwang.control.store import open_store; "
            f"lock = open_store({url!r}).lock_runtime(); print('held', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    store = open_store(url)
    with pytest.raises(StoreError):
        store.lock_runtime()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    time.sleep(0.1)
    store.lock_runtime().release()
