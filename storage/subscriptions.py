"""Subscribe credits (订阅消息): one per acceptance in wx.requestSubscribeMessage, one spent per message sent.

Each statement is one conditional UPDATE (or upsert), so two workers can never spend the same credit: the count
is never below zero (a CHECK too) and never above MAX_CREDITS.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, case, update
from sqlmodel import Session, col, func, select

from storage.inbound import INSERTS
from storage.models import SubscribeCredit, utcnow

# Credits kept per user and template. WeChat lets each acceptance send one message and says nothing of how many are
# left; the cap keeps a client that reports the same acceptance over and over from granting us thousands of sends.
MAX_CREDITS = 50

_TABLE = SubscribeCredit.__table__  # type: ignore[attr-defined]
_PLUS_ONE = case((_TABLE.c.credits + 1 > MAX_CREDITS, MAX_CREDITS), else_=_TABLE.c.credits + 1)
_GRANTS = {
    name: make(_TABLE)
    .values(
        mp_openid=bindparam("who"),
        template_id=bindparam("template"),
        credits=1,
        updated_at=bindparam("at"),
    )
    .on_conflict_do_update(
        index_elements=["mp_openid", "template_id"], set_={"credits": _PLUS_ONE, "updated_at": bindparam("at")}
    )
    .returning(_TABLE.c.credits)
    for name, make in INSERTS.items()
}
_TAKE = (
    update(_TABLE)
    .where(
        _TABLE.c.mp_openid == bindparam("who"),
        _TABLE.c.template_id == bindparam("template"),
        _TABLE.c.credits > 0,
    )
    .values(credits=_TABLE.c.credits - 1, updated_at=bindparam("at"))
    .returning(_TABLE.c.credits)
)
_GIVE_BACK = (
    update(_TABLE)
    .where(
        _TABLE.c.mp_openid == bindparam("who"),
        _TABLE.c.template_id == bindparam("template"),
        _TABLE.c.credits < MAX_CREDITS,
    )
    .values(credits=_TABLE.c.credits + 1, updated_at=bindparam("at"))
)
_NONE_LEFT = (
    update(_TABLE)
    .where(_TABLE.c.mp_openid == bindparam("who"), _TABLE.c.template_id == bindparam("template"))
    .values(credits=0, updated_at=bindparam("at"))
)


def grant(session: Session, mp_openid: str, template_ids: Iterable[str], now: datetime | None = None) -> dict[str, int]:
    """One more credit for each template (each named once however often it is listed); the counts now."""
    counts: dict[str, int] = {}
    for template_id in dict.fromkeys(template_ids):
        params = {"who": mp_openid, "template": template_id, "at": now or utcnow()}
        counts[template_id] = int(session.execute(_GRANTS[session.get_bind().dialect.name], params).scalar_one())
    return counts


def take(session: Session, mp_openid: str, template_id: str, now: datetime | None = None) -> int | None:
    """Spend one credit; the credits left after it, or None when there was none to spend."""
    params = {"who": mp_openid, "template": template_id, "at": now or utcnow()}
    left = session.connection().execute(_TAKE, params).scalar()
    return None if left is None else int(left)


def give_back(session: Session, mp_openid: str, template_id: str, now: datetime | None = None) -> None:
    """Return a credit taken for a message Tencent refused without sending (never above MAX_CREDITS)."""
    params = {"who": mp_openid, "template": template_id, "at": now or utcnow()}
    session.connection().execute(_GIVE_BACK, params)


def none_left(session: Session, mp_openid: str, template_id: str, now: datetime | None = None) -> None:
    """Tencent says the user has no credit left (43101): ours go to zero, whatever we counted."""
    params = {"who": mp_openid, "template": template_id, "at": now or utcnow()}
    session.connection().execute(_NONE_LEFT, params)


def credits(session: Session, mp_openid: str) -> dict[str, int]:
    """The user's credits, by template."""
    query = select(SubscribeCredit).where(SubscribeCredit.mp_openid == mp_openid).order_by(col(SubscribeCredit.id))
    return {row.template_id: row.credits for row in session.exec(query).all()}


def has_credit_row(session: Session, mp_openid: str) -> bool:
    """Whether the user ever accepted one of our templates (a row is kept when their credits run out)."""
    query = select(func.count()).select_from(SubscribeCredit).where(SubscribeCredit.mp_openid == mp_openid)
    return int(session.exec(query).one()) > 0


def total(session: Session, mp_openid: str) -> int:
    """The user's credits over all templates."""
    query = select(func.coalesce(func.sum(SubscribeCredit.credits), 0)).where(SubscribeCredit.mp_openid == mp_openid)
    return int(session.exec(query).one())
