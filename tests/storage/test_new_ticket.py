"""A complaint's ticket is built without SQLModel's constructor (storage.tickets.new_ticket): it must hold what
Ticket(...) would, be written once by tickets.number, and track every change made after that."""

from __future__ import annotations

from sqlalchemy import event
from sqlmodel import Session

from storage import tickets
from storage.models import Status, Ticket, utcnow

GIVEN = {"category": "noise", "text": "3号楼楼道灯坏了", "urgent": True, "channel": "wechat", "keywords": "灯,坏"}


def test_a_new_ticket_holds_what_the_constructor_would_give_it() -> None:
    built, constructed = tickets.new_ticket(**GIVEN), Ticket(**GIVEN)
    times = {"created_at", "updated_at"}
    for name in Ticket.model_fields:
        if name not in times:
            assert getattr(built, name) == getattr(constructed, name), name
    assert built.created_at is not None and built.updated_at is not None
    assert built.model_fields_set == constructed.model_fields_set
    assert built.status == Status.NEW and built.id is None


def test_a_new_ticket_is_written_once_and_its_later_changes_are_updates(session: Session) -> None:
    sent: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute", lambda *args: sent.append(args[2].split()[0]))
    ticket = tickets.new_ticket(**GIVEN, created_at=utcnow(), updated_at=utcnow())
    tickets.open_ticket(session, ticket, None)
    ticket.location_text = "幸福小区3栋"  # a change before the number: part of the one INSERT
    number = tickets.number(session, ticket)
    ticket.status = Status.ASSIGNED  # a change after it: an UPDATE at the next flush
    session.commit()
    assert sent.count("INSERT") == 2  # the ticket, then its first event (storage/journal.py)
    assert sent.count("UPDATE") == 1
    session.expire_all()
    stored = session.get(Ticket, number)
    assert stored is not None
    assert (stored.text, stored.location_text, stored.status, stored.urgent) == (
        GIVEN["text"],
        "幸福小区3栋",
        Status.ASSIGNED,
        True,
    )
