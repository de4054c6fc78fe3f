"""The numbers supervisors are judged on (docs/metrics.md): one definition, counted by the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, extract, func
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

import policy
from storage.models import OPEN_STATUSES, OrgUnit, Person, Status, Ticket, TicketSource
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
    cohort = [
        col(Ticket.created_at) >= since,
        col(Ticket.created_at) < until,
        col(Ticket.status) != Status.CANCELLED,
        *ticket_filter(within),
    ]
    if grid_id is not None:
        cohort.append(col(Ticket.grid_id) == grid_id)

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
    columns |= {f"status {status}": _count_if(col(Ticket.status) == status) for status in COUNTED_STATUSES}
    # Select itself: select()'s typed overloads stop at four columns.
    row: tuple[Any, ...] = session.exec(Select(*columns.values()).where(*cohort)).one()
    n = dict(zip(columns, row, strict=True))
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


def ranked(
    session: Session, units: Sequence[OrgUnit], since: datetime, until: datetime, now: datetime
) -> list[tuple[OrgUnit, Metrics]]:
    """The units' numbers side by side (排名), best 办结率 first (none yet: last), then by name."""
    rows = [(unit, compute(session, since, until, now, within=Within(unit.path))) for unit in units]
    return sorted(rows, key=lambda row: (-(v if (v := row[1].closure.value) is not None else -1.0), row[0].name))


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
