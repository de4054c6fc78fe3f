"""storage.db.Prebuilt runs a Core statement as the driver's SQL: what it writes must read back exactly as what
SQLAlchemy's own execution of the same statement writes (times, enums, empty values), on either backend, and a
column it would leave to a default must be refused rather than written as NULL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage import tickets
from storage.db import Prebuilt, writer
from storage.models import InboundMessage, Outbox, OutboxStatus, Status, Ticket, TicketEvent

_EVENTS = TicketEvent.__table__  # type: ignore[attr-defined]
_OUTBOX = Outbox.__table__  # type: ignore[attr-defined]
_INBOUND = InboundMessage.__table__  # type: ignore[attr-defined]
WHEN = datetime(2026, 12, 5, 8, 30, 15, 123456, tzinfo=UTC)


def event_row(ticket_id: int, note: str) -> dict[str, object]:
    return {
        "ticket_id": ticket_id,
        "actor_id": None,
        "action": "assign",
        "from_status": Status.NEW,
        "to_status": Status.ASSIGNED,
        "note": note,
        "created_at": WHEN,
    }


def test_rows_written_as_driver_sql_read_back_as_the_ones_sqlalchemy_writes(session: Session) -> None:
    ticket = tickets.new_ticket(category="noise", text="广场舞太吵", created_at=WHEN, updated_at=WHEN)
    tickets.open_ticket(session, ticket, None)
    number = tickets.number(session, ticket)  # itself a Prebuilt INSERT … RETURNING id
    connection = session.connection()
    connection.execute(insert(_EVENTS), [event_row(number, "core")])
    Prebuilt(insert(_EVENTS)).execute(connection, [event_row(number, "driver"), event_row(number, "driver, again")])
    rows = connection.execute(select(_EVENTS).order_by(_EVENTS.c.id)).mappings().all()
    assert [row["note"] for row in rows] == ["core", "driver", "driver, again"]
    core, driver = ({k: v for k, v in row.items() if k not in ("id", "note")} for row in rows[:2])
    assert driver == core
    assert driver["to_status"] == Status.ASSIGNED
    assert session.get(Ticket, number) is ticket and ticket.created_at == WHEN


def test_a_returning_statement_gives_the_new_rows_id_and_an_update_changes_the_row(session: Session) -> None:
    connection = session.connection()
    values = {
        "ticket_id": None,
        "kind": "group_push",
        "event": "assigned",
        "recipient": "chat-1",
        "bot": "",
        "payload": "{}",
        "created_at": WHEN,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "via": "",
        "last_error": "",
    }
    first = Prebuilt(insert(_OUTBOX).returning(_OUTBOX.c.id)).execute(connection, values).scalar_one()
    second = Prebuilt(insert(_OUTBOX).returning(_OUTBOX.c.id)).execute(connection, values).scalar_one()
    assert second == first + 1
    mark = Prebuilt(update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id")).values(via=bindparam("via")))
    mark.execute(connection, {"row_id": second, "via": "aibot"})
    found = dict(connection.execute(select(_OUTBOX.c.id, _OUTBOX.c.via)).all())
    assert {i: found[i] for i in (first, second)} == {first: "", second: "aibot"}


def test_a_column_left_to_its_default_is_refused_not_written_empty(session: Session) -> None:
    values = {"kind": "group_push", "event": "assigned", "recipient": "chat-1", "created_at": WHEN}
    with pytest.raises(ValueError, match="status"):
        Prebuilt(insert(_OUTBOX)).execute(session.connection(), values)


def test_a_read_with_constants_in_its_where_clause_finds_what_sqlalchemy_finds(session: Session) -> None:
    connection = session.connection()
    for status in (OutboxStatus.PENDING, OutboxStatus.SENT):
        values = {"kind": "group_push", "event": "assigned", "recipient": "chat-2", "created_at": WHEN}
        connection.execute(insert(_OUTBOX).values(status=status), values)
    query = select(_OUTBOX.c.id).where(_OUTBOX.c.recipient == bindparam("to"), _OUTBOX.c.status == OutboxStatus.SENT)
    by_sqlalchemy = connection.execute(query, {"to": "chat-2"}).scalars().all()
    assert len(by_sqlalchemy) == 1
    assert [row[0] for row in Prebuilt(query).execute(connection, {"to": "chat-2"})] == by_sqlalchemy


def test_a_time_it_returns_reads_as_sqlalchemy_reads_it_and_a_value_it_lacks_is_refused(session: Session) -> None:
    connection = session.connection()
    connection.execute(insert(_OUTBOX), {"kind": "group_push", "event": "a", "recipient": "chat-3", "created_at": WHEN})
    query = select(_OUTBOX.c.id, _OUTBOX.c.created_at).where(_OUTBOX.c.recipient == "chat-3")
    rows = Prebuilt(query).execute(connection, {})
    assert rows.all() == [tuple(row) for row in connection.execute(query).all()]
    assert rows.columns == ("id", "created_at") and rows[0][1] == WHEN  # a time, not SQLite's text
    with pytest.raises(ValueError, match="to"):
        Prebuilt(select(_OUTBOX.c.id).where(_OUTBOX.c.recipient == bindparam("to"))).execute(session.connection(), {})


def test_a_failed_statement_raises_sqlalchemys_error_and_the_connection_goes_on(session: Session) -> None:
    """The driver's own cursor is kept between statements; a failure must not leave a closed one behind."""
    values = {"channel": "wechat", "dedupe_key": "k-1", "sender": "o-1", "kind": "text", "reply": ""}
    values["received_at"] = WHEN
    add = Prebuilt(insert(_INBOUND))
    with writer(session.get_bind()).connect() as connection:  # type: ignore[arg-type]  # a transaction on SQLite too
        add.execute(connection, values)
        with pytest.raises(IntegrityError):
            add.execute(connection, values)  # the same delivery twice: the unique index refuses it
        connection.rollback()
        add.execute(connection, {**values, "dedupe_key": "k-2"})
        found = [row[0] for row in Prebuilt(select(_INBOUND.c.dedupe_key)).execute(connection, {})]
        assert found == ["k-2"]


def test_statements_are_seen_by_whoever_listens_for_them(session: Session) -> None:
    sent: list[str] = []

    def seen(*args: Any) -> None:
        sent.append(args[2])

    engine = session.get_bind()
    query = Prebuilt(select(_OUTBOX.c.id).where(_OUTBOX.c.recipient == "nobody"))
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert query.execute(session.connection(), {}).all() == []
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(sent) == 1 and "outbox" in sent[0]
