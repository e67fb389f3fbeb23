"""China's official electricity data: provincial CO2 factors and time-of-use tariffs (data as code).

Where each table comes from:

* :data:`PROVINCE_FACTORS` / :data:`NATIONAL_FACTOR` - the 2022 provincial (and national) *average*
  electricity CO2 emission factors (电力平均二氧化碳排放因子) published by the Ministry of
  Ecology and Environment (生态环境部) and the National Bureau of Statistics (国家统计局) in
  公告2024年第33号《关于发布2022年电力二氧化碳排放因子的公告》 (dated 2024-12-20), computed by
  the same method as the 2021 factors of 公告2024年第12号. The table has 30 provinces; Tibet
  (西藏) has no published value and uses a documented stand-in (see its ``note``).
  A 2023 vintage exists (公告2025年第47号, published 2025-12-31; national 0.5306 kg/kWh) and is
  *not* used here yet: moving to it is a deliberate, reviewed change of every value.
* :data:`PROVINCE_TOU` - peak / flat / valley windows (plus critical peak and deep valley where a
  province has them) from each province's pricing notice (省发改委 分时电价 通知), cited by
  document number in ``source``. Ratios are relative to the flat band, as the notice states them
  for large (two-part, 两部制) industrial and commercial users.
* :data:`TOU_POLICY_SOURCE` - the national rule the provincial notices implement.

How the values were obtained: transcribed by hand on 2026-11-22 from public transcriptions of
the originals (news reports, public repositories quoting the notices or the grid companies'
monthly 代理购电 price tables), not from the original PDFs. Every entry's ``note`` says how far
it was checked; entries marked "not verified" or "stand-in" must not be presented as official.

Contracts and known simplifications:

* Values are what the documents say, not forecasts; an entry changes only when its source does.
* Where a notice uses different ratios in different months, the schedule's ``ratios`` hold the
  set that covers most months and the other months' periods carry their own
  (:attr:`~suanwang.core.energy.tariffs.TouPeriod.ratios`): Shanghai, Anhui and West Inner
  Mongolia. Hubei still uses one set all year (the only set that could be verified); its note
  gives an unverified alternative for the other months.
* Windows that depend on the weather (Guangdong's hot days), on holidays (deep-valley holidays)
  or on half-hour or mid-month boundaries are not modelled; the notes say which were left out.
* Since 2023 most provinces float only the energy-purchase part of the price (not transmission,
  system-operation charges or funds). ``flat_price_per_mwh`` is an all-in flat-band price, so
  ``flat x ratio`` overstates the all-in spread between peak and valley.
* ``flat_price_per_mwh`` is a verified 1-10 kV two-part price from a grid company's 代理购电
  table only for Beijing, Chongqing and Hubei; every other province uses
  :data:`NATIONAL_TYPICAL_FLAT_PRICE_PER_MWH`, labelled as such in its note.

Reporting or fixing an error: open an issue or a pull request naming the zone, the field, the
value you believe is right and the document (number, date, URL) it comes from. Change the value
here, update ``source``/``note`` and the expected figure in
``tests/unit/energy/test_china_data.py`` in the same change, so tests and data stay in step.
"""

from __future__ import annotations

from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.energy.tariffs import TouBand, TouPeriod, TouSchedule, TouWindow

CP = TouBand.CRITICAL_PEAK
P = TouBand.PEAK
F = TouBand.FLAT
V = TouBand.VALLEY
DV = TouBand.DEEP_VALLEY

# --------------------------------------------------------------------------------------------
# Emission factors
# --------------------------------------------------------------------------------------------


class ProvinceFactor(Frozen):
    """A provincial-level division's average electricity CO2 emission factor."""

    zone: str = Field(min_length=2, description="ISO 3166-2:CN code, or 'CN' for the nation")
    name_en: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    kg_co2_per_kwh: float = Field(gt=0.0)
    year: int = Field(ge=2000, le=2100, description="the year the factor describes")
    source: str = Field(min_length=1, description="the announcement the value comes from")
    note: str = ""


MEE_2022_SOURCE = (
    "生态环境部、国家统计局 公告2024年第33号《关于发布2022年电力二氧化碳排放因子的公告》"
    "(2024-12-20), table of provincial average electricity CO2 factors; "
    "https://www.mee.gov.cn/xxgk2018/xxgk/xxgk01/202412/t20241226_1099413.html"
)
"""The announcement all 2022 factors come from."""

_CHECKED = "Checked 2026-11-22 against a complete public-repository transcription of the table"
_CHECKED_TWICE = _CHECKED + " and again against an independent news report or repository"

SOUTHWEST_GRID_FACTOR_2022 = 0.2268
"""The 2022 regional average factor of the Southwest (西南) grid region, from the same
announcement (checked against a news report of it and a repository transcription)."""

# zone: (English name, Chinese name, kg CO2/kWh, cross-checked by a second source)
_FACTORS_2022: dict[str, tuple[str, str, float, bool]] = {
    "CN-BJ": ("Beijing", "北京市", 0.5580, True),
    "CN-TJ": ("Tianjin", "天津市", 0.7041, True),
    "CN-HE": ("Hebei", "河北省", 0.7252, True),
    "CN-SX": ("Shanxi", "山西省", 0.7096, True),
    "CN-NM": ("Inner Mongolia", "内蒙古自治区", 0.6849, True),
    "CN-LN": ("Liaoning", "辽宁省", 0.5626, False),
    "CN-JL": ("Jilin", "吉林省", 0.4932, False),
    "CN-HL": ("Heilongjiang", "黑龙江省", 0.5368, True),
    "CN-SH": ("Shanghai", "上海市", 0.5849, False),
    "CN-JS": ("Jiangsu", "江苏省", 0.5978, False),
    "CN-ZJ": ("Zhejiang", "浙江省", 0.5153, False),
    "CN-AH": ("Anhui", "安徽省", 0.6782, True),
    "CN-FJ": ("Fujian", "福建省", 0.4092, True),
    "CN-JX": ("Jiangxi", "江西省", 0.5752, False),
    "CN-SD": ("Shandong", "山东省", 0.6410, False),
    "CN-HA": ("Henan", "河南省", 0.6058, False),
    "CN-HB": ("Hubei", "湖北省", 0.4364, False),
    "CN-HN": ("Hunan", "湖南省", 0.4900, False),
    "CN-GD": ("Guangdong", "广东省", 0.4403, True),
    "CN-GX": ("Guangxi", "广西壮族自治区", 0.4044, True),
    "CN-HI": ("Hainan", "海南省", 0.4184, False),
    "CN-CQ": ("Chongqing", "重庆市", 0.5227, False),
    "CN-SC": ("Sichuan", "四川省", 0.1404, True),
    "CN-GZ": ("Guizhou", "贵州省", 0.4989, False),
    "CN-YN": ("Yunnan", "云南省", 0.1073, True),
    "CN-SN": ("Shaanxi", "陕西省", 0.6558, False),
    "CN-GS": ("Gansu", "甘肃省", 0.4772, False),
    "CN-QH": ("Qinghai", "青海省", 0.1567, True),
    "CN-NX": ("Ningxia", "宁夏回族自治区", 0.6423, False),
    "CN-XJ": ("Xinjiang", "新疆维吾尔自治区", 0.6231, False),
}

PROVINCE_FACTORS: dict[str, ProvinceFactor] = {
    zone: ProvinceFactor(
        zone=zone,
        name_en=en,
        name_zh=zh,
        kg_co2_per_kwh=value,
        year=2022,
        source=MEE_2022_SOURCE,
        note=(_CHECKED_TWICE if twice else _CHECKED) + ", not against the original PDF.",
    )
    for zone, (en, zh, value, twice) in _FACTORS_2022.items()
}
PROVINCE_FACTORS["CN-XZ"] = ProvinceFactor(
    zone="CN-XZ",
    name_en="Tibet (Xizang)",
    name_zh="西藏自治区",
    kg_co2_per_kwh=SOUTHWEST_GRID_FACTOR_2022,
    year=2022,
    source=MEE_2022_SOURCE + " (Southwest regional factor; no provincial value published)",
    note=(
        "STAND-IN: the announcement publishes no factor for Tibet (30 provinces only). This is "
        "the 2022 Southwest (西南) regional grid factor 0.2268 (value checked). That the "
        "Southwest region is Chongqing, Sichuan and Tibet is from memory of the announcement's "
        "calculation notes, not verified. Tibet's own hydro- and solar-heavy grid is probably "
        "cleaner than this."
    ),
)
PROVINCE_FACTORS = dict(sorted(PROVINCE_FACTORS.items()))
"""The 31 mainland provincial-level divisions, keyed by ISO 3166-2:CN code."""

NATIONAL_FACTOR = ProvinceFactor(
    zone="CN",
    name_en="China (national average)",
    name_zh="全国",
    kg_co2_per_kwh=0.5366,
    year=2022,
    source=MEE_2022_SOURCE + " (全国电力平均二氧化碳排放因子)",
    note=(
        "Checked 2026-11-22 against news reports of the announcement and public repositories. "
        "The same announcement also gives 0.5856 excluding market-traded non-fossil power and "
        "0.8325 for fossil power alone."
    ),
)
"""The national average factor of the same announcement."""

# --------------------------------------------------------------------------------------------
# Time-of-use tariffs
# --------------------------------------------------------------------------------------------

TOU_POLICY_SOURCE = (
    "国家发展改革委《关于进一步完善分时电价机制的通知》发改价格〔2021〕1093号 (2021-07): "
    "peak:valley price ratio at least 3:1, at least 4:1 where the peak-valley load swing "
    "exceeds 40 %; critical-peak price at least 20 % above the peak price; deep valley allowed."
)
"""The national rule the provincial notices implement."""

VERIFIED_FLAT_PRICES_PER_MWH: dict[str, tuple[float, str]] = {
    "CN-BJ": (
        681.335,
        "国网北京市电力公司 代理购电工商业用户电价表, 2024-07, 1-10 kV two-part, flat band",
    ),
    "CN-CQ": (
        762.307,
        "国网重庆市电力有限公司 代理购电价格信息表, 2025-02, 1-10 kV two-part, flat band",
    ),
    "CN-HB": (
        651.886,
        "国网湖北省电力有限公司 代理购电工商业用户电价表, 2026-01, 1-10(20) kV two-part, flat band",
    ),
}
"""Flat-band all-in prices (CNY/MWh) read from grid companies' monthly tables, each checked
against a public-repository transcription of the official table."""

NATIONAL_TYPICAL_FLAT_PRICE_PER_MWH = 700.0
"""STAND-IN flat price (CNY/MWh) for provinces without a verified figure: the mean of the three
verified figures above (698.5), rounded. It is not any province's price; western provinces
(Inner Mongolia, Gansu, Ningxia, Xinjiang, Guizhou) are typically well below it."""


def _flat_price(zone: str) -> tuple[float, str]:
    """The zone's flat price and a sentence saying where it comes from."""
    if zone in VERIFIED_FLAT_PRICES_PER_MWH:
        price, table = VERIFIED_FLAT_PRICES_PER_MWH[zone]
        return price, f"Flat price from {table} (checked via a public transcription)."
    return NATIONAL_TYPICAL_FLAT_PRICE_PER_MWH, (
        "Flat price is the STAND-IN national typical value "
        f"{NATIONAL_TYPICAL_FLAT_PRICE_PER_MWH:g} CNY/MWh, not this province's figure."
    )


_BAND_CODES = {"CP": CP, "P": P, "F": F, "V": V, "DV": DV}


def _period(
    months: tuple[int, ...], spec: str, ratios: dict[TouBand, float] | None = None
) -> TouPeriod:
    """A period from ``"V 0-8, F 8-10, ..."``: a band code and local hours ``[start, end)``.

    Codes: CP critical peak (尖峰), P peak (高峰), F flat (平段), V valley (低谷), DV deep
    valley (深谷). ``ratios`` override the schedule's ratios in these months.
    """
    windows = []
    for item in spec.split(","):
        code, hours = item.split()
        start, end = hours.split("-")
        windows.append(TouWindow(start=int(start), end=int(end), band=_BAND_CODES[code]))
    return TouPeriod(months=months, windows=tuple(windows), ratios=ratios)


def _schedule(
    zone: str,
    periods: tuple[TouPeriod, ...],
    ratios: dict[TouBand, float],
    source: str,
    note: str,
) -> TouSchedule:
    """A CNY schedule at UTC+8 whose note ends with where its flat price comes from."""
    price, price_note = _flat_price(zone)
    return TouSchedule(
        zone=zone,
        utc_offset_hours=8.0,
        periods=periods,
        ratios={F: 1.0, **ratios},
        flat_price_per_mwh=price,
        currency="CNY",
        source=source,
        note=f"{note} {price_note}",
    )


ALL_MONTHS = tuple(range(1, 13))

_QUOTE = "Windows and ratios checked against a public quotation of the notice's text"
_AGENT_NOTE = (
    "Windows and ratios checked against a public-repository quotation of the grid company's "
    "代理购电 price-table note that restates the notice"
)
_AGENT_WINDOWS = (
    "Windows (only) checked against a public-repository quotation of the grid company's "
    "代理购电 price-table note that restates the notice"
)
_QUOTE_WINDOWS = "Windows (only) checked against a public quotation of the notice's text"

_GD = _schedule(
    "CN-GD",
    (
        _period(
            (7, 8, 9),
            "V 0-8, F 8-10, P 10-11, CP 11-12, F 12-14, P 14-15, CP 15-17, P 17-19, F 19-24",
        ),
        _period(
            (1, 2, 3, 4, 5, 6, 10, 11, 12),
            "V 0-8, F 8-10, P 10-12, F 12-14, P 14-19, F 19-24",
        ),
    ),
    {P: 1.7, V: 0.38, CP: round(1.7 * 1.25, 4)},
    "广东省发展改革委《关于进一步完善我省峰谷分时电价政策有关问题的通知》粤发改价格〔2021〕331号 "
    "(effective 2021-10-01)",
    f"{_QUOTE} (news report and grid-company note, which agree). Provincial windows; Shenzhen "
    "has its own notice (深发改〔2021〕1005号) with the same windows but other ratios. Peak:flat:"
    "valley 1.7:1:0.38; critical peak = peak +25 % in July-September 11-12 and 15-17. Not "
    "modelled: the critical peak on other-month days when Guangzhou's forecast high is >= 35 C.",
)

_NM = _schedule(
    "CN-NM",
    (
        _period(
            (1, 2, 3, 4, 5, 9, 10, 11, 12),
            "V 0-4, F 4-6, P 6-8, F 8-11, V 11-16, F 16-18, P 18-22, F 22-24",
        ),
        _period(
            (6, 7, 8),
            "F 0-6, P 6-8, F 8-11, V 11-13, DV 13-15, V 15-16, F 16-18, P 18-19, CP 19-21, "
            "P 21-22, F 22-24",
            {P: 1.54, V: 0.44, CP: round(1.54 * 1.2, 4), DV: round(0.44 * 0.8, 4)},
        ),
    ),
    {P: 1.68, V: 0.48},
    "内蒙古自治区发展改革委 蒙西电网工商业分时电价政策通知 内发改价费字〔2023〕1630号",
    f"{_AGENT_NOTE}. West Inner Mongolia grid (蒙西), which serves the Horinger (Hohhot) and "
    "Ulanqab hubs; East Inner Mongolia (蒙东) has its own notice (内发改价费字〔2023〕1631号). "
    "Ratios differ by season and both sets are modelled: windy season (Jan-May, Sep-Dec) "
    "peak:flat:valley 1.68:1:0.48; calm season (Jun-Aug) 1.54:1:0.44, whose critical peak "
    "(+20 % on peak, 19-21) and deep valley (-20 % on valley, 13-15) are computed from the "
    "calm-season values.",
)

_SH_SUMMER_WINTER = {P: 1.8, V: 0.4, CP: round(1.8 * 1.25, 4)}
"""Shanghai's Jan, Jul-Sep and Dec ratios (Sep has no critical-peak window)."""

_SH = _schedule(
    "CN-SH",
    (
        _period(
            (7, 8),
            "V 0-6, F 6-8, P 8-12, CP 12-14, P 14-15, F 15-18, P 18-21, F 21-22, V 22-24",
            _SH_SUMMER_WINTER,
        ),
        _period(
            (9,),
            "V 0-6, F 6-8, P 8-15, F 15-18, P 18-21, F 21-22, V 22-24",
            _SH_SUMMER_WINTER,
        ),
        _period(
            (1, 12),
            "V 0-6, F 6-8, P 8-11, F 11-18, P 18-19, CP 19-21, F 21-22, V 22-24",
            _SH_SUMMER_WINTER,
        ),
        _period(
            (2, 3, 4, 5, 6, 10, 11),
            "V 0-6, F 6-8, P 8-11, F 11-18, P 18-21, F 21-22, V 22-24",
        ),
    ),
    {P: 1.6, V: 0.5},
    "上海市发展改革委《关于进一步完善我市分时电价机制有关事项的通知》沪发改价管〔2022〕50号",
    f"{_AGENT_NOTE}; a second repository transcription of the notice agrees. Two-part users. "
    "Ratios differ by month and both sets are modelled: Feb-Jun and Oct-Nov peak +60 %, "
    "valley -50 %; Jan, Jul-Sep and Dec peak +80 %, valley -60 %, critical peak = that peak "
    "+25 % (Jul-Aug 12-14, Jan and Dec 19-21). Not modelled: the large-industry deep valley "
    "(-80 % on flat, 0-6 and 22-24 on holidays and some rest days, 沪发改价管〔2024〕28号).",
)

_BJ = _schedule(
    "CN-BJ",
    (
        _period(
            (7, 8),
            "V 0-7, F 7-10, P 10-11, CP 11-13, F 13-16, CP 16-17, P 17-22, F 22-23, V 23-24",
        ),
        _period(
            (1, 12),
            "V 0-7, F 7-10, P 10-13, F 13-17, P 17-18, CP 18-21, P 21-22, F 22-23, V 23-24",
        ),
        _period(
            (2, 3, 4, 5, 6, 9, 10, 11),
            "V 0-7, F 7-10, P 10-13, F 13-17, P 17-22, F 22-23, V 23-24",
        ),
    ),
    {P: 1.6, V: 0.4, CP: round(1.6 * 1.2, 4)},
    "北京市发展改革委《关于进一步完善本市分时电价机制等有关事项的通知》京发改规〔2023〕11号 "
    "(2023-08-18)",
    f"{_AGENT_NOTE}; windows, two-part ratios and the summer critical peak also match a "
    "second repository's transcription of the notice and of the 2024-07 price table. The "
    "winter critical peak (Jan and Dec 18-21) is in the price-table note only. Two-part "
    "users 1.6:1:0.4 (single-part users have other ratios); critical peak = peak +20 %.",
)

_CQ = _schedule(
    "CN-CQ",
    (
        _period(
            (1, 7, 8, 12),
            "V 0-8, F 8-11, P 11-12, CP 12-14, P 14-17, F 17-20, P 20-22, F 22-24",
        ),
        _period((2, 3, 4, 5, 6, 9, 10, 11), "V 0-8, F 8-11, P 11-17, F 17-20, P 20-22, F 22-24"),
    ),
    {P: 1.6, V: 0.38, CP: round(1.6 * 1.2, 4)},
    "重庆市发展改革委《关于进一步完善我市分时电价机制有关事项的通知》渝发改规范〔2021〕14号 "
    "(2021-12-09)",
    "Windows checked against two public repositories quoting the notice; the ratios against "
    "one of them (a transcription of the notice's web page). Peak +60 %, valley -62 % "
    "(peak:valley 4.2:1), critical peak = peak +20 % in Jan, Jul, Aug and Dec 12-14.",
)

_GZ = _schedule(
    "CN-GZ",
    (_period(ALL_MONTHS, "V 0-8, F 8-10, P 10-13, F 13-17, P 17-22, F 22-24"),),
    {P: 1.6, V: 0.4},
    "贵州省发展改革委《关于完善峰谷分时电价机制有关事项的通知》黔发改价格〔2023〕481号",
    f"{_AGENT_NOTE}. Peak +60 %, valley -60 %; no critical peak in the note.",
)

_ZJ = _schedule(
    "CN-ZJ",
    (
        _period((2, 3, 4, 5, 6, 9, 10, 11), "V 0-7, F 7-11, V 11-14, F 14-16, P 16-23, F 23-24"),
        _period(
            (1, 7, 8, 12),
            "V 0-7, F 7-11, V 11-14, F 14-16, P 16-18, CP 18-22, P 22-23, F 23-24",
        ),
    ),
    {P: 1.85, V: 0.4, CP: 2.05},
    "浙江省发展改革委 工商业分时电价政策通知 浙发改价格〔2026〕112号 (effective 2026-07-01); "
    "replaces 浙发改价格〔2024〕21号",
    "Spring/autumn windows checked against two public repositories; summer/winter windows and "
    "the ratios critical:peak:flat:valley:deep 2.05:1.85:1:0.4:0.2 against one repository "
    "transcription only. CHECK: that critical peak is only about 11 % above peak, less than "
    "the +20 % of 发改价格〔2021〕1093号, so the ratios may be mis-transcribed. Not modelled: "
    "the holiday deep valley (9-15 around Spring Festival, Labour Day and National Day).",
)

_GX = _schedule(
    "CN-GX",
    (_period(ALL_MONTHS, "V 0-7, F 7-11, P 11-13, F 13-17, P 17-23, V 23-24"),),
    {P: 1.5, V: 0.5},
    "广西壮族自治区发展改革委《关于优化峰谷分时电价机制的通知》桂发改价格〔2023〕609号",
    f"{_AGENT_WINDOWS}. NOT VERIFIED: the ratios 1.5:1:0.5 are those of the "
    "previous notice 桂发改价格规〔2021〕1029号 (per one repository transcription); whether "
    "609号 kept them was not checked. The 2021 critical peak (+20 %, Jul-Sep and Dec) is left "
    "out because its hours under the 2023 windows were not verified.",
)

_GS = _schedule(
    "CN-GS",
    (_period(ALL_MONTHS, "F 0-6, P 6-8, F 8-10, V 10-16, F 16-18, P 18-23, F 23-24"),),
    {P: 1.5, V: 0.5},
    "甘肃省发展改革委《关于优化调整工商业等用户峰谷分时电价政策有关事项的通知》"
    "甘发改价格〔2024〕424号 (effective 2024-08-01)",
    f"{_AGENT_WINDOWS}. STAND-IN RATIOS: the notice leaves the peak-valley spread to "
    "the market, with a floor of 3:1 (the floor from an unofficial summary, not verified); "
    "1.5:1:0.5 sits exactly on that floor.",
)

_SC = _schedule(
    "CN-SC",
    (
        _period((3, 4, 5, 6, 10, 11), "V 0-8, F 8-10, P 10-12, F 12-17, P 17-22, V 22-24"),
        _period(
            (7, 8),
            "F 0-1, V 1-7, F 7-11, P 11-13, CP 13-14, P 14-18, F 18-20, P 20-21, CP 21-23, F 23-24",
        ),
        _period((9,), "F 0-1, V 1-7, F 7-11, P 11-18, F 18-20, P 20-23, F 23-24"),
        _period((1, 2, 12), "V 0-8, F 8-10, P 10-12, F 12-16, P 16-22, F 22-24"),
    ),
    {P: 1.6, V: 0.4, CP: round(1.6 * 1.2, 4)},
    "四川省发展改革委《关于进一步调整我省分时电价机制的通知》川发改价格〔2025〕185号",
    f"{_AGENT_NOTE}. Peak +60 %, valley -60 %; critical peak = peak +20 % for large industry "
    "in Jul-Aug 13-14 and 21-23 (not in Panzhihua, Liangshan, Garze, Ngawa). Not modelled: "
    "the critical peak in other months after three days at >= 35 C.",
)

_TJ = _schedule(
    "CN-TJ",
    (_period(ALL_MONTHS, "V 0-7, F 7-9, P 9-12, F 12-16, P 16-21, F 21-23, V 23-24"),),
    {P: 1.5, V: 0.46},
    "天津市发展改革委《关于峰谷分时电价政策有关事项的通知》津发改价综〔2021〕395号",
    f"{_AGENT_NOTE}. Peak +50 %, valley -54 %. The notice also has a summer critical peak whose "
    "months and hours were not verified, so it is left out.",
)

_XJ = _schedule(
    "CN-XJ",
    (
        _period((2, 3, 4, 9, 10), "F 0-4, V 4-8, P 8-11, F 11-13, V 13-17, F 17-19, P 19-24"),
        _period((1, 11, 12), "F 0-4, V 4-8, P 8-11, F 11-13, V 13-17, F 17-19, CP 19-21, P 21-24"),
        _period(
            (5, 6, 8),
            "F 0-4, V 4-8, P 8-11, F 11-13, V 13-14, DV 14-16, V 16-17, F 17-19, P 19-24",
        ),
        _period(
            (7,),
            "F 0-4, V 4-8, P 8-11, F 11-13, V 13-14, DV 14-16, V 16-17, F 17-19, P 19-21, "
            "CP 21-23, P 23-24",
        ),
    ),
    {P: 1.75, V: 0.25, CP: 2.0, DV: 0.1},
    "新疆维吾尔自治区发展改革委《关于进一步完善分时电价有关事宜的通知》新发改规〔2023〕11号",
    f"{_AGENT_NOTE}. Peak and valley +/-75 % of flat; critical peak +100 % (Jul 21-23; Jan, "
    "Nov, Dec 19-21); deep valley -90 % (May-Aug 14-16).",
)

_HB = _schedule(
    "CN-HB",
    (
        _period((7, 8), "V 0-6, F 6-12, V 12-14, F 14-16, P 16-20, CP 20-22, P 22-24"),
        _period(
            (1, 2, 3, 4, 5, 6, 9, 10, 11, 12),
            "V 0-6, F 6-12, V 12-14, F 14-16, P 16-18, CP 18-20, P 20-24",
        ),
    ),
    {P: 1.5, V: 0.45, CP: 2.0},
    "湖北省发展改革委《关于完善工商业分时电价机制有关事项的通知》鄂发改价管〔2024〕77号 "
    "(effective 2024-05-01)",
    f"{_AGENT_WINDOWS}. Ratios critical:peak:flat:valley 2.0:1.5:1:0.45 as "
    "declared for, and implied by (peak 1.49), the official January 2026 price table (checked "
    "via a repository transcription); they hold at least in Jan, Jul, Aug and Dec. NOT "
    "VERIFIED: an unofficial summary gives 1.8:1.49:1:0.48 for the other months.",
)

_AH = _schedule(
    "CN-AH",
    (
        _period((7, 8, 9), "F 0-2, V 2-9, F 9-11, V 11-13, F 13-16, P 16-24", {P: 1.843}),
        _period((1, 12), "V 0-6, F 6-12, V 12-14, F 14-15, P 15-23, V 23-24", {P: 1.843}),
        _period(
            (2, 3, 4, 5, 6, 10, 11),
            "V 0-6, P 6-8, F 8-11, V 11-14, F 14-16, P 16-22, F 22-23, V 23-24",
        ),
    ),
    {P: 1.74, V: 0.382},
    "安徽省发展改革委 分时电价政策通知 皖发改价格〔2025〕302号 (effective 2025-07-01)",
    f"{_AGENT_NOTE}; a second repository agrees. Valley -61.8 % all year; peak +74 % except "
    "Jan, Jul-Sep and Dec, +84.3 % (both peak ratios modelled). Not modelled: the critical "
    "peak (+20 % on peak for >= 315 kVA two-part industry, 15 Jul-31 Aug 20-22 and 15 Dec-31 "
    "Jan 19-21: mid-month boundaries) and the holiday deep valley (11-15).",
)

_HE = _schedule(
    "CN-HE",
    (
        _period(
            (6, 7, 8),
            "V 0-7, F 7-10, P 10-12, F 12-16, P 16-17, CP 17-20, P 20-22, F 22-23, V 23-24",
        ),
        _period(
            (1, 11, 12),
            "F 0-1, V 1-7, F 7-8, P 8-10, F 10-12, V 12-14, F 14-16, P 16-17, CP 17-19, P 19-22, "
            "F 22-24",
        ),
        _period(
            (2, 3, 4, 5, 9, 10),
            "F 0-1, V 1-7, F 7-8, P 8-10, F 10-12, V 12-14, F 14-16, P 16-22, F 22-24",
        ),
    ),
    {P: 1.5, V: 0.5, CP: round(1.5 * 1.2, 4)},
    "河北省发展改革委《关于进一步完善冀北电网工商业及其他用户分时电价政策的通知》"
    "冀发改能价〔2023〕1711号",
    f"{_AGENT_WINDOWS}. North Hebei grid (冀北), which serves the Zhangjiakou hub; "
    "South Hebei (河北南网) has other windows (冀发改能价〔2025〕1115号). STAND-IN RATIOS: the "
    "notice's ratios were not found; 1.5:1:0.5 and critical = peak +20 % are the national "
    "minimums of 发改价格〔2021〕1093号.",
)

_HA = _schedule(
    "CN-HA",
    (
        _period((1, 12), "V 0-7, F 7-16, P 16-17, CP 17-19, P 19-24"),
        _period((2, 6), "V 0-7, F 7-16, P 16-24"),
        _period((3, 4, 5, 9, 10, 11), "V 0-6, F 6-11, V 11-14, F 14-16, P 16-24"),
        _period((7, 8), "V 0-7, F 7-16, P 16-20, CP 20-23, P 23-24"),
    ),
    {P: 1.72, V: 0.45, CP: round(1.72 * 1.2, 4)},
    "河南省发展改革委《关于调整工商业分时电价有关事项的通知》豫发改价管〔2024〕283号, "
    "amending 豫发改价管〔2022〕867号",
    f"{_QUOTE_WINDOWS}. NOT VERIFIED: the ratios 1.72:1:0.45 and critical = peak +20 % "
    "come from an unofficial summary that calls them proposed; the notice's own figures were "
    "not found.",
)

_NX = _schedule(
    "CN-NX",
    (_period(ALL_MONTHS, "F 0-7, P 7-9, V 9-17, P 17-23, F 23-24"),),
    {P: 1.5, V: 0.5},
    "宁夏回族自治区发展改革委《关于优化峰谷分时电价机制的通知》宁发改价格（管理）〔2023〕7号, "
    "windows as restated in 宁发改运行〔2024〕952号",
    f"{_QUOTE_WINDOWS}. STAND-IN RATIOS: the notice's ratios were not found; "
    "1.5:1:0.5 is the national minimum. The notice's critical peak and deep valley (inside "
    "the peak and valley windows) are left out: their hours were not found.",
)

# --- Provinces without sites of ours (added because their notices were easy to check) ------

_SN = _schedule(
    "CN-SN",
    (
        _period((7, 8), "V 0-6, F 6-11, V 11-14, F 14-16, P 16-19, CP 19-21, P 21-23, F 23-24"),
        _period((1, 12), "V 0-6, F 6-11, V 11-14, F 14-16, P 16-18, CP 18-20, P 20-23, F 23-24"),
        _period((2, 3, 4, 5, 6, 9, 10, 11), "V 0-6, F 6-11, V 11-14, F 14-16, P 16-23, F 23-24"),
    ),
    {P: 1.7, V: 0.3, CP: 1.9},
    "陕西省发展改革委《关于调整陕西电网分时电价政策有关事项的通知》陕发改价格〔2025〕1034号",
    f"{_AGENT_NOTE}; a second repository agrees. Peak and valley +/-70 %; critical peak +90 % "
    "of flat (Jul-Aug 19-21, Jan and Dec 18-20). Shaanxi grid; Yulin is served separately.",
)

_YN = _schedule(
    "CN-YN",
    (_period(ALL_MONTHS, "F 0-2, V 2-6, F 6-7, P 7-9, F 9-12, V 12-16, F 16-18, P 18-24"),),
    {P: 1.5, V: 0.5},
    "云南省发展改革委 分时电价通知 云发改价格〔2026〕51号 (effective 2026-03-01); same windows "
    "and ratios as 云发改价格〔2024〕924号",
    f"{_AGENT_NOTE} (924号) and a repository transcription of 51号. Peak +50 %, valley -50 %; "
    "the critical peak is suspended.",
)

_HN = _schedule(
    "CN-HN",
    (
        _period((7, 8), "V 0-6, F 6-12, V 12-14, F 14-16, P 16-20, CP 20-24"),
        _period((1, 12), "V 0-6, F 6-12, V 12-14, F 14-16, P 16-18, CP 18-22, P 22-24"),
        _period((2, 3, 4, 5, 6, 9, 10, 11), "V 0-6, F 6-12, V 12-14, F 14-16, P 16-24"),
    ),
    {P: 1.6, V: 0.4, CP: round(1.6 * 1.2, 4)},
    "湖南省发展改革委《关于优化我省分时电价政策有关事项的通知》湘发改价调〔2025〕385号",
    f"{_AGENT_NOTE}. Peak +60 %, valley -60 %, critical peak = peak +20 %.",
)

_QH = _schedule(
    "CN-QH",
    (_period(ALL_MONTHS, "F 0-7, P 7-9, V 9-17, P 17-23, F 23-24"),),
    {P: 1.63, V: 0.35},
    "青海省发展改革委《关于优化完善我省峰谷分时电价政策的通知》青发改价格〔2024〕179号",
    f"{_AGENT_NOTE}. Peak +63 %, valley -65 % on the purchase price.",
)

_FJ = _schedule(
    "CN-FJ",
    (
        _period(
            (7, 8, 9),
            "V 0-8, F 8-10, P 10-11, CP 11-12, F 12-15, P 15-17, CP 17-18, P 18-20, F 20-21, "
            "P 21-22, F 22-24",
        ),
        _period(
            (1, 2, 3, 4, 5, 6, 10, 11, 12),
            "V 0-8, F 8-10, P 10-12, F 12-15, P 15-20, F 20-21, P 21-22, F 22-24",
        ),
    ),
    {P: 1.58, V: 0.37, CP: 1.8},
    "福建省发展改革委《关于完善分时电价政策的通知》闽发改规〔2023〕8号",
    f"{_AGENT_NOTE}. Peak +58 %, valley -63 %, critical peak +80 % (read as on flat, like the "
    "other two) in Jul-Sep 11-12 and 17-18.",
)

_HI = _schedule(
    "CN-HI",
    (
        _period((5, 6, 7), "V 0-7, F 7-10, P 10-12, F 12-16, P 16-20, CP 20-22, F 22-23, V 23-24"),
        _period(
            (1, 2, 3, 4, 8, 9, 10, 11, 12),
            "V 0-7, F 7-10, P 10-12, F 12-16, P 16-22, F 22-23, V 23-24",
        ),
    ),
    {P: 1.7, V: 0.4, CP: round(1.7 * 1.2, 4)},
    "海南省发展改革委《关于进一步完善峰谷分时电价机制有关问题的通知》琼发改规〔2021〕18号",
    f"{_AGENT_NOTE}. Peak +70 %, valley -60 %, critical peak = peak +20 % in May-Jul 20-22.",
)

_JL = _schedule(
    "CN-JL",
    (
        _period(
            ALL_MONTHS,
            "V 0-5, F 5-8, P 8-10, F 10-11, V 11-14, F 14-16, P 16-21, F 21-23, V 23-24",
        ),
    ),
    {P: 1.55, V: 0.45},
    "吉林省发展改革委《关于进一步优化分时电价政策的通知》吉发改价格〔2025〕11号",
    f"{_AGENT_NOTE}. Peak and valley +/-55 %; the critical peak is started ad hoc (not modelled).",
)

_JS = _schedule(
    "CN-JS",
    (
        _period((1, 2, 6, 7, 8, 12), "V 0-6, F 6-11, V 11-13, F 13-14, P 14-22, F 22-24"),
        _period((3, 4, 5, 9, 10, 11), "F 0-2, V 2-6, F 6-10, V 10-14, F 14-15, P 15-22, F 22-24"),
    ),
    {P: 1.8, V: 0.35},
    "江苏省发展改革委《关于优化工商业分时电价结构促进新能源消纳降低企业用电成本支持经济社会"
    "发展的通知》苏发改价格发〔2025〕426号",
    f"{_AGENT_NOTE}; a second repository agrees. Two-part users: peak +80 %, valley -65 %. "
    "Not modelled: the critical peak of >= 315 kVA industry (it has half-hour boundaries) and "
    "the holiday deep valley.",
)

_SD = _schedule(
    "CN-SD",
    (
        _period(
            (1, 2, 12),
            "F 0-2, V 2-6, F 6-7, P 7-9, F 9-10, V 10-11, DV 11-14, V 14-15, F 15-16, CP 16-19, "
            "P 19-21, F 21-24",
        ),
        _period(
            (3, 4, 5),
            "F 0-10, V 10-11, DV 11-14, V 14-15, F 15-17, CP 17-20, P 20-22, F 22-24",
        ),
        _period((6,), "F 0-7, V 7-12, F 12-16, P 16-17, CP 17-22, P 22-23, F 23-24"),
        _period((7, 8), "F 0-1, V 1-6, F 6-16, P 16-17, CP 17-22, P 22-23, F 23-24"),
        _period(
            (9, 10, 11),
            "F 0-10, V 10-11, DV 11-14, V 14-15, F 15-16, P 16-17, CP 17-19, P 19-21, F 21-24",
        ),
    ),
    {P: 1.7, V: 0.3, CP: 2.0, DV: 0.1},
    "山东省发展改革委 分时电价政策 鲁发改价格〔2023〕914号, windows for 2025 (restated for "
    "2026 by the Jinan development and reform commission)",
    f"{_AGENT_NOTE}; a second repository gives the same windows for 2026. Peak +70 %, valley "
    "-70 %, critical peak +100 %, deep valley -90 % (all on flat). Shandong revises its "
    "windows yearly.",
)

PROVINCE_TOU: dict[str, TouSchedule] = {
    s.zone: s
    for s in sorted(
        (
            _AH,
            _BJ,
            _CQ,
            _FJ,
            _GD,
            _GS,
            _GX,
            _GZ,
            _HA,
            _HB,
            _HE,
            _HI,
            _HN,
            _JL,
            _JS,
            _NM,
            _NX,
            _QH,
            _SC,
            _SD,
            _SH,
            _SN,
            _TJ,
            _XJ,
            _YN,
            _ZJ,
        ),
        key=lambda s: s.zone,
    )
}
"""Time-of-use schedules of the provinces that host our sites (and a few more), by zone."""
