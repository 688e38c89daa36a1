"""Write the catalogue's licence types: signing/types/definitions/<CODE>.{type,schema}.json.

The JSON files are the committed truth and are reviewed as data; this script only
keeps the ~110 generated ones consistent with each other (one definition of
``name``, ``id_number``, ``uscc``..., the same masks, labels and validity rules).
The six hand-written types (BL DL VL SSC RIC APR) are never touched.

    python scripts/gen_licence_types.py           # (re)write the files
    python scripts/gen_licence_types.py --check   # exit 1 if a file differs

Sources: the national 电子证照 catalogue and provincial 高频电子证照 lists for the
types and their printed fields; GB/T 36903 (metadata: holder, holder code,
issuing authority, validity); the licences' own rules where public (GB 11643
resident ID, GB 32100 USCC, HJ 608 discharge permit = USCC + 3 digits + P,
CNIPA application-number check character, 残疾人证 = ID + category + grade,
marriage registration numbers J<GB/T 2260 code>-<year>-<serial>, food
licences JY/SC + 14 digits). Numbers with no public rule get a realistic
pattern only: no invented check characters.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "signing" / "types" / "definitions"
HAND_WRITTEN = frozenset({"BL", "DL", "VL", "SSC", "RIC", "APR"})
CJK = "\\u4e00-\\u9fff"
DATE = {"$ref": "#/$defs/date"}


# -- fields ---------------------------------------------------------------------------


@dataclass(frozen=True)
class F:
    """One record field: name, printed labels, JSON Schema (with its x-example)."""

    name: str
    zh: str
    en: str
    schema: dict[str, Any]
    optional: bool = False

    def __call__(self, *, zh: str | None = None, en: str | None = None, name: str | None = None,
                 **schema: Any) -> F:
        """The same field with another label, name or schema details."""
        return F(name or self.name, zh or self.zh, en or self.en, {**self.schema, **schema},
                 self.optional)


def text(name: str, zh: str, en: str, max_len: int, gen: str, *, min_len: int = 1) -> F:
    return F(name, zh, en, {"type": "string", "minLength": min_len, "maxLength": max_len,
                            "x-example": gen})


def code(name: str, zh: str, en: str, pattern: str, gen: str, *, fmt: str | None = None,
         max_len: int | None = None) -> F:
    schema: dict[str, Any] = {"type": "string", "pattern": pattern}
    if max_len is not None:
        schema["maxLength"] = max_len
    if fmt is not None:
        schema["format"] = fmt
    schema["x-example"] = gen
    return F(name, zh, en, schema)


def enum(name: str, zh: str, en: str, *values: str) -> F:
    return F(name, zh, en, {"enum": list(values)})


def day(name: str, zh: str, en: str, gen: str) -> F:
    return F(name, zh, en, {**DATE, "x-example": gen})


def number(name: str, zh: str, en: str, low: float, high: float, places: int = 2) -> F:
    pattern = "^[0-9]{1,9}$" if places == 0 else f"^[0-9]{{1,9}}\\.[0-9]{{{places}}}$"
    return code(name, zh, en, pattern, f"decimal:{low}:{high}:{places}")


def person_name(name: str, zh: str, en: str, gen: str) -> F:
    return F(name, zh, en, {"type": "string", "pattern": f"^[{CJK}·]{{2,20}}$", "maxLength": 20,
                            "x-example": gen})


def id_number(name: str, zh: str, en: str, gen: str) -> F:
    return code(name, zh, en, "^[0-9]{17}[0-9X]$", gen, fmt="cn-resident-id")


# person
NAME = person_name("name", "姓名", "Name", "person.name")
SEX = F("sex", "性别", "Sex", {"enum": ["男", "女"], "x-example": "person.sex"})
BIRTH = day("birth_date", "出生日期", "Date of birth", "person.birth_date")
ID = id_number("id_number", "公民身份号码", "Citizen identity number", "person.id_number")
ETHNICITY = code("ethnicity", "民族", "Ethnicity", f"^[{CJK}]{{1,6}}$", "person.ethnicity")
NATIONALITY = text("nationality", "国籍", "Nationality", 20, "literal:中国")
ADDRESS = text("address", "住址", "Address", 80, "person.address", min_len=4)
# organisation
ORG = text("name", "名称", "Name", 100, "org.name", min_len=2)
USCC = code("uscc", "统一社会信用代码", "Unified social credit code",
            "^[0-9A-HJ-NPQRTUWXY]{18}$", "org.uscc", fmt="cn-uscc")
LEGAL = person_name("legal_representative", "法定代表人", "Legal representative", "person.name")
PRINCIPAL = person_name("principal", "主要负责人", "Principal", "relative.name:colleague")
ORG_ADDRESS = text("address", "住所", "Domicile", 120, "org.address", min_len=4)
CAPITAL = code("registered_capital", "注册资本", "Registered capital",
               "^[0-9]+(\\.[0-9]+)?万元(人民币)?$", "org.capital", max_len=20)
# common
ISSUE = day("issue_date", "发证日期", "Issue date", "date.issue")
FROM = day("valid_from", "有效期自", "Valid from", "validity.start")
UNTIL = day("valid_until", "有效期至", "Valid until", "validity.end")
UNTIL_LONG = F("valid_until", "有效期至", "Valid until",
               {"anyOf": [DATE, {"const": "长期"}], "x-example": "validity.end"})


def authority(kind: str, zh: str = "发证机关", en: str = "Issuing authority") -> F:
    gen = kind if ":" in kind else f"authority:{kind}"
    return text("issuing_authority", zh, en, 40, gen, min_len=2)


def number_field(pattern: str, gen: str, zh: str = "证书编号", en: str = "Certificate number",
                 fmt: str | None = None) -> F:
    return code("certificate_number", zh, en, pattern, gen, fmt=fmt)


def pick(name: str, zh: str, en: str, max_len: int, *options: str) -> F:
    return text(name, zh, en, max_len, "choice:" + "|".join(options), min_len=2)


# -- types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class V:
    """Validity: which fields bound it, how long it may be, example lengths."""

    years: tuple[int, ...]
    max_years: int
    start: str = "valid_from"
    end: str = "valid_until"
    long_term: bool = False


@dataclass
class T:
    code: str
    zh: str
    en: str
    holder_kind: str
    authority_class: str
    template: str
    fields: list[F]
    description: str
    validity: V | None = None
    holder_field: str = "name"
    holder_id_field: str | None = None
    mask: dict[str, str] = field(default_factory=dict)
    title: str | None = None
    subtitle: str | None = None
    photo: bool = False
    hidden: tuple[str, ...] = ()  # record fields not printed
    note: str | None = None
    issuer_label: str | None = None


ACCENTS = {
    "public_security": "#1F3F6B", "civil_affairs": "#A0282D", "human_resources_social_security":
    "#B5402A", "medical_security": "#2E6A9E", "health": "#2F7D6D", "education": "#6A3E8E",
    "natural_resources": "#7A5A2B", "housing_urban_rural": "#8A4B24", "transport": "#245C8A",
    "ecology_environment": "#3D7A3A", "market_regulation": "#9C3D2A", "drug_administration":
    "#3F6E8C", "commerce": "#8B5A14", "culture_tourism": "#8E2F5A", "press_publication":
    "#5C4B8A", "radio_television": "#4B5C8A", "agriculture_rural": "#5E7A22",
    "water_resources": "#1E6E8E", "forestry_grassland": "#2F6B3A", "emergency_management":
    "#C0452C", "justice": "#3B3B6D", "taxation": "#7A3B2E", "veterans_affairs": "#8E2424",
    "disabled_persons": "#2C6E91", "post": "#1C7A4A", "ethnic_religious": "#6E5A2C",
    "industry_information": "#2B5E9E", "customs": "#24506E", "science_technology": "#2E5E8E",
    "sports": "#B0532A", "tobacco_monopoly": "#6B4226", "housing_provident_fund": "#8A4B24",
}

CARD, A4, A4L, A5L = "id-card", "certificate-a4", "certificate-a4-landscape", \
    "certificate-a5-landscape"


def person(*extra: F, address: bool = True, ethnicity: bool = False, birth: bool = True) -> list[F]:
    """The person fields of the convention, in the order licences print them."""
    out = [NAME, SEX]
    if ethnicity:
        out.append(ETHNICITY)
    if birth:
        out.append(BIRTH)
    out.append(ID)
    if address:
        out.append(ADDRESS)
    return [*out, *extra]


def organisation(*extra: F, uscc: str = "org.uscc", legal: F | None = LEGAL,
                 address: F = ORG_ADDRESS) -> list[F]:
    out = [ORG, USCC(**{"x-example": uscc})]
    if legal is not None:
        out.append(legal)
    return [*out, address, *extra]


def validity(years: tuple[int, ...], max_years: int, *, long_term: bool = False) -> list[F]:
    return [FROM, UNTIL_LONG if long_term else UNTIL]


# Names that vary with the region of the example record.
HOSPITALS = ("{county}人民医院", "{city}第一人民医院", "{county}妇幼保健院", "{city}中医医院",
             "{county}社区卫生服务中心")
UNIVERSITIES = ("北京大学", "浙江大学", "复旦大学", "南京大学", "武汉大学", "四川大学",
                "西安交通大学", "中山大学", "厦门大学", "山东大学")
MAJORS = ("计算机科学与技术", "临床医学", "法学", "会计学", "土木工程", "汉语言文学",
          "电子信息工程", "国际经济与贸易", "机械设计制造及其自动化", "英语")
LAW_FIRMS = ("{city}金诚律师事务所", "{city}正德律师事务所", "{city}天平律师事务所",
             "{city}明理律师事务所")
SHOPS = ("{district}鑫源便利店", "{district}老王餐馆", "{district}丽人美发店",
         "{district}顺达五金店", "{district}惠民水果店", "{district}晨光文具店")
UNITS = ("{city}建工集团有限公司", "{city}城建设计研究院有限公司", "{city}市政工程有限公司",
         "{city}工程监理有限公司")
PROJECTS = ("{district}人才公寓项目", "{district}中心小学新建工程", "{district}文化中心项目",
            "{district}产业园一期工程", "{district}安置房二期工程")


def catalogue() -> list[T]:
    """Every generated type, grouped by authority, in the order listed."""
    t: list[T] = []

    # -- identity, household, exit and entry (public security) -----------------------
    t.append(T("HHR", "居民户口簿", "Household register", "person", "public_security", A5L, [
        *person(ethnicity=True, address=False),
        pick("birthplace", "出生地", "Place of birth", 40, "{county}"),
        pick("native_place", "籍贯", "Native place", 40, "{province}", "河南省", "山东省",
             "四川省", "湖南省"),
        enum("relation_to_head", "与户主关系", "Relation to the head", "户主", "配偶", "子", "女",
             "父亲", "母亲", "孙子", "孙女"),
        person_name("household_head", "户主姓名", "Head of household", "relative.name:father"),
        enum("household_type", "户别", "Type of household", "家庭户", "集体户"),
        code("household_number", "户号", "Household number", "^[0-9]{9}$", "serial:9"),
        ADDRESS(zh="住址", en="Registered address"),
        day("registration_date", "登记日期", "Registration date", "date.before_issue:10"),
        authority("police", "登记机关", "Registration authority"),
    ], "Household register page of one member (常住人口登记卡), as 户口簿 shows it."))
    t.append(T("RSP", "居住证", "Residence permit", "person", "public_security", CARD, [
        *person(ethnicity=True, address=False),
        ADDRESS(zh="居住地址", en="Residential address"),
        pick("household_address", "户籍地址", "Household registration address", 80,
             "河南省周口市川汇区人民路18号", "安徽省阜阳市颍州区清河路66号",
             "四川省南充市顺庆区五星街12号", "湖南省邵阳市双清区宝庆路9号",
             "江西省赣州市章贡区文清路25号"),
        authority("police", "签发机关"), *validity((3,), 3),
    ], "Residence permit of a person living outside the place of household registration.",
        validity=V((3,), 3), photo=True, title="居住证", subtitle="RESIDENCE PERMIT"))
    t.append(T("HKP", "往来港澳通行证", "Exit-entry permit to Hong Kong and Macao", "person",
               "public_security", CARD, [
        NAME, SEX, BIRTH, ID,
        pick("birthplace", "出生地点", "Place of birth", 20, "{province}"),
        code("permit_number", "证件号码", "Permit number", "^C[0-9A-HJ-NP-Z][0-9]{7}$",
             "format:C{L}{n7}"),
        ISSUE(**{"x-example": "validity.start"}), UNTIL,
        authority("immigration", "签发机关"),
    ], "Electronic exit-entry permit for travelling to Hong Kong and Macao (10 years for adults).",
        validity=V((10,), 10, start="issue_date"), holder_id_field="id_number", photo=True,
        hidden=("id_number",), subtitle="EXIT-ENTRY PERMIT FOR HONG KONG AND MACAO",
        mask={"permit_number": "last4"}))
    t.append(T("TWP", "往来台湾通行证", "Exit-entry permit to Taiwan", "person",
               "public_security", CARD, [
        NAME, SEX, BIRTH, ID,
        pick("birthplace", "出生地点", "Place of birth", 20, "{province}"),
        code("permit_number", "证件号码", "Permit number", "^L[0-9]{8}$", "format:L{n8}"),
        ISSUE(**{"x-example": "validity.start"}), UNTIL, authority("immigration", "签发机关"),
    ], "Mainland residents' travel permit to Taiwan (10 years for adults).",
        validity=V((10,), 10, start="issue_date"), photo=True, hidden=("id_number",),
        subtitle="EXIT-ENTRY PERMIT FOR TAIWAN", mask={"permit_number": "last4"}))
    t.append(T("PPT", "普通护照", "Ordinary passport", "person", "public_security", CARD, [
        NAME, SEX, BIRTH, ID,
        pick("birthplace", "出生地点", "Place of birth", 20, "{province}"),
        code("passport_number", "护照号码", "Passport number", "^E[A-HJ-NP-Z0-9][0-9]{7}$",
             "format:E{L}{n7}"),
        ISSUE(**{"x-example": "validity.start"}), UNTIL, authority("immigration", "签发机关"),
    ], "Data page of an ordinary passport of the PRC (10 years for adults).",
        validity=V((10,), 10, start="issue_date"), photo=True, hidden=("id_number",),
        title="中华人民共和国护照", subtitle="PASSPORT", mask={"passport_number": "last4"}))
    t.append(T("NCC", "无犯罪记录证明", "Certificate of no criminal record", "person",
               "public_security", A4, [
        number_field(f"^[{CJK}]公证明〔[0-9]{{4}}〕[0-9]{{6}}号$",
                     "format:{abbr}公证明〔{year}〕{n6}号", zh="证明编号"),
        NAME, SEX, ID,
        enum("purpose", "用途", "Purpose", "就业", "出国（境）", "入学", "资格申请", "其他"),
        text("finding", "查询结果", "Finding", 200,
             "literal:经查询，未发现该人在本地有犯罪记录。"),
        ISSUE(**{"x-example": "validity.start"}), UNTIL,
    ], "Certificate that the police found no criminal record of the person (valid 3 months "
       "by practice; the licence itself carries a 1-year limit).",
        validity=V((1,), 1, start="issue_date"), issuer_label="出具单位"))
    t.append(T("VRC", "机动车登记证书", "Motor vehicle registration certificate", "person",
               "public_security", A4, [
        code("registration_number", "登记证书编号", "Certificate number", "^[0-9]{12}$",
             "serial:12"),
        NAME(zh="机动车所有人", en="Owner"), ID(zh="身份证明号码", en="Identity number"),
        code("plate_number", "号牌号码", "Plate number",
             "^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
             "[A-HJ-NP-Z][A-HJ-NP-Z0-9]{5,6}$", "vehicle.plate"),
        enum("vehicle_type", "车辆类型", "Vehicle type", "小型普通客车", "小型轿车",
             "小型越野客车", "轻型普通货车"),
        text("model", "车辆品牌/型号", "Brand and model", 40, "vehicle.model", min_len=2),
        code("vin", "车辆识别代号", "Vehicle identification number", "^[A-HJ-NPR-Z0-9]{17}$",
             "vehicle.vin", fmt="vin"),
        code("engine_number", "发动机号", "Engine number", "^[A-Z0-9]{6,20}$",
             "vehicle.engine_no"),
        enum("colour", "车身颜色", "Colour", "白", "黑", "灰", "银", "蓝", "红"),
        enum("fuel_type", "燃料种类", "Fuel", "汽油", "柴油", "纯电动", "插电式混合动力"),
        enum("use_character", "使用性质", "Use character", "非营运", "营运", "租赁"),
        day("register_date", "登记日期", "Registration date", "date.issue"),
        authority("traffic", "登记机关"),
    ], "The vehicle's registration record (绿本); the owner is the holder.",
        mask={"name": "middle", "id_number": "last4", "vin": "last4", "engine_number": "last4"}))
    t.append(T("SGC", "保安员证", "Security guard certificate", "person", "public_security",
               CARD, [
        *person(address=False),
        number_field(f"^[{CJK}]保[0-9]{{10}}$", "format:{abbr}保{n10}"),
        ISSUE, authority("police"),
    ], "Security guard certificate, issued after the national examination.", photo=True,
        subtitle="SECURITY GUARD CERTIFICATE"))
    t.append(T("STP", "特种行业许可证", "Special trade permit (hotels)", "organisation",
               "public_security", A4L, [
        *organisation(),
        enum("trade", "经营行业", "Trade", "旅馆业", "公章刻制业", "典当业"),
        number_field(f"^[{CJK}]公特行字〔[0-9]{{4}}〕[0-9]{{5}}号$",
                     "format:{abbr}公特行字〔{year}〕{n5}号"),
        ISSUE, authority("police"),
    ], "Public security permit for hotels, seal engraving and pawnshops.", issuer_label="发证机关"))
    t.append(T("VIM", "机动车检验合格标志", "Vehicle inspection mark", "person",
               "public_security", CARD, [
        NAME(zh="所有人", en="Owner"), ID,
        code("plate_number", "号牌号码", "Plate number",
             "^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
             "[A-HJ-NP-Z][A-HJ-NP-Z0-9]{5,6}$", "vehicle.plate"),
        enum("vehicle_type", "车辆类型", "Vehicle type", "小型普通客车", "小型轿车",
             "小型越野客车"),
        code("vin", "车辆识别代号", "Vehicle identification number", "^[A-HJ-NPR-Z0-9]{17}$",
             "vehicle.vin", fmt="vin"),
        number_field("^[0-9]{15}$", "format:{n12}{r3}", zh="标志编号", en="Mark number"),
        ISSUE(**{"x-example": "validity.start"}), UNTIL(zh="检验有效期至"),
        authority("traffic"),
    ], "Electronic inspection mark (电子检验标志); the owner is the holder.",
        validity=V((2,), 2, start="issue_date"), hidden=("id_number",),
        mask={"name": "middle", "id_number": "last4", "vin": "last4"}))

    # -- civil affairs ------------------------------------------------------------------
    spouse = [
        person_name("spouse_name", "配偶姓名", "Spouse's name", "relative.name:spouse"),
        F("spouse_sex", "配偶性别", "Spouse's sex", {"enum": ["男", "女"],
                                                  "x-example": "relative.sex:spouse"}),
        day("spouse_birth_date", "配偶出生日期", "Spouse's date of birth",
            "relative.birth_date:spouse"),
        id_number("spouse_id_number", "配偶身份证件号", "Spouse's identity number",
                  "relative.id_number:spouse"),
        NATIONALITY(name="spouse_nationality", zh="配偶国籍", en="Spouse's nationality"),
    ]
    t.append(T("MC", "结婚证", "Marriage certificate", "person", "civil_affairs", A5L, [
        number_field("^J[0-9]{6}-[0-9]{4}-[0-9]{6}$", "format:J{region}-{year}-{n6}",
                     zh="结婚证字号", en="Certificate number"),
        NAME, SEX, BIRTH, ID, NATIONALITY, *spouse,
        day("registration_date", "登记日期", "Date of registration", "date.issue"),
        authority("civil", "登记机关", "Registration authority"),
    ], "Marriage certificate; each spouse holds one (the holder is the first person).",
        photo=True, hidden=("issuing_authority",), issuer_label="登记机关"))
    t.append(T("DVC", "离婚证", "Divorce certificate", "person", "civil_affairs", A5L, [
        number_field("^L[0-9]{6}-[0-9]{4}-[0-9]{6}$", "format:L{region}-{year}-{n6}",
                     zh="离婚证字号", en="Certificate number"),
        NAME, SEX, BIRTH, ID, NATIONALITY, *spouse,
        day("registration_date", "登记日期", "Date of registration", "date.issue"),
        authority("civil", "登记机关", "Registration authority"),
    ], "Divorce certificate (registered divorce by agreement).", photo=True,
        hidden=("issuing_authority",), issuer_label="登记机关"))
    t.append(T("ADC", "收养登记证", "Adoption registration certificate", "person",
               "civil_affairs", A5L, [
        number_field(f"^（[0-9]{{4}}）[{CJK}]{{2,12}}收字第[0-9]{{6}}号$",
                     "format:（{year}）{county}收字第{n6}号"),
        NAME(zh="收养人姓名"), SEX, ID,
        person_name("adoptee_name", "被收养人姓名", "Adoptee's name", "relative.name:child"),
        F("adoptee_sex", "被收养人性别", "Adoptee's sex",
          {"enum": ["男", "女"], "x-example": "relative.sex:child"}),
        day("adoptee_birth_date", "被收养人出生日期", "Adoptee's date of birth",
            "relative.birth_date:child"),
        day("registration_date", "登记日期", "Date of registration", "date.issue"),
        authority("civil", "登记机关"),
    ], "Adoption registration; the adopter is the holder.", hidden=("issuing_authority",),
        mask={"adoptee_name": "middle"}))
    for code_, zh, en, prefix, kind_zh, unit, names in (
        ("SOC", "社会团体法人登记证书", "Social organisation legal person certificate", "51",
         "社会团体", "{city}科学技术协会",
         "{city}青年志愿者协会|{city}软件行业协会|{city}摄影家协会"),
        ("PNE", "民办非企业单位登记证书", "Private non-enterprise unit certificate", "52",
         "民办非企业单位", "{county}教育局", "{county}阳光社会工作服务中心|{county}康乐养老院|"
         "{county}启智康复中心"),
        ("FDN", "基金会法人登记证书", "Foundation legal person certificate", "53", "基金会",
         "{city}民政局", "{city}慈善基金会|{city}教育发展基金会|{city}青少年发展基金会"),
    ):
        t.append(T(code_, zh, en, "organisation", "civil_affairs", A4L, [
            ORG(**{"x-example": f"choice:{names}"}),
            USCC(**{"x-example": f"org.uscc:{prefix}"}), LEGAL, ORG_ADDRESS,
            text("business_scope", "业务范围", "Scope of activities", 300,
                 "choice:开展公益服务、志愿服务、交流培训|组织学术交流、科普宣传、咨询服务"),
            pick("competent_unit", "业务主管单位", "Competent unit", 40, unit),
            CAPITAL(zh="注册资金", en="Registered funds"), *validity((5,), 5),
            authority("civil", "登记管理机关", "Registration authority"),
        ], f"Registration certificate of a {kind_zh} (USCC prefix {prefix}).",
            validity=V((5,), 5), hidden=("issuing_authority",), issuer_label="登记管理机关"))
    t.append(T("MLA", "最低生活保障证", "Minimum living allowance certificate", "person",
               "civil_affairs", A5L, [
        *person(),
        code("household_size", "保障人口", "Persons covered", "^[1-9]$", "choice:1|2|3|4"),
        number("monthly_amount", "月保障金额（元）", "Monthly amount (CNY)", 600, 3000),
        number_field("^[0-9]{6}低保[0-9]{8}$", "format:{region}低保{n8}"),
        *validity((2,), 3), authority("civil", "审批机关"),
    ], "Urban and rural minimum living allowance (低保) of a household.", validity=V((2,), 3)))
    t.append(T("SPS", "特困人员救助供养证", "Extreme poverty support certificate", "person",
               "civil_affairs", A5L, [
        *person(),
        enum("support_mode", "供养方式", "Mode of support", "分散供养", "集中供养"),
        number_field("^[0-9]{6}特困[0-9]{8}$", "format:{region}特困{n8}"),
        *validity((2,), 3), authority("civil", "审批机关"),
    ], "Support for persons in extreme poverty (特困供养).", validity=V((2,), 3)))
    t.append(T("CRM", "火化证明", "Cremation certificate", "person", "civil_affairs", A4, [
        number_field("^[0-9]{16}$", "format:{region}{year}{r1}{n5}", zh="证明编号"),
        NAME(zh="逝者姓名", en="Name of the deceased"), SEX, ID,
        day("death_date", "死亡日期", "Date of death", "date.recent:20"),
        day("cremation_date", "火化日期", "Date of cremation", "date.issue"),
        pick("funeral_home", "火化单位", "Crematorium", 40, "{city}殡仪馆"),
    ], "Cremation certificate; the holder is the deceased, used by the family."))
    t.append(T("MRR", "婚姻登记记录证明", "Certificate of marriage registration record",
               "person", "civil_affairs", A4, [
        number_field(f"^[{CJK}]{{2,12}}婚证字〔[0-9]{{4}}〕[0-9]{{6}}号$",
                     "format:{county}婚证字〔{year}〕{n6}号", zh="证明编号"),
        NAME, SEX, ID,
        enum("record", "婚姻登记记录", "Registration record", "有结婚登记记录", "有离婚登记记录",
             "无婚姻登记记录"),
        ISSUE(**{"x-example": "validity.start"}), UNTIL,
    ], "What the marriage registry holds about a person (used for property and loans).",
        validity=V((1,), 1, start="issue_date")))
    t.append(T("ELD", "老年人优待证", "Senior citizen concession card", "person",
               "civil_affairs", CARD, [
        *person(), number_field("^[0-9]{14}$", "format:{region}{n8}"), ISSUE,
        authority("civil"),
    ], "Concessions for residents aged 60 and over.", photo=True,
        subtitle="SENIOR CITIZEN CARD"))

    # -- human resources and social security --------------------------------------------
    t.append(T("EPC", "就业创业证", "Employment and entrepreneurship certificate", "person",
               "human_resources_social_security", CARD, [
        *person(address=False),
        enum("employment_status", "就业状态", "Employment status", "登记失业", "就业",
             "自主创业", "灵活就业"),
        number_field("^[0-9]{18}$", "format:{region}{year}{n8}"), ISSUE, authority("hrss"),
    ], "Employment and entrepreneurship certificate (records unemployment and job support).",
        subtitle="EMPLOYMENT CERTIFICATE"))
    t.append(T("SKC", "职业技能等级证书", "Vocational skill level certificate", "person",
               "human_resources_social_security", A5L, [
        *person(address=False),
        enum("occupation", "职业（工种）", "Occupation", "电工", "焊工", "车工", "育婴员",
             "保育师", "美容师", "中式烹调师", "汽车维修工", "养老护理员", "网络与信息安全管理员"),
        enum("skill_level", "职业技能等级", "Skill level", "五级/初级工", "四级/中级工",
             "三级/高级工", "二级/技师", "一级/高级技师"),
        number_field("^S[0-9]{19}$", "format:S{region}{year}{n9}"),
        pick("evaluation_org", "评价机构", "Evaluation body", 60, "{city}职业技能鉴定指导中心",
             "{city}技师学院"),
        ISSUE,
    ], "Vocational skill level certificate (national occupational standards)."))
    t.append(T("PTQ", "专业技术资格证书", "Professional title certificate", "person",
               "human_resources_social_security", A5L, [
        *person(address=False),
        enum("series", "职称系列", "Title series", "工程技术", "卫生技术", "中小学教师",
             "经济", "会计", "农业技术"),
        enum("title", "资格名称", "Title", "助理工程师", "工程师", "高级工程师", "主治医师",
             "副主任医师", "一级教师", "高级教师", "中级经济师", "中级会计师"),
        text("specialty", "专业", "Specialty", 30, "choice:建筑工程|计算机应用|内科学|"
             "中学数学|财务管理|农学", min_len=2),
        day("approval_date", "评审通过时间", "Date approved", "date.issue"),
        number_field("^[0-9]{18}$", "format:{region}{year}{n8}"),
        authority("hrss", "发证单位"),
    ], "Professional and technical title (职称) certificate.", hidden=("issuing_authority",)))
    t.append(T("HRL", "人力资源服务许可证", "Human resources service licence", "organisation",
               "human_resources_social_security", A4L, [
        *organisation(),
        enum("service_scope", "服务范围", "Scope of services",
             "职业介绍、人力资源供求信息收集和发布",
             "人力资源招聘、职业指导、人力资源测评", "网络招聘、高级人才寻访"),
        number_field("^人服证字〔[0-9]{4}〕第[0-9]{10}号$",
                     "format:人服证字〔{year}〕第{region}{n4}号"),
        *validity((5,), 5), authority("hrss"),
    ], "Licence of a human resources service agency.", validity=V((5,), 5),
        hidden=("issuing_authority",)))
    t.append(T("LDL", "劳务派遣经营许可证", "Labour dispatch licence", "organisation",
               "human_resources_social_security", A4L, [
        *organisation(CAPITAL),
        number_field("^[0-9]{14}$", "format:{region}{year}{n4}"),
        *validity((3,), 3), authority("hrss"),
    ], "Labour dispatch business licence (3 years).", validity=V((3,), 3),
        hidden=("issuing_authority",)))
    t.append(T("RET", "退休证", "Retirement certificate", "person",
               "human_resources_social_security", CARD, [
        *person(address=False),
        text("employer", "原工作单位", "Former employer", 60, "org.name", min_len=2),
        day("retirement_date", "退休时间", "Date of retirement", "date.issue"),
        number_field(f"^[{CJK}]退字第[0-9]{{8}}号$", "format:{abbr}退字第{n8}号"),
        authority("hrss"),
    ], "Retirement certificate of an employee.", photo=True, subtitle="RETIREMENT CERTIFICATE"))
    t.append(T("SIP", "社会保险参保缴费证明", "Social insurance contribution record", "person",
               "human_resources_social_security", A4, [
        number_field("^[0-9]{20}$", "format:{region}{ymd}{n6}", zh="证明编号"),
        NAME, ID,
        text("employer", "参保单位", "Employer", 60, "org.name", min_len=2),
        enum("insurance_types", "参保险种", "Insurance", "企业职工基本养老保险、失业保险、工伤保险",
             "城乡居民基本养老保险", "企业职工基本养老保险、失业保险"),
        code("start_month", "参保起始年月", "Insured since", "^[0-9]{4}-[0-9]{2}$",
             "choice:2012-03|2014-07|2016-01|2018-09|2020-05"),
        code("months_paid", "累计缴费月数", "Months paid", "^[0-9]{1,3}$",
             "choice:36|60|96|120|148"),
        ISSUE(**{"x-example": "validity.start"}), UNTIL, authority("hrss", "出具机构"),
    ], "Proof of social insurance contributions (for housing, schooling, residence).",
        validity=V((1,), 1, start="issue_date"), hidden=("issuing_authority",)))
    t.append(T("FWP", "外国人工作许可证", "Foreigner's work permit", "person",
               "science_technology", A5L, [
        code("name", "姓名", "Name", "^[A-Z][A-Z ,.'-]{1,59}$",
             "choice:JOHN SMITH|ANNA MUELLER|PIERRE DUBOIS|YUKI TANAKA|KIM MINJUN|"
             "MARIA ROSSI|DAVID BROWN|SARAH WILSON", max_len=60),
        enum("sex", "性别", "Sex", "男", "女"),
        enum("nationality", "国籍", "Nationality", "美国", "英国", "德国", "法国", "日本",
             "韩国", "意大利", "加拿大", "澳大利亚", "新加坡"),
        BIRTH,
        code("passport_number", "护照号码", "Passport number", "^[A-Z0-9]{6,12}$",
             "format:{L}{n8}"),
        text("employer", "工作单位", "Employer", 100, "org.name", min_len=2),
        enum("category", "类别", "Category", "A类（外国高端人才）", "B类（外国专业人才）",
             "C类（其他外国人员）"),
        number_field("^[0-9]{15}$", "format:{region}{year}{n5}", zh="许可证号",
                     en="Permit number"),
        *validity((2,), 5), authority("science", "发证机关"),
    ], "Work permit of a foreign national (foreign experts administration).",
        validity=V((2,), 5), holder_id_field="passport_number", photo=True,
        mask={"name": "middle", "passport_number": "last4", "birth_date": "year"},
        hidden=("issuing_authority",)))

    # -- medical security -----------------------------------------------------------------
    t.append(T("MIV", "医保电子凭证", "Medical insurance e-voucher", "person",
               "medical_security", CARD, [
        *person(address=False, birth=False),
        enum("insurance_type", "参保险种", "Insurance", "职工基本医疗保险",
             "城乡居民基本医疗保险"),
        pick("insured_place", "参保地", "Insured in", 20, "{city}"),
        code("insurance_number", "医保编号", "Insurance number", "^[0-9]{16}$",
             "format:{region}{n10}"),
        ISSUE, authority("medsec"),
    ], "Medical insurance e-voucher (national medical security platform).",
        title="医保电子凭证", subtitle="MEDICAL INSURANCE E-VOUCHER",
        mask={"insurance_number": "last4"}))
    t.append(T("CDC", "门诊慢特病待遇认定书", "Chronic disease outpatient entitlement",
               "person", "medical_security", A5L, [
        *person(address=False),
        enum("disease", "认定病种", "Disease", "高血压", "糖尿病", "慢性心力衰竭",
             "冠心病", "恶性肿瘤门诊放化疗", "尿毒症透析", "慢性阻塞性肺疾病"),
        enum("insurance_type", "参保险种", "Insurance", "职工基本医疗保险",
             "城乡居民基本医疗保险"),
        number_field("^[0-9]{16}$", "format:{region}{year}{n6}", zh="认定编号"),
        *validity((2,), 3), authority("medsec", "认定机构"),
    ], "Entitlement to outpatient treatment of a chronic or special disease.",
        validity=V((2,), 3), mask={"disease": "full"}))

    # -- health ---------------------------------------------------------------------------
    t.append(T("BMC", "出生医学证明", "Medical certificate of birth", "person", "health", A4L, [
        number_field("^[A-Z][0-9]{9}$", "format:{L}{n9}", zh="出生证编号"),
        person_name("name", "新生儿姓名", "Newborn's name", "relative.name:child"),
        F("sex", "性别", "Sex", {"enum": ["男", "女"], "x-example": "relative.sex:child"}),
        day("birth_date", "出生时间", "Date of birth", "relative.birth_date:child"),
        code("birth_time", "出生时刻", "Time of birth", "^([01][0-9]|2[0-3]):[0-5][0-9]$",
             "choice:02:35|08:15|10:42|13:08|16:50|21:27"),
        pick("birthplace", "出生地点", "Place of birth", 40, "{county}"),
        code("gestational_weeks", "出生孕周", "Gestational weeks", "^[2-4][0-9]$",
             "choice:37|38|39|40|41"),
        code("birth_weight", "出生体重（克）", "Weight (g)", "^[0-9]{3,4}$",
             "choice:2950|3150|3300|3480|3650"),
        code("birth_length", "出生身长（厘米）", "Length (cm)", "^[0-9]{2}$",
             "choice:48|49|50|51|52"),
        person_name("mother_name", "母亲姓名", "Mother's name", "relative.name:wife"),
        id_number("mother_id_number", "母亲身份证件号码", "Mother's identity number",
                  "relative.id_number:wife"),
        person_name("father_name", "父亲姓名", "Father's name", "relative.name:husband"),
        id_number("father_id_number", "父亲身份证件号码", "Father's identity number",
                  "relative.id_number:husband"),
        text("delivery_institution", "接生机构", "Delivery institution", 60,
             "choice:" + "|".join(HOSPITALS[:3]), min_len=2),
        ISSUE,
    ], "Birth certificate of a newborn; its mother holds it as guardian (holder id).",
        holder_id_field="mother_id_number", issuer_label="签发机构",
        mask={"name": "middle", "mother_name": "middle", "father_name": "middle",
              "mother_id_number": "last4", "father_id_number": "last4", "birth_date": "year"}))
    t.append(T("VAC", "预防接种证", "Vaccination certificate", "person", "health", A5L, [
        person_name("name", "儿童姓名", "Child's name", "relative.name:child"),
        F("sex", "性别", "Sex", {"enum": ["男", "女"], "x-example": "relative.sex:child"}),
        day("birth_date", "出生日期", "Date of birth", "relative.birth_date:child"),
        person_name("guardian_name", "监护人姓名", "Guardian", "relative.name:wife"),
        id_number("guardian_id_number", "监护人身份证件号码", "Guardian's identity number",
                  "relative.id_number:wife"),
        ADDRESS(zh="现住址"),
        number_field("^[0-9]{18}$", "format:{region}{year}{n8}", zh="接种证编号"),
        text("clinic", "接种单位", "Vaccination clinic", 60,
             "choice:{county}社区卫生服务中心|{county}妇幼保健院", min_len=2),
        ISSUE,
    ], "Child vaccination certificate; the guardian holds it (holder id).",
        holder_id_field="guardian_id_number",
        mask={"name": "middle", "guardian_name": "middle", "guardian_id_number": "last4",
              "address": "full", "birth_date": "year"}))
    practice_place = text("practice_place", "执业地点", "Place of practice", 60,
                          "choice:" + "|".join(HOSPITALS), min_len=2)
    t.append(T("PHY", "医师执业证书", "Physician practising certificate", "person", "health",
               A4, [
        *person(address=False),
        number_field("^[0-9]{15}$", "format:{region}{n9}", zh="证书编码"),
        code("qualification_number", "资格证书编码", "Qualification number", "^[0-9]{15}$",
             "format:{year}{r1}{region}{n4}"),
        enum("practice_level", "执业类别", "Level", "执业医师", "执业助理医师"),
        enum("practice_type", "执业类型", "Type", "临床", "中医", "口腔", "公共卫生"),
        enum("practice_scope", "执业范围", "Scope", "内科专业", "外科专业", "妇产科专业",
             "儿科专业", "眼耳鼻咽喉科专业", "全科医学专业", "医学影像和放射治疗专业",
             "口腔专业", "中医专业"),
        practice_place, ISSUE, authority("health"),
    ], "Physician's practising registration (electronic certificate).", photo=True,
        hidden=("issuing_authority",)))
    t.append(T("NUR", "护士执业证书", "Nurse practising certificate", "person", "health",
               A5L, [
        *person(address=False),
        number_field("^[0-9]{12}$", "format:{year}{n8}"), practice_place,
        *validity((5,), 5), authority("health"),
    ], "Nurse's practising registration.", validity=V((5,), 5), photo=True,
        hidden=("issuing_authority",)))
    t.append(T("PHQ", "医师资格证书", "Physician qualification certificate", "person",
               "health", A4, [
        *person(address=False),
        enum("category", "类别", "Category", "临床", "中医", "口腔", "公共卫生"),
        enum("qualification", "资格", "Qualification", "执业医师", "执业助理医师"),
        text("school", "毕业学校", "School", 40, "choice:" + "|".join(UNIVERSITIES), min_len=2),
        number_field("^[0-9]{15}$", "format:{year}{r1}{region}{n4}", zh="证书编码"),
        ISSUE, authority("literal:中华人民共和国国家卫生健康委员会"),
    ], "Qualification after the national medical licensing examination.", photo=True,
        hidden=("issuing_authority",)))
    t.append(T("PHL", "公共场所卫生许可证", "Public place hygiene licence", "organisation",
               "health", A4L, [
        *organisation(),
        enum("licence_item", "许可项目", "Licensed activity", "住宿业", "沐浴场所",
             "美容美发场所", "游泳场所", "商场（店）", "影剧院"),
        number_field(f"^[{CJK}]卫公证字〔[0-9]{{4}}〕第[0-9]{{12}}号$",
                     "format:{abbr}卫公证字〔{year}〕第{region}{n6}号"),
        *validity((4,), 4), authority("health"),
    ], "Hygiene licence of a public place (hotels, baths, hairdressers...).",
        validity=V((4,), 4), hidden=("issuing_authority",)))
    t.append(T("MIL", "医疗机构执业许可证", "Medical institution practising licence",
               "organisation", "health", A4L, [
        ORG(zh="机构名称", **{"x-example": "choice:" + "|".join(HOSPITALS)}),
        USCC(**{"x-example": "org.uscc:12"}), LEGAL, PRINCIPAL, ORG_ADDRESS(zh="地址"),
        code("registration_number", "登记号", "Registration number", "^[A-Z0-9]{22}$",
             "format:PDY{n5}{region}{r2}A{n5}"),
        enum("institution_type", "类别", "Category", "综合医院", "中医医院", "专科医院",
             "妇幼保健院", "社区卫生服务中心", "门诊部", "诊所"),
        enum("ownership", "经营性质", "Ownership", "政府办", "非政府办（非营利性）",
             "非政府办（营利性）"),
        text("clinical_departments", "诊疗科目", "Clinical departments", 300,
             "choice:预防保健科；全科医疗科；内科；外科；妇产科；儿科；医学检验科；医学影像科|"
             "内科；外科；口腔科；中医科；急诊医学科；麻醉科；康复医学科"),
        code("beds", "床位（张）", "Beds", "^[0-9]{1,4}$", "choice:0|20|99|150|300|500"),
        *validity((5,), 15), authority("health"),
    ], "Practising licence of a hospital or clinic.", validity=V((5,), 15),
        hidden=("issuing_authority",)))
    t.append(T("HCC", "健康证明", "Health certificate (food and public services)", "person",
               "health", CARD, [
        *person(address=False),
        enum("occupation_type", "从业类别", "Occupation", "食品生产经营", "公共场所服务",
             "药品生产经营", "化妆品生产", "集中式供水"),
        number_field("^[0-9]{18}$", "format:{region}{year}{n8}"),
        ISSUE(**{"x-example": "validity.start"}), UNTIL, authority("cdc", "体检机构"),
    ], "Health certificate for food handlers and public service workers (1 year).",
        validity=V((1,), 1, start="issue_date"), photo=True, subtitle="HEALTH CERTIFICATE"))
    t.append(T("RPD", "放射诊疗许可证", "Radiological diagnosis and treatment licence",
               "organisation", "health", A4L, [
        *organisation(uscc="org.uscc:12"),
        enum("scope", "许可项目", "Licensed activities", "X射线影像诊断",
             "X射线影像诊断、介入放射学",
             "核医学", "放射治疗", "X射线影像诊断、核医学、放射治疗"),
        number_field(f"^[{CJK}]卫放证字〔[0-9]{{4}}〕第[0-9]{{6}}号$",
                     "format:{abbr}卫放证字〔{year}〕第{n6}号"),
        ISSUE, authority("health"),
    ], "Licence for radiological diagnosis and treatment.", hidden=("issuing_authority",)))
    t.append(T("BSR", "生育登记服务单", "Birth registration service record", "person",
               "health", A5L, [
        person_name("name", "女方姓名", "Wife's name", "relative.name:wife"),
        id_number("id_number", "女方身份证件号码", "Wife's identity number",
                  "relative.id_number:wife"),
        person_name("spouse_name", "男方姓名", "Husband's name", "relative.name:husband"),
        id_number("spouse_id_number", "男方身份证件号码", "Husband's identity number",
                  "relative.id_number:husband"),
        enum("child_order", "生育孩次", "Child order", "一孩", "二孩", "三孩"),
        number_field("^[0-9]{16}$", "format:{region}{year}{n6}", zh="登记编号"),
        day("registration_date", "登记日期", "Date of registration", "date.issue"),
        authority("health", "登记机关"),
    ], "Birth registration (生育登记) of a couple; the wife holds it.",
        mask={"name": "middle", "id_number": "last4", "spouse_name": "middle",
              "spouse_id_number": "last4"}, hidden=("issuing_authority",)))
    t.append(T("DMC", "居民死亡医学证明", "Medical certificate of death", "person", "health",
               A4, [
        number_field("^[A-Z][0-9]{9}$", "format:{L}{n9}"),
        NAME(zh="死者姓名", en="Name of the deceased"), SEX, ETHNICITY, BIRTH, ID,
        day("death_date", "死亡日期", "Date of death", "date.recent:5"),
        enum("death_place", "死亡地点", "Place of death", "医疗卫生机构", "来院途中", "家中",
             "养老服务机构", "其他场所"),
        enum("cause", "根本死亡原因", "Underlying cause", "恶性肿瘤", "脑血管病",
             "心脏病", "呼吸系统疾病", "损伤和中毒", "其他疾病"),
        authority("hospital", "填报单位", "Reporting institution"), ISSUE,
    ], "Medical certificate of death (推断死亡原因); the holder is the deceased.",
        mask={"name": "middle", "id_number": "last4", "cause": "full", "birth_date": "year"},
        hidden=("issuing_authority",)))
    t.append(T("BDC", "无偿献血证", "Voluntary blood donation certificate", "person", "health",
               CARD, [
        *person(address=False, birth=False),
        enum("blood_type", "血型", "Blood type", "A型", "B型", "O型", "AB型"),
        enum("volume", "献血量", "Volume", "200毫升", "300毫升", "400毫升", "1个治疗量"),
        day("donation_date", "献血日期", "Date of donation", "date.issue"),
        number_field("^[0-9]{18}$", "format:{region}{year}{n8}"), authority("blood", "采血机构"),
    ], "Blood donation certificate (entitles family members to blood use refunds).",
        subtitle="BLOOD DONATION CERTIFICATE", mask={"blood_type": "full"}))

    # -- education ------------------------------------------------------------------------
    t.append(T("TQC", "教师资格证书", "Teacher qualification certificate", "person",
               "education", A5L, [
        *person(ethnicity=True, address=False),
        enum("qualification_type", "资格种类", "Qualification", "幼儿园教师资格", "小学教师资格",
             "初级中学教师资格", "高级中学教师资格", "中等职业学校教师资格"),
        enum("subject", "任教学科", "Subject", "语文", "数学", "英语", "物理", "化学",
             "生物", "历史", "地理", "思想政治", "音乐", "体育", "美术", "信息技术"),
        number_field("^[0-9]{17}$", "format:{year}{region}{r1}{n6}"), ISSUE,
        authority("education", "认定机构"),
    ], "Teacher qualification, recognised by the education authority.", photo=True,
        hidden=("issuing_authority",)))
    school = text("school", "学校名称", "Institution", 40, "choice:" + "|".join(UNIVERSITIES),
                  min_len=2)
    major = text("major", "专业", "Major", 30, "choice:" + "|".join(MAJORS), min_len=2)
    t.append(T("GRD", "高等学校毕业证书", "Higher education diploma", "person", "education",
               A4L, [
        NAME, SEX, BIRTH, ID, school, major,
        enum("education_level", "层次", "Level", "本科", "专科", "硕士研究生", "博士研究生"),
        enum("study_length", "学制", "Length of study", "三年", "四年", "五年"),
        day("enrollment_date", "入学日期", "Enrolment", "date.before_issue:4"),
        day("graduation_date", "毕业日期", "Graduation", "date.issue"),
        number_field("^[0-9]{18}$", "format:{r5}{year}{r1}{n8}"),
    ], "Diploma of a regular higher education institution (学信网 registered).", photo=True,
        hidden=("id_number",)))
    t.append(T("DEG", "学士学位证书", "Bachelor's degree certificate", "person", "education",
               A4L, [
        NAME, SEX, BIRTH, ID, school, major,
        enum("degree", "学位", "Degree", "工学学士", "理学学士", "文学学士", "法学学士",
             "经济学学士", "管理学学士", "医学学士", "教育学学士", "艺术学学士"),
        day("conferral_date", "授予日期", "Date conferred", "date.issue"),
        number_field("^[0-9]{16}$", "format:{r5}{r1}{year}{n6}"),
    ], "Bachelor's degree conferred by a degree-granting institution.", photo=True,
        hidden=("id_number",)))
    t.append(T("HSD", "普通高中毕业证书", "Senior high school diploma", "person", "education",
               A5L, [
        NAME, SEX, BIRTH, ID,
        text("school", "学校名称", "School", 40,
             "choice:{county}第一中学|{county}实验中学|{county}外国语学校", min_len=2),
        day("graduation_date", "毕业日期", "Graduation", "date.issue"),
        number_field("^[0-9]{16}$", "format:{region}{year}{n6}"),
        authority("education", "验印机关"),
    ], "Senior high school graduation certificate.", photo=True,
        hidden=("id_number", "issuing_authority")))
    t.append(T("SCH", "民办学校办学许可证", "Private school operating licence", "organisation",
               "education", A4L, [
        ORG(zh="学校名称", **{"x-example": "choice:{county}启明培训学校|{county}育才实验学校|"
                                         "{county}阳光幼儿园"}),
        USCC(**{"x-example": "org.uscc:52"}), LEGAL,
        PRINCIPAL(zh="校长", en="Head"), ORG_ADDRESS(zh="地址"),
        enum("school_type", "学校类型", "Type", "民办幼儿园", "民办小学", "民办初级中学",
             "民办普通高中", "民办非学历文化教育培训机构"),
        text("education_scope", "办学内容", "Programmes", 200,
             "choice:学前教育|小学、初中全日制教育|美术、音乐、书法非学历培训"),
        number_field("^教民[0-9]{15}号$", "format:教民{region}{year}{n5}号"),
        *validity((5,), 5), authority("education"),
    ], "Operating licence of a private school or training institution.", validity=V((5,), 5),
        hidden=("issuing_authority",)))
    t.append(T("PTH", "普通话水平测试等级证书", "Putonghua proficiency certificate", "person",
               "education", A5L, [
        *person(address=False),
        enum("level", "等级", "Level", "一级甲等", "一级乙等", "二级甲等", "二级乙等",
             "三级甲等", "三级乙等"),
        code("score", "成绩", "Score", "^[0-9]{2,3}\\.[0-9]$", "decimal:60:99:1"),
        day("test_date", "测试时间", "Test date", "date.recent:60"),
        number_field("^[0-9]{15}$", "format:{region}{year}{n5}"), ISSUE,
        authority("language", "发证单位"),
    ], "Putonghua (standard Chinese) proficiency test certificate.", photo=True,
        hidden=("issuing_authority",)))

    # -- natural resources, housing ---------------------------------------------------------
    unit_number = code("unit_number", "不动产单元号", "Real estate unit number",
                       "^[0-9]{12}[GJZ][A-HJ-NP-Z][0-9]{5}[FLQW][0-9]{8}$",
                       "format:{region}{r3}{r3}GB{n5}F{r8}")
    t.append(T("RPC", "不动产权证书", "Real estate title certificate", "person",
               "natural_resources", A4, [
        number_field(f"^[{CJK}]（[0-9]{{4}}）[{CJK}]{{2,8}}不动产权第[0-9]{{7}}号$",
                     "format:{abbr}（{year}）{district}不动产权第{n7}号", zh="证书号"),
        NAME(zh="权利人"), ID(zh="身份证件号"),
        enum("co_ownership", "共有情况", "Co-ownership", "单独所有", "共同共有", "按份共有"),
        ADDRESS(zh="坐落", en="Location"), unit_number,
        enum("right_type", "权利类型", "Right", "国有建设用地使用权/房屋所有权"),
        enum("right_nature", "权利性质", "Nature of right", "出让/市场化商品房", "出让/存量房",
             "划拨/房改房"),
        enum("usage", "用途", "Use", "城镇住宅用地/住宅", "商服用地/商业", "城镇住宅用地/车位"),
        number("land_area", "共有宗地面积（平方米）", "Land area (m²)", 1000, 90000),
        number("building_area", "房屋建筑面积（平方米）", "Floor area (m²)", 40, 260),
        day("land_use_from", "土地使用期限起", "Land use from", "validity.start"),
        day("land_use_until", "土地使用期限止", "Land use until", "validity.end"),
        ISSUE(zh="登记日期", en="Registration date"), authority("realestate", "登记机构"),
    ], "Real estate title (house and land use right); the land use term bounds its validity.",
        validity=V((70,), 70, start="land_use_from", end="land_use_until"),
        mask={"name": "middle", "id_number": "last4", "address": "full"},
        hidden=("issuing_authority",)))
    banks = ("中国工商银行股份有限公司{city_short}分行", "中国建设银行股份有限公司{city_short}分行",
             "中国银行股份有限公司{city_short}分行", "中国农业银行股份有限公司{city_short}分行")
    t.append(T("RPP", "不动产登记证明", "Real estate registration certificate (mortgage)",
               "organisation", "natural_resources", A4, [
        number_field(f"^[{CJK}]（[0-9]{{4}}）[{CJK}]{{2,8}}不动产证明第[0-9]{{7}}号$",
                     "format:{abbr}（{year}）{district}不动产证明第{n7}号", zh="证明号"),
        enum("matter", "证明权利或事项", "Right or matter", "抵押权", "预告登记", "地役权"),
        ORG(zh="权利人", **{"x-example": "choice:" + "|".join(banks)}), USCC,
        person_name("obligor", "义务人", "Obligor", "person.name"),
        text("location", "坐落", "Location", 80, "person.address", min_len=4), unit_number,
        number("secured_amount", "被担保主债权数额（万元）", "Secured amount (10k CNY)", 50, 800),
        ISSUE(zh="登记日期", en="Registration date"), authority("realestate", "登记机构"),
    ], "Registration of a mortgage or advance notice; the mortgagee (a bank) holds it.",
        mask={"obligor": "middle", "location": "full"}, hidden=("issuing_authority",)))
    project = text("project_name", "项目名称", "Project", 60, "choice:" + "|".join(PROJECTS),
                   min_len=2)
    location = text("location", "建设位置", "Location", 120, "org.address", min_len=4)
    t.append(T("CLU", "建设用地规划许可证", "Land use planning permit", "organisation",
               "natural_resources", A4L, [
        *organisation(project, location, legal=None),
        number("land_area", "用地面积（平方米）", "Land area (m²)", 2000, 80000),
        enum("land_use", "用地性质", "Land use", "居住用地", "商业用地", "工业用地", "教育用地",
             "公园绿地"),
        number_field("^地字第[0-9]{15}号$", "format:地字第{region}{year}{n5}号"),
        ISSUE, authority("natres"),
    ], "Planning permit for land use of a construction project.",
        hidden=("address", "issuing_authority")))
    t.append(T("CPP", "建设工程规划许可证", "Construction project planning permit",
               "organisation", "natural_resources", A4L, [
        *organisation(project, location, legal=None),
        number("construction_scale", "建设规模（平方米）", "Floor area (m²)", 3000, 120000),
        number_field("^建字第[0-9]{15}号$", "format:建字第{region}{year}{n5}号"),
        ISSUE, authority("natres"),
    ], "Planning permit for a building project.", hidden=("address", "issuing_authority")))
    t.append(T("CPL", "建筑工程施工许可证", "Construction permit", "organisation",
               "housing_urban_rural", A4L, [
        *organisation(project, location, legal=None),
        number("construction_scale", "建设规模（平方米）", "Floor area (m²)", 3000, 120000),
        number("contract_price", "合同价格（万元）", "Contract price (10k CNY)", 500, 50000),
        pick("construction_unit", "施工单位", "Contractor", 60, *UNITS[:1], *UNITS[2:3]),
        pick("supervision_unit", "监理单位", "Supervisor", 60, UNITS[3]),
        enum("contract_period", "合同工期", "Contract period", "365天", "540天", "720天"),
        number_field("^[0-9]{18}$", "format:{region}{year}{n8}", zh="编号"),
        ISSUE, authority("housing"),
    ], "Permit to start construction works.", hidden=("address", "issuing_authority")))
    t.append(T("PSL", "商品房预售许可证", "Commercial housing pre-sale permit",
               "organisation", "housing_urban_rural", A4L, [
        *organisation(project, location),
        enum("buildings", "预售楼栋", "Buildings", "1#、2#楼", "3#楼", "5#、6#、7#楼"),
        number("presale_area", "预售面积（平方米）", "Area for pre-sale (m²)", 5000, 60000),
        enum("usage", "房屋用途", "Use", "住宅", "商业", "办公", "住宅、商业"),
        number_field(f"^[{CJK}]房售证字〔[0-9]{{4}}〕[0-9]{{4}}号$",
                     "format:{abbr}房售证字〔{year}〕{n4}号"),
        ISSUE, authority("housing"),
    ], "Permit to sell commercial housing before completion.",
        hidden=("address", "issuing_authority")))
    t.append(T("CQC", "建筑业企业资质证书", "Construction enterprise qualification",
               "organisation", "housing_urban_rural", A4L, [
        *organisation(CAPITAL),
        enum("economic_nature", "经济性质", "Ownership", "有限责任公司", "股份有限公司",
             "国有企业", "集体企业"),
        enum("qualification_scope", "资质类别及等级", "Qualification and grade",
             "建筑工程施工总承包贰级", "市政公用工程施工总承包叁级", "建筑装修装饰工程专业承包贰级",
             "施工劳务不分等级", "电子与智能化工程专业承包贰级"),
        number_field("^D[0-9]{9}$", "format:D{r3}{n6}"),
        *validity((5,), 5), authority("housing"),
    ], "Qualification of a construction enterprise.", validity=V((5,), 5),
        hidden=("issuing_authority",)))
    t.append(T("ENG", "注册建造师注册证书", "Registered constructor certificate", "person",
               "housing_urban_rural", A5L, [
        *person(address=False),
        text("employer", "聘用企业", "Employer", 100, "org.name", min_len=2),
        enum("level", "级别", "Level", "一级", "二级"),
        enum("specialty", "注册专业", "Specialty", "建筑工程", "市政公用工程", "机电工程",
             "公路工程", "水利水电工程"),
        code("registration_number", "注册编号", "Registration number", f"^[{CJK}][0-9]{{12}}$",
             "format:{abbr}1{r2}{year}{n5}"),
        *validity((3,), 5), authority("housing"),
    ], "Registration of a qualified constructor (建造师).", validity=V((3,), 5), photo=True,
        hidden=("issuing_authority",)))
    t.append(T("REB", "房地产开发企业资质证书", "Real estate developer qualification",
               "organisation", "housing_urban_rural", A4L, [
        *organisation(CAPITAL),
        enum("grade", "资质等级", "Grade", "一级", "二级"),
        number_field(f"^[{CJK}]房开[0-9]{{11}}$", "format:{abbr}房开{region}{n5}"),
        *validity((3,), 3), authority("housing"),
    ], "Qualification of a real estate developer.", validity=V((3,), 3),
        hidden=("issuing_authority",)))
    t.append(T("HFP", "住房公积金缴存证明", "Housing provident fund statement", "person",
               "housing_provident_fund", A4, [
        number_field("^GJJ[0-9]{14}$", "format:GJJ{ymd}{n6}", zh="证明编号"),
        NAME, ID,
        text("employer", "缴存单位", "Employer", 100, "org.name", min_len=2),
        code("account_number", "个人账号", "Account number", "^[0-9]{12}$", "serial:12"),
        number("deposit_base", "缴存基数（元）", "Contribution base (CNY)", 3000, 30000),
        number("monthly_deposit", "月缴存额（元）", "Monthly contribution (CNY)", 300, 6000),
        enum("deposit_status", "缴存状态", "Status", "正常缴存", "封存"),
        code("start_month", "初缴年月", "First month", "^[0-9]{4}-[0-9]{2}$",
             "choice:2012-03|2014-07|2016-01|2018-09|2020-05"),
        ISSUE(**{"x-example": "validity.start"}), UNTIL, authority("hpf", "出具机构"),
    ], "Proof of housing provident fund contributions (loans, residence applications).",
        validity=V((1,), 1, start="issue_date"),
        mask={"name": "middle", "id_number": "last4", "account_number": "last4"},
        hidden=("issuing_authority",)))
    t.append(T("FHR", "房屋租赁登记备案证明", "Housing lease registration certificate",
               "person", "housing_urban_rural", A4, [
        number_field(f"^[{CJK}]房租备字〔[0-9]{{4}}〕[0-9]{{6}}号$",
                     "format:{abbr}房租备字〔{year}〕{n6}号", zh="备案编号"),
        NAME(zh="承租人"), ID,
        person_name("lessor", "出租人", "Lessor", "relative.name:colleague"),
        ADDRESS(zh="房屋坐落", en="Location"),
        number("area", "租赁面积（平方米）", "Area (m²)", 20, 150),
        number("monthly_rent", "月租金（元）", "Monthly rent (CNY)", 1000, 15000),
        FROM(zh="租赁期限自", en="Lease from"), UNTIL(zh="租赁期限至", en="Lease until"),
        authority("housing", "备案机关"),
    ], "Registration of a housing lease (for residence permits, schooling).",
        validity=V((2, 3), 20), mask={"name": "middle", "id_number": "last4",
                                      "lessor": "middle", "address": "full"},
        hidden=("issuing_authority",)))
    t.append(T("DRN", "城镇污水排入排水管网许可证", "Urban drainage permit", "organisation",
               "housing_urban_rural", A4L, [
        *organisation(),
        enum("discharge_type", "排水类别", "Discharge", "生活污水", "工业废水", "医疗污水",
             "餐饮污水"),
        code("outlets", "排水口数量", "Outlets", "^[1-9]$", "choice:1|2|3"),
        number("volume", "排水量（立方米/日）", "Volume (m³/day)", 5, 2000),
        number_field(f"^[{CJK}]排水字第[0-9]{{9}}号$", "format:{abbr}排水字第{year}{n5}号"),
        *validity((5,), 5), authority("water"),
    ], "Permit to discharge sewage into the urban drainage network.", validity=V((5,), 5),
        hidden=("issuing_authority",)))
    t.append(T("GAS", "燃气经营许可证", "Gas operation licence", "organisation",
               "housing_urban_rural", A4L, [
        *organisation(),
        enum("business_type", "经营类别", "Business", "管道燃气", "瓶装液化石油气",
             "压缩天然气（CNG）", "液化天然气（LNG）"),
        pick("business_area", "经营区域", "Area", 40, "{county}"),
        number_field(f"^[{CJK}][0-9]{{14}}$", "format:{abbr}{region}{year}{n4}"),
        *validity((3,), 8), authority("housing"),
    ], "Licence of a gas supply enterprise.", validity=V((3,), 8),
        hidden=("issuing_authority",)))

    # -- transport ------------------------------------------------------------------------
    t.append(T("RTL", "道路运输经营许可证", "Road transport operation licence", "organisation",
               "transport", A4L, [
        *organisation(),
        enum("economic_type", "经济类型", "Ownership", "有限责任公司", "股份有限公司",
             "个体工商户", "国有企业"),
        enum("business_scope", "经营范围", "Scope", "道路普通货物运输", "道路旅客运输（班车客运）",
             "道路旅客运输（包车客运）", "道路危险货物运输", "机动车维修经营（一类）"),
        number_field(f"^[{CJK}]交运管许可字[0-9]{{12}}号$",
                     "format:{abbr}交运管许可字{region}{n6}号"),
        *validity((4,), 8), authority("transport"),
    ], "Licence for road passenger or freight transport and vehicle maintenance.",
        validity=V((4,), 8), hidden=("issuing_authority",)))
    plate = code("plate_number", "车辆号牌", "Plate number",
                 "^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
                 "[A-HJ-NP-Z][A-HJ-NP-Z0-9]{5,6}$", "vehicle.plate")
    t.append(T("RTC", "道路运输证", "Road transport certificate (vehicle)", "organisation",
               "transport", CARD, [
        ORG(zh="业户名称"), USCC, plate,
        enum("vehicle_type", "车辆类型", "Vehicle type", "重型厢式货车", "重型半挂牵引车",
             "轻型厢式货车", "中型普通客车", "大型普通客车"),
        number("approved_load", "核定载质量（吨）", "Rated load (t)", 1, 40, 1),
        enum("business_scope", "经营范围", "Scope", "普通货运", "货物专用运输（集装箱）",
             "省际班车客运", "旅游客运"),
        number_field("^[0-9]{12}$", "serial:12", zh="证号"),
        *validity((3,), 3), authority("transport"),
    ], "Certificate carried by each operating vehicle.", validity=V((3,), 3),
        subtitle="ROAD TRANSPORT CERTIFICATE"))
    t.append(T("QCD", "道路运输从业人员从业资格证", "Road transport practitioner qualification",
               "person", "transport", CARD, [
        *person(address=False),
        enum("category", "从业资格类别", "Qualification", "经营性道路旅客运输驾驶员",
             "经营性道路货物运输驾驶员", "道路危险货物运输驾驶员", "出租汽车驾驶员"),
        number_field("^[0-9]{17}[0-9X]$", "person.id_number", zh="从业资格证号",
                     fmt="cn-resident-id"),
        day("first_issue_date", "初领日期", "First issued", "date.before_issue:6"),
        *validity((6,), 6), authority("transport"),
    ], "Qualification of a professional driver; the number is the resident ID number.",
        validity=V((6,), 6), photo=True, hidden=("id_number",),
        mask={"name": "middle", "id_number": "last4", "certificate_number": "last4",
              "birth_date": "year"}, subtitle="QUALIFICATION CERTIFICATE"))
    t.append(T("TXL", "网络预约出租汽车驾驶员证", "Ride-hailing driver licence", "person",
               "transport", CARD, [
        *person(address=False),
        number_field("^[0-9]{16}$", "format:{region}{n10}"),
        *validity((6,), 6), authority("transport"),
    ], "Permit to drive for a ride-hailing platform.", validity=V((6,), 6), photo=True,
        subtitle="RIDE-HAILING DRIVER LICENCE"))
    t.append(T("TVP", "网络预约出租汽车运输证", "Ride-hailing vehicle permit", "organisation",
               "transport", CARD, [
        ORG(zh="车辆所有人"), USCC, plate,
        text("model", "车辆品牌型号", "Brand and model", 40, "vehicle.model", min_len=2),
        code("vin", "车辆识别代号", "Vehicle identification number", "^[A-HJ-NPR-Z0-9]{17}$",
             "vehicle.vin", fmt="vin"),
        number_field(f"^[{CJK}][0-9]{{10}}$", "format:{abbr}{n10}"),
        *validity((4,), 8), authority("transport"),
    ], "Permit of a vehicle used for ride-hailing.", validity=V((4,), 8),
        subtitle="RIDE-HAILING VEHICLE PERMIT", mask={"vin": "last4"}))
    t.append(T("SEA", "海船船员适任证书", "Seafarer's certificate of competency", "person",
               "transport", A5L, [
        *person(address=False), NATIONALITY,
        enum("capacity", "职务", "Capacity", "船长", "大副", "二副", "三副", "轮机长",
             "大管轮", "二管轮", "三管轮", "值班水手", "值班机工"),
        enum("navigation_area", "航区", "Navigation area", "无限航区", "沿海航区"),
        enum("tonnage", "等级", "Grade", "3000总吨及以上", "500总吨及以上至3000总吨",
             "未满500总吨"),
        number_field("^CN[0-9]{10}$", "format:CN{n10}"),
        *validity((5,), 5), authority("maritime"),
    ], "Certificate of competency (STCW) of a seafarer.", validity=V((5,), 5), photo=True,
        hidden=("issuing_authority",)))

    # -- ecology and environment ------------------------------------------------------------
    t.append(T("PDP", "排污许可证", "Pollutant discharge permit", "organisation",
               "ecology_environment", A4L, [
        *organisation(),
        text("production_address", "生产经营场所地址", "Production site", 120, "org.address",
             min_len=4),
        enum("industry", "行业类别", "Industry", "火力发电", "炼钢", "水泥制造",
             "化学原料制造", "纺织印染", "电子元件制造", "汽车整车制造", "食品制造",
             "化学药品制剂制造"),
        enum("management_type", "管理类别", "Management", "重点管理", "简化管理"),
        number_field("^[0-9A-HJ-NPQRTUWXY]{18}[0-9]{3}P$", "format:{uscc}001P",
                     fmt="cn-discharge-permit"),
        *validity((5,), 5), authority("env"),
    ], "Pollutant discharge permit; the number is the unit's USCC, a site number and P "
       "(HJ 608).", validity=V((5,), 5), hidden=("issuing_authority",)))
    t.append(T("HWL", "危险废物经营许可证", "Hazardous waste operation licence", "organisation",
               "ecology_environment", A4L, [
        *organisation(),
        text("facility_address", "经营设施地址", "Facility", 120, "org.address", min_len=4),
        enum("business_mode", "经营方式", "Mode", "收集、贮存、利用", "收集、贮存、处置", "收集"),
        text("waste_categories", "核准经营危险废物类别", "Waste categories", 200,
             "choice:HW08废矿物油与含矿物油废物|HW49其他废物|HW12染料、涂料废物|"
             "HW17表面处理废物"),
        number("capacity", "经营规模（吨/年）", "Capacity (t/year)", 500, 50000, 0),
        number_field(f"^[{CJK}]危废经第[0-9]{{10}}号$", "format:{abbr}危废经第{region}{n4}号"),
        *validity((5,), 5), authority("env"),
    ], "Licence to collect, store, use or dispose of hazardous waste.", validity=V((5,), 5),
        hidden=("issuing_authority",)))
    t.append(T("RSL", "辐射安全许可证", "Radiation safety licence", "organisation",
               "ecology_environment", A4L, [
        *organisation(),
        enum("scope", "种类和范围", "Kinds and scope", "使用Ⅱ类、Ⅲ类射线装置", "使用Ⅲ类射线装置",
             "使用Ⅴ类放射源", "销售Ⅲ类射线装置"),
        number_field(f"^[{CJK}]环辐证〔[0-9]{{5}}〕$", "format:{abbr}环辐证〔{n5}〕"),
        *validity((5,), 5), authority("env"),
    ], "Licence to produce, sell or use radioisotopes and radiation devices.",
        validity=V((5,), 5), hidden=("issuing_authority",)))
    t.append(T("EIA", "建设项目环境影响评价批复", "Environmental impact approval",
               "organisation", "ecology_environment", A4, [
        code("decision_number", "文号", "Decision number",
             f"^[{CJK}]{{2,4}}环审〔[0-9]{{4}}〕[0-9]{{4}}号$",
             "format:{city_short}环审〔{year}〕{n4}号"),
        ORG(zh="建设单位"), USCC, project, location,
        text("content", "审批意见", "Decision", 600,
             "literal:经审查，该项目在落实环境影响报告表提出的各项生态环境保护措施后，"
             "环境不利影响能够得到缓解和控制，同意该项目建设。"),
        *validity((5,), 5),
    ], "Approval of an environmental impact report (valid 5 years to start works).",
        validity=V((5,), 5)))

    # -- market regulation -------------------------------------------------------------------
    t.append(T("FBL", "食品经营许可证", "Food business licence", "organisation",
               "market_regulation", A4L, [
        *organisation(),
        text("business_premises", "经营场所", "Premises", 120, "org.address", min_len=4),
        enum("main_format", "主体业态", "Business format", "食品销售经营者", "餐饮服务经营者",
             "单位食堂"),
        text("business_items", "经营项目", "Business items", 200,
             "choice:预包装食品（含冷藏冷冻食品）销售；散装食品（含冷藏冷冻食品）销售|"
             "热食类食品制售；冷食类食品制售；自制饮品制售|热食类食品制售；糕点类食品制售"),
        number_field("^JY[0-9]{14}$", "format:JY{r1}{region}{n6}{r1}", zh="许可证编号"),
        *validity((5,), 5), authority("market"),
    ], "Food business licence (JY + 14 digits: format, region, serial, check).",
        validity=V((5,), 5), hidden=("issuing_authority",)))
    t.append(T("FPL", "食品生产许可证", "Food production licence", "organisation",
               "market_regulation", A4L, [
        *organisation(),
        text("production_address", "生产地址", "Production site", 120, "org.address", min_len=4),
        enum("food_category", "食品类别", "Food category", "粮食加工品", "食用油、油脂及其制品",
             "调味品", "肉制品", "乳制品", "饮料", "方便食品", "糕点", "酒类", "茶叶及相关制品"),
        number_field("^SC[0-9]{14}$", "format:SC{r3}{region}{n4}{r1}", zh="许可证编号"),
        *validity((5,), 5), authority("market"),
    ], "Food production licence (SC + 14 digits: category, region, serial, check).",
        validity=V((5,), 5), hidden=("issuing_authority",)))
    t.append(T("IBL", "个体工商户营业执照", "Individual business licence", "organisation",
               "market_regulation", A4L, [
        ORG(**{"x-example": "choice:" + "|".join(SHOPS)}),
        USCC(**{"x-example": "org.uscc:92"}),
        person_name("operator", "经营者", "Operator", "person.name"),
        enum("form", "组成形式", "Form", "个人经营", "家庭经营"),
        text("business_scope", "经营范围", "Business scope", 300,
             "choice:日用百货、食品销售|餐饮服务|理发及美容服务|五金产品零售|文具用品零售"),
        ORG_ADDRESS(zh="经营场所", en="Premises"),
        day("registration_date", "注册日期", "Date of registration", "date.issue"),
    ], "Business licence of an individual business (USCC prefix 92).",
        mask={"operator": "middle"}, issuer_label="登记机关"))
    t.append(T("FSP", "农民专业合作社营业执照", "Farmers' cooperative business licence",
               "organisation", "market_regulation", A4L, [
        ORG(**{"x-example": "choice:{district}绿源果蔬种植专业合作社|"
                            "{district}丰收粮食种植专业合作社|"
                            "{district}兴农生猪养殖专业合作社|{district}茶香茶叶专业合作社"}),
        USCC(**{"x-example": "org.uscc:93"}), LEGAL,
        CAPITAL(name="members_capital", zh="成员出资总额", en="Members' capital"),
        text("business_scope", "业务范围", "Scope", 300,
             "choice:组织收购、销售成员种植的农产品；提供农业技术培训|"
             "为成员提供生猪养殖技术咨询；收购、销售成员养殖的生猪"),
        ORG_ADDRESS,
        day("established_on", "成立日期", "Date of establishment", "date.issue"),
    ], "Business licence of a farmers' specialised cooperative (USCC prefix 93).",
        issuer_label="登记机关"))
    t.append(T("SIL", "特种设备使用登记证", "Special equipment registration certificate",
               "organisation", "market_regulation", A4L, [
        ORG(zh="使用单位"), USCC,
        enum("equipment_type", "设备类别", "Equipment", "电梯", "锅炉", "压力容器", "起重机械",
             "场（厂）内专用机动车辆"),
        code("equipment_code", "设备代码", "Equipment code", "^[0-9]{20}$",
             "format:{r4}{region}{year}{n6}"),
        text("equipment_location", "设备使用地点", "Location", 120, "org.address", min_len=4),
        number_field(f"^[{CJK}][A-Z][0-9]{{5}}（[0-9]{{2}}）$",
                     "format:{abbr}{L}{n5}（{r2}）", zh="使用登记证编号"),
        ISSUE, authority("market"),
    ], "Registration of an elevator, boiler, pressure vessel or crane in use.",
        hidden=("issuing_authority",)))
    t.append(T("SOP", "特种设备安全管理和作业人员证", "Special equipment operator certificate",
               "person", "market_regulation", CARD, [
        *person(address=False),
        enum("work_item", "作业项目", "Work item", "叉车司机（N1）", "电梯修理（T）",
             "起重机指挥（Q1）", "工业锅炉司炉（G1）", "快开门式压力容器操作（R1）",
             "特种设备安全管理（A）"),
        number_field("^[0-9]{17}[0-9X]$", "person.id_number", zh="证书编号",
                     fmt="cn-resident-id"),
        *validity((4,), 4), authority("market"),
    ], "Certificate of a special equipment operator; the number is the resident ID number.",
        validity=V((4,), 4), photo=True, hidden=("id_number",),
        mask={"name": "middle", "id_number": "last4", "certificate_number": "last4",
              "birth_date": "year"}, subtitle="OPERATOR CERTIFICATE"))
    t.append(T("TMC", "商标注册证", "Trademark registration certificate", "organisation",
               "market_regulation", A4, [
        code("registration_number", "注册号", "Registration number", "^[0-9]{8}$", "serial:8"),
        text("trademark", "商标", "Trademark", 30, "choice:华信|云帆|锦程|启航|鼎盛|汇智"),
        ORG(zh="注册人"), USCC, ORG_ADDRESS(zh="注册人地址"),
        code("nice_class", "核定使用类别", "Nice class", "^第[0-9]{1,2}类$",
             "choice:第9类|第25类|第30类|第35类|第42类"),
        text("goods", "核定使用商品/服务项目", "Goods and services", 300,
             "choice:计算机程序（可下载软件）；计算机软件（已录制）|广告；替他人推销；进出口代理|"
             "服装；鞋；帽|茶；咖啡；糕点"),
        FROM(zh="注册有效期自"), UNTIL(zh="注册有效期至"),
        authority("literal:国家知识产权局", "发证机关"),
    ], "Registered trademark (10 years, renewable).", validity=V((10,), 10),
        hidden=("issuing_authority",)))
    t.append(T("PAT", "发明专利证书", "Invention patent certificate", "organisation",
               "market_regulation", A4, [
        number_field("^第[0-9]{7}号$", "format:第{n7}号", zh="证书号"),
        code("patent_number", "专利号", "Patent number", "^ZL[0-9]{12}\\.[0-9X]$",
             "patent.number", fmt="cn-patent"),
        text("title", "发明名称", "Title of invention", 100,
             "choice:一种基于国密算法的电子证照签章方法|一种锂电池正极材料的制备方法|"
             "一种农作物病虫害图像识别系统及方法|一种建筑外墙保温板及其施工方法", min_len=4),
        person_name("inventor", "发明人", "Inventor", "relative.name:colleague"),
        ORG(zh="专利权人"), USCC, ORG_ADDRESS(zh="地址"),
        day("filing_date", "专利申请日", "Filing date", "patent.filing_date"),
        day("grant_date", "授权公告日", "Grant date", "date.issue"),
        authority("literal:国家知识产权局", "发证机关"),
    ], "Invention patent; the patent number carries the CNIPA check character.",
        hidden=("issuing_authority", "address"),
        note="专利权期限为二十年，自申请日起算。"))
    t.append(T("IPL", "全国工业产品生产许可证", "Industrial product production licence",
               "organisation", "market_regulation", A4L, [
        *organisation(legal=None),
        text("production_address", "生产地址", "Production site", 120, "org.address", min_len=4),
        enum("product", "产品名称", "Product", "电线电缆", "危险化学品", "化肥", "建筑用钢筋",
             "水泥", "人民币鉴别仪", "食品相关产品"),
        number_field(f"^[{CJK}]XK[0-9]{{2}}-[0-9]{{3}}-[0-9]{{5}}$",
                     "format:{abbr}XK{r2}-{r3}-{n5}"),
        *validity((5,), 5), authority("market"),
    ], "Production licence of an industrial product under licensing.", validity=V((5,), 5),
        hidden=("issuing_authority",)))
    t.append(T("FWR", "食品小作坊登记证", "Small food workshop registration", "organisation",
               "market_regulation", A4L, [
        ORG(**{"x-example": "choice:{district}李记面食坊|{district}老字号豆腐坊|"
                            "{district}陈家卤味作坊"}),
        USCC(**{"x-example": "org.uscc:92"}),
        person_name("operator", "经营者", "Operator", "person.name"),
        ORG_ADDRESS(zh="生产经营场所"),
        enum("food_category", "生产加工食品种类", "Foods", "糕点", "豆制品", "熟肉制品", "面制品"),
        number_field(f"^[{CJK}]食登[0-9]{{12}}$", "format:{abbr}食登{region}{n6}"),
        *validity((3,), 5), authority("market"),
    ], "Provincial registration of a small food workshop.", validity=V((3,), 5),
        mask={"operator": "middle"}, hidden=("issuing_authority",)))

    # -- drugs and medical devices -----------------------------------------------------------
    device_fields = [
        PRINCIPAL(zh="企业负责人"),
        text("premises", "经营场所", "Premises", 120, "org.address", min_len=4),
        text("warehouse", "库房地址", "Warehouse", 120, "org.address", min_len=4),
        enum("business_mode", "经营方式", "Mode", "批发", "零售", "批零兼营"),
    ]
    t.append(T("MDL", "医疗器械经营许可证", "Medical device business licence (class III)",
               "organisation", "drug_administration", A4L, [
        *organisation(*device_fields),
        text("business_scope", "经营范围", "Scope", 300,
             "choice:第三类医疗器械：6815注射穿刺器械，6866医用高分子材料及制品|"
             "第三类医疗器械：体外诊断试剂；6846植入材料和人工器官"),
        number_field(f"^[{CJK}]{{2,6}}药监械经营许[0-9]{{8}}号$",
                     "format:{abbr}{district}药监械经营许{year}{n4}号"),
        *validity((5,), 5), authority("market"),
    ], "Licence to trade class III medical devices.", validity=V((5,), 5),
        hidden=("issuing_authority",)))
    t.append(T("DBR", "第二类医疗器械经营备案凭证", "Class II medical device filing",
               "organisation", "drug_administration", A4L, [
        *organisation(*device_fields),
        text("business_scope", "经营范围", "Scope", 300,
             "choice:第二类医疗器械：6821医用电子仪器设备，6864医用卫生材料及敷料|"
             "第二类医疗器械：6840临床检验分析仪器，6866医用高分子材料及制品"),
        number_field(f"^[{CJK}]{{2,6}}药监械经营备[0-9]{{8}}号$",
                     "format:{abbr}{district}药监械经营备{year}{n4}号", zh="备案编号"),
        ISSUE(zh="备案日期"), authority("market", "备案部门"),
    ], "Filing of a class II medical device business.", hidden=("issuing_authority",)))
    t.append(T("DRL", "药品经营许可证", "Drug business licence", "organisation",
               "drug_administration", A4L, [
        *organisation(PRINCIPAL(zh="企业负责人"),
                      person_name("quality_manager", "质量负责人", "Quality manager",
                                  "relative.name:spouse"),
                      text("warehouse", "仓库地址", "Warehouse", 120, "org.address", min_len=4),
                      enum("business_mode", "经营方式", "Mode", "批发", "零售（连锁）", "零售")),
        text("business_scope", "经营范围", "Scope", 300,
             "choice:中药饮片、中成药、化学药制剂、抗生素制剂、生化药品、生物制品（除疫苗）|"
             "处方药、非处方药：中成药、化学药制剂、抗生素制剂"),
        number_field(f"^[{CJK}][A-HJ-NP-Y]{{2}}[0-9]{{7}}$", "format:{abbr}{L}{L}{n7}"),
        *validity((5,), 5), authority("drug"),
    ], "Drug wholesale or retail licence.", validity=V((5,), 5),
        mask={"legal_representative": "middle", "principal": "middle",
              "quality_manager": "middle"}, hidden=("issuing_authority",)))

    # -- commerce, customs, science, telecoms, post ----------------------------------------------
    t.append(T("FTR", "对外贸易经营者备案登记表", "Foreign trade operator filing", "organisation",
               "commerce", A4, [
        code("filing_number", "备案登记表编号", "Filing number", "^[0-9]{8}$", "serial:8"),
        *organisation(),
        enum("operator_type", "经营者类型", "Operator type", "有限责任公司", "股份有限公司",
             "个人独资企业", "合伙企业"),
        day("registration_date", "备案日期", "Filing date", "date.issue"),
        authority("commerce", "备案机关"),
    ], "Filing of a foreign trade operator.", hidden=("issuing_authority",)))
    t.append(T("OPL", "成品油零售经营批准证书", "Oil products retail approval", "organisation",
               "commerce", A4L, [
        ORG(**{"x-example": "choice:中国石化销售股份有限公司{city_short}{district}加油站|"
                            "中国石油天然气股份有限公司{city_short}{district}加油站"}),
        USCC, PRINCIPAL(zh="负责人"), ORG_ADDRESS(zh="地址"),
        code("tank_volume", "油罐总容积（立方米）", "Tank volume (m³)", "^[0-9]{2,3}$",
             "choice:60|90|120|150"),
        number_field("^油零售证书第[0-9]{10}号$", "format:油零售证书第{region}{n4}号"),
        *validity((5,), 5), authority("commerce"),
    ], "Approval for the retail sale of oil products (filling stations).",
        validity=V((5,), 5), hidden=("issuing_authority",)))
    t.append(T("CCR", "海关进出口货物收发货人备案回执", "Customs consignor registration",
               "organisation", "customs", A4, [
        *organisation(),
        code("customs_code", "海关编码", "Customs code", "^[0-9]{10}$", "format:{r4}9{n5}"),
        enum("enterprise_type", "企业经营类别", "Category", "进出口货物收发货人"),
        day("registration_date", "备案日期", "Filing date", "date.issue"),
        authority("customs", "备案海关"),
    ], "Customs registration of an importer or exporter.", hidden=("issuing_authority",)))
    t.append(T("HTE", "高新技术企业证书", "High-tech enterprise certificate", "organisation",
               "science_technology", A4L, [
        ORG(zh="企业名称"), USCC,
        number_field("^GR[0-9]{12}$", "format:GR{year}{r2}{n6}"),
        *validity((3,), 3), authority("science"),
    ], "Recognition as a high and new technology enterprise (3 years).", validity=V((3,), 3),
        hidden=("issuing_authority",)))
    t.append(T("TEL", "增值电信业务经营许可证", "Value-added telecom licence", "organisation",
               "industry_information", A4L, [
        *organisation(),
        enum("business_type", "业务种类", "Services", "信息服务业务（仅限互联网信息服务）",
             "在线数据处理与交易处理业务", "国内呼叫中心业务", "互联网数据中心业务"),
        pick("coverage", "业务覆盖范围", "Coverage", 40, "{province}"),
        number_field(f"^[{CJK}]B2-[0-9]{{8}}$", "format:{abbr}B2-{year}{n4}"),
        *validity((5,), 5), authority("telecom"),
    ], "Value-added telecommunications business licence (ICP).", validity=V((5,), 5),
        hidden=("issuing_authority",)))
    t.append(T("EXL", "快递业务经营许可证", "Express delivery licence", "organisation", "post",
               A4L, [
        *organisation(),
        enum("business_scope", "业务范围", "Scope", "同城快递", "省内异地快递",
             "同城快递、省内异地快递", "国内快递（不含港澳台快递）"),
        number_field(f"^[{CJK}][0-9]{{8}}$", "format:{abbr}{year}{n4}"),
        *validity((5,), 5), authority("post"),
    ], "Express delivery business licence.", validity=V((5,), 5),
        hidden=("issuing_authority",)))

    # -- culture, tourism, press, radio and television ---------------------------------------
    t.append(T("TGC", "导游证", "Tour guide card", "person", "culture_tourism", CARD, [
        *person(address=False),
        enum("language", "语种", "Language", "普通话", "英语", "日语", "韩语", "法语", "德语",
             "俄语"),
        enum("level", "等级", "Level", "初级", "中级", "高级", "特级"),
        text("affiliation", "所属旅行社", "Travel agency", 60,
             "choice:{city}中国国际旅行社有限公司|{city}中国青年旅行社有限公司|{city}春秋国际旅行社有限公司",
             min_len=2),
        number_field("^D-[0-9]{4}-[0-9]{6}$", "format:D-{r4}-{n6}", zh="导游证号"),
        *validity((3,), 3), authority("culture"),
    ], "Electronic tour guide card.", validity=V((3,), 3), photo=True,
        subtitle="TOUR GUIDE CARD"))
    t.append(T("TAL", "旅行社业务经营许可证", "Travel agency licence", "organisation",
               "culture_tourism", A4L, [
        *organisation(),
        enum("business_scope", "经营范围", "Scope", "国内旅游业务、入境旅游业务",
             "国内旅游业务、入境旅游业务、出境旅游业务"),
        number_field("^L-[A-Z]{2}-[0-9]{5}$", "format:L-{L}{L}-{n5}"),
        ISSUE, authority("culture"),
    ], "Operating licence of a travel agency.", hidden=("issuing_authority",)))
    for code_, zh, en, years, number_spec, kind in (
        ("NCL", "网络文化经营许可证", "Internet culture licence", (3, 3),
         (f"^[{CJK}]网文〔[0-9]{{4}}〕[0-9]{{4}}-[0-9]{{3}}号$",
          "format:{abbr}网文〔{year}〕{n4}-{r3}号"),
         enum("scope", "经营范围", "Scope",
              "利用信息网络经营音乐娱乐产品、演出剧（节）目、动漫产品",
              "利用信息网络经营艺术品、从事网络游戏运营", "利用信息网络从事演出剧（节）目表演")),
        ("ENL", "娱乐经营许可证", "Entertainment venue licence", (2, 2),
         ("^[0-9]{15}$", "format:{region}{year}{n5}"),
         enum("venue_type", "场所类型", "Venue", "歌舞娱乐场所", "游艺娱乐场所")),
        ("PIL", "营业性演出许可证", "Commercial performance licence", (2, 2),
         ("^[0-9]{15}$", "format:{region}{year}{n5}"),
         enum("kind", "机构类型", "Kind", "演出经纪机构", "文艺表演团体", "演出场所经营单位")),
    ):
        t.append(T(code_, zh, en, "organisation", "culture_tourism", A4L, [
            *organisation(kind), number_field(*number_spec),
            *validity((years[0],), years[1]), authority("culture"),
        ], f"{en} (culture and tourism authority).", validity=V((years[0],), years[1]),
            hidden=("issuing_authority",)))
    t.append(T("IEL", "出版物经营许可证", "Publication business licence", "organisation",
               "press_publication", A4L, [
        *organisation(),
        enum("business_mode", "经营方式", "Mode", "零售", "批发", "批发、零售"),
        number_field(f"^新出发[{CJK}]{{2,6}}字第[0-9]{{8}}号$",
                     "format:新出发{abbr}{district}字第{r3}{n5}号"),
        *validity((5,), 6), authority("press"),
    ], "Licence to sell books and periodicals.", validity=V((5,), 6),
        hidden=("issuing_authority",)))
    t.append(T("PRT", "印刷经营许可证", "Printing licence", "organisation",
               "press_publication", A4L, [
        *organisation(),
        enum("scope", "经营范围", "Scope", "出版物印刷", "包装装潢印刷品印刷", "其他印刷品印刷",
             "排版、制版、装订专项"),
        number_field(f"^（[{CJK}]）印证字[0-9]{{10}}号$", "format:（{abbr}）印证字{region}{n4}号"),
        *validity((5,), 5), authority("press"),
    ], "Licence of a printing enterprise.", validity=V((5,), 5),
        hidden=("issuing_authority",)))
    t.append(T("RTV", "广播电视节目制作经营许可证", "Radio and television production licence",
               "organisation", "radio_television", A4L, [
        *organisation(),
        text("scope", "经营范围", "Scope", 200,
             "literal:专题、专栏、综艺、动画片、广播剧、电视剧（不含时政、新闻及同类专题、专栏等"
             "广播电视节目）的制作和发行"),
        number_field(f"^（[{CJK}]）字第[0-9]{{5}}号$", "format:（{abbr}）字第{n5}号"),
        *validity((2,), 2), authority("radio"),
    ], "Licence to produce and distribute radio and television programmes.",
        validity=V((2,), 2), hidden=("issuing_authority",)))

    # -- agriculture, water, forestry -------------------------------------------------------------
    t.append(T("LUC", "农村土地承包经营权证", "Rural land contract certificate", "person",
               "agriculture_rural", A5L, [
        *person(address=True, birth=False),
        code("plot_count", "承包地块数", "Plots", "^[0-9]{1,2}$", "choice:3|4|5|6|7"),
        number("total_area", "承包地总面积（亩）", "Area (mu)", 1, 15),
        number_field("^[0-9]{19}J$", "format:{region}{r3}{r3}{n7}J"),
        FROM(zh="承包期限自"), UNTIL(zh="承包期限至"), authority("government"),
    ], "Rural land contract and management right (second-round extension, 30 years); the "
       "household representative is the holder.", validity=V((30,), 30),
        hidden=("issuing_authority",), mask={"name": "middle", "id_number": "last4",
                                             "address": "full"}))
    for code_, zh, en, pattern, gen, extra, val in (
        ("ANP", "动物防疫条件合格证", "Animal epidemic prevention certificate",
         f"^（[{CJK}]）动防合字第[0-9]{{10}}号$", "format:（{abbr}）动防合字第{region}{n4}号",
         enum("scope", "经营范围", "Scope", "畜禽养殖场", "动物隔离场所", "动物屠宰加工场所",
              "动物和动物产品无害化处理场所"), None),
        ("PPL", "农药经营许可证", "Pesticide business licence",
         f"^农药经许（[{CJK}]）[0-9]{{11}}$", "format:农药经许（{abbr}）{region}{n5}",
         enum("scope", "经营范围", "Scope", "农药（不含限制使用农药）", "农药（含限制使用农药）"),
         V((5,), 5)),
        ("SDL", "农作物种子生产经营许可证", "Crop seed production and business licence",
         f"^（[{CJK}]）农种许字（[0-9]{{4}}）第[0-9]{{4}}号$",
         "format:（{abbr}）农种许字（{year}）第{n4}号",
         enum("crop", "作物种类", "Crop", "玉米", "水稻", "小麦", "大豆", "蔬菜"), V((5,), 5)),
    ):
        t.append(T(code_, zh, en, "organisation", "agriculture_rural", A4L, [
            *organisation(extra), number_field(pattern, gen),
            *(validity(val.years, val.max_years) if val else [ISSUE]), authority("agri"),
        ], f"{en} (agriculture and rural affairs authority).", validity=val,
            hidden=("issuing_authority",)))
    t.append(T("TLC", "拖拉机和联合收割机驾驶证", "Tractor and combine harvester licence",
               "person", "agriculture_rural", CARD, [
        *person(),
        enum("vehicle_class", "准驾机型", "Permitted class", "G1", "G2", "K", "L", "R"),
        day("first_issue_date", "初次领证日期", "First issued", "date.before_issue:6"),
        *validity((6,), 6), authority("agri"),
    ], "Driving licence for tractors and combine harvesters.", validity=V((6,), 6),
        photo=True, subtitle="TRACTOR DRIVING LICENCE"))
    t.append(T("WDP", "取水许可证", "Water abstraction permit", "organisation",
               "water_resources", A4L, [
        *organisation(),
        enum("water_source", "水源类型", "Source", "地表水", "地下水"),
        text("intake_location", "取水地点", "Intake", 120, "org.address", min_len=4),
        number("quantity", "取水量（万立方米/年）", "Quantity (10k m³/year)", 1, 500),
        enum("purpose", "取水用途", "Use", "工业用水", "生活用水", "农业灌溉", "公共供水"),
        number_field(f"^取水[{CJK}]字〔[0-9]{{4}}〕第[0-9]{{5}}号$",
                     "format:取水{abbr}字〔{year}〕第{n5}号"),
        *validity((5,), 10), authority("water"),
    ], "Permit to abstract water (5 to 10 years).", validity=V((5,), 10),
        hidden=("issuing_authority",)))
    t.append(T("FCL", "林木采伐许可证", "Timber harvesting permit", "person",
               "forestry_grassland", A5L, [
        *person(birth=False),
        pick("harvest_location", "采伐地点", "Location", 60, "{county}"),
        enum("species", "树种", "Species", "杉木", "马尾松", "桉树", "杨树"),
        enum("method", "采伐方式", "Method", "皆伐", "择伐", "渐伐", "更新采伐"),
        number("volume", "采伐蓄积（立方米）", "Volume (m³)", 5, 300),
        number_field("^[0-9]{16}$", "format:{region}{year}{n6}"),
        FROM(zh="采伐期限自"), UNTIL(zh="采伐期限至"), authority("forestry"),
    ], "Permit to harvest timber (valid at most one year).", validity=V((1,), 1),
        hidden=("issuing_authority",)))

    # -- emergency management, fire --------------------------------------------------------------
    t.append(T("SPL", "安全生产许可证", "Work safety licence", "organisation",
               "emergency_management", A4L, [
        *organisation(legal=PRINCIPAL),
        enum("economic_type", "经济类型", "Ownership", "有限责任公司", "股份有限公司",
             "国有企业"),
        enum("scope", "许可范围", "Scope", "危险化学品生产：硫酸、盐酸",
             "非煤矿山：建筑用石料开采", "烟花爆竹生产：组合烟花类"),
        number_field(f"^（[{CJK}]）WH安许证字〔[0-9]{{4}}〕[0-9]{{6}}$",
                     "format:（{abbr}）WH安许证字〔{year}〕{n6}"),
        *validity((3,), 3), authority("emergency"),
    ], "Work safety licence of mines and hazardous chemical producers.", validity=V((3,), 3),
        hidden=("issuing_authority",)))
    t.append(T("HCL", "危险化学品经营许可证", "Hazardous chemicals business licence",
               "organisation", "emergency_management", A4L, [
        *organisation(legal=PRINCIPAL),
        enum("business_mode", "经营方式", "Mode", "批发（无仓储）", "批发（带储存）", "零售"),
        text("scope", "许可范围", "Scope", 200,
             "choice:汽油、柴油[闭杯闪点≤60℃]|甲醇、乙醇、丙酮、乙酸乙酯|液化石油气、天然气"),
        number_field(f"^[{CJK}]{{2,6}}危化经字〔[0-9]{{4}}〕[0-9]{{6}}$",
                     "format:{abbr}{district}危化经字〔{year}〕{n6}"),
        *validity((3,), 3), authority("emergency"),
    ], "Licence to trade hazardous chemicals.", validity=V((3,), 3),
        hidden=("issuing_authority",)))
    t.append(T("SOW", "特种作业操作证", "Special operation certificate", "person",
               "emergency_management", CARD, [
        *person(address=False),
        enum("work_type", "作业类别", "Operation", "电工作业", "焊接与热切割作业", "高处作业",
             "制冷与空调作业", "危险化学品安全作业"),
        number_field("^T[0-9]{17}[0-9X]$", "format:T{id}", zh="证号"),
        day("first_issue_date", "初领日期", "First issued", "date.before_issue:6"),
        *validity((6,), 6), authority("emergency"),
    ], "Special operation certificate (electricians, welders, work at height); the number is "
       "T + the resident ID number.", validity=V((6,), 6), photo=True,
        mask={"name": "middle", "id_number": "last4", "certificate_number": "last4",
              "birth_date": "year"}, hidden=("id_number",), subtitle="SPECIAL OPERATION"))
    t.append(T("FSC", "公众聚集场所投入使用营业前消防安全检查合格证",
               "Fire safety inspection certificate of a public venue", "organisation",
               "emergency_management", A4L, [
        *organisation(),
        enum("venue_use", "场所用途", "Use", "宾馆", "商场", "餐饮场所", "歌舞娱乐场所",
             "体育场馆"),
        number("area", "使用面积（平方米）", "Area (m²)", 200, 20000),
        number_field(f"^[{CJK}]{{3,10}}消安检字〔[0-9]{{4}}〕第[0-9]{{4}}号$",
                     "format:{city_short}{district}消安检字〔{year}〕第{n4}号"),
        ISSUE, authority("fire"),
    ], "Fire safety inspection before a public venue opens.", title="消防安全检查合格证",
        hidden=("issuing_authority",)))

    # -- justice ----------------------------------------------------------------------------------
    firm = text("law_firm", "执业机构", "Law firm", 60, "choice:" + "|".join(LAW_FIRMS),
                min_len=2)
    t.append(T("LPC", "律师执业证", "Lawyer's practising certificate", "person", "justice",
               CARD, [
        *person(address=False), firm,
        enum("practice_type", "执业证类别", "Category", "专职律师", "兼职律师", "公职律师",
             "公司律师"),
        number_field("^[0-9]{17}$", "format:1{r4}{year}{r1}{n7}", zh="执业证号"),
        ISSUE, authority("justice"),
    ], "Lawyer's practising certificate.", photo=True, subtitle="LAWYER'S LICENCE"))
    t.append(T("LFL", "律师事务所执业许可证", "Law firm practising licence", "organisation",
               "justice", A4L, [
        ORG(**{"x-example": "choice:" + "|".join(LAW_FIRMS)}),
        USCC(**{"x-example": "org.uscc:31"}), PRINCIPAL(zh="负责人"), ORG_ADDRESS,
        enum("organisation_form", "组织形式", "Form", "普通合伙", "特殊的普通合伙",
             "个人律师事务所"),
        number_field("^[0-9]{17}$", "format:3{r4}{year}{r2}{n6}"),
        ISSUE, authority("justice"),
    ], "Practising licence of a law firm (USCC prefix 31).", hidden=("issuing_authority",)))
    t.append(T("NPC", "公证员执业证", "Notary's practising certificate", "person", "justice",
               CARD, [
        *person(address=False),
        text("notary_office", "执业机构", "Notary office", 60, "choice:{city}{district}公证处",
             min_len=2),
        number_field("^[0-9]{11}$", "format:{region}{n5}", zh="执业证号"), ISSUE,
        authority("justice"),
    ], "Notary's practising certificate.", photo=True, subtitle="NOTARY'S LICENCE"))
    t.append(T("JAC", "法律职业资格证书", "Legal professional qualification", "person",
               "justice", A5L, [
        *person(address=False),
        number_field("^A[0-9]{14}$", "format:A{year}{r4}{n6}"), ISSUE,
        authority("literal:中华人民共和国司法部", "发证机关"),
    ], "Qualification after the national unified legal professional examination.", photo=True,
        hidden=("issuing_authority",)))

    # -- taxation, veterans, disabled persons ---------------------------------------------------
    t.append(T("TPC", "税收完税证明", "Tax payment certificate", "person", "taxation", A4, [
        number_field(f"^（[0-9]{{3}}）[{CJK}]证[0-9]{{8}}$", "format:（{r3}）{abbr}证{n8}",
                     zh="证明编号"),
        NAME(zh="纳税人名称"), ID(zh="纳税人识别号"),
        enum("tax_type", "税种", "Tax", "个人所得税", "契税", "车辆购置税", "房产税"),
        code("tax_period", "税款所属时期", "Tax period", "^[0-9]{4}-[0-9]{2}至[0-9]{4}-[0-9]{2}$",
             "choice:2024-01至2024-12|2025-01至2025-06|2025-07至2025-12"),
        number("amount", "实缴（退）金额（元）", "Amount (CNY)", 100, 90000),
        ISSUE, authority("tax", "税务机关"),
    ], "Certificate of taxes paid.", mask={"name": "middle", "id_number": "last4",
                                           "amount": "full"}, hidden=("issuing_authority",)))
    t.append(T("ITR", "个人所得税纳税记录", "Individual income tax record", "person",
               "taxation", A4, [
        number_field("^[0-9]{18}$", "format:{year}{region}{n8}", zh="证明编号"),
        NAME, ID,
        code("tax_period", "所属期间", "Period", "^[0-9]{4}-[0-9]{2}至[0-9]{4}-[0-9]{2}$",
             "choice:2024-01至2024-12|2025-01至2025-06|2025-01至2025-12"),
        number("income", "收入额（元）", "Income (CNY)", 30000, 800000),
        number("tax_paid", "已缴税额（元）", "Tax paid (CNY)", 0, 120000),
        ISSUE, authority("tax", "税务机关"),
    ], "Record of individual income tax (for purchase qualifications, visas, loans).",
        mask={"name": "middle", "id_number": "last4", "income": "full", "tax_paid": "full"},
        hidden=("issuing_authority",)))
    t.append(T("VPC", "退役军人优待证", "Veterans' preferential treatment card", "person",
               "veterans_affairs", CARD, [
        *person(address=False),
        enum("category", "优待对象类别", "Category", "退役军人", "其他优抚对象"),
        number_field("^[0-9]{16}$", "format:{region}{n10}"), ISSUE, authority("veterans"),
    ], "Preferential treatment card of a veteran.", photo=True, subtitle="VETERAN CARD"))
    t.append(T("DPC", "残疾人证", "Disability certificate", "person", "disabled_persons",
               CARD, [
        *person(ethnicity=True),
        F("disability_category", "残疾类别", "Category",
          {"enum": ["视力残疾", "听力残疾", "言语残疾", "肢体残疾", "智力残疾", "精神残疾",
                    "多重残疾"], "x-example": "person.disability_category"}),
        F("disability_grade", "残疾等级", "Grade",
          {"enum": ["一级", "二级", "三级", "四级"], "x-example": "person.disability_grade"}),
        number_field("^[0-9]{17}[0-9X][1-7][1-4]$", "person.disability_number",
                     fmt="cn-disability-number", zh="证号"),
        ISSUE(**{"x-example": "validity.start"}), UNTIL, authority("disabled"),
    ], "Disability certificate (third generation); the number is the ID number, category "
       "and grade.", validity=V((10,), 10, start="issue_date"), photo=True,
        mask={"name": "middle", "id_number": "last4", "certificate_number": "full",
              "disability_category": "full", "disability_grade": "full",
              "address": "full", "birth_date": "year"},
        title="中华人民共和国残疾人证", subtitle="DISABLED PERSON'S CERTIFICATE"))

    # -- others: religion, sports, tobacco -------------------------------------------------------
    t.append(T("RAP", "宗教活动场所登记证", "Religious venue registration certificate",
               "organisation", "ethnic_religious", A4L, [
        ORG(**{"x-example": "choice:{district}观音寺|{district}清真寺|{district}基督教堂|"
                            "{district}天主教堂"}),
        USCC(**{"x-example": "org.uscc:71"}), PRINCIPAL(zh="负责人"), ORG_ADDRESS(zh="地址"),
        enum("religion", "宗教类别", "Religion", "佛教", "道教", "伊斯兰教", "天主教", "基督教"),
        enum("venue_type", "场所类型", "Venue", "寺观教堂", "其他固定宗教活动处所"),
        number_field(f"^[{CJK}]宗场登字〔[0-9]{{4}}〕[0-9]{{4}}号$",
                     "format:{abbr}宗场登字〔{year}〕{n4}号"),
        ISSUE, authority("religion"),
    ], "Registration of a venue for religious activities (USCC prefix 71).",
        hidden=("issuing_authority",)))
    t.append(T("SPT", "高危险性体育项目经营许可证", "High-risk sports business licence",
               "organisation", "sports", A4L, [
        *organisation(),
        enum("project", "经营项目", "Sport", "游泳", "滑雪", "潜水", "攀岩"),
        text("venue_address", "经营场所", "Venue", 120, "org.address", min_len=4),
        number_field(f"^[{CJK}]体高危〔[0-9]{{4}}〕[0-9]{{4}}号$",
                     "format:{abbr}体高危〔{year}〕{n4}号"),
        *validity((5,), 5), authority("sports"),
    ], "Licence for swimming pools, ski resorts, diving and climbing venues.",
        validity=V((5,), 5), hidden=("issuing_authority",)))
    t.append(T("TRL", "烟草专卖零售许可证", "Tobacco retail licence", "organisation",
               "tobacco_monopoly", A4L, [
        ORG(zh="企业（字号）名称", **{"x-example": "choice:" + "|".join(SHOPS)}),
        USCC(**{"x-example": "org.uscc:92"}),
        person_name("operator", "负责人（经营者）", "Operator", "person.name"),
        ORG_ADDRESS(zh="经营场所"),
        enum("supply_source", "供货单位", "Supplier", "当地烟草专卖批发企业"),
        number_field("^[0-9]{12}$", "format:{region}{n6}", zh="许可证号"),
        *validity((5,), 5), authority("tobacco"),
    ], "Tobacco monopoly retail licence of a shop.", validity=V((5,), 5),
        mask={"operator": "middle"}, hidden=("issuing_authority",)))
    return t


# -- writing --------------------------------------------------------------------------------


def _default_mask(t: T) -> dict[str, str]:
    names = {f.name for f in t.fields}
    mask: dict[str, str] = {}
    if t.holder_kind == "person":
        for name, mode in (("name", "middle"), ("id_number", "last4"), ("birth_date", "year"),
                           ("address", "full")):
            if name in names:
                mask[name] = mode
    for name in sorted(names):
        if name.endswith("id_number") and name != "id_number":
            mask.setdefault(name, "last4")
        if name in ("legal_representative", "principal", "spouse_name", "operator",
                    "quality_manager", "household_head", "guardian_name", "lessor", "obligor"):
            mask.setdefault(name, "middle")
    return {**mask, **t.mask}


def _schema(t: T) -> dict[str, Any]:
    props = {f.name: {"title": f.zh, **{k: v for k, v in f.schema.items() if v is not None}}
             for f in t.fields}
    for name, prop in props.items():
        if prop.get("x-example") is None:
            prop.pop("x-example", None)
        assert name.isidentifier(), name
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://sealtrust.example/schemas/licence/{t.code}/v1",
        "title": f"{t.zh} ({t.en[0].lower() + t.en[1:]}) record",
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in t.fields if not f.optional],
        "properties": props,
        "$defs": {"date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                           "format": "date"}},
    }


def _definition(t: T) -> dict[str, Any]:
    names = [f.name for f in t.fields]
    assert len(set(names)) == len(names), (t.code, names)
    holder_id = t.holder_id_field or next(
        (n for n in ("id_number", "uscc") if n in names), None)
    out: dict[str, Any] = {
        "code": t.code,
        "version": 1,
        "name": {"zh": t.zh, "en": t.en},
        "holder_kind": t.holder_kind,
        "authority_class": t.authority_class,
        "description": t.description,
        "holder_field": t.holder_field,
    }
    if holder_id is not None:
        out["holder_id_field"] = holder_id
    out["labels"] = {f.name: {"zh": f.zh, "en": f.en} for f in t.fields}
    out["mask"] = _default_mask(t)
    if t.validity is not None:
        v = t.validity
        out["validity"] = {"start": v.start, "end": v.end, **({"long_term": "长期"}
                           if v.long_term else {}), "max_years": v.max_years,
                           "example_years": list(v.years)}
    layout: dict[str, Any] = {"template": t.template}
    if t.title:
        layout["title"] = t.title
    layout["subtitle"] = t.subtitle or t.en
    layout["accent"] = ACCENTS[t.authority_class]
    if t.photo:
        layout["photo"] = True
    if t.note:
        layout["note"] = t.note
    if t.issuer_label:
        layout["issuer_label"] = t.issuer_label
    layout["fields"] = [n for n in names if n not in t.hidden]
    out["layout"] = layout
    return out


def dump(value: Any, indent: int = 0, width: int = 100) -> str:
    """JSON with one line per entry unless it fits on the current line: diffs a reviewer
    reads field by field."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + indent <= width or not isinstance(value, dict | list):
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {dump(v, indent + 2, width)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{dump(v, indent + 2, width)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def files() -> dict[Path, str]:
    out: dict[Path, str] = {}
    codes: set[str] = set()
    for t in catalogue():
        assert t.code not in HAND_WRITTEN, t.code
        assert t.code not in codes, t.code
        codes.add(t.code)
        out[OUT / f"{t.code}.type.json"] = dump(_definition(t)) + "\n"
        out[OUT / f"{t.code}.schema.json"] = dump(_schema(t)) + "\n"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a file would change")
    args = parser.parse_args()
    wanted = files()
    stale = [p for p, text_ in wanted.items() if not p.exists() or p.read_text() != text_]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8")
    print(f"{len(wanted) // 2} types, {len(stale)} files written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
