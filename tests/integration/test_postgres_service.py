"""The local test PostgreSQL (scripts/postgres-up.sh) answers through SQLAlchemy + psycopg."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, inspect, text


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


def test_version_is_postgresql(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        version = conn.execute(text("select version()")).scalar_one()
    assert "PostgreSQL" in version


def test_create_and_drop_table_in_a_transaction(pg_engine: Engine) -> None:
    table = f"suanwang_probe_{uuid.uuid4().hex[:12]}"
    with pg_engine.begin() as conn:
        conn.execute(text(f"create table {table} (id integer primary key, name text not null)"))
        conn.execute(text(f"insert into {table} values (1, '算网'), (2, 'suanwang')"))
        rows = conn.execute(text(f"select name from {table} order by id")).scalars().all()
        assert rows == ["算网", "suanwang"]
        assert inspect(conn).has_table(table)
        conn.execute(text(f"drop table {table}"))
        assert not inspect(conn).has_table(table)
    with pg_engine.connect() as conn:
        assert not inspect(conn).has_table(table)


def test_rolled_back_table_does_not_persist(pg_engine: Engine) -> None:
    table = f"suanwang_probe_{uuid.uuid4().hex[:12]}"
    with pg_engine.connect() as conn:
        trans = conn.begin()
        conn.execute(text(f"create table {table} (id integer)"))
        assert inspect(conn).has_table(table)
        trans.rollback()
    with pg_engine.connect() as conn:
        assert not inspect(conn).has_table(table)
