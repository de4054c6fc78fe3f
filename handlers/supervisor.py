"""The command centre's questions: one number before a meeting, what is late, one grid, one ticket."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

from sqlmodel import Session

import nlp
import policy
from handlers import cards, complaints, extensions, moves, notify, scope, sla
from handlers.clock import fmt, local, period
from handlers.commands import Context, Registry, parse_ticket_number, ticket_of
from handlers.privacy import mask, mask_name, mask_phone
from handlers.types import Message, Reply
from storage import departments, grids, metrics, org, people, tickets
from storage.models import Department, Grid, OrgLevel, OrgUnit, Person, Role, Status, Ticket, TicketSource
from storage.scope import Within
from storage.tickets import STATUS_NAMES, IllegalMove

commands = Registry()
SUPERVISOR = {Role.SUPERVISOR}
PERIODS = ("今日", "今天", "本周", "本月", "上月")
# 统计 at a street or district ranks the units under it; a longer list would not fit one chat message.
RANKED_AT_MOST = 15
CHILD_WORDS = {OrgLevel.DISTRICT: "街道", OrgLevel.STREET: "社区"}


def visible_ticket(ctx: Context, number: int | None, missing: str) -> Ticket | Reply:
    """The ticket if it exists and is inside the sender's unit; else what to say (nothing changes)."""
    ticket = tickets.get(ctx.session, number) if number is not None else None
    if ticket is None or ticket.id is None:
        return Reply(missing)
    if not scope.may_act_on(ctx.session, ctx.person, ticket):
        grid = ctx.session.get(Grid, ticket.grid_id) if ticket.grid_id else None
        return Reply(scope.outside(ctx.session, ctx.person, f"工单 {ticket.id} ", grid))
    return ticket


def department_named(ctx: Context, code: str) -> Department | None:
    """The department a code names, as typed or in capitals (cg01 is CG01)."""
    return departments.by_code(ctx.session, code) or departments.by_code(ctx.session, code.upper())


def serving_department(ctx: Context, ticket: Ticket, code: str) -> Department | Reply:
    """The department if it exists and serves the ticket's place (its unit's subtree holds the ticket's grid)."""
    department = department_named(ctx, code)
    if department is None:
        return Reply(f"没有编号为 {code} 的部门。回复“部门”查看可流转的部门。")
    return serves(ctx, ticket, department)


def serves(ctx: Context, ticket: Ticket, department: Department) -> Department | Reply:
    """The department, or why it does not serve the ticket's place."""
    grid = ctx.session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    place = grid.org_path if grid is not None else ""
    if department.org_path and not place.startswith(department.org_path):
        return Reply(f"{department.name}不负责工单 {ticket.id} 所在的地方。回复“部门”查看可流转的部门。")
    return department


def visible_grid(ctx: Context, code: str) -> Grid | Reply:
    """The grid if it exists and is inside the sender's unit; else what to say."""
    grid = grids.by_code(ctx.session, code.upper()) or grids.by_code(ctx.session, code)
    if grid is None or grid.id is None:
        return Reply(f"没有编号为 {code} 的网格。回复“网格”查看全部编号。")
    return inside(ctx, grid)


def inside(ctx: Context, grid: Grid) -> Grid | Reply:
    """The grid if it is inside the sender's unit; else the refusal."""
    if not scope.of(ctx.session, ctx.person).covers(grid):
        return Reply(scope.outside(ctx.session, ctx.person, f"网格 {grid.code} ", grid))
    return grid


@commands.command("统计", roles=SUPERVISOR, glued_args=True)
def stats(msg: Message, args: list[str], ctx: Context) -> Reply:
    """统计 [今日|本周|本月|上月] [网格编号]：响应率、按期办结率、办结率、满意率、重办率"""
    period_word = next((a for a in args if a in PERIODS), "今日")
    grid_code = next((a for a in args if a not in PERIODS), None)
    grid = visible_grid(ctx, grid_code) if grid_code else None
    if isinstance(grid, Reply):
        return grid
    since, until, shown = period("今日" if period_word == "今天" else period_word, ctx.now)
    reach = scope.of(ctx.session, ctx.person)
    if grid is not None:
        return Reply(summary(ctx.session, since, until, ctx.now, f"{grid.name} {shown}", grid_id=grid.id))
    title = f"{reach.name} {shown}" if reach.unit is not None else shown
    text = summary(ctx.session, since, until, ctx.now, title, within=reach.within)
    if reach.unit is not None and (ranked := ranking(ctx.session, reach.unit, since, until, ctx.now)):
        text += "\n" + ranked
    return Reply(text)


def ranking(session: Session, unit: OrgUnit, since: datetime, until: datetime, now: datetime) -> str:
    """The units right under a street or district side by side (排名), best 办结率 first; "" below a street."""
    word = CHILD_WORDS.get(OrgLevel(unit.level))
    if word is None:
        return ""
    rows = metrics.ranked(session, org.children(session, unit), since, until, now)
    if not rows:
        return ""
    lines = [
        f"{i}. {child.name} {m.closure}｜{m.on_time}｜{m.satisfaction}（{m.total}件）"
        for i, (child, m) in enumerate(rows[:RANKED_AT_MOST], 1)
    ]
    more = f"\n……共 {len(rows)} 个{word}" if len(rows) > RANKED_AT_MOST else ""
    return f"各{word}排名（办结率｜按期办结率｜满意率）：\n" + "\n".join(lines) + more


def summary(
    session: Session,
    since: datetime,
    until: datetime,
    now: datetime,
    title: str,
    grid_id: int | None = None,
    within: Within | None = None,
) -> str:
    """The numbers of docs/metrics.md in five short lines."""
    m = metrics.compute(session, since, until, now, grid_id, within)
    rated = f"{m.satisfaction.whole}条评价，平均{m.avg_rating:.1f}分" if m.avg_rating is not None else "暂无评价"
    accept = f"{m.mean_accept_minutes:.0f}分钟" if m.mean_accept_minutes is not None else "—"
    resolve = f"{m.mean_resolve_hours:.1f}小时" if m.mean_resolve_hours is not None else "—"
    by = m.by_status
    waiting = by.get(Status.NEW, 0) + by.get(Status.RETURNED, 0)
    working = by.get(Status.ACCEPTED, 0) + by.get(Status.REOPENED, 0) + by.get(Status.SUSPENDED, 0)
    done = by.get(Status.RESOLVED, 0) + by.get(Status.CLOSED, 0)
    lines = [
        f"{title}工单 {m.total} 件：待派单 {waiting}，已派单 {by.get(Status.ASSIGNED, 0)}，处理中 {working}，"
        f"已办结 {done}，超时 {m.overdue}",
        f"巡查发现 {m.patrol}，群众反映 {m.resident}",
        f"响应率 {m.response}，按期办结率 {m.on_time}，办结率 {m.closure}",
        f"满意率 {m.satisfaction}（{rated}），重办率 {m.reopen}",
        f"平均响应 {accept}，平均办结 {resolve}",
    ]
    if m.overdue:
        lines.append("回复“超时”查看超时工单。")
    return "\n".join(lines)


def daily_report(session: Session, now: datetime, within: Within | None = None, name: str = "") -> str:
    """The 18:00 push to the centre's group: today's numbers and what is late, of a unit's subtree or all."""
    since, until, _ = period("今日", now)
    late = tickets.overdue(session, now, limit=5, within=within)
    text = "【日报】" + summary(session, since, until, now, f"{name} {local(now):%m月%d日} ".lstrip(), within=within)
    if late:
        text += "\n超时最久：" + "；".join(f"{t.id}（超时{sla.late_by(t, now)}）" for t in late[:3])
    return text


def push_daily_report(session: Session, now: datetime, report_at: time | None) -> bool:
    """At report_at on a working day, the configured centre's group gets the whole day's numbers and every unit with
    a group of its own gets its own numbers, each once; whether any was queued now."""
    today = local(now)
    if report_at is None or today.time() < report_at or not sla.calendar().is_workday(today.date()):
        return False
    day = today.date().isoformat()
    queued = False
    if tickets.claim_once(session, f"daily:{day}", now):
        notify.centre(session, None, "daily", text=daily_report(session, now))
        queued = True
    for unit in org.with_chat(session):
        if tickets.claim_once(session, f"daily:{day}:{unit.code}", now):
            text = daily_report(session, now, scope.Scope(unit).within, unit.name)
            notify.unit_centre(session, unit, "daily", text=text)
            queued = True
    return queued


@commands.command("巡查统计", roles=SUPERVISOR, glued_args=True)
def patrol_stats(msg: Message, args: list[str], ctx: Context) -> Reply:
    """巡查统计 [今日|本周|本月|上月]：各网格员巡查发现的问题数（默认本月）"""
    period_word = next((a for a in args if a in PERIODS), "本月")
    since, until, shown = period("今日" if period_word == "今天" else period_word, ctx.now)
    reach = scope.of(ctx.session, ctx.person)
    found = metrics.patrol_by_worker(ctx.session, since, until, reach.within)
    title = f"{reach.name} {shown}".strip()
    if not found:
        return Reply(f"{title}还没有巡查发现的问题。网格员在群里发“巡查 问题描述”即可登记。")
    lines = [f"{i}. {name} {count}件" for i, (name, count) in enumerate(found[:RANKED_AT_MOST], 1)]
    more = f"\n……共 {len(found)} 位网格员" if len(found) > RANKED_AT_MOST else ""
    return Reply(f"{title}巡查发现 {sum(c for _, c in found)} 件：\n" + "\n".join(lines) + more)


@commands.command("日报", roles=SUPERVISOR)
def report_now(msg: Message, args: list[str], ctx: Context) -> Reply:
    """日报：今天的汇总（每个工作日 18:00 也会自动推送到指挥中心群）"""
    reach = scope.of(ctx.session, ctx.person)
    return Reply(daily_report(ctx.session, ctx.now, reach.within, reach.name))


@commands.command("超时", roles=SUPERVISOR, glued_args=True)
def overdue(msg: Message, args: list[str], ctx: Context) -> Reply:
    """超时：列出已超过办结时限的工单，最晚的在前"""
    late = tickets.overdue(ctx.session, ctx.now, limit=20, within=scope.of(ctx.session, ctx.person).within)
    if not late:
        return Reply("目前没有超时工单。")
    names = grids.names(ctx.session, (t.grid_id for t in late))
    lines = [
        f"{sla.mark_for(t, ctx.now)} {t.id} {names.get(t.grid_id or 0, '待派单')} {complaints.label(t)} "
        f"超时{sla.late_by(t, ctx.now)}{'（严重超时）' if sla.colour(t, ctx.now) == sla.BADLY else ''}"
        for t in late
    ]
    return Reply(f"超时工单 {len(late)} 件：\n" + "\n".join(lines) + "\n回复“督办 工单号”督促，“查 工单号”看详情。")


@commands.command("上报件", "上报列表", roles=SUPERVISOR, glued_args=True)
def reported_up(msg: Message, args: list[str], ctx: Context) -> Reply:
    """上报件：列出网格员上报、等中心处理的工单，等得最久的在前"""
    waiting = tickets.reported_up(ctx.session, limit=20, within=scope.of(ctx.session, ctx.person).within)
    if not waiting:
        return Reply("目前没有网格员上报、等中心处理的工单。")
    names = grids.names(ctx.session, (t.grid_id for t in waiting))
    lines = [
        f"{t.id} {names.get(t.grid_id or 0, '待派单')} {complaints.label(t)} {fmt(t.reported_up_at)}上报"
        for t in waiting
    ]
    return Reply(
        f"上报待处理 {len(waiting)} 件：\n"
        + "\n".join(lines)
        + "\n回复“查 工单号”看上报原因，“流转 工单号 部门编号 要求”交部门办理，“部门”查看可用部门。"
    )


@commands.command("网格", roles=SUPERVISOR, glued_args=True)
def grid_summary(msg: Message, args: list[str], ctx: Context) -> Reply:
    """网格 <编号>：一个网格的网格员和在办工单"""
    if not args:
        codes = "、".join(grids.first_codes(ctx.session, 20, scope.of(ctx.session, ctx.person).within))
        return Reply(f"请带上网格编号，如：网格 {codes.split('、')[0] if codes else 'G01'}。现有网格：{codes or '无'}")
    grid = visible_grid(ctx, args[0])
    if isinstance(grid, Reply):
        return grid
    assert grid.id is not None
    workers = people.workers_of_grid(ctx.session, grid.id)
    staff = "、".join(f"{w.name}（{mask_phone(w.phone)}）" if w.phone else w.name for w in workers) or "未配置网格员"
    open_tickets = tickets.open_in_grid(ctx.session, grid.id)
    lines = [f"{grid.name}（{grid.code}）网格员：{staff}", f"在办工单 {len(open_tickets)} 件"]
    lines += [cards.list_line(t, ctx.now) for t in open_tickets[:10]]
    return Reply("\n".join(lines))


@commands.command("查", "查单", roles=SUPERVISOR, glued_args=True)
def inspect(msg: Message, args: list[str], ctx: Context) -> Reply:
    """查 <工单号>：工单详情，含分类依据的关键词"""
    number = parse_ticket_number(args[0]) if args else None
    ticket = visible_ticket(ctx, number, "请带上正确的工单号，如：查 1024。回复“超时”或“统计”查看工单。")
    if isinstance(ticket, Reply):
        return ticket
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
    if ticket.source == TicketSource.PATROL and (finder := ctx.session.get(Person, ticket.found_by_id)):
        lines.append(f"来源：巡查发现（{finder.name}）")
    if ticket.reporter_count > 1:
        lines.append(f"{ticket.reporter_count}位居民反映。回复“拆分 {ticket.id}”查看或拆开错误关联。")
    if ticket.department_id and (department := ctx.session.get(Department, ticket.department_id)):
        lines.append(f"办理部门：{department.name}（{department.code}）")
    if helping := departments.helpers(ctx.session, ticket.id or 0):
        names = [
            (ctx.session.get(Department, h.department_id) if h.department_id else ctx.session.get(Grid, h.grid_id))
            for h in helping
        ]
        lines.append("协办：" + "、".join(n.name for n in names if n is not None))
    if ticket.reported_up_at is not None:
        lines.append(f"网格员 {fmt(ticket.reported_up_at)} 上报。回复“流转 {ticket.id} 部门编号 要求”交部门办理。")
    if ticket.extension_request:
        request = json.loads(ticket.extension_request)
        lines.append(
            f"延期申请：{request['days']}天，{request['reason']}。"
            f"回复“同意延期 {ticket.id}”或“驳回延期 {ticket.id} 原因”。"
        )
    if resident and resident.phone:
        lines.append(f"居民电话：{mask_phone(resident.phone)}")
    if ticket.rating is not None:
        lines.append(f"评价：{ticket.rating}分 {ticket.rating_note}".rstrip())
    return Reply("\n".join(lines))


def ticket_and_target(args: list[str], ctx: Context, usage: str) -> Ticket | Reply:
    """The ticket of "<word> <工单号> <target> …" inside the sender's unit, or the usage (or refusal) to show."""
    if len(args) < 2 or (number := parse_ticket_number(args[0])) is None:
        return Reply(usage)
    return visible_ticket(ctx, number, f"没有工单 {number}。回复“超时”或“统计”查看工单。")


def ticket_and_grid(args: list[str], ctx: Context, word: str) -> tuple[Ticket, Grid] | Reply:
    ticket = ticket_and_target(args, ctx, f"请这样写：{word} 工单号 网格编号，如：{word} 1024 G02")
    if isinstance(ticket, Reply):
        return ticket
    grid = visible_grid(ctx, args[1])
    if isinstance(grid, Reply):
        return grid
    return ticket, grid


@commands.command("派", "派单", roles=SUPERVISOR)
def dispatch(msg: Message, args: list[str], ctx: Context) -> Reply:
    """派 <工单号> <网格编号>：把待派单或退回的工单派给网格"""
    found = ticket_and_grid(args, ctx, "派")
    if isinstance(found, Reply):
        return found
    ticket, grid = found
    if ticket.grid_id is not None and Status(ticket.status) not in (Status.NEW, Status.RETURNED):
        return transfer(msg, args, ctx)
    return move_to(ticket, grid, ctx, "dispatch")


@commands.command("转派", roles=SUPERVISOR)
def transfer(msg: Message, args: list[str], ctx: Context) -> Reply:
    """转派 <工单号> <网格编号>：把在办工单改派给另一个网格"""
    found = ticket_and_grid(args, ctx, "转派")
    if isinstance(found, Reply):
        return found
    ticket, grid = found
    if ticket.grid_id == grid.id and Status(ticket.status) not in (Status.NEW, Status.RETURNED):
        return Reply(f"工单 {ticket.id} 已在{grid.name}。要改派请换一个网格编号，回复“网格”查看全部编号。")
    if Status(ticket.status) in (Status.NEW, Status.RETURNED):
        return move_to(ticket, grid, ctx, "dispatch")
    return move_to(ticket, grid, ctx, "transfer")


def move_to(ticket: Ticket, grid: Grid, ctx: Context, action: str) -> Reply:
    """派 (dispatch) or 转派 (transfer): the grid's group, the residents and, on a transfer, the old group hear."""
    try:
        complaints.assign(ticket, grid, ctx, action)
    except IllegalMove as refused:
        return Reply(f"{refused}。回复“查 {ticket.id}”看详情。")
    word = "转派" if action == "transfer" else "派"
    return Reply(f"工单 {ticket.id} 已{word}给{grid.name}，接单时限 {fmt(ticket.accept_due_at)}。")


@commands.command("流转", roles=SUPERVISOR)
def route(msg: Message, args: list[str], ctx: Context) -> Reply:
    """流转 <工单号> <部门编号> [要求]：交给部门办理（吹哨报到），居民的办结时限照走"""
    usage = "请这样写：流转 工单号 部门编号 要求，如：流转 1024 CG01 请三日内清理。回复“部门”查看编号。"
    ticket = ticket_and_target(args, ctx, usage)
    if isinstance(ticket, Reply):
        return ticket
    department = serving_department(ctx, ticket, args[1])
    if isinstance(department, Reply):
        return department
    requirement = " ".join(args[2:])[:200]
    try:
        done = moves.do(
            ctx.session,
            ticket,
            "route",
            ctx.person.id,
            ctx.now,
            requirement,
            {"department": department.name},
            department=department,
        )
    except IllegalMove as refused:
        return Reply(f"{refused}。回复“查 {ticket.id}”看详情。")
    who = f"（{done['assignee_name']}）" if done.get("assignee_name") else ""
    return Reply(
        f"工单 {ticket.id} 已流转给{department.name}{who}，接单时限 {fmt(ticket.accept_due_at)}，"
        f"办结时限仍为 {fmt(ticket.resolve_due_at)}。"
    )


@commands.command("协办", roles=SUPERVISOR)
def assist(msg: Message, args: list[str], ctx: Context) -> Reply:
    """协办 <工单号> <部门或网格编号> [要求]：请另一个部门或网格协助，对方可回复进展"""
    usage = "请这样写：协办 工单号 部门或网格编号 要求，如：协办 1024 G02 请协助联系业主。"
    ticket = ticket_and_target(args, ctx, usage)
    if isinstance(ticket, Reply):
        return ticket
    assert ticket.id is not None
    found = helper_for(ctx, ticket, args[1])
    if isinstance(found, Reply):
        return found
    grid, department = found
    name, chat = (
        (department.name, department.chat_id) if department else (grid.name, grid.chat_id) if grid else ("", "")
    )
    if (department and department.id == ticket.department_id) or (
        grid and grid.id == ticket.grid_id and ticket.department_id is None
    ):
        return Reply(f"工单 {ticket.id} 本来就由{name}办理，无需协办。回复“协办 {ticket.id} 编号”请别的部门或网格。")
    if not moves.allows(ticket, "assist"):
        return Reply(f"{moves.refusal(ticket, 'assist')}。回复“查 {ticket.id}”看详情。")
    if not departments.add_helper(ctx.session, ticket.id, grid, department, ctx.now):
        return Reply(f"{name}已在协办工单 {ticket.id}。回复“查 {ticket.id}”看全部协办方。")
    reason = " ".join(args[2:])[:200] or "请协助办理"
    about = {"helper": name, "helper_chat": chat, "reason": reason}
    moves.do(ctx.session, ticket, "assist", ctx.person.id, ctx.now, f"{name}：{reason}", about)
    return Reply(f"已请{name}协办工单 {ticket.id}，对方可回复“进展 {ticket.id} 说明”。")


def helper_for(ctx: Context, ticket: Ticket, code: str) -> tuple[Grid | None, Department | None] | Reply:
    """The grid or department a 协办 names: a department serving the ticket's place, or a grid inside the unit."""
    if (named := department_named(ctx, code)) is not None:
        department = serves(ctx, ticket, named)
        return department if isinstance(department, Reply) else (None, department)
    grid = grids.by_code(ctx.session, code.upper()) or grids.by_code(ctx.session, code)
    if grid is None:
        return Reply(f"没有编号为 {code} 的部门或网格。回复“部门”或“网格”查看编号。")
    inner = inside(ctx, grid)
    return inner if isinstance(inner, Reply) else (inner, None)


@commands.command("部门", roles=SUPERVISOR, glued_args=True)
def department_list(msg: Message, args: list[str], ctx: Context) -> Reply:
    """部门：可流转、可协办的部门，及各部门常办的类别"""
    unit = scope.of(ctx.session, ctx.person).unit
    found = [
        d
        for d in org.all_departments(ctx.session)
        if unit is None or not d.org_path or unit.path.startswith(d.org_path) or d.org_path.startswith(unit.path)
    ]
    if not found:
        return Reply("还没有部门。请先导入部门（import-departments）。")
    lines = [
        f"{d.code} {d.name}"
        + (f"：{'、'.join(nlp.category_name(c) for c in d.categories.split('|') if c)}" if d.categories else "")
        for d in found[:30]
    ]
    return Reply("可流转的部门：\n" + "\n".join(lines) + "\n回复“流转 工单号 部门编号 要求”。")


@commands.command("同意延期", "批准延期", roles=SUPERVISOR, acts_on_ticket=True)
def approve_extension(msg: Message, args: list[str], ctx: Context) -> Reply:
    """同意延期 <工单号>：批准网格员的延期申请"""
    ticket = ticket_of(ctx)
    if not ticket.extension_request:
        return Reply(f"工单 {ticket.id} 没有待审批的延期申请。回复“查 {ticket.id}”看详情。")
    request = json.loads(ticket.extension_request)
    return extensions.grant(ctx, ticket, int(request["days"]), str(request["reason"]))


@commands.command("驳回延期", "不同意延期", roles=SUPERVISOR, acts_on_ticket=True)
def refuse_extension(msg: Message, args: list[str], ctx: Context) -> Reply:
    """驳回延期 <工单号> <原因>：不批准延期，时限不变"""
    ticket = ticket_of(ctx)
    if not ticket.extension_request:
        return Reply(f"工单 {ticket.id} 没有待审批的延期申请。回复“查 {ticket.id}”看详情。")
    reason = " ".join(args[1:])[:200] or "请按原时限办结"
    if not moves.allows(ticket, "extend_refuse"):  # resolved meanwhile: nothing left to refuse
        return Reply(
            f"工单 {ticket.id} 当前{STATUS_NAMES[Status(ticket.status)]}，延期申请已无需审批。"
            f"回复“查 {ticket.id}”看详情。"
        )
    moves.do(ctx.session, ticket, "extend_refuse", ctx.person.id, ctx.now, reason, {"reason": reason})
    return Reply(f"已驳回工单 {ticket.id} 的延期申请，时限仍为 {fmt(ticket.resolve_due_at)}。")


@commands.command("督办", roles=SUPERVISOR, acts_on_ticket=True)
def supervise(msg: Message, args: list[str], ctx: Context) -> Reply:
    """督办 <工单号> [要求]：督促网格员尽快办理，群里会提醒"""
    ticket = ticket_of(ctx)
    if not moves.allows(ticket, "supervise"):
        return Reply(f"工单 {ticket.id} 当前{STATUS_NAMES[Status(ticket.status)]}，无需督办。")
    note = " ".join(args[1:])[:200] or "请尽快办理"
    moves.do(ctx.session, ticket, "supervise", ctx.person.id, ctx.now, note, {"reason": note})
    pushed = ticket.grid_id is not None
    where = "已在网格群提醒网格员" if pushed else "该工单还没有网格群，请先派单"
    return Reply(f"已督办工单 {ticket.id}，{where}。")


@commands.command("回访", roles=SUPERVISOR)
def callback(msg: Message, args: list[str], ctx: Context) -> Reply:
    """回访 [工单号 回访结果]：列出需要回访的工单（不满意、重办、紧急），或记下回访结果"""
    if args and (number := parse_ticket_number(args[0])) is not None:
        ticket = visible_ticket(ctx, number, f"没有工单 {number}。回复“回访”查看需要回访的工单。")
        if isinstance(ticket, Reply):
            return ticket
        note = " ".join(args[1:])[:200]
        if not note:
            return Reply(f"请写上回访结果，如：回访 {number} 已电话联系，居民表示灯已修好")
        ticket.callback_at = ctx.now
        ctx.session.add(ticket)
        tickets.record(ctx.session, ticket, ctx.person.id, "callback", note, ctx.now)
        return Reply(f"已记录工单 {number} 的回访结果。")
    since = ctx.now - timedelta(days=policy.CALLBACK_DAYS)
    due = tickets.callbacks_due(ctx.session, since, within=scope.of(ctx.session, ctx.person).within)
    if not due:
        return Reply(f"近 {policy.CALLBACK_DAYS} 天没有需要回访的工单。")
    # In a group the whole number would be read by everyone; in a private chat the centre needs it to call.
    private = not msg.chat_id
    lines = []
    for t in due:
        resident = ctx.session.get(Person, t.resident_id) if t.resident_id else None
        phone = (resident.phone if private else mask_phone(resident.phone)) if resident and resident.phone else "无电话"
        name = mask_name(resident.name) if resident and resident.name else "居民"
        why = (
            f"评价{t.rating}分"
            if t.rating is not None and t.rating <= policy.REOPEN_AT_OR_BELOW
            else "重办"
            if t.reopen_count
            else "紧急"
        )
        lines.append(f"{t.id} {complaints.label(t)} {why} {name} {phone}")
    hint = "" if private else "（群里电话已隐藏，私聊我可看完整号码）"
    return Reply(f"需要回访 {len(due)} 件{hint}：\n" + "\n".join(lines) + "\n回访后回复“回访 工单号 结果”。")


@commands.command("拆分", roles=SUPERVISOR)
def split(msg: Message, args: list[str], ctx: Context) -> Reply:
    """拆分 <工单号> [序号]：查看关联到工单的居民反映，把关联错的拆成新工单"""
    number = parse_ticket_number(args[0]) if args else None
    ticket = visible_ticket(ctx, number, "请带上工单号，如：拆分 1024。")
    if isinstance(ticket, Reply):
        return ticket
    assert ticket.id is not None
    linked = tickets.reporters(ctx.session, ticket.id)
    if not linked:
        return Reply(f"工单 {ticket.id} 没有关联的其他居民反映。")
    if len(args) < 2:
        lines = [f"{i}. {mask(r.text)[:60]}" for i, r in enumerate(linked, 1)]
        return Reply(
            f"工单 {ticket.id} 关联了 {len(linked)} 条反映：\n"
            + "\n".join(lines)
            + f"\n回复“拆分 {ticket.id} 序号”拆成新工单。"
        )
    if not args[1].isdecimal() or not 1 <= int(args[1]) <= len(linked):
        return Reply(f"序号应在 1 到 {len(linked)} 之间。回复“拆分 {ticket.id}”查看。")
    row = linked[int(args[1]) - 1]
    resident = ctx.session.get(Person, row.person_id)
    assert resident is not None
    ctx.session.delete(row)
    ticket.reporter_count = max(1, ticket.reporter_count - 1)
    ctx.session.add(ticket)
    tickets.record(ctx.session, ticket, ctx.person.id, "split", row.text[:200], ctx.now)
    ctx.session.flush()
    new_id = complaints.open_split(row.text, row.source_msg_id, resident, ctx)
    return Reply(f"已拆分：这条反映单独立案为工单 {new_id}，并通知了该居民。")


@commands.command("改类", "改分类", roles=SUPERVISOR)
def reclassify(msg: Message, args: list[str], ctx: Context) -> Reply:
    """改类 <工单号> <类别>：改正工单的类别（记为训练样本，下次训练分类用得上）"""
    names = "、".join(name for _, name in nlp.categories())
    number = parse_ticket_number(args[0]) if args else None
    if number is None or len(args) < 2:
        return Reply(f"请这样写：改类 工单号 类别，如：改类 1024 停车交通。类别有：{names}")
    ticket = visible_ticket(ctx, number, f"没有工单 {number}。回复“超时”或“统计”查看工单。")
    if isinstance(ticket, Reply):
        return ticket
    code = nlp.find_category(args[1])
    if code is None:
        return Reply(f"没有“{args[1]}”这个类别。类别有：{names}")
    if code == ticket.category:
        return Reply(f"工单 {number} 已是{nlp.category_name(code)}。回复“查 {number}”看详情。")
    before = ticket.category
    guessed = ticket.keywords
    ticket.category, ticket.keywords, ticket.runner_up = code, "", None
    ticket.updated_at = ctx.now
    note = json.dumps({"from": before, "to": code, "keywords": guessed}, ensure_ascii=False)
    tickets.record(ctx.session, ticket, ctx.person.id, "reclassify", note, ctx.now)
    if Status(ticket.status) in sla.RUNNING:
        sla.rebudget(ticket, ctx.now)
    ctx.session.add(ticket)
    after = f"已改为{nlp.category_name(code)}，办结时限 {fmt(ticket.resolve_due_at)}"
    hint = f"回复“派 {number} 网格编号”派单。" if Status(ticket.status) in (Status.NEW, Status.RETURNED) else ""
    return Reply(f"工单 {number} {after}。已记下这次改正。{hint}")
