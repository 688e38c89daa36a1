"""Deterministic, realistic, distinct example records for demos and load tests.

A type's schema names a generator per field with ``"x-example"`` (``"kind"`` or
``"kind:argument"``); fields without one take their ``const`` or a value from
their ``enum``. So a new type needs data only, as long as it uses this
vocabulary. Records are a pure function of (type, seed, index, as-of date):
the same command prints the same 10,000 records on every machine on the same
day, and the index is folded into identifying numbers so no two records of one
seed collide. Dates are drawn back from the as-of date (default: today in
China Standard Time) so that every record issues a licence valid that day and
for at least a year after it: an example that has already expired would be
refused by issuance and fail every verification.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final

from signing.types._formats import (
    org_code_check_char,
    patent_check_char,
    resident_id_check_char,
    vin_check_char,
)
from trust.licence_id import uscc_check_char

__all__ = ["AUTHORITY_KINDS", "GENERATORS", "RELATIVES", "format_problem", "generate",
           "today_cst"]


@dataclass(frozen=True)
class _Region:
    code: str  # GB/T 2260 county-level code
    prefix: str  # address prefix down to the district
    plate: str  # vehicle plate prefix (province character + city letter)
    abbr: str  # one-character short name used in document numbers
    police: str
    market: str
    traffic: str
    hrss: str

    @property
    def province(self) -> str:
        """北京市 / 广东省: the province-level unit."""
        return self.prefix[:3]

    @property
    def city(self) -> str:
        """北京市 / 深圳市: the prefecture-level city (a municipality is its own)."""
        return self.prefix[3:6] if self.prefix[2] == "省" else self.prefix[:3]

    @property
    def county(self) -> str:
        """北京市朝阳区 / 深圳市南山区: the county-level district with its city."""
        return self.prefix[3:] if self.prefix[2] == "省" else self.prefix


# code | address prefix | plate prefix | short name | police | market regulator | traffic police
# | human resources and social security bureau
_REGIONS: Final = tuple(
    _Region(*row.split("|"))
    for row in (
        "110105|北京市朝阳区|京A|京|北京市公安局朝阳分局"
        "|北京市朝阳区市场监督管理局|北京市公安局公安交通管理局|北京市人力资源和社会保障局",
        "310115|上海市浦东新区|沪A|沪|上海市公安局浦东分局"
        "|上海市浦东新区市场监督管理局|上海市公安局交通警察总队|上海市人力资源和社会保障局",
        "440305|广东省深圳市南山区|粤B|粤|深圳市公安局南山分局"
        "|深圳市市场监督管理局南山监管局|深圳市公安局交通警察支队|深圳市人力资源和社会保障局",
        "440106|广东省广州市天河区|粤A|粤|广州市公安局天河区分局"
        "|广州市天河区市场监督管理局|广州市公安局交通警察支队|广州市人力资源和社会保障局",
        "330106|浙江省杭州市西湖区|浙A|浙|杭州市公安局西湖区分局"
        "|杭州市西湖区市场监督管理局|杭州市公安局交通警察支队|杭州市人力资源和社会保障局",
        "320102|江苏省南京市玄武区|苏A|苏|南京市公安局玄武分局"
        "|南京市玄武区市场监督管理局|南京市公安局交通管理局|南京市人力资源和社会保障局",
        "510107|四川省成都市武侯区|川A|川|成都市公安局武侯区分局"
        "|成都市武侯区市场监督管理局|成都市公安局交通管理局|成都市人力资源和社会保障局",
        "420106|湖北省武汉市武昌区|鄂A|鄂|武汉市公安局武昌区分局"
        "|武汉市武昌区市场监督管理局|武汉市公安局交通管理局|武汉市人力资源和社会保障局",
        "610113|陕西省西安市雁塔区|陕A|陕|西安市公安局雁塔分局"
        "|西安市雁塔区市场监督管理局|西安市公安局交通警察支队|西安市人力资源和社会保障局",
        "370202|山东省青岛市市南区|鲁B|鲁|青岛市公安局市南分局"
        "|青岛市市南区市场监督管理局|青岛市公安局交通警察支队|青岛市人力资源和社会保障局",
        "350102|福建省福州市鼓楼区|闽A|闽|福州市公安局鼓楼分局"
        "|福州市鼓楼区市场监督管理局|福州市公安局交通警察支队|福州市人力资源和社会保障局",
        "120101|天津市和平区|津A|津|天津市公安局和平分局"
        "|天津市和平区市场监督管理局|天津市公安局交通管理局|天津市人力资源和社会保障局",
    )
)

_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭"  # one character each
    "曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
)
_COMPOUND_SURNAMES: Final = ("欧阳", "司马", "上官", "诸葛")
_MALE_GIVEN: Final = (
    "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "华", "建国", "晓东", "浩然", "宇轩",
    "思远", "子豪", "志强", "俊杰", "文博", "天佑", "国栋", "海峰", "立新", "振华",
)  # fmt: skip
_FEMALE_GIVEN: Final = (
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀英", "桂兰", "子涵", "雨桐", "欣怡",
    "嘉怡", "梓萱", "婉清", "佳琪", "思琪", "晓燕", "玉兰", "美玲", "慧敏", "雪梅", "诗涵",
)  # fmt: skip
_ETHNIC_MINORITIES: Final = ("回", "满", "蒙古", "壮", "维吾尔", "苗", "彝", "土家", "藏", "朝鲜")
_STREETS: Final = (
    "建国路", "人民路", "解放路", "中山路", "和平路", "长安街", "文化路", "学府路", "滨江大道",
    "科技园路", "新华路", "光明街", "东风路", "朝阳路", "青年路", "花园路",
)  # fmt: skip
_BRANDS: Final = (
    "华信", "盛达", "恒通", "瑞丰", "博远", "新锐", "嘉禾", "天成", "鼎盛", "汇智", "云帆",
    "金桥", "远航", "明德", "启航", "宏图", "安泰", "众诚", "海纳", "锦程",
)  # fmt: skip
_TRADES: Final = (
    ("科技", "技术开发、技术咨询、技术服务；软件开发；计算机系统服务"),
    ("贸易", "销售日用品、服装、电子产品；货物进出口；技术进出口"),
    ("餐饮管理", "餐饮服务；餐饮管理；食品经营（销售预包装食品）"),
    ("建筑工程", "建设工程施工；建筑劳务分包；住宅室内装饰装修"),
    ("文化传媒", "组织文化艺术交流活动；广告设计、代理；会议及展览服务"),
    ("电子商务", "互联网销售（除销售需要许可的商品）；供应链管理服务"),
    ("物流", "普通货物仓储服务；国内货物运输代理；道路货物运输"),
    ("信息技术", "信息系统集成服务；数据处理和存储支持服务；信息技术咨询服务"),
    ("食品", "食品生产；食品销售；农副产品销售"),
    ("医疗器械", "第一类医疗器械销售；第二类医疗器械销售；健康咨询服务"),
)  # fmt: skip
_VEHICLES: Final = (  # (WMI, brand and model as printed on 行驶证)
    ("LSV", "大众汽车牌SVW71810KM"),
    ("LFV", "一汽-大众牌FV7147FBDBG"),
    ("LGB", "东风日产牌DFL7168VBL2"),
    ("LVS", "长安福特牌CAF7150A6"),
    ("LBV", "宝马牌BMW7200PL"),
    ("LHG", "本田牌HG7152ABC6A"),
    ("LGW", "长城牌CC6460RM0F"),
    ("LC0", "比亚迪牌BYD7152WT6HEVC1"),
)
# Authorities by kind, named from the record's region ({province}, {city}, {county},
# {city_short}); police, market, traffic and hrss are spelled out per region above.
_AUTHORITY_NAMES: Final = {
    "civil": "{county}民政局",
    "natres": "{city}规划和自然资源局",
    "realestate": "{city}不动产登记中心",
    "housing": "{city}住房和城乡建设局",
    "hpf": "{city}住房公积金管理中心",
    "education": "{county}教育局",
    "health": "{county}卫生健康委员会",
    "hospital": "{county}人民医院",
    "cdc": "{county}疾病预防控制中心",
    "blood": "{city}中心血站",
    "medsec": "{city}医疗保障局",
    "transport": "{city}交通运输局",
    "maritime": "{city_short}海事局",
    "env": "{city}生态环境局",
    "agri": "{county}农业农村局",
    "forestry": "{county}林业局",
    "water": "{city}水务局",
    "emergency": "{city}应急管理局",
    "fire": "{city}消防救援支队",
    "culture": "{city}文化和旅游局",
    "press": "{city}新闻出版局",
    "radio": "{province}广播电视局",
    "justice": "{city}司法局",
    "tax": "国家税务总局{county}税务局",
    "veterans": "{county}退役军人事务局",
    "disabled": "{county}残疾人联合会",
    "drug": "{province}药品监督管理局",
    "customs": "{city_short}海关",
    "commerce": "{city}商务局",
    "post": "{province}邮政管理局",
    "telecom": "{province}通信管理局",
    "science": "{city}科学技术局",
    "sports": "{county}体育局",
    "tobacco": "{county}烟草专卖局",
    "religion": "{county}民族宗教事务局",
    "government": "{county}人民政府",
    "immigration": "公安部出入境管理局",
    "language": "{province}语言文字工作委员会",
}
AUTHORITY_KINDS: Final = frozenset({"police", "market", "traffic", "hrss", *_AUTHORITY_NAMES})
RELATIVES: Final = frozenset({"spouse", "father", "mother", "child", "wife", "husband",
                              "colleague"})
_LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXY"
_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_]+)([0-9]*)\}")
_FORMAT_FIXED: Final = frozenset({"region", "abbr", "province", "city", "county", "city_short",
                                  "district", "year", "ymd", "id", "uscc", "L"})
_FORMAT_SIZED: Final = frozenset({"n", "r"})
_DISABILITY: Final = ("视力残疾", "听力残疾", "言语残疾", "肢体残疾", "智力残疾", "精神残疾",
                      "多重残疾")
_GRADES: Final = ("一级", "二级", "三级", "四级")
_SCOPE_NOTE: Final = "。（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
_VIN_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_PLATE_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_USCC_BODY_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# A prime multiplier coprime to every modulus used below (10**k, 31**5, 34**5,
# 18,000): n -> n * _MIX + offset is then injective below the modulus.
_MIX: Final = 982_451_653
_BIRTH_BASE: Final = date(1955, 1, 1)
_BIRTH_SPAN_DAYS: Final = 18_000  # births 1955-01-01 .. 2004-04
_ISSUE_SPAN_YEARS: Final = 10  # issue dates up to 10 years before the as-of date
_CST: Final = timezone(timedelta(hours=8))


def today_cst() -> date:
    """Today's calendar date in China Standard Time (licence dates are Beijing dates)."""
    return datetime.now(_CST).date()


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _between(rng: random.Random, first: date, last: date) -> date:
    if last <= first:
        return first
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def _encode(number: int, alphabet: str, width: int) -> str:
    base = len(alphabet)
    number %= base**width
    out = []
    for _ in range(width):
        number, digit = divmod(number, base)
        out.append(alphabet[digit])
    return "".join(reversed(out))


class _Context:
    """The facts one record is generated from; fields read them in schema order."""

    def __init__(self, type_code: str, index: int, seed: int, years: tuple[int, ...],
                 as_of: date) -> None:
        self.rng = random.Random(f"{type_code}:{seed}:{index}")  # noqa: S311 - demo data
        self.index = index
        self.seed = seed
        self.years = years
        self.values: dict[str, Any] = {}
        n_regions = len(_REGIONS)
        self.region = _REGIONS[(index + seed) % n_regions]
        # (region, birth date) is unique for the first 12 x 18,000 indexes.
        self.slot = index // n_regions
        self.male = self.rng.random() < 0.5
        self.birth = _BIRTH_BASE + timedelta(days=self.unique(4_507) % _BIRTH_SPAN_DAYS)
        adult = _add_years(self.birth, 18) + timedelta(days=30)
        self.valid_years = self.rng.choice(years) if years else 10
        # issued before the as-of date, and (for types with a validity) so recently
        # that issue + valid_years still lies at least a year after it
        first = max(adult, _add_years(as_of, -_ISSUE_SPAN_YEARS))
        if years:
            first = max(first, _add_years(as_of, 1 - self.valid_years))
        # (a one-year licence starts yesterday: valid today, and for a year less a day)
        self.issue = _between(self.rng, min(first, as_of - timedelta(days=1)),
                              as_of - timedelta(days=1))
        self.vehicle = self.rng.choice(_VEHICLES)
        self.as_of = as_of
        self._cached: dict[str, Any] = {}

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """One value per record: a licence number embedding the ID number and the ID
        number field must agree."""
        if key not in self._cached:
            self._cached[key] = make()
        return self._cached[key]

    def relative(self, slot: str) -> dict[str, Any]:
        """Another person of the record (spouse, parent, child), consistent in itself."""
        found: dict[str, Any] = self.once(f"relative:{slot}", lambda: self._make_relative(slot))
        return found

    def _make_relative(self, slot: str) -> dict[str, Any]:
        """``wife``/``husband``: whichever of the record's person and spouse it is;
        ``colleague``: an unrelated adult (a principal, a lessor)."""
        if slot in ("wife", "husband"):
            if (slot == "husband") == self.male:
                return {"name": self.name(), "sex": "男" if self.male else "女",
                        "birth_date": self.birth.isoformat(), "id_number": self.id_number()}
            return self.relative("spouse")
        rng = self.rng
        if slot == "colleague":
            male = rng.random() < 0.5
            birth = _BIRTH_BASE + timedelta(days=rng.randrange(_BIRTH_SPAN_DAYS))
        elif slot == "child":  # born shortly before the licence (a birth certificate)
            birth = self.issue - timedelta(days=rng.randrange(1, 40))
            male = rng.random() < 0.5
        else:
            male = {"father": True, "mother": False}.get(slot, not self.male)
            shift = rng.randrange(-2_000, 2_000) if slot == "spouse" else -rng.randrange(
                8_000, 12_000)
            birth = min(self.birth + timedelta(days=shift), _add_years(self.issue, -20))
        given = _MALE_GIVEN if male else _FEMALE_GIVEN
        order = rng.randrange(500) * 2 + (1 if male else 0)
        first17 = f"{self.region.code}{birth:%Y%m%d}{order:03d}"
        return {"name": rng.choice(_SURNAMES) + rng.choice(given), "sex": "男" if male else "女",
                "birth_date": birth.isoformat(),
                "id_number": first17 + resident_id_check_char(first17)}

    def patent_filing(self) -> date:
        """When the patent was applied for: one to three years before it was granted."""
        found: date = self.once("patent_filing", lambda: _between(
            self.rng, _add_years(self.issue, -3), _add_years(self.issue, -1)))
        return found

    def patent_number(self) -> str:
        """ZL + the CNIPA application number (filing year, 1 = invention, serial) + check."""
        digits = f"{self.patent_filing().year}1{self.serial('7', 271_828_182)}"
        return f"ZL{digits}.{patent_check_char(digits)}"

    def disability(self) -> tuple[int, int]:
        """(category 1..7, grade 1..4) of a 残疾人证, as its number encodes them."""
        found: tuple[int, int] = self.once(
            "disability", lambda: (self.rng.randrange(1, 8), self.rng.randrange(1, 5)))
        return found

    def fill(self, template: str) -> str:
        """A number or a name from a ``format:`` template (see :func:`format_problem`)."""
        region = self.region

        def one(match: re.Match[str]) -> str:
            key, width = match.group(1), match.group(2)
            if key == "n":
                return self.serial(width, 161_803_398)
            if key == "r":
                return "".join(str(self.rng.randrange(10)) for _ in range(int(width)))
            fixed = {
                "region": region.code, "abbr": region.abbr, "province": region.province,
                "city": region.city, "county": region.county,
                "city_short": region.city.removesuffix("市"),
                "district": region.county.removeprefix(region.city),
                "year": str(self.issue.year), "ymd": f"{self.issue:%Y%m%d}",
            }
            if key in fixed:
                return fixed[key]
            if key == "id":
                return str(self.id_number())
            if key == "uscc":
                return str(self.uscc())
            return _LETTERS[self.rng.randrange(len(_LETTERS))]  # "L"

        return _PLACEHOLDER.sub(one, template)

    def unique(self, offset: int) -> int:
        """A number injective in the region slot (per seed), scrambled to look random."""
        shift = (self.index % len(_REGIONS)) * 7_777  # regions differ, each stays injective
        return self.slot * _MIX + offset + self.seed * 104_729 + shift

    def name(self) -> str:
        def make() -> str:
            given = _MALE_GIVEN if self.male else _FEMALE_GIVEN
            if self.rng.random() < 0.03:
                surname = self.rng.choice(_COMPOUND_SURNAMES)
            else:
                surname = self.rng.choice(_SURNAMES)
            return surname + self.rng.choice(given)

        return str(self.once("name", make))

    def id_number(self) -> str:
        def make() -> str:
            order = self.rng.randrange(500) * 2 + (1 if self.male else 0)
            first17 = f"{self.region.code}{self.birth:%Y%m%d}{order:03d}"
            return first17 + resident_id_check_char(first17)

        return str(self.once("id_number", make))

    def address(self) -> str:
        rng = self.rng
        return (
            f"{self.region.prefix}{rng.choice(_STREETS)}{rng.randrange(1, 300)}号"
            f"{rng.randrange(1, 20)}号楼{rng.randrange(1, 7)}单元"
            f"{rng.randrange(1, 30)}0{rng.randrange(1, 5)}室"
        )

    def uscc(self, kind: str = "91") -> str:
        """A unified social credit code; ``kind`` is the registering authority and
        organisation type (GB 32100: 91 company, 92 individual business, 93 farmers'
        cooperative, 12 public institution, 51/52/53 social organisations, 31 law firm)."""
        def make() -> str:
            body = "MA" + _encode(self.unique(8_675_309), _USCC_BODY_ALPHABET, 5)
            body += _USCC_BODY_ALPHABET[self.rng.randrange(len(_USCC_BODY_ALPHABET))]
            first17 = f"{kind or '91'}{self.region.code}{body}{org_code_check_char(body)}"
            return first17 + uscc_check_char(first17)

        return str(self.once("uscc", make))

    def org_name(self) -> str:
        trade = _TRADES[self.index % len(_TRADES)][0]
        city = self.region.prefix[3:6] if self.region.prefix[2] == "省" else self.region.prefix[:2]
        return f"{city}{self.rng.choice(_BRANDS)}{trade}有限公司"

    def scope(self) -> str:
        return _TRADES[self.index % len(_TRADES)][1] + _SCOPE_NOTE

    def plate(self) -> str:
        return self.region.plate + _encode(self.unique(2_718_281), _PLATE_ALPHABET, 5)

    def vin(self) -> str:
        wmi = self.vehicle[0]
        vds = "".join(self.rng.choice(_VIN_ALPHABET) for _ in range(5))
        year = "EFGHJKLMNPRS"[self.rng.randrange(12)]  # 2014 .. 2025
        serial = f"{(self.index * _MIX + 314_159 + self.seed) % 1_000_000:06d}"
        draft = f"{wmi}{vds}0{year}{self.rng.choice('ABCDEFGH')}{serial}"
        return draft[:8] + vin_check_char(draft) + draft[9:]

    def serial(self, width: str, offset: int) -> str:
        digits = int(width)
        return f"{(self.index * _MIX + offset + self.seed * 104_729) % 10**digits:0{digits}d}"

    def decision_no(self) -> str:
        return f"{self.region.abbr}市监许〔{self.issue.year}〕{self.unique(577) % 9000 + 1000}号"


def _iso(day: date) -> str:
    return day.isoformat()


GENERATORS: Final[Mapping[str, Callable[[_Context, str], Any]]] = {
    "person.name": lambda c, _: c.name(),
    "person.sex": lambda c, _: "男" if c.male else "女",
    "person.birth_date": lambda c, _: _iso(c.birth),
    "person.id_number": lambda c, _: c.id_number(),
    "person.address": lambda c, _: c.address(),
    "person.ethnicity": lambda c, _: (
        "汉" if c.rng.random() < 0.9 else c.rng.choice(_ETHNIC_MINORITIES)
    ),
    "org.name": lambda c, _: c.org_name(),
    "org.uscc": lambda c, kind: c.uscc(kind),
    "org.capital": lambda c, _: f"{c.rng.choice((10, 50, 100, 200, 500, 1000, 3000))}万元",
    "org.scope": lambda c, _: c.scope(),
    "org.address": lambda c, _: (
        f"{c.region.prefix}{c.rng.choice(_STREETS)}{c.rng.randrange(1, 500)}号"
    ),
    "authority": lambda c, kind: (
        c.fill(_AUTHORITY_NAMES[kind]) if kind in _AUTHORITY_NAMES else getattr(c.region, kind)
    ),
    "date.issue": lambda c, _: _iso(c.issue),
    "date.before_issue": lambda c, arg: _iso(
        _between(c.rng, max(_add_years(c.birth, 18), _add_years(c.issue, -int(arg or 10))), c.issue)
    ),
    "validity.start": lambda c, _: _iso(c.issue),
    "validity.end": lambda c, _: _iso(_add_years(c.issue, c.valid_years)),
    "vehicle.plate": lambda c, _: c.plate(),
    "vehicle.vin": lambda c, _: c.vin(),
    "vehicle.model": lambda c, _: c.vehicle[1],
    "vehicle.engine_no": lambda c, _: "".join(c.rng.choice(_VIN_ALPHABET) for _ in range(8)),
    "serial": lambda c, width: c.serial(width, 141_421_356_237),
    "letter_serial": lambda c, width: (
        "ABCDEFGHJKLMN"[c.rng.randrange(13)] + c.serial(width, 1_732_050_807)
    ),
    "literal": lambda c, text: text,
    "approval.decision_no": lambda c, _: c.decision_no(),
    "format": lambda c, template: c.fill(template),
    "choice": lambda c, options: c.fill(c.rng.choice(options.split("|"))),
    "patent.number": lambda c, _: c.patent_number(),
    "patent.filing_date": lambda c, _: _iso(c.patent_filing()),
    "decimal": lambda c, spec: _decimal(c, spec),
    "date.recent": lambda c, days: _iso(c.issue - timedelta(days=c.rng.randrange(int(days) + 1))),
    "relative.name": lambda c, slot: c.relative(slot)["name"],
    "relative.sex": lambda c, slot: c.relative(slot)["sex"],
    "relative.birth_date": lambda c, slot: c.relative(slot)["birth_date"],
    "relative.id_number": lambda c, slot: c.relative(slot)["id_number"],
    "person.disability_number": lambda c, _: (
        c.id_number() + "".join(str(n) for n in c.disability())
    ),
    "person.disability_category": lambda c, _: _DISABILITY[c.disability()[0] - 1],
    "person.disability_grade": lambda c, _: _GRADES[c.disability()[1] - 1],
    "approval.content": lambda c, _: (
        f"经审查，{c.values.get('applicant_name', '申请人')}"
        f"提交的{c.values.get('item', '行政许可')}"
        "申请材料齐全、符合法定形式，符合《中华人民共和国行政许可法》及相关规定，决定准予行政许可。"
    ),
}


def _decimal(ctx: _Context, spec: str) -> str:
    """``decimal:<min>:<max>:<places>``, e.g. an area in square metres."""
    low, high, places = spec.split(":")
    value = ctx.rng.uniform(float(low), float(high))
    return f"{value:.{int(places)}f}"


def format_problem(kind: str, arg: str) -> str | None:
    """Why a generator argument is unusable (checked when a type loads), or None."""
    if kind == "format":
        for match in _PLACEHOLDER.finditer(arg):
            key, width = match.group(1), match.group(2)
            if key in _FORMAT_SIZED and width.isdigit() and 1 <= int(width) <= 12:
                continue
            if key in _FORMAT_FIXED and not width:
                continue
            return f"unknown placeholder {match.group(0)!r}"
        return None
    if kind == "choice":
        if not arg or not all(arg.split("|")):
            return "choice needs a|b|c"
        return format_problem("format", arg)
    if kind == "decimal":
        parts = arg.split(":")
        try:
            low, high, places = float(parts[0]), float(parts[1]), int(parts[2])
        except (ValueError, IndexError):
            return "decimal needs <min>:<max>:<places>"
        return None if len(parts) == 3 and low <= high and 0 <= places <= 6 else (
            "decimal needs <min>:<max>:<places>")
    if kind == "date.recent":
        return None if arg.isdigit() and int(arg) <= 3650 else "date.recent needs a day count"
    if kind.startswith("relative."):
        return None if arg in RELATIVES else f"relative must be one of {sorted(RELATIVES)}"
    if kind == "org.uscc":
        return None if not arg or re.fullmatch(r"[1-9A-Y][1-9]", arg) else (
            "org.uscc takes a two-character GB 32100 prefix")
    if kind == "authority":
        return None if arg in AUTHORITY_KINDS else (
            f"authority kind must be one of {sorted(AUTHORITY_KINDS)}")
    return None


def hint_of(prop: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (generator, argument) a schema property asks for, if any."""
    hint = prop.get("x-example")
    if not isinstance(hint, str):
        return None
    kind, _, arg = hint.partition(":")
    return kind, arg


def generate(
    type_code: str, schema: Mapping[str, Any], years: tuple[int, ...], index: int, seed: int,
    as_of: date | None = None,
) -> dict[str, Any]:
    """One record; properties in schema order, generated from the shared context."""
    ctx = _Context(type_code, index, seed, years, as_of or today_cst())
    out: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        hint = hint_of(prop)
        if hint is not None:
            value = GENERATORS[hint[0]](ctx, hint[1])
        elif "const" in prop:
            value = prop["const"]
        elif "enum" in prop:
            value = ctx.rng.choice(prop["enum"])
        else:
            continue  # optional field without a generator: left out
        out[name] = value
        ctx.values[name] = value
    return out
