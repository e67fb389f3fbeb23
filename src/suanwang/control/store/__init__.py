"""The control plane's store: SQLAlchemy 2 tables, Alembic migrations, SQLite or PostgreSQL."""

from suanwang.control.store.db import Store, StoreError, default_url, open_store

__all__ = ["Store", "StoreError", "default_url", "open_store"]
