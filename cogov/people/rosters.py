"""Tables the bureau hands over (名单与目录表格): rosters, professional units, territorial units, categories.

Reads an XLSX or CSV file (UTF-8 with or without BOM, GB18030/GBK as Chinese Excel writes, UTF-16) into rows,
then checks each row and says, per row and column, what is wrong — in Chinese, for the people who fill the
sheet. Pure: no Django, no database. The caller passes what the database knows (unit codes and kinds,
professional units, existing accounts and appointments) as plain values in a ``*Known`` object; nothing here
writes. The writers are in ``cogov.people.imports`` (and ``units_import`` / ``categories_load``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cogov.errors import DomainError
from cogov.people.roles import DUTY_CHOICES, ROLE_CHOICES, ROLE_NAMES

#: Rows one file may hold (a whole city's heads fit many times over).
MAX_ROWS = 20_000
#: A mainland mobile number.
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
#: Django's username rule (UnicodeUsernameValidator) and length.
USERNAME_RE = re.compile(r"^[\w.@+-]+\Z")
USERNAME_MAX = 150
#: What separates several codes in one cell: spaces, commas, semicolons, 顿号, slashes, bars.
LIST_SEPARATORS = re.compile(r"[\s,;，；、/|]+")
#: Roles a roster may appoint: citizens need no appointment; administrators are set in the admin, not a file.
ROSTER_ROLES = tuple(r for r, _ in ROLE_CHOICES if r not in ("citizen", "admin"))
UNIT_ROLES = frozenset({"unit_dispatcher", "unit_crew"})
#: The words people write for a role, besides its key and its name in roles.py.
ROLE_ALIASES = {
    "服务站站长": "station_head", "城市治理服务站站长": "station_head",
    "楼长": "building_head", "院长": "building_head", "楼院长": "building_head",
    "街长": "street_head", "巷长": "street_head", "街巷长": "street_head",
    "片长": "area_head", "区片长": "area_head",
    "派单员": "unit_dispatcher", "调度员": "unit_dispatcher",
    "处置人员": "unit_crew", "作业人员": "unit_crew", "维修人员": "unit_crew",
    "街道监管": "subdistrict_supervisor", "区监管员": "district_supervisor", "市监管员": "city_supervisor",
}
TRUE_WORDS = frozenset({"1", "是", "y", "yes", "true", "t", "对", "√"})
FALSE_WORDS = frozenset({"", "0", "否", "n", "no", "false", "f", "×"})
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its key (the English word of the header), Chinese label and what it holds."""

    key: str
    label: str
    required: bool = False
    note: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        """The header cell the templates write: ``账号 username``."""
        return f"{self.label} {self.key}"


@dataclass
class RowError:
    """What is wrong in one cell (``column`` is the header shown to people; empty for the whole row)."""

    column: str
    message: str


@dataclass
class Record:
    """One data row: where it is, what it said, what it means, what is wrong, what confirming will do."""

    row: int
    cells: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the row has no error."""
        return not self.errors


@dataclass
class Table:
    """A sheet read from a file: the header row's number, each recognised column, and the data rows."""

    header_row: int
    keys: list[str | None]
    rows: list[tuple[int, dict[str, Any]]]
    ignored: list[str] = field(default_factory=list)


@dataclass
class Preview:
    """What an import would do: every row with its checks, and the problems of the file as a whole."""

    columns: tuple[Column, ...]
    records: list[Record] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file may be written: some rows, and no error anywhere."""
        return not self.problems and bool(self.records) and all(r.ok for r in self.records)

    @property
    def error_count(self) -> int:
        """Rows with at least one error."""
        return sum(1 for r in self.records if not r.ok)


# --- Reading files -----------------------------------------------------------------------------------------


def text(value: Any) -> str:
    """A cell as text: numbers without a trailing ``.0`` (phones typed as numbers), dates ISO, NFKC."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time(0) else value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).translate(_INVISIBLE).strip()


def plain(value: Any) -> str:
    """A cell as text for display (names keep their original width), trimmed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return text(value)
    return value.translate(_INVISIBLE).strip()


def decode_csv(content: bytes) -> str:
    """The text of a CSV file: UTF-16 (by its BOM), UTF-8 (BOM or not), else GB18030 (which includes GBK)."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as e:
            raise DomainError("bad_encoding", "文件编码无法识别（UTF-16 内容损坏）") from e
    if b"\x00" in content:
        raise DomainError("bad_file", "这不是文本表格文件：请上传 XLSX，或 UTF-8 / GB18030 编码的 CSV")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError as e:
        raise DomainError("bad_encoding", "文件编码无法识别：请另存为 UTF-8 或 GB18030（GBK）编码的 CSV，或 XLSX") from e


def _csv_cells(content: bytes) -> list[list[Any]]:
    data = decode_csv(content)
    first = next((line for line in data.splitlines() if line.strip()), "")
    delimiter = max(",\t;", key=first.count) if first else ","
    try:
        return [row for row in csv.reader(io.StringIO(data, newline=""), delimiter=delimiter)]
    except csv.Error as e:
        raise DomainError("bad_file", f"CSV 文件格式错误：{e}") from e


def _xlsx_cells(content: bytes) -> list[list[Any]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as e:
        raise DomainError("bad_file", "无法读取 XLSX 文件：文件已损坏，或不是 Excel/WPS 表格") from e
    try:
        if not book.worksheets:
            raise DomainError("bad_file", "XLSX 文件里没有工作表")
        rows: list[list[Any]] = []
        for values in book.worksheets[0].iter_rows(values_only=True):
            rows.append(list(values))
            if len(rows) > MAX_ROWS + 50:
                break
        return rows
    except DomainError:
        raise
    except Exception as e:
        raise DomainError("bad_file", "无法读取 XLSX 文件：工作表内容已损坏") from e
    finally:
        book.close()


def read_cells(name: str, content: bytes) -> list[list[Any]]:
    """The cells of a file's first sheet, row by row (XLSX by its content, else CSV)."""
    if not content or not content.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise DomainError("empty_file", "文件是空的")
    if content[:4] == b"PK\x03\x04":
        return _xlsx_cells(content)
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DomainError("bad_file", "不支持旧版 .xls 文件：请在 Excel 或 WPS 中另存为 .xlsx 或 CSV")
    if name.lower().endswith((".xlsx", ".xlsm")):
        raise DomainError("bad_file", "这不是有效的 XLSX 文件：请用 Excel 或 WPS 另存为 .xlsx")
    return _csv_cells(content)


def header_key(cell: Any, columns: Iterable[Column]) -> str | None:
    """The column a header cell names: by its English key (``账号 username``, ``username``) or Chinese label."""
    t = text(cell).lower()
    if not t:
        return None
    columns = list(columns)
    keys = {c.key for c in columns}
    for token in re.findall(r"[a-z][a-z0-9_]*", t):
        if token in keys:
            return token
    zh = re.sub(r"[\sa-z0-9_()（）\[\]【】*:：/]+", "", t)
    for c in columns:
        if zh and (zh == c.label or zh in c.aliases):
            return c.key
    return None


def table_from_cells(cells: list[list[Any]], columns: tuple[Column, ...]) -> Table:
    """Find the header (the first non-empty row), check the columns, keep the non-empty data rows."""
    header_at = next((i for i, row in enumerate(cells) if any(text(v) for v in row)), None)
    if header_at is None:
        raise DomainError("empty_file", "文件里没有任何内容")
    header = cells[header_at]
    keys = [header_key(v, columns) for v in header]
    example = "、".join(f"「{c.header}」" for c in columns[:3])
    if not any(keys):
        raise DomainError(
            "no_header",
            f"找不到表头：第 {header_at + 1} 行应是列名（例如 {example}），请使用下载的模板填写",
        )
    seen: set[str] = set()
    for k in keys:
        if k and k in seen:
            label = next(c.header for c in columns if c.key == k)
            raise DomainError("bad_header", f"列「{label}」出现了两次")
        if k:
            seen.add(k)
    missing = [c.header for c in columns if c.required and c.key not in seen]
    if missing:
        raise DomainError("missing_columns", f"缺少必填列：{'、'.join(missing)}（第 {header_at + 1} 行是表头）")
    ignored = [text(v) for v, k in zip(header, keys) if k is None and text(v)]
    rows: list[tuple[int, dict[str, Any]]] = []
    for i in range(header_at + 1, len(cells)):
        row = cells[i]
        values = {k: row[j] for j, k in enumerate(keys) if k and j < len(row)}
        if not any(text(v) for v in values.values()):
            continue
        rows.append((i + 1, values))
        if len(rows) > MAX_ROWS:
            raise DomainError("too_many_rows", f"行数超过上限 {MAX_ROWS}：请分成几个文件导入")
    return Table(header_row=header_at + 1, keys=keys, rows=rows, ignored=ignored)


def read_table(name: str, content: bytes, columns: tuple[Column, ...]) -> Table:
    """Read ``content`` (named ``name``) as a sheet with ``columns``; else ``DomainError`` saying why."""
    return table_from_cells(read_cells(name, content), columns)


def split_codes(value: Any) -> list[str]:
    """Several codes in one cell (``370202、370203`` or one per line), in order, without repeats."""
    out: list[str] = []
    for code in LIST_SEPARATORS.split(text(value)):
        if code and code not in out:
            out.append(code)
    return out


class DateError(ValueError):
    """A cell that is not a date; the message says why, in Chinese."""


def parse_date(value: Any) -> dt.date | None:
    """A date from a cell: an Excel date, ``2026-11-01``, ``2026/11/1``, ``2026.11.1``, ``2026年11月1日``,
    ``20261101`` or an Excel serial day number; None for an empty cell; ``DateError`` otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 <= value < 80000:  # an Excel serial number (1954–2119) in a cell without a date format
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        value = str(int(value)) if float(value).is_integer() else str(value)
    t = text(value)
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00)?)?", t) or \
        re.fullmatch(r"(\d{4})(\d{2})(\d{2})", t)
    if not m:
        raise DateError(f"日期无法识别：「{t}」，请写成 2026-11-01")
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as e:
        raise DateError(f"日期不存在：「{t}」") from e


def normalize_phone(value: Any) -> str:
    """A phone cell without spaces, dashes and a +86 prefix (not yet checked)."""
    digits = re.sub(r"[\s\-]", "", text(value))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            return digits[len(prefix):]
    return digits


def choice_of(value: Any, choices: Iterable[tuple[str, str]],
              aliases: Mapping[str, str] | None = None) -> str | None:
    """The key of a choice written as its key (any case) or its Chinese name; None if unknown."""
    t = text(value)
    for key, name in choices:
        if t.lower() == key.lower() or t == name:
            return key
    return (aliases or {}).get(t)


def _display(record_cells: Mapping[str, Any], columns: tuple[Column, ...]) -> dict[str, str]:
    out = {}
    for c in columns:
        v = plain(record_cells.get(c.key))
        if c.key == "password" and v:
            v = "••••••"
        elif c.key in ("wkt", "geometry") and v:
            v = v if len(v) <= 40 else v[:38] + "…"
        out[c.key] = v
    return out


class _Row:
    """Collects one row's errors under its column headers."""

    def __init__(self, n: int, cells: Mapping[str, Any], columns: tuple[Column, ...]) -> None:
        self.record = Record(row=n, cells=_display(cells, columns))
        self.headers = {c.key: c.header for c in columns}

    def error(self, key: str, message: str) -> None:
        self.record.errors.append(RowError(self.headers.get(key, ""), message))

    def date(self, cells: Mapping[str, Any], key: str) -> dt.date | None:
        try:
            return parse_date(cells.get(key))
        except DateError as e:
            self.error(key, str(e))
        return None


def _kinds_text(kinds: Iterable[str], names: Mapping[str, str]) -> str:
    return "、".join(names.get(k, k) for k in kinds)


# --- Rosters: people and their appointments ----------------------------------------------------------------

ROSTER_COLUMNS = (
    Column("username", "账号", True, "登录用的账号，字母、数字或 @ . + - _；已有账号则更新", ("用户名", "登录名", "登录账号")),
    Column("display_name", "姓名", False, "新账号必填", ("名字",)),
    Column("phone", "手机", False, "11 位中国大陆手机号", ("手机号", "手机号码", "电话", "联系电话")),
    Column("role", "角色", False, "站长、楼院长、街巷长、区片长、专业单位派单员、专业单位处置人员、街道/区级/市级监管员、志愿者",
           ("岗位", "职务")),
    Column("scope_unit_code", "辖区编码", False, "站长填服务站编码，楼院长填楼院或楼编码，街巷长填街巷编码，区片长填区片编码",
           ("辖区", "负责区域编码", "单元编码")),
    Column("service_unit_code", "专业单位编码", False, "专业单位的派单员和处置人员必填", ("专业单位",)),
    Column("valid_from", "生效日期", False, "如 2026-11-01；留空为导入当时", ("开始日期", "任职日期")),
    Column("valid_to", "结束日期", False, "最后在岗的一天；留空为长期", ("截止日期", "离任日期")),
    Column("password", "初始密码", False, "仅用于新账号，至少 8 位；留空则需管理员另设密码", ("密码",)),
)


@dataclass(frozen=True)
class PersonInfo:
    """An account the database already holds."""

    username: str
    display_name: str
    phone: str
    other_city: bool = False


@dataclass(frozen=True)
class RosterKnown:
    """What the database holds for a roster: units by code, professional units, accounts, appointments now."""

    units: Mapping[str, tuple[str, str]]  # code → (kind, name)
    unit_kind_names: Mapping[str, str]  # kind → 中文
    service_units: Mapping[str, str]  # code → name
    people: Mapping[str, PersonInfo]  # username, lower-cased → account
    #: (username lower-cased, role, scope code, service unit code) → last day of an appointment valid now or
    #: later (None: open-ended)
    assignments: Mapping[tuple[str, str, str, str], dt.date | None]
    #: role → unit kinds it is appointed to (empty: any or none), as in people.services.ROLE_SCOPE_KINDS
    scope_kinds: Mapping[str, tuple[str, ...]]
    today: dt.date


def roster_codes(table: Table) -> tuple[set[str], set[str], set[str]]:
    """The unit codes, professional unit codes and usernames a roster mentions (to look up only those)."""
    units, services, users = set(), set(), set()
    for _n, cells in table.rows:
        units.add(text(cells.get("scope_unit_code")))
        services.add(text(cells.get("service_unit_code")))
        users.add(text(cells.get("username")))
    return units - {""}, services - {""}, users - {""}


def parse_roster(table: Table, known: RosterKnown) -> Preview:
    """Check a roster: every row is a person (created or updated) and at most one appointment."""
    preview = Preview(columns=ROSTER_COLUMNS)
    if table.ignored:
        preview.notices.append(f"未识别的列已忽略：{'、'.join(table.ignored)}")
    first: dict[str, tuple[int, str, str, str]] = {}  # username.lower() → (row, username, name, phone)
    appointed: dict[tuple[str, str, str, str], int] = {}
    role_list = "、".join(ROLE_NAMES[r] for r in ROSTER_ROLES)
    for n, cells in table.rows:
        row = _Row(n, cells, ROSTER_COLUMNS)
        rec = row.record
        username = text(cells.get("username"))
        name = plain(cells.get("display_name"))
        phone_raw = plain(cells.get("phone"))
        phone = normalize_phone(phone_raw)
        password = plain(cells.get("password"))
        key = username.lower()
        if not username:
            row.error("username", "账号不能为空")
        elif len(username) > USERNAME_MAX or not USERNAME_RE.match(username):
            row.error("username", f"账号「{username}」无效：只能由字母、数字和 @ . + - _ 组成，最长 {USERNAME_MAX} 个字符")
        existing = known.people.get(key) if username else None
        if existing is not None and existing.username != username:
            row.error("username", f"与已有账号「{existing.username}」仅大小写不同，请写成「{existing.username}」")
        elif existing is not None and existing.other_city:
            row.error("username", f"账号「{username}」已属于其他城市，不能在本城市导入")
        if len(name) > 50:
            row.error("display_name", "姓名最长 50 个字符")
        if phone and not PHONE_RE.match(phone):
            row.error("phone", f"手机号「{phone_raw}」无效：应为 11 位中国大陆手机号（1 开头，第二位 3–9）")
        if existing is None and username and not name and key not in first:
            row.error("display_name", "新账号必须填写姓名")
        if existing is None and password and len(password) < 8:
            row.error("password", "初始密码至少 8 位")
        if key and key in first:
            n0, user0, name0, phone0 = first[key]
            if user0 != username:
                row.error("username", f"账号重复：与第 {n0} 行的「{user0}」仅大小写不同")
            if name and name0 and name != name0:
                row.error("display_name", f"账号重复：第 {n0} 行同一账号的姓名是「{name0}」，两行不一致")
            if phone and phone0 and phone != phone0:
                row.error("phone", f"账号重复：第 {n0} 行同一账号的手机是「{phone0}」，两行不一致")
        elif key:
            first[key] = (n, username, name, phone)
        if existing is None and key and first[key][0] == n:
            rec.actions.append(f"新建人员「{name or username}」")
        elif existing is not None and first.get(key, (0,))[0] == n:
            changes = [label for label, new, old in (("姓名", name, existing.display_name), ("手机", phone,
                       existing.phone)) if new and new != old]
            rec.actions.append(f"更新人员{'、'.join(changes)}" if changes else "人员已存在，资料不变")
            if password:
                rec.actions.append("已有账号不修改密码")

        role_raw = text(cells.get("role"))
        role = choice_of(role_raw, ROLE_CHOICES, ROLE_ALIASES) if role_raw else None
        scope = text(cells.get("scope_unit_code"))
        service = text(cells.get("service_unit_code"))
        if role_raw and role is None:
            row.error("role", f"未知角色「{role_raw}」，可选：{role_list}")
        elif role == "citizen":
            row.error("role", "市民无需任命：角色请留空")
            role = None
        elif role == "admin":
            row.error("role", "系统管理员不能通过名单导入，请在后台单独设置")
            role = None
        where = ""
        if role in UNIT_ROLES:
            if not service:
                row.error("service_unit_code", f"{ROLE_NAMES[role]}必须填写专业单位编码")
            elif service not in known.service_units:
                row.error("service_unit_code", f"专业单位编码「{service}」不存在")
            else:
                where = known.service_units[service]
            if scope:
                row.error("scope_unit_code", f"{ROLE_NAMES[role]}属于专业单位，辖区编码请留空")
        elif role:
            kinds = known.scope_kinds.get(role, ())
            if scope:
                unit = known.units.get(scope)
                if unit is None:
                    row.error("scope_unit_code", f"辖区编码「{scope}」不存在")
                elif kinds and unit[0] not in kinds:
                    allowed = _kinds_text(kinds, known.unit_kind_names)
                    row.error("scope_unit_code", f"{ROLE_NAMES[role]}只能任命到{allowed}，"
                              f"「{unit[1]}」是{known.unit_kind_names.get(unit[0], unit[0])}")
                else:
                    where = unit[1]
            elif kinds:
                allowed = _kinds_text(kinds, known.unit_kind_names)
                row.error("scope_unit_code", f"{ROLE_NAMES[role]}必须填写辖区编码（{allowed}）")
            if service:
                row.error("service_unit_code", f"{ROLE_NAMES[role]}不属于专业单位，专业单位编码请留空")
        elif (scope or service) and not role_raw:
            row.error("role", "填写了辖区或专业单位编码，却没有填写角色")
        valid_from = row.date(cells, "valid_from")
        valid_to = row.date(cells, "valid_to")
        if valid_to is not None and valid_to < (valid_from or known.today):
            row.error("valid_to", "结束日期早于生效日期" if valid_from else "结束日期已经过去")
        if not role and (valid_from or valid_to) and not role_raw:
            row.error("role", "填写了日期，却没有填写角色")
        if role:
            akey = (key, role, scope if role not in UNIT_ROLES else "", service if role in UNIT_ROLES else "")
            if akey in appointed:
                row.error("role", f"与第 {appointed[akey]} 行的任命重复")
            else:
                appointed[akey] = n
            label = f"{ROLE_NAMES[role]}{' · ' + where if where else ''}"
            if existing is not None and akey in known.assignments:
                end = known.assignments[akey]
                if valid_to is not None and valid_to != end:
                    rec.actions.append(f"已任命{label}：结束日期改为 {valid_to.isoformat()}")
                else:
                    rec.actions.append(f"已任命{label}，不变")
            else:
                since = f"，{valid_from.isoformat()} 起" if valid_from else ""
                rec.actions.append(f"任命{label}{since}")
        rec.data = {
            "username": username, "display_name": name, "phone": phone, "password": password,
            "new": existing is None, "role": role or "",
            "scope_unit_code": scope if role and role not in UNIT_ROLES else "",
            "service_unit_code": service if role in UNIT_ROLES else "",
            "valid_from": valid_from, "valid_to": valid_to,
        }
        preview.records.append(rec)
    if not preview.records:
        preview.problems.append("表头下面没有数据行")
    return preview


# --- Professional units (专业单位) --------------------------------------------------------------------------

SERVICE_UNIT_COLUMNS = (
    Column("code", "编码", True, "本城市内唯一；已有编码则更新", ("单位编码", "专业单位编码")),
    Column("name", "名称", True, "", ("单位名称", "专业单位名称")),
    Column("duty_type", "职责类型", True, "、".join(n for _, n in DUTY_CHOICES), ("类型", "职责")),
    Column("duty_categories", "职责事项", False, "除职责类型默认事项外另行承担的类别编码，多个用顿号或逗号分隔",
           ("事项", "类别编码")),
    Column("service_area", "服务范围编码", False, "服务的辖区单元编码，多个用顿号或逗号分隔；留空为全市",
           ("服务范围", "服务区域编码")),
)


@dataclass(frozen=True)
class ServiceUnitKnown:
    """What the database holds for a professional-unit sheet."""

    units: Mapping[str, tuple[str, str]]  # code → (kind, name)
    service_units: Mapping[str, str]  # existing code → name
    category_codes: frozenset[str]


def service_unit_codes(table: Table) -> tuple[set[str], set[str]]:
    """The unit codes and category codes a professional-unit sheet mentions."""
    units, cats = set(), set()
    for _n, cells in table.rows:
        units.update(split_codes(cells.get("service_area")))
        cats.update(split_codes(cells.get("duty_categories")))
    return units, cats


def parse_service_units(table: Table, known: ServiceUnitKnown) -> Preview:
    """Check a professional-unit sheet: code, name, duty type, extra categories, the units it serves."""
    preview = Preview(columns=SERVICE_UNIT_COLUMNS)
    if table.ignored:
        preview.notices.append(f"未识别的列已忽略：{'、'.join(table.ignored)}")
    seen: dict[str, int] = {}
    for n, cells in table.rows:
        row = _Row(n, cells, SERVICE_UNIT_COLUMNS)
        code, name = text(cells.get("code")), plain(cells.get("name"))
        if not code:
            row.error("code", "编码不能为空")
        elif len(code) > 40:
            row.error("code", "编码最长 40 个字符")
        elif code in seen:
            row.error("code", f"编码重复：与第 {seen[code]} 行相同")
        else:
            seen[code] = n
        if not name:
            row.error("name", "名称不能为空")
        elif len(name) > 100:
            row.error("name", "名称最长 100 个字符")
        duty_raw = text(cells.get("duty_type"))
        duty = choice_of(duty_raw, DUTY_CHOICES)
        if duty is None:
            options = "、".join(n for _, n in DUTY_CHOICES)
            row.error("duty_type", f"未知职责类型「{duty_raw}」，可选：{options}" if duty_raw
                      else f"职责类型不能为空，可选：{options}")
        cats = split_codes(cells.get("duty_categories"))
        unknown = [c for c in cats if c not in known.category_codes]
        if unknown:
            row.error("duty_categories", f"类别编码不存在：{'、'.join(unknown)}")
        area = split_codes(cells.get("service_area"))
        missing = [c for c in area if c not in known.units]
        if missing:
            row.error("service_area", f"服务范围编码不存在：{'、'.join(missing)}")
        verb = "更新" if code in known.service_units else "新建"
        scope = "、".join(known.units[c][1] for c in area if c in known.units) or "全市"
        row.record.actions.append(f"{verb}专业单位，服务范围：{scope}")
        row.record.data = {"code": code, "name": name, "duty_type": duty or "", "duty_categories": cats,
                           "service_area": area}
        preview.records.append(row.record)
    if not preview.records:
        preview.problems.append("表头下面没有数据行")
    return preview


# --- Territorial units (辖区单元) ---------------------------------------------------------------------------

UNIT_COLUMNS = (
    Column("kind", "类型", True, "区（市）、街道、社区、城市治理服务站、区片、街巷、楼院、楼", ("单元类型",)),
    Column("code", "编码", True, "行政区划代码或本城市内唯一的编码；已有编码则更新", ("单元编码",)),
    Column("name", "名称", True, "", ("单元名称",)),
    Column("parent", "上级编码", False, "区（市）留空", ("上级", "上级单元编码", "parent_code")),
    Column("wkt", "几何", True, "WGS-84 经纬度的面：WKT（POLYGON ((…))）或 GeoJSON 文本", ("边界", "geometry", "范围")),
)
KIND_ALIASES = {"区": "district", "市": "district", "县": "district", "区市": "district", "镇": "subdistrict",
                "服务站": "station", "治理服务站": "station", "片区": "area", "街道小巷": "street", "巷": "street",
                "小区": "courtyard", "院落": "courtyard", "楼栋": "building", "楼宇": "building"}


def parse_units(table: Table, kinds: Iterable[tuple[str, str]]) -> Preview:
    """First checks of a unit sheet (type, code, name); ``units_import(dry_run=True)`` does the rest."""
    kinds = list(kinds)
    preview = Preview(columns=UNIT_COLUMNS)
    if table.ignored:
        preview.notices.append(f"未识别的列已忽略：{'、'.join(table.ignored)}")
    for n, cells in table.rows:
        row = _Row(n, cells, UNIT_COLUMNS)
        kind_raw = text(cells.get("kind"))
        kind = choice_of(kind_raw, kinds, KIND_ALIASES)
        if kind is None:
            row.error("kind", f"未知类型「{kind_raw}」，可选：{'、'.join(name for _, name in kinds)}")
        code, name = text(cells.get("code")), plain(cells.get("name"))
        if not code:
            row.error("code", "编码不能为空")
        if not name:
            row.error("name", "名称不能为空")
        geometry = cells.get("wkt")
        if geometry is None or (isinstance(geometry, str) and not geometry.strip()):
            row.error("wkt", "缺少几何（WKT 或 GeoJSON）")
        row.record.data = {"kind": kind or "", "code": code, "name": name,
                           "parent": text(cells.get("parent")),
                           "geometry": geometry.strip() if isinstance(geometry, str) else geometry}
        preview.records.append(row.record)
    if not preview.records:
        preview.problems.append("表头下面没有数据行")
    return preview


#: Where a reason of ``units_import`` points (its words → the column).
UNIT_REASON_COLUMNS = (("类型", "kind"), ("上级", "parent"), ("挂在", "parent"), ("几何", "wkt"), ("坐标", "wkt"),
                       ("编码", "code"), ("名称", "name"))


def unit_reason_column(reason: str) -> str:
    """The header a rejection reason of ``units_import`` is about."""
    for word, key in UNIT_REASON_COLUMNS:
        if word in reason:
            return next(c.header for c in UNIT_COLUMNS if c.key == key)
    return ""


# --- Categories (案件类别) ----------------------------------------------------------------------------------

CATEGORY_COLUMNS = (
    Column("edition", "标准版本", False, "留空为本市扩展目录", ("版本",)),
    Column("code", "编码", True, "", ("类别编码",)),
    Column("name", "名称", True, "", ("类别名称",)),
    Column("kind", "类型", True, "部件 或 事项", ("类别类型",)),
    Column("major_code", "大类编码", False, "", ()),
    Column("major_name", "大类名称", False, "", ()),
    Column("scope", "发生位置", False, "楼内、楼院内 或 街面（默认街面）", ("位置",)),
    Column("duty_type", "责任单位类型", False, "、".join(n for _, n in DUTY_CHOICES), ("职责类型",)),
    Column("reporter_verifies", "由上报人核查", False, "是 或 否（默认否）", ("上报人核查",)),
    Column("keywords", "关键词", False, "空格分隔，用于自动分类", ()),
)


@dataclass(frozen=True)
class CategoryKnown:
    """What the database holds for a category sheet, and the choices of the category model."""

    existing: frozenset[tuple[str, str, str]]  # (edition, kind, code)
    kinds: tuple[tuple[str, str], ...]
    scopes: tuple[tuple[str, str], ...]
    default_edition: str


def parse_categories(table: Table, known: CategoryKnown) -> Preview:
    """Check a category sheet; existing codes are reported and left as the bureau set them."""
    preview = Preview(columns=CATEGORY_COLUMNS)
    if table.ignored:
        preview.notices.append(f"未识别的列已忽略：{'、'.join(table.ignored)}")
    seen: dict[tuple[str, str, str], int] = {}
    for n, cells in table.rows:
        row = _Row(n, cells, CATEGORY_COLUMNS)
        edition = plain(cells.get("edition")) or known.default_edition
        code, name = text(cells.get("code")), plain(cells.get("name"))
        if not code:
            row.error("code", "编码不能为空")
        elif len(code) > 20:
            row.error("code", "编码最长 20 个字符")
        if not name:
            row.error("name", "名称不能为空")
        elif len(name) > 100:
            row.error("name", "名称最长 100 个字符")
        kind_raw = text(cells.get("kind"))
        kind = choice_of(kind_raw, known.kinds, {"管理部件": "component", "管理事项": "matter"})
        if kind is None:
            row.error("kind", f"未知类型「{kind_raw}」，可选：{'、'.join(n for _, n in known.kinds)}")
        scope_raw = text(cells.get("scope"))
        scope = choice_of(scope_raw, known.scopes) if scope_raw else "outside"
        if scope is None:
            row.error("scope", f"未知发生位置「{scope_raw}」，可选：{'、'.join(n for _, n in known.scopes)}")
        duty_raw = text(cells.get("duty_type"))
        duty = choice_of(duty_raw, DUTY_CHOICES) if duty_raw else ""
        if duty is None:
            row.error("duty_type", f"未知责任单位类型「{duty_raw}」，可选：{'、'.join(n for _, n in DUTY_CHOICES)}")
        verifies_raw = text(cells.get("reporter_verifies")).lower()
        if verifies_raw not in TRUE_WORDS | FALSE_WORDS:
            row.error("reporter_verifies", f"「{verifies_raw}」应为 是 或 否")
        major_code = text(cells.get("major_code"))
        if len(major_code) > 10:
            row.error("major_code", "大类编码最长 10 个字符")
        key = (edition, kind or "", code)
        if code and kind and key in seen:
            row.error("code", f"类别重复：与第 {seen[key]} 行相同（同一版本、类型、编码）")
        elif code and kind:
            seen[key] = n
        if key in known.existing:
            row.record.actions.append("已存在，跳过（请在后台逐条修改）")
        else:
            row.record.actions.append("新建类别，按职责类型设默认时限")
        row.record.data = {
            "edition": edition, "code": code, "name": name, "kind": kind or "", "major_code": major_code,
            "major_name": plain(cells.get("major_name")), "scope": scope or "outside",
            "duty_type": duty or "",
            "reporter_verifies": verifies_raw in TRUE_WORDS, "keywords": plain(cells.get("keywords")),
            "exists": key in known.existing,
        }
        preview.records.append(row.record)
    if not preview.records:
        preview.problems.append("表头下面没有数据行")
    return preview
