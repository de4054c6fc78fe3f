"""The numbers supervisors are judged on (docs/metrics.md): one definition, counted by the database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, extract, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

import policy
from storage.models import OPEN_STATUSES, Grid, OrgUnit, Person, Role, Status, Ticket, TicketSource
from storage.scope import Within, ticket_filter

DONE_STATUSES = (Status.RESOLVED, Status.CLOSED)
COUNTED_STATUSES = tuple(status for status in Status if status != Status.CANCELLED)


@dataclass(frozen=True)
class Rate:
    """part / whole, kept whole so a reader can see how many tickets a percentage stands on."""

    part: int
    whole: int

    @property
    def value(self) -> float | None:
        return self.part / self.whole if self.whole else None

    def __str__(self) -> str:
        value = self.value
        return "—" if value is None else f"{value:.1%}"


@dataclass(frozen=True)
class Metrics:
    total: int
    resident: int  # 群众反映: brought by a resident
    patrol: int  # 巡查发现: found by a grid worker on patrol
    open: int
    overdue: int
    by_status: dict[str, int]
    response: Rate  # 响应率
    on_time: Rate  # 按期办结率
    closure: Rate  # 办结率
    satisfaction: Rate  # 满意率
    reopen: Rate  # 重办率
    avg_rating: float | None
    mean_accept_minutes: float | None  # 平均响应时长, calendar time
    mean_resolve_hours: float | None  # 平均办结时长, calendar time


def compute(
    session: Session,
    since: datetime,
    until: datetime,
    now: datetime,
    grid_id: int | None = None,
    within: Within | None = None,
) -> Metrics:
    """The numbers of the tickets created in [since, until), of one grid, of a unit's subtree or all; cancelled
    tickets never count."""
    cohort = _cohort(since, until) + ticket_filter(within)
    if grid_id is not None:
        cohort.append(col(Ticket.grid_id) == grid_id)
    columns = _columns(session, now)
    # Select itself: select()'s typed overloads stop at four columns.
    row: tuple[Any, ...] = session.exec(Select(*columns.values()).where(*cohort)).one()
    return _metrics(dict(zip(columns, row, strict=True)))


def ranked(
    session: Session, units: Sequence[OrgUnit], since: datetime, until: datetime, now: datetime
) -> list[tuple[OrgUnit, Metrics]]:
    """The units' numbers side by side (排名), best 办结率 first (none yet: last), then by name.

    One statement for all of them, grouped by which unit's subtree each ticket's grid is in (the units are siblings,
    so each grid is in one at most): a district's 30 streets cost one read of the district's tickets, not 30.
    """
    if not units:
        return []
    which = case(*((Within(unit.path).grids(), index) for index, unit in enumerate(units)), else_=-1)
    inside = col(Ticket.grid_id).in_(select(Grid.id).where(or_(*(Within(unit.path).grids() for unit in units))))
    columns = _columns(session, now)
    query: Any = (
        Select(which, *columns.values())
        .join_from(Ticket, Grid, col(Ticket.grid_id) == col(Grid.id))
        .where(*_cohort(since, until), inside)
        .group_by(which)
    )
    found = {row[0]: _metrics(dict(zip(columns, row[1:], strict=True))) for row in session.exec(query).all()}
    nothing = _metrics(dict.fromkeys(columns))
    rows = [(unit, found.get(index, nothing)) for index, unit in enumerate(units)]
    return sorted(rows, key=lambda row: (-(v if (v := row[1].closure.value) is not None else -1.0), row[0].name))


def _cohort(since: datetime, until: datetime) -> list[ColumnElement[bool]]:
    return [col(Ticket.created_at) >= since, col(Ticket.created_at) < until, col(Ticket.status) != Status.CANCELLED]


def _columns(session: Session, now: datetime) -> dict[str, ColumnElement[Any]]:
    """What Metrics is counted from, each one aggregate over a cohort of tickets."""
    is_open = col(Ticket.status).in_(list(OPEN_STATUSES))
    resolved_once = col(Ticket.first_resolved_at).is_not(None)
    dialect = session.get_bind().dialect.name
    columns: dict[str, ColumnElement[Any]] = {
        "total": func.count(),
        "resident": _count_if(col(Ticket.source) == TicketSource.RESIDENT),
        "patrol": _count_if(col(Ticket.source) == TicketSource.PATROL),
        "open": _count_if(is_open),
        # As in the 超时 list (tickets.overdue): a suspended ticket's clock is stopped, so it is not getting late.
        "overdue": _count_if(
            and_(
                is_open,
                col(Ticket.paused_at).is_(None),
                col(Ticket.resolve_due_at).is_not(None),
                col(Ticket.resolve_due_at) < now,
            )
        ),
        "accepted_in_time": _count_if(col(Ticket.accept_on_time).is_(True)),
        "accept_decided": func.count(col(Ticket.accept_on_time)),
        "resolved_in_time": _count_if(col(Ticket.resolve_on_time).is_(True)),
        "resolve_decided": func.count(col(Ticket.resolve_on_time)),
        "done": _count_if(and_(resolved_once, col(Ticket.status).in_(list(DONE_STATUSES)))),
        "satisfied": _count_if(col(Ticket.rating) >= policy.SATISFIED_AT_OR_ABOVE),
        "rated": func.count(col(Ticket.rating)),
        "reopened": _count_if(and_(resolved_once, col(Ticket.reopen_count) >= 1)),
        "resolved": func.count(col(Ticket.first_resolved_at)),
        "avg_rating": func.avg(col(Ticket.rating)),
        "accept_seconds": func.avg(_seconds(dialect, col(Ticket.first_accepted_at), col(Ticket.created_at))),
        "resolve_seconds": func.avg(_seconds(dialect, col(Ticket.first_resolved_at), col(Ticket.created_at))),
    }
    # The by-status counts in the same pass: a month of a city's tickets is read once, not twice.
    return columns | {f"status {status}": _count_if(col(Ticket.status) == status) for status in COUNTED_STATUSES}


def _metrics(n: dict[str, Any]) -> Metrics:
    """Metrics from one row of _columns (None throughout: no tickets)."""
    return Metrics(
        total=_int(n["total"]),
        resident=_int(n["resident"]),
        patrol=_int(n["patrol"]),
        open=_int(n["open"]),
        overdue=_int(n["overdue"]),
        by_status={str(status): count for status in COUNTED_STATUSES if (count := _int(n[f"status {status}"]))},
        response=Rate(_int(n["accepted_in_time"]), _int(n["accept_decided"])),
        on_time=Rate(_int(n["resolved_in_time"]), _int(n["resolve_decided"])),
        closure=Rate(_int(n["done"]), _int(n["total"])),
        satisfaction=Rate(_int(n["satisfied"]), _int(n["rated"])),
        reopen=Rate(_int(n["reopened"]), _int(n["resolved"])),
        avg_rating=_float(n["avg_rating"]),
        mean_accept_minutes=_float(n["accept_seconds"], 60),
        mean_resolve_hours=_float(n["resolve_seconds"], 3600),
    )


def patrol_by_worker(
    session: Session, since: datetime, until: datetime, within: Within | None = None
) -> list[tuple[str, int]]:
    """巡查发现 per worker who found them: (name, tickets created in [since, until)), most first; cancelled tickets
    never count, as in compute()."""
    found = func.count(col(Ticket.id))
    query = (
        select(Person.name, found)
        .join(Ticket, col(Ticket.found_by_id) == col(Person.id))
        .where(
            col(Ticket.source) == TicketSource.PATROL,
            col(Ticket.created_at) >= since,
            col(Ticket.created_at) < until,
            col(Ticket.status) != Status.CANCELLED,
            *ticket_filter(within),
        )
        .group_by(col(Person.id), col(Person.name))
        .order_by(found.desc(), col(Person.id))
    )
    return [(name, int(count)) for name, count in session.exec(query).all()]


def by_category(
    session: Session, since: datetime, until: datetime, within: Within | None = None
) -> list[tuple[str, int]]:
    """Tickets created in [since, until) per category, most first; cancelled tickets never count, as in compute()."""
    found = func.count(col(Ticket.id))
    query = (
        select(Ticket.category, found)
        .where(
            col(Ticket.created_at) >= since,
            col(Ticket.created_at) < until,
            col(Ticket.status) != Status.CANCELLED,
            *ticket_filter(within),
        )
        .group_by(col(Ticket.category))
        .order_by(found.desc(), col(Ticket.category))
    )
    return [(category, int(count)) for category, count in session.exec(query).all()]


def by_day_and_category(
    session: Session, bounds: Sequence[datetime], within: Within | None = None
) -> list[tuple[int, str, int]]:
    """Tickets per (day, category) for the days [bounds[i], bounds[i + 1]): (day's index, category, count); cancelled
    tickets never count. One statement: a CASE over the bounds names each ticket's day, read from the created_at
    index over [bounds[0], bounds[-1])."""
    if len(bounds) < 2:
        return []
    day = case(
        *((col(Ticket.created_at) < bound, index) for index, bound in enumerate(bounds[1:-1])),
        else_=len(bounds) - 2,
    ).label("day")
    # Grouped over a subquery, not by the CASE itself: PostgreSQL would not see the CASE in SELECT and in GROUP BY,
    # each with its own bound parameters, as one expression.
    days = (
        select(day, col(Ticket.category).label("category"))
        .where(
            col(Ticket.created_at) >= bounds[0],
            col(Ticket.created_at) < bounds[-1],
            col(Ticket.status) != Status.CANCELLED,
            *ticket_filter(within),
        )
        .subquery()
    )
    query = select(days.c.day, days.c.category, func.count()).group_by(days.c.day, days.c.category)
    return [(int(index), category, int(count)) for index, category, count in session.exec(query).all()]


@dataclass(frozen=True)
class Repeat:
    """One grid's tickets of one category, more than one in the period (a problem that keeps coming back)."""

    grid_id: int
    category: str
    count: int
    place: str  # the place most of them name ("" when none names one)


def repeats(
    session: Session, since: datetime, until: datetime, within: Within | None = None, limit: int = 8, at_least: int = 2
) -> list[Repeat]:
    """The (grid, category) pairs with at least `at_least` tickets created in [since, until), most first, each with
    the place most of them name; cancelled tickets never count. Two statements: the pairs, then their places."""
    cohort = (
        col(Ticket.created_at) >= since,
        col(Ticket.created_at) < until,
        col(Ticket.status) != Status.CANCELLED,
        col(Ticket.grid_id).is_not(None),
        *ticket_filter(within),
    )
    found = func.count(col(Ticket.id))
    pairs = session.exec(
        select(Ticket.grid_id, Ticket.category, found)
        .where(*cohort)
        .group_by(col(Ticket.grid_id), col(Ticket.category))
        .having(found >= at_least)
        .order_by(found.desc(), col(Ticket.grid_id), col(Ticket.category))
        .limit(limit)
    ).all()
    if not pairs:
        return []
    places: dict[tuple[int, str], Counter[str]] = {(g, c): Counter() for g, c, _ in pairs if g is not None}
    rows = session.exec(
        select(Ticket.grid_id, Ticket.category, Ticket.location_text, found)
        .where(
            *cohort,
            col(Ticket.grid_id).in_({g for g, _ in places}),
            col(Ticket.category).in_({c for _, c in places}),
        )
        .group_by(col(Ticket.grid_id), col(Ticket.category), col(Ticket.location_text))
    ).all()
    for grid_id, category, place, count in rows:
        # The second statement's ranges cross: G01's noise comes back with G02's facility; only the pairs count.
        if place and (pair := (grid_id, category)) in places:
            places[pair][place] += int(count)
    return [
        Repeat(grid_id, category, int(count), _most_named(places[grid_id, category]))
        for grid_id, category, count in pairs
        if grid_id is not None
    ]


def _most_named(places: Counter[str]) -> str:
    """The place named most often; of equals, the first by name, so the screen does not flicker between them."""
    return min(places.items(), key=lambda item: (-item[1], item[0]))[0] if places else ""


@dataclass(frozen=True)
class WorkerNumbers:
    """A grid worker's period: the tickets created in it and assigned to them, and their own patrol finds."""

    person_id: int
    name: str
    grid_id: int | None
    handled: int
    closed: int  # done now, as 办结率 counts
    on_time: Rate  # 按期办结率 of their tickets
    satisfaction: Rate  # 满意率 of their tickets
    patrol: int  # 巡查发现 they found, as patrol_by_worker counts


def by_worker(
    session: Session, since: datetime, until: datetime, within: Within | None = None, limit: int = 20
) -> list[WorkerNumbers]:
    """Grid workers' numbers over the tickets created in [since, until) and assigned to them, best first (most
    closed, then the better 按期办结率, then by name), the first `limit`; with `within`, only the unit's tickets and
    the workers whose grid is in it. Cancelled tickets never count. Two statements, each grouped by worker: their
    tickets, then the patrol finds of those listed."""
    cohort = (
        col(Ticket.created_at) >= since,
        col(Ticket.created_at) < until,
        col(Ticket.status) != Status.CANCELLED,
        *ticket_filter(within),
    )
    workers = [col(Person.role) == Role.GRID_WORKER]
    if within is not None:
        workers.append(col(Person.grid_id).in_(select(Grid.id).where(within.grids())))
    handled = func.count(col(Ticket.id))
    closed = _count_if(and_(col(Ticket.first_resolved_at).is_not(None), col(Ticket.status).in_(list(DONE_STATUSES))))
    in_time = _count_if(col(Ticket.resolve_on_time).is_(True))
    decided = func.count(col(Ticket.resolve_on_time))
    # The rate as a number to sort by; none decided yet sorts below every rate, 0% included.
    on_time_value = case((decided > 0, in_time * 1.0 / decided), else_=-1.0)
    satisfied = _count_if(col(Ticket.rating) >= policy.SATISFIED_AT_OR_ABOVE)
    rated = func.count(col(Ticket.rating))
    columns = (
        col(Person.id),
        col(Person.name),
        col(Person.grid_id),
        handled,
        closed,
        in_time,
        decided,
        satisfied,
        rated,
    )
    # Select itself, as in compute(): select()'s typed overloads stop at four columns.
    rows: list[tuple[Any, ...]] = list(
        session.exec(
            Select(*columns)
            .join(Ticket, col(Ticket.assignee_id) == col(Person.id))
            .where(*cohort, *workers)
            .group_by(col(Person.id), col(Person.name), col(Person.grid_id))
            .order_by(closed.desc(), on_time_value.desc(), col(Person.name), col(Person.id))
            .limit(limit)
        ).all()
    )
    if not rows:
        return []
    found = func.count(col(Ticket.id))
    finds = dict(
        session.exec(
            select(Ticket.found_by_id, found)
            .where(
                *cohort,
                col(Ticket.source) == TicketSource.PATROL,
                col(Ticket.found_by_id).in_([row[0] for row in rows]),
            )
            .group_by(col(Ticket.found_by_id))
        ).all()
    )
    return [
        WorkerNumbers(
            person_id=person_id,
            name=name,
            grid_id=grid_id,
            handled=_int(n_handled),
            closed=_int(n_closed),
            on_time=Rate(_int(n_in_time), _int(n_decided)),
            satisfaction=Rate(_int(n_satisfied), _int(n_rated)),
            patrol=_int(finds.get(person_id)),
        )
        for person_id, name, grid_id, n_handled, n_closed, n_in_time, n_decided, n_satisfied, n_rated in rows
    ]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _seconds(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    """later - earlier in seconds, NULL when either is NULL. SQLite keeps times as text, PostgreSQL as timestamptz."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return extract("epoch", later) - extract("epoch", earlier)


def _int(value: Any) -> int:
    """SUM over no rows is NULL."""
    return int(value or 0)


def _float(value: Any, per: float = 1.0) -> float | None:
    """AVG is NULL over no rows, and a Decimal on PostgreSQL."""
    return None if value is None else float(value) / per
