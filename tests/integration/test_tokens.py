"""Tokens: random, stored only as hashes, scoped to a principal and role, expiring and
revocable."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from suanwang.api.tokens import AuthError, TokenStore, digest
from suanwang.control.store import open_store
from suanwang.control.store.schema import TokenRow
from suanwang.core.access import PERMISSIONS, Role, allowed, sees_everything


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def tokens(tmp_path: Path) -> tuple[TokenStore, Clock]:
    clock = Clock()
    return TokenStore(open_store(f"sqlite:///{tmp_path / 's.db'}"), clock), clock


def test_a_token_authenticates_as_its_principal_and_role(tokens: tuple[TokenStore, Clock]) -> None:
    ts, _ = tokens
    info, token = ts.create("tenant-01", Role.TENANT, note="laptop")
    who = ts.authenticate(token)
    assert (who.principal, who.role, who.token_id) == ("tenant-01", Role.TENANT, info.id)


def test_only_the_hash_is_stored(tokens: tuple[TokenStore, Clock]) -> None:
    ts, _ = tokens
    _, token = ts.create("tenant-01", Role.TENANT)
    with ts.store.sessions() as s:
        rows = s.execute(select(TokenRow)).scalars().all()
    assert [r.hash for r in rows] == [digest(token)]
    assert all(token not in (r.hash, r.id, r.note) for r in rows)


def test_two_tokens_are_never_alike(tokens: tuple[TokenStore, Clock]) -> None:
    ts, _ = tokens
    made = {ts.create("p", Role.TENANT)[1] for _ in range(50)}
    assert len(made) == 50


@pytest.mark.parametrize(
    ("token", "code"),
    [(None, "missing"), ("", "missing"), ("hello", "malformed"), ("sw_abc.def", "unknown")],
)
def test_bad_tokens_say_why(tokens: tuple[TokenStore, Clock], token: str | None, code: str) -> None:
    ts, _ = tokens
    with pytest.raises(AuthError) as err:
        ts.authenticate(token)
    assert err.value.code == code


def test_tokens_expire_and_can_be_revoked(tokens: tuple[TokenStore, Clock]) -> None:
    ts, clock = tokens
    info, token = ts.create("tenant-01", Role.TENANT, ttl=timedelta(hours=1))
    clock.now += timedelta(minutes=59)
    ts.authenticate(token)
    clock.now += timedelta(minutes=2)
    with pytest.raises(AuthError, match="expired"):
        ts.authenticate(token)
    info2, token2 = ts.create("tenant-01", Role.TENANT)
    assert ts.revoke(info2.id)
    assert not ts.revoke(info2.id)  # once
    with pytest.raises(AuthError, match="revoked"):
        ts.authenticate(token2)
    assert [t.id for t in ts.list("tenant-01")] == [info.id, info2.id]


def test_least_privilege_table() -> None:
    assert allowed(Role.TENANT, "tasks.submit")
    assert not allowed(Role.TENANT, "network.cut")
    assert not allowed(Role.PROVIDER, "tasks.read")
    assert not allowed(Role.OPERATOR, "tokens.manage")
    assert allowed(Role.ADMIN, "tokens.manage")
    assert not allowed(Role.ADMIN, "no.such.action")
    assert sees_everything(Role.OPERATOR)
    assert not sees_everything(Role.TENANT)
    for action, roles in PERMISSIONS.items():
        assert roles, action


# --- the cache of verified tokens (the API's: cache_s > 0) ---------------------------------------
def revoke_behind_its_back(ts: TokenStore, token_id: str) -> None:
    """Revoke as another process would: in the database, not through ``ts``'s store."""
    other = open_store(ts.store.engine.url.render_as_string(hide_password=False))
    TokenStore(other).revoke(token_id)
    other.close()


def test_without_a_cache_every_lookup_asks_the_store(tokens: tuple[TokenStore, Clock]) -> None:
    ts, _ = tokens
    info, token = ts.create("tenant-01", Role.TENANT)
    assert ts.cached(token) is None
    ts.authenticate(token)
    revoke_behind_its_back(ts, info.id)
    with pytest.raises(AuthError, match="revoked"):
        ts.authenticate(token)


def test_a_cached_token_is_not_looked_up_again_within_the_ttl(
    tokens: tuple[TokenStore, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    ts, clock = tokens
    cached = TokenStore(ts.store, clock, cache_s=2.0)
    info, token = cached.create("tenant-01", Role.TENANT)
    assert cached.cached(token) is None  # not verified yet
    who = cached.authenticate(token)
    assert cached.cached(token) == who
    revoke_behind_its_back(cached, info.id)  # another process: seen only after the TTL
    assert cached.authenticate(token) == who
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 2.01)
    assert cached.cached(token) is None
    with pytest.raises(AuthError, match="revoked"):
        cached.authenticate(token)


def test_a_revocation_in_this_process_empties_the_cache_at_once(
    tokens: tuple[TokenStore, Clock],
) -> None:
    ts, clock = tokens
    api = TokenStore(ts.store, clock, cache_s=60.0)
    info, token = api.create("tenant-01", Role.TENANT)
    info2, token2 = api.create("tenant-02", Role.TENANT)
    api.authenticate(token)
    api.authenticate(token2)
    assert api.revoke(info.id)  # through the same TokenStore
    with pytest.raises(AuthError, match="revoked"):
        api.authenticate(token)
    assert api.authenticate(token2).principal == "tenant-02"
    assert ts.revoke(info2.id)  # through another TokenStore of the same store
    with pytest.raises(AuthError, match="revoked"):
        api.authenticate(token2)


def test_a_cached_token_still_expires_on_time(tokens: tuple[TokenStore, Clock]) -> None:
    ts, clock = tokens
    api = TokenStore(ts.store, clock, cache_s=3600.0)
    _, token = api.create("tenant-01", Role.TENANT, ttl=timedelta(hours=1))
    api.authenticate(token)
    clock.now += timedelta(hours=1)
    with pytest.raises(AuthError, match="expired"):
        api.cached(token)
    with pytest.raises(AuthError, match="expired"):
        api.authenticate(token)


def test_bad_and_unknown_tokens_are_refused_and_never_cached(
    tokens: tuple[TokenStore, Clock],
) -> None:
    ts, clock = tokens
    api = TokenStore(ts.store, clock, cache_s=60.0)
    for token, code in ((None, "missing"), ("hello", "malformed")):
        with pytest.raises(AuthError) as err:
            api.cached(token)
        assert err.value.code == code
    for _ in range(2):
        with pytest.raises(AuthError, match="unknown"):
            api.authenticate("sw_abc.def")
    assert api.cached("sw_abc.def") is None


def test_a_lookup_racing_a_revocation_is_not_cached(
    tokens: tuple[TokenStore, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lookup that read the row before a revocation committed must not cache it after the
    revocation emptied the cache."""
    ts, clock = tokens
    api = TokenStore(ts.store, clock, cache_s=60.0)
    info, token = api.create("tenant-01", Role.TENANT)
    sessions = api.store.sessions

    def read_then_revoke() -> Any:
        session = sessions()
        real_execute = session.execute

        def execute(*args: Any, **kwargs: Any) -> Any:
            row = real_execute(*args, **kwargs).scalar()
            monkeypatch.setattr(api.store, "sessions", sessions)  # the revocation's own
            assert TokenStore(api.store).revoke(info.id)  # lands after the read
            return SimpleNamespace(scalar=lambda: row)

        session.execute = execute  # type: ignore[method-assign]
        return session

    monkeypatch.setattr(api.store, "sessions", read_then_revoke)
    assert api.authenticate(token).principal == "tenant-01"  # what it read: not revoked yet
    assert api.cached(token) is None
    with pytest.raises(AuthError, match="revoked"):
        api.authenticate(token)
