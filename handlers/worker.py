"""What a grid worker does in the group: accept, report progress, resolve, return, list open work.

The dispatcher has already checked the role and that the ticket is in the worker's own grid (ctx.ticket).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import policy
from handlers import cards, complaints, extensions, moves, patrol, scope
from handlers.clock import fmt
from handlers.commands import Context, Registry, ticket_of
from handlers.types import Message, Reply
from storage import departments, grids, tickets
from storage.models import Department, Grid, Role, Status, Ticket, TicketSource
from storage.tickets import STATUS_NAMES, IllegalMove

commands = Registry()
# Department staff work their department's tickets with the grid workers' commands (scope.may_act_on).
WORKERS = {Role.GRID_WORKER, Role.SUPERVISOR, Role.DEPARTMENT}
# A photo a worker sends this soon after 办结 is the after-photo of that ticket.
# Extensions a worker may ask for per ticket (the rules allow one); the centre can always extend directly.


def move(ctx: Context, action: str, note: str = "", **about: object) -> Reply | None:
    """Make the move (handlers/moves.py), or return the refusal to show."""
    try:
        moves.do(ctx.session, ticket_of(ctx), action, ctx.person.id, ctx.now, note, about)
    except IllegalMove as refused:
        return Reply(f"{refused}。回复“待办”查看本网格的工单。")
    return None


@commands.command("接单", "签收", roles=WORKERS, acts_on_ticket=True)
def accept(msg: Message, args: list[str], ctx: Context) -> Reply:
    """接单 <工单号>：认领本网格的工单"""
    ticket = ticket_of(ctx)
    department = ctx.session.get(Department, ctx.person.department_id) if ctx.person.department_id else None
    about = {"department": department.name} if department is not None and ctx.person.role == Role.DEPARTMENT else {}
    if refused := move(ctx, "accept", worker=ctx.person.name, **about):
        return refused
    if ctx.person.role in (Role.GRID_WORKER, Role.DEPARTMENT):
        ticket.assignee_id = ctx.person.id
    label = complaints.label(ticket)
    return Reply(f"{ctx.person.name}已接单：工单 {ticket.id}（{label}）。处理完回复“办结 {ticket.id} 处理说明”。")


@commands.command("进展", "进度", roles=WORKERS, acts_on_ticket=True, helping=True)
def progress(msg: Message, args: list[str], ctx: Context) -> Reply:
    """进展 <工单号> <说明>：告诉居民处理到哪一步了"""
    ticket = ticket_of(ctx)
    note = " ".join(args[1:])[:200]
    if not note:
        return Reply(f"请写上进展说明，如：进展 {ticket.id} 已联系物业，明天上午换灯")
    if not moves.allows(ticket, "progress"):
        return Reply(f"工单 {ticket.id} 当前{STATUS_NAMES[Status(ticket.status)]}，不能更新进展。")
    moves.do(ctx.session, ticket, "progress", ctx.person.id, ctx.now, note)
    return Reply(f"已记录工单 {ticket.id} 的进展，并告知居民。")


@commands.command("办结", "完成", roles=WORKERS, acts_on_ticket=True)
def resolve(msg: Message, args: list[str], ctx: Context) -> Reply:
    """办结 <工单号> <处理说明>：处理完毕，请居民评价（可接着发一张处理后的照片）"""
    ticket = ticket_of(ctx)
    note = " ".join(args[1:])[:200]
    if not note:
        return Reply(f"请写上处理说明，如：办结 {ticket.id} 已更换灯泡")
    if refused := move(ctx, "resolve", note):
        return refused
    if patrol.conclude(ctx, ticket):
        return Reply(f"巡查工单 {ticket.id} 已办结归档。可以再发一张处理后的照片。")
    return Reply(f"工单 {ticket.id} 已办结，已请居民评价。可以再发一张处理后的照片。")


@commands.command("退回", roles=WORKERS, acts_on_ticket=True)
def give_back(msg: Message, args: list[str], ctx: Context) -> Reply:
    """退回 <工单号> <原因>：不属于本网格或无法处理，交回指挥中心重新派单"""
    ticket = ticket_of(ctx)
    reason = " ".join(args[1:])[:200]
    if not reason:
        return Reply(f"请写上退回原因，如：退回 {ticket.id} 不属于本网格，是隔壁小区的")
    if refused := move(ctx, "return", reason, reason=reason, worker=ctx.person.name):
        return refused
    return Reply(f"工单 {ticket.id} 已退回指挥中心重新派单。")


@commands.command("待办", roles=WORKERS, glued_args=True)
def todo(msg: Message, args: list[str], ctx: Context) -> Reply:
    """待办 [网格编号]：本网格（部门：本部门）未办结的工单"""
    if ctx.person.role == Role.DEPARTMENT:
        return department_todo(ctx)
    grid = None
    if args and ctx.person.role == Role.SUPERVISOR:
        grid = grids.by_code(ctx.session, args[0])
    elif ctx.person.grid_id is not None:
        grid = ctx.session.get(Grid, ctx.person.grid_id)
    if grid is None or grid.id is None:
        return Reply(
            "请带上网格编号，如：待办 G01"
            if ctx.person.role == Role.SUPERVISOR
            else "您还没有分配网格，请联系指挥中心。"
        )
    if not scope.of(ctx.session, ctx.person).covers(grid):
        return Reply(scope.outside(ctx.session, ctx.person, f"网格 {grid.code} ", grid))
    return todo_list(grid.name, tickets.open_in_grid(ctx.session, grid.id), ctx)


def department_todo(ctx: Context) -> Reply:
    """A department member's 待办: their department's open tickets."""
    department = ctx.session.get(Department, ctx.person.department_id) if ctx.person.department_id else None
    if department is None or department.id is None:
        return Reply("您还没有登记所属部门，请联系指挥中心。")
    return todo_list(department.name, departments.open_tickets(ctx.session, department.id), ctx)


def todo_list(owner: str, open_tickets: Sequence[Ticket], ctx: Context) -> Reply:
    """A grid's or a department's open tickets, a line each, and what to do next."""
    if not open_tickets:
        return Reply(f"{owner}目前没有待办工单。")
    lines = [cards.list_line(t, ctx.now) for t in open_tickets]
    waiting = any(t.status in (Status.ASSIGNED, Status.REOPENED) for t in open_tickets)
    hint = "\n回复“接单 工单号”认领。" if waiting else "\n处理完回复“办结 工单号 处理说明”。"
    return Reply(f"{owner}待办 {len(open_tickets)} 件：\n" + "\n".join(lines) + hint)


@commands.command("上报", roles={Role.GRID_WORKER}, acts_on_ticket=True)
def report_up(msg: Message, args: list[str], ctx: Context) -> Reply:
    """上报 <工单号> <原因>：本网格解决不了的，报社区指挥中心（由中心流转给部门，期间仍由本网格跟进）"""
    ticket = ticket_of(ctx)
    reason = " ".join(args[1:])[:200]
    if not reason:
        return Reply(f"请写上上报原因，如：上报 {ticket.id} 需城管执法，网格无执法权")
    if refused := move(ctx, "report_up", reason, reason=reason, worker=ctx.person.name):
        return refused
    return Reply(f"工单 {ticket.id} 已上报指挥中心。中心处理前仍由本网格跟进，时限不变：{fmt(ticket.resolve_due_at)}。")


@commands.command("挂起", roles=WORKERS, acts_on_ticket=True)
def suspend(msg: Message, args: list[str], ctx: Context) -> Reply:
    """挂起 <工单号> <需要居民补充什么>：等居民补充，暂停计时"""
    ticket = ticket_of(ctx)
    reason = " ".join(args[1:])[:200]
    if not reason:
        return Reply(f"请写上需要居民补充什么，如：挂起 {ticket.id} 请告知具体单元号")
    if refused := move(ctx, "suspend", reason):
        return refused
    return Reply(
        f"工单 {ticket.id} 已挂起，时限暂停计时，已请居民补充。居民回复后自动恢复，也可回复“恢复 {ticket.id}”。"
    )


@commands.command("恢复", "解挂", roles=WORKERS, acts_on_ticket=True)
def resume(msg: Message, args: list[str], ctx: Context) -> Reply:
    """恢复 <工单号>：挂起的工单继续处理，恢复计时"""
    ticket = ticket_of(ctx)
    if refused := move(ctx, "resume", " ".join(args[1:])[:200]):
        return refused
    return Reply(f"工单 {ticket.id} 已恢复处理，办结时限 {fmt(ticket.resolve_due_at)}。")


@commands.command("延期", roles=WORKERS, acts_on_ticket=True)
def extend(msg: Message, args: list[str], ctx: Context) -> Reply:
    """延期 <工单号> <天数> <原因>：申请延长办结时限，由指挥中心审批"""
    ticket = ticket_of(ctx)
    usage = Reply(f"请这样申请：延期 {ticket.id} 天数 原因，如：延期 {ticket.id} 3 等待配件")
    days_text = args[1].removesuffix("天") if len(args) > 1 else ""
    reason = " ".join(args[2:])[:200]
    if not days_text.isdecimal() or not reason:
        return usage
    days = int(days_text)
    if not 1 <= days <= policy.MAX_EXTENSION_DAYS:
        return Reply(f"延期天数应在 1 到 {policy.MAX_EXTENSION_DAYS} 天之间，如：延期 {ticket.id} 3 等待配件")
    if not moves.allows(ticket, "extend"):
        return Reply(f"工单 {ticket.id} 当前{STATUS_NAMES[Status(ticket.status)]}，不能延期。")
    if ctx.person.role == Role.SUPERVISOR:
        return extensions.grant(ctx, ticket, days, reason)
    if ticket.extension_request:
        return Reply(f"工单 {ticket.id} 的延期申请正在等待指挥中心审批。")
    if ticket.extensions >= policy.MAX_EXTENSIONS:
        return Reply(f"工单 {ticket.id} 已延期过 {ticket.extensions} 次，不能再申请。确有困难请联系指挥中心。")
    about = {"days": days, "reason": reason, "worker": ctx.person.name, "by": ctx.person.id}
    moves.do(ctx.session, ticket, "extend_request", ctx.person.id, ctx.now, f"{days}天 {reason}", about)
    return Reply(f"已提交工单 {ticket.id} 延期 {days} 天的申请，等待指挥中心审批。")


def attach_after_photo(msg: Message, ctx: Context) -> Reply:
    """A photo from a worker right after 办结 shows the result to the resident and the centre; right after 巡查 it
    shows what was found."""
    recent = [
        e
        for e in tickets.events_by_actor(ctx.session, ctx.person.id or 0, ctx.now - policy.AFTER_PHOTO_WINDOW)
        if e.action in ("resolve", "patrol")
    ]
    if not recent:
        return Reply("收到照片。办结工单或登记巡查后再发照片，会存入该工单。")
    ticket = ctx.session.get(Ticket, recent[-1].ticket_id)
    assert ticket is not None
    after = recent[-1].action == "resolve"
    images = json.loads(ticket.images or "[]")
    images.append({"media_id": msg.media_id, "url": msg.pic_url, "after": after})
    ticket.images = json.dumps(images, ensure_ascii=False)
    ctx.session.add(ticket)
    tickets.record(ctx.session, ticket, ctx.person.id, "after_photo" if after else "image", msg.media_id or msg.pic_url)
    which = "巡查工单" if ticket.source == TicketSource.PATROL else "工单"
    return Reply(f"已将照片存入{which} {ticket.id}（{'处理后' if after else '现场'}）。")
