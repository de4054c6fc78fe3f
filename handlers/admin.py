"""Importing the roster: grids and people from the CSV files a street office keeps in Excel."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

from sqlmodel import Session

import nlp
from handlers.clock import local
from handlers.privacy import mask
from handlers.routing import parse_polygon
from storage import grids, people, tickets
from storage.models import Grid, Person, Role, Ticket, TicketEvent

GRID_COLUMNS = ("code", "name", "community", "aliases", "chat_id", "lat", "lng")
# Optional: the grid group's robot key (群机器人), for tenants without the AI bot. A file without the column
# leaves the keys already stored alone.
GRID_WEBHOOK_COLUMN = "webhook_key"
# Optional: the grid's boundary, "lng,lat;lng,lat;…" (a quoted cell) or "lng lat;…", three corners or more (GCJ-02,
# as WeChat shares locations), for shared WeChat locations.
GRID_POLYGON_COLUMN = "polygon"
WEBHOOK_KEY_MAX = 64
PEOPLE_COLUMNS = ("role", "id", "name", "grid", "phone", "address")
_RANGE = re.compile(r"^(?P<head>.*?)(?P<start>\d+)-(?P<end>\d+)(?P<tail>栋|号楼|幢|座)$")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def decode(raw: bytes) -> str:
    """Excel on Chinese Windows saves GBK; everything else UTF-8 (with or without BOM)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def rows(raw: bytes, required: tuple[str, ...]) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    reader = csv.DictReader(io.StringIO(decode(raw)))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        return [], [f"第1行：缺少列 {', '.join(missing)}（需要 {','.join(required)}）"]
    reader.fieldnames = header
    out = []
    for record in reader:
        values = {k: (v or "").strip() for k, v in record.items() if k}
        if any(values.values()):
            out.append((reader.line_num, values))
    return out, []


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


def _float(value: str, line: int, column: str, errors: list[str]) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        errors.append(f"第{line}行：{column} 不是数字：{value}")
        return None


def import_grids(session: Session, raw: bytes) -> ImportResult:
    """Create or update grids by code. Any bad row: nothing is imported (the caller rolls back)."""
    result = ImportResult()
    records, result.errors = rows(raw, GRID_COLUMNS)
    seen: set[str] = set()
    for line, r in records:
        if not r["code"] or not r["name"]:
            result.errors.append(f"第{line}行：code 和 name 不能为空")
            continue
        if r["code"] in seen:
            result.errors.append(f"第{line}行：网格编号 {r['code']} 重复")
            continue
        seen.add(r["code"])
        lat, lng = _float(r["lat"], line, "lat", result.errors), _float(r["lng"], line, "lng", result.errors)
        webhook_key = webhook_key_of(r.get(GRID_WEBHOOK_COLUMN, ""))
        if len(webhook_key) > WEBHOOK_KEY_MAX:
            result.errors.append(f"第{line}行：webhook_key 超过 {WEBHOOK_KEY_MAX} 个字符，只填 key= 后面的部分")
        polygon = r.get(GRID_POLYGON_COLUMN, "").strip()
        if polygon and not parse_polygon(polygon):
            result.errors.append(f"第{line}行：polygon 应为“经度,纬度;经度,纬度;…”，至少三个点")
        grid = grids.by_code(session, r["code"])
        if grid is None:
            grid = Grid(code=r["code"], name=r["name"])
            result.created += 1
        else:
            result.updated += 1
        grid.name, grid.community, grid.chat_id = r["name"], r["community"], r["chat_id"]
        grid.aliases = "|".join(expand_aliases(r["aliases"]))
        grid.lat, grid.lng = lat, lng
        if GRID_WEBHOOK_COLUMN in r:
            grid.webhook_key = webhook_key[:WEBHOOK_KEY_MAX]
        if GRID_POLYGON_COLUMN in r:
            grid.polygon = polygon or None
        session.add(grid)
    grids.changed(session)
    session.flush()
    return result


def webhook_key_of(value: str) -> str:
    """The key itself; people often paste the robot's whole address (…/webhook/send?key=…) from WeCom."""
    value = value.strip()
    if "key=" in value:
        value = value.split("key=", 1)[1].split("&", 1)[0]
    return value


def import_people(session: Session, raw: bytes) -> ImportResult:
    """Create or update people. `id` is the WeCom userid for grid workers, the WeChat openid otherwise;
    "wecom:<userid>" or "wechat:<openid>" says which explicitly (a supervisor who works in WeCom)."""
    result = ImportResult()
    records, result.errors = rows(raw, PEOPLE_COLUMNS)
    roles = {r.value for r in Role}
    for line, r in records:
        if r["role"] not in roles:
            result.errors.append(f"第{line}行：role 应为 resident、grid_worker 或 supervisor，而不是“{r['role']}”")
            continue
        if not r["id"]:
            result.errors.append(f"第{line}行：id 不能为空")
            continue
        grid = grids.by_code(session, r["grid"]) if r["grid"] else None
        if r["grid"] and grid is None:
            result.errors.append(f"第{line}行：网格 {r['grid']} 不存在，请先导入网格")
            continue
        if r["role"] == Role.GRID_WORKER and grid is None:
            result.errors.append(f"第{line}行：网格员必须填写所属网格")
            continue
        platform, _, bare = r["id"].partition(":")
        if platform in ("wecom", "wechat") and bare:
            on_wecom, pid = platform == "wecom", bare
        else:
            on_wecom, pid = r["role"] == Role.GRID_WORKER, r["id"]
        person = people.by_wecom_userid(session, pid) if on_wecom else people.by_openid(session, pid)
        if person is None:
            person = Person(wecom_userid=pid) if on_wecom else Person(openid=pid)
            result.created += 1
        else:
            result.updated += 1
        person.role, person.name, person.phone, person.address = r["role"], r["name"], r["phone"], r["address"]
        person.grid_id = grid.id if grid else None
        session.add(person)
        session.flush()
    return result


def export_corrections(session: Session) -> str:
    """The centre's 改类 as a labelled CSV (text,label,name,ticket,corrected_at) for `flask nlp train`.

    A ticket corrected twice appears once, with its last label. Residents' phone numbers and ID numbers are masked.
    """
    latest: dict[int, tuple[TicketEvent, Ticket]] = {}
    for event, ticket in tickets.corrections(session):
        latest[ticket.id or 0] = (event, ticket)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "label", "name", "ticket", "corrected_at"])
    for event, ticket in latest.values():
        label = json.loads(event.note)["to"]
        text = mask(ticket.text.split("\n【位置】")[0])
        writer.writerow([text, label, nlp.category_name(label), ticket.id, local(event.created_at).isoformat()])
    return out.getvalue()
