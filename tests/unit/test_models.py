"""Domain values reject bad input with an error that names the offending field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from suanwang.core.errors import closest_matches
from suanwang.core.network.model import Link
from suanwang.core.sites import Site
from suanwang.core.tasks import Demand, TaskSpec

POOL = {
    "compute_class": "ai",
    "model": "nvidia-h100",
    "count": 8,
    "price_per_unit_hour_micros": 2500,
}
SITE: dict[str, Any] = {
    "id": "sg-singapore",
    "name": "Singapore",
    "city": "Singapore",
    "country": "SG",
    "lat": 1.29,
    "lon": 103.85,
    "kind": "region",
    "operator": "multiple operators",
    "pools": [POOL],
    "pue": 1.3,
    "grid_zone": "SG",
    "jurisdiction": ["SG", "ASEAN"],
}
LINK: dict[str, Any] = {
    "id": "l1",
    "a": "x",
    "b": "y",
    "kind": "terrestrial",
    "length_km": 10.0,
    "length_basis": "great_circle",
    "capacity_gbps": 100.0,
    "price_per_gb_micros": 0,
    "countries": ["SG"],
}
TASK: dict[str, Any] = {
    "name": "train",
    "tenant": "acme",
    "demand": {"compute_class": "ai", "model": "nvidia-h100", "count": 0.5, "memory_gb": 40},
    "duration_hours": 2.0,
    "origin": {"country": "KE", "lat": -1.29, "lon": 36.82},
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def error_locations(model: type[BaseModel], data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [".".join(str(p) for p in e["loc"]) for e in info.value.errors()]


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (Site, with_(SITE, country="sg"), "country"),
        (Site, with_(SITE, country="SGP"), "country"),
        (Site, with_(SITE, lat=91.0), "lat"),
        (Site, with_(SITE, lon=-181.0), "lon"),
        (Site, with_(SITE, kind="moon-base"), "kind"),
        (Site, with_(SITE, pue=0.9), "pue"),
        (Site, with_(SITE, id="Bad Id"), "id"),
        (Site, with_(SITE, pools=[]), "pools"),
        (Site, with_(SITE, pools=[with_(POOL, count=0)]), "pools.0.count"),
        (Site, with_(SITE, pools=[with_(POOL, compute_class="quantum")]), "pools.0.compute_class"),
        (
            Site,
            with_(SITE, pools=[with_(POOL, price_per_unit_hour_micros=-1)]),
            "pools.0.price_per_unit_hour_micros",
        ),
        (Site, with_(SITE, surprise=1), "surprise"),
        (Link, with_(LINK, kind="carrier-pigeon"), "kind"),
        (Link, with_(LINK, length_km=0), "length_km"),
        (Link, with_(LINK, capacity_gbps=-5), "capacity_gbps"),
        (Link, with_(LINK, countries=[]), "countries"),
        (TaskSpec, with_(TASK, duration_hours=0), "duration_hours"),
        (TaskSpec, with_(TASK, tenant="ACME Corp"), "tenant"),
        (TaskSpec, with_(TASK, origin={"country": "KE", "lat": -100, "lon": 0}), "origin.lat"),
        (TaskSpec, with_(TASK, latency_sla={"max_ms": 20, "mode": "sideways"}), "latency_sla.mode"),
        (TaskSpec, with_(TASK, budget_micros=-1), "budget_micros"),
        (TaskSpec, with_(TASK, data_class="secret-ish"), "data_class"),
        (TaskSpec, with_(TASK, forbidden_transit=["usa"]), "forbidden_transit.0"),
        (TaskSpec, with_(TASK, deadline="2026-12-01T00:00:00"), "deadline"),
        (TaskSpec, with_(TASK, input={"site": "sg-singapore", "size_gb": -1}), "input.size_gb"),
    ],
)
def test_bad_field_is_named_in_the_error(
    model: type[BaseModel], data: dict[str, Any], field: str
) -> None:
    assert field in error_locations(model, data)


def test_valid_values_round_trip_through_json() -> None:
    site = Site.model_validate(SITE)
    assert Site.model_validate_json(site.model_dump_json()) == site
    task = TaskSpec.model_validate(
        with_(
            TASK,
            deadline=datetime(2026, 12, 1, tzinfo=UTC),
            latency_sla={"max_ms": 20, "mode": "round-trip"},
        )
    )
    assert TaskSpec.model_validate_json(task.model_dump_json()) == task


def test_values_are_frozen() -> None:
    site = Site.model_validate(SITE)
    with pytest.raises(ValidationError, match="frozen"):
        site.pue = 1.1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("demand", "message"),
    [
        ({"compute_class": "ai"}, "either as `units` or as `model`"),
        ({"compute_class": "ai", "units": 10, "model": "nvidia-t4", "count": 1}, "either"),
        ({"compute_class": "ai", "model": "nvidia-t4"}, "needs both"),
        ({"compute_class": "ai", "count": 2}, "needs both"),
    ],
)
def test_demand_is_stated_one_way(demand: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Demand.model_validate(demand)


def test_link_rules() -> None:
    with pytest.raises(ValidationError, match="to itself"):
        Link.model_validate(with_(LINK, b="x"))
    with pytest.raises(ValidationError, match="if and only if"):
        Link.model_validate(with_(LINK, kind="submarine"))
    with pytest.raises(ValidationError, match="if and only if"):
        Link.model_validate(with_(LINK, cable="peace"))


@pytest.mark.parametrize(
    ("ident", "known", "expected"),
    [
        ("cn-nq", ["CN-NX", "CN-GZ", "DE"], "CN-NX"),  # case is ignored, spelling kept
        ("cn-zhangjiako", ["cn-zhangjiakou", "cn-guian"], "cn-zhangjiakou"),
        ("frank", ["de-frankfurt", "fr-paris"], "de-frankfurt"),  # substring hit
    ],
)
def test_unknown_ids_suggest_the_closest_known_ones(
    ident: str, known: list[str], expected: str
) -> None:
    assert closest_matches(ident, known)[0] == expected
