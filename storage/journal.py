"""Write-only rows — a ticket's events and its outbox notifications — written at commit, one Core statement per table.

Nobody updates these rows in the transaction that writes them, so they need no ORM objects, no identity map and no
flush of their own: handlers append them here, naming the ticket (which may not have its id yet), and just before
the session commits they go in — after one flush gives every new ticket its id — with one executemany INSERT each
(RETURNING the outbox ids, which the session keeps for storage.outbox.queued). They are in the same transaction
as the change they record, as before; a reader of these tables in the same transaction calls write() first. The
events, and a lone outbox row (a complaint's), go as the driver's SQL (storage.db.Prebuilt): every column is
given; several outbox rows go through SQLAlchemy, which batches an INSERT … RETURNING of many rows.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import event, insert
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction

from storage.db import Prebuilt
from storage.models import Outbox, OutboxKind, Ticket, TicketEvent

_EVENTS = "wgt.journal.events"
_OUTBOX = "wgt.journal.outbox"
QUEUED = "wgt.journal.queued"
_EVENT_TABLE = TicketEvent.__table__  # type: ignore[attr-defined]
_OUTBOX_TABLE = Outbox.__table__  # type: ignore[attr-defined]
_INSERT_EVENTS = Prebuilt(insert(_EVENT_TABLE))
_INSERT_NOTICE = Prebuilt(insert(_OUTBOX_TABLE).returning(_OUTBOX_TABLE.c.id))
_INSERT_OUTBOX = insert(_OUTBOX_TABLE).returning(_OUTBOX_TABLE.c.id, sort_by_parameter_order=True)

Ticketish = Ticket | int | None


class Queued(NamedTuple):
    """An outbox row to hand to its sender after commit: its kind and its bot decide who that is."""

    id: int
    kind: OutboxKind
    bot: str = ""


def add_event(session: OrmSession, ticket: Ticket, values: dict[str, Any]) -> None:
    session.info.setdefault(_EVENTS, []).append((ticket, values))


def add_outbox(session: OrmSession, ticket: Ticketish, values: dict[str, Any]) -> None:
    session.info.setdefault(_OUTBOX, []).append((ticket, values))


def write(session: OrmSession) -> None:
    """Insert what was appended since the last write (a flush first, so new tickets have their ids)."""
    events = session.info.pop(_EVENTS, None)
    notices = session.info.pop(_OUTBOX, None)
    if not events and not notices:
        return
    session.flush()
    connection = session.connection()  # plain Core: the ORM's execution of these statements adds nothing they need
    if events:
        _INSERT_EVENTS.execute(connection, [{**values, "ticket_id": _id(ticket)} for ticket, values in events])
    if notices:
        rows = [{**values, "ticket_id": _id(ticket)} for ticket, values in notices]
        if len(rows) == 1:  # a driver's executemany returns no rows: SQLAlchemy's batches do
            ids = [_INSERT_NOTICE.execute(connection, rows[0]).scalar_one()]
        else:
            ids = list(connection.execute(_INSERT_OUTBOX, rows).scalars().all())
        queued = session.info.setdefault(QUEUED, [])
        queued.extend(Queued(i, OutboxKind(row["kind"]), row["bot"]) for i, row in zip(ids, rows, strict=True))


def _id(ticket: Ticketish) -> int | None:
    return ticket.id if isinstance(ticket, Ticket) else ticket


@event.listens_for(OrmSession, "before_commit")
def _before_commit(session: OrmSession) -> None:
    write(session)


@event.listens_for(OrmSession, "after_soft_rollback")
def _after_rollback(session: OrmSession, previous: SessionTransaction) -> None:
    if previous.parent is None:  # the whole transaction (not a savepoint): what it appended is gone with it
        for key in (_EVENTS, _OUTBOX):
            session.info.pop(key, None)
    # QUEUED stays: a session closed after its commit rolls back an empty transaction, and the ids written by that
    # commit must still reach the workers. An id written by a write() whose transaction then failed is harmless to
    # enqueue: the job finds no pending row, or a pending row that was due to go out anyway.
