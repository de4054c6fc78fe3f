"""What the resident app asks for (the mini-program and the page /m/, through /api/v1): the chat's complaint intake,
rules and moves, answered as data instead of a line of text.

Nothing here decides anew what the chat decides: a report goes through complaints.new_complaint, a rating, 催办 or
撤销 through the resident's commands. What is the app's own: who the caller is (a WeChat identity made a
resident), idempotency by the client's key, refusing instead of holding a report over the sender's limit (the app
can say so at once; a chat message cannot be refused), and photos uploaded before the report names them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

import nlp
import policy
from handlers import complaints, moves, notify, resident
from handlers.commands import Context
from handlers.privacy import mask_phone
from handlers.types import Message, Reply
from storage import grids, inbound, journal, outbox, people, photos, subscriptions, tickets
from storage.db import transaction
from storage.models import Department, Grid, Person, Photo, PhotoCheck, Role, Status, Ticket, TicketEvent, utcnow
from storage.outbox import Queued
from storage.tickets import STATUS_NAMES

log = logging.getLogger(__name__)

CHANNELS = ("miniprogram", "h5")
MAX_PHOTOS = 9
TEXT_LIMIT = 2000
PAGE_SIZE = 20
# What of a ticket's history its resident sees, and in which words; the notes of these few are the worker's words
# to the resident (the notices carry them too); the others' notes are the staff's.
TIMELINE = {
    "open": "已受理",
    "assign": "已派到网格",
    "transfer": "已转派",
    "route": "已交部门办理",
    "accept": "网格员已接单",
    "progress": "处理进展",
    "suspend": "需要您补充情况",
    "resume": "继续处理",
    "resolve": "已办结",
    "return": "重新派单",
    "reopen": "重新办理",
    "close": "已评价",
    "cancel": "已撤销",
    "urge": "已催办",
    "extend": "办理期限延长",
    "locate": "补充位置",
    "link": "关联到同一问题",
}
NOTES_SHOWN = frozenset({"progress", "suspend", "resolve"})


# A sentence that tells a chat user what to type ("回复“进度 12”查看。"): the app has buttons for that.
_TYPE_THIS = re.compile(r"[^。！？]*回复“[^”]*”[^。！？]*[。！？]?")


def for_app(text: str) -> str:
    """The chat's words for the app: the same, without the sentences that say what to type."""
    return _TYPE_THIS.sub("", text).strip()


class Refused(Exception):
    """The request cannot be done as asked; nothing was changed. `status` is the HTTP status that says why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(number: int | str) -> Refused:
    return Refused(404, "not_found", f"没有找到您的工单 {number}。请在“我的工单”里查看。")


@dataclass(frozen=True)
class Done:
    """An answer (the JSON body and its HTTP status) and the notifications to enqueue after commit."""

    status: int
    body: dict[str, Any]
    queued: list[Queued] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    text: str
    lat: float | None = None
    lng: float | None = None
    address: str = ""
    photo_ids: tuple[int, ...] = ()
    # What WeChat's content check said of the text: "pass", "review" (kept, and the centre looks), or "" when it
    # was not asked (the page /m/ has no mini-program openid to ask with) or could not be reached.
    content_check: str = ""


# ---- who is asking -------------------------------------------------------------------------------------------------


def sign_in(engine: Engine, channel: str, openid: str, unionid: str | None) -> int:
    """The resident behind a WeChat identity, made on first sign-in: the mini-program's openid, or (channel "h5")
    the Official Account's, which is also the chat's. A unionid makes the two apps' identities one person."""
    with transaction(engine) as session:
        if channel == "h5":
            person = people.resident_for_openid(session, openid)
            if person.role != Role.RESIDENT:
                raise Refused(403, "staff", "这个页面供居民反映问题。工作人员请在企业微信群里处理工单。")
        else:
            person = people.resident_for_mp_openid(session, openid, unionid)
        if unionid and not person.unionid and people.by_unionid(session, unionid) is None:
            person.unionid = unionid
        session.add(person)
        session.flush()
        assert person.id is not None
        return person.id


def caller(session: Session, person_id: int) -> Person:
    """The signed-in resident; a session whose person is gone (merged, removed) or is staff is refused."""
    person = session.get(Person, person_id)
    if person is None or person.role != Role.RESIDENT:
        raise Refused(401, "signed_out", "登录已失效，请重新进入。")
    return person


def me(engine: Engine, person_id: int) -> dict:
    """The resident as the app shows them: the phone masked, the bound address and its grid."""
    with Session(engine) as session:
        person = caller(session, person_id)
        grid = session.get(Grid, person.grid_id) if person.grid_id else None
        return {
            "id": person_id,
            "phone": mask_phone(person.phone),
            "address": person.address,
            "grid": grid.name if grid else None,
        }


def bind_phone(engine: Engine, person_id: int, phone: str) -> int:
    """Keep the phone number WeChat vouched for. When another resident has it (the same person writing to the
    Official Account, without a unionid to tell), the two become one: this one's tickets move over. Returns the
    person the session now stands for."""
    with transaction(engine) as session:
        person = caller(session, person_id)
        other = people.resident_by_phone(session, phone, person_id)
        if other is not None and not (person.openid and other.openid) and not (person.mp_openid and other.mp_openid):
            people.merge_into(session, person, other)
            log.info("resident identities merged by phone", extra={"person_id": person_id, "into": other.id})
            assert other.id is not None
            return other.id
        person.phone = phone
        session.add(person)
        return person_id


# ---- subscribe messages --------------------------------------------------------------------------------------------


def subscribe(engine: Engine, person_id: int, accepted: Sequence[str], known: frozenset[str], key: str) -> Done:
    """What wx.requestSubscribeMessage said the resident accepted: one credit (one notice) for each template of ours
    (`known`), at most subscriptions.MAX_CREDITS per template; others are named as ignored. A repeat with the same
    key changes nothing."""

    def act(session: Session, person: Person) -> Done:
        if not person.mp_openid:
            raise Refused(409, "not_mini_program", "订阅消息只能在小程序里开启，请在小程序中操作。")
        ours = [t for t in dict.fromkeys(accepted) if t in known]
        ignored = [t for t in dict.fromkeys(accepted) if t not in known]
        subscriptions.grant(session, person.mp_openid, ours)
        mine = subscriptions.credits(session, person.mp_openid)
        return Done(200, {"credits": {t: n for t, n in mine.items() if t in known}, "ignored": ignored})

    return _once(engine, person_id, key, "subscribe", act)


# ---- reporting -----------------------------------------------------------------------------------------------------


def mp_openid_of(engine: Engine, person_id: int) -> str | None:
    """The resident's mini-program openid, for WeChat's content check (which asks who wrote the text)."""
    with Session(engine) as session:
        return caller(session, person_id).mp_openid


def suggest(engine: Engine, person_id: int, text: str, lat: float | None, lng: float | None, address: str) -> dict:
    """While the resident types: what the report would be taken as and where it would go; nothing is written."""
    with Session(engine) as session:
        person = caller(session, person_id)
        intent = nlp.classify(text[:TEXT_LIMIT])
        ctx = Context(session=session, person=person, now=utcnow())
        routing = complaints.route_for(f"{address} {text}" if address else text, person, ctx, lat, lng)
        grid = routing.grid
        return {
            "category": intent.category if intent.keywords or intent.urgent else None,
            "category_name": nlp.category_name(intent.category) if intent.keywords or intent.urgent else None,
            "keywords": list(intent.keywords),
            "urgent": intent.urgent,
            "warning": complaints.URGENT_WARNING if intent.urgent else None,
            "grid": {"code": grid.code, "name": grid.name} if grid is not None else None,
            "place": routing.place_text or None,
            "hint": None if grid is not None else "还不知道在哪个网格：请在地图上选位置，或写明小区和楼栋。",
        }


def report(engine: Engine, person_id: int, channel: str, fields: Report, key: str, now: datetime) -> Done:
    """A new complaint from the app: the chat's intake (complaints.new_complaint) with the pin, the address and the
    photos uploaded for it. A repeated request with the same key gets the first answer and changes nothing."""

    def act(session: Session, person: Person) -> Done:
        text = fields.text.strip()[:TEXT_LIMIT]
        ctx = Context(session=session, person=person, now=now)
        over = complaints.over_limit(ctx)
        if over:
            raise Refused(
                429,
                "too_many",
                f"您近{over}反映的问题较多，请稍后再报。紧急情况请直接拨打110、119或120。",
            )
        attached = photos.unattached(session, person_id, fields.photo_ids)
        if len(attached) != len(set(fields.photo_ids)):
            raise Refused(422, "bad_photo", "有照片已失效，请重新选择照片后再提交。")
        lat, lng = fields.lat, fields.lng
        if lat is None or lng is None:
            # No pin: where the camera was, from the first photo that knew it.
            lat, lng = next(((p.lat, p.lng) for p in attached if p.lat is not None and p.lng is not None), (None, None))
        msg = Message(channel=channel, dedupe_key=key, sender=f"person:{person_id}", kind="text", lat=lat, lng=lng)
        taken = complaints.new_complaint(msg, text, ctx, fields.address.strip()[:120], ask_where=False)
        if taken.ticket is None:
            raise Refused(422, "not_a_complaint", "请描述遇到的问题和位置，如：幸福小区3栋楼道灯坏了。")
        ticket = taken.ticket
        complaints.number(ticket, ctx)
        assert ticket.id is not None
        for photo in attached:
            photo.ticket_id = ticket.id
            session.add(photo)
        if attached:
            add_images(ticket, attached)
            tickets.record(session, ticket, person_id, "image", f"{len(attached)}张照片", now)
        if fields.content_check == "review" and not taken.linked:
            tickets.record(session, ticket, None, "content_review", "微信内容安全：需人工审核", now)
            notify.centre(session, ticket, "flagged")
        body = {"message": for_app(taken.reply.text), "linked": taken.linked, "ticket": detail(session, ticket, person)}
        return Done(200 if taken.linked else 201, body)

    return _once(engine, person_id, key, "report", act)


def take_media_verdict(engine: Engine, trace_id: str, suggest: str, now: datetime) -> bool:
    """WeChat's verdict on a photo (mediaCheckAsync's event): the first one counts, a retry changes nothing. A risky
    photo is hidden from then on (storage.photos.shown_of_ticket); when it is a ticket's, the ticket's history says
    so, where the centre sees it. False when no photo has this trace_id, or it had its verdict already."""
    with transaction(engine) as session:
        photo = photos.by_trace(session, trace_id)
        if photo is None or photo.check != PhotoCheck.PENDING or suggest not in set(PhotoCheck) - {PhotoCheck.PENDING}:
            return False
        photo.check = suggest
        session.add(photo)
        ticket = session.get(Ticket, photo.ticket_id) if photo.ticket_id is not None else None
        if ticket is not None and suggest == PhotoCheck.RISKY:
            tickets.record(session, ticket, None, "photo_hidden", "微信内容安全：照片已隐藏", now)
        return True


def add_images(ticket: Ticket, attached: Sequence[Photo]) -> None:
    """Name the photos in the ticket's image list, beside those sent in the chat."""
    images = json.loads(ticket.images or "[]")
    images += [{"photo": p.id} for p in attached]
    ticket.images = json.dumps(images, ensure_ascii=False)


# ---- the map to pin on --------------------------------------------------------------------------------------------

MAP_SPAN = 0.012  # degrees around the point: about 1.3 km north and south, 1.1 km east and west here
MAP_GRIDS = 80


def grid_map(engine: Engine, person_id: int, lat: float | None, lng: float | None) -> dict:
    """The grids around a point (else around the resident's own grid, else the first grid) with their outlines,
    for the resident to put the pin in."""
    with Session(engine) as session:
        person = caller(session, person_id)
        if lat is None or lng is None:
            home = session.get(Grid, person.grid_id) if person.grid_id else None
            if home is None or home.lat is None:
                home = grids.first_placed(session)
            lat, lng = (home.lat, home.lng) if home is not None else (None, None)
        if lat is None or lng is None:
            return {"center": None, "grids": []}
        return {
            "center": {"lat": lat, "lng": lng},
            "grids": [
                {
                    "code": grid.code,
                    "name": grid.name,
                    "center": {"lat": grid.lat, "lng": grid.lng},
                    "outline": outline(grid.polygon),
                }
                for grid in grids.near(session, lat, lng, MAP_SPAN, MAP_GRIDS)
            ],
        }


def outline(polygon: str | None) -> list[list[float]]:
    """ "lng,lat;lng,lat;…" as [[lng, lat], …]; [] without one."""
    points = []
    for pair in (polygon or "").split(";"):
        lng_text, _, lat_text = pair.partition(",")
        try:
            points.append([float(lng_text), float(lat_text)])
        except ValueError:
            continue
    return points


# ---- my tickets ----------------------------------------------------------------------------------------------------


def my_tickets(engine: Engine, person_id: int, before: int | None, limit: int = PAGE_SIZE) -> dict:
    with Session(engine) as session:
        person = caller(session, person_id)
        found = tickets.of_resident(session, person_id, limit=limit + 1, before=before)
        page = found[:limit]
        return {
            "items": [summary(t, person) for t in page],
            "next": page[-1].id if len(found) > limit and page else None,
        }


def ticket_of(engine: Engine, person_id: int, number: int) -> dict:
    with Session(engine) as session:
        person = caller(session, person_id)
        return detail(session, own(session, person, number), person)


def own(session: Session, person: Person, number: int) -> Ticket:
    """The ticket if the person reported it (first, or linked later); another's is "not found", never "forbidden"."""
    ticket = tickets.get(session, number)
    if ticket is None or not tickets.is_reporter(session, ticket, person.id or 0):
        raise not_found(number)
    return ticket


def summary(ticket: Ticket, person: Person) -> dict:
    return {
        "id": ticket.id,
        "category": ticket.category,
        "label": complaints.label(ticket),
        "status": ticket.status,
        "status_name": STATUS_NAMES[Status(ticket.status)],
        "urgent": ticket.urgent,
        "text": ticket.text[:60],
        "created_at": _iso(ticket.created_at),
        "to_rate": ticket.status == Status.RESOLVED and ticket.resident_id == person.id,
    }


def detail(session: Session, ticket: Ticket, person: Person) -> dict:
    """A ticket as its resident sees it: where it is, who handles it (the worker by surname), what they can do next,
    its history and photos."""
    assert ticket.id is not None
    status = Status(ticket.status)
    first = ticket.resident_id == person.id
    events = [e for e in tickets.events(session, ticket.id) if e.action in TIMELINE]
    return {
        **summary(ticket, person),
        "category_name": nlp.category_name(ticket.category),
        "text": ticket.text,
        "address": ticket.location_text,
        "lat": ticket.lat,
        "lng": ticket.lng,
        "due_at": _iso(ticket.resolve_due_at) if status not in (Status.CLOSED, Status.CANCELLED) else None,
        "handler": handler(session, ticket),
        "reporters": ticket.reporter_count,
        "rating": ticket.rating if first else None,
        "progress": for_app(resident.describe(Context(session=session, person=person, now=ticket.updated_at), ticket)),
        "can": {
            "rate": status == Status.RESOLVED,
            "urge": moves.allows(ticket, "urge"),
            "cancel": first and moves.allows(ticket, "cancel"),
        },
        "timeline": [
            {
                "at": _iso(e.created_at),
                "what": TIMELINE[e.action],
                "note": e.note if e.action in NOTES_SHOWN else "",
            }
            for e in events
        ],
        "photos": [{"id": p.id, "url": "", "after": False} for p in photos.shown_of_ticket(session, ticket.id)]
        + after_photos(ticket),
    }


def after_photos(ticket: Ticket) -> list[dict[str, Any]]:
    """The worker's photos of the result (办结照片), sent in the group chat: the links WeCom gave with them."""
    images = json.loads(ticket.images or "[]")
    return [{"id": None, "url": i["url"], "after": True} for i in images if i.get("after") and i.get("url")]


def handler(session: Session, ticket: Ticket) -> str | None:
    """ "幸福小区第1网格 张网格员" or the department: who has it, as the resident is told in the chat."""
    if ticket.department_id is not None:
        department = session.get(Department, ticket.department_id)
        return department.name if department else None
    grid = session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    if grid is None:
        return None
    worker = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    return f"{grid.name} {worker.name[:1]}网格员" if worker and worker.name else grid.name


# ---- acting on my ticket -------------------------------------------------------------------------------------------


def rate(engine: Engine, person_id: int, number: int, score: int, note: str, key: str, now: datetime) -> Done:
    """评价: the chat's rule (resident.give_rating): the first reporter's rating closes or reopens, a linked one's is
    recorded apart."""
    return _act(engine, person_id, number, key, now, "rate", lambda t, ctx: resident.give_rating(t, score, note, ctx))


def urge(engine: Engine, person_id: int, number: int, key: str, now: datetime) -> Done:
    return _act(engine, person_id, number, key, now, "urge", lambda t, ctx: _command(resident.urge, t, ctx))


def cancel(engine: Engine, person_id: int, number: int, key: str, now: datetime) -> Done:
    return _act(engine, person_id, number, key, now, "cancel", lambda t, ctx: _command(resident.cancel, t, ctx))


def _command(command: Callable[[Message, list[str], Context], Reply], ticket: Ticket, ctx: Context) -> Reply:
    msg = Message(channel="api", dedupe_key="", sender=f"person:{ctx.person.id}", kind="text")
    return command(msg, [str(ticket.id)], ctx)


def _act(
    engine: Engine,
    person_id: int,
    number: int,
    key: str,
    now: datetime,
    verb: str,
    do: Callable[[Ticket, Context], Reply],
) -> Done:
    """Run a resident's command on their ticket. It was done when it left a mark in the ticket's history; when the
    rules refused it (not yet 办结, 催办 too soon), the answer is 409 with the chat's words for why."""

    def act(session: Session, person: Person) -> Done:
        ticket = own(session, person, number)
        before = _event_count(session, number)
        reply = do(ticket, Context(session=session, person=person, now=now))
        done = _event_count(session, number) > before
        body = {"message": for_app(reply.text), "done": done, "ticket": detail(session, ticket, person)}
        return Done(200 if done else 409, body)

    return _once(engine, person_id, key, verb, act)


def _event_count(session: Session, ticket_id: int) -> int:
    journal.write(session)  # the events the move queued, before they are counted
    query = select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    return int(session.exec(query).one())


def _once(engine: Engine, person_id: int, key: str, verb: str, act: Callable[[Session, Person], Done]) -> Done:
    """One transaction: claim the client's key (a repeat gets the first answer and changes nothing), act, keep the
    answer. A refusal rolls everything back, the claim too, so the same request may be sent again once allowed."""
    with transaction(engine) as session:
        person = caller(session, person_id)
        dedupe = f"{person_id}:{verb}:{key}"[:160]
        claimed = inbound.claim(session, "api", dedupe, f"person:{person_id}", verb)
        if claimed is None:
            first = inbound.find(session, "api", dedupe)
            kept: dict[str, Any] = json.loads(first.reply) if first and first.reply else {"status": 409, "body": {}}
            return Done(kept["status"], kept["body"])
        done = act(session, person)
        inbound.answer(session, claimed, json.dumps({"status": done.status, "body": done.body}, ensure_ascii=False))
    return Done(done.status, done.body, outbox.queued(session))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def discard_photos(engine: Engine, person_id: int, ids: Sequence[int]) -> list[str]:
    """Forget the person's unattached photos of a report refused for its content; their store keys, to delete."""
    with transaction(engine) as session:
        found = photos.unattached(session, person_id, ids)
        for photo in found:
            session.delete(photo)
        return [p.key for p in found]


def abandoned_photos(session: Session, now: datetime) -> Sequence[Photo]:
    """Photos uploaded more than an hour ago that no report named (the sweep deletes them)."""
    return photos.abandoned(session, now - timedelta(hours=1))


def photo_limit_reached(session: Session, person_id: int, now: datetime) -> bool:
    """Uploads per resident per hour: a report takes at most 9 photos, so a few reports' worth."""
    return photos.uploaded_since(session, person_id, now - timedelta(hours=1)) >= policy.PHOTOS_PER_HOUR
