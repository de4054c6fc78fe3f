"""A complaint's cost with a city's grid list in one database: 8 grids (the demo) against 32,000.

Routing needs an index of every grid's place names. It is built once per process and kept; what each complaint
pays is finding out whether the grid list changed. Before migration 0008 that meant reading every grid row;
now it reads the grid list's version token (storage.grids.version, one row by primary key).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from bench import harness
from bench.harness import Environment, Options
from bench.results import Report
from bench.stats import percentile
from handlers import conversation
from handlers.types import Message
from storage import grids
from storage.db import make_engine
from storage.models import DataVersion, Grid

SECTION = "A complaint with a city's grid list"
CITY_TICKETS = 1_000_000  # bench.scale's city: 32,000 grids
TARGET_RATIO = 1.5
SLOW_MESSAGES = 20  # the old way costs about a second each at 32,000 grids
TICKET_REPLY = "工单号"

INTRO = f"""The claim: a complaint costs about the same in a database holding a city's 32,000 grids as in one
holding a street office's 8, because routing reads the grid list's version token (migration `0008`, replaced by
every grid import) instead of every grid row. **Target: p50 with 32,000 grids ≤ {TARGET_RATIO}x the p50 with 8.**

Each case sends complaints from residents bound to the demo's buildings (`bench.load`'s building x unit x fault
texts, each a new problem) straight to `handlers.conversation.process` in this process, the call the WeChat
callback makes after checking the signature: classify, look for a like open ticket, route, assign, write the
ticket, its events and its outbox rows, commit. No HTTP, no rq worker. Every reply must name a new ticket.
The 32,000 grids are `bench.scale`'s city (streets of 100 grids with aliases, polygons, a worker each; its
200,000 residents too). "rows read" deletes the token, so that routing reads every grid row on each complaint to
check the index is current: what every complaint did before `0008` (it is {SLOW_MESSAGES} messages, not all of
them, because each costs about a second)."""


@dataclass
class Case:
    name: str
    grids: int
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first: float = 0.0  # the first complaint's seconds: it builds (or checks) the index

    def ms(self, p: int) -> float:
        return percentile(self.seconds, p) * 1000


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(options: Options) -> Report:
    from bench import load, scale  # each builds on modules that import this package's harness

    with harness.environment(options) as env:
        progress(f"{env.variant}: migrating and importing demo/*.csv with `flask seed-demo`")
        harness.seed_demo(env)
        places = load.buildings()
        people = load.residents(places)
        progress(f"  {load.import_residents(env, people)}")
        pool = iter(load.complaints(places, people))
        engine = make_engine(env.env["DATABASE_URL"])
        try:
            cases = [complain(engine, "8 grids (the demo)", pool, options)]
            started = time.perf_counter()
            scale.build_city(engine, CITY_TICKETS)
            progress(f"  the city's grids, workers and residents in {time.perf_counter() - started:.1f} s")
            cases.append(complain(engine, "32,000 grids, version token", pool, options))
            with Session(engine) as session:
                session.delete(session.get(DataVersion, grids.VERSION))
                session.commit()
            cases.append(complain(engine, "32,000 grids, rows read (before 0008)", pool, options, SLOW_MESSAGES))
            with Session(engine) as session:
                grids.changed(session)
                session.commit()
            cases.append(complain(engine, "32,000 grids, token restored", pool, options))
        finally:
            engine.dispose()
    return report(env, options, cases)


def complain(engine: Engine, name: str, pool: Iterator[Any], options: Options, messages: int | None = None) -> Case:
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(Grid)).one()
    case = Case(name, count)
    wanted = messages or options.messages
    progress(f"  {name}: {options.warmup} warm-up and {wanted} measured complaints")
    for i in range(options.warmup + wanted):
        complaint = next(pool)
        msg = Message(
            channel="wechat",
            dedupe_key=f"grids-{uuid.uuid4().hex}",
            sender=complaint.openid,
            kind="text",
            text=complaint.text,
        )
        started = time.perf_counter()
        reply = conversation.process(engine, msg).reply.text
        seconds = time.perf_counter() - started
        if TICKET_REPLY not in reply:
            case.errors.append(f"{complaint.text}: {reply[:80]}")
        elif i >= options.warmup:
            case.seconds.append(seconds)
        if i == 0:
            case.first = seconds
    return case


def report(env: Environment, options: Options, cases: list[Case]) -> Report:
    base = cases[0]
    rows = [
        "| case | grids | complaints | p50 ms | p90 ms | max ms | p50 ÷ 8 grids | p90 ÷ 8 grids | first complaint ms |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for case in cases:
        rows.append(
            f"| {case.name} | {case.grids:,} | {len(case.seconds)} | {case.ms(50):.1f} | {case.ms(90):.1f} "
            f"| {max(case.seconds) * 1000:.1f} | {case.ms(50) / base.ms(50):.2f}x | {case.ms(90) / base.ms(90):.2f}x "
            f"| {case.first * 1000:.0f} |"
        )
    city = cases[1]
    ratio = city.ms(50) / base.ms(50)
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    block = "\n".join(
        [
            *harness.provenance(options, env),
            f"- Warm-up complaints per case, not counted: {options.warmup}. The first of each case is shown apart: "
            "after the grids changed it rebuilds the index, as every worker's first complaint does (the demo case's "
            "first also loads the classifier)",
            "",
            *rows,
            "",
            f"Target (p50 with 32,000 grids ≤ {TARGET_RATIO}x the p50 with 8): **{verdict}** at {ratio:.2f}x "
            f"({city.ms(50):.1f} ms against {base.ms(50):.1f} ms).",
        ]
    )
    errors = [f"{c.name}: {e}" for c in cases for e in c.errors[:5]]
    return Report(SECTION, INTRO, env.variant, block, valid=not errors, errors=errors)
