"""The outbox: notifications written with the change they announce, delivered after commit.

Rows go in at commit with the ticket's events (storage/journal.py), and the session keeps their ids and kinds:
whoever commits hands `queued(session)` to the workers, so no caller collects ids and nobody re-reads a row to
learn its kind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol, cast

from sqlalchemy import (
    ColumnElement,
    Executable,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    update,
)
from sqlmodel import Session, col, select

from storage import journal, org
from storage.db import in_list, is_postgres
from storage.journal import Queued as Queued  # an outbox row to hand to its sender after commit
from storage.journal import Ticketish
from storage.models import OrgUnit, Outbox, OutboxKind, OutboxStatus, Ticket, utcnow

# The kinds an AI bot may send (into WeCom groups): their rows carry the bot of their chat's unit.
BOT_KINDS = frozenset({OutboxKind.GROUP_PUSH, OutboxKind.SUPERVISOR_NOTICE})


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
        "bot": org.bot_for_chat(session, recipient) if kind in BOT_KINDS else "",
        "payload": json.dumps(payload or {}, ensure_ascii=False),
        "created_at": utcnow(),
        # the columns' defaults, given: the journal writes every column it names (storage.db.Prebuilt)
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "via": "",
        "last_error": "",
    }
    journal.add_outbox(session, ticket, values)


def queued(session: Session) -> list[Queued]:
    """The rows this session wrote, to enqueue once it has committed (the list is emptied)."""
    journal.write(session)  # nothing left to write after a commit; before one, this writes them now
    found: list[Queued] = session.info.pop(journal.QUEUED, [])
    return found


class Notification(Protocol):
    """An outbox row as a sender reads it: the ORM's Outbox, or the plain row a lease returns."""

    @property
    def id(self) -> int | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def ticket_id(self) -> int | None: ...
    @property
    def payload(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def locked_until(self) -> datetime | None: ...


def served_by(bot: Any) -> ColumnElement[bool]:
    """The rows the sender for `bot` (a bindparam or a value) sends.

    A bot named by a unit (org_unit.bot_id) sends the rows stamped with it. Any other sender is the default one: the
    gateway of a bot no unit names, or the rq workers (bot ""). It sends the rows of no unit's bot: "" (no unit on
    their chat's path has a bot; every kind but the groups'), and a bot that no unit names any more (import-org took
    it away after the row was written), so that no row waits for a gateway that will never run.
    """
    named = exists().where(col(OrgUnit.bot_id) == bot, col(OrgUnit.bot_id) != "")
    orphaned = or_(col(Outbox.bot) == "", ~exists().where(col(OrgUnit.bot_id) == col(Outbox.bot)))
    return or_(col(Outbox.bot) == bot, and_(~named, orphaned))


# Prebuilt: one statement each per delivery attempt (bot/delivery.py). They run as Core statements on the session's
# connection: a sender never holds Outbox objects, so the ORM's bookkeeping around an UPDATE (finding the objects
# it touched, building objects from RETURNING) would be a third of the gateway's CPU per card for nothing.
#
# Built once per backend and list of kinds (a sender's kinds are fixed): the kinds are written into the statement,
# and the ids are one parameter on PostgreSQL (storage/db.in_list).


def _of_kinds(kinds: tuple[str, ...]) -> ColumnElement[bool]:
    return col(Outbox.kind).in_([literal(kind) for kind in kinds])


@cache
def _lease_statement(postgres: bool, kinds: tuple[str, ...]) -> Executable:
    return (
        update(Outbox)
        .where(
            in_list(Outbox.id, "outbox_ids", postgres),
            col(Outbox.status) == OutboxStatus.PENDING,
            _of_kinds(kinds),
            served_by(bindparam("sender_bot")),
            or_(col(Outbox.locked_until).is_(None), col(Outbox.locked_until) < bindparam("now")),
        )
        .values(locked_until=bindparam("until"), attempts=col(Outbox.attempts) + 1)
        .returning(Outbox)
    )


@cache
def _release_statement(postgres: bool) -> Executable:
    """A leased row not sent after all (the one before it in its chat failed): offered again at once, its attempt
    undone."""
    return (
        update(Outbox)
        .where(in_list(Outbox.id, "outbox_ids", postgres), col(Outbox.locked_until) == bindparam("until"))
        .values(locked_until=None, attempts=col(Outbox.attempts) - 1)
    )


@cache
def _sent_statement(postgres: bool) -> Executable:
    return (
        update(Outbox)
        .where(in_list(Outbox.id, "outbox_ids", postgres))
        .values(
            status=OutboxStatus.SENT, via=bindparam("via"), sent_at=bindparam("now"), locked_until=None, last_error=""
        )
    )


_RETRY = (
    update(Outbox)
    .where(col(Outbox.id) == bindparam("outbox_id"))
    .values(last_error=bindparam("error"), locked_until=bindparam("until"))
)
_FAIL = (
    update(Outbox)
    .where(col(Outbox.id) == bindparam("outbox_id"))
    .values(last_error=bindparam("error"), status=OutboxStatus.FAILED, locked_until=None)
)


def lease(
    session: Session, outbox_id: int, kinds: Sequence[str], now: datetime, seconds: float, bot: str = ""
) -> Notification | None:
    """Take the row for one attempt if it is pending, of these kinds, the sender for `bot` sends it (served_by) and
    nobody holds it; None otherwise.

    A conditional UPDATE … RETURNING: two senders given the same id cannot both take it, and the row comes back in
    the same statement. A killed sender's lease runs out and the sweep hands the row to another.
    """
    taken = lease_many(session, [outbox_id], kinds, now, seconds, bot)
    return taken[0] if taken else None


def lease_many(
    session: Session, outbox_ids: Sequence[int], kinds: Sequence[str], now: datetime, seconds: float, bot: str = ""
) -> list[Notification]:
    """lease() for several rows in one UPDATE … RETURNING: those taken, in the order asked (fewer when some were
    not pending, not the sender's or held by another)."""
    if not outbox_ids:
        return []
    until = now + timedelta(seconds=seconds)
    statement = _lease_statement(is_postgres(session), tuple(sorted(kinds)))
    params = {"outbox_ids": list(outbox_ids), "sender_bot": bot, "now": now, "until": until}
    taken = {row.id: row for row in session.connection().execute(statement, params)}
    return [cast(Notification, taken[i]) for i in outbox_ids if i in taken]


def release(session: Session, outbox_ids: Sequence[int], until: datetime) -> None:
    """Give back rows leased until then and not sent: pending and free at once, as if never taken."""
    if outbox_ids:
        statement = _release_statement(is_postgres(session))
        session.connection().execute(statement, {"outbox_ids": list(outbox_ids), "until": until})


def mark_sent(session: Session, outbox_ids: Sequence[int], now: datetime, via: str) -> None:
    """Sent, each of them (one UPDATE)."""
    if outbox_ids:
        statement = _sent_statement(is_postgres(session))
        session.connection().execute(statement, {"outbox_ids": list(outbox_ids), "via": via, "now": now})


def retry_after(session: Session, outbox_id: int, error: str, until: datetime) -> None:
    """A transient failure: the row stays pending, but nobody takes it before `until`."""
    session.connection().execute(_RETRY, {"outbox_id": outbox_id, "error": error[:500], "until": until})


def mark_failed(session: Session, outbox_id: int, error: str) -> None:
    """A failure for good: the row is never offered again."""
    session.connection().execute(_FAIL, {"outbox_id": outbox_id, "error": error[:500]})


def stale(session: Session, older_than: datetime, now: datetime, limit: int = 500) -> list[Queued]:
    """Pending rows that should have gone out by now and nobody holds: the sweep re-enqueues these."""
    query = (
        select(Outbox.id, Outbox.kind, Outbox.bot)
        .where(
            Outbox.status == OutboxStatus.PENDING,
            Outbox.created_at < older_than,
            or_(col(Outbox.locked_until).is_(None), col(Outbox.locked_until) < now),
        )
        .order_by(col(Outbox.id))
        .limit(limit)
    )
    return [Queued(i, OutboxKind(kind), bot) for i, kind, bot in session.exec(query).all() if i is not None]


def pending(
    session: Session, kinds: Sequence[str], now: datetime, bot: str = "", limit: int = 500
) -> list[tuple[int, str, str, bool]]:
    """Pending rows of these kinds that the sender for `bot` sends (served_by) as (id, kind, recipient, held), held
    ones included: those about urgent tickets
    first, then in id order, so a chat's backlog (a flood, a burst of reminders) never keeps a fire waiting. One
    ticket's rows keep their order.

    A sender that keeps each recipient's order must see a held head row (in backoff, or being sent) so that it
    holds back the rows behind it.
    """
    params = {"sender_bot": bot, "now": now, "limit": limit}
    rows = session.connection().execute(_pending_statement(tuple(sorted(kinds))), params).all()
    return [(i, kind, recipient, bool(h)) for i, kind, recipient, h in rows]


_HELD = and_(col(Outbox.locked_until).is_not(None), col(Outbox.locked_until) >= bindparam("now"))


@cache
def _pending_statement(kinds: tuple[str, ...]) -> Executable:
    """Built once per list of kinds and run as Core: a gateway asks at every wake-up, about once per card under
    load."""
    return (
        select(Outbox.id, Outbox.kind, Outbox.recipient, case((_HELD, True), else_=False))
        .join(Ticket, col(Ticket.id) == col(Outbox.ticket_id), isouter=True)
        .where(Outbox.status == OutboxStatus.PENDING, _of_kinds(kinds), served_by(bindparam("sender_bot")))
        .order_by(case((col(Ticket.urgent).is_(True), 0), else_=1), col(Outbox.id))
        .limit(bindparam("limit"))
    )


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
