"""The shipped services (事项用证清单) as a compact table; gen_services.py writes the JSON.

Names follow provincial 免证办/一证通办 lists (Zhejiang, Guangdong, Shanghai,
Jiangsu, Fujian ...); the mapping of each service reads only the licence
fields its form really asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CN_DATE = "YYYY年MM月DD日"


@dataclass(frozen=True)
class Field:
    name: str
    zh: str
    en: str
    expr: dict[str, Any]
    required: bool = True
    max_length: int = 200


@dataclass(frozen=True)
class Service:
    code: str
    zh: str
    en: str
    authority_class: str
    subject: str
    fields: tuple[Field, ...]
    all_of: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    produces: tuple[str, ...] = ()
    description: str = ""
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    clerk_fields: tuple[Field, ...] = ()


def copy(ref: str) -> dict[str, Any]:
    return {"copy": ref}


def cn_date(ref: str, keep: tuple[str, ...] = ()) -> dict[str, Any]:
    expr: dict[str, Any] = {"date": copy(ref), "format": CN_DATE}
    if keep:
        expr["keep"] = list(keep)
    return expr


def F(name: str, zh: str, en: str, expr: dict[str, Any], *, required: bool = True,
      max_length: int = 200) -> Field:
    return Field(name, zh, en, expr, required, max_length)


def clerk(name: str, zh: str, en: str, max_length: int = 500) -> Field:
    return Field(name, zh, en, {}, False, max_length)


# -- field groups ------------------------------------------------------------------------

def person_ric(*extra: str) -> tuple[Field, ...]:
    """The applicant from the resident identity card."""
    base = [
        F("applicant_name", "申请人姓名", "Applicant name", copy("RIC.name")),
        F("applicant_id_number", "公民身份号码", "Resident ID number", copy("RIC.id_number")),
    ]
    more = {
        "sex": F("applicant_sex", "性别", "Sex", copy("RIC.sex")),
        "sex_code": F("applicant_sex_code", "性别代码", "Sex code (GB/T 2261.1)",
                      {"lookup": copy("RIC.sex"), "table": "sex_code"}),
        "birth": F("applicant_birth_date", "出生日期", "Date of birth", cn_date("RIC.birth_date"),
                   max_length=20),
        "ethnicity": F("applicant_ethnicity", "民族", "Ethnicity", copy("RIC.ethnicity")),
        "address": F("applicant_address", "户籍地址", "Registered address", copy("RIC.address")),
    }
    return (*base, *(more[e] for e in extra))


def org_bl(*extra: str) -> tuple[Field, ...]:
    """The applicant organisation from the business licence."""
    base = [
        F("org_name", "单位名称", "Organisation name", copy("BL.name")),
        F("org_uscc", "统一社会信用代码", "Unified social credit code", copy("BL.uscc")),
        F("legal_representative", "法定代表人", "Legal representative",
          copy("BL.legal_representative")),
    ]
    more = {
        "address": F("org_address", "住所", "Registered address", copy("BL.address")),
        "kind": F("org_kind", "企业类型", "Company type", copy("BL.kind")),
        "capital": F("registered_capital", "注册资本", "Registered capital",
                     copy("BL.registered_capital")),
        "established": F("established_on", "成立日期", "Date of establishment",
                         cn_date("BL.established_on"), max_length=20),
        "scope": F("business_scope", "经营范围", "Business scope", copy("BL.business_scope"),
                   required=False),
        "term": F("business_term", "营业期限", "Business term",
                  {"join": [cn_date("BL.valid_from"), cn_date("BL.valid_until", ("长期",))],
                   "sep": "至"}, max_length=40),
    }
    return (*base, *(more[e] for e in extra))


SERVICES: tuple[Service, ...] = (
    Service(
        "GTGSH-SETUP", "个体工商户设立登记", "Registration of an individual business",
        "market_regulation", "person",
        person_ric("sex", "ethnicity", "address"),
        all_of=("RIC",), produces=("IBL",),
        description="经营者凭身份证照办理个体工商户设立登记。",
        clerk_fields=(clerk("business_name", "个体工商户名称", "Business name", 100),
                      clerk("business_premises", "经营场所", "Business premises"),
                      clerk("business_scope", "经营范围", "Business scope", 1000)),
    ),
    Service(
        "DL-REISSUE", "机动车驾驶证补证", "Replacement of a lost driving licence",
        "public_security", "person",
        (*person_ric(),
         F("licence_number", "驾驶证号", "Driving licence number", copy("DL.license_number")),
         F("vehicle_class", "准驾车型", "Permitted vehicle class", copy("DL.vehicle_class")),
         F("file_number", "档案编号", "File number", copy("DL.file_number")),
         F("licence_valid_until", "有效期至", "Valid until",
           cn_date("DL.valid_until", ("长期",)), max_length=20)),
        all_of=("RIC", "DL"), produces=("DL",),
        clerk_fields=(clerk("reason", "补证原因", "Reason for replacement", 200),),
    ),
    Service(
        "PENSION-CLAIM", "基本养老保险待遇申领", "Claim of basic pension benefits",
        "human_resources_social_security", "person",
        (*person_ric("sex_code", "birth"),
         F("social_security_number", "社会保障号码", "Social security number",
           copy("SSC.social_security_number")),
         F("social_security_card", "社会保障卡号", "Social security card number",
           copy("SSC.card_number"))),
        all_of=("RIC", "SSC"),
        clerk_fields=(clerk("bank_account", "待遇发放账户", "Benefit account", 40),),
    ),
    Service(
        "VL-TRANSFER", "机动车转移登记", "Transfer of motor vehicle ownership",
        "public_security", "person",
        (*person_ric("address"),
         F("plate_number", "号牌号码", "Plate number", copy("VL.plate_number")),
         F("vin", "车辆识别代号", "Vehicle identification number", copy("VL.vin")),
         F("vehicle_model", "品牌型号", "Make and model", copy("VL.model")),
         F("previous_owner", "原所有人", "Previous owner", copy("VL.owner")),
         F("register_date", "注册登记日期", "First registration", cn_date("VL.register_date"),
           max_length=20)),
        all_of=("RIC", "VL"), produces=("VL",),
    ),
    Service(
        "FOOD-OPERATION-PERMIT", "食品经营许可", "Food business permit",
        "market_regulation", "organisation",
        org_bl("address", "kind", "scope"),
        all_of=("BL",), produces=("FBL",),
        clerk_fields=(clerk("premises", "经营场所", "Premises"),
                      clerk("food_categories", "经营项目", "Food categories")),
    ),
    Service(
        "RESIDENCE-PERMIT", "居住证申领", "Application for a residence permit",
        "public_security", "person",
        (F("applicant_name", "姓名", "Name", {"first": [copy("RIC.name"), copy("DL.name")]}),
         F("applicant_id_number", "公民身份号码", "Resident ID number",
           {"first": [copy("RIC.id_number"), copy("DL.license_number")]}),
         F("applicant_sex_code", "性别代码", "Sex code",
           {"lookup": {"first": [copy("RIC.sex"), copy("DL.sex")]}, "table": "sex_code"}),
         F("applicant_birth_date", "出生日期", "Date of birth",
           {"date": {"first": [copy("RIC.birth_date"), copy("DL.birth_date")]},
            "format": CN_DATE}, max_length=20),
         F("registered_address", "户籍地址", "Registered address",
           {"first": [copy("RIC.address"), copy("DL.address")]})),
        one_of=(("RIC", "DL"),), produces=("RSP",),
        clerk_fields=(clerk("residence_address", "居住地址", "Address of residence"),),
    ),
)


# -- the catalogue rows (service_rows.txt) -----------------------------------------------

AUTHORITY_CLASS: dict[str, str] = {
    "GA": "public_security", "SCJG": "market_regulation",
    "RS": "human_resources_social_security", "YB": "medical_security",
    "MZ": "civil_affairs", "WJ": "health", "JY": "education", "JT": "transport",
    "ZJ": "housing_urban_rural", "GJJ": "housing_provident_fund",
    "ZRZY": "natural_resources", "ST": "ecology_environment", "SW": "taxation",
    "NY": "agriculture_rural", "WH": "culture_tourism", "SF": "justice",
    "TY": "veterans_affairs", "CL": "disabled_persons_federation",
    "SY": "emergency_management", "XF": "fire_rescue", "SL": "water_resources",
    "TX": "industry_information", "SWU": "commerce", "LY": "forestry",
    "TJ": "statistics", "QX": "meteorology", "DA": "archives",
    "MZU": "ethnic_religious_affairs", "HG": "customs", "RF": "civil_air_defence",
    "YC": "tobacco_monopoly", "YZ": "postal", "GD": "radio_television", "TYJ": "sport",
}


@dataclass(frozen=True)
class Row:
    """One line of service_rows.txt."""

    code: str
    zh: str
    en: str
    authority_class: str
    base: tuple[str, ...]  # "P" or "O" first, then DL, VL, SSC, APR, P
    flags: str
    needs_by_name: tuple[str, ...]
    produces_by_name: tuple[str, ...]


def rows(text: str) -> list[Row]:
    """Parse service_rows.txt; codes are the prefix and a number per prefix, in file order."""
    out: list[Row] = []
    counters: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        prefix, zh, en, base_flags, needs, produces = (p.strip() for p in line.split("|"))
        counters[prefix] = counters.get(prefix, 0) + 1
        base, _, flags = base_flags.partition(":")
        out.append(Row(f"{prefix}-{counters[prefix]:03d}", zh, en, AUTHORITY_CLASS[prefix],
                       tuple(base.split("+")), flags,
                       tuple(n for n in needs.split(",") if n),
                       tuple(n for n in produces.split(",") if n)))
    return out


def person_fields(flags: str, prefix: str = "applicant", zh: str = "申请人") -> tuple[Field, ...]:
    """The person from the resident identity card; flags pick the extra fields."""
    out = [F(f"{prefix}_name", f"{zh}姓名", "Name", copy("RIC.name")),
           F(f"{prefix}_id_number", "公民身份号码", "Resident ID number", copy("RIC.id_number"))]
    extra = {
        "s": F(f"{prefix}_sex", "性别", "Sex", copy("RIC.sex")),
        "c": F(f"{prefix}_sex_code", "性别代码", "Sex code (GB/T 2261.1)",
               {"lookup": copy("RIC.sex"), "table": "sex_code"}),
        "b": F(f"{prefix}_birth_date", "出生日期", "Date of birth", cn_date("RIC.birth_date"),
               max_length=20),
        "e": F(f"{prefix}_ethnicity", "民族", "Ethnicity", copy("RIC.ethnicity")),
        "a": F(f"{prefix}_address", "户籍地址", "Registered address", copy("RIC.address")),
    }
    return (*out, *(extra[f] for f in flags if f in extra))


def org_fields(flags: str) -> tuple[Field, ...]:
    """The organisation from the business licence; flags pick the extra fields."""
    return org_bl(*({"a": "address", "k": "kind", "c": "capital", "d": "established",
                     "s": "scope", "t": "term"}[f] for f in flags))


GROUP_FIELDS: dict[str, tuple[Field, ...]] = {
    "DL": (F("driving_licence_number", "驾驶证号", "Driving licence number",
             copy("DL.license_number")),
           F("vehicle_class", "准驾车型", "Permitted vehicle class", copy("DL.vehicle_class")),
           F("driving_licence_valid_until", "驾驶证有效期至", "Driving licence valid until",
             cn_date("DL.valid_until", ("长期",)), max_length=20)),
    "VL": (F("plate_number", "号牌号码", "Plate number", copy("VL.plate_number")),
           F("vehicle_type", "车辆类型", "Vehicle type", copy("VL.vehicle_type")),
           F("vin", "车辆识别代号", "Vehicle identification number", copy("VL.vin")),
           F("vehicle_owner", "机动车所有人", "Registered owner", copy("VL.owner"))),
    "SSC": (F("social_security_number", "社会保障号码", "Social security number",
              copy("SSC.social_security_number")),
            F("social_security_card", "社会保障卡号", "Social security card number",
              copy("SSC.card_number"))),
    "APR": (F("permit_decision_number", "许可决定文号", "Permit decision number",
              copy("APR.decision_number")),
            F("permit_item", "许可事项", "Permitted activity", copy("APR.item")),
            F("permit_valid_until", "许可有效期至", "Permit valid until",
              cn_date("APR.valid_until"), max_length=20)),
}
