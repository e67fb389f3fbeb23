"""Data sovereignty: where a task's data may be processed and which countries it may cross.

:func:`sovereignty_of` folds every :class:`SovereigntyRule` that applies to a task, with the
task's ``residency`` and ``forbidden_transit``, into one :class:`Sovereignty`;
:func:`site_allowed`, :func:`allowed_site_mask` and :func:`path_rules` turn that into decisions.
:data:`RULES` is a planning aid as of 2026, not legal advice: where export needs what this code
cannot check (a security assessment, a regulator's approval) the data stays home; each rule's
``note`` says what it simplifies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator

from suanwang.core.base import ISO2, Frozen, Identifier
from suanwang.core.errors import SuanwangError
from suanwang.core.network.jurisdictions import expand
from suanwang.core.network.paths import PathRules
from suanwang.core.sites import Site
from suanwang.core.tasks import DataClass, DataSector, TaskSpec

ORIGIN = "ORIGIN"
"""In :attr:`SovereigntyRule.allowed`: the task's origin country itself."""

SovereigntyKey = tuple[frozenset[str] | None, frozenset[str], frozenset[str]]
"""``(allowed, avoid, residency_tags)``: everything a site or path decision depends on."""


class NoJurisdictionError(SuanwangError, ValueError):
    """The rules that apply to a task leave no country its data may be in."""


class SovereigntyRule(Frozen):
    """One localisation or transfer rule.

    It applies to a task whose origin country is in ``origins`` (codes or group names, see
    :func:`~suanwang.core.network.jurisdictions.expand`), whose data class is in
    ``data_classes`` and whose sector is in ``sectors`` (an empty set matches every class or
    sector). The data may then be processed in, and travel through, only the countries
    ``allowed`` names, where ``"ORIGIN"`` stands for the task's origin country. Names are
    upper-cased; unknown names are rejected when the rule is built.
    """

    id: Identifier
    origins: tuple[str, ...] = Field(min_length=1)
    data_classes: frozenset[DataClass] = frozenset()
    sectors: frozenset[DataSector] = frozenset()
    allowed: tuple[str, ...] = Field(min_length=1)
    law: str = Field(min_length=1)
    note: str = ""
    _origins: frozenset[str] = PrivateAttr(default=frozenset())
    _fixed: frozenset[str] = PrivateAttr(default=frozenset())

    @field_validator("origins", "allowed")
    @classmethod
    def _known_names(cls, names: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        upper = tuple(n.strip().upper() for n in names)
        if info.field_name == "origins" and ORIGIN in upper:
            raise ValueError(f"{ORIGIN!r} may appear in 'allowed' only")
        expand(n for n in upper if n != ORIGIN)  # raises on a name that is no code or group
        return upper

    def model_post_init(self, context: object, /) -> None:
        self._origins = expand(self.origins)
        self._fixed = expand(n for n in self.allowed if n != ORIGIN)

    def applies_to(self, origin: str, data_class: DataClass, sector: DataSector) -> bool:
        """Whether data of ``data_class`` in ``sector`` from country ``origin`` is covered."""
        return (
            origin in self._origins
            and (not self.data_classes or data_class in self.data_classes)
            and (not self.sectors or sector in self.sectors)
        )

    def allowed_for(self, origin: str) -> frozenset[str]:
        """The countries ``allowed`` names for data from ``origin``."""
        return self._fixed | {origin} if ORIGIN in self.allowed else self._fixed

    def describe(self, origin: str, data_class: DataClass, sector: DataSector) -> str:
        """One clause, e.g. ``"core data from CN must stay in CN"``."""
        words = [sector.value] if self.sectors else []
        words += [data_class.value] if self.data_classes else []
        what = " ".join([*words, "data"])
        if self.allowed == (ORIGIN,):
            return f"{what} from {origin} must stay in {origin}"
        names = ", ".join(origin if n == ORIGIN else n for n in self.allowed)
        return f"{what} from {origin} may only go to {names}"


_PERSONAL_UP = frozenset({DataClass.PERSONAL, DataClass.IMPORTANT, DataClass.CORE})
_IMPORTANT_UP = frozenset({DataClass.IMPORTANT, DataClass.CORE})
_NON_PUBLIC = frozenset(DataClass) - {DataClass.PUBLIC}
_EU_ADEQUACY = ("AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB")

RULES: tuple[SovereigntyRule, ...] = (
    SovereigntyRule(
        id="cn-core-data",
        origins=("CN",),
        data_classes=_IMPORTANT_UP,
        allowed=(ORIGIN,),
        law="PRC Data Security Law 2021 art. 21/31; PIPL 2021 art. 38-40",
        note="Important data leaves only after a CAC security assessment: treated as stays. "
        "CN is the mainland (HK, MO apart). Personal data may leave under PIPL art. 38; CIIO "
        "localisation (art. 40) is not modelled.",
    ),
    SovereigntyRule(
        id="eu-personal-data",
        origins=("EEA",),
        data_classes=_PERSONAL_UP,
        allowed=("EEA", *_EU_ADEQUACY, "UY", "US"),
        law="GDPR Chapter V art. 45 adequacy decisions",
        note="US: only recipients certified under the EU-US Data Privacy Framework; CA: "
        "PIPEDA organisations; GB renewed 2025 (check). Art. 46 safeguards (SCCs) are not "
        "modelled; transit counts as transfer; classes above personal hold personal data.",
    ),
    SovereigntyRule(
        id="id-financial-data",
        origins=("ID",),
        data_classes=_NON_PUBLIC,
        sectors=frozenset({DataSector.FINANCIAL}),
        allowed=(ORIGIN,),
        law="GR 71/2019 art. 20-21; POJK 11/POJK.03/2022 (bank IT)",
        note="Offshore placement needs OJK approval: treated as stays. Public data is free. "
        "Article numbers uncertain.",
    ),
    SovereigntyRule(
        id="ru-personal-data",
        origins=("RU",),
        data_classes=_PERSONAL_UP,
        allowed=(ORIGIN,),
        law="Federal Law 152-FZ art. 18(5), added by 242-FZ",
        note="Primary databases of citizens' data must be in RU; later copies abroad (art. 12) "
        "are not modelled: treated as stays. Origin stands in for citizenship.",
    ),
    SovereigntyRule(
        id="in-payment-data",
        origins=("IN",),
        data_classes=_NON_PUBLIC,
        sectors=frozenset({DataSector.FINANCIAL}),
        allowed=(ORIGIN,),
        law="RBI directive DPSS.CO.OD 2785/06.08.005/2017-18 (storage of payment system data)",
        note="Covers payment data; applied to the whole financial sector (broader). Processing "
        "abroad with return within 24 h (RBI FAQ 2019) is not modelled: treated as stays.",
    ),
    SovereigntyRule(
        id="vn-core-data",
        origins=("VN",),
        data_classes=_IMPORTANT_UP,
        allowed=(ORIGIN,),
        law="Cybersecurity Law 2018 art. 26; Decree 53/2022/ND-CP art. 26; Law on Data 2024",
        note="Export needs an assessment under the Law on Data (60/2024/QH15): treated as "
        "stays. Exact scope and articles uncertain.",
    ),
    SovereigntyRule(
        id="sa-government-data",
        origins=("SA",),
        data_classes=_NON_PUBLIC,
        sectors=frozenset({DataSector.GOVERNMENT}),
        allowed=(ORIGIN,),
        law="NDMO Data Management and PDP Standards 2021; NCA ECC-1:2018 4-2-3-3",
        note="Data classified public is left free (uncertain).",
    ),
)
"""The built-in rule table (as of 2026; see each rule's ``note``)."""


class Sovereignty(Frozen):
    """Where one task's data may go.

    ``allowed``: the only countries the data may be processed in and travel through (None:
    unrestricted; empty: nowhere). ``avoid``: countries it must never touch (the task's
    ``forbidden_transit``). ``residency_tags``: the task's ``residency``, upper-cased (empty:
    any site). ``applied``: the rules behind ``allowed``, in table order.
    """

    origin: ISO2
    data_class: DataClass
    sector: DataSector
    allowed: frozenset[str] | None
    avoid: frozenset[str]
    residency_tags: frozenset[str]
    applied: tuple[SovereigntyRule, ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        """Ids of the rules that applied."""
        return tuple(r.id for r in self.applied)

    def explain(self) -> str:
        """One line: every applied rule, and whether together they leave any country."""
        parts = [
            f"rule {r.id} ({r.law}): {r.describe(self.origin, self.data_class, self.sector)}"
            for r in self.applied
        ] or [f"no sovereignty rule applies to {self.data_class.value} data from {self.origin}"]
        if self.allowed is not None and not self.allowed:
            parts.append("together these rules allow no country, so the data may go nowhere")
        if self.residency_tags:
            parts.append(f"residency allows {', '.join(sorted(self.residency_tags))}")
        if self.avoid:
            parts.append(f"never through {', '.join(sorted(self.avoid))}")
        return "; ".join(parts)


def sovereignty_of(task: TaskSpec, rules: Iterable[SovereigntyRule] = RULES) -> Sovereignty:
    """Fold every rule that applies to ``task`` into one :class:`Sovereignty`.

    ``allowed`` is the intersection of the applied rules' countries (None when none applies),
    so stacked rules only ever narrow it, possibly to the empty set.
    """
    origin, cls, sector = task.origin.country, task.data_class, task.sector
    applied = tuple(r for r in rules if r.applies_to(origin, cls, sector))
    allowed: frozenset[str] | None = None
    for rule in applied:
        mine = rule.allowed_for(origin)
        allowed = mine if allowed is None else allowed & mine
    return Sovereignty(
        origin=origin,
        data_class=cls,
        sector=sector,
        allowed=allowed,
        avoid=frozenset(task.forbidden_transit),
        residency_tags=frozenset(t.strip().upper() for t in task.residency if t.strip()),
        applied=applied,
    )


def site_allowed(sov: Sovereignty, site: Site) -> str | None:
    """None if ``site`` may process the data, else a one-line reason.

    Checked in order: the applied rules (the site's country must be allowed), residency (one
    of the site's jurisdiction tags, case-insensitive, must be a residency tag), and
    ``avoid`` (the site's country must not be avoided).
    """
    country = site.country
    if sov.allowed is not None and country not in sov.allowed:
        for rule in sov.applied:
            if country not in rule.allowed_for(sov.origin):
                why = rule.describe(sov.origin, sov.data_class, sov.sector)
                both = "" if sov.allowed else " (together the rules allow no country)"
                return f"rule {rule.id} ({rule.law}): {why}{both}; site is in {country}"
        return f"the rules together allow no country; site is in {country}"
    tags = {t.upper() for t in site.jurisdiction}
    if sov.residency_tags and sov.residency_tags.isdisjoint(tags):
        return (
            f"residency allows {', '.join(sorted(sov.residency_tags))}; "
            f"site's jurisdiction is {', '.join(site.jurisdiction)}"
        )
    if country in sov.avoid:
        return f"the task forbids data in {country} (forbidden_transit); site is in {country}"
    return None


def allowed_site_mask(
    sov: Sovereignty,
    site_countries: npt.NDArray[np.str_],
    site_tags: Sequence[frozenset[str]],
) -> npt.NDArray[np.bool_]:
    """:func:`site_allowed` ``is None`` for many sites at once.

    ``site_countries[i]`` is site ``i``'s country and ``site_tags[i]`` its upper-cased
    jurisdiction tags. The result depends on ``sov`` only through :func:`key`.
    """
    n = len(site_countries)
    if len(site_tags) != n:
        raise ValueError(f"{n} site countries but {len(site_tags)} tag sets")
    mask = np.ones(n, dtype=np.bool_)
    if sov.allowed is not None:
        mask &= np.isin(site_countries, np.array(sorted(sov.allowed), dtype=str))
    if sov.avoid:
        mask &= ~np.isin(site_countries, np.array(sorted(sov.avoid), dtype=str))
    if sov.residency_tags:
        res = sov.residency_tags
        for i in np.flatnonzero(mask).tolist():
            mask[i] = not res.isdisjoint(site_tags[i])
    return mask


def path_rules(sov: Sovereignty) -> PathRules:
    """Path rules that keep the data inside ``allowed`` and out of ``avoid``.

    Raises :class:`NoJurisdictionError` when no country is left to route through.
    """
    if sov.allowed is not None and sov.allowed <= sov.avoid:
        rules = ", ".join(sov.rules) or "none"
        reason = "allow no country" if not sov.allowed else "allow only countries it forbids"
        raise NoJurisdictionError(
            f"data ({sov.data_class.value} from {sov.origin}) may go nowhere: the rules "
            f"({rules}) {reason}; {sov.explain()}"
        )
    return PathRules(within=sov.allowed, avoid=sov.avoid)


def key(sov: Sovereignty) -> SovereigntyKey:
    """Hashable key: equal keys give equal :func:`path_rules` and equal site decisions."""
    return (sov.allowed, sov.avoid, sov.residency_tags)
