"""The table of ticket moves: the workflow in one place.

For each move: the states it may start from, the state it leads to, the times it stamps, what it does to the clocks
and to the facts the numbers are made of (docs/metrics.md), the event it records and who hears of it. Commands call
do(); nobody sets a status by hand. docs/lifecycle.md shows this table (`flask --app app lifecycle-doc` writes it
there, and a test fails when the page and the code differ).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from handlers import notify, sla
from handlers.clock import fmt
from handlers.notify import To
from storage import departments, people, tickets
from storage.models import Department, Grid, Status, Ticket
from storage.tickets import STATUS_NAMES, IllegalMove

# What a move does to the ticket beyond its status: (ticket, now, the move's details); the docstring's first line
# is what docs/lifecycle.md says of it.
Effect = Callable[[Ticket, datetime, Mapping[str, object]], None]


def stop_waiting(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """不再等居民补充，暂停的时钟继续走"""
    if ticket.awaiting == "resident":
        ticket.awaiting = None
    sla.resume(ticket, now)


def first_accept(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """首次接单：记下首次接单时间、是否按时接单（响应率）"""
    if ticket.first_accepted_at is None:
        ticket.first_accepted_at = now
    if ticket.accept_on_time is None:
        ticket.accept_on_time = ticket.accept_due_at is None or now <= ticket.accept_due_at


def first_resolve(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """首次办结：记下首次办结时间、是否按期办结（按期办结率）"""
    if ticket.first_resolved_at is None:
        ticket.first_resolved_at = now
    if ticket.resolve_on_time is None:
        ticket.resolve_on_time = ticket.resolve_due_at is None or now <= ticket.resolve_due_at


def found_on_patrol(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """巡查发现：发现的网格员即接单人，没有谁在等接单，不计入响应率和平均响应时长"""
    ticket.accept_on_time = None
    ticket.first_accepted_at = None


def mark_reported(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """记下上报时间：指挥中心处理（流转、督办、派单）前，工单仍由本网格办理，时钟照走"""
    ticket.reported_up_at = now


def leave_department(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """部门退回时工单不再属于该部门，回到指挥中心待派"""
    ticket.department_id = None


def restart(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """重办次数加一；办结时限从头算，接单时限再走一遍"""
    ticket.reopen_count += 1
    ticket.awaiting = None
    sla.start(ticket, now)


def wait_for_resident(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """等居民补充：时钟暂停，居民的下一条消息转到群里并恢复"""
    ticket.awaiting = "resident"
    sla.pause(ticket, now)


def resume_clock(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """不再等居民或指挥中心，暂停的时钟继续走（暂停的时间加到每个时限上）"""
    ticket.awaiting = None
    sla.resume(ticket, now)


def forget_waiting(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """不再等任何人"""
    ticket.awaiting = None


def request_extension(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """记下延期申请（天数、原因、申请人），等指挥中心审批"""
    request = {"days": details["days"], "reason": details["reason"], "by": details["by"]}
    ticket.extension_request = json.dumps(request, ensure_ascii=False)


def lengthen(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """办结时限加上批准的天数（工作日；紧急工单按自然日），延期次数加一，申请了结"""
    ticket.extension_request = ""
    sla.extend(ticket, int(str(details["days"])), now)


def drop_request(ticket: Ticket, now: datetime, details: Mapping[str, object]) -> None:
    """申请了结，时限不变"""
    ticket.extension_request = ""


@dataclass(frozen=True)
class Tell:
    """One notification of a move: to whom, which event (handlers/notices.py says its text), which of the move's
    details it carries, and, when not always, only after a move from these states."""

    to: To
    event: str
    keys: tuple[str, ...] = ()
    only_from: frozenset[Status] = frozenset()


@dataclass(frozen=True)
class Move:
    word: str  # the command, as a refusal names it: 不能接单
    sources: frozenset[Status]
    target: Status | None = None  # None: the status stays (a step such as 进展 or 催办)
    stamps: tuple[str, ...] = ()
    effects: tuple[Effect, ...] = ()
    tells: tuple[Tell, ...] = ()
    event: str = ""  # the action recorded, when it is not the move's name
    to_grid: bool = False  # the move gives the ticket to a grid (and its first worker), taking it from a department
    to_department: bool = False  # the move gives the ticket to a department (and its first member); the grid stays


WORKING = frozenset({Status.ASSIGNED, Status.ACCEPTED, Status.REOPENED, Status.SUSPENDED})
QUEUED = frozenset({Status.NEW, Status.RETURNED})
S = Status

MOVES: dict[str, Move] = {
    "assign": Move(
        "派单",
        QUEUED,
        S.ASSIGNED,
        ("assigned_at",),
        (resume_clock,),
        (Tell(To.GROUP, "assigned", ("grid",)),),
        to_grid=True,
    ),
    "dispatch": Move(
        "派单",
        QUEUED,
        S.ASSIGNED,
        ("assigned_at",),
        (resume_clock,),
        (Tell(To.GROUP, "assigned", ("grid",)), Tell(To.RESIDENTS, "dispatched")),
        event="assign",
        to_grid=True,
    ),
    "transfer": Move(
        "转派",
        WORKING,
        S.ASSIGNED,
        ("assigned_at",),
        (resume_clock,),
        (
            Tell(To.GROUP, "assigned", ("grid",)),
            Tell(To.RESIDENTS, "dispatched"),
            Tell(To.OLD_GROUP, "transferred", ("to",)),
        ),
        to_grid=True,
    ),
    "accept": Move(
        "接单",
        frozenset({S.ASSIGNED, S.REOPENED}),
        S.ACCEPTED,
        ("accepted_at",),
        (first_accept,),
        (Tell(To.RESIDENTS, "accepted", ("worker", "department")),),
    ),
    # A grid worker's own find (巡查): theirs from the start, so no group card and nobody to tell.
    "patrol": Move("登记巡查", frozenset({S.NEW}), S.ACCEPTED, ("assigned_at", "accepted_at"), (found_on_patrol,)),
    "progress": Move("更新进展", WORKING, tells=(Tell(To.RESIDENTS, "progress", ("note",)),)),
    "suspend": Move(
        "挂起",
        frozenset({S.ACCEPTED}),
        S.SUSPENDED,
        effects=(wait_for_resident,),
        tells=(Tell(To.RESIDENTS, "suspended", ("note",)),),
    ),
    "resume": Move("恢复", frozenset({S.SUSPENDED}), S.ACCEPTED, effects=(resume_clock,)),
    "supplement": Move(
        "补充",
        frozenset({S.SUSPENDED}),
        S.ACCEPTED,
        effects=(resume_clock,),
        tells=(Tell(To.GROUP, "supplemented", ("note",)),),
        event="resume",
    ),
    "resolve": Move(
        "办结",
        frozenset({S.ACCEPTED, S.SUSPENDED}),
        S.RESOLVED,
        ("resolved_at",),
        (stop_waiting, first_resolve),
        (Tell(To.RESIDENTS, "resolved", ("note",)),),
    ),
    "return": Move(
        "退回",
        WORKING,
        S.RETURNED,
        effects=(stop_waiting, leave_department),
        tells=(Tell(To.CENTRE, "returned", ("reason", "worker")), Tell(To.RESIDENTS, "returned")),
    ),
    "reopen": Move(
        "重办",
        frozenset({S.RESOLVED, S.CLOSED}),
        S.REOPENED,
        ("assigned_at",),
        (restart,),
        (Tell(To.GROUP, "reopened", ("score",)), Tell(To.CENTRE, "reopened", ("score",))),
    ),
    "close": Move("评价", frozenset({S.RESOLVED}), S.CLOSED, ("closed_at",)),
    "cancel": Move(
        "撤销",
        frozenset({S.NEW, S.ASSIGNED, S.RETURNED}),
        S.CANCELLED,
        effects=(forget_waiting,),
        tells=(Tell(To.GROUP, "cancelled", only_from=frozenset({S.ASSIGNED})),),
    ),
    "urge": Move("催办", QUEUED | {S.ASSIGNED, S.ACCEPTED, S.REOPENED}, tells=(Tell(To.GROUP_OR_CENTRE, "urged"),)),
    "supervise": Move("督办", QUEUED | WORKING, tells=(Tell(To.GROUP, "supervised", ("reason",)),)),
    "report_up": Move(
        "上报", WORKING, effects=(mark_reported,), tells=(Tell(To.CENTRE, "reported_up", ("reason", "worker")),)
    ),
    # 吹哨报到: a department takes it; the resident's resolve clock keeps running (a hop is not a new start).
    "route": Move(
        "流转",
        QUEUED | WORKING,
        S.ASSIGNED,
        ("assigned_at",),
        (resume_clock,),
        (
            Tell(To.GROUP, "assigned", ("department",)),
            Tell(To.RESIDENTS, "routed", ("department",)),
            Tell(To.OLD_GROUP, "routed", ("department",)),
        ),
        to_department=True,
    ),
    "assist": Move(
        "协办",
        QUEUED | WORKING,
        tells=(Tell(To.HELPER, "assist", ("reason",)), Tell(To.GROUP, "assisted", ("helper",))),
    ),
    "extend_request": Move(
        "申请延期",
        WORKING,
        effects=(request_extension,),
        tells=(Tell(To.CENTRE, "extension_requested", ("days", "reason", "worker")),),
    ),
    "extend": Move(
        "延期",
        WORKING,
        effects=(lengthen,),
        tells=(Tell(To.GROUP, "extended", ("days", "due")), Tell(To.RESIDENTS, "extended", ("note", "due"))),
    ),
    "extend_refuse": Move(
        "驳回延期", WORKING, effects=(drop_request,), tells=(Tell(To.GROUP, "extension_refused", ("reason",)),)
    ),
}
# Why a move is refused, in words a resident or worker understands.
REFUSALS = {
    Status.CANCELLED: "该工单已撤销",
    Status.CLOSED: "该工单已评价结束",
    Status.RESOLVED: "该工单已办结",
}


def allows(ticket: Ticket, name: str) -> bool:
    return Status(ticket.status) in MOVES[name].sources


def refusal(ticket: Ticket, name: str) -> str:
    current = Status(ticket.status)
    reason = REFUSALS.get(current, f"工单当前状态为“{STATUS_NAMES[current]}”")
    return f"{reason}，不能{MOVES[name].word}"


def do(
    session: Session,
    ticket: Ticket,
    name: str,
    by: int | None,
    now: datetime,
    note: str = "",
    about: Mapping[str, object] | None = None,
    grid: Grid | None = None,
    department: Department | None = None,
) -> Mapping[str, object]:
    """Make one move, or raise IllegalMove (the reason to show) and change nothing; the move's details, with
    `assignee_name` when it gave the ticket to a grid's worker or a department's member.

    `note` is the event's note (and the notices' `note` unless `about` gives one); `about` holds the other details
    the move's effects and notices use (`due` is the resolve deadline after the move; `helper_chat` the group a
    协办 asks); `grid` is where a move to a grid sends the ticket, `department` where a 流转 does.
    """
    with session.no_autoflush:  # its lookups need nothing unwritten, and a new ticket is INSERTed once, finished
        return _do(session, ticket, name, by, now, note, about or {}, grid, department)


def _do(
    session: Session,
    ticket: Ticket,
    name: str,
    by: int | None,
    now: datetime,
    note: str,
    about: Mapping[str, object],
    grid: Grid | None,
    department: Department | None,
) -> Mapping[str, object]:
    move = MOVES[name]
    current = Status(ticket.status)
    if current not in move.sources:
        raise IllegalMove(refusal(ticket, name))
    old_chat = notify.group_chat(session, ticket) if any(t.to == To.OLD_GROUP for t in move.tells) else None
    worker: tuple[int, str] | None = None
    if move.to_grid:
        if grid is None or grid.id is None:
            raise IllegalMove("尚未确定网格，不能派单")
        worker = people.first_worker_of_grid(session, grid.id)
        ticket.grid_id, ticket.department_id, ticket.reported_up_at = grid.id, None, None
        ticket.assignee_id = worker[0] if worker else None
    if move.to_department:
        if department is None or department.id is None:
            raise IllegalMove("没有这个部门，不能流转")
        worker = departments.first_staff(session, department.id)
        ticket.department_id, ticket.reported_up_at = department.id, None
        ticket.assignee_id = worker[0] if worker else None
    if move.target is not None:
        ticket.status = move.target
        ticket.updated_at = now
    for stamp in move.stamps:
        setattr(ticket, stamp, now)
    details: dict[str, object] = {"note": note, **about}
    if move.to_grid or move.to_department:
        details["assignee_name"] = worker[1] if worker else ""
    for effect in move.effects:
        effect(ticket, now, details)
    sla.refresh(ticket, now)
    session.add(ticket)
    tickets.append_event(
        session, ticket, by, move.event or name, current if move.target else None, move.target, note, now
    )
    details["due"] = fmt(ticket.resolve_due_at)  # as the move left it
    for tell in move.tells:
        if tell.only_from and current not in tell.only_from:
            continue
        payload = {key: details[key] for key in tell.keys if key in details}
        _send(session, ticket, tell, payload, details, old_chat, grid if move.to_grid else None)
    return details


def _send(
    session: Session,
    ticket: Ticket,
    tell: Tell,
    payload: dict[str, object],
    details: Mapping[str, object],
    old_chat: str | None,
    new: Grid | None,
) -> None:
    if tell.to == To.RESIDENTS:
        notify.residents(session, ticket, tell.event, **payload)
    elif tell.to == To.GROUP and new is not None:
        notify.push(session, ticket, new.chat_id, tell.event, payload)  # the grid the move gave it to, in hand
    elif tell.to == To.GROUP:
        notify.group(session, ticket, tell.event, **payload)
    elif tell.to == To.CENTRE:
        notify.centre(session, ticket, tell.event, **payload)
    elif tell.to == To.GROUP_OR_CENTRE:
        notify.group_or_centre(session, ticket, tell.event, **payload)
    elif tell.to == To.OLD_GROUP:
        # A robot-only group has no chat id to address it by.
        if old_chat and old_chat != notify.group_chat(session, ticket):
            notify.push(session, ticket, old_chat, tell.event, payload, mention=False)
    elif tell.to == To.HELPER and (chat := str(details.get("helper_chat") or "")):
        notify.push(session, ticket, chat, tell.event, payload, mention=False)


# -- the page ----------------------------------------------------------------------------------------------------

BEGIN = "<!-- moves: written by `flask --app app lifecycle-doc` from handlers/moves.py; do not edit by hand -->"
END = "<!-- moves: end -->"


def table() -> str:
    """The table of moves as markdown, for docs/lifecycle.md."""
    rows = [
        "| move | command | from | to | stamps | clocks and numbers | who hears (event) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, move in MOVES.items():
        sources = "、".join(STATUS_NAMES[s] for s in Status if s in move.sources)
        target = STATUS_NAMES[move.target] if move.target else "（不变）"
        stamps = ", ".join(f"`{s}`" for s in move.stamps) or "—"
        effects = "；".join(_first_line(e) for e in move.effects) or "—"
        tells = "<br>".join(_tell(t) for t in move.tells) or "—"
        recorded = f"`{name}`" if not move.event else f"`{name}` (event `{move.event}`)"
        rows.append(f"| {recorded} | {move.word} | {sources} | {target} | {stamps} | {effects} | {tells} |")
    return "\n".join(rows)


def _first_line(effect: Effect) -> str:
    return (effect.__doc__ or effect.__name__).strip().splitlines()[0]


def _tell(tell: Tell) -> str:
    keys = f"({', '.join(tell.keys)})" if tell.keys else ""
    when = f"，仅从{'、'.join(STATUS_NAMES[s] for s in tell.only_from)}" if tell.only_from else ""
    return f"{tell.to.value} `{tell.event}`{keys}{when}"


def page(current: str) -> str:
    """docs/lifecycle.md with the table between its markers replaced by the table of the code."""
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"
