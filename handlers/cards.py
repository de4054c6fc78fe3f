"""A ticket as a group card, channel-neutral: bot/ turns it into WeCom's button_interaction template card."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

import nlp
from handlers import complaints, sla
from handlers.clock import fmt
from handlers.privacy import mask
from storage import tickets
from storage.models import Status, Ticket, utcnow
from storage.tickets import STATUS_NAMES

# The buttons a card offers in each status: (action key prefix, label).
BUTTONS: dict[Status, list[tuple[str, str]]] = {
    Status.ASSIGNED: [("accept", "接单"), ("return", "退回")],
    Status.REOPENED: [("accept", "接单"), ("return", "退回")],
    Status.ACCEPTED: [("resolve", "办结"), ("return", "退回")],
    Status.SUSPENDED: [("resolve", "办结"), ("return", "退回")],
}
ACTION_WORDS = {"accept": "接单", "resolve": "办结", "return": "退回"}


@dataclass(frozen=True)
class Card:
    number: int  # the ticket's
    title: str
    description: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (event key "accept:12", label)
    note: str = ""  # the latest act, "张伟 已接单 11月23日 10:42"
    photos: int = 0  # the resident's photos that may be shown (bot/ links the card to them)


def warm_up() -> None:
    """Read the taxonomy (the category names on cards and in notices) now, at a sender's start. The gateway's first
    card would otherwise wait for it, and an rq worker forks a work horse per job: what its parent has not loaded,
    every job loads again (about 60 ms of CPU for the taxonomy). No jieba: it loads at the first classification."""
    nlp.default_classifier()


def card_for(session: Session, ticket: Ticket, now: datetime | None = None) -> Card:
    """The card as it should look now; residents' details are masked, as everywhere in group chats."""
    assert ticket.id is not None
    card = card_of(session, ticket.id, now)
    assert card is not None
    return card


def card_of(session: Session, number: int, now: datetime | None = None) -> Card | None:
    """The ticket's card, read in one statement; None when there is no such ticket."""
    view = tickets.card_view(session, number, list(ACT_VERBS))
    return None if view is None else _card(view, now or utcnow())


def cards_of(session: Session, numbers: Sequence[int], now: datetime | None = None) -> dict[int, Card]:
    """card_of() for several tickets, read in one statement, by number; a ticket that does not exist has none."""
    now = now or utcnow()
    return {number: _card(view, now) for number, view in tickets.card_views(session, numbers, list(ACT_VERBS)).items()}


def _card(view: tickets.CardView, now: datetime) -> Card:
    ticket = view.ticket
    assert ticket.id is not None
    status = Status(ticket.status)
    names = [view.resident_name] if view.resident_name else []
    urgency = "｜紧急" if ticket.urgent else ""
    due = f"，{fmt(ticket.resolve_due_at)} 前办结" if ticket.resolve_due_at and status in BUTTONS else ""
    if status == Status.SUSPENDED:
        due = "，等待居民补充（暂停计时）"
    colour = sla.colour(ticket, now)
    state = f"{sla.COLOUR_MARKS[colour]} " if status in BUTTONS else ""
    late = {sla.RED: "，已超时", sla.BADLY: "，严重超时"}.get(colour, "") if status in BUTTONS else ""
    fields = [
        ("地点", mask(ticket.location_text, names) or "未知"),
        ("网格", view.grid_name or "待派单"),
        ("内容", mask(ticket.text, names)[:200]),
    ]
    if ticket.reporter_count > 1:
        fields.append(("反映", f"{ticket.reporter_count}位居民反映"))
    return Card(
        number=ticket.id,
        title=f"工单 {ticket.id}｜{complaints.label(ticket)}{urgency}",
        description=f"{state}{STATUS_NAMES[status]}{due}{late}",
        fields=fields,
        buttons=[(f"{key}:{ticket.id}", label) for key, label in BUTTONS.get(status, [])],
        note=_note(view),
        photos=view.photos,
    )


# The acts a card's note names, newest first: "张伟 已接单 11月23日 10:42".
ACT_VERBS = {
    "accept": "已接单",
    "resolve": "已办结",
    "return": "已退回",
    "progress": "更新进展",
    "reopen": "不满意，要求重办",
}


def _note(view: tickets.CardView) -> str:
    if view.act is None or view.act_at is None:
        return ""
    who = view.actor_name or ("居民" if view.act == "reopen" else "系统")
    return f"{who} {ACT_VERBS[view.act]} {fmt(view.act_at)}"


def list_line(ticket: Ticket, now: datetime) -> str:
    """ "🟡 12 市政设施·路灯 处理中 紧急": one ticket in a list, coloured by its clock."""
    urgent = " 紧急" if ticket.urgent else ""
    status = STATUS_NAMES[Status(ticket.status)]
    return f"{sla.mark_for(ticket, now)} {ticket.id} {complaints.label(ticket)} {status}{urgent}"
