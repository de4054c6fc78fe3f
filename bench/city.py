"""A generated city for the scale benchmark: its organisation tree (districts, streets, communities), its grids (10 or
11 to a community, with aliases, polygons, a group chat and a worker each), its residents, and a year of its
tickets, as bulk-loadable rows.

Everything is drawn from fixed seeds, so two runs (and the baseline and full cases of one run) load the same rows.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from bench.harness import BenchError, bulk_insert
from handlers import sla
from handlers.clock import CST
from storage import grids
from storage.models import OPEN_STATUSES, Grid, OrgLevel, OrgUnit, Person, Role, Status, Ticket, TicketSource

# Wednesday 18 November 2026, 10:00 China time: the moment the year ends and every command is asked at, so that 今日 and
# 本月 cover the same tickets whatever day the benchmark runs (the handlers take `now` from the caller, as the WeCom
# path passes it).
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
DAYS = 365
CITY_GRIDS = 32_000
TICKETS_PER_GRID = 31.25  # a year's tickets per grid on average: 1,000,000 over a city's 32,000 grids
# The organisation tree of issue 12: 30 districts of 10 streets of 10 communities, 10 or 11 grids each (a street
# centre: about 107 grids).
CITY_COMMUNITIES = 3_000
STREETS_PER_DISTRICT, COMMUNITIES_PER_STREET = 10, 10
RESIDENTS_PER_TICKET = 0.2  # a resident who writes at all writes five times a year
DEMO_WEIGHT = 10.0  # the demo grids are busy old compounds: ten times the median grid's tickets
TABLES = SQLModel.metadata.tables

# How a ticket's year goes, as fractions of all tickets.
CANCELLED = 0.02  # withdrawn by the resident within minutes
# Accepted and never resolved, the backlog 超时 is for: 3 % of new tickets, halving every 60 days (supervisors get
# the oldest closed), never below 0.3 %.
STUCK_NEW, STUCK_HALF_LIFE_DAYS, STUCK_FLOOR = 0.03, 60.0, 0.003
SUSPENDED_OF_STUCK, REOPENED_OF_STUCK, RETURNED_OF_STUCK = 0.2, 0.1, 0.1
UNROUTED = 0.05  # of the tickets still being routed: no grid yet (待派单)
URGENT = 0.02
RATED = 0.65
REOPENED_ONCE = 0.02
RATINGS = ((5, 0.70), (4, 0.10), (3, 0.12), (2, 0.03), (1, 0.05))
# Complaints per China-time hour of the day, relative.
HOURLY = (
    0.2,
    0.1,
    0.1,
    0.1,
    0.1,
    0.2,
    0.5,
    1.2,
    2.0,
    2.5,
    2.5,
    2.2,
    1.6,
    1.5,
    2.0,
    2.2,
    2.1,
    2.0,
    1.8,
    1.9,
    2.0,
    1.6,
    1.0,
    0.5,
)
# category: (share, what residents write, the keyword that decided it)
CATEGORIES = {
    "property": (0.20, "3号楼楼道灯坏了好几天了，晚上上下楼很危险", "楼道灯"),
    "sanitation": (0.15, "小区门口垃圾堆了三天没人清，味道很大", "垃圾"),
    "parking": (0.12, "消防通道天天被私家车堵住，物业也不管", "消防通道"),
    "noise": (0.10, "楼上天天半夜装修，吵得睡不着", "装修"),
    "facility": (0.10, "小区南门路灯不亮了，一到晚上黑漆漆的", "路灯"),
    "utility": (0.08, "家里停水一整天了，也没有通知", "停水"),
    "safety": (0.06, "有人把电动车推进楼道里充电", "电动车"),
    "construction": (0.05, "顶楼住户在楼顶搭了个棚子", "违建"),
    "dispute": (0.04, "邻居在公共走廊堆满杂物，说了也不听", "堆物"),
    "security": (0.04, "小区门禁坏了，陌生人随便进出", "门禁"),
    "service": (0.03, "想问一下老年卡在哪里办理", "老年卡"),
    "other": (0.03, "有个情况想反映一下，麻烦联系我", ""),
}


@dataclass
class City:
    """The grids the tickets are spread over, each grid's worker, and the residents who write."""

    grids: list[int]  # demo grids first
    workers: dict[int, int]
    residents: list[int]
    cum_weights: list[float]
    units: dict[str, tuple[int, str]]  # the organisation tree: (id, path) by code


# ---- the city: its organisation tree, grids, workers, residents ----------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One unit of the city's organisation tree (区 → 街道 → 社区), as import-org would store it."""

    code: str
    name: str
    level: OrgLevel
    parent: str  # the parent's code; "" for a district
    path: str
    chat_id: str


def grid_count(tickets: int) -> int:
    return min(CITY_GRIDS, max(1, round(tickets / TICKETS_PER_GRID)))


def community_of(grid: int) -> int:
    """The community (0-based) of the city's grid number `grid` (0-based, the generated grids only): 32,000 grids
    over 3,000 communities, in order, 10 or 11 each. A smaller city is the first grids of the same layout, so its
    tree is the first units of the city's."""
    return grid * CITY_COMMUNITIES // CITY_GRIDS


def first_grid(community: int) -> int:
    return -(-community * CITY_GRIDS // CITY_COMMUNITIES)


def tree(grids: int) -> list[Unit]:
    """The units that hold the first `grids` grids of the city: districts of 10 streets, streets of 10 communities;
    parents before their children, so they can be loaded in this order. Every centre has its group, as in a city
    that runs the tree: centre notices look for the nearest one."""
    communities = community_of(grids - 1) + 1
    streets = (communities - 1) // COMMUNITIES_PER_STREET + 1
    districts = (streets - 1) // STREETS_PER_DISTRICT + 1

    def unit(code: str, name: str, level: OrgLevel, above: Unit | None) -> Unit:
        parent, path = (above.code, above.path) if above else ("", "/")
        return Unit(code, name, level, parent, f"{path}{code}/", f"centre-{code.lower()}")

    units = [unit(f"D{d + 1:03d}", f"第{d + 1}区", OrgLevel.DISTRICT, None) for d in range(districts)]
    units += [
        unit(f"S{s + 1:03d}", f"第{s + 1}街道", OrgLevel.STREET, units[s // STREETS_PER_DISTRICT])
        for s in range(streets)
    ]
    units += [
        unit(f"C{c + 1:04d}", community_name(c), OrgLevel.COMMUNITY, units[districts + c // COMMUNITIES_PER_STREET])
        for c in range(communities)
    ]
    return units


def community_name(community: int) -> str:
    """Its name, numbered within its street: 幸福3社区."""
    return f"{COMMUNITY_NAMES[community % len(COMMUNITY_NAMES)]}{community % COMMUNITIES_PER_STREET + 1}社区"


def community_code(grid: int) -> str:
    """The code of the community unit the city's grid number `grid` hangs under."""
    return f"C{community_of(grid) + 1:04d}"


def grid_rows(start: int, stop: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    """The city's grids number `start` to `stop` - 1, J-coded, each with aliases, a polygon and a group chat;
    `community` is the compound name residents use (the unit they hang under is `community_code`)."""
    for n in range(start, stop):
        community = community_of(n)
        street = community // COMMUNITIES_PER_STREET
        number = n - first_grid(community) + 1
        place = f"第{street + 1}街道{community_name(community)}"
        lat, lng = 30.0 + rng.uniform(0, 0.6), 120.0 + rng.uniform(0, 0.6)
        corners = ";".join(f"{lng + dx:.6f},{lat + dy:.6f}" for dx, dy in POLYGON)
        buildings = "|".join(f"{place}{(number - 1) * 4 + b}栋" for b in range(1, 5))
        yield {
            "code": f"J{community + 1:04d}{number:02d}",
            "name": f"{place}第{number}网格",
            "community": place,
            "aliases": f"{buildings}|{place}{'东南西北'[number % 4]}门",
            "chat_id": f"wrk-chat-j{n + 1}",
            "webhook_key": "",
            "lat": lat,
            "lng": lng,
            "polygon": corners,
        }


def add_tree(engine: Engine, grids: int) -> dict[str, tuple[int, str]]:
    """The units the city's first `grids` grids hang under, added in bulk where missing (a level at a time, so each
    knows its parent's id); every unit's (id, path) by code."""
    units = tree(grids)
    with Session(engine) as session:
        stored = {u.code: (u.id, u.path) for u in session.exec(select(OrgUnit)).all() if u.id is not None}
    clash = next((u for u in units if u.code in stored and stored[u.code][1] != u.path), None)
    if clash is not None:
        raise BenchError(f"unit {clash.code} is stored at {stored[clash.code][1]}, the city's is at {clash.path}")
    for level in OrgLevel:
        rows = [
            {
                "code": u.code,
                "name": u.name,
                "level": u.level,
                "parent_id": stored[u.parent][0] if u.parent else None,
                "path": u.path,
                "chat_id": u.chat_id,
            }
            for u in units
            if u.level == level and u.code not in stored
        ]
        bulk_insert(engine, TABLES["org_unit"], rows)
        with Session(engine) as session:
            made = session.exec(select(OrgUnit.id, OrgUnit.code, OrgUnit.path).where(OrgUnit.level == level)).all()
        stored |= {code: (unit_id, path) for unit_id, code, path in made if unit_id is not None}
    return stored


def build_city(engine: Engine, tickets: int) -> City:
    """The city the ticket count calls for, grown from what the database holds (the demo, perhaps a smaller city
    built before): the demo's grids and as many generated ones as make the count, the generated ones under the
    city's organisation tree; a worker each, and the residents. All loaded in bulk.

    The demo keeps its own tree (seed-demo imports one); demo grids without a unit hang in the city's first
    community."""
    rng = random.Random(20261118)
    with Session(engine) as session:
        held = session.exec(select(Grid.id, Grid.code, Grid.org_id).order_by(col(Grid.code))).all()
        scale_residents = session.exec(select(func.count()).where(col(Person.openid).startswith(RESIDENT_PREFIX))).one()
    demo = [(grid_id, org_id) for grid_id, code, org_id in held if not code.startswith(CITY_CODE)]
    built = len(held) - len(demo)
    wanted = max(built, grid_count(tickets) - len(demo), 1)
    units = add_tree(engine, wanted)
    first_id, first_path = units[community_code(0)]
    hung = [{"id": grid_id, "org_id": first_id, "org_path": first_path} for grid_id, org_id in demo if org_id is None]
    if hung:
        with Session(engine) as session:
            session.execute(update(Grid), hung)
            session.commit()
    bulk_insert(engine, TABLES["grid"], hung_grids(grid_rows(built, wanted, rng), built, units))
    with Session(engine) as session:
        grids.changed(session)  # written behind the importer's back: say so, as the importer does
        session.commit()
        made = session.exec(select(Grid.id, Grid.code).order_by(col(Grid.code))).all()
    demo_ids = [grid_id for grid_id, code in made if not code.startswith(CITY_CODE) and grid_id is not None]
    extra = [grid_id for grid_id, code in made if code.startswith(CITY_CODE) and grid_id is not None]
    had = {grid_id for grid_id, _, _ in held}
    bulk_insert(
        engine,
        TABLES["person"],
        (
            {
                "wecom_userid": f"w-{code.lower()}",
                "openid": None,
                "role": Role.GRID_WORKER,
                "name": f"网格员{code}",
                "grid_id": grid_id,
                "phone": f"137{grid_id:08d}",
                "address": "",
                "subscribed": True,
                "created_at": NOW - timedelta(days=400),
            }
            for grid_id, code in made
            if grid_id is not None and grid_id not in had
        ),
    )
    all_grids = demo_ids + extra
    bulk_insert(
        engine,
        TABLES["person"],
        (
            {
                "wecom_userid": None,
                "openid": f"{RESIDENT_PREFIX}{i + 1}",
                "role": Role.RESIDENT,
                "name": "",
                "grid_id": all_grids[i % len(all_grids)],
                "phone": f"139{i + 1:08d}",
                "address": f"{i % 30 + 1}栋{i % 6 + 1}单元",
                "subscribed": True,
                "created_at": NOW - timedelta(days=400),
            }
            for i in range(scale_residents, max(1, round(tickets * RESIDENTS_PER_TICKET)))
        ),
    )
    with Session(engine) as session:
        workers = session.exec(
            select(Person.grid_id, Person.id).where(Person.role == Role.GRID_WORKER).order_by(col(Person.id))
        ).all()
        residents = session.exec(select(Person.id).where(Person.role == Role.RESIDENT).order_by(col(Person.id))).all()
    first_worker: dict[int, int] = {}
    for grid_id, worker_id in workers:
        if grid_id is not None and worker_id is not None:
            first_worker.setdefault(grid_id, worker_id)
    weights = [DEMO_WEIGHT if i < len(demo_ids) else rng.lognormvariate(0, 0.8) for i in range(len(all_grids))]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    return City(all_grids, first_worker, [r for r in residents if r is not None], cum, units)


def hung_grids(
    rows: Iterable[dict[str, Any]], start: int, units: dict[str, tuple[int, str]]
) -> Iterator[dict[str, Any]]:
    """Grid rows from number `start` on, each with its community's id and path, as import-grids' org column sets
    them."""
    for n, row in enumerate(rows, start):
        unit_id, path = units[community_code(n)]
        yield row | {"org_id": unit_id, "org_path": path}


# ---- the same city as the CSV files an operator imports ------------------------------------------------------------

ORG_HEADER = ("code", "name", "level", "parent", "chat_id")
GRID_HEADER = ("code", "name", "community", "aliases", "chat_id", "lat", "lng", "webhook_key", "polygon")


def write_org(path: Path, grids: int) -> int:
    """The tree of the city's first `grids` grids as `flask import-org` reads it, parents first; the units."""
    units = tree(grids)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ORG_HEADER)
        writer.writerows((u.code, u.name, u.level.value, u.parent, u.chat_id) for u in units)
    return len(units)


def write_grids(path: Path, grids: int, org: bool) -> None:
    """The city's first `grids` grids as `flask import-grids` reads them; with `org`, the column that hangs each
    under its community."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(GRID_HEADER + (("org",) if org else ()))
        for n, row in enumerate(grid_rows(0, grids, random.Random(20261118))):
            writer.writerow([row[column] for column in GRID_HEADER] + ([community_code(n)] if org else []))


CITY_CODE = "J"  # the generated grids' codes: J, their community's number, theirs within it (J000101)
RESIDENT_PREFIX = "o-scale-"
COMMUNITY_NAMES = ("幸福", "阳光", "和平", "长青", "新华", "文化", "建设", "友谊", "光明", "团结", "东湖", "西溪")
POLYGON = ((0, 0), (0.004, 0), (0.005, 0.002), (0.004, 0.004), (0, 0.004), (-0.001, 0.002))


# ---- a year of tickets --------------------------------------------------------------------------------------------


class Year:
    """A year of tickets ending at NOW, in order of creation (ids 1, 2, …), the same rows on every pass."""

    def __init__(self, city: City, count: int) -> None:
        self.city, self.count = city, count
        self.columns = [c.name for c in TABLES["ticket"].columns]
        self.ticket = Ticket(category="", text="")  # reused for the sla arithmetic: building 1M would dominate
        self.limits: dict[tuple[str, bool], tuple[float, float]] = {}
        self.clocks = {
            urgent: sla.clock_of(Ticket(category="", text="", working_clock=not urgent)) for urgent in (False, True)
        }
        categories = list(CATEGORIES)
        self.categories = categories
        self.cat_cum = list(_cumulative(CATEGORIES[c][0] for c in categories))
        self.per_day = _spread(count)

    def rows(self) -> Iterator[dict[str, Any]]:
        ticket_id = 0
        today = NOW.astimezone(CST).replace(hour=0, minute=0, second=0, microsecond=0)
        for day, n in enumerate(self.per_day):
            rng = random.Random(day * 7919 + self.count)
            midnight = today - timedelta(days=DAYS - 1 - day)
            hours = 10 if day == DAYS - 1 else 24  # today: until 10:00
            moments = sorted(
                midnight + timedelta(hours=h + rng.random())
                for h in rng.choices(range(hours), weights=HOURLY[:hours], k=n)
            )
            picked = rng.choices(self.city.grids, cum_weights=self.city.cum_weights, k=n)
            cats = rng.choices(self.categories, cum_weights=self.cat_cum, k=n)
            for created, grid_id, category in zip(moments, picked, cats, strict=True):
                ticket_id += 1
                yield self.row(rng, ticket_id, created.astimezone(UTC), grid_id, category)

    def clock_limits(self, category: str, urgent: bool) -> tuple[float, float]:
        key = (category, urgent)
        if key not in self.limits:
            import nlp

            clock = self.clocks[urgent]
            hours = nlp.sla_hours(category, urgent, [CATEGORIES[category][2]])
            self.limits[key] = (clock.budget(hours), nlp.accept_minutes(urgent) * 60.0)
        return self.limits[key]

    def row(self, rng: random.Random, ticket_id: int, created: datetime, grid_id: int, category: str) -> dict[str, Any]:
        urgent = rng.random() < URGENT
        sla_seconds, accept_seconds = self.clock_limits(category, urgent)
        _, words, keyword = CATEGORIES[category]
        # sla.accept_at / resolve_at of a fresh ticket, on the clock sla.start gives it (working time unless urgent)
        clock = self.clocks[urgent]
        accept_due, resolve_due = clock.at(created, accept_seconds), clock.at(created, sla_seconds)
        row: dict[str, Any] = dict.fromkeys(self.columns)
        row.update(
            id=ticket_id,
            category=category,
            urgent=urgent,
            grid_id=grid_id,
            resident_id=self.city.residents[rng.randrange(len(self.city.residents))],
            assignee_id=self.city.workers.get(grid_id),
            text=words,
            location_text=f"{ticket_id % 30 + 1}栋",
            channel="wechat",
            source=TicketSource.RESIDENT,
            source_msg_id=str(24_000_000_000_000_000 + ticket_id),
            keywords=keyword,
            confidence=0.8,
            images="",
            rating_note="",
            created_at=created,
            assigned_at=created,
            accept_due_at=accept_due,
            resolve_due_at=resolve_due,
            clock_started_at=created,
            sla_seconds=sla_seconds,
            accept_seconds=accept_seconds,
            working_clock=not urgent,
            paused_seconds=0.0,
            alerts="",
            extensions=0,
            extension_request="",
            reopen_count=0,
            reporter_count=1,
        )
        accepted = clock.at(created, accept_seconds * rng.lognormvariate(-0.7, 0.8))
        resolved = max(clock.at(created, sla_seconds * rng.lognormvariate(-0.9, 0.7)), accepted + timedelta(minutes=10))
        fate = rng.random()
        age_days = (NOW - created).total_seconds() / 86400
        stuck = rng.random() < STUCK_NEW * 0.5 ** (age_days / STUCK_HALF_LIFE_DAYS) + STUCK_FLOOR
        if fate < CANCELLED:
            cancelled = created + timedelta(minutes=rng.uniform(1, 30))
            status, updated = (Status.CANCELLED, cancelled) if cancelled <= NOW else (Status.ASSIGNED, created)
        elif NOW < accepted:
            status, updated = Status.ASSIGNED, created
        elif stuck or NOW < resolved:
            status, updated = Status.ACCEPTED, accepted
            row.update(accepted_at=accepted, first_accepted_at=accepted, accept_on_time=accepted <= accept_due)
            if stuck:
                kind = rng.random()
                if kind < SUSPENDED_OF_STUCK:
                    status, row["paused_at"], row["awaiting"] = (
                        Status.SUSPENDED,
                        min(NOW, accepted + timedelta(days=1)),
                        "resident",
                    )
                elif kind < SUSPENDED_OF_STUCK + REOPENED_OF_STUCK:
                    status, row["reopen_count"] = Status.REOPENED, 1
                    row.update(first_resolved_at=accepted + timedelta(hours=4), resolve_on_time=True, rating=1)
                elif kind < SUSPENDED_OF_STUCK + REOPENED_OF_STUCK + RETURNED_OF_STUCK:
                    status = Status.RETURNED
                    row.update(grid_id=None, assignee_id=None, accepted_at=None)
        else:
            rated = rng.random() < RATED
            closed = resolved + (timedelta(hours=rng.expovariate(1 / 20)) if rated else timedelta(days=7))
            closed = min(closed, resolved + timedelta(days=7))
            status = Status.CLOSED if closed <= NOW else Status.RESOLVED
            updated = closed if status == Status.CLOSED else resolved
            row.update(
                accepted_at=accepted,
                first_accepted_at=accepted,
                accept_on_time=accepted <= accept_due,
                resolved_at=resolved,
                first_resolved_at=resolved,
                resolve_on_time=resolved <= resolve_due,
            )
            if status == Status.CLOSED:
                row["closed_at"] = closed
                if rated:
                    row["rating"] = _pick(rng, RATINGS)
                    row["reopen_count"] = int(row["rating"] <= 2 and rng.random() < REOPENED_ONCE * 10)
        if status == Status.ASSIGNED and NOW < created + timedelta(minutes=10) and rng.random() < UNROUTED:
            status = Status.NEW
            row.update(grid_id=None, assignee_id=None, assigned_at=None, accept_due_at=None)
        # The sweep decides the flags when a deadline passes unmet (docs/metrics.md: decided, or not yet).
        if row["accept_on_time"] is None and status in sla.ACCEPTING and accept_due <= NOW:
            row["accept_on_time"] = False
        if row["resolve_on_time"] is None and status in OPEN_STATUSES and resolve_due <= NOW:
            row["resolve_on_time"] = False
        row["status"], row["updated_at"] = status, max(updated, created)
        if status in OPEN_STATUSES or status == Status.RESOLVED:
            self.alerts(row)
        return row

    def alerts(self, row: dict[str, Any]) -> None:
        """Reminders the sweep has already sent by NOW, and when it will look again, as handlers/sla.py has them."""
        t = self.ticket
        for name in SLA_FIELDS:
            setattr(t, name, row[name])
        t.alerts = ""
        t.alerts = ",".join(sorted(name for name, at in sla.thresholds(t) if at <= NOW))
        sla.refresh(t, NOW)
        row.update(alerts=t.alerts, next_alert_at=t.next_alert_at)
        if row["paused_at"] is None:
            row.update(accept_due_at=t.accept_due_at, resolve_due_at=t.resolve_due_at)


SLA_FIELDS = (
    "status",
    "urgent",
    "working_clock",
    "clock_started_at",
    "sla_seconds",
    "accept_seconds",
    "paused_seconds",
    "paused_at",
    "assigned_at",
    "resolved_at",
    "accept_due_at",
    "resolve_due_at",
)


def _cumulative(weights: Iterable[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _pick(rng: random.Random, choices: tuple[tuple[int, float], ...]) -> int:
    x, total = rng.random(), 0.0
    for value, share in choices:
        total += share
        if x < total:
            return value
    return choices[-1][0]


def _spread(count: int) -> list[int]:
    """Tickets per day over the year: weekends at 70 %, a summer peak, today only until 10:00."""
    start = NOW.astimezone(CST).date() - timedelta(days=DAYS - 1)
    weights = []
    for day in range(DAYS):
        date = start + timedelta(days=day)
        w = (0.7 if date.isoweekday() >= 6 else 1.0) * (1 + 0.2 * math.cos((date.timetuple().tm_yday - 200) / 58.1))
        weights.append(w * (sum(HOURLY[:10]) / sum(HOURLY) if day == DAYS - 1 else 1.0))
    total = sum(weights)
    per_day: list[int] = []
    carried = 0.0
    for w in weights:
        carried += count * w / total
        per_day.append(round(carried) - sum(per_day))
    return per_day
