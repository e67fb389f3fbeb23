"""The network as a first-class resource: topology model (links, cables, landing points)."""

from suanwang.core.network.model import (
    CableStatus,
    CableSystem,
    LandingPoint,
    LengthBasis,
    Link,
    LinkKind,
)

__all__ = ["CableStatus", "CableSystem", "LandingPoint", "LengthBasis", "Link", "LinkKind"]
