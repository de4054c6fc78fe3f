"""A resident's free text becomes a ticket: classify, route, assign, and say so."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

import nlp
import policy
from handlers import moves, notify, sla
from handlers import routing as grid_routing
from handlers.clock import fmt, local
from handlers.commands import Context
from handlers.routing import GridIndex, Routing, home_community
from handlers.types import Message, Reply
from storage import tickets
from storage.models import Grid, Person, Status, Ticket, TicketReporter

log = logging.getLogger(__name__)
ASK_LOCATION = "请告诉我具体位置，如：幸福小区3栋"
URGENT_WARNING = "【紧急】如有危险请立即拨打119（火警）、110（报警）或120（急救）。"
GREETING = "您好，这里是社区网格服务。请直接描述您遇到的问题和位置，如：3号楼楼道灯坏了。回复“帮助”查看更多。"
PLACE_ALONE = "收到位置“{place}”。请再说说那里遇到了什么问题，如：{place}门口路灯不亮。"
# What may stand around a place in a message that says nothing else: "在幸福小区。", "我家是幸福小区的".
_FILLER = " \t\r\n，,。.！!？?～~：:、在的是我家住这里那里就"
GREETINGS = {"你好", "您好", "在吗", "在不在", "hello", "hi", "谢谢", "好的", "嗯", "哦", "收到", "ok"}
LINK_EVENTS = ("linked", "linked_urgent")
HELD = "centre"  # Ticket.awaiting of a complaint over its sender's limit: the centre looks before any grid is asked


@dataclass(frozen=True)
class SenderLimits:
    """New tickets one resident may open before further ones wait for the centre (WGT_SENDER_LIMIT_HOUR / _DAY)."""

    per_hour: int = 10
    per_day: int = 30


_limits = SenderLimits()


def use_limits(limits: SenderLimits) -> None:
    """Set the process's per-sender limits (the web app and the workers install them from Settings)."""
    global _limits
    _limits = limits


def index(ctx: Context) -> GridIndex:
    return grid_routing.index(ctx.session)


def warm_up(engine: Engine | None = None) -> None:
    """Load the classifier, the duplicate search's lexicon and the routing index now, at a worker's start (before
    gunicorn forks, so its workers share them): its first complaint would otherwise pay for them (about 0.7 s for
    jieba, 0.1 s for the lexicon, and 3.5 s for the index of a city's 32,000 grids)."""
    nlp.classify("路灯坏了")
    nlp.similarity("3号楼路灯坏了", "3号楼路灯不亮")
    if engine is None:
        return
    try:
        with Session(engine) as session:
            grid_routing.index(session)
    except Exception as error:  # no schema yet (before init-db) or no database: the first complaint builds it
        log.info("routing index not built at start: %s", type(error).__name__)


def place_alone(text: str) -> str:
    """The place, when the message names a place and nothing else ("幸福小区", "在幸福小区3栋2单元"): seen from
    residents who answer a question nobody asked, or send the place first and the problem next. "" otherwise."""
    place = named_place(text)
    if place is None:
        return ""
    rest = text.replace(place.text, "", 1)
    return place.text if not rest.strip(_FILLER) else ""


def is_chatter(text: str, intent: nlp.Intent) -> bool:
    """A greeting or a few characters with no problem word in them is not a complaint."""
    bare = text.strip(" 。！!？?～~，,.").lower()
    return bare in GREETINGS or (not intent.keywords and not intent.urgent and len(bare) < 6)


@dataclass(frozen=True)
class Taken:
    """What became of a complaint: the reply, and the ticket it opened or was linked to (None: not a complaint)."""

    reply: Reply
    ticket: Ticket | None = None
    linked: bool = False


def take_complaint(msg: Message, text: str, ctx: Context) -> Reply:
    """Open a ticket for the text and route it, or ask once where it is."""
    waiting = tickets.awaiting_answer(ctx.session, ctx.person.id or 0, *limit_windows(ctx))
    if waiting is not None and waiting.awaiting == "location":
        return complete_location(waiting, text, ctx)
    if waiting is not None:
        return supplement(waiting, text, ctx)
    return new_complaint(msg, text, ctx).reply


def new_complaint(msg: Message, text: str, ctx: Context, address: str = "", ask_where: bool = True) -> Taken:
    """A new complaint from any channel: classify, route (by the pin in `msg.lat`/`msg.lng` when it falls in a
    grid, else the place the address or text names, else the resident's bound grid), link it to the open ticket it
    repeats or open a ticket, then assign it, hold it, queue it for the centre or (`ask_where`) ask where it is."""
    intent = nlp.classify(text)
    if is_chatter(text, intent):
        return Taken(Reply(GREETING))
    if place := place_alone(text):
        return Taken(Reply(PLACE_ALONE.format(place=place)))
    routing = route_for(f"{address} {text}" if address else text, ctx.person, ctx, msg.lat, msg.lng)
    if same := duplicate_of(text, intent, routing, ctx):
        return Taken(link(same[0], same[1], text, routing.place_text, msg, ctx), same[0], linked=True)
    over = over_limit(ctx)
    ticket = open_new(text, intent, ctx.person, msg.channel, msg.dedupe_key, ctx)
    pinned = f"地图选点 {msg.lat:.5f},{msg.lng:.5f}" if msg.lat is not None and msg.lng is not None else ""
    ticket.location_text = (address or routing.place_text or pinned)[:250]
    ticket.lat, ticket.lng = msg.lat, msg.lng
    return Taken(Reply(warn(ticket) + settle(ticket, intent, routing, over, ask_where, text, ctx)), ticket)


def settle(
    ticket: Ticket, intent: nlp.Intent, routing: Routing, over: str, ask_where: bool, text: str, ctx: Context
) -> str:
    """Put a new ticket where it belongs; the resident's reply, after the urgent warning."""
    if over:
        return hold_for_centre(ticket, over, ctx)
    if routing.grid is not None and not ticket.urgent and intent.confidence < nlp.min_confidence():
        # Not sure what it is: a person decides before a grid is asked to act on a guess (urgent never waits).
        return queue_for_dispatch(ticket, ctx, suggested=routing.grid)
    if routing.grid is not None:
        return assign(ticket, routing.grid, ctx)
    if ask_where and named_place(text) is None:
        # "3号楼" alone does not say which compound: ask, once.
        ticket.awaiting = "location"
        sla.pause(ticket, ctx.now)  # waiting for the resident: the clock does not run
        return f"已收到，工单号 {number(ticket, ctx)}（{label(ticket)}）。{ASK_LOCATION}"
    return queue_for_dispatch(ticket, ctx)


def open_new(
    text: str, intent: nlp.Intent, resident: Person, channel: str, source: str, ctx: Context, note: str = ""
) -> Ticket:
    """Store a resident's complaint as a new ticket (status new) with its resolve clock started."""
    ticket = tickets.new_ticket(
        category=intent.category,
        urgent=intent.urgent,
        text=text,
        resident_id=resident.id,
        channel=channel,
        source_msg_id=source,
        keywords=",".join(intent.keywords)[:250],
        confidence=intent.confidence,
        runner_up=intent.runner_up,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    tickets.open_ticket(ctx.session, ticket, ctx.person.id, note)
    sla.start(ticket, ctx.now)
    return ticket


def number(ticket: Ticket, ctx: Context) -> int:
    """The ticket's number for the reply; a new ticket is written now, in its final state, and logged."""
    if ticket.id is not None:
        return ticket.id
    tickets.number(ctx.session, ticket)
    # Ids and the category only: the resident's words stay in the database.
    log.info(
        "ticket opened",
        extra={
            "ticket_id": ticket.id,
            "msg_id": ticket.source_msg_id,
            "channel": ticket.channel,
            "category": ticket.category,
            "urgent": ticket.urgent,
        },
    )
    assert ticket.id is not None
    return ticket.id


def route_for(text: str, resident: Person, ctx: Context, lat: float | None = None, lng: float | None = None) -> Routing:
    """The grid a pinned point falls in; else the grid the text names; with no place named at all, the grid of
    the resident's bound address."""
    grid_index = index(ctx)
    if lat is not None and lng is not None and (pinned := grid_index.locate(lat, lng)) is not None:
        return Routing(pinned, grid_index.route_text(text).place_text)
    routing = grid_index.route_text(text, home_community(resident.address))
    if routing.grid is None and not routing.place_text and resident.grid_id is not None:
        routing = Routing(ctx.session.get(Grid, resident.grid_id), resident.address)
    return routing


def complete_location(ticket: Ticket, text: str, ctx: Context) -> Reply:
    """The resident's answer to "where?": route the waiting ticket; asked once, so unknown goes to the centre."""
    ticket.awaiting = None
    sla.resume(ticket, ctx.now)
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
        recent = tickets.latest_open_of_resident(ctx.session, resident_id, ctx.now - policy.ATTACH_WINDOW)
        if recent is None or recent.lat is not None:
            return Reply("已收到您的位置。请用文字描述遇到的问题，如：这里路灯不亮。")
        recent.lat, recent.lng = msg.lat, msg.lng
        ctx.session.add(recent)
        tickets.record(ctx.session, recent, ctx.person.id, "locate", msg.label or f"{msg.lat},{msg.lng}")
        return Reply(f"已将位置补充到工单 {recent.id}。")
    ticket.awaiting = None
    sla.resume(ticket, ctx.now)
    ticket.lat, ticket.lng = msg.lat, msg.lng
    ticket.location_text = (msg.label or f"{msg.lat:.5f},{msg.lng:.5f}")[:250]
    tickets.record(ctx.session, ticket, ctx.person.id, "locate", ticket.location_text)
    grid = index(ctx).locate(msg.lat, msg.lng)
    if grid is not None:
        return Reply(assign(ticket, grid, ctx))
    return Reply(queue_for_dispatch(ticket, ctx))


def attach_image(msg: Message, ctx: Context) -> Reply:
    resident_id = ctx.person.id or 0
    ticket = tickets.awaiting_location(ctx.session, resident_id) or tickets.latest_open_of_resident(
        ctx.session, resident_id, ctx.now - policy.ATTACH_WINDOW
    )
    if ticket is None:
        return Reply("已收到照片。请再用文字描述问题和位置，如：3号楼楼道灯坏了，我们会为您立案。")
    images = json.loads(ticket.images or "[]")
    images.append({"media_id": msg.media_id, "url": msg.pic_url})
    ticket.images = json.dumps(images, ensure_ascii=False)
    ctx.session.add(ticket)
    tickets.record(ctx.session, ticket, ctx.person.id, "image", msg.media_id)
    return Reply(f"已收到照片，已补充到工单 {ticket.id}。")


def assign(ticket: Ticket, grid: Grid, ctx: Context, action: str = "assign") -> str:
    """Give the ticket to the grid: assign (routed at intake), dispatch (the centre's 派) or transfer (转派); the
    move starts the accept clock and queues the group push. Returns the resident's reply; raises IllegalMove when
    the ticket cannot move."""
    done = moves.do(ctx.session, ticket, action, ctx.person.id, ctx.now, grid.code, {"grid": grid.code}, grid=grid)
    n = number(ticket, ctx)
    name = str(done.get("assignee_name") or "")
    who = f" {name[:1]}网格员" if name else ""
    return (
        f"已受理，工单号 {n}（{label(ticket)}）。已派给 {grid.name}{who}，"
        f"预计 {fmt(ticket.resolve_due_at)} 前办结。回复“进度”查看。"
    )


def queue_for_dispatch(ticket: Ticket, ctx: Context, suggested: Grid | None = None) -> str:
    """No grid found, or no sure category: the ticket waits in the centre's queue (status new) and the supervisors
    hear of it, with the classifier's guess and the grid the place points to."""
    if suggested is not None:
        notify.centre(ctx.session, ticket, "unsure", to=suggested.name, grid_code=suggested.code)
    else:
        notify.centre(ctx.session, ticket, "unrouted")
    return f"已受理，工单号 {number(ticket, ctx)}（{label(ticket)}）。社区指挥中心将尽快派给所属网格。回复“进度”查看。"


def duplicate_of(text: str, intent: nlp.Intent, routing: Routing, ctx: Context) -> tuple[Ticket, float] | None:
    """The open ticket this complaint repeats, or None.

    - the sender's own open ticket from the last 72 h in similar words;
    - urgent: an urgent ticket of the same grid from the last 2 hours, in similar words, or of the same category at
      the same named place (the second caller of a fire writes it differently);
    - otherwise: the same grid and category within 72 h, in similar words;
    - no grid, but a place named: the same, among the tickets waiting in the centre's queue for want of a grid.
    """
    # One resident sending the same words again (no reply seen yet, a second tap) is one problem, wherever it is
    # and wherever its ticket waits: the centre's queue of unsure ones holds no grid to find it by.
    assert ctx.person.id is not None
    own = tickets.own_candidates(ctx.session, ctx.person.id, ctx.now - policy.DUPLICATE_WINDOW)
    if same := _most_alike(text, own, ctx):
        return same
    grid_id = routing.grid.id if routing.grid is not None else None
    place = routing.place_text
    if (intent.urgent or grid_id is None) and not (place or named_place(text)):
        # No place at all: the bot asks where, and "where" may be anywhere. Two "着火了" a street apart are two
        # fires; a wrong link would hide the second.
        return None
    if intent.urgent:
        candidates = tickets.urgent_candidates(ctx.session, grid_id, ctx.now - policy.URGENT_WINDOW)
    elif grid_id is not None:
        candidates = tickets.duplicate_candidates(
            ctx.session, grid_id, intent.category, ctx.now - policy.DUPLICATE_WINDOW
        )
    else:
        candidates = tickets.unrouted_candidates(ctx.session, intent.category, ctx.now - policy.DUPLICATE_WINDOW)
    # Waiting for its place, or held for the centre: nobody is acting on it yet.
    waiting = [c for c in candidates if not (c.status == Status.NEW and c.awaiting)]
    return _most_alike(
        text,
        waiting,
        ctx,
        lambda c: intent.urgent and bool(place) and place == c.location_text and c.category == intent.category,
    )


def _most_alike(
    text: str,
    candidates: Iterable[tickets.Candidate],
    ctx: Context,
    same_place: Callable[[tickets.Candidate], bool] | None = None,
) -> tuple[Ticket, float] | None:
    """The candidate the text repeats most closely in words (or, where `same_place` says so, by its place)."""
    best: tuple[int, float] | None = None
    for candidate in candidates:
        original = candidate.text.split("\n【位置】")[0]
        score = nlp.similarity(text, original)
        alike = score >= nlp.SAME_PROBLEM or (same_place is not None and same_place(candidate))
        if alike and (best is None or score > best[1]):
            best = (candidate.id, score)
    if best is None:
        return None
    ticket = ctx.session.get(Ticket, best[0])
    return (ticket, best[1]) if ticket is not None else None


def named_place(text: str) -> nlp.Place | None:
    """The place the text names, when it names a compound or a road (a building number alone says too little)."""
    place = nlp.extract_place(text)
    return place if place is not None and (place.community or place.road) else None


def limit_windows(ctx: Context) -> tuple[datetime, datetime]:
    """Since when the sender's limits count: an hour and a day before now."""
    return windows(ctx.now)


def windows(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(hours=1), now - timedelta(days=1)


def over_limit(ctx: Context) -> str:
    """ "1小时" or "24小时" when the sender has opened as many tickets as the limit allows in that time, else ""."""
    hour, day = tickets.opened_by(ctx.session, ctx.person.id or 0, *limit_windows(ctx))
    if hour >= _limits.per_hour:
        return "1小时"
    return "24小时" if day >= _limits.per_day else ""


def hold_for_centre(ticket: Ticket, window: str, ctx: Context) -> str:
    """Over the sender's limit: kept, but no grid is asked until the centre looks; the centre hears once a day
    per sender (urgent ones once an hour), so a flood can fill neither a grid's group nor the centre's."""
    assert ctx.person.id is not None
    ticket.awaiting = HELD
    sla.pause(ticket, ctx.now)  # nobody may act yet: no grid is late on it
    n = number(ticket, ctx)
    tickets.record(ctx.session, ticket, None, "hold", f"{window}内反映超过限额，待指挥中心查看", ctx.now)
    today = local(ctx.now)
    key = f"flood:{ctx.person.id}:{today:%Y-%m-%d}" + (f"T{today:%H}" if ticket.urgent else "")
    if tickets.claim_once(ctx.session, key, ctx.now):
        notify.centre(ctx.session, ticket, "flooding", window=window)
    return (
        f"已收到，工单号 {n}。您近{window}反映的问题较多，这一条先由社区指挥中心查看后再安排，请耐心等待。"
        f"回复“进度 {n}”查看。"
    )


def link(ticket: Ticket, score: float, text: str, place: str, msg: Message, ctx: Context) -> Reply:
    """Add the resident to an open ticket's reporters instead of opening a second ticket for one problem."""
    assert ticket.id is not None and ctx.person.id is not None
    if tickets.is_reporter(ctx.session, ticket, ctx.person.id):
        if ticket.urgent:  # the centre sees that the caller is still waiting
            tickets.record(ctx.session, ticket, ctx.person.id, "again", text[:200], ctx.now)
        return Reply(warn(ticket) + f"您已反映过此问题（工单 {ticket.id}），正在处理中。回复“进度 {ticket.id}”查看。")
    ctx.session.add(
        TicketReporter(
            ticket_id=ticket.id,
            person_id=ctx.person.id,
            text=text,
            location_text=place[:250],
            source_msg_id=msg.dedupe_key,
            similarity=round(score, 3),
            created_at=ctx.now,
        )
    )
    ticket.reporter_count += 1
    ticket.updated_at = ctx.now
    ctx.session.add(ticket)
    tickets.record(ctx.session, ticket, ctx.person.id, "link", text[:200], ctx.now)
    event = "linked_urgent" if ticket.urgent else "linked"
    if not tickets.recent_alert(ctx.session, ticket.id, LINK_EVENTS, ctx.now - policy.LINK_ALERT_INTERVAL):
        notify.group(ctx.session, ticket, event)
    return Reply(warn(ticket) + f"已有居民反映此问题（工单 {ticket.id}），已为您关联，处理进展会同步告诉您。")


def open_split(text: str, source_msg_id: str, resident: Person, ctx: Context) -> int:
    """A wrongly linked report becomes its own ticket, routed as a fresh complaint; the resident is told."""
    ticket = open_new(text, nlp.classify(text), resident, "wechat", source_msg_id, ctx, "拆分自关联工单")
    routing = route_for(text, resident, ctx)
    ticket.location_text = routing.place_text[:250]
    if routing.grid is not None:
        assign(ticket, routing.grid, ctx)
    else:
        queue_for_dispatch(ticket, ctx)
    notify.residents(ctx.session, ticket, "split")
    return number(ticket, ctx)


def supplement(ticket: Ticket, text: str, ctx: Context) -> Reply:
    """The resident answers the worker's question on a suspended ticket: pass it on and restart the clock."""
    assert ticket.id is not None
    tickets.record(ctx.session, ticket, ctx.person.id, "supplement", text[:500], ctx.now)
    moves.do(ctx.session, ticket, "supplement", ctx.person.id, ctx.now, "居民已补充", {"note": text[:200]})
    return Reply(f"已把您的补充转给网格员，工单 {ticket.id} 继续处理。回复“进度 {ticket.id}”查看。")


def label(ticket: Ticket) -> str:
    """ "市政设施·路灯": the category and the word that decided it."""
    name = nlp.category_name(ticket.category)
    keyword = ticket.keywords.split(",")[0] if ticket.keywords else ""
    return f"{name}·{keyword}" if keyword else name


def warn(ticket: Ticket) -> str:
    return URGENT_WARNING if ticket.urgent else ""
