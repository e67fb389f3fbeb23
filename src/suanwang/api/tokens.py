"""Bearer tokens: random, stored only as SHA-256 hashes, scoped to a principal and a role,
expiring and revocable.

A token reads ``sw_<id>.<secret>``: the id names it (to list and revoke it), the secret is 32
random bytes. Only ``sha256(token)`` is stored, so a copy of the database grants nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import Field
from sqlalchemy import select, update

from suanwang.control.store import Store
from suanwang.control.store.schema import TokenRow
from suanwang.core.access import Role
from suanwang.core.base import Frozen
from suanwang.core.errors import SuanwangError

DEFAULT_TTL = timedelta(days=90)
PRINCIPAL_PATTERN = r"^[a-z0-9][a-z0-9-]{0,79}$"


class AuthError(SuanwangError):
    """Authentication failed; ``code`` says how (missing, malformed, unknown, expired,
    revoked). The API answers 401 for all of them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Principal(Frozen):
    """Who is calling, as a verified token says."""

    token_id: str
    principal: str
    role: Role
    expires_at: datetime


class TokenInfo(Frozen):
    """A token as listed (never its secret)."""

    id: str
    principal: str = Field(pattern=PRINCIPAL_PATTERN)
    role: Role
    note: str = ""
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class TokenStore:
    """Tokens in the control plane's store."""

    def __init__(
        self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store = store
        self.clock = clock

    def create(
        self, principal: str, role: Role, *, ttl: timedelta = DEFAULT_TTL, note: str = ""
    ) -> tuple[TokenInfo, str]:
        """A new token for ``principal`` in ``role``; the token text is returned once."""
        if ttl <= timedelta(0):
            raise SuanwangError("a token's lifetime must be positive")
        now = self.clock()
        token_id = secrets.token_hex(8)
        token = f"sw_{token_id}.{secrets.token_urlsafe(32)}"
        info = TokenInfo(
            id=token_id,
            principal=principal,
            role=role,
            note=note[:500],
            created_at=now,
            expires_at=now + ttl,
        )
        with self.store.transaction() as s:
            s.add(
                TokenRow(
                    id=token_id,
                    hash=digest(token),
                    principal=principal,
                    role=role.value,
                    note=info.note,
                    created_at=now,
                    expires_at=info.expires_at,
                    revoked_at=None,
                )
            )
        return info, token

    def authenticate(self, token: str | None) -> Principal:
        """The principal a token stands for.

        Raises:
            AuthError: no token, a malformed, unknown, expired or revoked one.
        """
        if not token:
            raise AuthError("missing", "this call needs a bearer token (Authorization: Bearer …)")
        if not token.startswith("sw_") or "." not in token or len(token) > 200:
            raise AuthError("malformed", "that is not a Suanwang token")
        with self.store.sessions() as s:
            row = s.execute(select(TokenRow).where(TokenRow.hash == digest(token))).scalar()
        if row is None:
            raise AuthError("unknown", "unknown token")
        if row.revoked_at is not None:
            raise AuthError("revoked", "this token was revoked")
        expires = _utc(row.expires_at)
        if self.clock() >= expires:
            raise AuthError("expired", f"this token expired at {expires.isoformat()}")
        return Principal(
            token_id=row.id, principal=row.principal, role=Role(row.role), expires_at=expires
        )

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by id; False if there is no such live token."""
        with self.store.transaction() as s:
            done = s.execute(
                update(TokenRow)
                .where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def get(self, token_id: str) -> TokenInfo | None:
        with self.store.sessions() as s:
            row = s.get(TokenRow, token_id)
        return None if row is None else _info(row)

    def list(self, principal: str | None = None) -> list[TokenInfo]:
        q = select(TokenRow).order_by(TokenRow.created_at)
        if principal is not None:
            q = q.where(TokenRow.principal == principal)
        with self.store.sessions() as s:
            return [_info(r) for r in s.execute(q).scalars()]


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        principal=row.principal,
        role=Role(row.role),
        note=row.note,
        created_at=_utc(row.created_at),
        expires_at=_utc(row.expires_at),
        revoked_at=_utc(row.revoked_at) if row.revoked_at is not None else None,
    )
