"""The classification the platform ships (分类目录): GB/T 47678.5-2026 and the reference city's extension.

Each code is kept with its edition, so a city still on GB/T 30428.2 / CJ/T 214 loads its own table beside it.
Scope, duty unit and time limits are defaults the bureau edits afterwards in the admin; nothing here is fixed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

NATIONAL_EDITION = "GB/T 47678.5-2026"
CITY_EDITION = "青岛扩展-2026"
DATA = Path(__file__).parent / "data" / "gbt47678_5_2026.csv"

#: Keyword → duty type for components and matters of the national table (first match wins).
DUTY_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("燃气", "gas"), ("供气", "gas"), ("热力", "heating"), ("供热", "heating"), ("供水", "water"),
    ("消防栓", "water"), ("电力", "power"), ("路灯", "power"), ("变压", "power"), ("通信", "telecom"),
    ("电信", "telecom"), ("移动", "telecom"), ("联通", "telecom"), ("有线电视", "telecom"), ("线缆", "telecom"),
    ("垃圾", "sanitation"), ("公厕", "sanitation"), ("环卫", "sanitation"), ("道路不洁", "sanitation"),
    ("遗撒", "sanitation"), ("积雪", "sanitation"), ("动物尸体", "sanitation"), ("小广告", "sanitation"),
    ("绿", "greening"), ("树", "greening"), ("花", "greening"), ("病虫害", "greening"), ("公园", "greening"),
)
MAJOR_DUTY = {"01": "municipal", "02": "municipal", "03": "sanitation", "04": "greening", "05": "municipal",
              "06": "enforcement", "07": "enforcement", "08": "enforcement", "09": "enforcement", "10": "municipal"}
#: Default limits per duty: (first response, unit), (handling, unit).
DUTY_LIMITS = {
    "sanitation": ((1, "working_hours"), (4, "working_hours")),
    "greening": ((1, "working_hours"), (5, "working_days")),
    "enforcement": ((1, "working_hours"), (7, "working_days")),
    "property": ((1, "working_hours"), (2, "working_days")),
}
DEFAULT_LIMITS = ((1, "working_hours"), (3, "working_days"))
URGENT_FACTOR = {"urgent": 0.5, "emergency": 0.25}


@dataclass(frozen=True)
class CategorySpec:
    """A category as shipped: the bureau may change everything but the edition and code."""

    edition: str
    code: str
    name: str
    kind: str
    major_code: str
    major_name: str
    scope: str
    duty_type: str
    reporter_verifies: bool
    keywords: str = ""


def duty_for(name: str, major_code: str) -> str:
    """The default professional duty of a national category, from its name, else its major class."""
    for word, duty in DUTY_KEYWORDS:
        if word in name:
            return duty
    return MAJOR_DUTY.get(major_code, "municipal")


def national() -> list[CategorySpec]:
    """The 403 codes of GB/T 47678.5-2026."""
    with DATA.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        CategorySpec(
            edition=NATIONAL_EDITION, code=r["code"], name=r["name"],
            kind="component" if r["kind"] == "管理部件" else "matter", major_code=r["major_code"],
            major_name=r["major_name"], scope="outside", duty_type=duty_for(r["name"], r["major_code"]),
            reporter_verifies=r["kind"] == "管理事项" and r["major_code"] in ("06", "07", "09"),
        )
        for r in rows
    ]


CITY_EXTENSION: tuple[tuple[str, str, str, str, str, str], ...] = (
    # code, name, scope, duty, major class it extends, keywords
    ("Q0101", "门前五包·垃圾扫一扫", "outside", "sanitation", "06", "门前 垃圾 清扫 卫生"),
    ("Q0102", "门前五包·堆物清一清", "outside", "enforcement", "06", "门前 堆物 杂物"),
    ("Q0103", "门前五包·招贴除一除", "outside", "sanitation", "07", "门前 招贴 张贴"),
    ("Q0104", "门前五包·晾晒收一收", "outside", "enforcement", "06", "门前 晾晒 晾衣"),
    ("Q0105", "门前五包·停车管一管", "outside", "enforcement", "09", "门前 停车"),
    ("Q0201", "小广告", "outside", "sanitation", "07", "小广告 牛皮癣 张贴 喷涂"),
    ("Q0202", "飞线充电", "courtyard", "property", "06", "飞线 充电 电动车 私拉电线"),
    ("Q0203", "路面下沉", "outside", "municipal", "01", "路面 下沉 塌陷 坑洼"),
    ("Q0204", "违章搭建", "courtyard", "enforcement", "06", "违建 搭建 私搭乱建"),
    ("Q0205", "乱堆乱放", "courtyard", "property", "06", "乱堆 乱放 杂物"),
    ("Q0206", "门前乱停车", "outside", "enforcement", "09", "乱停车 停车 占道"),
    ("Q0301", "楼道堆物", "building", "property", "06", "楼道 堆物 杂物 消防"),
    ("Q0302", "楼道灯不亮", "building", "property", "01", "楼道灯 声控灯 照明"),
    ("Q0303", "楼内管道漏水", "building", "water", "01", "漏水 水管 管道"),
    ("Q0304", "小区垃圾桶满溢", "courtyard", "property", "03", "垃圾桶 满溢 小区"),
)


def city_extension() -> list[CategorySpec]:
    """The reference city's own items, beside the national codes."""
    majors = {"01": "市政公用设施类", "03": "市容环卫设施类", "06": "市容环境类", "07": "宣传广告类", "09": "街面秩序类"}
    return [
        CategorySpec(edition=CITY_EDITION, code=code, name=name, kind="matter", major_code=major,
                     major_name=majors[major], scope=scope, duty_type=duty, reporter_verifies=True,
                     keywords=kw)
        for code, name, scope, duty, major, kw in CITY_EXTENSION
    ]


def limits_for(duty_type: str, urgency: str) -> tuple[tuple[float, str], tuple[float, str]]:
    """Default (first response, handling) limits of a duty at an urgency level."""
    first, handling = DUTY_LIMITS.get(duty_type, DEFAULT_LIMITS)
    f = URGENT_FACTOR.get(urgency, 1.0)
    return (first[0] * f, first[1]), (handling[0] * f, handling[1])
