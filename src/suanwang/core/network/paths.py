"""Path rules and path results: what a caller asks of a path and what comes back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import Field, model_validator

from suanwang.core.base import ISO2, Frozen
from suanwang.core.errors import SuanwangError
from suanwang.core.network.model import LinkKind


class PathRules(Frozen):
    """Constraints every returned path obeys.

    ``max_one_way_ms``: latency bound (one-way; use :meth:`with_rtt_bound` for a round trip).
    ``min_gbps``: free capacity needed on every link, in the direction of travel.
    ``avoid``: countries the path may not touch (source and target included).
    ``within``: if set, the only countries the path may touch.
    ``exclude_srlgs``: shared-risk groups the path may not use (e.g. ``cable:peace``).
    ``fibre_only``: ignore satellite links.
    """

    max_one_way_ms: float | None = Field(default=None, gt=0.0)
    min_gbps: float = Field(default=0.0, ge=0.0)
    avoid: frozenset[ISO2] = frozenset()
    within: frozenset[ISO2] | None = None
    exclude_srlgs: frozenset[str] = frozenset()
    fibre_only: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> PathRules:
        if self.within is not None and not self.within:
            raise ValueError("'within' names no country")
        if self.within is not None and self.within <= self.avoid:
            raise ValueError("every country in 'within' is also avoided")
        return self

    def with_rtt_bound(self, rtt_ms: float) -> PathRules:
        """A copy whose latency bound is a round trip of ``rtt_ms`` (half of it one way)."""
        return self.model_copy(update={"max_one_way_ms": rtt_ms / 2.0})

    def allows_country(self, code: str) -> bool:
        if code in self.avoid:
            return False
        return self.within is None or code in self.within


@dataclass(frozen=True, slots=True)
class Hop:
    """One link of a path, in the direction travelled (a plain dataclass: paths are hot).

    ``km`` is the length the latency model uses (route km); ``free_gbps`` the capacity left
    in this direction when the path was computed.
    """

    link: str
    src: str
    dst: str
    kind: LinkKind
    cable: str | None
    km: float
    one_way_ms: float
    price_per_gb_micros: float
    free_gbps: float
    countries: tuple[str, ...]


class Path(Frozen):
    """A path between two nodes. Latency is stated one-way and round trip.

    ``one_way_ms`` = ``endpoint_ms`` + the sum of ``hops[i].one_way_ms``.
    ``bottleneck_gbps`` is the least free capacity on the path (None for an empty path).
    """

    src: str
    dst: str
    nodes: tuple[str, ...]
    hops: tuple[Hop, ...]
    one_way_ms: float
    rtt_ms: float
    endpoint_ms: float
    price_per_gb_micros: float
    bottleneck_gbps: float | None
    bottleneck_link: str | None
    countries: tuple[str, ...] = Field(description="countries touched, in travel order")
    srlgs: tuple[str, ...] = Field(description="shared-risk groups used (sorted)")
    great_circle_km: float
    floor_one_way_ms: float = Field(description="physics floor: great circle / light in fibre")

    @property
    def links(self) -> tuple[str, ...]:
        return tuple(h.link for h in self.hops)

    def risk_groups(self) -> frozenset[str]:
        """Every risk this path runs: its shared-risk groups plus each link itself."""
        return frozenset(self.srlgs) | {f"link:{h.link}" for h in self.hops}


class CheapestPath(Frozen):
    """The cheapest path within a latency bound, with LARAC's proof of quality.

    ``lower_bound_micros`` is a Lagrangian lower bound on the optimal price per GB, so the
    true optimum lies in ``[lower_bound_micros, path.price_per_gb_micros]``.
    """

    path: Path
    max_one_way_ms: float
    lower_bound_micros: float
    gap_micros: float
    gap_ratio: float = Field(description="gap / path price (0 means proven optimal)")
    iterations: int
    fastest_one_way_ms: float


class NoPathError(SuanwangError, LookupError):
    """No path meets the request; the message says which rule stood in the way."""

    def __init__(self, message: str, *, best_one_way_ms: float | None = None) -> None:
        self.best_one_way_ms = best_one_way_ms
        super().__init__(message)


def ordered_unique(items: Iterable[str]) -> tuple[str, ...]:
    """``items`` without repeats, first occurrence order kept."""
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return tuple(seen)
