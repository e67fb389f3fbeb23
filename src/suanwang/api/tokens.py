"""Bearer tokens: random, stored only as SHA-256 hashes, scoped to a principal and a role,
expiring and revocable.

A token reads ``sw_<id>.<secret>``: the id names it (to list and revoke it), the secret is 32
random bytes. Only ``sha256(token)`` is stored, so a copy of the database grants nothing.

**Cache.** A :class:`TokenStore` made with ``cache_s > 0`` (the API's, 2 s by default) keeps
each token it verified for up to ``cache_s`` seconds (keyed by the token's hash; only valid
tokens are kept), so that a client sending many requests is looked up in the store once per
``cache_s``, not once per request. Expiry is checked on every use. A revocation through any
:class:`TokenStore` of the same :class:`Store` object (the API's ``DELETE /v1/tokens/{id}``)
empties the cache at once (``suanwang token revoke`` goes through the API, so it is one of
those while the API runs in one process); **a revocation made by another process** (another
API worker process, a script with a :class:`TokenStore` of its own) **takes effect in this
process within ``cache_s`` seconds**: until then, requests with that token are let through.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import weakref
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


class _Cache:
    """Verified tokens of one store: ``{sha256: (valid until, monotonic s; principal)}``."""

    MAX = 10_000
    """Entries kept at most; past it, the cache starts over."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[float, Principal]] = {}
        self.generation = 0
        """Bumped by every revocation: a lookup that began before it is not cached."""

    def get(self, key: str) -> Principal | None:
        hit = self.entries.get(key)
        if hit is None:
            return None
        if time.monotonic() >= hit[0]:
            with self.lock:
                if self.entries.get(key) is hit:
                    del self.entries[key]
            return None
        return hit[1]

    def put(self, key: str, who: Principal, generation: int, ttl: float) -> None:
        with self.lock:
            if generation != self.generation:
                return  # a revocation happened during the lookup: ask the store next time
            if len(self.entries) >= self.MAX:
                self.entries.clear()
            self.entries[key] = (time.monotonic() + ttl, who)

    def invalidate(self) -> None:
        with self.lock:
            self.generation += 1
            self.entries.clear()


_CACHES: weakref.WeakKeyDictionary[Store, _Cache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache_of(store: Store) -> _Cache:
    """The token cache shared by every :class:`TokenStore` of ``store`` (so that a revocation
    through any of them reaches the others)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(store)
        if cache is None:
            cache = _CACHES[store] = _Cache()
        return cache


class TokenStore:
    """Tokens in the control plane's store; with ``cache_s > 0``, verified tokens are cached
    for that long (see the module docstring: revocations by another process take up to
    ``cache_s`` seconds to be seen)."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        cache_s: float = 0.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.cache_s = cache_s
        self._cache = _cache_of(store)

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
        who = self.cached(token)
        if who is not None:
            return who
        assert token is not None  # cached() refused a missing one
        key = digest(token)
        generation = self._cache.generation
        with self.store.sessions() as s:
            row = s.execute(select(TokenRow).where(TokenRow.hash == key)).scalar()
        if row is None:
            raise AuthError("unknown", "unknown token")
        if row.revoked_at is not None:
            raise AuthError("revoked", "this token was revoked")
        expires = _utc(row.expires_at)
        _check_expiry(self.clock(), expires)
        who = Principal(
            token_id=row.id, principal=row.principal, role=Role(row.role), expires_at=expires
        )
        if self.cache_s > 0:
            self._cache.put(key, who, generation, self.cache_s)
        return who

    def cached(self, token: str | None) -> Principal | None:
        """What :meth:`authenticate` answers without asking the store: the principal of a
        token verified within the last ``cache_s`` seconds, or None (ask the store).

        Raises:
            AuthError: no token, a malformed one, or a cached one that has since expired.
        """
        if not token:
            raise AuthError("missing", "this call needs a bearer token (Authorization: Bearer …)")
        if not token.startswith("sw_") or "." not in token or len(token) > 200:
            raise AuthError("malformed", "that is not a Suanwang token")
        if self.cache_s <= 0:
            return None
        who = self._cache.get(digest(token))
        if who is not None:
            _check_expiry(self.clock(), who.expires_at)
        return who

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by id; False if there is no such live token."""
        with self.store.transaction() as s:
            done = s.execute(
                update(TokenRow)
                .where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        self._cache.invalidate()  # committed: no cached lookup outlives it in this process
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


def _check_expiry(now: datetime, expires: datetime) -> None:
    if now >= expires:
        raise AuthError("expired", f"this token expired at {expires.isoformat()}")


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
