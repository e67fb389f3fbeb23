"""Internet Topology Zoo (GraphML) -> networks of PoPs, and core terrestrial links.

Data: the Internet Topology Zoo, https://topology-zoo.org, licensed **CC BY 4.0**. Cite
S. Knight, H. X. Nguyen, N. Falkner, R. Bowden and M. Roughan, "The Internet Topology Zoo",
IEEE JSAC 29(9):1765-1775, 2011, doi:10.1109/JSAC.2011.111002 (see :data:`ZOO_ATTRIBUTION`).
The networks are historical (transcribed around 2010-2011) PoP-level maps.

Sources: one ``<Name>.graphml`` file (:func:`load_graphml`) or the Zoo's ``graphml.tar.gz``
archive (:func:`list_networks`, :func:`load_network`). Parsing uses the stdlib
``xml.etree.ElementTree``; ``<key>`` elements map data ids to attribute names (``Latitude``,
``Longitude``, ``label``, ``Country``, ``LinkLabel``, ``LinkSpeed``, ``LinkSpeedUnits``,
``LinkSpeedRaw``). Only the first ``<graph>`` of a file is read.

Edges: self-loops and repeats of an already-seen node pair (either direction) are dropped and
counted in ``ZooNetwork.self_loops`` / ``ZooNetwork.duplicates``; the first edge of a pair wins.
Speed: ``LinkSpeedRaw`` (bit/s) when present, else ``LinkSpeed`` x ``LinkSpeedUnits`` (K, M, G,
T); anything else is ``None``.
"""

from __future__ import annotations

import math
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from suanwang.core.errors import UnknownIdError, closest_matches
from suanwang.core.geo import great_circle_km
from suanwang.core.network.model import LengthBasis, Link, LinkKind
from suanwang.world.packs import _common as c
from suanwang.world.packs.errors import DataPackError

ZOO_ATTRIBUTION = (
    "Network topologies from the Internet Topology Zoo (https://topology-zoo.org), S. Knight, "
    'H. X. Nguyen, N. Falkner, R. Bowden and M. Roughan, "The Internet Topology Zoo", IEEE JSAC '
    "29(9):1765-1775, 2011, doi:10.1109/JSAC.2011.111002. Licensed CC BY 4.0."
)
DEFAULT_CAPACITY_GBPS = 10.0
"""Capacity given to a link whose edge has no parseable speed (a placeholder, not a fact)."""
MIN_LINK_KM = 1.0
"""Floor on link length: co-located PoPs would otherwise give a zero-length link."""

_CITE = "CC BY 4.0; Knight et al., IEEE JSAC 2011"
_NS = "{http://graphml.graphdrawing.org/xmlns}"
_UNIT_GBPS = {"K": 1e-6, "M": 1e-3, "G": 1.0, "T": 1e3}


@dataclass(frozen=True, slots=True)
class ZooNode:
    """A PoP. ``lat``/``lon`` are both set or both ``None``; ``country`` is the Zoo's name."""

    id: str
    label: str
    lat: float | None
    lon: float | None
    country: str | None

    @property
    def located(self) -> bool:
        """True when the node has coordinates."""
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True, slots=True)
class ZooEdge:
    """An undirected edge; ``speed_gbps`` is ``None`` when the source gives no usable speed."""

    source: str
    target: str
    label: str
    speed_gbps: float | None


@dataclass(frozen=True)
class ZooNetwork:
    """One Zoo network (nodes in file order; edges after dropping loops and duplicates)."""

    name: str
    nodes: tuple[ZooNode, ...]
    edges: tuple[ZooEdge, ...]
    self_loops: int = 0
    duplicates: int = 0
    source: str = ""

    def located_nodes(self) -> tuple[ZooNode, ...]:
        """The nodes that have coordinates, in file order."""
        return tuple(node for node in self.nodes if node.located)

    def node(self, node_id: str) -> ZooNode:
        """The node with this GraphML id (``UnknownIdError`` when absent)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise UnknownIdError("zoo node", node_id, (node.id for node in self.nodes))


CountryOfNode = Callable[[ZooNode], str | None]
"""Gives a node's ISO 3166-1 alpha-2 code, or ``None`` when unknown."""


def country_by_name(country_codes: Mapping[str, str] | None = None) -> CountryOfNode:
    """A :data:`CountryOfNode` reading ``node.country`` (a name such as "Netherlands").

    With ``country_codes`` (name -> ISO2, matched case-insensitively) only that table is used;
    without, a small alias table then ``pycountry`` when importable.
    """
    resolve = c.country_resolver(country_codes)
    return lambda node: resolve(node.country) if node.country else None


def _read_archive(path: Path, name: str | None) -> tuple[tuple[str, ...], bytes | None, str]:
    """Network names in the archive and, when ``name`` is one of them, its bytes and member."""
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {
                PurePosixPath(m.name).stem: m
                for m in tar.getmembers()
                if m.isfile() and m.name.endswith(".graphml")
            }
            member = members.get(name) if name is not None else None
            handle = tar.extractfile(member) if member is not None else None
            data = handle.read() if handle is not None else None
    except FileNotFoundError as exc:
        raise DataPackError(f"{path}: file not found") from exc
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise DataPackError(f"{path}: not a readable tar archive ({exc})") from exc
    return tuple(sorted(members)), data, member.name if member is not None else ""


def list_networks(archive: str | Path) -> tuple[str, ...]:
    """Sorted network names (file stems, e.g. ``"Geant2012"``) in a ``graphml.tar.gz``."""
    return _read_archive(Path(archive), None)[0]


def load_network(archive: str | Path, name: str) -> ZooNetwork:
    """Parse the network ``name`` (file stem, case-sensitive) from a ``graphml.tar.gz``.

    :class:`DataPackError` when the archive is unreadable, the member is absent (the message
    lists the closest names) or the GraphML is malformed.
    """
    path = Path(archive)
    known, data, member = _read_archive(path, name)
    if data is None:
        hint = ", ".join(closest_matches(name, known)) or "none close"
        raise DataPackError(f"{path}: no network {name!r} in the archive (closest: {hint})")
    return parse_graphml(data, name=name, source=f"{path}: {member}")


def load_graphml(path: str | Path) -> ZooNetwork:
    """Parse one ``.graphml`` file; the network is named after the file stem."""
    file = Path(path)
    return parse_graphml(c.read_bytes(file), name=file.stem, source=str(file))


def parse_graphml(data: bytes, *, name: str, source: str) -> ZooNetwork:
    """Parse GraphML bytes; ``source`` names the origin in error messages."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        raise DataPackError(f"{source}: line {line} column {column}: malformed XML") from exc
    keys = {k.get("id", ""): k.get("attr.name", "") for k in root.iter(f"{_NS}key")}
    graph = root.find(f"{_NS}graph")
    if graph is None:
        raise DataPackError(f"{source}: no <graph> element (is this GraphML?)")
    nodes = tuple(_node(element, keys, source) for element in graph.iter(f"{_NS}node"))
    ids = {node.id for node in nodes}
    if len(ids) != len(nodes):
        raise DataPackError(f"{source}: duplicate node ids")
    edges: list[ZooEdge] = []
    seen: set[frozenset[str]] = set()
    loops = duplicates = 0
    for element in graph.iter(f"{_NS}edge"):
        edge = _edge(element, keys, ids, source)
        pair = frozenset((edge.source, edge.target))
        if len(pair) == 1:
            loops += 1
        elif pair in seen:
            duplicates += 1
        else:
            seen.add(pair)
            edges.append(edge)
    return ZooNetwork(name, nodes, tuple(edges), loops, duplicates, source)


def _data(element: ET.Element, keys: Mapping[str, str]) -> dict[str, str]:
    """``attr.name -> text`` for an element's ``<data>`` children (blank values dropped)."""
    values: dict[str, str] = {}
    for item in element.findall(f"{_NS}data"):
        text = (item.text or "").strip()
        if text:
            key = item.get("key", "")
            values[keys.get(key) or key] = text
    return values


def _float(value: str | None, where: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise DataPackError(f"{where}: {value!r} is not a number") from exc
    if not math.isfinite(number):
        raise DataPackError(f"{where}: {value!r} is not a finite number")
    return number


def _node(element: ET.Element, keys: Mapping[str, str], source: str) -> ZooNode:
    node_id = element.get("id")
    if not node_id:
        raise DataPackError(f"{source}: a <node> has no id")
    where = f"{source}: node {node_id!r}"
    data = _data(element, keys)
    lat = _float(data.get("Latitude"), f"{where}: Latitude")
    lon = _float(data.get("Longitude"), f"{where}: Longitude")
    if lat is None or lon is None:
        lat = lon = None
    else:
        c.check_lat_lon(lat, lon, where)
    return ZooNode(node_id, data.get("label", node_id), lat, lon, data.get("Country"))


def _speed_gbps(data: Mapping[str, str], where: str) -> float | None:
    raw = _float(data.get("LinkSpeedRaw"), f"{where}: LinkSpeedRaw")
    if raw is not None:
        return raw / 1e9 if raw > 0 else None
    unit = _UNIT_GBPS.get(data.get("LinkSpeedUnits", "").upper())
    try:
        speed = float(data["LinkSpeed"]) if unit is not None and "LinkSpeed" in data else None
    except ValueError:
        return None  # free text, e.g. "OC-3": not a speed we can read
    return speed * unit if speed is not None and unit is not None and speed > 0 else None


def _edge(element: ET.Element, keys: Mapping[str, str], ids: set[str], source: str) -> ZooEdge:
    a, b = element.get("source"), element.get("target")
    where = f"{source}: edge {a!r}-{b!r}"
    if a is None or b is None:
        raise DataPackError(f"{where}: an <edge> needs source and target")
    if a not in ids or b not in ids:
        raise DataPackError(f"{where}: names a node that does not exist")
    data = _data(element, keys)
    return ZooEdge(a, b, data.get("LinkLabel", ""), _speed_gbps(data, where))


def node_identifier(prefix: str, node: ZooNode) -> str:
    """The core identifier :func:`to_links` gives a node: ``<prefix>-<slug of node id>``."""
    return c.make_identifier(f"{prefix}-", node.id)


def to_links(
    network: ZooNetwork,
    *,
    link_id_prefix: str,
    node_id_prefix: str | None = None,
    country_of_node: CountryOfNode | None = None,
    default_capacity_gbps: float = DEFAULT_CAPACITY_GBPS,
) -> tuple[Link, ...]:
    """Core terrestrial links for the edges whose two ends both have coordinates.

    Each link: id ``<link_id_prefix>-<a>-<b>``; ends :func:`node_identifier` with
    ``node_id_prefix`` (default: ``link_id_prefix``); ``length_km`` the great-circle distance
    (``length_basis`` great_circle, at least :data:`MIN_LINK_KM`); capacity the edge speed or
    ``default_capacity_gbps``; price 0; ``countries`` the ends' ISO2 codes (one if equal).
    ``country_of_node`` gives ISO2 per node; by default :func:`country_by_name` ``()``. An end
    whose country it cannot give raises :class:`DataPackError` asking for ``country_of_node``.
    Edges with an unlocated end are left out. ``ValueError`` for bad prefixes or capacity.
    """
    c.check_prefix(link_id_prefix, "link_id_prefix")
    node_prefix = node_id_prefix or link_id_prefix
    c.check_prefix(node_prefix, "node_id_prefix")
    if not default_capacity_gbps > 0:
        raise ValueError(f"default_capacity_gbps must be > 0, got {default_capacity_gbps}")
    maker = _LinkMaker(
        network,
        {node.id: node for node in network.nodes},
        link_id_prefix,
        node_prefix,
        country_of_node or country_by_name(),
        default_capacity_gbps,
    )
    links: dict[str, Link] = {}
    for edge in network.edges:
        link = maker.make(edge)
        if link is not None and links.setdefault(link.id, link) is not link:
            raise DataPackError(f"{network.source}: two edges map to link id {link.id!r}")
    return tuple(links.values())


@dataclass(frozen=True)
class _LinkMaker:
    """Builds one core :class:`Link` per located edge (the settings of one :func:`to_links`)."""

    network: ZooNetwork
    by_id: Mapping[str, ZooNode]
    link_prefix: str
    node_prefix: str
    country: CountryOfNode
    default_capacity_gbps: float

    def make(self, edge: ZooEdge) -> Link | None:
        """The link for ``edge``, or ``None`` when an end has no coordinates."""
        where = f"{self.network.source}: edge {edge.source!r}-{edge.target!r}"
        a, b = self.by_id.get(edge.source), self.by_id.get(edge.target)
        if a is None or b is None:
            raise DataPackError(f"{where}: names a node that does not exist")
        if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
            return None
        ends = (_iso2(self.network, a, self.country), _iso2(self.network, b, self.country))
        fields = {
            "id": c.make_identifier(f"{self.link_prefix}-", f"{a.id}-{b.id}"),
            "a": node_identifier(self.node_prefix, a),
            "b": node_identifier(self.node_prefix, b),
            "kind": LinkKind.TERRESTRIAL,
            "length_km": max(MIN_LINK_KM, great_circle_km(a.lat, a.lon, b.lat, b.lon)),
            "length_basis": LengthBasis.GREAT_CIRCLE,
            "capacity_gbps": edge.speed_gbps or self.default_capacity_gbps,
            "price_per_gb_micros": 0,
            "countries": tuple(dict.fromkeys(ends)),
            "name": edge.label or f"{a.label} - {b.label}",
            "source": f"Internet Topology Zoo: {self.network.name} ({_CITE})",
        }
        return c.build(Link, where, fields)


def _iso2(network: ZooNetwork, node: ZooNode, country: CountryOfNode) -> str:
    code = country(node)
    if code is None or not c.is_iso2(code):
        raise DataPackError(
            f"{network.source}: node {node.id!r} ({node.label}, Country={node.country!r}): no "
            f"ISO 3166-1 alpha-2 code (got {code!r}); pass country_of_node= to to_links"
        )
    return code
