"""A resident's free text becomes a ticket: classify, route, assign, and say so."""

from __future__ import annotations

import json
from datetime import timedelta

import nlp
from handlers.commands import Context
from handlers.routing import GridIndex, Routing, home_community, index_for
from handlers.types import Message, Reply
from storage import grids, people, tickets
from storage.models import Grid, Status, Ticket

ASK_LOCATION = "请告诉我具体位置，如：幸福小区3栋"
URGENT_WARNING = "【紧急】如有危险请立即拨打119（火警）、110（报警）或120（急救）。"
GREETING = "您好，这里是社区网格服务。请直接描述您遇到的问题和位置，如：3号楼楼道灯坏了。回复“帮助”查看更多。"
GREETINGS = {"你好", "您好", "在吗", "在不在", "hello", "hi", "谢谢", "好的", "嗯", "哦", "收到", "ok"}
# Accept limits from the rules street offices publish (DOMAIN.md §1); the working-time calendar is a later issue.
ACCEPT_MINUTES = 30
ACCEPT_MINUTES_URGENT = 10
# Photos and shared locations this soon after a complaint belong to it.
ATTACH_WINDOW = timedelta(minutes=30)


def index(ctx: Context) -> GridIndex:
    return index_for(grids.all_grids(ctx.session))


def warm_up() -> None:
    """Load the classifier now (a worker's first complaint would otherwise pay about 0.7 s for jieba)."""
    nlp.classify("路灯坏了")


def is_chatter(text: str, intent: nlp.Intent) -> bool:
    """A greeting or a few characters with no problem word in them is not a complaint."""
    bare = text.strip(" 。！!？?～~，,.").lower()
    return bare in GREETINGS or (not intent.keywords and not intent.urgent and len(bare) < 6)


def take_complaint(msg: Message, text: str, ctx: Context) -> Reply:
    """Open a ticket for the text and route it, or ask once where it is."""
    pending = tickets.awaiting_location(ctx.session, ctx.person.id or 0)
    if pending is not None:
        return complete_location(pending, text, ctx)

    intent = nlp.classify(text)
    if is_chatter(text, intent):
        return Reply(GREETING)
    ticket = Ticket(
        category=intent.category,
        urgent=intent.urgent,
        text=text,
        resident_id=ctx.person.id,
        channel=msg.channel,
        source_msg_id=msg.dedupe_key,
        keywords=",".join(intent.keywords)[:250],
        confidence=intent.confidence,
        runner_up=intent.runner_up,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    tickets.open_ticket(ctx.session, ticket, ctx.person.id)

    grid_index = index(ctx)
    routing = grid_index.route_text(text, home_community(ctx.person.address))
    ticket.location_text = routing.place_text
    if routing.grid is None and not routing.place_text and ctx.person.grid_id is not None:
        bound = ctx.session.get(Grid, ctx.person.grid_id)
        routing = Routing(bound, ctx.person.address)
        ticket.location_text = ctx.person.address
    if routing.grid is not None:
        return Reply(warn(ticket) + assign(ticket, routing.grid, ctx))
    place = nlp.extract_place(text)
    if place is None or not (place.community or place.road):
        # "3号楼" alone does not say which compound: ask, once.
        ticket.awaiting = "location"
        ctx.session.add(ticket)
        return Reply(warn(ticket) + f"已收到，工单号 {ticket.id}（{label(ticket)}）。{ASK_LOCATION}")
    return Reply(warn(ticket) + queue_for_dispatch(ticket, ctx))


def complete_location(ticket: Ticket, text: str, ctx: Context) -> Reply:
    """The resident's answer to "where?": route the waiting ticket; asked once, so unknown goes to the centre."""
    ticket.awaiting = None
    ticket.text = f"{ticket.text}\n【位置】{text}"
    tickets.record(ctx.session, ticket, ctx.person.id, "locate", text)
    grid_index = index(ctx)
    routing = grid_index.route_text(text, home_community(ctx.person.address))
    answer = nlp.extract_place(text)
    if routing.grid is None and ticket.location_text and answer and answer.community and not answer.building:
        # First "3号楼楼道灯坏了", then "幸福小区": together they name the building.
        routing = grid_index.route_text(answer.community + ticket.location_text)
    ticket.location_text = (routing.place_text or text)[:250]
    if routing.grid is not None:
        return Reply(assign(ticket, routing.grid, ctx))
    return Reply(queue_for_dispatch(ticket, ctx))


def locate_by_coordinates(msg: Message, ctx: Context) -> Reply:
    """A shared WeChat location completes the waiting ticket, or adds coordinates to a fresh one."""
    assert msg.lat is not None and msg.lng is not None
    resident_id = ctx.person.id or 0
    ticket = tickets.awaiting_location(ctx.session, resident_id)
    if ticket is None:
        recent = tickets.latest_open_of_resident(ctx.session, resident_id, ctx.now - ATTACH_WINDOW)
        if recent is None or recent.lat is not None:
            return Reply("已收到您的位置。请用文字描述遇到的问题，如：这里路灯不亮。")
        recent.lat, recent.lng = msg.lat, msg.lng
        ctx.session.add(recent)
        tickets.record(ctx.session, recent, ctx.person.id, "locate", msg.label or f"{msg.lat},{msg.lng}")
        return Reply(f"已将位置补充到工单 {recent.id}。")
    ticket.awaiting = None
    ticket.lat, ticket.lng = msg.lat, msg.lng
    ticket.location_text = (msg.label or f"{msg.lat:.5f},{msg.lng:.5f}")[:250]
    tickets.record(ctx.session, ticket, ctx.person.id, "locate", ticket.location_text)
    grid = index(ctx).nearest(msg.lat, msg.lng)
    if grid is not None:
        return Reply(assign(ticket, grid, ctx))
    return Reply(queue_for_dispatch(ticket, ctx))


def attach_image(msg: Message, ctx: Context) -> Reply:
    resident_id = ctx.person.id or 0
    ticket = tickets.awaiting_location(ctx.session, resident_id) or tickets.latest_open_of_resident(
        ctx.session, resident_id, ctx.now - ATTACH_WINDOW
    )
    if ticket is None:
        return Reply("已收到照片。请再用文字描述问题和位置，如：3号楼楼道灯坏了，我们会为您立案。")
    images = json.loads(ticket.images or "[]")
    images.append({"media_id": msg.media_id, "url": msg.pic_url})
    ticket.images = json.dumps(images, ensure_ascii=False)
    ctx.session.add(ticket)
    tickets.record(ctx.session, ticket, ctx.person.id, "image", msg.media_id)
    return Reply(f"已收到照片，已补充到工单 {ticket.id}。")


def assign(ticket: Ticket, grid: Grid, ctx: Context) -> str:
    """Give the ticket to the grid, start its clocks, queue the group push; returns the resident's reply."""
    assert grid.id is not None and ticket.id is not None
    workers = people.workers_of_grid(ctx.session, grid.id)
    worker = workers[0] if workers else None
    ticket.grid_id = grid.id
    ticket.assignee_id = worker.id if worker else None
    ticket.awaiting = None
    hours = nlp.sla_hours(ticket.category, ticket.urgent, ticket.keywords.split(","))
    ticket.accept_due_at = ctx.now + timedelta(minutes=ACCEPT_MINUTES_URGENT if ticket.urgent else ACCEPT_MINUTES)
    ticket.resolve_due_at = ctx.now + timedelta(hours=hours)
    tickets.transition(ctx.session, ticket, "assign", ctx.person.id, grid.code, now=ctx.now)
    ctx.notify("group_push", "assigned", grid.chat_id, ticket.id, grid=grid.code)
    who = f" {worker.name[:1]}网格员" if worker and worker.name else ""
    return (
        f"已受理，工单号 {ticket.id}（{label(ticket)}）。已派给 {grid.name}{who}，"
        f"预计{hours}小时内处理。回复“进度”查看。"
    )


def queue_for_dispatch(ticket: Ticket, ctx: Context) -> str:
    """No grid found: the ticket waits in the centre's queue (status new) and the supervisors hear of it."""
    assert ticket.id is not None
    ticket.status = Status.NEW
    hours = nlp.sla_hours(ticket.category, ticket.urgent, ticket.keywords.split(","))
    ticket.resolve_due_at = ctx.now + timedelta(hours=hours)
    ctx.session.add(ticket)
    ctx.notify("supervisor_notice", "unrouted", "supervisors", ticket.id)
    return f"已受理，工单号 {ticket.id}（{label(ticket)}）。社区指挥中心将尽快派给所属网格。回复“进度”查看。"


def label(ticket: Ticket) -> str:
    """ "市政设施·路灯": the category and the word that decided it."""
    name = nlp.category_name(ticket.category)
    keyword = ticket.keywords.split(",")[0] if ticket.keywords else ""
    return f"{name}·{keyword}" if keyword else name


def warn(ticket: Ticket) -> str:
    return URGENT_WARNING if ticket.urgent else ""
