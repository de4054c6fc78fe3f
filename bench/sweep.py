"""Ticket sweep: the cron's reminder pass costs what the due tickets cost, however many open tickets wait.

The claim: `handlers.lifecycle.sweep` finds its work through the `next_alert_at` index (`storage.tickets.alerts_due`),
so its time grows with the number of tickets due, not with the number open. Measured on one database: a baseline
sweep with only the due tickets in it, the same sweep after a bulk load of open tickets that are not due, and the
baseline again once they are deleted.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, func, insert, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bench import harness
from bench.harness import BenchError, Environment, Options
from bench.results import Report
from bench.stats import Run
from handlers import lifecycle, sla
from storage import tickets
from storage.db import make_engine, transaction, writer
from storage.models import Grid, Outbox, Person, Role, Status, Ticket, TicketEvent

SECTION = "Ticket sweep"
DUE_TICKETS = 100
OPEN_TICKETS = 100_000
REPETITIONS = 15
WARMUP = 2
TARGET_RATIO = 1.5
CHUNK = 5_000
ACCEPT_SECONDS = 30 * 60.0  # taxonomy.yaml: accept_minutes
SLA_SECONDS = 72 * 3600.0  # taxonomy.yaml: 72 h, the commonest resolve limit
TEXTS = ("3号楼楼道灯坏了好几天了", "小区门口垃圾堆了三天没人清", "楼上天天半夜装修吵得睡不着", "5栋电梯又停了")
CATEGORIES = ("property", "sanitation", "noise", "property")
# What one sweep of a due ticket of each kind writes: (outbox rows, ticket events).
#   remind:  assigned 21 min ago, past ½ of the 30-minute accept time: the group is reminded.
#   warn:    accepted, 85 % of the resolve time gone: the group is warned.
#   overdue: accepted, 110 % gone, the 80 % warning sent long ago: 督办 event, supervisors and group told.
DUE_KINDS = {"remind": (1, 0), "warn": (1, 0), "overdue": (2, 1)}

INTRO = f"""The claim: the cron's reminder pass (`handlers.lifecycle.sweep`, every minute) finds its work through the
index on `Ticket.next_alert_at` (`storage.tickets.alerts_due`: `next_alert_at <= now`, oldest first, 200 at most,
`FOR UPDATE SKIP LOCKED` on PostgreSQL), so its cost grows with the tickets that are due, not with the tickets that
are open. **Target: a sweep over {DUE_TICKETS} due tickets with {OPEN_TICKETS:,} open tickets that are not due takes at
most {TARGET_RATIO}x (p50) the same sweep with none.**

One database, migrated and seeded by the real CLI (`flask --app app seed-demo`: the demo grids, their group chats
and workers). {DUE_TICKETS} due tickets, assigned round-robin to the grids' workers, in three kinds: assigned with the
accept reminder due (one group push), accepted with the 80 % warning due (one group push), accepted and overdue (a
督办 event, a supervisor notice and a group push). The open tickets that are not due are assigned or accepted,
spread over the clocks so that their next reminder lies from minutes to days ahead. Every ticket's deadlines and
`next_alert_at` come from `handlers.sla.refresh`, on calendar-time clocks (`working_clock` off) so which stages are
due does not depend on the day the benchmark runs. The open tickets go in with one bulk `INSERT` per
{CHUNK:,} rows; on PostgreSQL the table is then `ANALYZE`d, as autovacuum would do after such a load.

The baseline is measured with only the due tickets in the table; then the open tickets are loaded and the same
measurement runs again; then they are deleted (the table vacuumed) and the baseline is measured once more. Ratios
are to the mean of the two baselines, which cancels a steady drift in whatever else the machine is doing; how far
apart the two baselines lie shows how much drift there was.

Each repetition first puts the due tickets back as they were (alerts, deadlines, `next_alert_at` in the past) and
deletes the outbox rows and events the previous sweep wrote, untimed. Then it times (`time.perf_counter`) one
`lifecycle.sweep(session, now)` inside `storage.db.transaction`, commit included, as `bot.jobs.sweep_tickets` runs
it, and checks that every due ticket was handled: the expected outbox rows and events written, no ticket left due.
A run with any failed check is not written. "select only" times `alerts_due` alone, in a transaction then rolled
back: the part of the sweep that could grow with the table, which the per-ticket work of the whole sweep would
otherwise dilute. The plans are the database's own for the exact statement `alerts_due` sent (SQLite
`EXPLAIN QUERY PLAN`; PostgreSQL `EXPLAIN (ANALYZE, BUFFERS)`, rolled back)."""


@dataclass
class Case:
    """One measured configuration: how many open tickets wait beside the due ones, and what the sweeps took."""

    name: str
    open_tickets: int
    sweeps: Run
    selects: Run
    plan: list[str] = field(default_factory=list)


@dataclass
class Community:
    """The seeded grids with a group chat and a worker, and the residents, to hang the tickets on."""

    grids: list[tuple[int, int]]  # (grid id, worker id)
    residents: list[int]


def run(options: Options, open_tickets: int = OPEN_TICKETS) -> Report:
    with harness.environment(options) as env:
        progress(f"{env.variant}: migrating and importing demo/*.csv with `flask seed-demo`")
        for line in harness.seed_demo(env).splitlines():
            progress(f"  {line}")
        engine = make_engine(env.env["DATABASE_URL"])
        try:
            now = datetime.now(UTC).replace(microsecond=0)
            community = load_community(engine)
            due = insert_due(engine, community, now)
            load = [os.getloadavg()[0]]
            before = measure(engine, "baseline", 0, due, now)
            progress(f"loading {open_tickets:,} open tickets that are not due")
            started = time.perf_counter()
            insert_open(engine, community, now, open_tickets)
            load_seconds = time.perf_counter() - started
            measured = measure(engine, f"{open_tickets:,} open", open_tickets, due, now)
            held = count_tickets(engine)
            progress("deleting the open tickets again")
            delete_open(engine, due)
            after = measure(engine, "baseline again", 0, due, now)
            load.append(os.getloadavg()[0])
        finally:
            engine.dispose()
        return report(env, options, Cases(before, measured, after), load_seconds, held, load)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load_community(engine: Engine) -> Community:
    """Each seeded grid that has a group chat, with its first worker; and the residents."""
    with Session(engine) as session:
        workers = session.exec(
            select(Grid.id, Person.id)
            .join(Person, col(Person.grid_id) == col(Grid.id))
            .where(Person.role == Role.GRID_WORKER, col(Grid.chat_id) != "")
            .order_by(col(Grid.id), col(Person.id))
        ).all()
        residents = session.exec(select(Person.id).where(Person.role == Role.RESIDENT).order_by(col(Person.id))).all()
    grids: dict[int, int] = {}
    for grid_id, worker_id in workers:
        if grid_id is not None and worker_id is not None:
            grids.setdefault(grid_id, worker_id)
    if not grids or not residents:
        raise BenchError("seed-demo left no grid with a group chat and a worker, or no resident")
    return Community(list(grids.items()), [r for r in residents if r is not None])


class Rows:
    """Ticket rows for a bulk insert, each with its clocks refreshed by handlers/sla.py as the app would.

    One Ticket is reused for every row: building 100,000 instrumented objects would take most of the load time.
    """

    def __init__(self, community: Community, now: datetime) -> None:
        self.community, self.now = community, now
        self.ticket = Ticket(
            category="", text="", working_clock=False, sla_seconds=SLA_SECONDS, accept_seconds=ACCEPT_SECONDS
        )

    def row(self, i: int, status: Status, started: datetime, alerts: str = "") -> dict[str, Any]:
        """A ticket opened (and routed to its grid's worker) at `started`; an accepted one accepted 12 minutes on."""
        t, (grid_id, worker_id) = self.ticket, self.community.grids[i % len(self.community.grids)]
        t.category, t.text = CATEGORIES[i % len(CATEGORIES)], TEXTS[i % len(TEXTS)]
        t.grid_id, t.assignee_id = grid_id, worker_id
        t.resident_id = self.community.residents[i % len(self.community.residents)]
        t.status, t.alerts = status, alerts
        t.created_at = t.clock_started_at = t.assigned_at = started
        accepted = started + timedelta(minutes=12) if status == Status.ACCEPTED else None
        t.accepted_at = t.first_accepted_at = accepted
        t.accept_on_time = True if accepted else None
        t.updated_at = accepted or started
        sla.refresh(t, self.now)
        return t.model_dump(exclude={"id"})


def insert_due(engine: Engine, community: Community, now: datetime) -> dict[int, dict[str, Any]]:
    """The due tickets; their rows by id, to put them back before each sweep."""
    rows, kinds = Rows(community, now), list(DUE_KINDS)
    made = []
    for i in range(DUE_TICKETS):
        kind = kinds[i % len(kinds)]
        if kind == "remind":
            made.append(rows.row(i, Status.ASSIGNED, now - timedelta(minutes=21)))
        elif kind == "warn":
            made.append(rows.row(i, Status.ACCEPTED, now - timedelta(seconds=0.85 * SLA_SECONDS)))
        else:
            made.append(rows.row(i, Status.ACCEPTED, now - timedelta(seconds=1.1 * SLA_SECONDS), alerts="warn"))
        if made[-1]["next_alert_at"] is None or made[-1]["next_alert_at"] > now:
            raise BenchError(f"a {kind} ticket is not due: next_alert_at {made[-1]['next_alert_at']}")
    with transaction(engine) as session:
        session.execute(insert(Ticket), made)
    with Session(engine) as session:
        ids = session.exec(select(Ticket.id).order_by(col(Ticket.id))).all()
    if len(ids) != DUE_TICKETS:
        raise BenchError(f"expected {DUE_TICKETS} tickets after seeding, found {len(ids)}")
    return {ticket_id: row for ticket_id, row in zip(ids, made, strict=True) if ticket_id is not None}


def insert_open(engine: Engine, community: Community, now: datetime, count: int) -> None:
    """Open tickets whose next reminder is minutes to days ahead: assigned not long ago, or accepted and on time."""
    rows, rng = Rows(community, now), random.Random(20240601)
    for start in range(0, count, CHUNK):
        chunk = []
        for i in range(start, min(start + CHUNK, count)):
            if i % 4 == 0:
                started = now - timedelta(seconds=rng.uniform(0, 0.45 * ACCEPT_SECONDS))
                chunk.append(rows.row(i, Status.ASSIGNED, started))
            else:
                started = now - timedelta(seconds=rng.uniform(0.01, 0.78) * SLA_SECONDS)
                chunk.append(rows.row(i, Status.ACCEPTED, started))
            if chunk[-1]["next_alert_at"] is None or chunk[-1]["next_alert_at"] <= now:
                raise BenchError(f"an open ticket meant not to be due is due: {chunk[-1]}")
        with transaction(engine) as session:
            session.execute(insert(Ticket), chunk)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE ticket"))


def reset(engine: Engine, due: dict[int, dict[str, Any]]) -> None:
    """Put the due tickets back as they were and drop what the last sweep wrote about them."""
    with transaction(engine) as session:
        session.execute(delete(Outbox).where(col(Outbox.ticket_id).in_(due)))
        session.execute(delete(TicketEvent).where(col(TicketEvent.ticket_id).in_(due)))
        session.execute(update(Ticket), [{"id": ticket_id, **row} for ticket_id, row in due.items()])


def expected_writes(due_tickets: int) -> tuple[int, int]:
    """Outbox rows and ticket events one sweep of that many due tickets (kinds in turn) writes."""
    kinds = [DUE_KINDS[kind] for kind in DUE_KINDS]
    written = [kinds[i % len(kinds)] for i in range(due_tickets)]
    return sum(outbox for outbox, _ in written), sum(events for _, events in written)


@contextmanager
def captured(engine: Engine, marker: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) sent while inside whose SQL contains `marker`."""
    found: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if marker in statement:
            found.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The database's plan for the sweep's own select; on PostgreSQL executed (row locks included) and rolled back."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).all()
            lines = [str(r[0]) for r in rows]
        else:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            lines = [str(r[-1]) for r in rows]
        conn.rollback()
    return lines


def sweep_once(engine: Engine, now: datetime) -> tuple[float, list[int]]:
    t0 = time.perf_counter()
    with transaction(engine) as session:
        ids = lifecycle.sweep(session, now)
    return time.perf_counter() - t0, ids


def select_once(engine: Engine, now: datetime) -> tuple[float, int]:
    with Session(writer(engine)) as session:
        t0 = time.perf_counter()
        found = len(tickets.alerts_due(session, now))
        seconds = time.perf_counter() - t0
        session.rollback()
    return seconds, found


def check(engine: Engine, due: dict[int, dict[str, Any]], now: datetime, ids: list[int]) -> str | None:
    """What went wrong with a sweep, if anything: every due ticket handled, its rows written, none still due."""
    want_outbox, want_events = expected_writes(len(due))
    with Session(engine) as session:
        outbox = session.exec(select(func.count()).where(col(Outbox.ticket_id).in_(due))).one()
        events = session.exec(select(func.count()).where(col(TicketEvent.ticket_id).in_(due))).one()
        still_due = session.exec(select(func.count()).where(col(Ticket.next_alert_at) <= now)).one()
    if len(ids) != want_outbox or outbox != want_outbox or events != want_events or still_due:
        return (
            f"sweep returned {len(ids)} outbox ids, wrote {outbox} outbox rows and {events} events "
            f"(expected {want_outbox} and {want_events}); {still_due} tickets still due"
        )
    return None


def measure(engine: Engine, name: str, open_tickets: int, due: dict[int, dict[str, Any]], now: datetime) -> Case:
    progress(f"{name}: {WARMUP} warm-up sweeps, then {REPETITIONS} measured")
    case = Case(name, open_tickets, Run(f"{name}, sweep"), Run(f"{name}, select only"))
    for warm in range(WARMUP):
        reset(engine, due)
        with captured(engine, "next_alert_at <=") as statements:
            _, ids = sweep_once(engine, now)
        if problem := check(engine, due, now, ids):
            raise BenchError(f"{name}: warm-up sweep: {problem}")
        if warm == 0 and statements:
            reset(engine, due)
            case.plan = plan(engine, *statements[0])
    for repetition in range(1, REPETITIONS + 1):
        reset(engine, due)
        seconds, found = select_once(engine, now)
        case.selects.seconds.append(seconds)
        if found != len(due):
            case.selects.errors.append(f"repetition {repetition}: alerts_due found {found}, not {len(due)}")
        seconds, ids = sweep_once(engine, now)
        case.sweeps.seconds.append(seconds)
        if problem := check(engine, due, now, ids):
            case.sweeps.errors.append(f"repetition {repetition}: {problem}")
    return case


def count_tickets(engine: Engine) -> tuple[int, int]:
    """Tickets in the table, and those with a reminder to come (`next_alert_at` set)."""
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(Ticket)).one()
        waiting = session.exec(select(func.count()).where(col(Ticket.next_alert_at).is_not(None))).one()
    return total, waiting


def delete_open(engine: Engine, due: dict[int, dict[str, Any]]) -> None:
    """Back to the baseline's table: only the due tickets, the space of the others reclaimed."""
    with transaction(engine) as session:
        session.execute(delete(Ticket).where(col(Ticket.id).not_in(due)))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE ticket" if engine.dialect.name == "postgresql" else "VACUUM")


@dataclass(frozen=True)
class Cases:
    """Baseline, measured, baseline again: the measured case's ratio is to the mean of the two baselines."""

    before: Case
    measured: Case
    after: Case

    def baseline_ms(self, p: int, selects: bool = False) -> float:
        runs = (self.before.selects, self.after.selects) if selects else (self.before.sweeps, self.after.sweeps)
        return sum(r.ms(p) for r in runs) / len(runs)

    def all(self) -> tuple[Case, Case, Case]:
        return self.before, self.measured, self.after


def report(
    env: Environment, options: Options, cases: Cases, load_seconds: float, held: tuple[int, int], load: list[float]
) -> Report:
    measured = cases.measured
    ratio50 = measured.sweeps.ms(50) / cases.baseline_ms(50)
    verdict = "PASS" if ratio50 <= TARGET_RATIO else "FAIL"
    drift = abs(cases.after.sweeps.ms(50) - cases.before.sweeps.ms(50)) / cases.baseline_ms(50)
    rows = [
        "| case | open tickets not due | due tickets | sweeps | errors | p50 ms | p90 ms | max ms "
        "| p50 ÷ baseline | p90 ÷ baseline | select only p50 / p90 ms | select p50 ÷ baseline |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for case in cases.all():
        s, q = case.sweeps, case.selects
        rows.append(
            f"| {case.name} | {case.open_tickets:,} | {DUE_TICKETS} | {len(s.seconds)} | {len(s.errors + q.errors)} "
            f"| {s.ms(50):.1f} | {s.ms(90):.1f} | {s.max_ms:.1f} "
            f"| {s.ms(50) / cases.baseline_ms(50):.2f}x | {s.ms(90) / cases.baseline_ms(90):.2f}x "
            f"| {q.ms(50):.2f} / {q.ms(90):.2f} | {q.ms(50) / cases.baseline_ms(50, selects=True):.2f}x |"
        )
    want_outbox, want_events = expected_writes(DUE_TICKETS)
    plans = []
    for case in (cases.before, measured):
        plans += [f"Plan of the `alerts_due` select, {case.name}:", "", "```", *(case.plan or ["(not captured)"])]
        plans += ["```", ""]
    block = "\n".join(
        [
            f"- Command: `{options.command}`",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- Machine: {harness.machine()}; 1-minute load average {load[0]:.2f} before the first sweep, "
            f"{load[-1]:.2f} after the last",
            f"- Database: {env.database}",
            f"- Redis: {env.redis}, not used by the sweep",
            f"- Each sweep: {DUE_TICKETS} due tickets, {want_outbox} outbox rows and {want_events} events written; "
            f"{WARMUP} warm-up sweeps per case, not counted",
            f"- {measured.open_tickets:,} open tickets loaded in {load_seconds:.1f} s: the table then held "
            f"{held[0]:,} tickets, {held[1]:,} with a reminder to come; deleted (and the table vacuumed) for the "
            "second baseline",
            f"- Baseline: the mean of the two baselines' p50 (or p90); they differ by {drift:.0%} of it, the drift of "
            "the machine over the run",
            "",
            *rows,
            "",
            *plans,
            f"Target (sweep p50 with {measured.open_tickets:,} open tickets ≤ {TARGET_RATIO}x the baseline's): "
            f"**{verdict}** at {ratio50:.2f}x ({measured.sweeps.ms(50):.1f} ms against "
            f"{cases.baseline_ms(50):.1f} ms).",
        ]
    )
    errors = [f"{r.name}: {e}" for c in cases.all() for r in (c.sweeps, c.selects) for e in r.errors[:5]]
    return Report(SECTION, INTRO, env.variant, block, valid=not errors, errors=errors)
