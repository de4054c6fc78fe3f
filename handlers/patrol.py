"""巡查上报: what a grid worker finds on patrol becomes a ticket of their own grid, theirs from the start.

Not a resident's complaint: nobody is told (there is no resident), no card goes to the group (the finder holds it),
and it is never linked with residents' tickets; the same words from the same worker on the same day are the same
find. Nobody can rate it, so it closes as soon as it is resolved.
"""

from __future__ import annotations

import nlp
from handlers import complaints, moves, sla
from handlers.clock import fmt, period
from handlers.commands import Context, Registry
from handlers.types import Message, Reply
from storage import tickets
from storage.models import Grid, Role, Status, Ticket, TicketSource
from storage.tickets import STATUS_NAMES

commands = Registry()
# "巡查 <描述> 已处理": found and fixed on the spot. Longest first, so 现场已处理 is not read as 已处理.
FIXED_WORDS = ("现场已处理", "现场已解决", "现场已整改", "现场处理", "已处理", "已解决", "已整改")
# "…无法现场处理", "…需现场处理" say the opposite.
NOT_DONE = ("未", "没", "没有", "无法", "不能", "没法", "不便", "待", "需", "要", "应", "请")
CLOSE_NOTE = "巡查工单没有居民评价，办结即结案"
USAGE = "请写上巡查发现的问题，如：巡查 3栋门口垃圾堆放未清运。现场已处理的，在末尾加“已处理”。"
NO_GRID = "您还没有分配网格，不能登记巡查工单。请联系社区指挥中心。"
LONGEST = 500


@commands.command("巡查", roles={Role.GRID_WORKER})
def report(msg: Message, args: list[str], ctx: Context) -> Reply:
    """巡查 <发现的问题> [已处理]：登记巡查发现的问题，由您接单；末尾写“已处理”即现场办结"""
    grid = ctx.session.get(Grid, ctx.person.grid_id) if ctx.person.grid_id is not None else None
    if grid is None or grid.id is None:
        return Reply(NO_GRID)
    text, fixed = fixed_on_the_spot(ctx.rest)
    if not text:
        return Reply(USAGE)
    assert ctx.person.id is not None
    today, _, _ = period("今日", ctx.now)  # "the same day" as the worker counts it: China time
    if (same := tickets.patrol_repeat(ctx.session, ctx.person.id, text, today)) is not None:
        return Reply(already(same))
    ticket = open_patrol(text, grid, msg, ctx)
    moves.do(ctx.session, ticket, "patrol", ctx.person.id, ctx.now, grid.code)
    if fixed:
        moves.do(ctx.session, ticket, "resolve", ctx.person.id, ctx.now, fixed)
        conclude(ctx, ticket)
    n = complaints.number(ticket, ctx)
    head = f"已登记巡查工单 {n}（{complaints.label(ticket)}）"
    if fixed:
        return Reply(f"{head}，{fixed}，已办结归档。可接着发一张处理后的照片。")
    due = fmt(ticket.resolve_due_at)
    return Reply(
        f"{complaints.warn(ticket)}{head}，已由您接单，{due} 前办结。可接着发现场照片；处理完回复“办结 {n} 处理说明”。"
    )


def fixed_on_the_spot(rest: str) -> tuple[str, str]:
    """The find and, when it ends in 已处理 (已解决, 已整改, 现场处理), the note that it was fixed on the spot."""
    text = rest.strip().rstrip("。.!！ ")
    word = next((w for w in FIXED_WORDS if text.endswith(w)), "")
    head = text.removesuffix(word).rstrip(" ，,。;；")
    if not word or head.endswith(NOT_DONE):
        return text[:LONGEST], ""
    return head[:LONGEST], word if word.startswith("现场") else f"现场{word}"


def already(ticket: Ticket) -> str:
    """The same find reported again today: which ticket it is, and what is left to do."""
    status = Status(ticket.status)
    if status in (Status.RESOLVED, Status.CLOSED):
        return f"今天已登记过这条巡查：工单 {ticket.id}，已办结。回复“待办”查看本网格的工单。"
    return f"今天已登记过这条巡查：工单 {ticket.id}（{STATUS_NAMES[status]}）。处理完回复“办结 {ticket.id} 处理说明”。"


def open_patrol(text: str, grid: Grid, msg: Message, ctx: Context) -> Ticket:
    """A new ticket of the worker's grid, found by them, with its resolve clock started as a complaint's is."""
    intent = nlp.classify(text)
    place = nlp.extract_place(text)
    ticket = tickets.new_ticket(
        category=intent.category,
        urgent=intent.urgent,
        text=text,
        location_text=place.text[:250] if place else "",
        grid_id=grid.id,
        assignee_id=ctx.person.id,
        source=TicketSource.PATROL,
        found_by_id=ctx.person.id,
        channel=msg.channel,
        source_msg_id=msg.dedupe_key,
        keywords=",".join(intent.keywords)[:250],
        confidence=intent.confidence,
        runner_up=intent.runner_up,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    tickets.open_ticket(ctx.session, ticket, ctx.person.id, "巡查发现")
    sla.start(ticket, ctx.now)
    return ticket


def conclude(ctx: Context, ticket: Ticket) -> bool:
    """Close a resolved patrol ticket at once: there is no resident to rate it, so nothing is left to wait for."""
    if ticket.source != TicketSource.PATROL or ticket.status != Status.RESOLVED:
        return False
    moves.do(ctx.session, ticket, "close", ctx.person.id, ctx.now, CLOSE_NOTE)
    return True
