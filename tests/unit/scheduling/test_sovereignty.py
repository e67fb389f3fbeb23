"""Sovereignty rules decide where a task's data may be processed and which countries it crosses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pycountry
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanwang.core.network.engine import Network
from suanwang.core.network.jurisdictions import EEA, expand
from suanwang.core.network.paths import NoPathError
from suanwang.core.scheduling.sovereignty import (
    ORIGIN,
    RULES,
    NoJurisdictionError,
    Sovereignty,
    SovereigntyRule,
    allowed_site_mask,
    key,
    path_rules,
    site_allowed,
    sovereignty_of,
)
from suanwang.core.sites import Site
from suanwang.core.tasks import DataClass, DataSector, TaskSpec
from suanwang.world.builtin import load_builtin_world

PUB, INT, PER, IMP, COR = DataClass
GEN, FIN, HEA, GOV = (
    DataSector.GENERAL,
    DataSector.FINANCIAL,
    DataSector.HEALTH,
    DataSector.GOVERNMENT,
)
EU_TAGS = ("EU", "EEA", "GDPR")
ADEQUATE = {
    "AD",
    "AR",
    "CA",
    "FO",
    "GG",
    "IL",
    "IM",
    "JP",
    "JE",
    "NZ",
    "KR",
    "CH",
    "GB",
    "UY",
    "US",
}


def task(
    origin: str,
    data_class: DataClass = INT,
    sector: DataSector = GEN,
    residency: tuple[str, ...] = (),
    avoid: tuple[str, ...] = (),
) -> TaskSpec:
    return TaskSpec.model_validate(
        {
            "name": "job",
            "tenant": "acme",
            "demand": {"compute_class": "ai", "units": 1.0},
            "duration_hours": 1.0,
            "origin": {"country": origin, "lat": 0.0, "lon": 0.0},
            "data_class": data_class,
            "sector": sector,
            "residency": residency,
            "forbidden_transit": avoid,
        }
    )


def site(country: str, *tags: str) -> Site:
    return Site.model_validate(
        {
            "id": f"s-{country.lower()}",
            "name": "s",
            "city": "c",
            "country": country,
            "lat": 0.0,
            "lon": 0.0,
            "kind": "region",
            "operator": "op",
            "pools": [
                {"compute_class": "ai", "model": "m", "count": 1, "price_per_unit_hour_micros": 1}
            ],
            "pue": 1.2,
            "grid_zone": country,
            "jurisdiction": [country, *tags],
        }
    )


ALLOWED = None
CASES: list[tuple[Any, ...]] = [
    # origin, class, sector, residency, avoid, site, allowed or a substring of the reason
    ("CN", COR, GEN, (), (), site("CN", "CN-MAINLAND"), ALLOWED),
    ("CN", COR, GEN, (), (), site("SG", "ASEAN"),
     "rule cn-core-data (PRC Data Security Law 2021 art. 21/31; PIPL 2021 art. 38-40): "
     "core data from CN must stay in CN; site is in SG"),
    ("CN", IMP, GOV, (), (), site("HK"), "important data from CN must stay in CN; site is in HK"),
    ("CN", PER, GEN, (), (), site("SG"), ALLOWED),  # PIPL export is possible: no rule
    ("CN", INT, GEN, (), (), site("US"), ALLOWED),
    ("DE", PER, HEA, (), (), site("FR", *EU_TAGS), ALLOWED),
    ("DE", PER, GEN, (), (), site("JP"), ALLOWED),
    ("DE", PER, GEN, (), (), site("US"), ALLOWED),  # DPF-certified recipients only (note)
    ("DE", PER, GEN, (), (), site("GB", "GDPR"), ALLOWED),
    ("DE", PER, GEN, (), (), site("SG"), "rule eu-personal-data (GDPR Chapter V art. 45 adequacy"),
    ("DE", PER, GEN, (), (), site("SG"), "personal data from DE may only go to EEA, AD, AR"),
    ("NO", PER, GEN, (), (), site("CN"), "rule eu-personal-data"),
    ("DE", COR, GEN, (), (), site("IN"), "core data from DE may only go to EEA"),
    ("DE", PUB, GEN, (), (), site("CN"), ALLOWED),
    ("CH", PER, GEN, (), (), site("CN"), ALLOWED),  # Swiss law is not in the table
    ("ID", INT, FIN, (), (), site("ID", "ASEAN"), ALLOWED),
    ("ID", INT, FIN, (), (), site("SG"), "financial internal data from ID must stay in ID"),
    ("ID", PUB, FIN, (), (), site("SG", "ASEAN"), ALLOWED),
    ("ID", PER, GEN, (), (), site("SG", "ASEAN"), ALLOWED),
    ("RU", PER, GEN, (), (), site("DE", *EU_TAGS), "rule ru-personal-data (Federal Law 152-FZ"),
    ("RU", INT, GEN, (), (), site("DE", *EU_TAGS), ALLOWED),
    ("IN", PER, FIN, (), (), site("SG"), "rule in-payment-data (RBI directive"),
    ("IN", PER, FIN, (), (), site("IN"), ALLOWED),
    ("IN", PER, HEA, (), (), site("SG"), ALLOWED),
    ("VN", IMP, GEN, (), (), site("SG"), "rule vn-core-data"),
    ("VN", PER, GEN, (), (), site("SG"), ALLOWED),
    ("SA", INT, GOV, (), (), site("AE", "GCC"), "government internal data from SA must stay in SA"),
    ("SA", INT, GOV, (), (), site("SA", "GCC"), ALLOWED),
    ("SA", INT, GEN, (), (), site("AE", "GCC"), ALLOWED),
    # residency: any jurisdiction tag, case-insensitive
    ("US", INT, GEN, ("EU", "EEA"), (), site("US"),
     "residency allows EEA, EU; site's jurisdiction is US"),
    ("US", INT, GEN, ("eu",), (), site("DE", *EU_TAGS), ALLOWED),
    ("CN", COR, GEN, ("cn-mainland",), (), site("CN", "CN-MAINLAND"), ALLOWED),
    ("DE", PER, GEN, ("EU",), (), site("GB", "GDPR"),
     "residency allows EU; site's jurisdiction is GB, GDPR"),
    # forbidden transit: the site's country itself
    ("JP", INT, GEN, (), ("US",), site("US"), "forbids data in US"),
    ("JP", INT, GEN, (), ("US",), site("SG"), ALLOWED),
    # the law is checked before the task's own wishes
    ("CN", COR, GEN, ("SG",), ("SG",), site("SG"), "rule cn-core-data"),
]  # fmt: skip


@pytest.mark.parametrize(("origin", "cls", "sector", "residency", "avoid", "where", "want"), CASES)
def test_site_decisions(
    origin: str,
    cls: DataClass,
    sector: DataSector,
    residency: tuple[str, ...],
    avoid: tuple[str, ...],
    where: Site,
    want: str | None,
) -> None:
    sov = sovereignty_of(task(origin, cls, sector, residency, avoid))
    reason = site_allowed(sov, where)
    if want is None:
        assert reason is None
    else:
        assert reason is not None
        assert want in reason
        assert "\n" not in reason
    tags = [frozenset(t.upper() for t in where.jurisdiction)]
    assert allowed_site_mask(sov, np.array([where.country]), tags).tolist() == [reason is None]


@pytest.mark.parametrize(
    ("origin", "cls", "sector", "rules", "allowed"),
    [
        ("US", PER, GEN, (), None),
        ("CN", COR, GEN, ("cn-core-data",), {"CN"}),
        ("DE", PER, GEN, ("eu-personal-data",), EEA | ADEQUATE),
        ("ID", PER, FIN, ("id-financial-data",), {"ID"}),
        ("IN", INT, FIN, ("in-payment-data",), {"IN"}),
        ("RU", COR, GEN, ("ru-personal-data",), {"RU"}),
        ("VN", COR, GOV, ("vn-core-data",), {"VN"}),
        ("SA", COR, GOV, ("sa-government-data",), {"SA"}),
    ],
)  # fmt: skip
def test_which_rules_apply(
    origin: str, cls: DataClass, sector: DataSector, rules: tuple[str, ...], allowed: Any
) -> None:
    sov = sovereignty_of(task(origin, cls, sector, residency=("eu", " Eea "), avoid=("KP",)))
    assert sov.rules == rules
    assert sov.allowed == (None if allowed is None else frozenset(allowed))
    assert sov.residency_tags == {"EU", "EEA"}
    assert sov.avoid == {"KP"}


GCC_GOV = SovereigntyRule(
    id="gcc-government", origins=("GCC",), sectors={GOV}, allowed=("GCC",), law="(test)"
)
EEA_ONLY = SovereigntyRule(id="eea-only", origins=("sa",), allowed=("eea",), law="(test)")


def test_stacked_rules_intersect() -> None:
    sov = sovereignty_of(task("SA", INT, GOV), (GCC_GOV, *RULES))
    assert sov.rules == ("gcc-government", "sa-government-data")
    assert sov.allowed == frozenset({"SA"})
    reason = site_allowed(sov, site("AE", "GCC"))
    assert reason is not None
    assert "rule sa-government-data" in reason  # the rule that actually excludes AE
    assert sovereignty_of(task("AE", INT, GOV), (GCC_GOV, *RULES)).allowed == expand(["GCC"])


def test_disjoint_rules_allow_nothing_and_say_so() -> None:
    sov = sovereignty_of(task("SA", INT, GOV), (*RULES, EEA_ONLY))
    assert sov.rules == ("sa-government-data", "eea-only")
    assert sov.allowed == frozenset()
    assert "allow no country" in sov.explain()
    for where in (site("SA", "GCC"), site("DE", *EU_TAGS), site("US")):
        reason = site_allowed(sov, where)
        assert reason is not None
        assert "together the rules allow no country" in reason
    tags = [frozenset({"SA"}), frozenset({"DE", "EU"})]
    assert not allowed_site_mask(sov, np.array(["SA", "DE"]), tags).any()
    with pytest.raises(NoJurisdictionError, match="allow no country"):
        path_rules(sov)


def test_forbidding_the_only_allowed_country_leaves_no_path() -> None:
    with pytest.raises(NoJurisdictionError, match="cn-core-data"):
        path_rules(sovereignty_of(task("CN", COR, avoid=("CN",))))


def test_path_rules_and_key() -> None:
    free = sovereignty_of(task("US", avoid=("RU",)))
    assert path_rules(free).within is None
    assert path_rules(free).avoid == {"RU"}
    cn = sovereignty_of(task("CN", COR, GOV, avoid=("US",)))
    assert path_rules(cn).within == frozenset({"CN"})
    assert path_rules(cn).avoid == {"US"}
    # the same decisions, whatever rule produced them, share a key
    assert key(cn) == key(sovereignty_of(task("CN", IMP, HEA, avoid=("US",))))
    assert key(cn) != key(sovereignty_of(task("CN", COR, GOV)))
    assert key(cn) != key(sovereignty_of(task("CN", COR, GOV, residency=("CN",), avoid=("US",))))
    assert len({key(cn), key(free), key(cn)}) == 2


def test_explanations() -> None:
    assert (
        sovereignty_of(task("US")).explain()
        == "no sovereignty rule applies to internal data from US"
    )
    text = sovereignty_of(task("CN", COR, residency=("cn",), avoid=("US",))).explain()
    assert text.startswith("rule cn-core-data (PRC Data Security Law")
    assert text.endswith("core data from CN must stay in CN; residency allows CN; never through US")


# --- the table itself ---------------------------------------------------------------------------


def test_every_code_in_the_table_is_an_iso_alpha2_code() -> None:
    for rule in RULES:
        names = [n for n in (*rule.origins, *rule.allowed) if n != ORIGIN]
        for code in expand(names):
            assert pycountry.countries.get(alpha_2=code) is not None, (rule.id, code)
        assert rule.law, rule.id
        assert rule.note, rule.id
    assert len({r.id for r in RULES}) == len(RULES)


EU_ADEQUACY_BY_NAME = {
    "Andorra": "AD", "Argentina": "AR", "Canada": "CA", "Faroe Islands": "FO", "Guernsey": "GG",
    "Israel": "IL", "Isle of Man": "IM", "Japan": "JP", "Jersey": "JE", "New Zealand": "NZ",
    "Korea, Republic of": "KR", "Switzerland": "CH", "United Kingdom": "GB", "Uruguay": "UY",
    "United States": "US",
}  # fmt: skip


def test_eu_adequacy_list_names_the_right_countries() -> None:
    for name, code in EU_ADEQUACY_BY_NAME.items():
        country = pycountry.countries.get(alpha_2=code)
        assert country is not None
        assert country.name == name
    (rule,) = (r for r in RULES if r.id == "eu-personal-data")
    assert rule.allowed_for("DE") == EEA | set(EU_ADEQUACY_BY_NAME.values())
    assert "Data Privacy Framework" in rule.note


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"origins": ("ORIGIN",)}, "origins"),
        ({"origins": ()}, "origins"),
        ({"allowed": ("Europe",)}, "allowed"),
        ({"allowed": ()}, "allowed"),
        ({"id": "CN Core"}, "id"),
    ],
)
def test_bad_rules_are_rejected(fields: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {"id": "r", "origins": ("CN",), "allowed": (ORIGIN,), "law": "x"}
    with pytest.raises(ValueError, match=field):
        SovereigntyRule.model_validate({**base, **fields})


# --- properties -----------------------------------------------------------------------------------

COUNTRIES = [
    "CN",
    "HK",
    "DE",
    "FR",
    "NO",
    "GB",
    "US",
    "JP",
    "ID",
    "SG",
    "IN",
    "RU",
    "VN",
    "SA",
    "AE",
]
TAGS = ["EU", "EEA", "GDPR", "ASEAN", "GCC", "CN-MAINLAND", "US-FEDRAMP", "AU"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

tasks = st.builds(
    task,
    origin=st.sampled_from(COUNTRIES),
    data_class=st.sampled_from(list(DataClass)),
    sector=st.sampled_from(list(DataSector)),
    residency=st.lists(
        st.sampled_from(COUNTRIES + TAGS).map(lambda t: t.lower() if len(t) % 2 else t), max_size=3
    ).map(tuple),
    avoid=st.lists(st.sampled_from(COUNTRIES), max_size=3).map(tuple),
)
rule_sets = st.sampled_from([RULES, (GCC_GOV, *RULES), (*RULES, EEA_ONLY), ()])
sites = st.lists(
    st.builds(
        lambda c, tags: site(c, *tags),
        st.sampled_from(COUNTRIES),
        st.lists(st.sampled_from(TAGS), max_size=3, unique=True),
    ),
    max_size=12,
)


@SETTINGS
@given(t=tasks, rules=rule_sets, where=sites)
def test_the_mask_agrees_with_site_allowed(
    t: TaskSpec, rules: tuple[SovereigntyRule, ...], where: list[Site]
) -> None:
    sov = sovereignty_of(t, rules)
    countries = np.array([s.country for s in where], dtype=str)
    tags = [frozenset(tag.upper() for tag in s.jurisdiction) for s in where]
    mask = allowed_site_mask(sov, countries, tags)
    assert mask.dtype == np.bool_
    assert mask.tolist() == [site_allowed(sov, s) is None for s in where]


@SETTINGS
@given(t=tasks, rules=rule_sets)
def test_path_rules_never_leave_the_allowed_countries(
    t: TaskSpec, rules: tuple[SovereigntyRule, ...]
) -> None:
    sov = sovereignty_of(t, rules)
    for rule in sov.applied:  # stacking only narrows
        assert sov.allowed is not None
        assert sov.allowed <= rule.allowed_for(t.origin.country)
    try:
        pr = path_rules(sov)
    except NoJurisdictionError:
        assert sov.allowed is not None
        assert sov.allowed <= sov.avoid
        return
    for code in {*COUNTRIES, "KP", "BR"}:
        inside = sov.allowed is None or code in sov.allowed
        assert pr.allows_country(code) == (inside and code not in sov.avoid), code


WORLD = load_builtin_world()
NETWORK = Network.from_world(WORLD)


@pytest.mark.parametrize(
    ("origin_site", "spec"),
    [
        ("cn-beijing", task("CN", COR)),
        ("de-frankfurt", task("DE", PER, avoid=("FR",))),
        ("de-frankfurt", task("DE", PER, residency=("EU",))),
        ("sg-singapore", task("SG", PER, avoid=("US",))),
    ],
)
def test_on_the_built_in_world_paths_stay_inside(origin_site: str, spec: TaskSpec) -> None:
    sov = sovereignty_of(spec)
    pr = path_rules(sov)
    countries = np.array([s.country for s in WORLD.sites], dtype=str)
    tags = [frozenset(t.upper() for t in s.jurisdiction) for s in WORLD.sites]
    mask = allowed_site_mask(sov, countries, tags)
    assert mask.tolist() == [site_allowed(sov, s) is None for s in WORLD.sites]
    assert mask.any()
    reached = 0
    for target in (s for s, ok in zip(WORLD.sites, mask.tolist(), strict=True) if ok):
        try:
            path = NETWORK.path(origin_site, target.id, rules=pr)
        except NoPathError:
            continue
        reached += 1
        assert all(pr.allows_country(c) for c in path.countries), (target.id, path.countries)
        if sov.allowed is not None:
            assert set(path.countries) <= sov.allowed
        assert not set(path.countries) & sov.avoid
    assert reached > 0


def test_sovereignty_is_a_value() -> None:
    sov = sovereignty_of(task("CN", COR))
    assert isinstance(sov, Sovereignty)
    with pytest.raises(ValueError, match="frozen"):
        sov.avoid = frozenset({"US"})  # type: ignore[misc]
