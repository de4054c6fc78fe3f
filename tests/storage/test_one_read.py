"""Reads that ride along with another statement of the same transaction must answer as a read of their own would:
the organisation's token with the delivery's claim, the sender's counts with "is this an answer"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import grids, inbound, tickets
from storage.db import transaction
from storage.models import Person, Role, Status, Ticket, utcnow


def statements(engine: Engine) -> list[str]:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def asked_where(session: Session, openid: str, *ages: timedelta) -> tuple[Person, Ticket]:
    """A resident with tickets opened that long ago, and one more waiting for its place (asked "where?")."""
    resident = Person(openid=openid, role=Role.RESIDENT)
    session.add(resident)
    session.commit()
    assert resident.id is not None
    now = utcnow()
    for age in ages:
        old = tickets.new_ticket(text="路灯不亮", category="facility", resident_id=resident.id, created_at=now - age)
        tickets.open_ticket(session, old, None)
        tickets.number(session, old)
    asked = tickets.new_ticket(text="在哪", category="facility", resident_id=resident.id, awaiting="location")
    tickets.open_ticket(session, asked, None)
    tickets.number(session, asked)
    session.commit()
    return resident, asked


def test_the_claim_reads_the_token_an_import_in_another_transaction_committed(session: Session) -> None:
    engine = session.get_bind()
    with transaction(engine) as other:
        grids.changed(other)
        imported = grids.version(other)
    with transaction(engine) as s:
        assert inbound.claim(s, "wechat", "msg-1", "openid-1", "text") is not None
        sent = statements(engine)
        assert grids.version(s) == imported
        assert sent == []  # answered from the claim's own row
    with transaction(engine) as s:
        assert inbound.claim(s, "wechat", "msg-1", "openid-1", "text") is None  # a retry: nothing claimed
        assert grids.version(s) == imported  # still right, read apart


def test_the_counts_read_with_the_question_grow_when_the_transaction_opens_a_ticket(session: Session) -> None:
    resident, asked = asked_where(session, "o-count", timedelta(minutes=5), timedelta(hours=3))
    assert resident.id is not None
    now = utcnow()
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)

    with transaction(session.get_bind()) as s:
        waiting = tickets.awaiting_answer(s, resident.id, hour_ago, day_ago)
        assert waiting is not None and waiting.id == asked.id and waiting.status == Status.NEW
        assert tickets.opened_by(s, resident.id, hour_ago, day_ago) == (2, 3)
        new = tickets.new_ticket(text="又坏了", category="facility", resident_id=resident.id, created_at=now)
        tickets.open_ticket(s, new, None)
        tickets.number(s, new)
        assert tickets.opened_by(s, resident.id, hour_ago, day_ago) == (3, 4)


def test_what_a_transaction_read_is_read_afresh_by_the_next_one(session: Session) -> None:
    before = grids.version(session)
    session.commit()
    with transaction(session.get_bind()) as other:
        grids.changed(other)  # an import in another process
        imported = grids.version(other)
    assert grids.version(session) == imported != before


def test_the_sender_is_read_with_the_ticket_awaiting_their_answer_and_their_counts(session: Session) -> None:
    resident, asked = asked_where(session, "o-asked", timedelta(hours=3))
    assert resident.id is not None
    now = utcnow()
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    engine = session.get_bind()

    with transaction(engine) as s:
        assert tickets.resident_with_waiting(s, "o-nobody", hour_ago, day_ago) is None
        sent = statements(engine)
        person = tickets.resident_with_waiting(s, "o-asked", hour_ago, day_ago)
        assert person is not None and person.id == resident.id and person.role == Role.RESIDENT
        waiting = tickets.awaiting_answer(s, resident.id, hour_ago, day_ago)
        assert waiting is not None and waiting.id == asked.id
        assert tickets.opened_by(s, resident.id, hour_ago, day_ago) == (1, 2)
        assert len(sent) == 2  # the sender with the rest, then the waiting ticket itself
        asked_row = s.get(Ticket, asked.id)
        assert asked_row is not None
        asked_row.awaiting = None  # answered: a second question reads afresh, and finds none
        s.flush()
        assert tickets.awaiting_answer(s, resident.id, hour_ago, day_ago) is None
