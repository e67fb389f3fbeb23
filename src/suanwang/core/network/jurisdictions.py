"""Named groups of countries that path rules can refer to ("stay inside the EU").

A path rule names countries by ISO alpha-2 code or by one of these group names
(case-insensitive). Membership is as of 2026.
"""

from __future__ import annotations

from collections.abc import Iterable

from suanwang.core.errors import SuanwangError

EU = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()  # noqa: SIM905
)
"""The 27 member states of the European Union."""

EEA = EU | frozenset({"IS", "LI", "NO"})
"""The European Economic Area: the EU plus Iceland, Liechtenstein and Norway."""

ASEAN = frozenset(["BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN"])
"""The ten member states of ASEAN."""

GCC = frozenset(["AE", "BH", "KW", "OM", "QA", "SA"])
"""The Gulf Cooperation Council."""

GROUPS: dict[str, frozenset[str]] = {"EU": EU, "EEA": EEA, "ASEAN": ASEAN, "GCC": GCC}
"""Every named group by its upper-case name."""


class UnknownJurisdictionError(SuanwangError, ValueError):
    """A name that is neither a two-letter country code nor a known group."""


def expand(names: Iterable[str], known_countries: Iterable[str] | None = None) -> frozenset[str]:
    """Country codes named by ``names`` (codes or group names, case-insensitive).

    With ``known_countries``, a two-letter code outside it is an error, so a typo such as
    ``"UK"`` for ``"GB"`` is caught instead of silently matching nothing.
    """
    known = None if known_countries is None else frozenset(known_countries)
    out: set[str] = set()
    for raw in names:
        name = raw.strip().upper()
        if not name:
            continue
        if name in GROUPS:
            out |= GROUPS[name]
        elif len(name) == 2 and name.isalpha():
            if known is not None and name not in known:
                hint = " (the UK is GB)" if name == "UK" else ""
                raise UnknownJurisdictionError(f"unknown country code {raw.strip()!r}{hint}")
            out.add(name)
        else:
            groups = ", ".join(sorted(GROUPS))
            raise UnknownJurisdictionError(
                f"{raw.strip()!r} is neither an ISO alpha-2 country code nor a group ({groups})"
            )
    return frozenset(out)
