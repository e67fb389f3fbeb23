"""Domain errors raised by the core. Each carries enough context for a clear user message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SuanwangError(Exception):
    """Base class of every error the core raises on purpose."""


class UnknownIdError(SuanwangError, LookupError):
    """An identifier that names nothing; ``suggestions`` holds the closest known ids."""

    def __init__(self, kind: str, ident: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.ident = ident
        self.suggestions = closest_matches(ident, known)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown {kind} {ident!r}{hint}")


class ClassMismatchError(SuanwangError, ValueError):
    """Normalized units of two different compute classes were combined."""


def closest_matches(ident: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """Return up to ``limit`` known ids closest to ``ident`` (substring hits first)."""
    pool = sorted(set(known))
    needle = ident.lower()
    contains = [k for k in pool if needle and needle in k.lower()]
    fuzzy = difflib.get_close_matches(needle, pool, n=limit, cutoff=0.5)
    ordered: list[str] = []
    for candidate in [*fuzzy, *contains]:
        if candidate not in ordered:
            ordered.append(candidate)
    return ordered[:limit]
