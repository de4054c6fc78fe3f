"""Supervisor commands at scale: 统计, 超时 and 网格 cost what their answers cover, not what the table holds.

Each database holds a year of a city's tickets (a city of 32,000 grids at 1,000,000 tickets a year). The baseline is
the same database with only the tickets the measured answers are made of: this month's and every open one. Both give
the same replies, word for word; the ratio between them is what the rest of the year costs.
"""

from __future__ import annotations

import math
import os
import random
import re
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain, islice
from typing import Any

from sqlalchemy import Table, event, func, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from bench import harness
from bench.harness import Environment, Options
from bench.results import Report
from bench.stats import Run
from bench.sweep import plan
from handlers import conversation, sla
from handlers.clock import CST, period
from handlers.types import Message
from storage import grids
from storage.db import make_engine
from storage.models import OPEN_STATUSES, Grid, Person, Role, Status, Ticket

SECTION = "Supervisor commands at scale"
# Wednesday 18 November 2026, 10:00 China time: the moment every command is asked at, so that 今日 and 本月 cover the
# same tickets whatever day the benchmark runs (the handlers take `now` from the caller, as the WeCom path passes it).
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
DAYS = 365
CITY_GRIDS = 32_000
TICKETS_PER_GRID = 31.25  # a year's tickets per grid on average: 1,000,000 over a city's 32,000 grids
GRIDS_PER_COMMUNITY, COMMUNITIES_PER_STREET = 10, 10  # a street centre: 100 grids
RESIDENTS_PER_TICKET = 0.2  # a resident who writes at all writes five times a year
DEMO_WEIGHT = 10.0  # the demo grids are busy old compounds: ten times the median grid's tickets
SUPERVISOR = "zhihui"  # demo/people.csv: wecom:zhihui, 指挥中心值班员
COMMANDS = ("统计", "统计 本月", "统计 本月 G01", "超时", "网格 G01")
# What each reply must begin with (or contain), so a refusal or a wrong scope is never timed as an answer.
EXPECTED = {
    "统计": "今日工单",
    "统计 本月": "本月工单",
    "统计 本月 G01": "幸福小区第1网格 本月工单",
    "超时": "超时工单",
    "网格 G01": "幸福小区第1网格（G01）",
}
REPETITIONS = 9
WARMUP = 2
TARGET_MS = 1000.0
TARGET_RATIO = 1.5
CHUNK = 5_000

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

INTRO = f"""The claim: the supervisor commands a command centre uses every day answer from indexes, so their cost
follows the tickets their answer covers, not the tickets the table holds. **Targets: every command answers in under
{TARGET_MS / 1000:.0f} s (p50) with a year of tickets in the table, and in at most {TARGET_RATIO}x (p50) the time
it takes over a database holding only the tickets that answer is made of.**

The commands, as the centre's duty officer (`wecom:zhihui` of demo/people.csv) sends them in WeCom: `统计` (today,
every grid), `统计 本月` (this month, every grid), `统计 本月 G01` (this month, one grid), `超时` (the 20 open tickets
longest past their resolve deadline, of every grid) and `网格 G01` (one grid's workers and open tickets). A supervisor
here sees every grid in the database (there is no narrower supervisor scope), so a database is one command centre's
city. Each is timed (`time.perf_counter`) around `handlers.conversation.process(engine, message, now)`, the function
the WeCom gateway and `/wecom` call: the dedupe row, the roster lookup, the command's queries, rendering the reply
and the commit. Every command is asked at {NOW.astimezone(CST):%Y-%m-%d %H:%M} China time (a Wednesday), passed
as `now`, so 今日 and 本月 cover the same tickets whatever day the benchmark runs.

The data, generated (fixed seed) and loaded in bulk (PostgreSQL `COPY`, SQLite `executemany` per {CHUNK:,} rows) after
`flask --app app seed-demo` has migrated the database and imported the demo community: a year of tickets ending at
that moment, ids in order of creation, more on weekdays and in the daytime. One grid per {TICKETS_PER_GRID} tickets (at
most {CITY_GRIDS:,}: 1,000,000 tickets over a city's {CITY_GRIDS:,} grids, 100,000 over a district's 3,200), in
streets of {GRIDS_PER_COMMUNITY * COMMUNITIES_PER_STREET} grids and communities of {GRIDS_PER_COMMUNITY}, each with
aliases, a polygon, a group chat and a worker; grids get tickets in lognormal proportions, the 8 demo grids
{DEMO_WEIGHT:.0f} times the median. A resident for every {1 / RESIDENTS_PER_TICKET:.0f} tickets. Categories and their
resolve limits from the taxonomy, {URGENT:.0%} urgent, clocks on the working-time calendar (`handlers.sla`: deadlines,
`next_alert_at`, reminders already sent). Acceptance and resolution times are drawn around half the limits (about a
fifth accepted late, a tenth resolved late); {RATED:.0%} rated, the rest closed automatically after 7 days;
{CANCELLED:.0%} cancelled; accepted and never resolved (some of them suspended, reopened or returned), the backlog
超时 lists: {STUCK_NEW:.0%} of this week's tickets, halving every {STUCK_HALF_LIFE_DAYS:.0f} days, at least
{STUCK_FLOOR:.1%} of the oldest. What is still open at the measured moment follows from those times: about 1.5 % of the
year's tickets, most of them overdue. No ticket events are generated: none of these commands reads them.

Three cases per ticket count, each on a freshly emptied and reloaded ticket table (PostgreSQL then `VACUUM ANALYZE`,
as autovacuum would after a load; SQLite without `ANALYZE`, as the app runs it): the **baseline**, holding only the
tickets the answers cover (created this month, or open); the **full** year; and the baseline again, to see how much
the machine drifted. The replies must be identical in all three, word for word, or the run is void. Ratios are to the
mean of the two baselines. Each command runs {WARMUP} times untimed, then {REPETITIONS} times timed, per case.

The plans are the database's own for the exact statements a command sent (captured with SQLAlchemy's
`before_cursor_execute` during one run, named by the `storage` function that sent them): PostgreSQL
`EXPLAIN (ANALYZE, BUFFERS)`, SQLite `EXPLAIN QUERY PLAN`. The shape lists the plan's nodes top-down with the rows
each produced (and, where there were any, the rows read and thrown away by a filter).

What the first runs of this benchmark found, and what changed. `统计 本月 G01` read every grid's tickets of the month
through `ix_ticket_created_at` to count one grid's (at 1,000,000 tickets some 43,000 rows read to count 5, 3.2x its
baseline); the index `ix_ticket_grid_created (grid_id, created_at)` (migration `0007_scale`) makes it one range of
that grid's tickets. `超时`'s query walked the deadline index `ix_ticket_resolve_due_at` from the oldest deadline and
skipped every closed ticket on the way (8,601 at 1,000,000 tickets: 0.09 ms over the baseline, 12.7 ms over the full
year, and growing with the history); `tickets.overdue` now reads the first 20 of each open status in deadline order
from `ix_ticket_open_due` and merges them. `metrics.compute` counts by status in the same pass as its rates, so the
period's tickets are read once, not twice. And `超时` loaded every grid to name the grids of the 20 tickets it lists
(`grids.all_grids`: about 1 s of its 1 s at a city's 32,000 grids, the same over the baseline); it now reads those
grids' names only (`grids.names`), as `网格` without a code now reads 20 codes, not every grid."""


@dataclass
class City:
    """The grids the tickets are spread over, each grid's worker, and the residents who write."""

    grids: list[int]  # demo grids first
    workers: dict[int, int]
    residents: list[int]
    cum_weights: list[float]


@dataclass
class Captured:
    """One statement a command sent: which storage function sent it, its SQL and parameters."""

    caller: str
    statement: str
    parameters: Any


@dataclass
class Case:
    """One measured configuration: how many tickets the table held, and each command's timings and plans."""

    name: str
    tickets: int
    runs: dict[str, Run] = field(default_factory=dict)
    replies: dict[str, str] = field(default_factory=dict)
    # (caller, statement, parameters) -> the plan's lines, and the commands that sent it
    plans: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    used_by: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    load_seconds: float = 0.0


@dataclass
class Size:
    """Everything measured at one ticket count."""

    tickets: int
    grids: int
    residents: int
    covers: dict[str, str]
    census: str
    before: Case
    full: Case
    after: Case

    def baseline_ms(self, command: str, p: int) -> float:
        return (self.before.runs[command].ms(p) + self.after.runs[command].ms(p)) / 2

    def all(self) -> tuple[Case, Case, Case]:
        return self.before, self.full, self.after


def run(options: Options) -> Report:
    sizes: list[Size] = []
    described: Environment | None = None
    load = [os.getloadavg()[0]]
    for count in options.tickets:
        with harness.environment(options) as env:
            described = env
            sizes.append(measure_size(env, count))
    load.append(os.getloadavg()[0])
    assert described is not None
    return report(described, options, sizes, load)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure_size(env: Environment, count: int) -> Size:
    progress(f"{env.variant}, {count:,} tickets: migrating and importing demo/*.csv with `flask seed-demo`")
    for line in harness.seed_demo(env).splitlines():
        progress(f"  {line}")
    engine = make_engine(env.env["DATABASE_URL"])
    try:
        started = time.perf_counter()
        city = build_city(engine, count)
        seconds = time.perf_counter() - started
        progress(f"  {len(city.grids):,} grids and {len(city.residents):,} residents in {seconds:.1f} s")
        year = Year(city, count)
        scope = [row for row in year.rows() if in_scope(row)]
        before = measure(engine, "baseline", scope)
        covers = coverage(engine)
        full = measure(engine, f"{count:,} tickets", year.rows())
        counted = census(engine)
        after = measure(engine, "baseline again", scope)
    finally:
        engine.dispose()
    return Size(count, len(city.grids), len(city.residents), covers, counted, before, full, after)


# ---- the city: grids, workers, residents --------------------------------------------------------------------------


def grid_count(tickets: int) -> int:
    return min(CITY_GRIDS, max(1, round(tickets / TICKETS_PER_GRID)))


def build_city(engine: Engine, tickets: int) -> City:
    """The demo grids and as many more as the ticket count calls for, a worker each, and the residents."""
    rng = random.Random(20261118)
    with Session(engine) as session:
        demo = session.exec(select(Grid.id, Grid.code).order_by(col(Grid.code))).all()
    more = max(0, grid_count(tickets) - len(demo))
    grid_rows = []
    for n in range(more):
        street, community, number = n // 100 + 1, n // 10 % 10 + 1, n % 10 + 1
        place = f"第{street}街道{COMMUNITY_NAMES[(street + community) % len(COMMUNITY_NAMES)]}{community}社区"
        lat, lng = 30.0 + rng.uniform(0, 0.6), 120.0 + rng.uniform(0, 0.6)
        corners = ";".join(f"{lng + dx:.6f},{lat + dy:.6f}" for dx, dy in POLYGON)
        buildings = "|".join(f"{place}{(number - 1) * 4 + b}栋" for b in range(1, 5))
        grid_rows.append(
            {
                "code": f"J{street:03d}{community:02d}{number:02d}",
                "name": f"{place}第{number}网格",
                "community": place,
                "aliases": f"{buildings}|{place}{'东南西北'[number % 4]}门",
                "chat_id": f"wrk-chat-j{n + 1}",
                "webhook_key": "",
                "lat": lat,
                "lng": lng,
                "polygon": corners,
            }
        )
    bulk_insert(engine, TABLES["grid"], grid_rows)
    with Session(engine) as session:
        grids.changed(session)  # written behind the importer's back: say so, as the importer does
        session.commit()
        made = session.exec(select(Grid.id, Grid.code).order_by(col(Grid.id))).all()
    by_code = {code: grid_id for grid_id, code in made if grid_id is not None}
    demo_codes = {code for _, code in demo}
    extra = [grid_id for grid_id, code in made if code not in demo_codes and grid_id is not None]
    demo_ids = [by_code[code] for _, code in demo]
    bulk_insert(
        engine,
        TABLES["person"],
        (
            {
                "wecom_userid": f"w-j{i + 1}",
                "openid": None,
                "role": Role.GRID_WORKER,
                "name": f"网格员{i + 1}",
                "grid_id": grid_id,
                "phone": f"137{i + 1:08d}",
                "address": "",
                "subscribed": True,
                "created_at": NOW - timedelta(days=400),
            }
            for i, grid_id in enumerate(extra)
        ),
    )
    all_grids = demo_ids + extra
    bulk_insert(
        engine,
        TABLES["person"],
        (
            {
                "wecom_userid": None,
                "openid": f"o-scale-{i + 1}",
                "role": Role.RESIDENT,
                "name": "",
                "grid_id": all_grids[i % len(all_grids)],
                "phone": f"139{i + 1:08d}",
                "address": f"{i % 30 + 1}栋{i % 6 + 1}单元",
                "subscribed": True,
                "created_at": NOW - timedelta(days=400),
            }
            for i in range(max(1, round(tickets * RESIDENTS_PER_TICKET)))
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
    return City(all_grids, first_worker, [r for r in residents if r is not None], cum)


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


def in_scope(row: dict[str, Any]) -> bool:
    """A ticket the measured answers are made of: created this month (统计 本月 and 今日), or open (超时, 网格)."""
    return row["created_at"] >= MONTH_START or row["status"] in OPEN_STATUSES


MONTH_START = period("本月", NOW)[0]
TABLES = SQLModel.metadata.tables


# ---- loading ------------------------------------------------------------------------------------------------------


def bulk_insert(engine: Engine, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """COPY on PostgreSQL, executemany per CHUNK rows on SQLite; the number of rows."""
    done = 0
    rows = iter(rows)
    if engine.dialect.name == "postgresql":
        first = next(rows, None)
        if first is None:
            return 0
        names = list(first)
        columns = ", ".join(f'"{name}"' for name in names)
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:  # type: ignore[union-attr]
                for row in chain([first], rows):
                    copy.write_row([_pg(row[name]) for name in names])
                    done += 1
        return done
    while chunk := list(islice(rows, CHUNK)):
        with engine.begin() as conn:
            conn.execute(insert(table), chunk)
        done += len(chunk)
    return done


def _pg(value: Any) -> Any:
    """COPY takes Python values as psycopg adapts them, but not StrEnum members (they are str subclasses)."""
    return str(value) if isinstance(value, Status | Role) else value


def empty_tickets(engine: Engine) -> None:
    """An empty ticket table (and no dedupe rows from earlier runs), its space given back."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE ticket, inbound_message CASCADE")
        return
    with engine.begin() as conn:
        conn.execute(TABLES["inbound_message"].delete())
        conn.execute(TABLES["ticket"].delete())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM")


def load_tickets(engine: Engine, rows: Iterable[dict[str, Any]]) -> int:
    empty_tickets(engine)
    done = bulk_insert(engine, TABLES["ticket"], rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('ticket', 'id'), (SELECT max(id) FROM ticket))")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return done


# ---- measuring ----------------------------------------------------------------------------------------------------


def ask(engine: Engine, command: str) -> tuple[float, str]:
    """One command from the duty officer, as the WeCom gateway hands it to the handlers; seconds and the reply."""
    msg = Message(
        channel="wecom",
        dedupe_key=f"scale-{uuid.uuid4().hex}",
        sender=SUPERVISOR,
        kind="text",
        text=command,
        chat_id=SUPERVISOR,
    )
    started = time.perf_counter()
    outcome = conversation.process(engine, msg, NOW)
    return time.perf_counter() - started, outcome.reply.text


def measure(engine: Engine, name: str, rows: Iterable[dict[str, Any]]) -> Case:
    started = time.perf_counter()
    count = load_tickets(engine, rows)
    case = Case(name, count, load_seconds=time.perf_counter() - started)
    progress(f"  {name}: {count:,} tickets loaded in {case.load_seconds:.1f} s; {WARMUP}+{REPETITIONS} runs a command")
    for command in COMMANDS:
        timed = Run(f"{name}, {command}")
        with captured(engine) as statements:
            _, reply = ask(engine, command)
        case.replies[command] = reply
        if EXPECTED[command] not in reply:
            timed.errors.append(f"unexpected reply: {reply[:80]!r}")
        for sent in statements:
            if not sent.statement.lstrip().upper().startswith("SELECT"):
                continue
            key = (sent.caller, sent.statement, repr(sent.parameters))
            case.used_by.setdefault(key, [])
            if command not in case.used_by[key]:
                case.used_by[key].append(command)
            if key not in case.plans:
                case.plans[key] = plan(engine, sent.statement, sent.parameters)
        for _ in range(WARMUP - 1):
            ask(engine, command)
        for repetition in range(1, REPETITIONS + 1):
            seconds, again = ask(engine, command)
            timed.seconds.append(seconds)
            if again != reply:
                timed.errors.append(f"repetition {repetition}: the reply changed")
        case.runs[command] = timed
        progress(f"    {command}: p50 {timed.ms(50):.1f} ms")
    return case


@contextmanager
def captured(engine: Engine) -> Iterator[list[Captured]]:
    """The statements sent while inside, each named by the storage function that sent it."""
    found: list[Captured] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        found.append(Captured(caller(), statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def caller() -> str:
    """`tickets.overdue` for a statement storage/tickets.py's `overdue` sent; "commit" for the unit of work's flush."""
    frame = sys._getframe(2)  # who is asking is on the stack, nowhere else
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("storage.") and module != "storage.db":
            return f"{module.removeprefix('storage.')}.{frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "commit"


def coverage(engine: Engine) -> dict[str, str]:
    """What each command's answer is made of, in tickets."""
    today = period("今日", NOW)[0]
    live = col(Ticket.status) != Status.CANCELLED
    is_open = col(Ticket.status).in_(list(OPEN_STATUSES))
    with Session(engine) as session:
        g01 = session.exec(select(Grid.id).where(Grid.code == "G01")).one()

        def count(*where: Any) -> int:
            return int(session.exec(select(func.count()).select_from(Ticket).where(*where)).one())

        overdue = count(is_open, col(Ticket.paused_at).is_(None), col(Ticket.resolve_due_at) < NOW)
        return {
            "统计": f"{count(col(Ticket.created_at) >= today, live):,} created today",
            "统计 本月": f"{count(col(Ticket.created_at) >= MONTH_START, live):,} created this month",
            "统计 本月 G01": f"{count(col(Ticket.created_at) >= MONTH_START, live, Ticket.grid_id == g01):,} "
            "of G01's this month",
            "超时": f"{min(20, overdue)} listed of {overdue:,} overdue",
            "网格 G01": f"{count(is_open, Ticket.grid_id == g01):,} open in G01",
        }


def census(engine: Engine) -> str:
    """The full year as a supervisor would count it: open, overdue, closed."""
    with Session(engine) as session:
        by_status = dict(session.exec(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
        overdue = session.exec(
            select(func.count()).where(
                col(Ticket.status).in_(list(OPEN_STATUSES)),
                col(Ticket.paused_at).is_(None),
                col(Ticket.resolve_due_at) < NOW,
            )
        ).one()
    total = sum(by_status.values())
    opened = sum(n for s, n in by_status.items() if s in OPEN_STATUSES)
    statuses = ", ".join(f"{s} {n:,}" for s, n in sorted(by_status.items(), key=lambda kv: -kv[1]))
    return f"{opened:,} open ({opened / total:.1%}), {overdue:,} of them overdue; by status: {statuses}"


PG_NODE = re.compile(
    r"^\s*(?:->\s+)?(?P<node>[A-Z][^(]*?)\s+\(cost=[^)]*\)\s+"
    r"(?:\(actual time=\S+ rows=(?P<rows>\d+) loops=(?P<loops>\d+)\)|\(never executed\))"
)
PG_USING = re.compile(r"^(?P<kind>.*?)(?: using (?P<index>\S+))?(?: on (?P<table>\S+)(?: \S+)?)?$")


def shape(lines: list[str]) -> str:
    """A plan in one line: its nodes top-down with the rows each produced (and threw away); the execution time."""
    if not any("actual time=" in line or "(never executed)" in line for line in lines):
        return "; ".join(lines)  # SQLite: EXPLAIN QUERY PLAN is already one line per step
    parts: list[str] = []
    removed = 0
    for line in lines:
        if m := PG_NODE.match(line):
            if removed:
                parts[-1] += f" ({removed:,} filtered out)"
                removed = 0
            kind = PG_USING.match(m["node"].strip())
            assert kind is not None
            what = kind["kind"] + (
                f" {kind['index']}" if kind["index"] else f" on {kind['table']}" if kind["table"] else ""
            )
            rows = int(m["rows"]) * int(m["loops"]) if m["rows"] else 0
            parts.append(f"{what} {rows:,}" if m["rows"] else f"{what} (never executed)")
        elif "Rows Removed by Filter:" in line or "Rows Removed by Index Recheck:" in line:
            removed += int(line.rsplit(":", 1)[1])
        elif line.strip().startswith("Sort Method:") and parts:
            parts[-1] += f" [{line.split(':', 1)[1].split('Memory')[0].split('Disk')[0].strip()}]"
    if removed and parts:
        parts[-1] += f" ({removed:,} filtered out)"
    timing = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Execution Time:")), "")
    jit = " (JIT)" if any(line.startswith("JIT:") for line in lines) else ""
    return " > ".join(parts) + (f"; {timing}{jit}" if timing else "")


def gist(statement: str) -> str:
    """What decides a statement's plan, short: FROM … WHERE … ORDER BY …, without table prefixes or IN-list members."""
    s = " ".join(statement.split())
    s = re.sub(r"%\(\w+\)s", "?", s)
    s = re.sub(r"::(?:TIMESTAMP WITH TIME ZONE|VARCHAR|INTEGER|BOOLEAN|FLOAT)", "", s)
    s = re.sub(r"\b[a-z_]+\.([a-z_]+)\b", r"\1", s)
    s = re.sub(r"IN \(\?(?:, \?)*\)", "IN (…)", s)
    # 超时's one ordered range per open status: the first of them stands for the rest
    branches = len(re.findall(r" UNION ALL ", s))
    s = re.sub(r"( UNION ALL SELECT anon_\d+\.id FROM \(.*?\) AS anon_\d+)+", f" UNION ALL … ({branches} more)", s)
    tail = re.search(r" FROM \w+(?: WHERE| ORDER| GROUP| LIMIT|$)", s)
    return s[tail.start() + 1 :] if tail else s


# ---- the report ---------------------------------------------------------------------------------------------------


def report(env: Environment, options: Options, sizes: list[Size], load: list[float]) -> Report:
    parts = [
        f"- Command: `{options.command}`",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {harness.machine()}; 1-minute load average {load[0]:.2f} before the first load, "
        f"{load[-1]:.2f} after the last command (other work on the machine makes single figures noisy: read the "
        "ratios, each measured beside its baseline)",
        f"- Database: {env.database}",
        f"- Redis: {env.redis}, not used by these commands",
    ]
    errors: list[str] = []
    verdicts = []
    for size in sizes:
        parts += ["", *size_block(size)]
        worst_ms = max(size.full.runs[c].ms(50) for c in COMMANDS)
        worst_ratio = max(size.full.runs[c].ms(50) / size.baseline_ms(c, 50) for c in COMMANDS)
        verdicts.append(
            f"Targets at {size.tickets:,} tickets: every command under {TARGET_MS / 1000:.0f} s (p50) "
            f"**{'PASS' if worst_ms < TARGET_MS else 'FAIL'}** (slowest {worst_ms:.1f} ms); at most {TARGET_RATIO}x "
            f"the same-scope baseline (p50) **{'PASS' if worst_ratio <= TARGET_RATIO else 'FAIL'}** (highest "
            f"{worst_ratio:.2f}x)."
        )
        errors += [
            f"{size.tickets:,}, {r.name}: {e}" for case in size.all() for r in case.runs.values() for e in r.errors[:3]
        ]
        for command in COMMANDS:
            if len({case.replies[command] for case in size.all()}) != 1:
                errors.append(f"{size.tickets:,}: {command} answered differently over the baseline and the full year")
    parts += ["", *verdicts]
    return Report(SECTION, INTRO, env.variant, "\n".join(parts), valid=not errors, errors=errors)


def size_block(size: Size) -> list[str]:
    before, full, after = size.all()
    lines = [
        f"#### {size.tickets:,} tickets",
        "",
        f"- {size.grids:,} grids (8 demo grids and {size.grids - 8:,} more), {size.residents:,} residents, "
        f"{size.tickets:,} tickets over {DAYS} days; at the measured moment {size.census}",
        f"- Baseline: {before.tickets:,} tickets (created this month, or open), loaded in {before.load_seconds:.1f} s "
        f"and again in {after.load_seconds:.1f} s; the full year loaded in {full.load_seconds:.1f} s",
        "",
        "| command | the answer covers | baseline p50 ms | full year p50 ms | p90 ms | max ms | baseline again p50 ms "
        f"| p50 ÷ baseline | p90 ÷ baseline | < {TARGET_MS / 1000:.0f} s | ≤ {TARGET_RATIO}x |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|:-:|:-:|",
    ]
    for command in COMMANDS:
        b, f, a = before.runs[command], full.runs[command], after.runs[command]
        r50, r90 = f.ms(50) / size.baseline_ms(command, 50), f.ms(90) / size.baseline_ms(command, 90)
        lines.append(
            f"| `{command}` | {size.covers[command]} | {b.ms(50):.1f} | {f.ms(50):.1f} | {f.ms(90):.1f} | "
            f"{f.max_ms:.1f} | {a.ms(50):.1f} | {r50:.2f}x | {r90:.2f}x | {'pass' if f.ms(50) < TARGET_MS else 'FAIL'} "
            f"| {'pass' if r50 <= TARGET_RATIO else 'FAIL'} |"
        )
    lines += [
        "",
        "Plans of the queries the commands sent (the roster lookup and grid lookups included; the dedupe insert and "
        "the commit are writes of one row and not shown):",
        "",
        "| storage function | query | sent by | baseline plan | full-year plan |",
        "|---|---|---|---|---|",
    ]
    for key, lines_full in full.plans.items():
        caller_name, statement, _ = key
        used = ", ".join(f"`{c}`" for c in full.used_by[key])
        baseline = shape(before.plans.get(key, ["(not sent)"]))
        lines.append(f"| `{caller_name}` | `{gist(statement)}` | {used} | {baseline} | {shape(lines_full)} |")
    lines += ["", "<details><summary>Full-year plans, as the database printed them</summary>", ""]
    for (caller_name, statement, _), plan_lines in full.plans.items():
        lines += [f"`{caller_name}`:", "", "```", " ".join(statement.split()), "", *plan_lines, "```", ""]
    lines += ["</details>"]
    return lines
