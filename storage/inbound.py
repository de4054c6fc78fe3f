"""Inbound deliveries: the record that makes a retried WeChat delivery harmless."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from storage import grids
from storage.db import Prebuilt
from storage.models import InboundMessage, utcnow

# The two dialects the project runs on spell an upsert alike; any other would fail here, at the first message.
INSERTS: dict[str, Callable[[Any], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


_TABLE = InboundMessage.__table__  # type: ignore[attr-defined]
# Built once per dialect: INSERT … ON CONFLICT DO NOTHING RETURNING id, and the organisation's token (every delivery
# asks for it next: one statement fewer than reading it apart).
_CLAIMS = {
    name: Prebuilt(
        make(_TABLE)
        .values(
            channel=bindparam("channel"),
            dedupe_key=bindparam("dedupe_key"),
            sender=bindparam("sender"),
            kind=bindparam("kind"),
            reply="",
            received_at=bindparam("received_at"),
        )
        .on_conflict_do_nothing(index_elements=["channel", "dedupe_key"])
        .returning(_TABLE.c.id, grids.TOKEN_NOW)
    )
    for name, make in INSERTS.items()
}
_ANSWER = Prebuilt(update(_TABLE).where(_TABLE.c.id == bindparam("claim_id")).values(reply=bindparam("reply")))


def claim(session: Session, channel: str, dedupe_key: str, sender: str, kind: str) -> int | None:
    """Insert the delivery's row and return its id; None when another delivery of the same message already holds it.

    One statement, `INSERT … ON CONFLICT DO NOTHING RETURNING`, where a savepoint, an insert and its release took
    three round trips. It waits on the other transaction's uncommitted row (PostgreSQL's unique index, SQLite's
    write lock), so once this returns None the first delivery's reply is committed and readable. The same statement
    reads the organisation's token for the transaction (storage/grids.version).
    """
    statement = _CLAIMS[session.get_bind().dialect.name]
    params = {"channel": channel, "dedupe_key": dedupe_key, "sender": sender, "kind": kind, "received_at": utcnow()}
    row = statement.execute(session.connection(), params).first()
    if row is None:
        return None
    grids.seen(session, row[1])
    found: int = row[0]
    return found


def answer(session: Session, claim_id: int, reply: str) -> None:
    """Keep the reply given, for a retried delivery of the same message (in the claiming transaction)."""
    _ANSWER.execute(session.connection(), {"claim_id": claim_id, "reply": reply})


def find(session: Session, channel: str, dedupe_key: str) -> InboundMessage | None:
    query = select(InboundMessage).where(InboundMessage.channel == channel, InboundMessage.dedupe_key == dedupe_key)
    return session.exec(query).first()
