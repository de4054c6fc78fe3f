"""Inbound deliveries: the record that makes a retried WeChat delivery harmless."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from storage.models import InboundMessage, utcnow

# The two dialects the project runs on spell an upsert alike; any other would fail here, at the first message.
INSERTS: dict[str, Callable[[Any], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


def claim(session: Session, channel: str, dedupe_key: str, sender: str, kind: str) -> InboundMessage | None:
    """Insert the delivery's row; None when another delivery of the same message already holds it.

    One statement, `INSERT … ON CONFLICT DO NOTHING RETURNING`, where a savepoint, an insert and its release took
    three round trips. It waits on the other transaction's uncommitted row (PostgreSQL's unique index, SQLite's
    write lock), so once this returns None the first delivery's reply is committed and readable.
    """
    insert = INSERTS[session.get_bind().dialect.name]
    statement = (
        insert(InboundMessage)
        .values(channel=channel, dedupe_key=dedupe_key, sender=sender, kind=kind, reply="", received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["channel", "dedupe_key"])
        .returning(InboundMessage)
    )
    return session.scalars(statement).first()


def find(session: Session, channel: str, dedupe_key: str) -> InboundMessage | None:
    query = select(InboundMessage).where(InboundMessage.channel == channel, InboundMessage.dedupe_key == dedupe_key)
    return session.exec(query).first()
