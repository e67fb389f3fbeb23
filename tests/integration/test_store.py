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
    assert store.revision() == "0001"
    again = open_store(store_url)  # opening a migrated store changes nothing
    assert again.revision() == "0001"
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
