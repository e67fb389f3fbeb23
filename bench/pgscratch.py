"""The test PostgreSQL for benchmarks: its URL if one is usable, and scratch schemas in it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
PG_URL_ENV = "SUANWANG_TEST_PG_URL"
PG_URL_FILE = REPO / ".services" / "postgres.url"


def pg_url() -> str | None:
    """``$SUANWANG_TEST_PG_URL`` or ``.services/postgres.url`` if it answers, else None."""
    url = os.environ.get(PG_URL_ENV, "").strip()
    if not url and PG_URL_FILE.is_file():
        url = PG_URL_FILE.read_text(encoding="utf-8").strip()
    if not url:
        return None
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "no PostgreSQL here"
        print(f"PostgreSQL at {make_url(url).render_as_string()} not usable: {exc}")
        return None
    return url


@contextmanager
def pg_scratch(url: str, prefix: str) -> Iterator[str]:
    """A URL whose tables live in a fresh schema ``<prefix>_<random>`` of ``url``'s database,
    dropped afterwards (schema public, which the tests use, is left alone)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scratch = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield scratch.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
