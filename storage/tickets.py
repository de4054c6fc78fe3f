"""Tickets: opening, the one state machine, and the queries about them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import OPEN_STATUSES, Status, Ticket, TicketEvent, utcnow

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[Status], Status]] = {
    "assign": (frozenset({Status.NEW, Status.RETURNED}), Status.ASSIGNED),
    "accept": (frozenset({Status.ASSIGNED, Status.REOPENED}), Status.ACCEPTED),
    "resolve": (frozenset({Status.ACCEPTED}), Status.RESOLVED),
    "return": (frozenset({Status.ASSIGNED, Status.ACCEPTED, Status.REOPENED}), Status.RETURNED),
    "close": (frozenset({Status.RESOLVED}), Status.CLOSED),
    "reopen": (frozenset({Status.RESOLVED, Status.CLOSED}), Status.REOPENED),
    "cancel": (frozenset({Status.NEW, Status.ASSIGNED, Status.RETURNED}), Status.CANCELLED),
}

STATUS_NAMES = {
    Status.NEW: "待派单",
    Status.ASSIGNED: "已派单",
    Status.ACCEPTED: "处理中",
    Status.RESOLVED: "已办结",
    Status.CLOSED: "已评价",
    Status.RETURNED: "已退回",
    Status.REOPENED: "重办中",
    Status.CANCELLED: "已撤销",
}

# Why a move is refused, in words a resident or worker understands.
REFUSALS = {
    Status.CANCELLED: "该工单已撤销",
    Status.CLOSED: "该工单已评价结束",
    Status.RESOLVED: "该工单已办结",
}


class IllegalMove(Exception):
    """A status change the state machine refuses; str(exc) is the reason to show."""


def open_ticket(session: Session, ticket: Ticket, actor_id: int | None, note: str = "") -> Ticket:
    """Store a new ticket and its first event."""
    ticket.status = Status.NEW
    session.add(ticket)
    session.flush()
    _append(session, ticket, actor_id, "open", None, Status.NEW, note)
    return ticket


def transition(
    session: Session,
    ticket: Ticket,
    action: str,
    actor_id: int | None,
    note: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Apply one move of the state machine, or raise IllegalMove and change nothing."""
    if action not in TRANSITIONS:
        raise IllegalMove(f"未知操作：{action}")
    sources, target = TRANSITIONS[action]
    current = Status(ticket.status)
    if current not in sources:
        reason = REFUSALS.get(current, f"工单当前状态为“{STATUS_NAMES[current]}”")
        raise IllegalMove(f"{reason}，不能{ACTION_NAMES.get(action, action)}")
    if action == "assign" and ticket.grid_id is None:
        raise IllegalMove("尚未确定网格，不能派单")
    now = now or utcnow()
    ticket.status = target
    ticket.updated_at = now
    stamp = {
        "assign": "assigned_at",
        "accept": "accepted_at",
        "resolve": "resolved_at",
        "close": "closed_at",
    }.get(action)
    if stamp:
        setattr(ticket, stamp, now)
    session.add(ticket)
    _append(session, ticket, actor_id, action, current, target, note, now)
    return ticket


ACTION_NAMES = {
    "assign": "派单",
    "accept": "接单",
    "resolve": "办结",
    "return": "退回",
    "close": "评价",
    "reopen": "重办",
    "cancel": "撤销",
}


def record(session: Session, ticket: Ticket, actor_id: int | None, action: str, note: str = "") -> TicketEvent:
    """Append an event that changes no status (催办, 补充位置, 图片, 评价内容)."""
    return _append(session, ticket, actor_id, action, None, None, note)


def _append(
    session: Session,
    ticket: Ticket,
    actor_id: int | None,
    action: str,
    from_status: Status | None,
    to_status: Status | None,
    note: str,
    now: datetime | None = None,
) -> TicketEvent:
    assert ticket.id is not None
    event = TicketEvent(
        ticket_id=ticket.id,
        actor_id=actor_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        created_at=now or utcnow(),
    )
    session.add(event)
    return event


def get(session: Session, ticket_id: int) -> Ticket | None:
    return session.get(Ticket, ticket_id)


def events(session: Session, ticket_id: int) -> Sequence[TicketEvent]:
    return session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id))
    ).all()


def events_by_actor(session: Session, actor_id: int, since: datetime) -> Sequence[TicketEvent]:
    query = (
        select(TicketEvent)
        .where(TicketEvent.actor_id == actor_id, TicketEvent.created_at >= since)
        .order_by(col(TicketEvent.id))
    )
    return session.exec(query).all()


def of_resident(session: Session, resident_id: int, limit: int = 5) -> Sequence[Ticket]:
    query = (
        select(Ticket)
        .where(Ticket.resident_id == resident_id)
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(limit)
    )
    return session.exec(query).all()


def awaiting_location(session: Session, resident_id: int) -> Ticket | None:
    query = (
        select(Ticket)
        .where(Ticket.resident_id == resident_id, Ticket.awaiting == "location", Ticket.status == Status.NEW)
        .order_by(col(Ticket.id).desc())
    )
    return session.exec(query).first()


def latest_open_of_resident(session: Session, resident_id: int, since: datetime) -> Ticket | None:
    query = (
        select(Ticket)
        .where(
            Ticket.resident_id == resident_id,
            col(Ticket.status).in_(list(OPEN_STATUSES)),
            Ticket.created_at >= since,
        )
        .order_by(col(Ticket.id).desc())
    )
    return session.exec(query).first()


def overdue(session: Session, now: datetime, grid_id: int | None = None, limit: int = 20) -> Sequence[Ticket]:
    query = select(Ticket).where(
        col(Ticket.status).in_(list(OPEN_STATUSES)),
        col(Ticket.resolve_due_at).is_not(None),
        col(Ticket.resolve_due_at) < now,
    )
    if grid_id is not None:
        query = query.where(Ticket.grid_id == grid_id)
    return session.exec(query.order_by(col(Ticket.resolve_due_at)).limit(limit)).all()


def open_in_grid(session: Session, grid_id: int, limit: int = 20) -> Sequence[Ticket]:
    query = (
        select(Ticket)
        .where(Ticket.grid_id == grid_id, col(Ticket.status).in_(list(OPEN_STATUSES)))
        .order_by(col(Ticket.urgent).desc(), col(Ticket.id))
        .limit(limit)
    )
    return session.exec(query).all()


def stats(session: Session, since: datetime, until: datetime, now: datetime, grid_id: int | None = None) -> dict:
    """Counts of tickets opened in [since, until) by status, overdue among them, and their average rating."""
    where = [Ticket.created_at >= since, Ticket.created_at < until]
    if grid_id is not None:
        where.append(Ticket.grid_id == grid_id)
    by_status = dict(session.exec(select(Ticket.status, func.count()).where(*where).group_by(Ticket.status)).all())
    overdue_count = session.exec(
        select(func.count()).where(
            *where,
            col(Ticket.status).in_(list(OPEN_STATUSES)),
            col(Ticket.resolve_due_at).is_not(None),
            col(Ticket.resolve_due_at) < now,
        )
    ).one()
    rating = session.exec(select(func.avg(Ticket.rating), func.count(col(Ticket.rating))).where(*where)).one()
    return {
        "by_status": {str(k): int(v) for k, v in by_status.items()},
        "overdue": int(overdue_count),
        "avg_rating": float(rating[0]) if rating[0] is not None else None,
        "rated": int(rating[1]),
    }


def due(start: datetime, hours: float) -> datetime:
    return start + timedelta(hours=hours)
