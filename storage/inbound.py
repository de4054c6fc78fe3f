"""Inbound deliveries: the record that makes a retried WeChat delivery harmless."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage.models import InboundMessage


def claim(session: Session, channel: str, dedupe_key: str, sender: str, kind: str) -> InboundMessage | None:
    """Insert the delivery's row; None when another delivery of the same message already holds it.

    The insert waits on the other transaction's uncommitted row (PostgreSQL's unique index, SQLite's write
    lock), so once this returns None the first delivery's reply is committed and readable.
    """
    row = InboundMessage(channel=channel, dedupe_key=dedupe_key, sender=sender, kind=kind)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def find(session: Session, channel: str, dedupe_key: str) -> InboundMessage | None:
    query = select(InboundMessage).where(InboundMessage.channel == channel, InboundMessage.dedupe_key == dedupe_key)
    return session.exec(query).first()
