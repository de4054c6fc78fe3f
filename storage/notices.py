"""Resident notices: what decides whether WeChat still accepts a customer-service message for a resident."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, func, select

from storage.models import InboundMessage, Outbox, OutboxStatus

RESIDENT_NOTICE = "resident_notice"


def last_message_at(session: Session, openid: str, channel: str = "wechat") -> datetime | None:
    """When the resident last wrote to (or tapped, or subscribed to) the Official Account; None if never."""
    query = select(func.max(InboundMessage.received_at)).where(
        InboundMessage.channel == channel, InboundMessage.sender == openid
    )
    return session.exec(query).one()


def custom_notices_since(session: Session, openid: str, since: datetime) -> int:
    """How many resident notices went out to `openid` as customer-service messages after `since`."""
    query = (
        select(func.count())
        .select_from(Outbox)
        .where(
            Outbox.kind == RESIDENT_NOTICE,
            Outbox.recipient == openid,
            Outbox.status == OutboxStatus.SENT,
            Outbox.via == "custom",
            col(Outbox.sent_at) > since,
        )
    )
    return session.exec(query).one()


def ticket_of(session: Session, outbox_id: int) -> int | None:
    """The ticket an outbox row announces."""
    row = session.get(Outbox, outbox_id)
    return row.ticket_id if row else None
