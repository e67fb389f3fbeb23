"""Loaders for optional data packs: public data sets a user downloads and loads from a path.

None of these data sets ships with Suanwang, and nothing in the package needs them. Each loader
reads files from a path the caller gives and returns typed values (core domain models where
they fit); missing files and malformed content raise :class:`DataPackError`, naming the file.

* :mod:`~suanwang.world.packs.telegeography`: TeleGeography Submarine Cable Map v2, licensed
  **CC BY-NC-SA 3.0** (NonCommercial, ShareAlike): landing points, cable systems, drawn routes.
* :mod:`~suanwang.world.packs.topology_zoo`: Internet Topology Zoo GraphML, CC BY 4.0 (Knight
  et al., IEEE JSAC 2011): PoP networks and terrestrial links.
* :mod:`~suanwang.world.packs.natural_earth`: Natural Earth, public domain: country label
  points, outlines, code tables and populated places.
* :mod:`~suanwang.world.packs.world_bank`: World Bank WDI, CC BY 4.0: the country table
  (import it from its module).

Show users the attribution string of each pack they load.
"""

from suanwang.world.packs.errors import DataPackError
from suanwang.world.packs.natural_earth import (
    NATURAL_EARTH_ATTRIBUTION,
    Place,
    country_name_codes,
    country_polygons,
    iso3_to_iso2,
    label_points,
    populated_places,
)
from suanwang.world.packs.telegeography import (
    TELEGEOGRAPHY_ATTRIBUTION,
    UNKNOWN_CAPACITY_TBPS,
    Skipped,
    TeleGeographyPack,
    load_telegeography,
    route_length_km,
)
from suanwang.world.packs.topology_zoo import (
    DEFAULT_CAPACITY_GBPS,
    ZOO_ATTRIBUTION,
    ZooEdge,
    ZooNetwork,
    ZooNode,
    country_by_name,
    list_networks,
    load_graphml,
    load_network,
    to_links,
)

__all__ = [
    "DEFAULT_CAPACITY_GBPS",
    "NATURAL_EARTH_ATTRIBUTION",
    "TELEGEOGRAPHY_ATTRIBUTION",
    "UNKNOWN_CAPACITY_TBPS",
    "ZOO_ATTRIBUTION",
    "DataPackError",
    "Place",
    "Skipped",
    "TeleGeographyPack",
    "ZooEdge",
    "ZooNetwork",
    "ZooNode",
    "country_by_name",
    "country_name_codes",
    "country_polygons",
    "iso3_to_iso2",
    "label_points",
    "list_networks",
    "load_graphml",
    "load_network",
    "load_telegeography",
    "populated_places",
    "route_length_km",
    "to_links",
]
