"""The outbox: notifications written with the change they announce, delivered after commit.

Rows go in at commit with the ticket's events (storage/journal.py), and the session keeps their ids and kinds:
whoever commits hands `queued(session)` to the workers, so no caller collects ids and nobody re-reads a row to
learn its kind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, update
from sqlmodel import Session, col, select

from storage import journal
from storage.journal import Ticketish
from storage.models import Outbox, OutboxKind, OutboxStatus, Ticket, utcnow

# An outbox row to hand to the workers after commit: its id, and its kind (which decides who delivers it).
Queued = tuple[int, OutboxKind]


def add(
    session: Session,
    kind: OutboxKind,
    event: str,
    recipient: str,
    ticket: Ticketish,
    payload: dict[str, Any] | None = None,
) -> None:
    """Write a notification in the session's transaction (at commit, storage/journal.py); queued() has its id
    once the session committed."""
    values = {
        "kind": str(kind),
        "event": event,
        "recipient": recipient,
        "payload": json.dumps(payload or {}, ensure_ascii=False),
        "created_at": utcnow(),
    }
    journal.add_outbox(session, ticket, values)


def queued(session: Session) -> list[Queued]:
    """The rows this session wrote, to enqueue once it has committed (the list is emptied)."""
    journal.write(session)  # nothing left to write after a commit; before one, this writes them now
    found: list[Queued] = session.info.pop(journal.QUEUED, [])
    return found


def lease(session: Session, outbox_id: int, now: datetime, seconds: int = 60) -> Outbox | None:
    """Take the row for delivery if it is pending and nobody holds it; None otherwise.

    A conditional UPDATE, so two workers given the same id cannot both take it; a killed worker's lease runs
    out and the sweep hands the row to another.
    """
    result = session.execute(
        update(Outbox)
        .where(
            col(Outbox.id) == outbox_id,
            col(Outbox.status) == OutboxStatus.PENDING,
            or_(col(Outbox.locked_until).is_(None), col(Outbox.locked_until) < now),
        )
        .values(locked_until=now + timedelta(seconds=seconds), attempts=col(Outbox.attempts) + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = session.get(Outbox, outbox_id, populate_existing=True)
    return row


def mark_sent(session: Session, row: Outbox, now: datetime, via: str = "") -> None:
    row.status = OutboxStatus.SENT
    row.via = via
    row.sent_at = now
    row.locked_until = None
    row.last_error = ""
    session.add(row)


def mark_failed(session: Session, row: Outbox, error: str, permanent: bool, now: datetime, retry_in: int) -> None:
    row.last_error = error[:500]
    if permanent:
        row.status = OutboxStatus.FAILED
        row.locked_until = None
    else:
        row.locked_until = now + timedelta(seconds=retry_in)
    session.add(row)


def stale(session: Session, older_than: datetime, now: datetime, limit: int = 500) -> list[Queued]:
    """Pending rows that should have gone out by now and nobody holds: the sweep re-enqueues these."""
    query = (
        select(Outbox.id, Outbox.kind)
        .where(
            Outbox.status == OutboxStatus.PENDING,
            Outbox.created_at < older_than,
            or_(col(Outbox.locked_until).is_(None), col(Outbox.locked_until) < now),
        )
        .order_by(col(Outbox.id))
        .limit(limit)
    )
    return [(i, OutboxKind(kind)) for i, kind in session.exec(query).all() if i is not None]


def pending(
    session: Session, kinds: Sequence[str], now: datetime, limit: int = 500
) -> list[tuple[int, str, str, bool]]:
    """Pending rows of these kinds as (id, kind, recipient, held), held ones included: those about urgent tickets
    first, then in id order, so a chat's backlog (a flood, a burst of reminders) never keeps a fire waiting. One
    ticket's rows keep their order.

    A sender that keeps each recipient's order must see a held head row (in backoff, or being sent) so that it
    holds back the rows behind it.
    """
    held = and_(col(Outbox.locked_until).is_not(None), col(Outbox.locked_until) >= now)
    query = (
        select(Outbox.id, Outbox.kind, Outbox.recipient, case((held, True), else_=False))
        .join(Ticket, col(Ticket.id) == col(Outbox.ticket_id), isouter=True)
        .where(Outbox.status == OutboxStatus.PENDING, col(Outbox.kind).in_(list(kinds)))
        .order_by(case((col(Ticket.urgent).is_(True), 0), else_=1), col(Outbox.id))
        .limit(limit)
    )
    return [(i, kind, recipient, bool(h)) for i, kind, recipient, h in session.exec(query).all() if i is not None]


def postpone(session: Session, row: Outbox, error: str, until: datetime) -> None:
    """A transient failure: keep the row pending but let nobody take it before `until`."""
    row.last_error = error[:500]
    row.locked_until = until
    session.add(row)


def backlog(session: Session, older_than: datetime) -> tuple[int, datetime | None]:
    """Pending rows created before then, and the oldest one's creation time (ix_outbox_status_created)."""
    count, oldest = session.exec(
        select(func.count(), func.min(Outbox.created_at)).where(
            Outbox.status == OutboxStatus.PENDING, Outbox.created_at < older_than
        )
    ).one()
    return int(count), oldest


def counts(session: Session) -> dict[str, int]:
    """How many rows are pending and how many failed for good (ix_outbox_status_created; sent rows not counted)."""
    unsent = [OutboxStatus.PENDING, OutboxStatus.FAILED]
    query = select(Outbox.status, func.count()).where(col(Outbox.status).in_(unsent)).group_by(Outbox.status)
    found = {str(status): int(n) for status, n in session.exec(query).all()}
    return {str(status): found.get(str(status), 0) for status in unsent}
