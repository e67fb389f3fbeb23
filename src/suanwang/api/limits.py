"""Limits that keep one caller from exhausting the service: request rates and body sizes.

- :class:`TokenBucket` and :class:`RateLimiter`: per-token rate limits, pure logic with an
  injected clock (``Callable[[], float]``, seconds; pass ``time.monotonic`` in the app and a
  fake in tests). :func:`rate_limited` turns a wait into the 429 :class:`ApiError`.
- :class:`BodySizeLimitMiddleware`: a pure ASGI middleware answering 413 (``too_large``) to a
  request whose body is larger than allowed, whether it announces its size with
  ``Content-Length`` or streams it in chunks.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from suanwang.api.errors import ApiError, error_response, retry_after_header

__all__ = [
    "BodySizeLimitMiddleware",
    "RateLimiter",
    "RequestTooLargeError",
    "TokenBucket",
    "rate_limited",
    "retry_after_header",
]

Clock = Callable[[], float]


def _check_rate(rate: float, burst: float) -> None:
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a positive number of tokens per second, not {rate}")
    if not (burst >= 1 and math.isfinite(burst)):
        raise ValueError(f"burst must be at least 1 token, not {burst}")


class TokenBucket:
    """A bucket of ``burst`` tokens refilled at ``rate`` tokens per second.

    Each request takes ``cost`` tokens (1 by default); a full bucket lets ``burst`` requests
    through at once, after which they pass at ``rate`` per second. Time comes only from
    ``clock``; a clock that steps backwards adds nothing.
    """

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        _check_rate(rate, burst)
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()

    def _refill(self) -> float:
        now = self._clock()
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
        return now

    @property
    def tokens(self) -> float:
        """The tokens available now."""
        self._refill()
        return self._tokens

    def take(self, cost: float = 1.0) -> float:
        """Take ``cost`` tokens: 0.0 when they were there, else the seconds until they will be.

        A refused request takes nothing.
        """
        if not 0 < cost <= self.burst:
            raise ValueError(f"cost must be in (0, burst={self.burst}], not {cost}")
        self._refill()
        if self._tokens >= cost:
            self._tokens -= cost
            return 0.0
        return (cost - self._tokens) / self.rate

    def idle_full(self) -> bool:
        """Whether the bucket is full again, so forgetting it loses nothing."""
        return self.tokens >= self.burst


class RateLimiter:
    """Token buckets keyed by a string (the API token's id), all with one rate and burst.

    Memory is bounded: a bucket that has refilled completely is the same as a new one and is
    forgotten, and past ``max_keys`` the least recently used bucket is forgotten too.
    Thread-safe (sync endpoints run in a thread pool).
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Clock,
        *,
        max_keys: int = 100_000,
    ) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, not {max_keys}")
        _check_rate(rate, burst)
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets

    def check(self, key: str, cost: float = 1.0) -> float | None:
        """None when ``key`` may go ahead now (its tokens are taken), else the seconds to wait."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(self.rate, self.burst, self._clock)
                self._buckets[key] = bucket
            else:
                self._buckets.move_to_end(key)
            wait = bucket.take(cost)
            self._evict(keep=key)
        return None if wait == 0.0 else wait

    def _evict(self, keep: str) -> None:
        # Least recently used first: drop those that have refilled, then any past the cap.
        while len(self._buckets) > 1:
            oldest_key, oldest = next(iter(self._buckets.items()))
            if oldest_key == keep:
                break
            if len(self._buckets) > self.max_keys or oldest.idle_full():
                del self._buckets[oldest_key]
            else:
                break


def rate_limited(seconds: float) -> ApiError:
    """The 429 answered when a token's rate limit is exhausted."""
    return ApiError(
        429,
        "rate_limited",
        f"too many requests for this token; retry after {retry_after_header(seconds)} s",
        retry_after=seconds,
    )


# --- request body size ---------------------------------------------------------------------


def _human(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


class RequestTooLargeError(HTTPException):
    """Raised from ``receive`` when a streamed body crosses the limit.

    It is an HTTP exception so that FastAPI's body parsing lets it through and the app's
    error handlers answer it (413 ``too_large``) like any other error.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_message(max_bytes))


def too_large_message(max_bytes: int) -> str:
    return f"the request body is larger than the limit of {_human(max_bytes)}"


class BodySizeLimitMiddleware:
    """Answer 413 ``too_large`` to a request whose body exceeds ``max_bytes``.

    A ``Content-Length`` above the limit is refused before the app runs. A body without one
    (chunked) is counted as the app reads it; crossing the limit raises
    :class:`RequestTooLargeError` inside the app, which its error handlers answer, or this
    middleware does if nothing else has started a response.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, not {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise RequestTooLargeError(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except RequestTooLargeError:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "too_large",
            too_large_message(self.max_bytes),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
