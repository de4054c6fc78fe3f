"""The command centre's screen (/centre/): its sign-ins and what it shows, with the chat commands' rules.

A sign-in acts as a supervisor (a Person with role supervisor and a unit), so the screen sees exactly what that
supervisor's 统计 / 超时 / 上报件 see: handlers/scope.py decides, as for every command. The web layer (centre/)
only speaks HTTP: sessions, CSRF, the pages.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session
from werkzeug.security import check_password_hash, generate_password_hash

import nlp
from handlers import complaints, moves, scope, sla
from handlers.clock import CST, fmt, local, period
from handlers.privacy import mask, mask_name, mask_phone
from handlers.routing import parse_polygon
from storage import accounts, grids, metrics, org, people, tickets
from storage.metrics import Rate
from storage.models import CentreAccount, Grid, OrgLevel, OrgUnit, Person, Role, Status, Ticket
from storage.scope import Within
from storage.tickets import STATUS_NAMES

MIN_PASSWORD = 10
USERNAME_MAX = 64
# The periods the screen offers, as 统计 names them.
PERIODS = ("今日", "本周", "本月", "上月")
LISTED = 20
# Categories over time: the last 14 local days, the 5 biggest categories and the rest as 其他 (the taxonomy's own
# "other" and every smaller one). Repeated problems: the first 8.
DAILY_DAYS = 14
DAILY_TOP = 5
OTHER = "other"
HOTSPOTS = 8
# The screen's buttons on a ticket: each is a chat command, typed for the supervisor as "<word> <number> <what they
# wrote>", so the command's own handler checks the rest and answers in its own words.
ACTIONS: dict[str, str] = {
    "派": "网格编号，如 G02",
    "转派": "网格编号，如 G02",
    "流转": "部门编号和要求，如 CG01 请今天处理",
    "协办": "部门或网格编号，如 G02 请协助",
    "督办": "要求，如 今天务必处理",
    "同意延期": "",
    "驳回延期": "原因",
    "改类": "类别，如 停车交通",
    "回访": "结果，如 已电话联系，居民满意",
}
# A ticket's events as its timeline names them: each move's command word (handlers/moves.py).
EVENT_WORDS = {move.event or name: move.word for name, move in moves.MOVES.items()} | {
    "open": "立案",
    "locate": "补充位置",
    "image": "图片",
    "after_photo": "办结照片",
    "supplement": "补充说明",
    "link": "关联同一问题",
    "reclassify": "改类",
    "callback": "回访",
    "supervise": "督办",
    "escalate": "升级",
    "hold": "暂缓",
    "split": "拆分",
    "photo_hidden": "照片已隐藏",
    "content_review": "内容待审核",
}
# Checked against when the username is unknown, so that a wrong name costs as long as a wrong password.
_NOBODY = generate_password_hash("nobody-has-this-password")


@dataclass(frozen=True)
class Added:
    created: bool
    account: CentreAccount


def add_account(session: Session, username: str, password: str, org_code: str, name: str = "") -> Added | str:
    """Create a sign-in for a unit's centre, or give an existing one a new password and unit; a refusal in plain
    words otherwise. Its supervisor is a Person of its own (the screen acts as them), named `name` or the unit's
    centre."""
    username = username.strip()
    if not username or len(username) > USERNAME_MAX or any(c.isspace() for c in username):
        return f"用户名不能为空、不能有空格，最多 {USERNAME_MAX} 个字符"
    if len(password) < MIN_PASSWORD:
        return f"密码至少 {MIN_PASSWORD} 个字符（大屏账号请用随机密码，如 openssl rand -base64 15）"
    unit = org.by_code(session, org_code) if org_code else None
    if org_code and unit is None:
        return f"没有编号为 {org_code} 的单位，请先导入组织架构（import-org）"
    shown = (name or (f"{unit.name}指挥中心" if unit else "指挥中心"))[:64]
    account = accounts.by_username(session, username)
    person = accounts.person_of(session, account) if account else None
    if person is None:
        person = Person(role=Role.SUPERVISOR)
    person.role, person.name, person.org_id = Role.SUPERVISOR, shown, unit.id if unit else None
    session.add(person)
    session.flush()
    assert person.id is not None
    created = account is None
    if account is None:
        account = CentreAccount(username=username, password_hash="", person_id=person.id)
    account.password_hash = generate_password_hash(password)
    account.person_id = person.id
    session.add(account)
    session.flush()
    return Added(created, account)


def sign_in(session: Session, username: str, password: str, now: datetime) -> CentreAccount | None:
    """The account a right username and password open, acting as a supervisor; None otherwise (which of the two
    was wrong is not said, and both cost one hash check)."""
    account = accounts.by_username(session, username.strip())
    if account is None:
        check_password_hash(_NOBODY, password)
        return None
    if not check_password_hash(account.password_hash, password):
        return None
    person = accounts.person_of(session, account)
    if person is None or person.role != Role.SUPERVISOR:
        return None
    account.last_signed_in_at = now
    session.add(account)
    return account


def sign_in_wecom(session: Session, userid: str) -> Person | str:
    """The supervisor a WeCom member (userid from 企业微信登录) signs in as: the roster's Person with that
    wecom_userid, if they are a supervisor; a refusal in plain words otherwise."""
    person = people.by_wecom_userid(session, userid) if userid else None
    if person is None:
        return f"你的企业微信账号（{userid[:64]}）不在网格通花名册中，请联系管理员把你加入花名册后再登录。"
    if person.role != Role.SUPERVISOR:
        return "你的企业微信账号不是指挥中心人员，请联系管理员在花名册中设置。"
    return person


def wecom_supervisor(session: Session, person_id: int, userid: str) -> Person | None:
    """A WeCom sign-in's Person while it still stands: on the roster with that userid, and still a supervisor."""
    person = session.get(Person, person_id)
    if person is None or person.wecom_userid != userid or person.role != Role.SUPERVISOR:
        return None
    return person


def screen(session: Session, person: Person, period_word: str, now: datetime) -> dict[str, Any]:
    """What the screen shows a supervisor: the period's numbers (the same as 统计 for the same unit and period) and
    those of the period before, the lists a centre works through (超时, 待派单, 上报件), categories over the last
    14 days, this week's repeated problems and the grid workers' league, all inside their unit."""
    reach = scope.of(session, person)
    word = period_word if period_word in PERIODS else "今日"
    since, until, shown = period(word, now)
    m = metrics.compute(session, since, until, now, within=reach.within)
    before = metrics.compute(session, *_period_before(word, since), now, within=reach.within)
    late = tickets.overdue(session, now, limit=LISTED, within=reach.within)
    waiting = tickets.awaiting_dispatch(session, limit=LISTED, within=reach.within)
    handed_up = tickets.reported_up(session, limit=LISTED, within=reach.within)
    week_since, week_until, _ = period("本周", now)
    repeats = metrics.repeats(session, week_since, week_until, reach.within, limit=HOTSPOTS)
    workers = metrics.by_worker(session, since, until, reach.within, limit=LISTED)
    grid_ids = [t.grid_id for t in [*late, *waiting, *handed_up]] + [r.grid_id for r in repeats]
    names = grids.names(session, grid_ids + [w.grid_id for w in workers])
    categories = metrics.by_category(session, since, until, reach.within)
    return {
        "unit": reach.name or "全部",
        "who": person.name,
        "period": shown,
        "updated": fmt(now),
        "numbers": _numbers(m),
        # The period before (昨日, 上周, 上月, 前一个月), whole, for the trend arrows; its overdue is today's count
        # of that period's tickets, not what was overdue then.
        "previous": _numbers(before),
        "categories": [{"name": nlp.category_name(code), "count": n} for code, n in categories],
        # The units right under this one side by side, best 办结率 first (统计's 排名); none below a street.
        "units": _league(session, reach.unit, since, until, now),
        "daily": _daily(session, reach.within, now),
        "hotspots": [
            {
                "grid": names.get(r.grid_id, ""),
                "place": r.place,
                "category": nlp.category_name(r.category),
                "count": r.count,
            }
            for r in repeats
        ],
        "workers": [
            {
                "name": w.name,
                "grid": names.get(w.grid_id or 0, ""),
                "handled": w.handled,
                "closed": w.closed,
                "on_time": _rate(w.on_time),
                "patrol": w.patrol,
                "satisfaction": _rate(w.satisfaction),
            }
            for w in workers
        ],
        "overdue": [_row(t, names, now, late_by=sla.late_by(t, now)) for t in late],
        "awaiting": [_row(t, names, now) for t in waiting],
        "reported_up": [_row(t, names, now, reported=fmt(t.reported_up_at)) for t in handed_up],
    }


def _league(session: Session, unit: OrgUnit | None, since: datetime, until: datetime, now: datetime) -> list[Any]:
    if unit is None or unit.level == OrgLevel.COMMUNITY:
        return []
    return [
        {
            "name": child.name,
            "total": m.total,
            "closure": _rate(m.closure),
            "on_time": _rate(m.on_time),
            "satisfaction": _rate(m.satisfaction),
            "overdue": m.overdue,
        }
        for child, m in metrics.ranked(session, org.children(session, unit), since, until, now)
    ]


def _numbers(m: metrics.Metrics) -> dict[str, Any]:
    return {
        "total": m.total,
        "open": m.open,
        "overdue": m.overdue,
        "patrol": m.patrol,
        "resident": m.resident,
        "response": _rate(m.response),
        "on_time": _rate(m.on_time),
        "closure": _rate(m.closure),
        "satisfaction": _rate(m.satisfaction),
        "reopen": _rate(m.reopen),
    }


def _period_before(word: str, since: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the whole period before the one that starts at `since`: yesterday for 今日, last week
    for 本周, last month for 本月 (统计 上月's), the month before that for 上月."""
    if word == "今日":
        return since - timedelta(days=1), since
    if word == "本周":
        return since - timedelta(days=7), since
    # `since` is the 1st of a month, 00:00 local: the 上月 of that moment is the month before it.
    return period("上月", since)[0], since


def _daily(session: Session, within: Within | None, now: datetime) -> dict[str, Any]:
    """Categories over the last DAILY_DAYS local days, today's so far included: the DAILY_TOP biggest categories of
    those days, then 其他: the taxonomy's own 其他 and every smaller category (left out when none)."""
    today = period("今日", now)[0]
    starts = [today - timedelta(days=back) for back in range(DAILY_DAYS - 1, -1, -1)]
    counts = metrics.by_day_and_category(session, [*starts, now + timedelta(seconds=1)], within)
    totals: dict[str, int] = {}
    for _, category, n in counts:
        totals[category] = totals.get(category, 0) + n
    ranked = sorted((kv for kv in totals.items() if kv[0] != OTHER), key=lambda kv: (-kv[1], kv[0]))
    top = [category for category, _ in ranked[:DAILY_TOP]]
    series = {category: [0] * DAILY_DAYS for category in [*top, OTHER]}
    for day, category, n in counts:
        series[category if category in top else OTHER][day] += n
    return {
        "days": [f"{local(start):%m-%d}" for start in starts],
        "series": [
            {"name": nlp.category_name(category), "counts": per_day}
            for category, per_day in series.items()
            if category != OTHER or any(per_day)
        ],
    }


def _rate(rate: Rate) -> dict[str, Any]:
    return {"part": rate.part, "whole": rate.whole, "value": rate.value, "text": str(rate)}


def _row(ticket: Ticket, names: dict[int, str], now: datetime, **extra: str) -> dict[str, Any]:
    """A ticket as a list shows it: what, where, whose; the resident's words masked as in the groups."""
    text = mask(ticket.text)
    return {
        "id": ticket.id,
        "category": complaints.label(ticket),
        "grid": names.get(ticket.grid_id or 0, "待派单"),
        "place": ticket.location_text,
        "status": STATUS_NAMES.get(Status(ticket.status), ticket.status),
        "urgent": ticket.urgent,
        "created": fmt(ticket.created_at),
        "due": fmt(ticket.resolve_due_at),
        "mark": sla.mark_for(ticket, now),
        "text": text if len(text) <= 60 else text[:59] + "…",
        **extra,
    }


def command_text(word: str, number: int, args: str) -> str | None:
    """The chat command a button stands for; None for a word the screen does not offer."""
    if word not in ACTIONS:
        return None
    return " ".join(part for part in (word, str(number), " ".join(args.split())[:200]) if part)


def ticket_detail(session: Session, person: Person, number: int, now: datetime) -> dict[str, Any] | str:
    """A ticket as the screen shows it (what 查 says, with its timeline and photos), or why the person may not see
    it: the same rule as every command."""
    ticket = tickets.get(session, number)
    if ticket is None:
        return f"没有工单 {number}。请回到大屏，从列表里打开工单。"
    if not scope.may_act_on(session, person, ticket):
        return scope.refusal(session, person, ticket, "查看")
    grid_names = grids.names(session, [ticket.grid_id])
    resident = session.get(Person, ticket.resident_id) if ticket.resident_id else None
    events = tickets.events(session, number)
    involved = [p for p in (session.get(Person, e.actor_id) for e in events if e.actor_id) if p is not None]
    # Staff by name; a resident masked, as everywhere staff read about them.
    actors = {p.id: f"居民{mask_name(p.name)}" if p.role == Role.RESIDENT else p.name for p in involved}
    images = json.loads(ticket.images or "[]")
    return {
        **_row(ticket, grid_names, now),
        "text": mask(ticket.text),
        "resident": f"{mask_name(resident.name)} {mask_phone(resident.phone)}".strip() if resident else "",
        "timeline": [
            {
                "at": fmt(e.created_at),
                "who": actors.get(e.actor_id or 0, "系统"),
                "what": EVENT_WORDS.get(e.action, e.action),
                "note": mask(e.note),
            }
            for e in events
        ],
        "photos": [{"url": i.get("url", ""), "after": bool(i.get("after"))} for i in images if i.get("url")],
        "actions": ACTIONS,
    }


# ---- the export -----------------------------------------------------------------------------------------------------

EXPORT_MAX_DAYS = 366
TICKET_COLUMNS = (
    "工单号", "受理时间", "分类", "内容", "地点", "网格", "办理", "状态",
    "接单时间", "办结时间", "按期办结", "评价", "居民电话",
)  # fmt: skip
UNIT_COLUMNS = ("单位", "受理", "办结率", "按期办结率", "响应率", "满意率", "重办率", "超时", "巡查发现")


def export_range(start: str, end: str, now: datetime) -> tuple[datetime, datetime, str] | str:
    """[since, until) in UTC for local dates `start`..`end` (both included; empty: this month so far), and the
    period's name for the file; or what is wrong with them, in plain words."""
    month_start = period("本月", now)[0]
    try:
        first = date.fromisoformat(start) if start else local(month_start).date()
        last = date.fromisoformat(end) if end else local(now).date()
    except ValueError:
        return "日期应写成 2026-12-01 这样的年-月-日。"
    if last < first:
        return "结束日期早于开始日期，请改过来再导出。"
    if (last - first).days + 1 > EXPORT_MAX_DAYS:
        return f"一次最多导出 {EXPORT_MAX_DAYS} 天（一年），请缩短范围后再试。"
    since = datetime.combine(first, time(), CST).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time(), CST).astimezone(UTC)
    return since, until, f"{first:%Y%m%d}-{last:%Y%m%d}"


def export_tickets(session: Session, person: Person, since: datetime, until: datetime) -> Iterator[list[Any]]:
    """One row a ticket (TICKET_COLUMNS) of those created in [since, until) inside the person's unit, oldest
    first, streamed; the resident's phone masked, as everywhere staff read it."""
    within = scope.of(session, person).within
    grid_names: dict[int, str] = {}
    departments = {d.id: d.name for d in org.all_departments(session)}
    for ticket, phone, assignee in tickets.for_export(session, since, until, within):
        if ticket.grid_id and ticket.grid_id not in grid_names:
            grid_names.update(grids.names(session, [ticket.grid_id]))
        handler = departments.get(ticket.department_id or 0, "") or assignee
        on_time = "" if ticket.resolve_on_time is None else ("是" if ticket.resolve_on_time else "否")
        yield [
            ticket.id,
            fmt(ticket.created_at),
            complaints.label(ticket),
            mask(ticket.text),
            ticket.location_text,
            grid_names.get(ticket.grid_id or 0, "待派单"),
            handler,
            STATUS_NAMES.get(Status(ticket.status), ticket.status),
            fmt(ticket.first_accepted_at),
            fmt(ticket.first_resolved_at),
            on_time,
            ticket.rating if ticket.rating is not None else "",
            mask_phone(phone),
        ]


def export_units(session: Session, person: Person, since: datetime, until: datetime, now: datetime) -> list[list[Any]]:
    """The period's numbers (UNIT_COLUMNS) of the person's unit, then of each unit right under it."""
    reach = scope.of(session, person)
    rows = [(reach.name or "全部", reach.within)]
    if reach.unit is not None:
        rows += [(child.name, Within(child.path)) for child in org.children(session, reach.unit)]
    table = []
    for name, within in rows:
        m = metrics.compute(session, since, until, now, within=within)
        rates = (m.closure, m.on_time, m.response, m.satisfaction, m.reopen)
        table.append([name, m.total, *(str(rate) for rate in rates), m.overdue, m.patrol])
    return table


# ---- the map -----------------------------------------------------------------------------------------------------

# The most grids a map draws (a district's thousands are still drawn; a city's tens of thousands are not a map) and
# open tickets it marks.
MAP_GRIDS = 5000
MAP_POINTS = 300
# A ticket without coordinates is drawn at its grid's centre, spread within about this many degrees (30 m) so that
# a grid's tickets do not hide one another.
SPREAD = 0.0003
GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))


def grid_map(session: Session, person: Person, now: datetime, known_version: str = "") -> dict[str, Any]:
    """The unit's grids with their open and overdue load, and its open tickets as points (urgent first).

    The grids' shapes come only when the caller's `known_version` is not the grid list's current one (an import
    changes it): a screen asking every few seconds gets the outlines once, then just the load and the points.
    """
    reach = scope.of(session, person)
    version = grids.version(session) or ""
    rows = grids.on_map(session, MAP_GRIDS, reach.within)
    codes = {g.id: g.code for g in rows if g.id is not None}
    centres = {g.id: c for g in rows if (c := _centre(g)) is not None}
    load = tickets.open_load(session, now, reach.within)
    points = []
    for ticket in tickets.open_on_map(session, MAP_POINTS, reach.within):
        place = _place(ticket, centres)
        if place is None:
            continue
        late = ticket.paused_at is None and ticket.resolve_due_at is not None and ticket.resolve_due_at < now
        points.append(
            {
                "id": ticket.id,
                "grid": codes.get(ticket.grid_id or 0, ""),
                "lng": round(place[0], 6),
                "lat": round(place[1], 6),
                "exact": ticket.lat is not None and ticket.lng is not None,
                "urgent": ticket.urgent,
                "late": late,
                "category": complaints.label(ticket),
                "place": ticket.location_text,
            }
        )
    shown: dict[str, Any] = {
        "version": version,
        "load": {codes[i]: list(n) for i, n in load.items() if i in codes},
        "points": points,
    }
    if not version or known_version != version:
        workers = people.worker_names(session, list(codes))
        shown["grids"] = [
            {
                "code": g.code,
                "name": g.name,
                "community": g.community,
                "worker": workers.get(g.id or 0, ""),
                "centre": centres.get(g.id),
                "polygon": parse_polygon(g.polygon or ""),
            }
            for g in rows
        ]
        shown["more"] = len(rows) >= MAP_GRIDS
    return shown


def _centre(grid: Grid) -> tuple[float, float] | None:
    """(lng, lat): the grid's own point, else the middle of its outline; None when it has neither."""
    if grid.lat is not None and grid.lng is not None:
        return (grid.lng, grid.lat)
    corners = parse_polygon(grid.polygon or "")
    if not corners:
        return None
    return (sum(c[0] for c in corners) / len(corners), sum(c[1] for c in corners) / len(corners))


def _place(ticket: Ticket, centres: dict[int | None, tuple[float, float]]) -> tuple[float, float] | None:
    """(lng, lat) of a ticket's point: where the resident pinned it, else near its grid's centre."""
    if ticket.lat is not None and ticket.lng is not None:
        return (ticket.lng, ticket.lat)
    centre = centres.get(ticket.grid_id)
    if centre is None or ticket.id is None:
        return None
    angle, reach = ticket.id * GOLDEN_ANGLE, SPREAD * math.sqrt((ticket.id * 7 % 10 + 1) / 10)
    return (
        centre[0] + reach * math.cos(angle) / math.cos(math.radians(centre[1])),
        centre[1] + reach * math.sin(angle),
    )
