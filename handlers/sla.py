"""SLA clocks: when a ticket is due, how far its clocks have run, and which reminder comes next.

Two clocks per ticket. The accept clock runs from the latest assignment for `accept_seconds`. The resolve clock runs
from creation (or the latest reopen) for `sla_seconds` plus whatever time it spent paused. Normal tickets count
working time on the calendar (handlers/calendar.yaml); urgent ones count calendar time. A limit given in whole days
(24 h, 72 h, 168 h …) means that many working days; shorter ones mean working hours.

Stages, each sent once per clock run (`Ticket.alerts`), in the order they come due:
  accept  — remind at ½ of the accept time, escalate at the accept deadline (assigned / reopened tickets)
  resolve — warn at 80 %, overdue at 100 %, badly_late at 300 % of the resolve time (any open, unpaused ticket)
  rating  — rate_remind 3 days after 办结, auto_close at 7 days (calendar days)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import nlp
import policy
from handlers.workcal import WorkCalendar, default_calendar
from storage.models import Status, Ticket

ACCEPT_STAGES = (("remind", policy.REMIND_AT), ("escalate", policy.ESCALATE_AT))
RESOLVE_STAGES = (
    ("warn", policy.WARN_AT),
    ("overdue", policy.OVERDUE_AT),
    ("very_late", policy.VERY_LATE_AT),
    ("badly_late", policy.BADLY_LATE_AT),
)
RATING_STAGES = (("rate_remind", policy.RATE_REMIND_AFTER), ("auto_close", policy.AUTO_CLOSE_AFTER))
ACCEPTING = frozenset({Status.ASSIGNED, Status.REOPENED})
RUNNING = frozenset({Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.RETURNED, Status.REOPENED})
# Open and on a clock, running or paused (挂起).
LIVE = RUNNING | {Status.SUSPENDED}
DAY = 24 * 3600

_calendar: WorkCalendar | None = None


def use_calendar(calendar: WorkCalendar | None) -> None:
    """Set the process's working-time calendar (None: the bundled default)."""
    global _calendar
    _calendar = calendar
    _clock.cache_clear()


def calendar() -> WorkCalendar:
    return _calendar or default_calendar()


@dataclass(frozen=True)
class Clock:
    """Clock time: working time on the calendar, or plain calendar time."""

    working: bool
    cal: WorkCalendar

    def at(self, start: datetime, seconds: float) -> datetime:
        return _working_at(self.cal, start, seconds) if self.working else start + timedelta(seconds=seconds)

    def elapsed(self, start: datetime, end: datetime) -> float:
        if self.working:
            return self.cal.elapsed(start, end)
        return max(0.0, (end - start).total_seconds())

    def budget(self, hours: float) -> float:
        """Clock seconds of a limit: whole days are working days on a working clock."""
        if self.working and hours >= 24 and hours % 24 == 0:
            return hours / 24 * self.cal.day_seconds
        return hours * 3600

    def days(self, days: int) -> float:
        return days * (self.cal.day_seconds if self.working else DAY)


@lru_cache(maxsize=4096)
def _working_at(cal: WorkCalendar, start: datetime, seconds: float) -> datetime:
    """The calendar's walk, remembered: one change to a ticket asks for the same moments several times (every
    stage of both clocks, again after each move of a complaint's intake), and the walk is pure."""
    return cal.add(start, seconds)


@lru_cache(maxsize=2)
def _clock(working: bool) -> Clock:
    return Clock(working, calendar())


def clock_of(ticket: Ticket) -> Clock:
    return _clock(ticket.working_clock)


def start(ticket: Ticket, now: datetime) -> None:
    """Start the resolve clock of a new (or reopened) ticket from its category's limit."""
    ticket.working_clock = not ticket.urgent
    clock = clock_of(ticket)
    hours = nlp.sla_hours(ticket.category, ticket.urgent, ticket.keywords.split(","))
    ticket.clock_started_at = now
    ticket.sla_seconds = clock.budget(hours)
    ticket.accept_seconds = nlp.accept_minutes(ticket.urgent) * 60.0
    ticket.paused_seconds = 0.0
    refresh(ticket, now)


def pause(ticket: Ticket, now: datetime) -> None:
    if ticket.paused_at is None:
        ticket.paused_at = now
    refresh(ticket, now)


def resume(ticket: Ticket, now: datetime) -> None:
    """Restart a paused clock (the time paused is added to every limit); a clock that runs is left as it is."""
    if ticket.paused_at is not None:
        ticket.paused_seconds += clock_of(ticket).elapsed(ticket.paused_at, now)
        ticket.paused_at = None
        refresh(ticket, now)


def extend(ticket: Ticket, days: int, now: datetime) -> None:
    ticket.sla_seconds += clock_of(ticket).days(days)
    ticket.extensions += 1
    refresh(ticket, now)


def rebudget(ticket: Ticket, now: datetime) -> None:
    """The category changed (改类): the resolve limit becomes the new category's, counted from the same start.

    An extension already granted is kept as it is: the limit is not recomputed then.
    """
    if ticket.extensions == 0 and ticket.clock_started_at is not None:
        hours = nlp.sla_hours(ticket.category, ticket.urgent, ticket.keywords.split(","))
        ticket.sla_seconds = clock_of(ticket).budget(hours)
    refresh(ticket, now)


def resolve_at(ticket: Ticket, fraction: float) -> datetime | None:
    """When the resolve clock reaches this fraction of its limit (paused time added, while not paused)."""
    if ticket.clock_started_at is None or ticket.sla_seconds <= 0:
        return None
    return clock_of(ticket).at(ticket.clock_started_at, fraction * ticket.sla_seconds + ticket.paused_seconds)


def accept_at(ticket: Ticket, fraction: float) -> datetime | None:
    if ticket.assigned_at is None or ticket.accept_seconds <= 0:
        return None
    return clock_of(ticket).at(ticket.assigned_at, fraction * ticket.accept_seconds)


def thresholds(ticket: Ticket) -> list[tuple[str, datetime]]:
    """The stages that apply to the ticket as it stands, with when each comes due."""
    status = Status(ticket.status)
    found: list[tuple[str, datetime]] = []
    if ticket.paused_at is None and status in ACCEPTING:
        found += [(name, at) for name, f in ACCEPT_STAGES if (at := accept_at(ticket, f)) is not None]
    if ticket.paused_at is None and status in RUNNING:
        found += [(name, at) for name, f in RESOLVE_STAGES if (at := resolve_at(ticket, f)) is not None]
    if status == Status.RESOLVED and ticket.resolved_at is not None:
        found += [(name, ticket.resolved_at + after) for name, after in RATING_STAGES]
    return found


def sent(ticket: Ticket) -> set[str]:
    return {a for a in ticket.alerts.split(",") if a}


def refresh(ticket: Ticket, now: datetime) -> None:
    """Recompute the deadlines and the next sweep time after any change to the ticket or its clocks.

    A stage already sent whose moment now lies in the future again (an extension, a new assignment, a reopen) is
    forgotten, so it will be sent again when the new clock gets there.
    """
    if ticket.paused_at is None:
        ticket.accept_due_at = accept_at(ticket, 1.0) if ticket.assigned_at else ticket.accept_due_at
        ticket.resolve_due_at = resolve_at(ticket, 1.0) or ticket.resolve_due_at
    stages = thresholds(ticket)
    moments = dict(stages)
    done = {name for name in sent(ticket) if name not in moments or moments[name] <= now}
    ticket.alerts = ",".join(sorted(done))
    pending = [at for name, at in stages if name not in done]
    ticket.next_alert_at = min(pending) if pending else None


def due_stages(ticket: Ticket, now: datetime) -> list[str]:
    """Stages that have come due and were not sent yet, oldest first."""
    done = sent(ticket)
    return [name for name, at in sorted(thresholds(ticket), key=lambda s: s[1]) if at <= now and name not in done]


def mark(ticket: Ticket, names: list[str], now: datetime) -> None:
    ticket.alerts = ",".join(sorted(sent(ticket) | set(names)))
    refresh(ticket, now)


def consumed(ticket: Ticket, now: datetime) -> float:
    """Fraction of the resolve limit used so far (1.0 = due now)."""
    if ticket.clock_started_at is None or ticket.sla_seconds <= 0:
        return 0.0
    until = ticket.paused_at or now
    used = clock_of(ticket).elapsed(ticket.clock_started_at, until) - ticket.paused_seconds
    return max(0.0, used) / ticket.sla_seconds


GREEN, YELLOW, RED, BADLY = "绿", "黄", "红", "严重超时"
COLOUR_MARKS = {GREEN: "🟢", YELLOW: "🟡", RED: "🔴", BADLY: "🔴"}


def colour(ticket: Ticket, now: datetime) -> str:
    """绿 on time, 黄 near the limit (80 %) or not accepted in time, 红 late, 严重超时 at 3 times the limit."""
    if Status(ticket.status) not in LIVE:
        return GREEN
    used = consumed(ticket, now)
    if used >= policy.BADLY_LATE_AT:
        return BADLY
    if used >= policy.OVERDUE_AT:
        return RED
    late_accept = (
        ticket.accept_due_at is not None and Status(ticket.status) in ACCEPTING and now >= ticket.accept_due_at
    )
    return YELLOW if used >= policy.WARN_AT or late_accept else GREEN


def mark_for(ticket: Ticket, now: datetime) -> str:
    """The colour as one symbol for lists and card titles: 🟢 / 🟡 / 🔴."""
    return COLOUR_MARKS[colour(ticket, now)]


def late_by(ticket: Ticket, now: datetime) -> str:
    """ "3小时" / "25分钟" / "2天": how far past the resolve deadline, in calendar time."""
    if ticket.resolve_due_at is None or now <= ticket.resolve_due_at:
        return ""
    seconds = (now - ticket.resolve_due_at).total_seconds()
    if seconds >= 2 * DAY:
        return f"{seconds / DAY:.0f}天"
    if seconds >= 3600:
        return f"{seconds / 3600:.0f}小时"
    return f"{max(1, seconds // 60):.0f}分钟"
