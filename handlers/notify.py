"""The one way to queue a notification: to a ticket's residents, its grid's group, or the command centre.

Rows go into the outbox in the caller's transaction; the session remembers them (storage.outbox.queued) and whoever
commits hands them to the workers. What each event says is handlers/notices.py.
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import Session

from storage import org, outbox, subscriptions, tickets
from storage.models import Department, Grid, OrgLevel, OrgUnit, OutboxKind, Person, Status, Ticket

CENTRE = "supervisors"  # the recipient of a centre notice: the bot delivers it to the centre's group
# The recipient of a resident notice sent as the mini-program's subscribe message: "mp:" and the mini-program openid
# (bot/officialaccount.py spends a credit for it, or falls back to the Official Account).
MINI_PROGRAM = "mp:"


class To(StrEnum):
    """Who hears of a move, as the table of moves (handlers/moves.py) names them."""

    RESIDENTS = "居民"
    GROUP = "网格群"
    OLD_GROUP = "原网格群"
    CENTRE = "指挥中心"
    HELPER = "协办的网格或部门群"
    GROUP_OR_CENTRE = "网格群（未派到网格时指挥中心）"


# Group pushes shown as the ticket's card with its buttons (handlers/notices.py has their headlines); the card is
# the ticket's own message, not a reminder to one person, so it @-mentions nobody.
CARD_EVENTS = frozenset({"assigned", "reopened", "urged", "cancelled"})
# Notices only the first reporter gets: the rating is theirs to give (linked reporters' ratings are kept apart).
FIRST_REPORTER_ONLY = frozenset({"rate_remind"})


def residents_of(session: Session, ticket: Ticket) -> list[Person]:
    """Everyone who reported the problem: the first reporter, then residents linked as duplicates."""
    ids = [ticket.resident_id] if ticket.resident_id else []
    if ticket.id is not None:  # a ticket not yet written has no linked reporters
        ids += [r.person_id for r in tickets.reporters(session, ticket.id)]
    found = (session.get(Person, i) for i in dict.fromkeys(ids))
    return [p for p in found if p is not None]


def residents(session: Session, ticket: Ticket, event: str, **payload: object) -> int:
    """A notice to every reporter who can receive one; how many were queued.

    A linked reporter is a stranger to the first: their notice is marked so it renders as a fixed status line,
    never the worker's free text, which may name the first reporter, her phone or her flat.
    """
    queued = 0
    for person in residents_of(session, ticket):
        first = person.id == ticket.resident_id
        recipient = notice_recipient(session, person)
        if recipient is None or (event in FIRST_REPORTER_ONLY and not first):
            continue
        about = payload if first else {**payload, "linked": True}
        outbox.add(session, OutboxKind.RESIDENT_NOTICE, event, recipient, ticket, about)
        queued += 1
    return queued


def notice_recipient(session: Session, person: Person) -> str | None:
    """Where a resident's notice goes: the mini-program's subscribe message while they have a credit for one, else the
    Official Account while they follow it; None when neither can reach them.

    Unfollowing the Official Account (`subscribed`) stops its notices only: a subscribe message is one the resident
    asked for in the mini-program. A resident the Official Account cannot reach is written to in the mini-program
    as long as they ever accepted our template: once the credits are spent the row fails, saying so, where /ops shows
    it (one who never accepted gets no rows at all).
    """
    official = person.openid if person.openid and person.subscribed else None
    if person.mp_openid:
        if subscriptions.total(session, person.mp_openid) > 0:
            return MINI_PROGRAM + person.mp_openid
        if official is None and subscriptions.has_credit_row(session, person.mp_openid):
            return MINI_PROGRAM + person.mp_openid
    return official


def group(session: Session, ticket: Ticket, event: str, **payload: object) -> bool:
    """A push to the group handling the ticket, @-mentioning the assigned worker; False when it has none.

    A grid whose group has no chat id we know (a robot-only group) gets an empty recipient: the webhook channel
    finds the ticket's grid's robot; the AI bot fails the row, where /ops shows it.
    """
    chat = group_chat(session, ticket)
    if chat is None:
        return False
    push(session, ticket, chat, event, payload)
    return True


def group_chat(session: Session, ticket: Ticket) -> str | None:
    """The group handling the ticket: its department's after a 流转, else its grid's; None when neither has it."""
    if ticket.department_id is not None and (department := session.get(Department, ticket.department_id)):
        return department.chat_id
    grid = session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    return grid.chat_id if grid is not None else None


def push(
    session: Session, ticket: Ticket, chat: str, event: str, payload: dict[str, object], mention: bool = True
) -> None:
    """A push about the ticket to a group: the one handling it (@-mentioning its worker, but on a card), or one that
    had it before or helps with it (mention=False: the assignee is not theirs)."""
    mention = mention and event not in CARD_EVENTS
    worker = session.get(Person, ticket.assignee_id) if mention and ticket.assignee_id else None
    if worker is not None:
        payload = {"mention": worker.wecom_userid or "", "worker": worker.name, **payload}
    outbox.add(session, OutboxKind.GROUP_PUSH, event, chat, ticket, payload)


def centre(session: Session, ticket: Ticket | None, event: str, **payload: object) -> None:
    """A notice to the command centre the ticket belongs to: its community's (centre_at has the others)."""
    centre_at(session, ticket, event, None, payload)


def centre_at(
    session: Session, ticket: Ticket | None, event: str, up_to: OrgLevel | None, payload: dict[str, object]
) -> None:
    """A notice to the centre of the nearest unit above the ticket's grid that has a chat, at or above `up_to`
    (None: the community, the lowest). Without one (no tree, no grid yet, no unit with a chat) it goes to the
    configured centre's group."""
    outbox.add(session, OutboxKind.SUPERVISOR_NOTICE, event, centre_chat(session, ticket, up_to), ticket, payload)


def unit_centre(session: Session, unit: OrgUnit, event: str, **payload: object) -> None:
    """A notice to one unit's centre, about no ticket (its 日报)."""
    outbox.add(session, OutboxKind.SUPERVISOR_NOTICE, event, unit.chat_id or CENTRE, None, payload)


def centre_chat(session: Session, ticket: Ticket | None, up_to: OrgLevel | None = None) -> str:
    """The chat a centre notice about the ticket goes to; CENTRE for the configured centre's group."""
    grid = session.get(Grid, ticket.grid_id) if ticket is not None and ticket.grid_id else None
    if grid is None or not grid.org_path:
        return CENTRE
    units = org.units_on_path(session, grid.org_path)  # top down: district, street, community
    if up_to is not None:
        levels = [u.level for u in units]
        units = units[: levels.index(up_to) + 1] if up_to in levels else units
    return next((u.chat_id for u in reversed(units) if u.chat_id), CENTRE)


def group_or_centre(session: Session, ticket: Ticket, event: str, **payload: object) -> None:
    """The grid's group once the ticket is with a grid; the centre while it waits in the centre's queue."""
    if not (ticket.status != Status.NEW and group(session, ticket, event, **payload)):
        centre(session, ticket, event, **payload)
