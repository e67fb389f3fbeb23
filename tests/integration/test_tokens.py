"""Tokens: random, stored only as hashes, scoped to a principal and role, expiring and
revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

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
