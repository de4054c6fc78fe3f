"""A ticket's life after intake: every move goes through apply(); the sweep sends reminders, escalates and closes.

apply() wraps the state machine with what a move means for the clocks and for the numbers (docs/metrics.md), so
no handler can change a status and forget the deadline. sweep() is idempotent: each stage is sent once per clock run
(handlers/sla.py).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from handlers import sla
from storage import outbox, tickets
from storage.models import Grid, Person, Ticket

log = logging.getLogger(__name__)
AUTO_CLOSE_NOTE = "7天未评价，自动结案"
# Phases whose stages supersede each other: when a sweep finds several due at once, only the latest is announced.
PHASES = {
    "remind": "accept",
    "escalate": "accept",
    "warn": "resolve",
    "overdue": "resolve",
    "badly_late": "resolve",
    "rate_remind": "rating",
    "auto_close": "rating",
}


def apply(session: Session, ticket: Ticket, action: str, actor_id: int | None, note: str, now: datetime) -> None:
    """One move of the state machine with its clock and metric effects; raises IllegalMove and changes nothing."""
    tickets.transition(session, ticket, action, actor_id, note, now)  # refuses before anything is touched
    if action in ("resolve", "return", "transfer"):
        ticket.awaiting = None if ticket.awaiting == "resident" else ticket.awaiting
        if ticket.paused_at is not None:
            sla.resume(ticket, now)
    if action == "accept":
        if ticket.first_accepted_at is None:
            ticket.first_accepted_at = now
        if ticket.accept_on_time is None:
            ticket.accept_on_time = ticket.accept_due_at is None or now <= ticket.accept_due_at
    elif action == "resolve":
        if ticket.first_resolved_at is None:
            ticket.first_resolved_at = now
        if ticket.resolve_on_time is None:
            ticket.resolve_on_time = ticket.resolve_due_at is None or now <= ticket.resolve_due_at
    elif action == "reopen":
        ticket.reopen_count += 1
        ticket.awaiting = None
        sla.start(ticket, now)  # handled again: a fresh resolve limit, and the accept clock runs again
    elif action == "suspend":
        sla.pause(ticket, now)
    elif action == "resume":
        ticket.awaiting = None
        sla.resume(ticket, now)
    sla.refresh(ticket, now)
    session.add(ticket)


def residents_of(session: Session, ticket: Ticket) -> list[Person]:
    """Everyone who reported the problem: the first reporter, then residents linked as duplicates."""
    ids = [ticket.resident_id] if ticket.resident_id else []
    ids += [r.person_id for r in tickets.reporters(session, ticket.id or 0)]
    found = (session.get(Person, i) for i in dict.fromkeys(ids))
    return [p for p in found if p is not None]


# Notices only the first reporter gets: the rating is theirs to give (linked reporters' ratings are kept apart).
FIRST_REPORTER_ONLY = frozenset({"rate_remind"})


def tell_residents(session: Session, ticket: Ticket, event: str, **payload: object) -> list[int]:
    """A resident notice to every reporter who can receive one; the outbox ids.

    A linked reporter is a stranger to the first: their notice is marked so it renders as a fixed status line,
    never the worker's free text, which may name the first reporter, her phone or her flat.
    """
    ids = []
    for person in residents_of(session, ticket):
        first = person.id == ticket.resident_id
        if not person.openid or not person.subscribed or (event in FIRST_REPORTER_ONLY and not first):
            continue
        about = payload if first else {**payload, "linked": True}
        ids.append(_add(session, "resident_notice", event, person.openid, ticket.id, about))
    return ids


def tell_group(session: Session, ticket: Ticket, event: str, **payload: object) -> list[int]:
    """A push to the ticket's grid group, @-mentioning the assigned worker."""
    grid = session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    if grid is None or not grid.chat_id:
        return []
    worker = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    if worker is not None:
        payload = {"mention": worker.wecom_userid or "", "worker": worker.name, **payload}
    return [_add(session, "group_push", event, grid.chat_id, ticket.id, payload)]


def tell_supervisors(session: Session, ticket: Ticket | None, event: str, **payload: object) -> list[int]:
    return [_add(session, "supervisor_notice", event, "supervisors", ticket.id if ticket else None, payload)]


def _add(session: Session, kind: str, event: str, recipient: str, ticket_id: int | None, payload: dict) -> int:
    row = outbox.add(session, kind, event, recipient, ticket_id, payload)
    assert row.id is not None
    return row.id


def sweep(session: Session, now: datetime) -> list[int]:
    """Send every reminder that has come due and close unrated tickets at 7 days.

    Returns the outbox ids to enqueue after the caller commits.
    """
    ids: list[int] = []
    for ticket in tickets.alerts_due(session, now):
        ids += _fire(session, ticket, sla.due_stages(ticket, now), now)
    return ids


def _fire(session: Session, ticket: Ticket, stages: list[str], now: datetime) -> list[int]:
    """Record the facts of every due stage; announce the latest of each phase (one message, not a burst)."""
    if not stages:
        sla.refresh(ticket, now)  # nothing due after all (a clock moved): look again when it is
        session.add(ticket)
        return []
    latest = {PHASES[s]: s for s in stages}
    ids: list[int] = []
    for stage in stages:
        announce = latest[PHASES[stage]] == stage
        ids += _stage(session, ticket, stage, announce, now)
    if "auto_close" not in stages:
        sla.mark(ticket, stages, now)
    session.add(ticket)
    return ids


def _stage(session: Session, ticket: Ticket, stage: str, announce: bool, now: datetime) -> list[int]:
    late = sla.late_by(ticket, now)
    if stage == "escalate" and ticket.accept_on_time is None:
        ticket.accept_on_time = False
    if stage in ("overdue", "badly_late"):
        if ticket.resolve_on_time is None:
            ticket.resolve_on_time = False
        tickets.record(
            session, ticket, None, "supervise", f"系统督办：{'严重超时' if stage == 'badly_late' else '已超时'}", now
        )
    if stage == "auto_close":
        apply(session, ticket, "close", None, AUTO_CLOSE_NOTE, now)
        sla.mark(ticket, ["rate_remind", "auto_close"], now)
        return []
    if not announce:
        return []
    if stage == "remind":
        return tell_group(session, ticket, "remind")
    if stage == "escalate":
        tickets.record(session, ticket, None, "escalate", "超过接单时限未接单", now)
        return tell_supervisors(session, ticket, "escalated") + tell_group(session, ticket, "escalated")
    if stage == "warn":
        return tell_group(session, ticket, "warn")
    if stage in ("overdue", "badly_late"):
        return tell_supervisors(session, ticket, stage, late=late) + tell_group(session, ticket, stage, late=late)
    if stage == "rate_remind":
        return tell_residents(session, ticket, "rate_remind")
    log.warning("unknown stage %s for ticket %s", stage, ticket.id)
    return []
