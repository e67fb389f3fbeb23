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
    """Return up to ``limit`` known ids closest to ``ident`` (substring hits first).

    Matching ignores case; the suggestions keep the known ids' own spelling.
    """
    by_lower: dict[str, str] = {}
    for k in sorted(set(known)):
        by_lower.setdefault(k.lower(), k)
    needle = ident.lower()
    contains = [k for low, k in by_lower.items() if needle and needle in low]
    fuzzy = [by_lower[m] for m in difflib.get_close_matches(needle, by_lower, n=limit, cutoff=0.5)]
    ordered: list[str] = []
    for candidate in [*fuzzy, *contains]:
        if candidate not in ordered:
            ordered.append(candidate)
    return ordered[:limit]
