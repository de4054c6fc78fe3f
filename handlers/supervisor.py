"""The command centre's questions: one number before a meeting, what is late, one grid, one ticket."""

from __future__ import annotations

import nlp
from handlers import complaints
from handlers.clock import fmt, period
from handlers.commands import Context, Registry, parse_ticket_number
from handlers.privacy import mask, mask_phone
from handlers.types import Message, Reply
from storage import grids, people, tickets
from storage.models import Grid, Person, Role, Status
from storage.tickets import STATUS_NAMES

commands = Registry()
SUPERVISOR = {Role.SUPERVISOR}
PERIODS = ("今日", "今天", "本周", "本月", "上月")


def rate(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else "—"


@commands.command("统计", roles=SUPERVISOR, glued_args=True)
def stats(msg: Message, args: list[str], ctx: Context) -> Reply:
    """统计 [今日|本周|本月|上月] [网格编号]：工单数、办结率、平均评分"""
    period_word = next((a for a in args if a in PERIODS), "今日")
    grid_code = next((a for a in args if a not in PERIODS), None)
    grid = grids.by_code(ctx.session, grid_code) if grid_code else None
    if grid_code and grid is None:
        return Reply(f"没有编号为 {grid_code} 的网格。回复“统计”看全部，或“网格 编号”看单个网格。")
    since, until, shown = period("今日" if period_word == "今天" else period_word, ctx.now)
    numbers = tickets.stats(ctx.session, since, until, ctx.now, grid.id if grid else None)
    by = numbers["by_status"]
    total = sum(v for k, v in by.items() if k != Status.CANCELLED)
    done = by.get(Status.RESOLVED, 0) + by.get(Status.CLOSED, 0)
    avg = (
        f"{numbers['avg_rating']:.1f}分（{numbers['rated']}条评价）"
        if numbers["avg_rating"] is not None
        else "暂无评价"
    )
    scope = f"{grid.name} " if grid else ""
    lines = [
        f"{scope}{shown}工单 {total} 件：",
        f"待派单 {by.get(Status.NEW, 0) + by.get(Status.RETURNED, 0)}，已派单 {by.get(Status.ASSIGNED, 0)}，"
        f"处理中 {by.get(Status.ACCEPTED, 0) + by.get(Status.REOPENED, 0)}，已办结 {done}，超时 {numbers['overdue']}",
        f"办结率 {rate(done, total)}，平均评分 {avg}",
    ]
    if numbers["overdue"]:
        lines.append("回复“超时”查看超时工单。")
    return Reply("\n".join(lines))


@commands.command("超时", roles=SUPERVISOR, glued_args=True)
def overdue(msg: Message, args: list[str], ctx: Context) -> Reply:
    """超时：列出已超过办结时限的工单"""
    late = tickets.overdue(ctx.session, ctx.now, limit=20)
    if not late:
        return Reply("目前没有超时工单。")
    names = {g.id: g.name for g in grids.all_grids(ctx.session)}
    lines = []
    for t in late:
        assert t.resolve_due_at is not None
        hours = (ctx.now - t.resolve_due_at).total_seconds() / 3600
        late_by = f"{hours:.0f}小时" if hours >= 1 else f"{hours * 60:.0f}分钟"
        lines.append(f"{t.id} {names.get(t.grid_id, '待派单')} {complaints.label(t)} 超时{late_by}")
    return Reply(f"超时工单 {len(late)} 件：\n" + "\n".join(lines) + "\n回复“查 工单号”看详情。")


@commands.command("网格", roles=SUPERVISOR, glued_args=True)
def grid_summary(msg: Message, args: list[str], ctx: Context) -> Reply:
    """网格 <编号>：一个网格的网格员和在办工单"""
    if not args:
        codes = "、".join(g.code for g in grids.all_grids(ctx.session)[:20])
        return Reply(f"请带上网格编号，如：网格 {codes.split('、')[0] if codes else 'G01'}。现有网格：{codes or '无'}")
    grid = grids.by_code(ctx.session, args[0])
    if grid is None or grid.id is None:
        return Reply(f"没有编号为 {args[0]} 的网格。回复“网格”查看全部编号。")
    workers = people.workers_of_grid(ctx.session, grid.id)
    staff = "、".join(f"{w.name}（{mask_phone(w.phone)}）" if w.phone else w.name for w in workers) or "未配置网格员"
    open_tickets = tickets.open_in_grid(ctx.session, grid.id)
    lines = [f"{grid.name}（{grid.code}）网格员：{staff}", f"在办工单 {len(open_tickets)} 件"]
    lines += [
        f"{t.id} {complaints.label(t)} {STATUS_NAMES[Status(t.status)]}{' 紧急' if t.urgent else ''}"
        for t in open_tickets[:10]
    ]
    return Reply("\n".join(lines))


@commands.command("查", "查单", roles=SUPERVISOR, glued_args=True)
def inspect(msg: Message, args: list[str], ctx: Context) -> Reply:
    """查 <工单号>：工单详情，含分类依据的关键词"""
    number = parse_ticket_number(args[0]) if args else None
    ticket = tickets.get(ctx.session, number) if number is not None else None
    if ticket is None:
        return Reply("请带上正确的工单号，如：查 1024。回复“超时”或“统计”查看工单。")
    grid = ctx.session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    resident = ctx.session.get(Person, ticket.resident_id) if ticket.resident_id else None
    runner_up = f"，次选 {nlp.category_name(ticket.runner_up)}" if ticket.runner_up else ""
    lines = [
        f"工单 {ticket.id}：{complaints.label(ticket)}{'（紧急）' if ticket.urgent else ''}，"
        f"{STATUS_NAMES[Status(ticket.status)]}",
        f"内容：{mask(ticket.text)[:200]}",
        f"位置：{ticket.location_text or '未知'}；网格：{grid.name if grid else '待派单'}",
        f"分类依据：{ticket.keywords or '无关键词'}（置信度 {ticket.confidence:.2f}{runner_up}）",
        f"提交：{fmt(ticket.created_at)}" + (f"；时限：{fmt(ticket.resolve_due_at)}" if ticket.resolve_due_at else ""),
    ]
    if resident and resident.phone:
        lines.append(f"居民电话：{mask_phone(resident.phone)}")
    if ticket.rating is not None:
        lines.append(f"评价：{ticket.rating}分 {ticket.rating_note}".rstrip())
    return Reply("\n".join(lines))
