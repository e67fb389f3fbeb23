"""The network as a first-class resource.

* :mod:`.model`: topology values (links, cables, landing points);
* :mod:`.latency`: the latency model and the physics floor;
* :mod:`.graph`: the topology compiled into CSR arrays;
* :mod:`.routing`: Dijkstra on masked arcs and LARAC;
* :mod:`.engine`: :class:`Network`, queries, reservations and failures;
* :mod:`.circles`: latency circles and the national hub target;
* :mod:`.costmap`: the versioned site-by-site cost map;
* :mod:`.jurisdictions`: named country groups (EU, EEA, ...).
"""

from suanwang.core.network.model import (
    CableStatus,
    CableSystem,
    LandingPoint,
    LengthBasis,
    Link,
    LinkKind,
)

__all__ = ["CableStatus", "CableSystem", "LandingPoint", "LengthBasis", "Link", "LinkKind"]
