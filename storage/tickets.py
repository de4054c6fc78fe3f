"""Tickets: opening, events, and the queries about them. The moves between states are handlers/moves.py."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Executable, and_, bindparam, case, func, literal, or_, union_all
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, instrumentation, make_transient_to_detached
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

import policy
from storage import journal, photos
from storage.db import Prebuilt, attached, in_list, is_postgres, per_transaction
from storage.models import (
    OPEN_STATUSES,
    Grid,
    Once,
    Outbox,
    Person,
    Status,
    Ticket,
    TicketEvent,
    TicketReporter,
    TicketSource,
    utcnow,
)
from storage.scope import Within, ticket_filter

STATUS_NAMES = {
    Status.NEW: "待派单",
    Status.ASSIGNED: "已派单",
    Status.ACCEPTED: "处理中",
    Status.RESOLVED: "已办结",
    Status.CLOSED: "已评价",
    Status.RETURNED: "已退回",
    Status.REOPENED: "重办中",
    Status.SUSPENDED: "已挂起",
    Status.CANCELLED: "已撤销",
}


class IllegalMove(Exception):
    """A move the table of moves (handlers/moves.py) refuses; str(exc) is the reason to show."""


_TICKET_CLASS = instrumentation.manager_of_class(Ticket)
_TICKET_FIELDS = {name: field for name, field in Ticket.model_fields.items() if not field.is_required()}
# Every plain default is a str, number, bool, enum or None, shared safely; the factories (times) run per ticket.
_TICKET_DEFAULTS = {name: field.default for name, field in _TICKET_FIELDS.items() if field.default_factory is None}
_TICKET_FACTORIES = tuple((name, field) for name, field in _TICKET_FIELDS.items() if field.default_factory is not None)


def new_ticket(**values: object) -> Ticket:
    """A new (transient) Ticket with these values and every other field at its default, the way SQLAlchemy builds
    one it loads: Ticket(...) sets its 49 fields one by one through SQLModel's and SQLAlchemy's attribute hooks (about
    90 µs a complaint, against 11 here). A new object has no history to record; every later change is tracked."""
    ticket = _TICKET_CLASS.new_instance()
    fields = dict(_TICKET_DEFAULTS)
    # pydantic's get_default inspects the factory's signature at every call (about 30 µs a ticket): only for the
    # fields the caller left out
    fields.update(
        (name, field.get_default(call_default_factory=True)) for name, field in _TICKET_FACTORIES if name not in values
    )
    fields.update(values)
    ticket.__dict__.update(fields)
    object.__setattr__(ticket, "__pydantic_fields_set__", set(values))
    return ticket


def open_ticket(session: Session, ticket: Ticket, actor_id: int | None, note: str = "") -> Ticket:
    """Store a new ticket and its first event. It is INSERTed at the next flush (number() forces one), so the
    moves made before then write it once, in its final state."""
    ticket.status = Status.NEW
    session.add(ticket)
    session.info.pop(_OPENED, None)  # the resident's counts just grew
    append_event(session, ticket, actor_id, "open", None, Status.NEW, note)
    return ticket


_TICKET_TABLE = Ticket.__table__  # type: ignore[attr-defined]
_TICKET_COLUMNS = tuple(c.key for c in _TICKET_TABLE.columns if c.key != "id")
_INSERT_TICKET = Prebuilt(sa_insert(_TICKET_TABLE).returning(_TICKET_TABLE.c.id))


def number(session: Session, ticket: Ticket) -> int:
    """The ticket's number: a new ticket is INSERTed now, in the state it has, with one Core statement (an ORM flush
    of the one 45-column object took 70-120 µs more of CPU, 1.2-1.4 times as much), and stays in the session as a
    persistent object, so a later change to it is an UPDATE at the next flush like any other."""
    if ticket.id is None:
        session.expunge(ticket)
        values = {key: getattr(ticket, key) for key in _TICKET_COLUMNS}
        ticket.id = _INSERT_TICKET.execute(session.connection(), values).scalar_one()
        make_transient_to_detached(ticket)
        session.add(ticket)
    return ticket.id


def record(
    session: Session, ticket: Ticket, actor_id: int | None, action: str, note: str = "", now: datetime | None = None
) -> None:
    """Append a fact about the ticket that is not a move (补充位置, 图片, 关联, 改类, 回访, the sweep's 督办)."""
    return append_event(session, ticket, actor_id, action, None, None, note, now)


def append_event(
    session: Session,
    ticket: Ticket,
    actor_id: int | None,
    action: str,
    from_status: Status | None,
    to_status: Status | None,
    note: str,
    now: datetime | None = None,
) -> None:
    """An event of the ticket (storage/journal.py writes it at commit)."""
    values = {
        "actor_id": actor_id,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "note": note,
        "created_at": now or utcnow(),
    }
    journal.add_event(session, ticket, values)


def get(session: Session, ticket_id: int) -> Ticket | None:
    return session.get(Ticket, ticket_id)


def events(session: Session, ticket_id: int) -> Sequence[TicketEvent]:
    journal.write(session)
    return session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id))
    ).all()


class CardView(NamedTuple):
    """What a ticket's card shows beyond the ticket: read with it in one statement, as a card is drawn at every push
    and every tap. `ticket` holds the columns of _CARD_KEYS only (the rest at their defaults), in no session."""

    ticket: Ticket
    resident_name: str | None
    grid_name: str | None
    photos: int  # the photos that may be shown
    act: str | None  # the newest event of the asked actions, its time and its actor's name
    act_at: datetime | None
    actor_name: str | None


_RESIDENT, _ACTOR, _ACT = aliased(Person), aliased(Person), aliased(TicketEvent)
# What a card shows and how it is coloured (handlers/cards.card_of, sla.colour): 15 of the ticket's 49 columns. The
# whole row through the ORM was about 40 % of the gateway's CPU per card on PostgreSQL (a profile under bench load),
# most of it psycopg describing each column of the result and the ORM building a Ticket from them.
_CARD_KEYS = (
    "id",
    "status",
    "urgent",
    "category",
    "keywords",
    "text",
    "location_text",
    "reporter_count",
    "accept_due_at",
    "resolve_due_at",
    "clock_started_at",
    "sla_seconds",
    "paused_at",
    "paused_seconds",
    "working_clock",
)


@lru_cache(maxsize=8)
def _card_view_query(actions: tuple[str, ...], many: bool = False, postgres: bool = False) -> Executable:
    """The card's statement for these actions, built once: the actions are written into it (IN with one parameter
    each), so it is the same statement every time, with no list to expand at each run and prepared by psycopg.
    One ticket's ("ticket_id"), or with `many` those in "ticket_ids" (storage/db.in_list)."""
    newest_act = (
        sa_select(func.max(col(_ACT.id)))
        .where(col(_ACT.ticket_id) == col(Ticket.id), col(_ACT.action).in_([literal(a) for a in actions]))
        .correlate(Ticket)
        .scalar_subquery()
    )
    return (
        sa_select(
            *(_TICKET_TABLE.c[key] for key in _CARD_KEYS),
            col(_RESIDENT.name),
            col(Grid.name),
            photos.shown_count_of_ticket(),
            col(TicketEvent.action),
            col(TicketEvent.created_at),
            col(_ACTOR.name),
        )
        .outerjoin(_RESIDENT, col(_RESIDENT.id) == col(Ticket.resident_id))
        .outerjoin(Grid, col(Grid.id) == col(Ticket.grid_id))
        .outerjoin(TicketEvent, col(TicketEvent.id) == newest_act)
        .outerjoin(_ACTOR, col(_ACTOR.id) == col(TicketEvent.actor_id))
        .where(in_list(Ticket.id, "ticket_ids", postgres) if many else col(Ticket.id) == bindparam("ticket_id"))
    )


def card_view(session: Session, ticket_id: int, actions: Sequence[str]) -> CardView | None:
    """The ticket with its resident's and grid's names, its photo count and its newest event of these actions (from
    ix on ticket_event.ticket_id, not every event of the ticket); None when there is no such ticket. Read on the
    session's connection, after a flush: what this transaction changed is what the card shows."""
    session.flush()
    journal.write(session)
    row = session.connection().execute(_card_view_query(tuple(actions)), {"ticket_id": ticket_id}).first()
    return None if row is None else _card_view_of(row)


def card_views(session: Session, ticket_ids: Sequence[int], actions: Sequence[str]) -> dict[int, CardView]:
    """card_view() of several tickets in one statement (a gateway's pass renders the cards it leased together), by
    ticket id; a ticket that does not exist is not in it."""
    if not ticket_ids:
        return {}
    session.flush()
    journal.write(session)
    query = _card_view_query(tuple(actions), many=True, postgres=is_postgres(session))
    rows = session.connection().execute(query, {"ticket_ids": sorted(set(ticket_ids))})
    views = (_card_view_of(row) for row in rows)
    return {view.ticket.id: view for view in views if view.ticket.id is not None}


def _card_view_of(row: Any) -> CardView:
    width = len(_CARD_KEYS)
    ticket = new_ticket(**dict(zip(_CARD_KEYS, row[:width], strict=True)))
    return CardView._make((ticket, *row[width:]))


def events_by_actor(session: Session, actor_id: int, since: datetime) -> Sequence[TicketEvent]:
    journal.write(session)
    query = (
        select(TicketEvent)
        .where(TicketEvent.actor_id == actor_id, TicketEvent.created_at >= since)
        .order_by(col(TicketEvent.id))
    )
    return session.exec(query).all()


def of_resident(session: Session, resident_id: int, limit: int = 5, before: int | None = None) -> Sequence[Ticket]:
    """The resident's tickets, those they were linked to as a further reporter included, newest first; with
    `before`, only those numbered below it (the next page)."""
    linked = select(TicketReporter.ticket_id).where(TicketReporter.person_id == resident_id)
    query = select(Ticket).where(or_(col(Ticket.resident_id) == resident_id, col(Ticket.id).in_(linked)))
    if before is not None:
        query = query.where(col(Ticket.id) < before)
    return session.exec(query.order_by(col(Ticket.id).desc()).limit(limit)).all()


def awaiting_location(session: Session, resident_id: int) -> Ticket | None:
    query = (
        select(Ticket)
        .where(Ticket.resident_id == resident_id, Ticket.awaiting == "location", Ticket.status == Status.NEW)
        .order_by(col(Ticket.id).desc())
    )
    return session.exec(query).first()


_ASKED_WHERE = and_(col(Ticket.awaiting) == "location", col(Ticket.status) == Status.NEW)
_ASKED_MORE = and_(col(Ticket.awaiting) == "resident", col(Ticket.status) == Status.SUSPENDED)


def _awaiting_of(resident: Any) -> Any:
    """The id of the ticket awaiting the resident's answer (`resident`: a parameter, or a column to correlate)."""
    return (
        sa_select(col(Ticket.id))
        .where(col(Ticket.resident_id) == resident, or_(_ASKED_WHERE, _ASKED_MORE))
        .order_by(case((col(Ticket.awaiting) == "location", 0), else_=1), col(Ticket.id).desc())
        .limit(1)
    )


_AWAITING_ANSWER = _awaiting_of(bindparam("resident_id"))


def awaiting_answer(session: Session, resident_id: int, hour_ago: datetime, day_ago: datetime) -> Ticket | None:
    """The ticket the resident's next message answers, in one query: one waiting for its place (asked "where?"),
    else a suspended one whose worker asked its first reporter for more. A linked reporter's next message is their
    own: it must not land on a stranger's ticket as the answer. Every message a resident writes asks, and the
    answer is nearly always no: the id alone is read, and the ticket only when there is one.

    The same statement counts the tickets the resident opened since `hour_ago` and `day_ago`, which opened_by()
    answers from until this transaction opens a ticket: a new complaint asks both, and one read costs half."""
    seen = session.info.pop(_WAITING, None)  # good for one question: a later one reads afresh
    if seen is not None and seen[:3] == (resident_id, hour_ago, day_ago):
        found = seen[3]  # read with the sender (resident_with_waiting)
    else:
        params = {"resident_id": resident_id, "hour_ago": hour_ago, "day_ago": day_ago}
        day, hour, found = session.connection().execute(_AWAITING_AND_OPENED, params).one()
        session.info[_OPENED] = (resident_id, hour_ago, day_ago, int(hour), int(day))
    return None if found is None else session.get(Ticket, found)


def resident_with_waiting(session: Session, openid: str, hour_ago: datetime, day_ago: datetime) -> Person | None:
    """The Official Account sender (storage.people.by_openid), read with what awaiting_answer and opened_by ask of
    them next, in the same statement: a resident's message costs one read, not two."""
    if session.autoflush:
        session.flush()  # as by_openid
    params = {"openid": openid, "hour_ago": hour_ago, "day_ago": day_ago}
    rows = _SENDER_AND_WAITING.execute(session.connection(), params)
    if not rows:
        return None
    values = dict(zip(rows.columns, rows[0], strict=True))
    day, hour, waiting = (values.pop(name) for name in ("wgt_day", "wgt_hour", "wgt_waiting"))
    person = attached(session, Person, values)
    assert person.id is not None
    session.info[_OPENED] = (person.id, hour_ago, day_ago, int(hour), int(day))
    session.info[_WAITING] = (person.id, hour_ago, day_ago, waiting)
    return person


def is_reporter(session: Session, ticket: Ticket, person_id: int) -> bool:
    if ticket.resident_id == person_id:
        return True
    query = select(TicketReporter.id).where(
        TicketReporter.ticket_id == ticket.id, TicketReporter.person_id == person_id
    )
    return session.exec(query).first() is not None


def linked_reporter(session: Session, ticket_id: int, person_id: int) -> TicketReporter | None:
    """The person's link to a ticket they did not report first; None for the first reporter and strangers."""
    query = select(TicketReporter).where(TicketReporter.ticket_id == ticket_id, TicketReporter.person_id == person_id)
    return session.exec(query).first()


# Statements every complaint runs are built once (their cache keys with them); values go in as parameters. Reads of
# columns (not objects) run on the session's connection: session.execute's ORM layer costs 25-30 µs more a read
# (SQLite 47 -> 22 µs, PostgreSQL 136 -> 107 µs), and none of them asks for a change not yet flushed.
_OPENED_BY = sa_select(
    func.count(), func.coalesce(func.sum(case((col(Ticket.created_at) >= bindparam("hour_ago"), 1), else_=0)), 0)
).where(col(Ticket.resident_id) == bindparam("resident_id"), col(Ticket.created_at) >= bindparam("day_ago"))


# session.info: (resident, hour_ago, day_ago, hour, day) as awaiting_answer read them
_OPENED = per_transaction("wgt.tickets.opened")
_AWAITING_AND_OPENED = _OPENED_BY.add_columns(_AWAITING_ANSWER.correlate(None).scalar_subquery())
# session.info: (resident, hour_ago, day_ago, the id of the ticket awaiting their answer or None)
_WAITING = per_transaction("wgt.tickets.waiting")
_PERSON = Person.__table__  # type: ignore[attr-defined]


def _opened_since(name: str) -> Any:
    return (
        sa_select(func.count())
        .where(col(Ticket.resident_id) == _PERSON.c.id, col(Ticket.created_at) >= bindparam(name))
        .correlate(_PERSON)
        .scalar_subquery()
    )


_SENDER_AND_WAITING = Prebuilt(
    sa_select(
        *_PERSON.columns,
        _opened_since("day_ago").label("wgt_day"),
        _opened_since("hour_ago").label("wgt_hour"),
        _awaiting_of(_PERSON.c.id).correlate(_PERSON).scalar_subquery().label("wgt_waiting"),
    ).where(_PERSON.c.openid == bindparam("openid"))
)


def opened_by(session: Session, resident_id: int, hour_ago: datetime, day_ago: datetime) -> tuple[int, int]:
    """How many tickets the resident opened since each time (links not counted), from ix_ticket_resident_created."""
    seen = session.info.get(_OPENED)
    if seen is not None and seen[:3] == (resident_id, hour_ago, day_ago):
        return seen[3], seen[4]
    params = {"resident_id": resident_id, "hour_ago": hour_ago, "day_ago": day_ago}
    day, hour = session.connection().execute(_OPENED_BY, params).one()
    return int(hour), int(day)


# What the duplicate search reads of each open ticket: a few columns, not 45-column Ticket objects.
_CANDIDATE = tuple(
    col(c) for c in (Ticket.id, Ticket.text, Ticket.location_text, Ticket.category, Ticket.status, Ticket.awaiting)
)


class Candidate(NamedTuple):
    id: int
    text: str
    location_text: str
    category: str
    status: str
    awaiting: str | None


def _candidates_query(*where: ColumnElement[bool]) -> Prebuilt:
    since = col(Ticket.created_at) >= bindparam("since")
    # A worker's patrol find is theirs and counted as theirs: a resident reporting the same gets a ticket of their own.
    reported = col(Ticket.source) == TicketSource.RESIDENT
    return Prebuilt(
        sa_select(*_CANDIDATE).where(*where, since, reported).order_by(col(Ticket.id).desc()).limit(bindparam("limit"))
    )


# One parameter per status, not an expanding list: the statement needs no rewriting at each run.
_OPEN = col(Ticket.status).in_([literal(str(s)) for s in sorted(OPEN_STATUSES)])
_URGENT = (col(Ticket.urgent).is_(True), _OPEN)
_URGENT_OF_GRID = _candidates_query(col(Ticket.grid_id) == bindparam("grid_id"), *_URGENT)
_URGENT_UNROUTED = _candidates_query(col(Ticket.grid_id).is_(None), *_URGENT)
_UNROUTED = _candidates_query(
    col(Ticket.grid_id).is_(None), col(Ticket.category) == bindparam("category"), col(Ticket.status) == Status.NEW
)
_DUPLICATES = _candidates_query(
    col(Ticket.grid_id) == bindparam("grid_id"), col(Ticket.category) == bindparam("category"), _OPEN
)
_OWN = _candidates_query(col(Ticket.resident_id) == bindparam("person_id"), _OPEN)


def _candidates(session: Session, query: Prebuilt, **params: object) -> list[Candidate]:
    return [Candidate(*row) for row in query.execute(session.connection(), params)]


def urgent_candidates(session: Session, grid_id: int | None, since: datetime, limit: int = 50) -> list[Candidate]:
    """Open urgent tickets of one grid (or of none: the centre's queue) opened since then."""
    if grid_id is None:
        return _candidates(session, _URGENT_UNROUTED, since=since, limit=limit)
    return _candidates(session, _URGENT_OF_GRID, grid_id=grid_id, since=since, limit=limit)


def unrouted_candidates(session: Session, category: str, since: datetime, limit: int = 50) -> list[Candidate]:
    """Tickets in the centre's queue for want of a grid, of one category, opened since then."""
    return _candidates(session, _UNROUTED, category=category, since=since, limit=limit)


def duplicate_candidates(
    session: Session, grid_id: int, category: str, since: datetime, limit: int = 50
) -> list[Candidate]:
    """Open tickets of one grid and category opened since then: what a new complaint may repeat."""
    return _candidates(session, _DUPLICATES, grid_id=grid_id, category=category, since=since, limit=limit)


def own_candidates(session: Session, person_id: int, since: datetime, limit: int = 20) -> list[Candidate]:
    """The person's own open tickets opened since then, of any grid or none: what they may be sending again."""
    return _candidates(session, _OWN, person_id=person_id, since=since, limit=limit)


def patrol_repeat(session: Session, worker_id: int, text: str, since: datetime) -> Ticket | None:
    """The worker's patrol ticket of exactly this text opened since then: the same find reported again."""
    query = (
        select(Ticket)
        .where(
            col(Ticket.created_at) >= since,
            col(Ticket.found_by_id) == worker_id,
            col(Ticket.source) == TicketSource.PATROL,
            col(Ticket.text) == text,
        )
        .order_by(col(Ticket.id).desc())
    )
    return session.exec(query).first()


def recent_alert(session: Session, ticket_id: int, events: Sequence[str], since: datetime) -> bool:
    """Whether a notification of these events about the ticket was queued since then."""
    journal.write(session)
    query = select(Outbox.id).where(
        Outbox.ticket_id == ticket_id, col(Outbox.event).in_(list(events)), Outbox.created_at >= since
    )
    return session.exec(query.limit(1)).first() is not None


def reporters(session: Session, ticket_id: int) -> Sequence[TicketReporter]:
    """Further residents linked to the ticket, in the order they reported."""
    query = select(TicketReporter).where(TicketReporter.ticket_id == ticket_id).order_by(col(TicketReporter.id))
    return session.exec(query).all()


def alerts_due(session: Session, now: datetime, limit: int = 200) -> Sequence[Ticket]:
    """Tickets whose next reminder has come; locked (PostgreSQL) so two sweeps never take the same one."""
    query = (
        select(Ticket)
        .where(col(Ticket.next_alert_at).is_not(None), col(Ticket.next_alert_at) <= now)
        .order_by(col(Ticket.next_alert_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return session.exec(query).all()


def claim_once(session: Session, key: str, now: datetime) -> bool:
    """True the first time a key is claimed (then never again): for jobs that must happen once, like a day's 日报."""
    if session.get(Once, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Once(key=key, created_at=now))
    except IntegrityError:
        return False
    return True


def callbacks_due(session: Session, since: datetime, limit: int = 20, within: Within | None = None) -> Sequence[Ticket]:
    """Resolved since then and worth a call: a low rating, a reopen, or urgent; not called back yet."""
    query = (
        select(Ticket)
        .where(
            *ticket_filter(within),
            col(Ticket.status).in_([Status.RESOLVED, Status.CLOSED, Status.REOPENED]),
            col(Ticket.first_resolved_at).is_not(None),
            col(Ticket.first_resolved_at) >= since,
            col(Ticket.callback_at).is_(None),
            or_(
                col(Ticket.rating) <= policy.REOPEN_AT_OR_BELOW,
                col(Ticket.reopen_count) > 0,
                col(Ticket.urgent).is_(True),
            ),
        )
        .order_by(col(Ticket.first_resolved_at))
        .limit(limit)
    )
    return session.exec(query).all()


def latest_open_of_resident(session: Session, resident_id: int, since: datetime) -> Ticket | None:
    query = (
        select(Ticket)
        .where(
            Ticket.resident_id == resident_id,
            col(Ticket.status).in_(list(OPEN_STATUSES)),
            Ticket.created_at >= since,
        )
        .order_by(col(Ticket.id).desc())
    )
    return session.exec(query).first()


def _overdue(now: datetime) -> tuple[ColumnElement[bool], ...]:
    # ix_ticket_open_due (status, paused_at, resolve_due_at) answers this from the index alone.
    return (col(Ticket.status).in_(list(OPEN_STATUSES)), *_past_deadline(now))


def _past_deadline(now: datetime) -> tuple[ColumnElement[bool], ...]:
    # A paused ticket's clock is stopped: it is not getting later while it waits for the resident.
    return (
        col(Ticket.paused_at).is_(None),
        col(Ticket.resolve_due_at).is_not(None),
        col(Ticket.resolve_due_at) < now,
    )


def count_overdue(session: Session, now: datetime) -> int:
    """How many open tickets are past their resolve deadline (the 超时 list's rule), all grids."""
    return int(session.exec(select(func.count()).select_from(Ticket).where(*_overdue(now))).one())


def overdue(
    session: Session, now: datetime, grid_id: int | None = None, limit: int = 20, within: Within | None = None
) -> Sequence[Ticket]:
    """Open tickets past their resolve deadline (the 超时 list's rule), the longest overdue first.

    The first `limit` of each open status, each read in order from ix_ticket_open_due (status, paused_at,
    resolve_due_at) and stopped there, then merged: `limit` rows per status however long the history. A single
    query would walk the deadline index from the oldest deadline and skip every closed ticket on the way.
    """
    late = [*_past_deadline(now), *([col(Ticket.grid_id) == grid_id] if grid_id is not None else [])]
    late += ticket_filter(within)
    # paused_at is NULL in every row here, so ordering by it changes nothing; it lets PostgreSQL see that the
    # index is already in this order (an IS NULL column does not count as fixed for that), and stop after `limit`.
    firsts = [
        select(Ticket.id)
        .where(Ticket.status == status, *late)
        .order_by(col(Ticket.paused_at), col(Ticket.resolve_due_at))
        .limit(limit)
        for status in sorted(OPEN_STATUSES)
    ]
    candidates = union_all(*(select(first.subquery().c.id) for first in firsts))
    query = select(Ticket).where(col(Ticket.id).in_(candidates))
    return session.exec(query.order_by(col(Ticket.resolve_due_at), col(Ticket.id)).limit(limit)).all()


class Load(NamedTuple):
    open: int
    overdue: int


def open_load(session: Session, now: datetime, within: Within | None = None) -> dict[int, Load]:
    """Open tickets and, of them, overdue ones (the 超时 rule) per grid, for the map's colours; grids with none are
    left out. Read from ix_ticket_status_grid: open tickets are few beside a year of closed ones."""
    late = func.sum(case((and_(*_past_deadline(now)), 1), else_=0))
    query = (
        select(Ticket.grid_id, func.count(), late)
        .where(col(Ticket.status).in_(list(OPEN_STATUSES)), col(Ticket.grid_id).is_not(None), *ticket_filter(within))
        .group_by(col(Ticket.grid_id))
    )
    return {grid_id: Load(int(n), int(k or 0)) for grid_id, n, k in session.exec(query).all() if grid_id is not None}


def open_on_map(session: Session, limit: int, within: Within | None = None) -> Sequence[Ticket]:
    """The open tickets a map shows as points: urgent ones first, then the newest."""
    query = (
        select(Ticket)
        .where(col(Ticket.status).in_(list(OPEN_STATUSES)), *ticket_filter(within))
        .order_by(col(Ticket.urgent).desc(), col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(limit)
    )
    return session.exec(query).all()


def open_in_grid(session: Session, grid_id: int, limit: int = 20) -> Sequence[Ticket]:
    query = (
        select(Ticket)
        .where(Ticket.grid_id == grid_id, col(Ticket.status).in_(list(OPEN_STATUSES)))
        .order_by(col(Ticket.urgent).desc(), col(Ticket.id))
        .limit(limit)
    )
    return session.exec(query).all()


def awaiting_dispatch(session: Session, limit: int = 20, within: Within | None = None) -> Sequence[Ticket]:
    """Tickets in the centre's queue (待派单: no grid yet, or handed back with 退回), urgent first, then the oldest;
    read from ix_ticket_status_grid."""
    query = (
        select(Ticket)
        .where(col(Ticket.status).in_([Status.NEW, Status.RETURNED]), *ticket_filter(within))
        .order_by(col(Ticket.urgent).desc(), col(Ticket.created_at), col(Ticket.id))
        .limit(limit)
    )
    return session.exec(query).all()


def for_export(
    session: Session, since: datetime, until: datetime, within: Within | None = None, batch: int = 500
) -> Iterator[tuple[Ticket, str, str]]:
    """Every ticket created in [since, until) inside `within`, oldest first, with its resident's phone and its
    assignee's name; fetched `batch` rows at a time (yield_per), so a year of a district never sits in memory."""
    resident, assignee = aliased(Person), aliased(Person)
    query = (
        select(Ticket, resident.phone, assignee.name)
        .join(resident, col(resident.id) == col(Ticket.resident_id), isouter=True)
        .join(assignee, col(assignee.id) == col(Ticket.assignee_id), isouter=True)
        .where(col(Ticket.created_at) >= since, col(Ticket.created_at) < until, *ticket_filter(within))
        .order_by(col(Ticket.created_at), col(Ticket.id))
        .execution_options(yield_per=batch)
    )
    for ticket, phone, name in session.exec(query):
        yield ticket, phone or "", name or ""
        session.expunge(ticket)  # what was written is let go, not kept in the identity map for the whole year


def reported_up(session: Session, limit: int = 20, within: Within | None = None) -> Sequence[Ticket]:
    """Open tickets a grid handed up (上报) that no centre has acted on yet, the longest waiting first; read from
    ix_ticket_reported_up, which holds only those (a centre's 流转 or 派 clears the time)."""
    query = (
        select(Ticket)
        .where(
            col(Ticket.reported_up_at).is_not(None),
            col(Ticket.status).in_(list(OPEN_STATUSES)),
            *ticket_filter(within),
        )
        .order_by(col(Ticket.reported_up_at), col(Ticket.id))
        .limit(limit)
    )
    return session.exec(query).all()


def corrections(session: Session) -> Sequence[tuple[TicketEvent, Ticket]]:
    """Every 改类 with its ticket, oldest first: the labels a retraining learns from."""
    journal.write(session)
    query = (
        select(TicketEvent, Ticket)
        .where(TicketEvent.action == "reclassify", TicketEvent.ticket_id == Ticket.id)
        .order_by(col(TicketEvent.id))
    )
    return session.exec(query).all()
