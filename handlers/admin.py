"""Importing the roster: the organisation tree, grids, departments and people from the CSV files a street office keeps
in Excel."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel

import nlp
from handlers.clock import local
from handlers.privacy import mask
from handlers.routing import parse_polygon
from storage import grids, org, people, tickets
from storage.models import Department, Grid, OrgLevel, OrgUnit, Person, Role, Ticket, TicketEvent

GRID_COLUMNS = ("code", "name", "community", "aliases", "chat_id", "lat", "lng")
# Optional: the grid group's robot key (群机器人), for tenants without the AI bot. A file without the column
# leaves the keys already stored alone.
GRID_WEBHOOK_COLUMN = "webhook_key"
# Optional: the grid's boundary, "lng,lat;lng,lat;…" (a quoted cell) or "lng lat;…", three corners or more (GCJ-02,
# as WeChat shares locations), for shared WeChat locations.
GRID_POLYGON_COLUMN = "polygon"
WEBHOOK_KEY_MAX = 64
# Grids written to the database together by import-grids.
GRID_BATCH = 1000
PEOPLE_COLUMNS = ("role", "id", "name", "grid", "phone", "address")
# org: the code of the unit the department serves (its subtree); categories: taxonomy codes or names, "a|b".
DEPARTMENT_COLUMNS = ("code", "name", "org", "categories", "chat_id")
ORG_COLUMNS = ("code", "name", "level", "parent")
# Optional: the unit's command-centre group chat. A file without the column leaves the chats already stored alone.
ORG_CHAT_COLUMN = "chat_id"
# Optional: the WeCom AI bot (智能机器人) of the unit's subtree, for a street that runs its own bot: its gateway runs
# with that bot's WECOM_BOT_ID and secret. Empty: the bot of the unit above. A file without the column leaves the
# bots already stored alone.
ORG_BOT_COLUMN = "bot_id"
# Optional in grids (the community the grid belongs to) and in people (the unit whose command centre a supervisor
# sits in, or a department staff member's department): a unit's code from import-org, or a department's from
# import-departments. A file without the column leaves what is stored alone.
ORG_COLUMN = "org"
# What a street office writes for a level: our names, or the Chinese ones (乡镇 and 村 are the rural 街道 and 社区).
ORG_LEVELS = {
    "district": OrgLevel.DISTRICT,
    "区": OrgLevel.DISTRICT,
    "street": OrgLevel.STREET,
    "街道": OrgLevel.STREET,
    "乡镇": OrgLevel.STREET,
    "community": OrgLevel.COMMUNITY,
    "社区": OrgLevel.COMMUNITY,
    "村": OrgLevel.COMMUNITY,
}
# Codes are joined with "/" into paths ("/D01/S01/C01/") and matched as their prefixes.
_ORG_CODE = re.compile(r"[A-Za-z0-9_-]+")
# Full-width too: a Chinese input method types "｜".
_CATEGORY_SEPARATOR = re.compile(r"[|｜]")
SAVE_AS_CSV = "请在 Excel 中另存为“CSV UTF-8（逗号分隔）”再导入"
_RANGE = re.compile(r"^(?P<head>.*?)(?P<start>\d+)-(?P<end>\d+)(?P<tail>栋|号楼|幢|座)$")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


class UnreadableFile(ValueError):
    """A file that is not CSV text in an encoding we read; the message names the line and what to do."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"第{line}行：{problem}")


def decode(raw: bytes) -> str:
    """Excel on Chinese Windows saves GBK; everything else UTF-8 (with or without BOM).

    Raises UnreadableFile for a workbook, UTF-16 (Excel's "Unicode 文本") and binary files: gb18030 decodes almost
    any bytes, so without these checks they would import as rows of garbage, and PostgreSQL refuses NUL characters.
    """
    if raw.startswith(b"PK\x03\x04"):
        raise UnreadableFile(1, f"这是 Excel 工作簿（.xlsx），不是 CSV。{SAVE_AS_CSV}")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in raw:
        line = raw.count(b"\n", 0, max(raw.find(b"\x00"), 0)) + 1
        raise UnreadableFile(line, f"文件是 UTF-16 或二进制内容，不是 CSV 文本。{SAVE_AS_CSV}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as utf8:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError as gbk:
            # the encoding that read further is the file's; where it stopped is the bad byte
            line = raw.count(b"\n", 0, max(utf8.start, gbk.start)) + 1
            raise UnreadableFile(line, f"有无法识别的字符（既不是 UTF-8 也不是 GBK）。{SAVE_AS_CSV}") from None


def rows(raw: bytes, required: tuple[str, ...]) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """(line, {column: stripped cell}) of each non-empty row, and errors for what cannot be read as such a row.

    A row with fewer cells than the header, or with text beyond it, is refused: either is a cell typed into the
    wrong column (an unquoted comma in an address shifts every cell after it), which would import silently wrong.
    """
    try:
        reader = csv.reader(io.StringIO(decode(raw)))
    except UnreadableFile as problem:
        return [], [str(problem)]
    errors: list[str] = []
    out = []
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in required if c not in header]
        if missing:
            return [], [f"第1行：缺少列 {', '.join(missing)}（需要 {','.join(required)}）"]
        # Excel pads the header with empty cells when something once stood to the right of the table
        width = max(i for i, name in enumerate(header) if name) + 1
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) < width:
                errors.append(f"第{reader.line_num}行：只有 {len(cells)} 列，表头有 {width} 列。空的列也要留逗号")
            elif any(c.strip() for c in cells[len(header) :]):
                errors.append(f"第{reader.line_num}行：比表头多出内容。含逗号的内容请用英文双引号括起")
            else:
                out.append(
                    (reader.line_num, {name: cell.strip() for name, cell in zip(header, cells, strict=False) if name})
                )
    except csv.Error:
        errors.append(f"第{reader.line_num}行：无法按 CSV 读取（引号不成对或单元格过长）。请在 Excel 中检查这一行")
    return out, errors


def too_long(model: type[SQLModel], values: dict[str, str], line: int) -> list[str]:
    """Cells longer than their database column: PostgreSQL would refuse them with an error holding the whole row.

    Args:
        values: the model's column names and the cells that go into them.
    """
    errors = []
    for column, value in values.items():
        limit = getattr(inspect(model).columns[column].type, "length", None)
        if limit is not None and len(value) > limit:
            errors.append(f"第{line}行：{column} 最多 {limit} 个字符，这里有 {len(value)} 个。请缩短后再导入")
    return errors


def bad_code(code: str, line: int, example: str) -> list[str]:
    """A code that cannot be a path segment or a key people type: letters, digits, "-" and "_" only."""
    if _ORG_CODE.fullmatch(code):
        return []
    return [f"第{line}行：code“{code}”只能含英文字母、数字、- 和 _（不能有空格、“/”或汉字），请改用如 {example} 的编号"]


def refused(line: int, problem: SQLAlchemyError, first: int | None = None) -> str:
    """The database's refusal without its text: a driver's message quotes the row (a resident's phone, address).

    first: the first line of a batch written together, when the refusal cannot tell which of its lines it was."""
    kind = type(getattr(problem, "orig", None) or problem).__name__
    if first is not None and first < line:
        return f"第{first}至{line}行：数据库写入失败（{kind}）。请检查这几行后重试"
    return f"第{line}行：数据库写入失败（{kind}）。请检查这一行后重试"


def expand_aliases(text: str) -> list[str]:
    """ "幸福小区1-3栋" stands for 幸福小区1栋, 2栋 and 3栋."""
    result: list[str] = []
    for alias in (a.strip() for a in text.split("|")):
        match = _RANGE.match(alias)
        if match and int(match["start"]) <= int(match["end"]) <= int(match["start"]) + 200:
            result += [f"{match['head']}{n}{match['tail']}" for n in range(int(match["start"]), int(match["end"]) + 1)]
        elif alias:
            result.append(alias)
    return result


def _coordinate(value: str, line: int, column: str, errors: list[str]) -> float | None:
    """A latitude (column "lat") or longitude; None when empty or bad, with the error recorded."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        errors.append(f"第{line}行：{column} 不是数字：{value}")
        return None
    bound = 90 if column == "lat" else 180
    # NaN compares false with everything, so this also refuses nan, inf and 1e999
    if not -bound <= number <= bound:
        swapped = "，是否与 lng 填反了" if column == "lat" and -180 <= number <= 180 else ""
        errors.append(f"第{line}行：{column} 应在 -{bound} 到 {bound} 之间，而不是 {value}{swapped}")
        return None
    return number


def import_grids(session: Session, raw: bytes) -> ImportResult:
    """Create or update grids by code. Any bad row: nothing is imported (the caller rolls back).

    A city's 32,000 grids: the stored grids are read once by code, and written in batches of GRID_BATCH rows (a
    flush a row, and a SELECT a row to find it, took most of a minute); a refusal by the database names the batch's
    lines."""
    result = ImportResult()
    records, result.errors = rows(raw, GRID_COLUMNS)
    units = _units_if_named(session, records)
    stored = {g.code: g for g in grids.all_grids(session)} if records else {}
    first_line: dict[str, int] = {}
    line, batch_start = 1, 2  # line 1 is the header
    try:
        for line, r in records:
            if not r["code"] or not r["name"]:
                result.errors.append(f"第{line}行：code 和 name 不能为空")
                continue
            if r["code"] in first_line:
                result.errors.append(f"第{line}行：网格编号 {r['code']} 与第{first_line[r['code']]}行重复")
                continue
            first_line[r["code"]] = line
            errors = too_long(Grid, {c: r[c] for c in ("code", "name", "community", "chat_id")}, line)
            lat, lng = _coordinate(r["lat"], line, "lat", errors), _coordinate(r["lng"], line, "lng", errors)
            webhook_key = webhook_key_of(r.get(GRID_WEBHOOK_COLUMN, ""))
            if len(webhook_key) > WEBHOOK_KEY_MAX:
                errors.append(f"第{line}行：webhook_key 超过 {WEBHOOK_KEY_MAX} 个字符，只填 key= 后面的部分")
            polygon = r.get(GRID_POLYGON_COLUMN, "").strip()
            if polygon and not parse_polygon(polygon):  # it also refuses nan and out-of-range corners
                errors.append(f"第{line}行：polygon 应为“经度,纬度;经度,纬度;…”，至少三个点")
            unit = units.get(r.get(ORG_COLUMN, ""))
            if r.get(ORG_COLUMN) and unit is None:
                errors.append(f"第{line}行：org {r[ORG_COLUMN]} 不存在，请先导入组织架构（import-org）")
            elif unit is not None and unit.level != OrgLevel.COMMUNITY:
                level = org.LEVEL_NAMES[OrgLevel(unit.level)]
                errors.append(f"第{line}行：org {unit.code} 是{level}，不是社区。网格只挂在社区下，请填社区的编号")
            if errors:
                result.errors += errors
                continue
            grid = stored.get(r["code"])
            if grid is None:
                grid = Grid(code=r["code"], name=r["name"])
                result.created += 1
            else:
                result.updated += 1
            grid.name, grid.community, grid.chat_id = r["name"], r["community"], r["chat_id"]
            grid.aliases = "|".join(expand_aliases(r["aliases"]))
            grid.lat, grid.lng = lat, lng
            if GRID_WEBHOOK_COLUMN in r:
                grid.webhook_key = webhook_key
            if GRID_POLYGON_COLUMN in r:
                grid.polygon = polygon or None
            if ORG_COLUMN in r:
                grid.org_id, grid.org_path = (unit.id, unit.path) if unit else (None, "")
            session.add(grid)
            if (result.created + result.updated) % GRID_BATCH == 0:
                session.flush()
                batch_start = line + 1
        grids.changed(session)
        session.flush()
    except SQLAlchemyError as problem:
        result.errors.append(refused(line, problem, batch_start))
    return result


def webhook_key_of(value: str) -> str:
    """The key itself; people often paste the robot's whole address (…/webhook/send?key=…) from WeCom."""
    value = value.strip()
    if "key=" in value:
        value = value.split("key=", 1)[1].split("&", 1)[0]
    return value


def import_departments(session: Session, raw: bytes) -> ImportResult:
    """Create or update departments by code: the unit each serves, the categories it usually takes and its WeCom
    group. Any bad row: nothing is imported (the caller rolls back)."""
    result = ImportResult()
    records, result.errors = rows(raw, DEPARTMENT_COLUMNS)
    units = {u.code: u for u in org.all_units(session)} if records else {}
    stored = {d.code: d for d in org.all_departments(session)} if records else {}
    first_line: dict[str, int] = {}
    line = 1
    try:
        for line, r in records:
            if not r["code"] or not r["name"]:
                result.errors.append(f"第{line}行：code 和 name 不能为空")
                continue
            if r["code"] in first_line:
                first = first_line[r["code"]]
                result.errors.append(f"第{line}行：部门编号 {r['code']} 与第{first}行重复，每个部门只能有一行")
                continue
            first_line[r["code"]] = line
            codes, unknown = _category_codes(r["categories"])
            categories = "|".join(codes)
            errors = too_long(Department, {c: r[c] for c in ("code", "name", "chat_id")}, line)
            errors += bad_code(r["code"], line, "CG01")
            unit = units.get(r["org"])
            if r["org"] and unit is None:
                errors.append(f"第{line}行：org {r['org']} 不存在，请先导入组织架构（import-org）")
            if unknown:
                known = "、".join(f"{code}（{name}）" for code, name in nlp.categories())
                errors.append(f"第{line}行：categories 中的“{'”“'.join(unknown)}”不是已知类别。可填编号或名称：{known}")
            else:
                errors += too_long(Department, {"categories": categories}, line)
            if not r["chat_id"]:
                errors.append(
                    f"第{line}行：部门 {r['name']} 没有工作群：chat_id 不能为空。请先在企业微信建群，把群 id 填在这里"
                )
            if errors:
                result.errors += errors
                continue
            department = stored.get(r["code"])
            if department is None:
                department = Department(code=r["code"], name=r["name"])
                result.created += 1
            else:
                result.updated += 1
            department.name, department.categories, department.chat_id = r["name"], categories, r["chat_id"]
            department.org_id, department.org_path = (unit.id, unit.path) if unit else (None, "")
            session.add(department)
            session.flush()
        grids.changed(session)  # a department's chat may now be another unit's: its bot is read again
    except SQLAlchemyError as problem:
        result.errors.append(refused(line, problem))
    return result


def _category_codes(cell: str) -> tuple[list[str], list[str]]:
    """The taxonomy codes a cell names ("停车交通|noise": parking, noise), once each, and the words it does not know."""
    by_word: dict[str, str] = {}
    for code, name in nlp.categories():
        by_word[code.lower()] = by_word[name] = code
    codes: list[str] = []
    unknown: list[str] = []
    for word in (w.strip() for w in _CATEGORY_SEPARATOR.split(cell)):
        if word and word.lower() not in by_word:
            unknown.append(word)
        elif word and by_word[word.lower()] not in codes:
            codes.append(by_word[word.lower()])
    return codes, unknown


def import_people(session: Session, raw: bytes) -> ImportResult:
    """Create or update people. `id` is the WeCom userid for grid workers and department staff, the WeChat openid
    otherwise; "wecom:<userid>" or "wechat:<openid>" says which explicitly (a supervisor who works in WeCom). `org`
    is a supervisor's unit, or a department staff member's department.

    One person, one row: two rows for one account (a resident's row, and later a supervisor's) are refused rather
    than letting the last one decide the role."""
    result = ImportResult()
    records, result.errors = rows(raw, PEOPLE_COLUMNS)
    roles = {r.value for r in Role}
    units = _units_if_named(session, records)
    departments = _departments_if_named(session, records)
    first_line: dict[tuple[bool, str], int] = {}
    line = 1
    try:
        for line, r in records:
            if r["role"] not in roles:
                result.errors.append(
                    f"第{line}行：role 应为 resident、grid_worker、supervisor 或 department，而不是“{r['role']}”"
                )
                continue
            if not r["id"]:
                result.errors.append(f"第{line}行：id 不能为空")
                continue
            platform, colon, bare = r["id"].partition(":")
            if platform in ("wecom", "wechat") and colon:
                on_wecom, pid = platform == "wecom", bare.strip()
                if not pid:
                    result.errors.append(f"第{line}行：id“{platform}:”后面缺少账号，请填 {platform}:账号")
                    continue
            else:
                on_wecom, pid = r["role"] in (Role.GRID_WORKER, Role.DEPARTMENT), r["id"]
            if (on_wecom, pid) in first_line:
                first = first_line[on_wecom, pid]
                result.errors.append(f"第{line}行：id {r['id']} 与第{first}行是同一人，每人只能有一行")
                continue
            first_line[on_wecom, pid] = line
            id_column = "wecom_userid" if on_wecom else "openid"
            errors = too_long(Person, {id_column: pid, **{c: r[c] for c in ("name", "phone", "address")}}, line)
            staff = r["role"] == Role.DEPARTMENT
            grid = grids.by_code(session, r["grid"]) if r["grid"] and not staff else None
            if r["grid"] and staff:
                errors.append(f"第{line}行：部门人员不属于网格，grid 请留空（所属部门填在 org 列）")
            elif r["grid"] and grid is None:
                errors.append(f"第{line}行：网格 {r['grid']} 不存在，请先导入网格")
            elif r["role"] == Role.GRID_WORKER and grid is None:
                errors.append(f"第{line}行：网格员必须填写所属网格")
            named = r.get(ORG_COLUMN, "")
            unit = units.get(named) if r["role"] == Role.SUPERVISOR else None
            department = departments.get(named) if staff else None
            if staff:
                if not named:
                    errors.append(f"第{line}行：部门人员必须在 org 列填写所属部门编号")
                elif department is None:
                    errors.append(f"第{line}行：部门 {named} 不存在，请先导入部门（import-departments）")
            elif named and r["role"] != Role.SUPERVISOR:
                errors.append(
                    f"第{line}行：org 列只给指挥中心人员（supervisor）填所在单位、部门人员（department）填所属部门，"
                    "网格员和居民请留空"
                )
            elif named and unit is None and named in departments:
                errors.append(f"第{line}行：org {named} 是部门，不是单位。部门人员的 role 请填 department")
            elif named and unit is None:
                errors.append(f"第{line}行：org {named} 不存在，请先导入组织架构（import-org）")
            if errors:
                result.errors += errors
                continue
            person = people.by_wecom_userid(session, pid) if on_wecom else people.by_openid(session, pid)
            if person is None:
                person = Person(wecom_userid=pid) if on_wecom else Person(openid=pid)
                result.created += 1
            else:
                result.updated += 1
            person.role, person.name, person.phone, person.address = r["role"], r["name"], r["phone"], r["address"]
            person.grid_id = grid.id if grid else None
            person.department_id = department.id if department else None
            if ORG_COLUMN in r:
                person.org_id = unit.id if unit else None
            session.add(person)
            session.flush()
    except SQLAlchemyError as problem:
        result.errors.append(refused(line, problem))
    return result


def _units_if_named(session: Session, records: list[tuple[int, dict[str, str]]]) -> dict[str, OrgUnit]:
    """The units by code when the file has an org column: one read of the tree instead of one per row."""
    if not records or ORG_COLUMN not in records[0][1]:
        return {}
    return {u.code: u for u in org.all_units(session)}


def _departments_if_named(session: Session, records: list[tuple[int, dict[str, str]]]) -> dict[str, Department]:
    """The departments by code when the file has an org column (department staff name theirs there)."""
    if not records or ORG_COLUMN not in records[0][1]:
        return {}
    return {d.code: d for d in org.all_departments(session)}


@dataclass(frozen=True)
class _OrgRow:
    line: int
    name: str
    level: OrgLevel
    parent: str
    chat_id: str | None  # None: the file has no chat_id column
    bot_id: str | None  # None: the file has no bot_id column


def import_org(session: Session, raw: bytes) -> ImportResult:
    """Create or update the organisation's units (区 → 街道 → 社区) by code, then every unit's path and every grid's
    and department's copy of its unit's path. Rows come in any order; a parent is found in the file or in the database.

    Everything is checked before anything is written; any bad row: nothing is imported (the caller rolls back)."""
    result = ImportResult()
    records, result.errors = rows(raw, ORG_COLUMNS)
    stored = {u.code: u for u in org.all_units(session)}
    found: list[tuple[int, str]] = []
    planned, first_line = _org_rows(records, found)
    found += _org_tree_errors(planned, first_line, stored)
    found += _org_grid_errors(session, planned, stored)
    result.errors += [problem for _, problem in sorted(found, key=lambda pair: pair[0])]
    if result.errors:
        return result
    ids = {code: unit.id for code, unit in stored.items()}
    line = 1
    try:
        # Top down, so every parent has its id before its children are written.
        for code, row in sorted(planned.items(), key=lambda item: list(OrgLevel).index(item[1].level)):
            line = row.line
            unit = stored.get(code)
            if unit is None:
                unit = OrgUnit(code=code, name=row.name, level=row.level)
                result.created += 1
            else:
                result.updated += 1
            unit.name, unit.level = row.name, row.level
            unit.parent_id = ids[row.parent] if row.parent else None
            if row.chat_id is not None:
                unit.chat_id = row.chat_id
            if row.bot_id is not None:
                unit.bot_id = row.bot_id
            session.add(unit)
            session.flush()
            ids[code] = unit.id
        org.rebuild_paths(session)
        # Paths, chats and bots may all have changed: routing and every process's bots read them again.
        grids.changed(session)
        org.rebuild_department_paths(session)
        session.flush()
    except SQLAlchemyError as problem:
        result.errors.append(refused(line, problem))
    return result


def _org_rows(
    records: list[tuple[int, dict[str, str]]], found: list[tuple[int, str]]
) -> tuple[dict[str, _OrgRow], dict[str, int]]:
    """The rows that are right on their own, by code in file order, and the first line of every code in the file."""
    planned: dict[str, _OrgRow] = {}
    first_line: dict[str, int] = {}
    for line, r in records:
        code, name = r["code"], r["name"]
        if not code or not name:
            found.append((line, f"第{line}行：code 和 name 不能为空"))
            continue
        if code in first_line:
            found.append((line, f"第{line}行：组织编号 {code} 与第{first_line[code]}行重复，每个单位只能有一行"))
            continue
        first_line[code] = line
        chat_id, bot_id = r.get(ORG_CHAT_COLUMN), r.get(ORG_BOT_COLUMN)
        errors = too_long(OrgUnit, {"code": code, "name": name, "chat_id": chat_id or "", "bot_id": bot_id or ""}, line)
        errors += bad_code(code, line, "S01")
        if bot_id and not _ORG_CODE.fullmatch(bot_id):
            errors.append(f"第{line}行：bot_id“{bot_id}”只能含英文字母、数字、- 和 _，请填企业微信智能机器人的 BotID")
        level = ORG_LEVELS.get(r["level"].lower())
        if level is None:
            errors.append(
                f"第{line}行：level 应为 district（区）、street（街道、乡镇）或 community（社区、村），"
                f"而不是“{r['level']}”"
            )
        if errors or level is None:
            found += [(line, problem) for problem in errors]
            continue
        planned[code] = _OrgRow(line, name, level, r["parent"], chat_id, bot_id)
    return planned, first_line


def _org_tree_errors(
    planned: dict[str, _OrgRow], first_line: dict[str, int], stored: dict[str, OrgUnit]
) -> list[tuple[int, str]]:
    """What is wrong with the tree the file and the database make together: missing parents, cycles, and a parent
    of the wrong level (a community's must be a street, a street's a district), also for stored units whose parent
    the file changes."""
    code_of = {unit.id: code for code, unit in stored.items()}

    def parent_of(code: str) -> str:
        if code in planned:
            return planned[code].parent
        unit = stored.get(code)
        return code_of.get(unit.parent_id, "") if unit is not None and unit.parent_id is not None else ""

    def level_of(code: str) -> OrgLevel:
        return planned[code].level if code in planned else OrgLevel(stored[code].level)

    found: list[tuple[int, str]] = []
    on_cycle: set[str] = set()
    for code, row in planned.items():
        line, level, parent = row.line, row.level, row.parent
        above = org.PARENT_LEVEL[level]
        if not parent:
            if above is not None:
                missing = (
                    f"{org.LEVEL_NAMES[level]} {code} 缺少上级，请在 parent 填它所属{org.LEVEL_NAMES[above]}的编号"
                )
                found.append((line, f"第{line}行：{missing}"))
            continue
        if (parent in first_line and parent not in planned) or code in on_cycle:
            continue  # the parent's own row is wrong, or the cycle is named already: said once
        if parent not in planned and parent not in stored:
            found.append((line, f"第{line}行：上级 {parent} 不存在。请在本文件中加上它的一行，或先导入它"))
            continue
        cycle = _cycle(code, parent_of)
        if cycle:
            on_cycle.update(cycle)
            lines = [str(planned[c].line) for c in cycle[:-1] if c in planned]
            where = f"（第{'、'.join(lines)}行）。请改正其中一行" if len(lines) > 1 else "。请改正这一行"
            found.append((line, f"第{line}行：上下级形成循环：{' → '.join(cycle)}{where}的 parent"))
            continue
        if above is None:
            found.append((line, f"第{line}行：区 {code} 是最上一级，parent 应留空"))
        elif level_of(parent) != above:
            found.append(
                (
                    line,
                    f"第{line}行：{org.LEVEL_NAMES[level]} {code} 的上级应是{org.LEVEL_NAMES[above]}，"
                    f"而 {parent} 是{org.LEVEL_NAMES[level_of(parent)]}。请改正 parent 或 level",
                )
            )
    # Units the file leaves out keep their parent; a parent that changes level would leave them under the wrong one.
    misplaced: dict[str, list[str]] = {}
    for code, unit in stored.items():
        parent = code_of.get(unit.parent_id, "") if unit.parent_id is not None else ""
        if code not in planned and parent in planned:
            if org.PARENT_LEVEL[OrgLevel(unit.level)] != planned[parent].level:
                misplaced.setdefault(parent, []).append(code)
    for parent, codes in misplaced.items():
        row = planned[parent]
        named = "、".join(sorted(codes)[:5]) + (f" 等 {len(codes)} 个" if len(codes) > 5 else "")
        found.append(
            (
                row.line,
                f"第{row.line}行：{parent} 改为{org.LEVEL_NAMES[row.level]}后，已有的下级 {named}（不在本文件中）"
                "就挂在了错误的级别下。请在本文件中一并改正它们的 level 或 parent",
            )
        )
    return found


def _cycle(code: str, parent_of: Callable[[str], str]) -> list[str] | None:
    """The chain from a unit up its parents back to itself ([S01, S02, S01]); None when it is not on a cycle."""
    chain, seen = [code], {code}
    above = parent_of(code)
    while above:
        if above == code:
            return [*chain, code]
        if above in seen:
            return None  # it leads into a cycle of others, which is named at their rows
        chain.append(above)
        seen.add(above)
        above = parent_of(above)
    return None


def _org_grid_errors(
    session: Session, planned: dict[str, _OrgRow], stored: dict[str, OrgUnit]
) -> list[tuple[int, str]]:
    """A community with grids under it cannot become a street or a district: its grids would hang nowhere."""
    leaving = {
        stored[code].id: code
        for code, row in planned.items()
        if code in stored and stored[code].level == OrgLevel.COMMUNITY and row.level != OrgLevel.COMMUNITY
    }
    found = []
    for unit_id, count in org.grid_counts(session, [i for i in leaving if i is not None]).items():
        code = leaving[unit_id]
        row = planned[code]
        found.append(
            (
                row.line,
                f"第{row.line}行：社区 {code} 下有 {count} 个网格，不能改为{org.LEVEL_NAMES[row.level]}。"
                "请先用 import-grids 的 org 列把这些网格挂到别的社区",
            )
        )
    return found


# What a spreadsheet takes as the start of a formula (OWASP, CSV injection), TAB and CR included.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def csv_safe(cell: object) -> object:
    """The cell as a spreadsheet will show it as text, never run it as a formula: "'" before a leading = + - @,
    TAB or CR (a resident's complaint "=HYPERLINK(…)" opened in Excel at the centre would otherwise be a live link).

    A plain number ("-3", "+5", "-0.5") is left alone: it cannot call anything, and a quote would turn it into text.
    The quote stays in the file: a program reading it back sees "'=…". For `nlp train` on an export that is
    harmless: the learner reads only Chinese characters and latin words, so "'" is ignored; the label column holds
    category codes, which do not start with these characters.
    """
    if isinstance(cell, str) and cell.startswith(_FORMULA_START) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


class SafeCSVWriter:
    """csv.writer for every file we export: each cell goes through csv_safe."""

    def __init__(self, file: TextIO) -> None:
        self._writer = csv.writer(file)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([csv_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def export_corrections(session: Session) -> str:
    """The centre's 改类 as a labelled CSV (text,label,name,ticket,corrected_at) for `flask nlp train`.

    A ticket corrected twice appears once, with its last label. Residents' phone numbers and ID numbers are masked,
    and a text a spreadsheet would run as a formula starts with "'" (csv_safe).
    """
    latest: dict[int, tuple[TicketEvent, Ticket]] = {}
    for event, ticket in tickets.corrections(session):
        latest[ticket.id or 0] = (event, ticket)
    out = io.StringIO()
    writer = SafeCSVWriter(out)
    writer.writerow(["text", "label", "name", "ticket", "corrected_at"])
    for event, ticket in latest.values():
        label = json.loads(event.note)["to"]
        text = mask(ticket.text.split("\n【位置】")[0])
        writer.writerow([text, label, nlp.category_name(label), ticket.id, local(event.created_at).isoformat()])
    return out.getvalue()
