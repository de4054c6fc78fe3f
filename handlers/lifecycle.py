"""The sweep: reminders, escalation and the 7-day auto-close, as the clocks (handlers/sla.py) come due.

sweep() is idempotent: each stage is sent once per clock run. Its moves go through handlers/moves.py like
everyone else's.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

import policy
from handlers import moves, notify, sla
from storage import tickets
from storage.models import OrgLevel, Ticket

log = logging.getLogger(__name__)
# The late stages of the resolve clock: whose centre hears (the nearest with a chat at or above that level), and
# the 督办 note recorded.
LATE_STAGES = {
    "overdue": (OrgLevel.COMMUNITY, "已超时"),
    "very_late": (OrgLevel.STREET, f"超时{policy.VERY_LATE_AT:g}倍，报街道"),
    "badly_late": (OrgLevel.DISTRICT, "严重超时，报区"),
}
AUTO_CLOSE_NOTE = f"{policy.AUTO_CLOSE_AFTER.days}天未评价，自动结案"
# Phases whose stages supersede each other: when a sweep finds several due at once, only the latest is announced.
PHASES = {
    "remind": "accept",
    "escalate": "accept",
    "warn": "resolve",
    "overdue": "resolve",
    "very_late": "resolve",
    "badly_late": "resolve",
    "rate_remind": "rating",
    "auto_close": "rating",
}


def sweep(session: Session, now: datetime) -> int:
    """Send every reminder that has come due and close unrated tickets at 7 days; how many tickets were due.

    The notifications are in the session's outbox (storage.outbox.queued) for whoever commits it.
    """
    due = tickets.alerts_due(session, now)
    for ticket in due:
        _fire(session, ticket, sla.due_stages(ticket, now), now)
    return len(due)


def _fire(session: Session, ticket: Ticket, stages: list[str], now: datetime) -> None:
    """Record the facts of every due stage; announce the latest of each phase (one message, not a burst)."""
    if not stages:
        sla.refresh(ticket, now)  # nothing due after all (a clock moved): look again when it is
        session.add(ticket)
        return
    latest = {PHASES[s]: s for s in stages}
    for stage in stages:
        _stage(session, ticket, stage, latest[PHASES[stage]] == stage, now)
    if "auto_close" not in stages:
        sla.mark(ticket, stages, now)
    session.add(ticket)


def _stage(session: Session, ticket: Ticket, stage: str, announce: bool, now: datetime) -> None:
    late = sla.late_by(ticket, now)
    if stage == "escalate" and ticket.accept_on_time is None:
        ticket.accept_on_time = False
    if stage in LATE_STAGES:
        if ticket.resolve_on_time is None:
            ticket.resolve_on_time = False
        tickets.record(session, ticket, None, "supervise", f"系统督办：{LATE_STAGES[stage][1]}", now)
    if stage == "auto_close":
        moves.do(session, ticket, "close", None, now, AUTO_CLOSE_NOTE)
        sla.mark(ticket, ["rate_remind", "auto_close"], now)
        return
    if not announce:
        return
    if stage in ("remind", "warn"):
        notify.group(session, ticket, stage)
    elif stage == "escalate":
        tickets.record(session, ticket, None, "escalate", "超过接单时限未接单", now)
        notify.centre(session, ticket, "escalated")
        notify.group(session, ticket, "escalated")
    elif stage in LATE_STAGES:
        # Each stage is its own centre's: the community at the limit, the street at twice, the district at three times.
        notify.centre_at(session, ticket, stage, LATE_STAGES[stage][0], {"late": late})
        notify.group(session, ticket, stage, late=late)
    elif stage == "rate_remind":
        notify.residents(session, ticket, "rate_remind")
    else:
        log.warning("unknown stage %s for ticket %s", stage, ticket.id)
