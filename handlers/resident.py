"""What a resident can ask for besides reporting a problem."""

from __future__ import annotations

import policy
from handlers import complaints, moves, notify
from handlers import routing as grid_routing
from handlers.clock import fmt
from handlers.commands import Context, Registry, parse_ticket_number
from handlers.types import Message, Reply
from storage import tickets
from storage.models import Department, Grid, Person, Role, Status, Ticket
from storage.tickets import STATUS_NAMES, IllegalMove

commands = Registry()
RESIDENT = {Role.RESIDENT}

RATINGS = {"满意": 5, "非常满意": 5, "基本满意": 3, "一般": 3, "不满意": 1, "很不满意": 1}


def own_ticket(ctx: Context, arg: str | None) -> Ticket | None:
    """The resident's ticket by number, or their latest one; never someone else's."""
    if arg is None:
        latest = tickets.of_resident(ctx.session, ctx.person.id or 0, limit=1)
        return latest[0] if latest else None
    number = parse_ticket_number(arg)
    ticket = tickets.get(ctx.session, number) if number is not None else None
    if ticket is None or not tickets.is_reporter(ctx.session, ticket, ctx.person.id or 0):
        return None
    return ticket


def not_found(arg: str | None) -> Reply:
    if arg is None:
        return Reply("您还没有提交过问题。直接发送文字描述即可，如：3号楼楼道灯坏了。")
    return Reply(f"没有找到您的工单 {arg}。回复“我的工单”查看您提交的工单。")


def describe(ctx: Context, ticket: Ticket) -> str:
    status = Status(ticket.status)
    line = f"工单 {ticket.id}（{complaints.label(ticket)}）：{STATUS_NAMES[status]}"
    grid = ctx.session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    if grid and status in (Status.ASSIGNED, Status.ACCEPTED, Status.REOPENED):
        if ticket.reporter_count > 1:
            line += f"（{ticket.reporter_count}位居民反映）"
        worker = ctx.session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
        department = ctx.session.get(Department, ticket.department_id) if ticket.department_id else None
        who = f" {worker.name[:1]}网格员" if worker and worker.name else ""
        line += f"，{department.name}负责" if department else f"，{grid.name}{who}负责"
        if ticket.resolve_due_at:
            line += f"，预计 {fmt(ticket.resolve_due_at)} 前办结"
    if ticket.awaiting == "location":
        line += f"。{complaints.ASK_LOCATION}"
    elif status == Status.SUSPENDED:
        line += "，等待您补充情况，请直接回复补充内容"
    elif status == Status.RESOLVED:
        line += f"。请回复“评价 {ticket.id} 满意”或“评价 {ticket.id} 不满意”"
    return line + "。"


@commands.command("进度", "查询", roles=RESIDENT)
def progress(msg: Message, args: list[str], ctx: Context) -> Reply:
    """进度 [工单号]：查看工单处理进度"""
    arg = args[0] if args else None
    ticket = own_ticket(ctx, arg)
    return Reply(describe(ctx, ticket)) if ticket else not_found(arg)


@commands.command("我的工单", roles=RESIDENT)
def my_tickets(msg: Message, args: list[str], ctx: Context) -> Reply:
    """我的工单：列出最近提交的 5 张工单"""
    mine = tickets.of_resident(ctx.session, ctx.person.id or 0, limit=5)
    if not mine:
        return not_found(None)
    lines = [f"{t.id} {complaints.label(t)} {STATUS_NAMES[Status(t.status)]}" for t in mine]
    return Reply("您最近的工单：\n" + "\n".join(lines) + "\n回复“进度 工单号”查看详情。")


@commands.command("评价", roles=RESIDENT)
def rate(msg: Message, args: list[str], ctx: Context) -> Reply:
    """评价 <工单号> <1-5|满意|基本满意|不满意> [意见]：为办结的工单打分"""
    usage = Reply("请这样评价：评价 工单号 满意（或 基本满意、不满意、1-5 分），如：评价 1024 满意")
    if len(args) < 2:
        return usage
    ticket = own_ticket(ctx, args[0])
    if ticket is None:
        return not_found(args[0])
    score = RATINGS.get(args[1]) or (int(args[1]) if args[1] in {"1", "2", "3", "4", "5"} else None)
    if score is None:
        return usage
    return give_rating(ticket, score, " ".join(args[2:])[:250], ctx)


def give_rating(ticket: Ticket, score: int, note: str, ctx: Context) -> Reply:
    """满意 closes the ticket; 不满意 (≤2) sends it back to the same grid and tells the centre.

    Only the first reporter's rating decides: a stranger whose similar complaint was linked must not close or
    reopen someone else's ticket. A linked reporter's rating is recorded apart, for the centre's 回访.
    """
    assert ticket.id is not None and ctx.person.id is not None
    if ticket.resident_id != ctx.person.id:
        return rate_as_linked(ticket, score, note, ctx)
    if ticket.status == Status.CLOSED:
        return Reply(f"工单 {ticket.id} 已结案，不能再评价。如果问题还在，请直接描述，我们重新立案。")
    if ticket.status != Status.RESOLVED:
        return Reply(f"工单 {ticket.id} 当前{STATUS_NAMES[Status(ticket.status)]}，办结后才能评价。")
    ticket.rating, ticket.rating_note = score, note
    said = f"评价{score}分 {note}".strip()
    if score <= policy.REOPEN_AT_OR_BELOW:
        moves.do(ctx.session, ticket, "reopen", ctx.person.id, ctx.now, said, {"score": score})
        return Reply(f"抱歉没能让您满意。工单 {ticket.id} 已重新交给网格员处理，社区指挥中心会跟进。")
    moves.do(ctx.session, ticket, "close", ctx.person.id, ctx.now, said)
    return Reply(f"感谢您的评价（{score}分）。工单 {ticket.id} 已结束，有新问题随时告诉我们。")


def rate_as_linked(ticket: Ticket, score: int, note: str, ctx: Context) -> Reply:
    """A linked reporter's rating: kept on their link; the ticket is the first reporter's to close or reopen."""
    link = tickets.linked_reporter(ctx.session, ticket.id or 0, ctx.person.id or 0)
    if link is None or ticket.status not in (Status.RESOLVED, Status.CLOSED):
        return Reply(f"工单 {ticket.id} 当前{STATUS_NAMES[Status(ticket.status)]}，办结后才能评价。")
    link.rating, link.rating_note = score, note
    ctx.session.add(link)
    tickets.record(ctx.session, ticket, ctx.person.id, "linked_rating", f"评价{score}分 {note}".strip(), ctx.now)
    if score <= policy.REOPEN_AT_OR_BELOW:
        notify.centre(ctx.session, ticket, "linked_unhappy", score=score)
        return Reply(
            f"已记下您的评价（{score}分）。工单 {ticket.id} 由最先反映的居民确认结案，社区指挥中心会联系您了解情况。"
            "如果是您家里的新问题，请直接描述，我们单独立案。"
        )
    return Reply(f"感谢您的评价（{score}分），已记录。工单 {ticket.id} 由最先反映的居民确认结案。")


def bare_rating(text: str, ctx: Context) -> Reply | None:
    """ "满意" / "不满意" / "5" with no ticket number rates the resident's ticket waiting for a rating, if any.

    A bare "1" or "2" would reopen a ticket on a digit typed for anything else (a menu choice, a floor): it is
    confirmed first, by asking for the number with it.
    """
    bare = text.strip(" 。！!，,.～~")
    score = RATINGS.get(bare) or (int(bare) if bare in {"1", "2", "3", "4", "5"} else None)
    if score is None:
        return None
    waiting = [t for t in tickets.of_resident(ctx.session, ctx.person.id or 0, limit=5) if t.status == Status.RESOLVED]
    if not waiting:
        return None
    if len(waiting) > 1:
        numbers = "、".join(str(t.id) for t in waiting)
        return Reply(f"您有 {len(waiting)} 张工单待评价（{numbers}），请带上工单号，如：评价 {waiting[0].id} {bare}")
    if bare.isdecimal() and score <= policy.REOPEN_AT_OR_BELOW:
        return Reply(
            f"您是要给工单 {waiting[0].id} 打 {score} 分（不满意，工单将重新处理）吗？"
            f"确认请回复“评价 {waiting[0].id} {score}”；满意请回复“满意”。"
        )
    return give_rating(waiting[0], score, "", ctx)


@commands.command("催办", roles=RESIDENT)
def urge(msg: Message, args: list[str], ctx: Context) -> Reply:
    """催办 <工单号>：提醒网格员尽快处理"""
    if not args:
        return Reply("请告诉我要催办的工单号，如：催办 1024。回复“我的工单”查看工单号。")
    ticket = own_ticket(ctx, args[0])
    if ticket is None:
        return not_found(args[0])
    if not moves.allows(ticket, "urge"):
        return Reply(f"工单 {ticket.id} 当前{STATUS_NAMES[Status(ticket.status)]}，无需催办。")
    last = [e for e in tickets.events(ctx.session, ticket.id or 0) if e.action == "urge"]
    if last and ctx.now - last[-1].created_at < policy.URGE_INTERVAL:
        return Reply(f"工单 {ticket.id} 刚催办过，网格员已收到提醒，请耐心等待。")
    moves.do(ctx.session, ticket, "urge", ctx.person.id, ctx.now)
    return Reply(f"已催办工单 {ticket.id}，我们会尽快处理。")


@commands.command("撤销", "取消", roles=RESIDENT)
def cancel(msg: Message, args: list[str], ctx: Context) -> Reply:
    """撤销 <工单号>：问题已解决或报错了，撤回工单"""
    if not args:
        return Reply("请告诉我要撤销的工单号，如：撤销 1024。")
    ticket = own_ticket(ctx, args[0])
    if ticket is None:
        return not_found(args[0])
    if ticket.resident_id != ctx.person.id:
        return Reply(f"工单 {ticket.id} 由其他居民先反映，不能撤销。如问题已解决请回复“评价 {ticket.id} 满意”。")
    try:
        moves.do(ctx.session, ticket, "cancel", ctx.person.id, ctx.now, "居民撤销")
    except IllegalMove as refused:
        return Reply(f"{refused}。如需帮助请回复“帮助”。")
    return Reply(f"工单 {ticket.id} 已撤销。有新问题随时告诉我们。")


@commands.command("绑定", roles=RESIDENT)
def bind(msg: Message, args: list[str], ctx: Context) -> Reply:
    """绑定 <小区 楼栋>：登记住址，以后反映问题不用再说位置"""
    address = ctx.rest.replace(" ", "")
    if not address:
        return Reply("请告诉我您的住址，如：绑定 幸福小区 3栋")
    routing = grid_routing.index(ctx.session).route_text(address)
    if routing.grid is None:
        return Reply(f"没有找到“{address}”所在的网格，请检查小区名称和楼栋，如：绑定 幸福小区 3栋")
    ctx.person.address = address[:120]
    ctx.person.grid_id = routing.grid.id
    ctx.session.add(ctx.person)
    return Reply(f"已绑定：{address}（{routing.grid.name}）。以后直接描述问题即可，如：楼道灯坏了。")
